//! Account fencing across gateways: an account (and so its character) belongs to one session
//! at a time, cluster-wide. Sans-IO: the records, the decision of each claim step, and the
//! clocks of liveness and of this gateway's own lease. The store they live in (NATS JetStream
//! key-value, or memory for one gateway alone) and the waiting are the driver's.
//!
//! One key per account, `acct.<id>`, holding an [`AccountClaim`]; one per gateway,
//! `gw.<instance>`, rewritten every heartbeat. Every write is a compare-and-set on the key's
//! revision, so two gateways never both believe they won.
//!
//! A login claims its account before the client gets AUTH_RESPONSE:
//! - no record: create it (the create fails if another login created it first);
//! - a record with no owner (the last session ended, its character may still linger): take it
//!   over, inheriting where the character may still be held;
//! - an owner whose gateway is dead (no heartbeat seen for `liveness_ms`): take it over too;
//! - a live owner: ask it to let go (the record's `evict`), then wait for the record to
//!   change. The owner's gateway sees the request on its watch, logs the character out and
//!   writes the record back without an owner, with the holds its ledger still keeps.
//!
//! A newer login replaces an older one's request: the older login is told the account went
//! to a newer login. A gateway whose own heartbeats fail for `lease_ms` (less than the others'
//! `liveness_ms`) can no longer prove it is alive: it closes its sessions before anyone may
//! take their accounts over, and admits nobody until the store answers again.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Key of an account's claim record.
pub fn account_key(account: u32) -> String {
    format!("acct.{account}")
}

/// Key of a gateway's heartbeat.
pub fn heartbeat_key(instance: &str) -> String {
    format!("gw.{instance}")
}

/// What a key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceKey<'a> {
    /// An account's claim.
    Account(u32),
    /// A gateway's heartbeat.
    Heartbeat(&'a str),
    /// Not ours.
    Other,
}

impl<'a> FenceKey<'a> {
    /// Reads a key of the bucket.
    pub fn parse(key: &'a str) -> Self {
        if let Some(id) = key.strip_prefix("acct.") {
            return id.parse().map_or(Self::Other, Self::Account);
        }
        match key.strip_prefix("gw.") {
            Some(instance) if !instance.is_empty() => Self::Heartbeat(instance),
            _ => Self::Other,
        }
    }
}

/// A session, cluster-wide: which gateway process, and its session number there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Owner {
    /// The gateway process's instance id (new at every start).
    pub gateway: String,
    /// The session's number on that gateway.
    pub session: u64,
}

/// Where a character of the account may still be in world.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HeldCharacter {
    /// The character.
    pub guid: u64,
    /// The worldserver that may hold it.
    pub worldserver: String,
    /// How much longer, by the writer's ledger when it wrote the record; absent when its
    /// linger clock had not started (or the character was live there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_ms: Option<u64>,
}

/// An account's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClaim {
    /// The session that owns the account; none once it ended (the record stays while
    /// `holds` does).
    pub owner: Option<Owner>,
    /// A newer login that asked the owner to let go.
    #[serde(default)]
    pub evict: Option<Owner>,
    /// Where the account's characters may still be held.
    #[serde(default)]
    pub holds: Vec<HeldCharacter>,
}

/// A record that cannot be read: written by something else, or damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord(pub String);

impl AccountClaim {
    /// The record's bytes in the store (JSON).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a record; a damaged one is an error naming why.
    pub fn decode(bytes: &[u8]) -> Result<Self, BadRecord> {
        serde_json::from_slice(bytes).map_err(|e| BadRecord(e.to_string()))
    }
}

/// The next thing a claiming login does, given the record as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimStep {
    /// No record: create one owned by this login.
    Create,
    /// The record is this login's already.
    Granted,
    /// Write this record over the one read (compare-and-set), then the account is this
    /// login's, with these holds inherited.
    Take(AccountClaim),
    /// Write this record (the eviction request) over the one read, then wait.
    AskEviction(AccountClaim),
    /// The owner was asked; wait for the record to change (or the owner's gateway to die).
    Wait,
    /// A newer login replaced this one's request: give up.
    Superseded,
}

