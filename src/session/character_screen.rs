//! The character screen: the account's characters, name queries, realm split and account
//! data times, character create, delete and rename (through `char_service`), and the start of
//! a login.

use std::time::Duration;

use super::char_service::{self, CHAR_REQUESTS_IN_FLIGHT_MAX, CharRequest, CharService, Outcome};
use super::context::Ctx;
use super::entering::Entering;
use super::timers::Timer;
use super::{
    CharacterGuid, CharacterRecord, CloseReason, InGame, LinkId, NameRecord, Opcode, Output,
    Packet, Player, RequestId, SeamError, SessionEvent, State, close,
};
use crate::cluster::WorldserverRef;
use crate::present::{Me, Presenter};
use crate::wire::packets::{
    ACCOUNT_DATA_GLOBAL_MASK, AccountDataTimes, CharEnum, CharacterLoginFailed, LoginFailure,
    NameQuery, NameQueryResponse, PlayerLogin, RealmSplit, RealmSplitRequest, WirePacket,
};

/// Authenticated, no character in world.
#[derive(Debug)]
pub(super) struct CharacterScreen {
    pub(super) player: Player,
    /// The listing asked for and not answered yet.
    listing: Option<RequestId>,
    /// The client asked for CHAR_ENUM before the listing arrived.
    enum_wanted: bool,
    /// The client sent PLAYER_LOGIN before the listing arrived, or while a character request
    /// was under way: the login starts once both are over.
    login_wanted: Option<CharacterGuid>,
    /// The character create, delete or rename under way (at most
    /// [`CHAR_REQUESTS_IN_FLIGHT_MAX`]).
    service: Option<CharService>,
}

impl CharacterScreen {
    pub(super) fn new(player: Player) -> Self {
        Self {
            player,
            listing: None,
            enum_wanted: false,
            login_wanted: None,
            service: None,
        }
    }

