//! Presentation, sans I/O: cluster-service state and events rendered as client packets, and
//! the client opcodes that the cluster's services answer rather than the worldserver.
//!
//! The session's in-world states hand every packet whose opcode [`intercepts_client`] or
//! [`intercepts_world`] names to the player's [`Presenter`] and carry out what it answers:
//! packets for the client or the worldserver, and requests for the cluster's services
//! ([`ServiceRequest`], answered through [`Presenter::handle_service_answer`]). Everything
//! else passes through untouched and costs one table look-up.
//!
//! Nothing is intercepted yet: the families (chat, channels, friends, who, guilds, groups,
//! party frames) come with the presentation issue, each as a file of its own here.

pub mod gojson;

use std::time::Duration;

use bytes::Bytes;

use crate::wire::{Opcode, Packet};

/// Whether presentation takes over this client opcode.
pub fn intercepts_client(opcode: Opcode) -> bool {
    let _ = opcode;
    false
}

/// Whether presentation wants to see this worldserver opcode before the client does.
pub fn intercepts_world(opcode: Opcode) -> bool {
    let _ = opcode;
    false
}

/// An event from the cluster's bus for one player on this gateway (ToCloud9's NATS subjects
/// of CONTRACTS section 2.4): the subject names the payload's type; the payload is the
/// envelope's `p`, still JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    /// The subject it came on.
    pub subject: String,
    /// The envelope's payload.
    pub payload: Bytes,
}

/// A call to a cluster service that presentation needs answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceRequest {}

/// A cluster service's answer, routed back to the presenter that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAnswer {}

/// What the presenter asks of the session, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this packet to the client.
    ToClient(Opcode, Bytes),
    /// Send this packet to the player's worldserver.
    ToWorld(Opcode, Bytes),
    /// Ask a service.
    Call(ServiceRequest),
}

/// One player's presentation state: valid from the character's login until it logs out.
#[derive(Debug, Clone, Default)]
pub struct Presenter {}

impl Presenter {
    /// A client packet whose opcode [`intercepts_client`] names.
    pub fn handle_client(&mut self, now: Duration, p: Packet, out: &mut Vec<Action>) {
        let _ = now;
        // Not intercepted yet: it goes to the worldserver as it came.
        out.push(Action::ToWorld(p.opcode, p.body));
    }

    /// A worldserver packet whose opcode [`intercepts_world`] names.
    pub fn handle_world(&mut self, now: Duration, p: Packet, out: &mut Vec<Action>) {
        let _ = now;
        out.push(Action::ToClient(p.opcode, p.body));
    }

    /// An event from the cluster's bus for this player.
    pub fn handle_event(&mut self, now: Duration, event: ClusterEvent, out: &mut Vec<Action>) {
        // No family renders events yet: they are dropped here, counted by the caller.
        let _ = (now, event, out);
    }

    /// A service answered a [`ServiceRequest`].
    pub fn handle_service_answer(
        &mut self,
        now: Duration,
        answer: ServiceAnswer,
        out: &mut Vec<Action>,
    ) {
        let _ = (now, out);
        match answer {}
    }
}
