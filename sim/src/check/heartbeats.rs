//! Heartbeats across switches.
//!
//! **Invariant**: every heartbeat a bot sends reaches at most one worldserver, and those that
//! arrive arrive in the order they were sent, across every switch (map change, redirect,
//! drain, layer switch, recovery).
//!
//! **Source of truth**: the fake worldservers' packet taps (what each fake's world handled)
//! and the sequence number each bot writes into its heartbeats' fall-time field (each of a
//! bot's connections numbers from its own range, so a retry never reuses numbers). A twin
//! (a second client of the same character) numbers from [`TWIN_SEQ_FROM`] up, and the two
//! clients' heartbeats are ordered apart: which of two players plays first is not the
//! gateway's to keep.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use waygate::peers::worldserver::PacketTap;
use waygate::wire::Opcode;

use super::{Checker, Findings};

/// A twin bot's heartbeat numbers start here; its original's stay below.
pub const TWIN_SEQ_FROM: u32 = 2_000_000_000;

/// A character and which of its clients (false: the original, true: its twin).
type Client = (u64, bool);

/// The last heartbeat each character's worldservers handled from each of its clients, and
/// where.
#[derive(Clone, Default)]
pub struct HeartbeatOrder {
    last: Arc<Mutex<BTreeMap<Client, (u32, String)>>>,
}

impl HeartbeatOrder {
    /// The tap for worldserver `id`'s fake.
    pub fn tap(&self, id: &str, findings: &Findings) -> PacketTap {
        let last = self.last.clone();
        let findings = findings.clone();
        let id = id.to_owned();
        Arc::new(move |guid, opcode, body, _, _| {
            if opcode != Opcode::MSG_MOVE_HEARTBEAT {
                return;
            }
            let Some(seq) = heartbeat_seq(body) else {
                return;
            };
            let mut last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let client = (guid, seq >= TWIN_SEQ_FROM);
            if let Some((before, on)) = last.get(&client)
                && seq <= *before
            {
                findings.flag(Checker::Heartbeats, format!(
                    "character {guid}: heartbeat {seq} reached {id} after heartbeat {before} reached {on}"
                ));
            }
            last.insert(client, (seq, id.clone()));
        })
    }
}

/// The sequence number a bot puts in a heartbeat's fall-time field.
fn heartbeat_seq(body: &[u8]) -> Option<u32> {
    let mut r = waygate::wire::codec::Reader::new(body);
    r.packed_guid("guid").ok()?;
    r.u32("flags").ok()?;
    r.u16("flags2").ok()?;
    r.u32("time").ok()?;
    for field in ["x", "y", "z", "o"] {
        r.f32(field).ok()?;
    }
    r.u32("fall time").ok()
}