    /// Back at the character screen after a logout.
    pub(super) fn after_logout(player: Player) -> State {
        State::CharacterScreen(Self::new(player))
    }

    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        if let Some(request) = CharRequest::of(p.opcode) {
            return self.request_service(cx, now, request, p);
        }
        match p.opcode {
            Opcode::CMSG_CHAR_ENUM => {
                if self.player.characters.is_some() {
                    send_char_enum(cx, &self.player);
                } else {
                    self.enum_wanted = true;
                    self.request_characters(cx, now);
                }
            }
            Opcode::CMSG_PLAYER_LOGIN => match PlayerLogin::decode(&p.body) {
                Ok(login) => {
                    let guid = CharacterGuid(login.guid);
                    if self.player.characters.is_some() && self.service.is_none() {
                        return self.start_login(cx, now, guid);
                    }
                    self.login_wanted = Some(guid);
                    if self.service.is_none() {
                        self.request_characters(cx, now);
                    }
                }
                Err(e) => {
                    let reason = CloseReason::ClientProtocol(format!("PLAYER_LOGIN: {e}"));
                    return close(State::CharacterScreen(self), cx, reason);
                }
            },
            Opcode::CMSG_REALM_SPLIT => {
                let decision = RealmSplitRequest::decode(&p.body)
                    .map(|r| r.decision)
                    .unwrap_or(0);
                cx.send_client(&RealmSplit {
                    decision,
                    state: 0,
                    date: "01/01/01".into(),
                });
            }
            Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES => {
                cx.send_client(&AccountDataTimes {
                    unix_time: cx.unix_time(now),
                    mask: ACCOUNT_DATA_GLOBAL_MASK as u8,
                    times: [0; 8],
                });
            }
            Opcode::CMSG_NAME_QUERY => on_name_query(cx, &self.player, &p),
            Opcode::CMSG_PING => cx.pong(&p.body),
            // Anything else has no worldserver to go to at the character screen.
            _ => {}
        }
        State::CharacterScreen(self)
    }

    /// The characters service answered a listing.
    pub(super) fn on_characters(
        mut self,
        cx: &mut Ctx,
        now: Duration,
        request: RequestId,
        result: Result<Vec<CharacterRecord>, SeamError>,
    ) -> State {
        if self.listing != Some(request) {
            return State::CharacterScreen(self);
        }
        self.listing = None;
        cx.timers.disarm(Timer::Characters);
        let list = match result {
            Ok(list) => list,
            Err(e) => {
                let reason = CloseReason::ServiceUnavailable(e.to_string());
                return close(State::CharacterScreen(self), cx, reason);
            }
        };
        let account = self.player.account.id;
        // Only the account's own characters, whatever the service said.
        let list: Vec<_> = list.into_iter().filter(|c| c.account == account).collect();
        self.player.characters = Some(list);
        if std::mem::take(&mut self.enum_wanted) {
            send_char_enum(cx, &self.player);
        }
        self.resume_login(cx, now)
    }

    /// A login asked for meanwhile starts once the listing is in and no character request is
    /// under way.
    fn resume_login(mut self, cx: &mut Ctx, now: Duration) -> State {
        if self.service.is_some() {
            return State::CharacterScreen(self);
        }
        match self.login_wanted {
            Some(guid) if self.player.characters.is_some() => {
                self.login_wanted = None;
                self.start_login(cx, now, guid)
            }
            Some(_) => {
                self.request_characters(cx, now);
                State::CharacterScreen(self)
            }
            None => State::CharacterScreen(self),
        }
    }

    /// The characters service did not answer in time.
    pub(super) fn timed_out(self, cx: &mut Ctx) -> State {
        if self.listing.is_none() {
            return State::CharacterScreen(self);
        }
        let reason = CloseReason::ServiceUnavailable("characters service timed out".into());
        close(State::CharacterScreen(self), cx, reason)
    }

    // ----- character create, delete and rename ------------------------------------------

    /// The worldserver link of the request under way, if any.
    pub(super) fn service_link(&self) -> Option<LinkId> {
        self.service.as_ref().and_then(CharService::link)
    }

    /// CMSG_CHAR_CREATE, CMSG_CHAR_DELETE or CMSG_CHAR_RENAME: through a worldserver, one at
    /// a time.
    fn request_service(
        self,
        cx: &mut Ctx,
        now: Duration,
        request: CharRequest,
        p: Packet,
    ) -> State {
        if usize::from(self.service.is_some()) >= CHAR_REQUESTS_IN_FLIGHT_MAX {
            let detail = "another character request is under way".into();
            char_service::refuse(cx, request, detail);
            return State::CharacterScreen(self);
        }
        let auth = self.player.auth.raw.clone();
        let outcome = CharService::begin(cx, now, request, p, auth);
        self.after(cx, now, outcome)
    }

    /// The coordinator answered the request's placement.
    pub(super) fn on_placement(
        self,
        cx: &mut Ctx,
        now: Duration,
        request: RequestId,
        result: Result<Option<WorldserverRef>, SeamError>,
    ) -> State {
        self.with_service(cx, now, |s, cx| s.on_placement(cx, now, request, result))
    }

    /// The request's link opened, or failed.
    pub(super) fn on_connected(
        self,
        cx: &mut Ctx,
        now: Duration,
        link: LinkId,
        result: Result<(), String>,
    ) -> State {
        self.with_service(cx, now, |s, cx| s.on_connected(cx, link, result))
    }

    /// A packet on the request's link.
    pub(super) fn on_service_packet(self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        self.with_service(cx, now, |s, cx| s.on_world_packet(cx, now, p))
    }

    /// The request's link was lost; the caller dropped it.
    pub(super) fn on_service_lost(
        self,
        cx: &mut Ctx,
        now: Duration,
        server: &WorldserverRef,
        detail: String,
    ) -> State {
        self.with_service(cx, now, |s, cx| s.on_link_lost(cx, server, detail))
    }

    /// One of the request's timers fired.
    pub(super) fn service_timer(self, cx: &mut Ctx, now: Duration, timer: Timer) -> State {
        self.with_service(cx, now, |s, cx| match timer {
            Timer::CharServiceNudge => s.nudge(cx, now),
            timer => s.timed_out(cx, timer),
        })
    }

    fn with_service(
        mut self,
        cx: &mut Ctx,
        now: Duration,
        f: impl FnOnce(CharService, &mut Ctx) -> Outcome,
    ) -> State {
        let Some(service) = self.service.take() else {
            return State::CharacterScreen(self);
        };
        let outcome = f(service, cx);
        self.after(cx, now, outcome)
    }

    /// Keeps a pending request; after one that reached a worldserver the account's characters
    /// may have changed: the cached listing (and any listing asked before) is dropped, and
    /// asked again when the client wants it.
    fn after(mut self, cx: &mut Ctx, now: Duration, outcome: Outcome) -> State {
        match outcome {
            Outcome::Pending(service) => {
                self.service = Some(service);
                return State::CharacterScreen(self);
            }
            Outcome::Done {
                reached_world: true,
            } => {
                self.player.characters = None;
                if self.listing.take().is_some() {
                    cx.timers.disarm(Timer::Characters);
                    if self.enum_wanted {
                        self.request_characters(cx, now);
                    }
                }
            }
            Outcome::Done {
                reached_world: false,
            } => {}
        }
        self.resume_login(cx, now)
    }

    fn request_characters(&mut self, cx: &mut Ctx, now: Duration) {
        if self.listing.is_some() {
            return;
        }
        let request = cx.next_request();
        self.listing = Some(request);
        cx.push(Output::ListCharacters {
            request,
            account: self.player.account.id,
        });
        cx.timers
            .arm(Timer::Characters, now, cx.cfg.service_timeout_ms);
    }

    fn start_login(self, cx: &mut Ctx, now: Duration, guid: CharacterGuid) -> State {
        let Some(character) = self.player.character(guid).cloned() else {
            // Not this account's character: refused here, no worldserver is contacted.
            cx.send_client(&CharacterLoginFailed {
                reason: LoginFailure::NO_CHARACTER,
            });
            cx.event(SessionEvent::LoginFailed {
                code: LoginFailure::NO_CHARACTER,
                detail: format!("guid {} is not on this account", guid.0),
            });
            return State::CharacterScreen(self);
        };
        let map = character.map;
        cx.event(SessionEvent::LoginStarted { guid, map });
        let me = Me {
            guid: character.guid.0,
            name: character.name.clone(),
            race: character.race,
            guild_id: u64::from(character.guild_id),
            class: character.class,
            gender: character.gender,
            level: character.level,
            zone: character.zone,
            account: self.player.account.id.0,
        };
        let game = InGame {
            character,
            login_requested_at: now,
            map: None,
            position: None,
            presenter: Presenter::new(me, cx.cfg.services),
        };
        let _ = map;
        Entering::login(cx, now, self.player, game)
    }
}

