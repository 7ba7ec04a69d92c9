//! NATS behind the event bus seam: ToCloud9's envelope, published and subscribed subjects
//! (CONTRACTS.md section 2).
//!
//! - Out: [`NatsBus`] is an [`EventBus`]. [`EventBus::publish`] encodes the announcement
//!   (`gw.char.logged-in`, `gw.char.logged-out`, [`encode`]) and puts it on a bounded queue
//!   ([`queue`]; `publish_buffer_max` events, the oldest dropped and counted past that) without
//!   waiting; one task publishes from it while the client is connected. While NATS is down the
//!   events wait there, and go out in order once the client has reconnected.
//! - State changes (`Announcement::CharacterUpdated`) go to the [`barrier`] instead: merged
//!   per character, published as `gw.char.chars-updates` every `chars_updates_flush_ms` in
//!   messages of at most `chars_updates_per_message_max` characters. While NATS is down they
//!   keep merging (at most `chars_updates_pending_max` characters); a refused message goes
//!   back for the next flush.
//! - In: [`NatsBus::subscribe`] subscribes to every subject of section 2.4 (plain subscriptions
//!   on exact subjects, as ToCloud9's gateway does), reads each event's envelope the way Go does
//!   ([`gojson`]), works out which characters it is for ([`route`]) and hands each of them a
//!   [`ClusterEvent`] (the subject and the envelope's raw `p`) through an [`EventSink`], the
//!   gateway's [`Players`] table. A malformed event is logged, counted and dropped.
//! - The client: name `gateway-<id>`, a ping every 20 s, a 10 s connect timeout (ToCloud9's
//!   options), reconnecting for ever with a capped backoff, and starting even when NATS is not
//!   up yet. async-nats closes a connection after 2 unanswered pings where ToCloud9's Go client
//!   allows 5 (a fixed constant in async-nats): a dead server is noticed after about 60 s
//!   rather than 120 s.
//!
//! Every count is in [`NatsStats`].

/// Go's JSON rules live in the presentation core, which reads the payloads too.
pub use crate::present::gojson;
pub mod barrier;
pub mod encode;
pub mod queue;
pub mod route;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use self::barrier::UpdatesBarrier;
use self::encode::Publisher;
use self::gojson::Malformed;
use self::queue::{Outgoing, PublishQueue};
use self::route::{ChannelMembers, Route, SUBSCRIPTIONS, Subscription};
use crate::driver::{Delivery, Gateway, Players};
use crate::present::ClusterEvent;
use crate::runtime::EventBus;
use crate::session::{Announcement, CharacterGuid};

/// How the gateway talks to NATS. Every bound carries its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// Server URL(s), comma-separated (`natsUrl` / `NATS_URL`).
    pub url: String,
    /// `RealmID` written into published payloads; subscribed payloads naming another realm
    /// are not for this gateway.
    pub realm_id: u32,
    /// The id the registry gave this gateway: `GatewayID` in published payloads, the whisper
    /// subject's `{gatewayID}` and the client name `gateway-<id>`.
    pub gateway_id: String,
    /// Events waiting to be published, at most (`nats_publish_buffer_max`); past it the
    /// oldest waiting event is dropped.
    pub publish_buffer_max: usize,
    /// Messages async-nats holds per subscription before the gateway reads them, at most;
    /// past it NATS drops them for this slow consumer (counted as `slow_consumer` reports).
    pub subscription_buffer_max: usize,
    /// Commands (publishes, subscriptions) queued inside the client, at most.
    pub client_commands_max: usize,
    /// How often the client pings the server.
    pub ping_interval_ms: u64,
    /// How long one connection attempt (TCP, INFO, CONNECT, PONG) may take.
    pub connect_timeout_ms: u64,
    /// Longest wait between two reconnection attempts (the backoff doubles from 2 ms up to
    /// this).
    pub reconnect_delay_max_ms: u64,
    /// While disconnected, how often the publishing task looks at the connection again.
    pub state_poll_ms: u64,
    /// How often the merged state changes go out as `gw.char.chars-updates` (ToCloud9: 1 s).
    pub chars_updates_flush_ms: u64,
    /// Characters in one `gw.char.chars-updates` message, at most (ToCloud9: about 1000).
    pub chars_updates_per_message_max: usize,
    /// Characters whose changes wait for the next flush, at most (NATS down); a change for
    /// one more is dropped and counted.
    pub chars_updates_pending_max: usize,
}

