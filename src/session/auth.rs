//! The client handshake: SMSG_AUTH_CHALLENGE, CMSG_AUTH_SESSION, the account lookup, the
//! digest check and the header cipher.

use std::time::Duration;

use bytes::BytesMut;

use super::character_screen::CharacterScreen;
use super::context::{ClientBody, Ctx};
use super::timers::Timer;
use super::{
    AccountRecord, ClaimRefused, CloseReason, Opcode, Output, Packet, Player, RequestId, SeamError,
    SessionEvent, State, close,
};
use crate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, AuthSession, CLIENT_BUILD};
use crate::wire::packets::{AddonAnswer, AddonInfo, ClientCacheVersion, TutorialFlags};

/// The 3.3.5a client's cache version.
const CLIENT_CACHE_VERSION: u32 = 12340;

/// Queues the challenge and arms the pre-auth deadline.
pub(super) fn challenge(cx: &mut Ctx, now: Duration, seed_bytes: [u8; 32]) {
    cx.send_client(&AuthChallengeBody(AuthChallenge {
        server_seed: cx.server_seed,
        seed_bytes,
    }));
    cx.timers
        .arm(Timer::PreAuth, now, cx.cfg.pre_auth_timeout_ms);
}

/// The first client packet: it must be CMSG_AUTH_SESSION of the expected build.
pub(super) fn on_auth_session(cx: &mut Ctx, now: Duration, p: Packet) -> State {
    if p.opcode != Opcode::CMSG_AUTH_SESSION {
        let detail = format!("{} before CMSG_AUTH_SESSION", p.opcode);
        return close(
            State::ExpectAuthSession,
            cx,
            CloseReason::ClientProtocol(detail),
        );
    }
    let auth = match AuthSession::decode(p.body) {
        Ok(a) => a,
        Err(e) => {
            let detail = format!("CMSG_AUTH_SESSION: {e}");
            return close(
                State::ExpectAuthSession,
                cx,
                CloseReason::ClientProtocol(detail),
            );
        }
    };
    if auth.build != CLIENT_BUILD {
        let build = auth.build;
        return reject(
            State::ExpectAuthSession,
            cx,
            AuthResult::VERSION_MISMATCH,
            format!("client build {build}, expected {CLIENT_BUILD}"),
        );
    }
    let request = cx.next_request();
    cx.push(Output::LookupAccount {
        request,
        name: auth.account.clone(),
    });
    cx.timers
        .arm(Timer::AccountLookup, now, cx.cfg.service_timeout_ms);
    State::AwaitAccount(AwaitAccount {
        request,
        auth,
        verified: None,
    })
}

/// Waiting for the account lookup, then for the account claim.
#[derive(Debug)]
pub(super) struct AwaitAccount {
    pub(super) request: RequestId,
    auth: AuthSession,
    /// The verified account, once the lookup answered: the claim is under way.
    pub(super) verified: Option<AccountRecord>,
}

impl AwaitAccount {
    pub(super) fn on_account(
        mut self,
        cx: &mut Ctx,
        now: Duration,
        result: Result<Option<AccountRecord>, SeamError>,
    ) -> State {
        let record = match result {
            Err(e) => {
                return accounts_unavailable(State::AwaitAccount(self), cx, e.to_string());
            }
            Ok(None) => {
                let detail = "unknown account".into();
                return reject(
                    State::AwaitAccount(self),
                    cx,
                    AuthResult::UNKNOWN_ACCOUNT,
                    detail,
                );
            }
            Ok(Some(r)) => r,
        };
        // As AzerothCore does: once the account is known, the cipher starts with the stored
        // key, so every later answer (a refusal included) has an encrypted header. A client
        // holding the same key can read why it was refused.
        cx.start_client_ciphers(&record.session_key);
        let refusal = if !self.auth.verify(cx.server_seed, &record.session_key) {
            Some((AuthResult::FAILED, "digest mismatch"))
        } else if record.banned {
            Some((AuthResult::BANNED, "account banned"))
        } else if record.locked {
            Some((AuthResult::LOCKED_ENFORCED, "account locked"))
        } else {
            None
        };
        if let Some((code, detail)) = refusal {
            return reject(State::AwaitAccount(self), cx, code, detail.into());
        }
        // The account is the client's; before it hears so, no other session may own it.
        cx.timers.disarm(Timer::AccountLookup);
        self.request = cx.next_request();
        if cx.canary(super::Canary::SkipAccountClaim) {
            self.verified = Some(record);
            return self.on_claim(cx, Ok(()));
        }
        cx.push(Output::ClaimAccount {
            request: self.request,
            account: record.id,
        });
        cx.timers
            .arm(Timer::AccountClaim, now, cx.cfg.account_claim_timeout_ms);
        self.verified = Some(record);
        State::AwaitAccount(self)
    }