/// Renders SMSG_CHAR_ENUM from the listing.
fn send_char_enum(cx: &mut Ctx, player: &Player) {
    let characters = player
        .characters
        .as_ref()
        .map(|list| list.iter().map(CharacterRecord::to_enum).collect())
        .unwrap_or_default();
    cx.send_client(&CharEnum { characters });
}

/// CMSG_NAME_QUERY: the account's own characters are answered at once, others asked of the
/// characters service.
pub(super) fn on_name_query(cx: &mut Ctx, player: &Player, p: &Packet) {
    let Ok(q) = NameQuery::decode(&p.body) else {
        return;
    };
    let guid = CharacterGuid(q.guid);
    match player.character(guid).map(NameRecord::from) {
        Some(record) => cx.send_client(&name_response(&record)),
        None => cx.query_name(guid),
    }
}

/// A name lookup answered.
pub(super) fn answer_name(
    cx: &mut Ctx,
    guid: CharacterGuid,
    result: Result<Option<NameRecord>, SeamError>,
) {
    let answer = match result {
        Ok(Some(n)) => name_response(&n),
        // A failed lookup is answered like an unknown name; the client asks again later.
        Ok(None) | Err(_) => NameQueryResponse::NotFound { guid: guid.0 },
    };
    cx.send_client(&answer);
}

fn name_response(n: &NameRecord) -> NameQueryResponse {
    NameQueryResponse::Found {
        guid: n.guid.0,
        name: n.name.clone(),
        realm: String::new(),
        race: n.race,
        gender: n.gender,
        class: n.class,
        declined: None,
    }
}