impl NatsSettings {
    /// ToCloud9's client options and this gateway's default bounds.
    pub fn new(url: impl Into<String>, realm_id: u32, gateway_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            realm_id,
            gateway_id: gateway_id.into(),
            publish_buffer_max: 8_192,
            subscription_buffer_max: 8_192,
            client_commands_max: 2_048,
            ping_interval_ms: 20_000,
            connect_timeout_ms: 10_000,
            reconnect_delay_max_ms: 2_000,
            chars_updates_flush_ms: 1_000,
            chars_updates_per_message_max: 1_000,
            chars_updates_pending_max: 65_536,
            state_poll_ms: 100,
        }
    }
}

/// Why the bus could not be set up. Nothing here is about NATS being down: the bus starts
/// anyway and connects when it can.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The URL does not parse.
    #[error("bad NATS URL {url:?}: {detail}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        detail: String,
    },
    /// The gateway id cannot be part of a subject.
    #[error("gateway id {0:?} cannot be part of a NATS subject")]
    BadGatewayId(String),
    /// The client refused a subscription (it was closed).
    #[error("subscribing to {subject}: {detail}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        detail: String,
    },
    /// [`NatsBus::subscribe`] was called twice.
    #[error("already subscribed")]
    AlreadySubscribed,
}

/// Where subscribed events go: one character's queue on this gateway.
pub trait EventSink: Send + Sync {
    /// Queues `event` for `guid`, without waiting.
    fn deliver(&self, guid: CharacterGuid, event: ClusterEvent) -> Delivery;
}

impl<M: crate::driver::FromEvent> EventSink for Players<M> {
    fn deliver(&self, guid: CharacterGuid, event: ClusterEvent) -> Delivery {
        Players::deliver(self, guid, event)
    }
}

impl EventSink for Gateway {
    fn deliver(&self, guid: CharacterGuid, event: ClusterEvent) -> Delivery {
        self.players().deliver(guid, event)
    }
}

/// What the bus has done since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatsStats {
    /// Whether the client is connected now.
    pub connected: bool,
    /// Events waiting to be published now.
    pub buffered: usize,
    /// Events handed to the connected client.
    pub published: u64,
    /// Events dropped from a full publish queue (the oldest waiting ones).
    pub publish_dropped: u64,
    /// Events the client refused (too large for the server, client closed).
    pub publish_failed: u64,
    /// Messages received on subscribed subjects and handled (delivered, or not).
    pub received: u64,
    /// Of those, refused: not JSON, a type Go would refuse, no payload.
    pub malformed: u64,
    /// Of those, for another realm's players.
    pub other_realm: u64,
    /// Events queued for a player (one per receiver).
    pub delivered: u64,
    /// Receivers not in world through this gateway.
    pub not_here: u64,
    /// Receivers whose queue was full: dropped for them.
    pub dropped: u64,
    /// Times the server or client reported a subscription too slow (messages lost there).
    pub slow_consumer: u64,
    /// Times the client (re)connected.
    pub connects: u64,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    publish_dropped: AtomicU64,
    publish_failed: AtomicU64,
    received: AtomicU64,
    malformed: AtomicU64,
    other_realm: AtomicU64,
    delivered: AtomicU64,
    not_here: AtomicU64,
    dropped: AtomicU64,
    slow_consumer: AtomicU64,
    connects: AtomicU64,
}

