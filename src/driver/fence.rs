//! Account fencing across gateways, carried out: the heartbeat and watch task, the claim a
//! login makes before its AUTH_RESPONSE, and the release when its session ends. What each
//! step decides is `cluster::fence`'s; this file only reads and writes the store and waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::Gateway;
use crate::cluster::WorldserverId;
use crate::cluster::fence::{
    AccountClaim, ClaimStep, FenceKey, HeldCharacter, Lease, Liveness, Owner, OwnerDuty,
    account_key, claim_step, heartbeat_key, owner_duty, released,
};
use crate::runtime::{Clock, KvChange, KvStore, KvWrite};
use crate::session::{AccountId, CharacterGuid, ClaimRefused, SeamError, SessionId};

/// How a gateway fences accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FenceConfig {
    /// How often the gateway writes its heartbeat.
    pub heartbeat_ms: u64,
    /// Another gateway whose heartbeat is not seen for this long is dead: its accounts may
    /// be taken over.
    pub liveness_ms: u64,
    /// This gateway owns accounts only while a heartbeat it wrote within this long was
    /// stored; past it, it closes its sessions and admits nobody. Less than `liveness_ms`,
    /// so it lets go before anyone may take over.
    pub lease_ms: u64,
    /// A login waiting for the account's owner to let go re-reads the record this often
    /// (besides every change its watch sees).
    pub claim_poll_ms: u64,
}

impl Default for FenceConfig {
    fn default() -> Self {
        Self {
            heartbeat_ms: 1_000,
            liveness_ms: 15_000,
            lease_ms: 10_000,
            claim_poll_ms: 250,
        }
    }
}

impl FenceConfig {
    /// Refuses settings that would break the fence: a lease must end before the others
    /// judge this gateway dead, and heartbeats must come more often than the lease.
    pub fn check(&self) -> Result<(), String> {
        if self.heartbeat_ms == 0 || self.claim_poll_ms == 0 {
            return Err("heartbeat_ms and claim_poll_ms must be at least 1".into());
        }
        if self.lease_ms >= self.liveness_ms {
            return Err(format!(
                "lease_ms ({}) must be less than liveness_ms ({}): a gateway must let go of its accounts before the others may take them over",
                self.lease_ms, self.liveness_ms
            ));
        }
        if self.heartbeat_ms.saturating_mul(2) > self.lease_ms {
            return Err(format!(
                "heartbeat_ms ({}) must be at most half of lease_ms ({}), or one late heartbeat costs the lease",
                self.heartbeat_ms, self.lease_ms
            ));
        }
        Ok(())
    }
}

/// Accounts whose record stays for holds that may still linger, at most; past it, a
/// record is left for the next login to inherit (it only costs that login a wait).
pub const PARKED_ACCOUNTS_MAX: usize = 65_536;

/// Compare-and-set attempts of one release before it gives up (a conflict means another
/// gateway wrote; the next login's claim sorts it out).
const RELEASE_ATTEMPTS_MAX: usize = 8;

/// What a session's end hands to the fence.
#[derive(Debug, Clone)]
pub(super) struct Release {
    pub(super) account: AccountId,
    pub(super) session: SessionId,
    pub(super) played: Vec<CharacterGuid>,
}

#[derive(Debug)]
struct FenceState {
    liveness: Liveness,
    lease: Lease,
    lease_lost_reported: bool,
    /// Each session's eviction: `None` once it was sent (a session lets go once; a second
    /// eviction finds it letting go already).
    sessions: BTreeMap<SessionId, Option<oneshot::Sender<Box<str>>>>,
    /// Records this gateway wrote back with holds: the revision it wrote, and the characters.
    parked: BTreeMap<AccountId, (u64, Vec<CharacterGuid>)>,
}

/// One gateway's fencing: its instance id, what it has seen of the others, its lease.
pub(super) struct Fence {
    store: Arc<dyn KvStore>,
    instance: String,
    cfg: FenceConfig,
    clock: Clock,
    state: Mutex<FenceState>,
    /// Wakes claims waiting for a record to change.
    changed: Notify,
}

