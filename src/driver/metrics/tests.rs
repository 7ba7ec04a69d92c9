use super::*;
use crate::wire::auth::AuthResult;

#[test]
fn percentiles_of_known_samples() {
    let h = Latency::default();
    assert_eq!(h.percentile(50), None);
    for ms in 1..=100 {
        h.record_ms(ms);
    }
    assert_eq!(h.percentile(50), Some(51));
    assert_eq!(h.percentile(99), Some(100));
    assert_eq!(h.percentile(0), Some(1));
    assert_eq!(h.count(), 100);
}

#[test]
fn recent_window_is_bounded_and_keeps_the_newest() {
    let h = Latency::default();
    let total = LATENCY_RECENT_SAMPLES_MAX as u64 + 10;
    for ms in 0..total {
        h.record_ms(ms);
    }
    assert_eq!(h.lock().samples_ms.len(), LATENCY_RECENT_SAMPLES_MAX);
    assert_eq!(h.count(), total, "the histogram counts all time");
    assert_eq!(h.percentile(0), Some(10), "the ten oldest were replaced");
    assert_eq!(h.percentile(100), Some(total - 1));
}

#[test]
fn page_has_the_gauge_the_families_and_the_buckets() {
    let m = Arc::new(Metrics::default());
    m.logins.fetch_add(3, Ordering::Relaxed);
    m.placements[1].fetch_add(2, Ordering::Relaxed);
    m.login.record_ms(40);
    m.login.record_ms(3_000);
    m.auth_refusals[usize::from(AuthResult::BANNED.0)].fetch_add(1, Ordering::Relaxed);
    m.auth_refusals[0x42].fetch_add(1, Ordering::Relaxed);
    let errors = AdapterErrors::default();
    errors.count(AdapterService::AuthDb);
    errors.count(AdapterService::AuthDb);
    let page = render(&m, &errors, 7, ExpositionFormat::Prometheus);
    for line in [
        "# TYPE active_connections gauge",
        "active_connections 7",
        "waygate_logins_total 3",
        "waygate_placements_total{health=\"degraded\"} 2",
        "waygate_placements_total{health=\"admitting\"} 0",
        "waygate_auth_refusals_total{code=\"AUTH_BANNED\"} 1",
        "waygate_auth_refusals_total{code=\"0x42\"} 1",
        "waygate_auth_refusals_total{code=\"AUTH_UNKNOWN_ACCOUNT\"} 0",
        "waygate_adapter_errors_total{service=\"auth_db\"} 2",
        "waygate_adapter_errors_total{service=\"nats\"} 0",
        "waygate_login_seconds_bucket{le=\"0.05\"} 1",
        "waygate_login_seconds_bucket{le=\"5\"} 2",
        "waygate_login_seconds_count 2",
    ] {
        assert!(
            page.lines().any(|l| l == line),
            "missing {line:?} in\n{page}"
        );
    }
    assert!(!page.contains("# EOF"), "Prometheus text has no EOF marker");
    let open = render(&m, &errors, 7, ExpositionFormat::OpenMetrics);
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(open.lines().any(|l| l == "active_connections 7"));
}