/// Adds one and returns the new count.
fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// Whether the `n`th occurrence of something is logged: the first and then at every power of
/// two, so a flood of bad events costs a few log lines, not one each.
fn worth_logging(n: u64) -> bool {
    n.is_power_of_two()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the bus's tasks share.
struct Shared {
    /// The realm, and the gateway id the registry gave (it follows a new registration).
    publisher: Mutex<Publisher>,
    queue: Mutex<PublishQueue>,
    /// Something was queued, or the client connected.
    wake: tokio::sync::Notify,
    /// The publishing task holds an event it took from the queue.
    in_flight: AtomicBool,
    counters: Counters,
    channels: Mutex<ChannelMembers>,
    /// State changes waiting for the next `gw.char.chars-updates`.
    updates: Mutex<UpdatesBarrier>,
}

/// The subscribed half: turns one message into deliveries. Synchronous, so it is tested
/// without a server.
struct Inbound {
    shared: Arc<Shared>,
    subjects: BTreeMap<String, &'static Subscription>,
    sink: Arc<dyn EventSink>,
}

impl Inbound {
    fn handle(&self, subject: &str, body: Bytes) {
        let c = &self.shared.counters;
        match self.route(subject, &body) {
            Ok((Route::OtherRealm(realm), _)) => {
                bump(&c.other_realm);
                tracing::trace!(subject, realm, "event for another realm");
            }
            Ok((route, payload)) => {
                let receivers = match route {
                    Route::To(guids) => guids,
                    Route::Channel(name) => lock(&self.shared.channels).members(&name),
                    Route::OtherRealm(_) => Vec::new(),
                };
                let event = ClusterEvent {
                    subject: subject.to_string(),
                    payload,
                };
                for guid in receivers {
                    let counter = match self.sink.deliver(guid, event.clone()) {
                        Delivery::Queued => &c.delivered,
                        Delivery::NotHere => &c.not_here,
                        Delivery::Dropped => &c.dropped,
                    };
                    bump(counter);
                }
            }
            Err(error) => {
                let n = bump(&c.malformed);
                if worth_logging(n) {
                    tracing::warn!(subject, %error, malformed = n, "dropped a malformed event from NATS");
                }
            }
        }
        // Counted last: once `received` counts a message, its deliveries are done.
        bump(&c.received);
    }

    /// The route and the envelope's `p` (a slice of `body`, not a copy).
    fn route(&self, subject: &str, body: &Bytes) -> Result<(Route, Bytes), Malformed> {
        let sub = self
            .subjects
            .get(subject)
            .ok_or_else(|| Malformed::UnknownSubject(subject.to_string()))?;
        let payload = route::open_envelope(body)?;
        let realm = lock(&self.shared.publisher).realm_id;
        let route = route::route(sub, payload.get(), realm)?;
        Ok((route, body.slice_ref(payload.get().as_bytes())))
    }
}

/// The subjects to subscribe to, with the gateway's id in place.
fn subscribed_subjects(gateway_id: &str) -> BTreeMap<String, &'static Subscription> {
    SUBSCRIPTIONS
        .iter()
        .map(|s| (s.subject_for(gateway_id), s))
        .collect()
}

/// Whether a subscription's subject names the gateway (the whisper one): it follows the
/// gateway's id when the registry gives a new one.
fn names_the_gateway(s: &Subscription) -> bool {
    s.subject_for("") != s.subject
}

/// Refuses an id that cannot be part of a subject (empty, blanks, wildcards).
fn check_gateway_id(id: &str) -> Result<(), NatsError> {
    if id.is_empty()
        || id
            .chars()
            .any(|c| c.is_whitespace() || c == '*' || c == '>')
    {
        return Err(NatsError::BadGatewayId(id.to_owned()));
    }
    Ok(())
}

/// The event bus on NATS. See the module documentation.
pub struct NatsBus {
    shared: Arc<Shared>,
    client: async_nats::Client,
    subscribed: AtomicBool,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Characters in one `gw.char.chars-updates`, at most.
    per_message: usize,
    /// The sink and the task of the subscriptions that name the gateway, for
    /// [`NatsBus::follow_gateway_id`].
    scoped: Mutex<Option<(Arc<dyn EventSink>, tokio::task::AbortHandle)>>,
}

