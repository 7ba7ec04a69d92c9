//! Character create, delete and rename at the character screen, carried out by a worldserver.
//!
//! A ToCloud9 cluster has no service for these: a worldserver does them, on a connection of
//! its own. As ToCloud9's gateway does, the session asks for any admitting worldserver of the
//! realm (the coordinator with map `None`; a character that may still be in world somewhere
//! goes back to the worldserver that may hold it, which refuses rather than deleting it from
//! under itself), opens a fresh link, replays the client's auth session, forwards the client's
//! packet unchanged and relays what the worldserver sends (as [`in_world::for_client`] allows;
//! its auth answer is consumed) until the answer, then closes the link.
//!
//! Readiness is the login's rule, not a sleep: a cluster worldserver answers an accepted auth
//! session with nothing (PROTOCOL.md section 3), so the request follows the replayed auth
//! session at once as a write of its own, and CMSG_KEEP_ALIVE nudges a worldserver that left
//! it unread. A refused auth session (SMSG_AUTH_RESPONSE with anything but AUTH_OK) ends the
//! request at once. Any failure on the way answers the request's failure code at once; the
//! whole request has `char_service_timeout_ms`.

use std::time::Duration;

use bytes::Bytes;

use super::context::{Ctx, millis};
use super::in_world;
use super::timers::Timer;
use super::{CharacterGuid, LinkId, Opcode, Output, Packet, RequestId, SeamError, SessionEvent};
use crate::cluster::WorldserverRef;
use crate::wire::DecodeError;
use crate::wire::auth::AuthResponse;
use crate::wire::packets::{
    CharCreateResult, CharDelete, CharDeleteResult, CharRename, CharRenameResult, WirePacket,
    char_result,
};

/// Character-screen requests a session has under way at once. The client sends one and waits
/// for its answer; another that arrives meanwhile is answered with its failure code at once.
pub(super) const CHAR_REQUESTS_IN_FLIGHT_MAX: usize = 1;

/// Every timer the flow arms; all of them are disarmed when it ends.
const TIMERS: [Timer; 4] = [
    Timer::Placement,
    Timer::WorldHandshake,
    Timer::CharService,
    Timer::CharServiceNudge,
];

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CharRequest {
    /// CMSG_CHAR_CREATE, answered by SMSG_CHAR_CREATE.
    Create,
    /// CMSG_CHAR_DELETE, answered by SMSG_CHAR_DELETE.
    Delete,
    /// CMSG_CHAR_RENAME, answered by SMSG_CHAR_RENAME.
    Rename,
}

impl CharRequest {
    /// The request a client opcode makes, if any.
    pub(super) fn of(opcode: Opcode) -> Option<Self> {
        match opcode {
            Opcode::CMSG_CHAR_CREATE => Some(Self::Create),
            Opcode::CMSG_CHAR_DELETE => Some(Self::Delete),
            Opcode::CMSG_CHAR_RENAME => Some(Self::Rename),
            _ => None,
        }
    }

    /// The worldserver's answer, which ends the request.
    fn answer(self) -> Opcode {
        match self {
            Self::Create => CharCreateResult::OPCODE,
            Self::Delete => CharDeleteResult::OPCODE,
            Self::Rename => CharRenameResult::OPCODE,
        }
    }

    /// What the client gets when the gateway cannot carry the request out. A rename gets
    /// CHAR_CREATE_ERROR, as AzerothCore answers every rename that fails for another reason
    /// than the name itself (a name code would blame the name).
    fn failure_code(self) -> u8 {
        match self {
            Self::Create => char_result::CHAR_CREATE_FAILED,
            Self::Delete => char_result::CHAR_DELETE_FAILED,
            Self::Rename => char_result::CHAR_CREATE_ERROR,
        }
    }

    /// The character a delete or rename is about; a create has none yet (guid 0, which
    /// nothing holds).
    fn guid(self, body: &[u8]) -> Result<CharacterGuid, DecodeError> {
        Ok(CharacterGuid(match self {
            Self::Create => 0,
            Self::Delete => CharDelete::decode(body)?.guid,
            Self::Rename => CharRename::decode(body)?.guid,
        }))
    }
}