/// Decides a claim's next step. `asked`: this login already wrote its eviction request;
/// `alive`: whether a gateway's heartbeats are still seen.
pub fn claim_step(
    current: Option<&AccountClaim>,
    me: &Owner,
    asked: bool,
    alive: impl Fn(&str) -> bool,
) -> ClaimStep {
    let Some(rec) = current else {
        return ClaimStep::Create;
    };
    if rec.owner.as_ref() == Some(me) {
        return ClaimStep::Granted;
    }
    if asked && rec.evict.as_ref() != Some(me) {
        return ClaimStep::Superseded;
    }
    let take = || {
        ClaimStep::Take(AccountClaim {
            owner: Some(me.clone()),
            evict: None,
            holds: rec.holds.clone(),
        })
    };
    match &rec.owner {
        None if rec.evict.is_none() || rec.evict.as_ref() == Some(me) => take(),
        Some(owner) if !alive(&owner.gateway) => take(),
        _ if rec.evict.as_ref() == Some(me) => ClaimStep::Wait,
        _ => ClaimStep::AskEviction(AccountClaim {
            evict: Some(me.clone()),
            ..rec.clone()
        }),
    }
}

/// What the owner's gateway does with a record it sees change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerDuty {
    /// Nothing for this gateway.
    None,
    /// Session `.0` of this gateway must let the account go (a newer login asked).
    Evict(u64),
}

/// Reads a changed record from the point of view of gateway `instance`.
pub fn owner_duty(rec: &AccountClaim, instance: &str) -> OwnerDuty {
    match (&rec.owner, &rec.evict) {
        (Some(owner), Some(asker)) if owner.gateway == instance && asker != owner => {
            OwnerDuty::Evict(owner.session)
        }
        _ => OwnerDuty::None,
    }
}

/// The record a session's end leaves: `None` means delete it (nothing may linger), else the
/// record to write (no owner, the request kept for the login that made it). `holds`: where
/// the account's characters may still be held, by this gateway's ledger.
pub fn released(rec: &AccountClaim, mut holds: Vec<HeldCharacter>) -> Option<AccountClaim> {
    holds.sort();
    holds.dedup();
    if holds.is_empty() && rec.evict.is_none() {
        return None;
    }
    Some(AccountClaim {
        owner: None,
        evict: rec.evict.clone(),
        holds,
    })
}

/// Other gateways' heartbeats, as this gateway sees them.
#[derive(Debug, Clone)]
pub struct Liveness {
    liveness_ms: u64,
    started: Duration,
    last_heard: BTreeMap<String, Duration>,
}

/// Gateways whose heartbeats a [`Liveness`] remembers, at most (the longest silent are
/// forgotten first; forgetting one only makes it look dead sooner, never alive).
pub const LIVENESS_GATEWAYS_MAX: usize = 1_024;

impl Liveness {
    /// Starts watching at `now`: a gateway never heard of counts as heard at `now`, so
    /// nobody is judged dead before `liveness_ms` of watching.
    pub fn new(liveness_ms: u64, now: Duration) -> Self {
        Self {
            liveness_ms,
            started: now,
            last_heard: BTreeMap::new(),
        }
    }

    /// `instance` wrote a heartbeat, seen at `now`.
    pub fn heard(&mut self, instance: &str, now: Duration) {
        self.last_heard.insert(instance.to_owned(), now);
        if self.last_heard.len() > LIVENESS_GATEWAYS_MAX
            && let Some(oldest) = self
                .last_heard
                .iter()
                .min_by_key(|(name, at)| (**at, (*name).clone()))
                .map(|(name, _)| name.clone())
        {
            self.last_heard.remove(&oldest);
        }
    }