impl NatsBus {
    /// Starts the client and the publishing task. Returns at once: when NATS is not up, the
    /// client keeps trying and events wait in the queue. Call inside a tokio runtime.
    pub async fn connect(settings: NatsSettings) -> Result<Self, NatsError> {
        let id = &settings.gateway_id;
        check_gateway_id(id)?;
        let addrs = settings
            .url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| NatsError::BadUrl {
                url: settings.url.clone(),
                detail: e.to_string(),
            })?;
        let shared = Arc::new(Shared {
            publisher: Mutex::new(Publisher {
                realm_id: settings.realm_id,
                gateway_id: id.clone(),
            }),
            queue: Mutex::new(PublishQueue::new(settings.publish_buffer_max)),
            wake: tokio::sync::Notify::new(),
            in_flight: AtomicBool::new(false),
            counters: Counters::default(),
            channels: Mutex::new(ChannelMembers::default()),
            updates: Mutex::new(UpdatesBarrier::new(settings.chars_updates_pending_max)),
        });
        let delay_max = Duration::from_millis(settings.reconnect_delay_max_ms);
        let events = shared.clone();
        let client = async_nats::ConnectOptions::new()
            .name(format!("gateway-{id}"))
            .ping_interval(Duration::from_millis(settings.ping_interval_ms))
            .connection_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .subscription_capacity(settings.subscription_buffer_max.max(1))
            .client_capacity(settings.client_commands_max.max(1))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| {
                let exp = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
                Duration::from_millis(2u64.saturating_pow(exp)).min(delay_max)
            })
            .event_callback(move |event| {
                let shared = events.clone();
                async move { on_client_event(&shared, event) }
            })
            .connect(addrs)
            .await
            .map_err(|e| NatsError::BadUrl {
                url: settings.url.clone(),
                detail: e.to_string(),
            })?;
        let poll = Duration::from_millis(settings.state_poll_ms.max(1));
        let publisher = tokio::spawn(publish_loop(shared.clone(), client.clone(), poll));
        let flusher = tokio::spawn(flush_updates_loop(
            shared.clone(),
            client.clone(),
            Duration::from_millis(settings.chars_updates_flush_ms.max(1)),
            settings.chars_updates_per_message_max,
        ));
        tracing::info!(url = %settings.url, gateway = %id, realm = settings.realm_id,
            buffer_max = settings.publish_buffer_max, "NATS event bus started");
        Ok(Self {
            shared,
            client,
            subscribed: AtomicBool::new(false),
            tasks: Mutex::new(vec![publisher.abort_handle(), flusher.abort_handle()]),
            per_message: settings.chars_updates_per_message_max,
            scoped: Mutex::new(None),
        })
    }

    /// The connection, for what else runs on NATS (the fencing store).
    pub fn client(&self) -> async_nats::Client {
        self.client.clone()
    }

    /// Subscribes to every subject of CONTRACTS.md section 2.4 and delivers what arrives to
    /// `sink` (the gateway: `Arc<Gateway>`). Once per bus. Subscriptions made while NATS is
    /// down take effect when the client connects, and are renewed on every reconnect.
    pub async fn subscribe(&self, sink: Arc<dyn EventSink>) -> Result<(), NatsError> {
        if self.subscribed.swap(true, Ordering::SeqCst) {
            return Err(NatsError::AlreadySubscribed);
        }
        let id = lock(&self.shared.publisher).gateway_id.clone();
        let (scoped, fixed): (BTreeMap<_, _>, BTreeMap<_, _>) = subscribed_subjects(&id)
            .into_iter()
            .partition(|(_, s)| names_the_gateway(s));
        let count = scoped.len() + fixed.len();
        let task = self.listen(fixed, sink.clone()).await?;
        lock(&self.tasks).push(task);
        let task = self.listen(scoped, sink.clone()).await?;
        *lock(&self.scoped) = Some((sink, task));
        tracing::info!(subjects = count, "NATS subscriptions requested");
        Ok(())
    }

    /// Subscribes to `subjects` and delivers what arrives to `sink`, in a task of its own.
    async fn listen(
        &self,
        subjects: BTreeMap<String, &'static Subscription>,
        sink: Arc<dyn EventSink>,
    ) -> Result<tokio::task::AbortHandle, NatsError> {
        let mut streams = Vec::with_capacity(subjects.len());
        for subject in subjects.keys() {
            let subscriber =
                self.client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|e| NatsError::Subscribe {
                        subject: subject.clone(),
                        detail: e.to_string(),
                    })?;
            streams.push(subscriber);
        }
        let inbound = Inbound {
            shared: self.shared.clone(),
            subjects,
            sink,
        };
        let task = tokio::spawn(async move {
            let mut all = futures_util::stream::select_all(streams);
            while let Some(message) = all.next().await {
                inbound.handle(message.subject.as_str(), message.payload);
            }
        });
        Ok(task.abort_handle())
    }

    /// The registry registered this gateway again under `id`: events are published under it
    /// from now on, and the subscriptions that name the gateway (the whisper one) move to it
    /// (the new one is made before the old one is dropped, so nothing sent to the new id is
    /// missed; what was still sent to the old id after that is lost, as with ToCloud9's
    /// gateway, which never follows).
    pub async fn follow_gateway_id(&self, id: &str) -> Result<(), NatsError> {
        check_gateway_id(id)?;
        let old = {
            let mut p = lock(&self.shared.publisher);
            std::mem::replace(&mut p.gateway_id, id.to_owned())
        };
        if old == id {
            return Ok(());
        }
        let sink = lock(&self.scoped).as_ref().map(|(sink, _)| sink.clone());
        if let Some(sink) = sink {
            let scoped: BTreeMap<_, _> = subscribed_subjects(id)
                .into_iter()
                .filter(|(_, s)| names_the_gateway(s))
                .collect();
            let task = self.listen(scoped, sink.clone()).await?;
            if let Some((_, previous)) = lock(&self.scoped).replace((sink, task)) {
                previous.abort();
            }
        }
        tracing::info!(old = %old, new = %id, "NATS now publishes and listens under the gateway's new id");
        Ok(())
    }

    /// Chat channel membership on this gateway, which decides who gets channel events.
    pub fn channels(&self) -> MutexGuard<'_, ChannelMembers> {
        lock(&self.shared.channels)
    }

    /// Events dropped from the full publish queue since start.
    pub fn dropped(&self) -> u64 {
        self.shared.counters.publish_dropped.load(Ordering::Relaxed)
    }

    /// Whether the client is connected now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Everything counted since start.
    pub fn stats(&self) -> NatsStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NatsStats {
            connected: self.connected(),
            buffered: lock(&self.shared.queue).len(),
            published: get(&c.published),
            publish_dropped: get(&c.publish_dropped),
            publish_failed: get(&c.publish_failed),
            received: get(&c.received),
            malformed: get(&c.malformed),
            other_realm: get(&c.other_realm),
            delivered: get(&c.delivered),
            not_here: get(&c.not_here),
            dropped: get(&c.dropped),
            slow_consumer: get(&c.slow_consumer),
            connects: get(&c.connects),
        }
    }

    /// Sends the server a message addressed to this client and waits, for at most
    /// `timeout_ms`, until it comes back. The server handles one client's messages in order,
    /// so a true answer means it has taken every subscription asked for before (and that
    /// NATS works end to end: a health check).
    pub async fn round_trip(&self, timeout_ms: u64) -> bool {
        let trip = async {
            let inbox = self.client.new_inbox();
            let mut echo = self.client.subscribe(inbox.clone()).await.ok()?;
            self.client.publish(inbox, Bytes::new()).await.ok()?;
            echo.next().await
        };
        matches!(
            tokio::time::timeout(Duration::from_millis(timeout_ms), trip).await,
            Ok(Some(_))
        )
    }

    /// Publishes the waiting state changes, then waits until every queued event is handed to
    /// the client and the client has written them out, for at most `timeout_ms` (shutdown:
    /// the last logouts should reach the cluster). False when time ran out first.
    pub async fn flush(&self, timeout_ms: u64) -> bool {
        let flushed = async {
            flush_updates(&self.shared, &self.client, self.per_message).await;
            loop {
                let idle = lock(&self.shared.queue).is_empty()
                    && !self.shared.in_flight.load(Ordering::SeqCst);
                if idle {
                    return self.client.flush().await.is_ok();
                }
                // The publishing task makes progress only while connected; look again soon.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_millis(timeout_ms), flushed)
            .await
            .unwrap_or(false)
    }
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        if let Some((_, task)) = lock(&self.scoped).take() {
            task.abort();
        }
    }
}