    /// The account claim answered.
    pub(super) fn on_claim(self, cx: &mut Ctx, result: Result<(), ClaimRefused>) -> State {
        let Some(record) = self.verified else {
            return State::AwaitAccount(self);
        };
        let refusal = match result {
            Ok(()) => None,
            Err(ClaimRefused::Superseded) => Some("a newer login of the account took over".into()),
            Err(ClaimRefused::StillOnline(detail)) => Some(detail),
            Err(ClaimRefused::Unavailable(e)) => {
                let s = State::AwaitAccount(AwaitAccount {
                    verified: Some(record),
                    ..self
                });
                return accounts_unavailable(s, cx, e.to_string());
            }
        };
        let s = AwaitAccount {
            verified: Some(record),
            ..self
        };
        if let Some(detail) = refusal {
            return reject(
                State::AwaitAccount(s),
                cx,
                AuthResult::ALREADY_ONLINE,
                detail,
            );
        }
        let Some(record) = s.verified else {
            return State::AwaitAccount(s);
        };
        welcome(cx, &s.auth);
        cx.timers.disarm_all(&[Timer::PreAuth, Timer::AccountClaim]);
        cx.event(SessionEvent::Authenticated { account: record.id });
        State::CharacterScreen(CharacterScreen::new(Player {
            auth: s.auth,
            account: record,
            characters: None,
        }))
    }

    /// The accounts service did not answer in time.
    pub(super) fn timed_out(self, cx: &mut Ctx) -> State {
        let detail = format!(
            "accounts failed (retryable): no answer within {} ms",
            cx.cfg.service_timeout_ms
        );
        accounts_unavailable(State::AwaitAccount(self), cx, detail)
    }

    /// The claim did not answer in time: the account's other session did not let go.
    pub(super) fn claim_timed_out(self, cx: &mut Ctx) -> State {
        let detail = format!(
            "the account's other session did not let go within {} ms",
            cx.cfg.account_claim_timeout_ms
        );
        reject(
            State::AwaitAccount(self),
            cx,
            AuthResult::ALREADY_ONLINE,
            detail,
        )
    }
}

/// The packets a verified client gets before the character screen.
fn welcome(cx: &mut Ctx, auth: &AuthSession) {
    let addon_answers = auth
        .addons(cx.cfg.addon_inflated_max_bytes)
        .map(|list| list.addons.len())
        .unwrap_or(0);
    cx.send_client(&AuthResponseBody(AuthResponse::ok()));
    cx.send_client(&AddonInfoBody(AddonInfo {
        answers: (0..addon_answers)
            .map(|_| AddonAnswer {
                state: 2,
                crc_checked: true,
                public_key: None,
                unknown: 0,
                url: None,
            })
            .collect(),
    }));
    cx.send_client(&ClientCacheVersion {
        version: CLIENT_CACHE_VERSION,
    });
    cx.send_client(&TutorialFlags { words: [0; 8] });
}

/// Refuses the auth session with `code` and ends the session: the client's account or
/// client is at fault, and `detail` says how.
fn reject(s: State, cx: &mut Ctx, code: AuthResult, detail: String) -> State {
    cx.send_client(&AuthResponseBody(AuthResponse::Failed(code)));
    close(s, cx, CloseReason::AuthRejected(code, detail))
}

/// The accounts service failed or did not answer: the client is told DB_BUSY (it may try
/// again), and the service is to blame.
fn accounts_unavailable(s: State, cx: &mut Ctx, detail: String) -> State {
    cx.send_client(&AuthResponseBody(AuthResponse::Failed(AuthResult::DB_BUSY)));
    close(s, cx, CloseReason::ServiceUnavailable(detail))
}

struct AuthChallengeBody(AuthChallenge);
struct AuthResponseBody(AuthResponse);
struct AddonInfoBody(AddonInfo);

impl ClientBody for AuthChallengeBody {
    fn opcode(&self) -> Opcode {
        AuthChallenge::OPCODE
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.0.encode(out);
    }
}

impl ClientBody for AuthResponseBody {
    fn opcode(&self) -> Opcode {
        AuthResponse::OPCODE
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.0.encode(out);
    }
}

impl ClientBody for AddonInfoBody {
    fn opcode(&self) -> Opcode {
        Opcode::SMSG_ADDON_INFO
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.0.encode(out);
    }
}