    /// Whether `instance` may still be alive at `now`.
    pub fn alive(&self, instance: &str, now: Duration) -> bool {
        let last = self
            .last_heard
            .get(instance)
            .copied()
            .unwrap_or(self.started)
            .max(self.started);
        now.saturating_sub(last) < Duration::from_millis(self.liveness_ms)
    }
}

/// This gateway's own right to own accounts: renewed by each heartbeat the store took.
#[derive(Debug, Clone)]
pub struct Lease {
    lease_ms: u64,
    renewed_at: Option<Duration>,
}

impl Lease {
    /// A lease not yet held (no heartbeat written yet).
    pub fn new(lease_ms: u64) -> Self {
        Self {
            lease_ms,
            renewed_at: None,
        }
    }

    /// A heartbeat the gateway began writing at `began` was stored.
    pub fn renewed(&mut self, began: Duration) {
        self.renewed_at = Some(self.renewed_at.map_or(began, |at| at.max(began)));
    }

    /// Whether the gateway may own accounts at `now`.
    pub fn held(&self, now: Duration) -> bool {
        self.renewed_at
            .is_some_and(|at| now.saturating_sub(at) < Duration::from_millis(self.lease_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(gateway: &str, session: u64) -> Owner {
        Owner {
            gateway: gateway.into(),
            session,
        }
    }

    fn held(guid: u64, ws: &str) -> HeldCharacter {
        HeldCharacter {
            guid,
            worldserver: ws.into(),
            left_ms: None,
        }
    }

    #[test]
    fn a_free_account_is_created_and_an_own_record_is_granted() {
        let me = owner("b", 7);
        assert_eq!(claim_step(None, &me, false, |_| true), ClaimStep::Create);
        let mine = AccountClaim {
            owner: Some(me.clone()),
            ..Default::default()
        };
        assert_eq!(
            claim_step(Some(&mine), &me, false, |_| true),
            ClaimStep::Granted
        );
    }

    #[test]
    fn a_live_owner_is_asked_to_let_go_and_waited_for() {
        let me = owner("b", 7);
        let rec = AccountClaim {
            owner: Some(owner("a", 3)),
            evict: None,
            holds: vec![held(9, "ws-1")],
        };
        let ClaimStep::AskEviction(asked) = claim_step(Some(&rec), &me, false, |_| true) else {
            panic!("expected an eviction request");
        };
        assert_eq!(asked.evict.as_ref(), Some(&me));
        assert_eq!(asked.owner, rec.owner);
        assert_eq!(owner_duty(&asked, "a"), OwnerDuty::Evict(3));
        assert_eq!(owner_duty(&asked, "b"), OwnerDuty::None);
        assert_eq!(
            claim_step(Some(&asked), &me, true, |_| true),
            ClaimStep::Wait
        );
    }

    #[test]
    fn the_owner_letting_go_hands_the_holds_to_the_asker() {
        let me = owner("b", 7);
        let rec = AccountClaim {
            owner: Some(owner("a", 3)),
            evict: Some(me.clone()),
            holds: vec![],
        };
        let parked = released(&rec, vec![held(9, "ws-1"), held(9, "ws-1")]).expect("kept");
        assert_eq!(parked.owner, None);
        assert_eq!(parked.holds, vec![held(9, "ws-1")]);
        let ClaimStep::Take(taken) = claim_step(Some(&parked), &me, true, |_| true) else {
            panic!("expected a take-over");
        };
        assert_eq!(taken.owner.as_ref(), Some(&me));
        assert_eq!(taken.evict, None);
        assert_eq!(taken.holds, vec![held(9, "ws-1")]);
    }

    #[test]
    fn a_dead_owner_is_taken_over_without_asking() {
        let me = owner("b", 7);
        let rec = AccountClaim {
            owner: Some(owner("a", 3)),
            evict: None,
            holds: vec![held(9, "ws-1")],
        };
        let step = claim_step(Some(&rec), &me, false, |g| g != "a");
        assert!(matches!(step, ClaimStep::Take(ref t) if t.holds == rec.holds));
    }

    #[test]
    fn a_newer_request_supersedes_an_older_one() {
        let (older, newer) = (owner("b", 7), owner("c", 1));
        let rec = AccountClaim {
            owner: Some(owner("a", 3)),
            evict: Some(newer.clone()),
            holds: vec![],
        };
        assert_eq!(
            claim_step(Some(&rec), &older, true, |_| true),
            ClaimStep::Superseded
        );
        // A parked record promised to another login: a newer one replaces the promise.
        let parked = AccountClaim {
            owner: None,
            ..rec.clone()
        };
        assert!(matches!(
            claim_step(Some(&parked), &owner("d", 2), false, |_| true),
            ClaimStep::AskEviction(ref r) if r.evict == Some(owner("d", 2))
        ));
    }

    #[test]
    fn a_session_ending_with_nothing_held_deletes_the_record() {
        let rec = AccountClaim {
            owner: Some(owner("a", 3)),
            ..Default::default()
        };
        assert_eq!(released(&rec, vec![]), None);
    }

    #[test]
    fn records_round_trip_and_damage_is_named() {
        let rec = AccountClaim {
            owner: Some(owner("a", 3)),
            evict: Some(owner("b", 4)),
            holds: vec![held(1, "ws")],
        };
        assert_eq!(AccountClaim::decode(&rec.encode()), Ok(rec));
        assert!(AccountClaim::decode(b"{").is_err());
        assert_eq!(FenceKey::parse("acct.12"), FenceKey::Account(12));
        assert_eq!(FenceKey::parse("gw.x1"), FenceKey::Heartbeat("x1"));
        assert_eq!(FenceKey::parse("acct.x"), FenceKey::Other);
        assert_eq!(FenceKey::parse("gw."), FenceKey::Other);
        // The keys written are the keys read, in the bucket's documented layout.
        assert_eq!(account_key(12), "acct.12");
        assert_eq!(heartbeat_key("x1"), "gw.x1");
        assert_eq!(FenceKey::parse(&account_key(7)), FenceKey::Account(7));
        assert_eq!(
            FenceKey::parse(&heartbeat_key("g-2")),
            FenceKey::Heartbeat("g-2")
        );
    }

    #[test]
    fn liveness_counts_from_the_later_of_start_and_last_heartbeat() {
        let s = Duration::from_secs;
        let mut l = Liveness::new(10_000, s(100));
        assert!(l.alive("a", s(109)));
        assert!(!l.alive("a", s(110)));
        l.heard("a", s(105));
        assert!(l.alive("a", s(114)));
        assert!(!l.alive("a", s(115)));
    }

    /// At most LIVENESS_GATEWAYS_MAX gateways are remembered: one more forgets the longest
    /// silent, which then counts from the start (and so looks dead), and only that one.
    #[test]
    fn liveness_forgets_only_the_longest_silent_past_its_bound() {
        let ms = Duration::from_millis;
        let mut l = Liveness::new(10_000, ms(0));
        let name = |i: usize| format!("g-{i}");
        for i in 0..=LIVENESS_GATEWAYS_MAX {
            l.heard(&name(i), ms(1_000 + i as u64));
        }
        let now = ms(10_000);
        assert!(!l.alive(&name(0), now), "forgotten: counted from the start");
        assert!(l.alive(&name(1), now), "the bound itself is kept");
        assert!(l.alive(&name(LIVENESS_GATEWAYS_MAX), now));
    }

    #[test]
    fn a_lease_lapses_when_heartbeats_stop_being_stored() {
        let s = Duration::from_secs;
        let mut lease = Lease::new(5_000);
        assert!(!lease.held(s(0)));
        lease.renewed(s(10));
        lease.renewed(s(8));
        assert!(lease.held(s(14)));
        assert!(!lease.held(s(15)));
    }
}
