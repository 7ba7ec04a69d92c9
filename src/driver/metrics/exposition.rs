//! The Prometheus exposition: [`render`] writes one scrape of [`Metrics`] and
//! [`AdapterErrors`] in the Prometheus text format or OpenMetrics.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{
    AdapterErrors, AdapterService, CLOSE_CULPRITS, Latency, Metrics, PLACEMENT_HEALTHS,
    REDIRECT_REASONS, get,
};
use crate::wire::auth::AuthResult;

/// Which text format [`render`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// Prometheus text 0.0.4: what ToCloud9's servers-registry (Go `expfmt`) parses.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it.
    OpenMetrics,
}

impl ExpositionFormat {
    /// The `Content-Type` of a page in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Writes the metrics page: `active_connections` (ToCloud9's gauge of open client
/// connections, which its servers-registry reads for least-connections gateway selection),
/// then the `waygate_*` families.
pub fn render(
    metrics: &Arc<Metrics>,
    adapter_errors: &AdapterErrors,
    active_connections: u64,
    format: ExpositionFormat,
) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        metrics: metrics.clone(),
        adapter_errors: adapter_errors.clone(),
        active_connections,
    }));
    let mut page = String::new();
    let written = match format {
        ExpositionFormat::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut page, &registry)
        }
        ExpositionFormat::OpenMetrics => {
            prometheus_client::encoding::text::encode(&mut page, &registry)
        }
    };
    // Writing into a String cannot fail; an encoder error would be a bug in a name.
    debug_assert!(written.is_ok(), "metrics encoding failed");
    page
}

/// One scrape: the values read when the page is written.
#[derive(Debug)]
struct Scrape {
    metrics: Arc<Metrics>,
    adapter_errors: AdapterErrors,
    active_connections: u64,
}

fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

fn labelled_counter<'v>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &'static str,
    values: impl IntoIterator<Item = (&'v str, u64)>,
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value_label, value) in values {
        let labels = [(label, value_label)];
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&value, None)?;
    }
    Ok(())
}

fn histogram(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    latency: &Latency,
) -> std::fmt::Result {
    let unit = Unit::Seconds;
    let metric = enc.encode_descriptor(name, help, Some(&unit), MetricType::Histogram)?;
    latency.histogram.encode(metric)
}

/// The label value of an auth result code.
fn auth_code_label(code: u8) -> String {
    AuthResult(code)
        .name()
        .map_or_else(|| format!("0x{code:02X}"), str::to_owned)
}

impl Scrape {
    /// ToCloud9's `active_connections` gauge, then connections, packets, closes and auth
    /// refusals.
    fn encode_connections(&self, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        enc.encode_descriptor(
            "active_connections",
            "Open game client connections (ToCloud9's gauge, read by servers-registry)",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&self.active_connections)?;
        counter(
            enc,
            "waygate_sessions",
            "Client connections accepted",
            get(&m.sessions),
        )?;
        counter(
            enc,
            "waygate_connections_refused",
            "Client connections refused at max_connections",
            get(&m.refused),
        )?;
        counter(
            enc,
            "waygate_client_bytes_read",
            "Bytes read from game clients",
            get(&m.client_bytes_in),
        )?;
        labelled_counter(
            enc,
            "waygate_packets",
            "Packets by direction",
            "direction",
            [
                ("client_in", get(&m.client_packets_in)),
                ("client_out", get(&m.client_packets_out)),
                ("world_in", get(&m.world_packets_in)),
                ("world_out", get(&m.world_packets_out)),
            ],
        )?;
        labelled_counter(
            enc,
            "waygate_sessions_closed",
            "Sessions closed, by who is to blame",
            "culprit",
            CLOSE_CULPRITS.iter().copied().zip(m.closed.iter().map(get)),
        )?;
        self.encode_auth_refusals(enc)
    }