impl EventBus for NatsBus {
    fn publish(&self, announcement: Announcement) {
        match &announcement {
            Announcement::ChannelMembership {
                guid,
                channel,
                joined,
            } => {
                let mut channels = lock(&self.shared.channels);
                if *joined {
                    if !channels.join(*guid, channel) {
                        tracing::warn!(
                            character = guid.0,
                            channel,
                            "in too many channels: this one's events are not delivered"
                        );
                    }
                } else {
                    channels.leave(*guid, channel);
                }
                return;
            }
            Announcement::LoggedOut { guid, .. } => lock(&self.shared.channels).forget(*guid),
            _ => {}
        }
        if let Announcement::CharacterUpdated(update) = &announcement {
            let mut barrier = lock(&self.shared.updates);
            if !barrier.add(update) {
                let n = barrier.dropped();
                if worth_logging(n) {
                    tracing::warn!(dropped = n, "chars-updates barrier full: dropped a change");
                }
            }
            return;
        }
        let publisher = lock(&self.shared.publisher).clone();
        let Some((subject, payload)) = encode::encode(&publisher, &announcement) else {
            return;
        };
        let dropped = lock(&self.shared.queue).push(Outgoing {
            subject,
            payload: Bytes::from(payload),
        });
        if let Some(old) = dropped {
            let n = bump(&self.shared.counters.publish_dropped);
            if worth_logging(n) {
                tracing::warn!(
                    subject = old.subject,
                    dropped = n,
                    "NATS publish queue full: dropped the oldest waiting event"
                );
            }
        }
        self.shared.wake.notify_one();
    }
}