/// Answers `request` with its failure code and says why.
pub(super) fn refuse(cx: &mut Ctx, request: CharRequest, detail: String) {
    let code = request.failure_code();
    match request {
        CharRequest::Create => cx.send_client(&CharCreateResult { result: code }),
        CharRequest::Delete => cx.send_client(&CharDeleteResult { result: code }),
        CharRequest::Rename => cx.send_client(&CharRenameResult::Refused(code)),
    }
    cx.event(SessionEvent::CharServiceFailed {
        answer: request.answer(),
        code,
        detail,
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for the coordinator's answer.
    AwaitPlacement(RequestId),
    Connecting(LinkId),
    AwaitChallenge(LinkId),
    /// The auth session and the request went out; nudges sent so far.
    Sent(LinkId, u32),
}

/// One request under way.
#[derive(Debug)]
pub(super) struct CharService {
    request: CharRequest,
    /// The client's packet, forwarded unchanged.
    packet: Packet,
    /// The client's auth session, replayed to the worldserver.
    auth: Bytes,
    started: Duration,
    step: Step,
}

/// Where a request stands after an input.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Still under way.
    Pending(CharService),
    /// Over: the client has its answer. `reached_world`: the request went out to a
    /// worldserver, which may have changed the account's characters (even if its answer
    /// never came), so the listing must be asked again.
    Done { reached_world: bool },
}

impl CharService {
    /// The client's request: ask for a worldserver, under the placement deadline and the
    /// request's own.
    pub(super) fn begin(
        cx: &mut Ctx,
        now: Duration,
        request: CharRequest,
        packet: Packet,
        auth: Bytes,
    ) -> Outcome {
        let guid = match request.guid(&packet.body) {
            Ok(guid) => guid,
            Err(e) => {
                refuse(cx, request, format!("{}: {e}", packet.opcode));
                return Outcome::Done {
                    reached_world: false,
                };
            }
        };
        let id = cx.next_request();
        cx.push(Output::Place {
            request: id,
            guid,
            map: None,
            exclude: Vec::new(),
            avoid: Vec::new(),
            prefer: None,
        });
        cx.timers
            .arm(Timer::Placement, now, cx.cfg.service_timeout_ms);
        cx.timers
            .arm(Timer::CharService, now, cx.cfg.char_service_timeout_ms);
        Outcome::Pending(Self {
            request,
            packet,
            auth,
            started: now,
            step: Step::AwaitPlacement(id),
        })
    }

    /// The worldserver link, once asked for.
    pub(super) fn link(&self) -> Option<LinkId> {
        match self.step {
            Step::AwaitPlacement(_) => None,
            Step::Connecting(l) | Step::AwaitChallenge(l) | Step::Sent(l, _) => Some(l),
        }
    }

    /// The coordinator answered.
    pub(super) fn on_placement(
        mut self,
        cx: &mut Ctx,
        now: Duration,
        request: RequestId,
        result: Result<Option<WorldserverRef>, SeamError>,
    ) -> Outcome {
        if self.step != Step::AwaitPlacement(request) {
            return Outcome::Pending(self);
        }
        cx.timers.disarm(Timer::Placement);
        match result {
            Ok(Some(server)) => {
                self.step = Step::Connecting(cx.connect(server));
                cx.timers.arm(
                    Timer::WorldHandshake,
                    now,
                    cx.cfg.world_handshake_timeout_ms,
                );
                Outcome::Pending(self)
            }
            Ok(None) => self.fail(cx, "no worldserver in the realm".into()),
            // Whether or not a wait might help, the request fails now, as ToCloud9's does:
            // the client asks again.
            Err(e) => self.fail(cx, e.to_string()),
        }
    }

    /// The link opened, or failed.
    pub(super) fn on_connected(
        mut self,
        cx: &mut Ctx,
        link: LinkId,
        result: Result<(), String>,
    ) -> Outcome {
        if self.step != Step::Connecting(link) {
            return Outcome::Pending(self);
        }
        match result {
            Ok(()) => {
                self.step = Step::AwaitChallenge(link);
                Outcome::Pending(self)
            }
            Err(detail) => self.fail(cx, format!("connect: {detail}")),
        }
    }

    /// A packet on the link.
    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> Outcome {
        match self.step {
            Step::AwaitChallenge(link) if p.opcode == Opcode::SMSG_AUTH_CHALLENGE => {
                self.send(cx, now, link);
                Outcome::Pending(self)
            }
            Step::AwaitChallenge(_) => {
                let detail = format!("{} before SMSG_AUTH_CHALLENGE", p.opcode);
                self.fail(cx, detail)
            }
            Step::Sent(link, _) => {
                // Anything back proves the worldserver read the request.
                cx.timers.disarm(Timer::CharServiceNudge);
                self.on_answer_packet(cx, now, link, p)
            }
            Step::AwaitPlacement(_) | Step::Connecting(_) => Outcome::Pending(self),
        }
    }

    /// The link was lost (closed, or it broke the protocol); the caller dropped it.
    pub(super) fn on_link_lost(
        self,
        cx: &mut Ctx,
        server: &WorldserverRef,
        detail: String,
    ) -> Outcome {
        let detail = format!("{}: {detail}", server.id);
        self.fail(cx, detail)
    }

    /// The request unanswered: a CMSG_KEEP_ALIVE makes a worldserver that read it together
    /// with the auth session read it.
    pub(super) fn nudge(mut self, cx: &mut Ctx, now: Duration) -> Outcome {
        let Step::Sent(link, nudges) = self.step else {
            return Outcome::Pending(self);
        };
        cx.send_world(link, Opcode::CMSG_KEEP_ALIVE, Bytes::new());
        let nudges = nudges + 1;
        self.step = Step::Sent(link, nudges);
        if nudges < cx.cfg.world_login_nudges_max {
            let after = cx
                .cfg
                .world_login_nudge_ms
                .saturating_mul(1 << nudges.min(16));
            cx.timers.arm(Timer::CharServiceNudge, now, after);
        }
        Outcome::Pending(self)
    }

    /// A deadline of the flow passed.
    pub(super) fn timed_out(self, cx: &mut Ctx, timer: Timer) -> Outcome {
        let detail = match (timer, self.step) {
            (Timer::Placement, Step::AwaitPlacement(_)) => "placement timed out",
            (Timer::WorldHandshake, Step::Connecting(_) | Step::AwaitChallenge(_)) => {
                "worldserver handshake timed out"
            }
            (Timer::CharService, _) => "no answer in time",
            _ => return Outcome::Pending(self),
        };
        self.fail(cx, detail.into())
    }

    /// The worldserver's challenge: the replayed auth session, then the request, each a write
    /// of its own.
    fn send(&mut self, cx: &mut Ctx, now: Duration, link: LinkId) {
        cx.timers.disarm(Timer::WorldHandshake);
        cx.send_world(link, Opcode::CMSG_AUTH_SESSION, self.auth.clone());
        cx.send_world(link, self.packet.opcode, self.packet.body.clone());
        cx.timers
            .arm(Timer::CharServiceNudge, now, cx.cfg.world_login_nudge_ms);
        self.step = Step::Sent(link, 0);
    }

    /// What the worldserver sends once it has the request: its auth answer is consumed, the
    /// answer ends the request, anything else goes to the client if it may.
    fn on_answer_packet(self, cx: &mut Ctx, now: Duration, link: LinkId, p: Packet) -> Outcome {
        if p.opcode == Opcode::SMSG_AUTH_RESPONSE {
            return match AuthResponse::decode(&p.body) {
                // A worldserver that does confirm an accepted session (cluster ones do not).
                Ok(AuthResponse::Ok(_)) => Outcome::Pending(self),
                other => {
                    let detail = format!("worldserver refused the replayed auth: {other:?}");
                    self.fail(cx, detail)
                }
            };
        }
        if p.opcode != self.request.answer() {
            in_world::to_client(cx, p);
            return Outcome::Pending(self);
        }
        let Some(&result) = p.body.first() else {
            return self.fail(cx, format!("{} without a result", p.opcode));
        };
        let server = cx.link_server(link);
        cx.send_client_raw(p.opcode, p.body);
        cx.drop_link(link);
        cx.timers.disarm_all(&TIMERS);
        if let Some(server) = server {
            cx.event(SessionEvent::CharServiceAnswered {
                answer: p.opcode,
                worldserver: server.id,
                result,
                took_ms: millis(now.saturating_sub(self.started)),
            });
        }
        Outcome::Done {
            reached_world: true,
        }
    }

    /// The request failed: the link (if any) closed, the client told.
    fn fail(self, cx: &mut Ctx, detail: String) -> Outcome {
        if let Some(link) = self.link() {
            cx.drop_link(link);
        }
        cx.timers.disarm_all(&TIMERS);
        refuse(cx, self.request, detail);
        Outcome::Done {
            reached_world: matches!(self.step, Step::Sent(..)),
        }
    }
}