    /// Auth refusals by code: every failure code, and any other code that was sent.
    fn encode_auth_refusals(&self, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        let refusals: Vec<(String, u64)> = (0..=u8::MAX)
            .filter(|&code| {
                AuthResult::FAILURES.contains(&AuthResult(code))
                    || get(&m.auth_refusals[usize::from(code)]) > 0
            })
            .map(|code| {
                (
                    auth_code_label(code),
                    get(&m.auth_refusals[usize::from(code)]),
                )
            })
            .collect();
        labelled_counter(
            enc,
            "waygate_auth_refusals",
            "Auth sessions refused, by the SMSG_AUTH_RESPONSE code sent",
            "code",
            refusals.iter().map(|(l, v)| (l.as_str(), *v)),
        )
    }

    /// Logins and placements.
    fn encode_logins_and_placements(&self, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        counter(
            enc,
            "waygate_logins",
            "Characters that entered the world",
            get(&m.logins),
        )?;
        counter(
            enc,
            "waygate_login_failures",
            "Logins answered with SMSG_CHARACTER_LOGIN_FAILED",
            get(&m.login_failures),
        )?;
        labelled_counter(
            enc,
            "waygate_placements",
            "New placements, by the chosen worldserver's health",
            "health",
            PLACEMENT_HEALTHS
                .iter()
                .copied()
                .zip(m.placements.iter().map(get)),
        )?;
        counter(
            enc,
            "waygate_placement_waits",
            "Placements told to wait: no worldserver could take the player then",
            get(&m.placement_waits),
        )?;
        counter(
            enc,
            "waygate_placement_refusals",
            "Placements refused: no worldserver serves the map",
            get(&m.placement_refusals),
        )
    }

    /// Handoffs, redirects and forced releases.
    fn encode_handoffs_and_redirects(&self, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        counter(
            enc,
            "waygate_handoffs",
            "Completed worldserver handoffs",
            get(&m.handoffs),
        )?;
        counter(
            enc,
            "waygate_handoffs_abandoned",
            "Handoffs abandoned (the old worldserver kept the player)",
            get(&m.handoffs_abandoned),
        )?;
        labelled_counter(
            enc,
            "waygate_redirects_requested",
            "Moves off a worldserver without a map change of the player's own, by reason",
            "reason",
            REDIRECT_REASONS
                .iter()
                .copied()
                .zip(m.redirects_requested.iter().map(get)),
        )?;
        counter(
            enc,
            "waygate_releases_forced",
            "Redirects whose old worldserver never released the player in time",
            get(&m.releases_forced),
        )
    }

    /// Lost worldserver connections, recoveries, health changes and adapter errors.
    fn encode_losses_and_errors(&self, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        counter(
            enc,
            "waygate_world_losses",
            "Worldserver connections lost in world",
            get(&m.world_losses),
        )?;
        counter(
            enc,
            "waygate_recoveries",
            "Players back in world after a lost worldserver connection",
            get(&m.recoveries),
        )?;
        counter(
            enc,
            "waygate_health_changes",
            "Worldserver health transitions",
            get(&m.health_changes),
        )?;
        labelled_counter(
            enc,
            "waygate_adapter_errors",
            "Errors talking to an external service, by service",
            "service",
            AdapterService::ALL
                .iter()
                .map(|s| (s.label(), self.adapter_errors.get(*s))),
        )
    }

    /// The latency histograms.
    fn encode_latencies(&self, enc: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        histogram(enc, "waygate_login", "PLAYER_LOGIN to in world", &m.login)?;
        histogram(
            enc,
            "waygate_handoff",
            "Worldport ack to in world on the new worldserver",
            &m.handoff,
        )?;
        histogram(
            enc,
            "waygate_recovery",
            "Worldserver connection lost to back in world",
            &m.recovery,
        )?;
        histogram(
            enc,
            "waygate_backoff_wait",
            "Backoff waits before a recovery attempt or a placement retry",
            &m.backoff_wait,
        )
    }
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        self.encode_connections(&mut enc)?;
        self.encode_logins_and_placements(&mut enc)?;
        self.encode_handoffs_and_redirects(&mut enc)?;
        self.encode_losses_and_errors(&mut enc)?;
        self.encode_latencies(&mut enc)
    }
}