fn on_client_event(shared: &Shared, event: async_nats::Event) {
    match event {
        async_nats::Event::Connected => {
            bump(&shared.counters.connects);
            tracing::info!(buffered = lock(&shared.queue).len(), "NATS connected");
            shared.wake.notify_one();
        }
        async_nats::Event::Disconnected => {
            tracing::warn!("NATS disconnected; events wait in the publish queue")
        }
        async_nats::Event::SlowConsumer(sid) => {
            let n = bump(&shared.counters.slow_consumer);
            if worth_logging(n) {
                tracing::warn!(
                    sid,
                    reports = n,
                    "NATS subscription too slow: messages lost"
                );
            }
        }
        other => tracing::warn!(event = %other, "NATS client event"),
    }
}

/// Every `every`, publishes the merged state changes (see [`flush_updates`]).
async fn flush_updates_loop(
    shared: Arc<Shared>,
    client: async_nats::Client,
    every: Duration,
    per_message: usize,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        flush_updates(&shared, &client, per_message).await;
    }
}

/// Publishes what waits in the barrier as `gw.char.chars-updates` messages, when connected.
/// While disconnected nothing is taken: the changes keep merging. A batch the client refuses
/// goes back into the barrier with every batch after it. Returns the characters published.
async fn flush_updates(shared: &Shared, client: &async_nats::Client, per_message: usize) -> usize {
    if client.connection_state() != async_nats::connection::State::Connected {
        return 0;
    }
    let batches = lock(&shared.updates).take_batches(per_message);
    if batches.is_empty() {
        return 0;
    }
    let publisher = lock(&shared.publisher).clone();
    let mut sent = 0;
    let mut rest = batches.into_iter();
    while let Some(batch) = rest.next() {
        let payload = encode::encode_updates(&publisher, &batch);
        match client
            .publish(encode::SUBJECT_CHARS_UPDATES, Bytes::from(payload))
            .await
        {
            Ok(()) => {
                bump(&shared.counters.published);
                sent += batch.len();
            }
            Err(error) => {
                let n = bump(&shared.counters.publish_failed);
                if worth_logging(n) {
                    tracing::warn!(%error, failed = n, "NATS refused chars-updates; kept for the next flush");
                }
                let mut barrier = lock(&shared.updates);
                barrier.put_back(batch);
                for later in rest {
                    barrier.put_back(later);
                }
                break;
            }
        }
    }
    sent
}

/// Publishes queued events in order while the client is connected.
async fn publish_loop(shared: Arc<Shared>, client: async_nats::Client, poll: Duration) {
    loop {
        if lock(&shared.queue).is_empty() {
            shared.wake.notified().await;
            continue;
        }
        if client.connection_state() != async_nats::connection::State::Connected {
            // Connected is reported before the state flips, so look again after a bound.
            let _ = tokio::time::timeout(poll, shared.wake.notified()).await;
            continue;
        }
        shared.in_flight.store(true, Ordering::SeqCst);
        let next = lock(&shared.queue).pop();
        if let Some(item) = next {
            match client.publish(item.subject, item.payload).await {
                Ok(()) => {
                    bump(&shared.counters.published);
                }
                Err(error) => {
                    let n = bump(&shared.counters.publish_failed);
                    if worth_logging(n) {
                        tracing::warn!(subject = item.subject, %error, failed = n,
                            "NATS refused an event");
                    }
                }
            }
        }
        shared.in_flight.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;