impl Fence {
    pub(super) fn new(
        store: Arc<dyn KvStore>,
        instance: String,
        cfg: FenceConfig,
        clock: Clock,
    ) -> Self {
        let lease_ms = cfg.lease_ms.min(cfg.liveness_ms.saturating_sub(1));
        Self {
            store,
            instance,
            cfg,
            clock,
            state: Mutex::new(FenceState {
                liveness: Liveness::new(cfg.liveness_ms, clock.now()),
                lease: Lease::new(lease_ms),
                lease_lost_reported: false,
                sessions: BTreeMap::new(),
                parked: BTreeMap::new(),
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FenceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's instance id in the records.
    pub(super) fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether the gateway may own accounts now (its last heartbeat was stored in time).
    pub(super) fn ready(&self) -> bool {
        self.lock().lease.held(self.clock.now())
    }

    /// A session's eviction: the reason arrives, once, when it must let its account go. A
    /// one-shot rather than a queue: a queue allocates a block of slots (and cache-padded
    /// state) for every session, for a message that comes at most once.
    pub(super) fn register(&self, session: SessionId) -> oneshot::Receiver<Box<str>> {
        let (tx, rx) = oneshot::channel();
        self.lock().sessions.insert(session, Some(tx));
        rx
    }

    pub(super) fn unregister(&self, session: SessionId) {
        self.lock().sessions.remove(&session);
    }

    fn me(&self, session: SessionId) -> Owner {
        Owner {
            gateway: self.instance.clone(),
            session: session.0,
        }
    }

    fn unavailable(detail: String) -> ClaimRefused {
        ClaimRefused::Unavailable(SeamError {
            service: "fencing store",
            detail,
            retryable: true,
        })
    }

    /// Writes one heartbeat; a stored one renews the lease. Returns whether it was stored.
    pub(super) async fn beat(&self, count: u64) -> bool {
        let began = self.clock.now();
        let key = heartbeat_key(&self.instance);
        match self.store.put(&key, count.to_le_bytes().to_vec()).await {
            Ok(_) => {
                let mut st = self.lock();
                st.lease.renewed(began);
                st.lease_lost_reported = false;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "fencing heartbeat not stored");
                false
            }
        }
    }

    /// Past the lease, every session here lets its account go (once per lapse).
    fn enforce_lease(&self) {
        let now = self.clock.now();
        let mut st = self.lock();
        if st.lease.held(now) || st.lease_lost_reported {
            return;
        }
        st.lease_lost_reported = true;
        tracing::error!(
            sessions = st.sessions.len(),
            "fencing lease lapsed: closing every session and admitting nobody until the store answers"
        );
        for tx in st.sessions.values_mut().filter_map(Option::take) {
            let _ = tx.send("this gateway lost contact with the cluster's fencing store".into());
        }
    }

    /// One change the watch saw.
    fn on_change(&self, change: &KvChange, gw: &Gateway) {
        let now = self.clock.now();
        match FenceKey::parse(&change.key) {
            FenceKey::Heartbeat(instance) => {
                if change.value.is_some() {
                    self.lock().liveness.heard(instance, now);
                }
            }
            FenceKey::Account(account) => {
                if let Some(rec) = change
                    .value
                    .as_deref()
                    .and_then(|v| AccountClaim::decode(v).ok())
                    && let OwnerDuty::Evict(session) = owner_duty(&rec, &self.instance)
                    && !ignores_evictions(gw)
                {
                    self.evict(gw, AccountId(account), SessionId(session));
                }
                self.changed.notify_waiters();
            }
            FenceKey::Other => {}
        }
    }

    /// A newer login asked session `session` of this gateway to let `account` go.
    fn evict(&self, gw: &Gateway, account: AccountId, session: SessionId) {
        let tx = self.lock().sessions.get_mut(&session).map(Option::take);
        match tx {
            Some(tx) => {
                tracing::info!(
                    account = account.0,
                    session = session.0,
                    "a newer login of the account evicts this session"
                );
                if let Some(tx) = tx {
                    let _ = tx.send("the account logged in again elsewhere".into());
                }
            }
            None => {
                // The session is gone without releasing (its claim finished after it
                // closed, or its release failed): release for it now.
                let release = Release {
                    account,
                    session,
                    played: Vec::new(),
                };
                gw.spawn_release(release);
            }
        }
    }

    /// Claims `account` for `session` (module docs of `cluster::fence`): returns the holds
    /// the account brought along, or why not. Unbounded by itself: the caller bounds it.
    pub(super) async fn claim(
        &self,
        account: AccountId,
        session: SessionId,
    ) -> Result<Vec<(CharacterGuid, WorldserverId, Option<u64>)>, ClaimRefused> {
        let me = self.me(session);
        let key = account_key(account.0);
        let mut asked = false;
        loop {
            if !self.ready() {
                return Err(Self::unavailable(
                    "this gateway has no current heartbeat in the store".into(),
                ));
            }
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let entry = self
                .store
                .get(&key)
                .await
                .map_err(|e| Self::unavailable(e.to_string()))?;
            let current = entry.as_ref().map(|e| {
                let rec = AccountClaim::decode(&e.value).unwrap_or_else(|bad| {
                    tracing::error!(account = account.0, error = %bad.0, "damaged fencing record: taking it over");
                    AccountClaim::default()
                });
                (rec, e.revision)
            });
            let step = {
                let now = self.clock.now();
                let st = self.lock();
                claim_step(current.as_ref().map(|(r, _)| r), &me, asked, |g| {
                    g == self.instance || st.liveness.alive(g, now)
                })
            };
            let revision = current.as_ref().map_or(0, |(_, r)| *r);
            // What the claim brings along once its write is stored (`None`: only asked).
            let (write, granted) = match step {
                ClaimStep::Granted => {
                    return Ok(holds_of(current.map(|(r, _)| r).unwrap_or_default()));
                }
                ClaimStep::Superseded => return Err(ClaimRefused::Superseded),
                ClaimStep::Wait => {
                    let poll = Duration::from_millis(self.cfg.claim_poll_ms);
                    tokio::select! {
                        biased;
                        () = &mut notified => {}
                        () = tokio::time::sleep(poll) => {}
                    }
                    continue;
                }
                ClaimStep::Create => {
                    let rec = AccountClaim {
                        owner: Some(me.clone()),
                        ..Default::default()
                    };
                    (self.store.create(&key, rec.encode()).await, Some(rec))
                }
                ClaimStep::Take(rec) => {
                    let w = self.store.update(&key, rec.encode(), revision).await;
                    (w, Some(rec))
                }
                ClaimStep::AskEviction(rec) => {
                    (self.store.update(&key, rec.encode(), revision).await, None)
                }
            };
            let written = write.map_err(|e| Self::unavailable(e.to_string()))?;
            match (written, granted) {
                (KvWrite::Done(_), Some(rec)) => return Ok(holds_of(rec)),
                (KvWrite::Done(_), None) => asked = true,
                (KvWrite::Conflict, _) => {}
            }
        }
    }

    /// Lets the account go after its session ended: the record is deleted, or kept with
    /// where its characters may still linger (`gw`'s ledger), for the next login.
    pub(super) async fn release(&self, gw: &Gateway, r: &Release) {
        let me = self.me(r.session);
        let key = account_key(r.account.0);
        for _ in 0..RELEASE_ATTEMPTS_MAX {
            let entry = match self.store.get(&key).await {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(account = r.account.0, error = %e, "fencing release failed; the next login inherits the record");
                    return;
                }
            };
            let Ok(rec) = AccountClaim::decode(&entry.value) else {
                return;
            };
            if rec.owner.as_ref() != Some(&me) {
                return;
            }
            let mut guids: Vec<CharacterGuid> = r.played.clone();
            guids.extend(rec.holds.iter().map(|h| CharacterGuid(h.guid)));
            guids.sort();
            guids.dedup();
            let holds: Vec<HeldCharacter> = guids
                .iter()
                .filter_map(|g| {
                    gw.hold_left(*g).map(|(w, left_ms)| HeldCharacter {
                        guid: g.0,
                        worldserver: w.0,
                        left_ms,
                    })
                })
                .collect();
            let write = match released(&rec, holds) {
                None => self.store.delete(&key, entry.revision).await,
                Some(kept) => {
                    let parked = kept
                        .evict
                        .is_none()
                        .then(|| kept.holds.iter().map(|h| CharacterGuid(h.guid)).collect());
                    let w = self.store.update(&key, kept.encode(), entry.revision).await;
                    if let (Ok(KvWrite::Done(revision)), Some(guids)) = (&w, parked) {
                        let mut st = self.lock();
                        if st.parked.len() < PARKED_ACCOUNTS_MAX {
                            st.parked.insert(r.account, (*revision, guids));
                        }
                    }
                    w
                }
            };
            match write {
                Ok(KvWrite::Done(_)) => return,
                Ok(KvWrite::Conflict) => continue,
                Err(e) => {
                    tracing::warn!(account = r.account.0, error = %e, "fencing release failed; the next login inherits the record");
                    return;
                }
            }
        }
    }

    /// Session `session`, which owns `account`, sent PLAYER_LOGIN for `guid` to
    /// `worldserver`: the record says so (replacing what it said of that character), so a
    /// gateway that takes the account over after this one died knows where the character
    /// may still be. Written after the login is sent: a gateway that dies in between leaves
    /// the record one worldserver behind (README, "Account fencing").
    pub(super) async fn note_hold(
        &self,
        account: AccountId,
        session: SessionId,
        guid: CharacterGuid,
        worldserver: WorldserverId,
    ) {
        let me = self.me(session);
        let key = account_key(account.0);
        let held = HeldCharacter {
            guid: guid.0,
            worldserver: worldserver.0,
            left_ms: None,
        };
        for _ in 0..RELEASE_ATTEMPTS_MAX {
            let Ok(Some(entry)) = self.store.get(&key).await else {
                return;
            };
            let Ok(mut rec) = AccountClaim::decode(&entry.value) else {
                return;
            };
            if rec.owner.as_ref() != Some(&me) || rec.holds.contains(&held) {
                return;
            }
            rec.holds.retain(|h| h.guid != held.guid);
            rec.holds.push(held.clone());
            match self.store.update(&key, rec.encode(), entry.revision).await {
                Ok(KvWrite::Conflict) => continue,
                Ok(KvWrite::Done(_)) => return,
                Err(e) => {
                    tracing::warn!(account = account.0, error = %e, "fencing record not told where the character logs in");
                    return;
                }
            }
        }
    }

    /// Deletes the records this gateway wrote back for holds that have ended since, unless
    /// anyone wrote them after it (a login took the account, or another gateway wrote it back
    /// with holds of its own): the delete is at the revision this gateway wrote.
    async fn sweep_parked(&self, gw: &Gateway) {
        let due: Vec<(AccountId, u64)> = {
            let st = self.lock();
            st.parked
                .iter()
                .filter(|(_, (_, guids))| guids.iter().all(|g| gw.holder(*g).is_none()))
                .map(|(a, (revision, _))| (*a, *revision))
                .collect()
        };
        for (account, revision) in due {
            self.lock().parked.remove(&account);
            let _ = self.store.delete(&account_key(account.0), revision).await;
        }
    }
}

fn holds_of(rec: AccountClaim) -> Vec<(CharacterGuid, WorldserverId, Option<u64>)> {
    rec.holds
        .into_iter()
        .map(|h| {
            (
                CharacterGuid(h.guid),
                WorldserverId(h.worldserver),
                h.left_ms,
            )
        })
        .collect()
}

/// The fence's task: a heartbeat every `heartbeat_ms` (the lease enforced after each), and
/// the watch (re-opened whenever it ends). Ends with the gateway.
pub(super) fn spawn_fence(gateway: &Arc<Gateway>) {
    let weak: Weak<Gateway> = Arc::downgrade(gateway);
    let clock = gateway.seams.clock;
    let every = Duration::from_millis(gateway.fence.cfg.heartbeat_ms.max(1));
    let store = gateway.fence.store.clone();
    tokio::spawn(async move {
        let mut count = 1u64;
        let mut next_beat = clock.instant_at(clock.now() + every);
        let mut watch: Option<mpsc::Receiver<KvChange>> = None;
        loop {
            if watch.is_none() {
                match store.watch().await {
                    Ok(rx) => watch = Some(rx),
                    Err(e) => {
                        tracing::warn!(error = %e, "fencing watch failed; retrying at the next heartbeat")
                    }
                }
            }
            let change = tokio::select! {
                biased;
                () = tokio::time::sleep_until(next_beat) => None,
                c = recv(watch.as_mut()) => Some(c),
            };
            let Some(gw) = weak.upgrade() else { return };
            match change {
                None => {
                    next_beat = clock.instant_at(clock.now() + every);
                    count += 1;
                    gw.fence.beat(count).await;
                    gw.fence.enforce_lease();
                    gw.fence.sweep_parked(&gw).await;
                }
                Some(Some(c)) => gw.fence.on_change(&c, &gw),
                Some(None) => watch = None,
            }
        }
    });
}

async fn recv(rx: Option<&mut mpsc::Receiver<KvChange>>) -> Option<KvChange> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The planted bug that leaves newer logins waiting (simulator canaries only).
fn ignores_evictions(gw: &Gateway) -> bool {
    #[cfg(feature = "canaries")]
    {
        gw.cfg.session.canary == Some(crate::session::Canary::IgnoreEviction)
    }
    #[cfg(not(feature = "canaries"))]
    {
        let _ = gw;
        false
    }
}
