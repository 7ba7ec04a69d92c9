//! One gateway connection: a single task that reads, lets the "world" handle what it read,
//! fires its timers and writes. There are no split halves (madsim has none) and every wait
//! is a deadline.
//!
//! Two threads of the real server are modelled. The network thread handles CMSG_PING,
//! CMSG_KEEP_ALIVE and the handshake the moment they are decoded. Everything else goes
//! through a bounded world queue and is handled by the world loop `world_update_ms` later,
//! in arrival order; the player's state at that moment decides whether it is handled or
//! dropped.

use std::collections::VecDeque;
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::packets::{self, EPOCH_UNIX_SECONDS, TEXT_EMOTE_READY};
use super::world::{Command, ConnId, World};
use super::{
    CloseReason, FakeTiming, FakeWorldserver, KickReason, Presence, WORLD_QUEUE_MAX_PACKETS,
    WorldEventKind,
};
use crate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, AuthSession};
use crate::wire::packets::{
    CharacterLoginFailed, LoginFailure, LogoutResponse, MapPosition, NewWorld, Ping, PlayerLogin,
    Pong, ReadyForRedirect, TimeSyncReq, TransferPending, WirePacket,
};
use crate::wire::{ClientHeaderDecoder, Decoded, FrameError, Opcode, Packet, ServerHeaderEncoder};

/// Bytes read from the socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Commands taken from the queue in one turn before the connection writes again.
const COMMANDS_PER_TURN_MAX: usize = 256;
/// Fast pings in a row that are still answered (AzerothCore `MaxOverspeedPings`).
const OVERSPEED_PINGS_MAX: u32 = 2;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Waiting for the handshake to finish.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthStage {
    /// Challenge sent.
    ExpectAuthSession,
    /// Reading paused until the lookup answers.
    AccountLookup { account: String, until: Instant },
    /// The session exists.
    Authed { account: String },
}

/// How a PLAYER_LOGIN will end when the load is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadOutcome {
    Loads,
    /// Unknown to the fake, or `loads: false`.
    Fails,
    /// Online on another connection.
    Busy,
}

/// The character of this connection, waiting for what its name says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CharStage {
    /// Character screen.
    None,
    /// Waiting for the load.
    Loading {
        guid: u64,
        until: Instant,
        outcome: LoadOutcome,
    },
    /// In world.
    InWorld { guid: u64 },
    /// Far-teleport limbo: waiting for MSG_MOVE_WORLDPORT_ACK (or the teleport timeout).
    AwaitWorldportAck {
        guid: u64,
        dest: MapPosition,
        timeout_at: Instant,
    },
}

impl CharStage {
    fn guid(&self) -> Option<u64> {
        match *self {
            Self::None => None,
            Self::Loading { guid, .. }
            | Self::InWorld { guid }
            | Self::AwaitWorldportAck { guid, .. } => Some(guid),
        }
    }

    /// AzerothCore's `GetPlayer() != nullptr`: the player object exists.
    fn has_player(&self) -> bool {
        matches!(self, Self::InWorld { .. } | Self::AwaitWorldportAck { .. })
    }
}

/// A redirect of the player, solicited (PREPARE) or not (map reassignment).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Redirect {
    None,
    /// Waiting for the save, then READY status 0.
    Saving {
        until: Instant,
        unsolicited: bool,
    },
    /// READY sent; waiting for the kick. Its clock stops in limbo (`at` None, `left` kept).
    AwaitKick {
        at: Option<Instant>,
        left: Duration,
    },
}

/// A map reassignment in progress for this connection's player.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reassign {
    map: u32,
    second_at: Option<Instant>,
    redirect_at: Instant,
}

/// Why the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The fake kicked the session; its player is already gone.
    Kicked,
    /// The fake closed the socket without a kick; an in-world player lingers.
    Closed,
    /// The gateway closed the socket or it failed; an in-world player lingers.
    PeerGone,
    /// Closed from outside (crash, shutdown, newer login); the killer handled the player.
    Killed,
}

/// Why a write did not happen.
enum Gone {
    Peer,
    Killed,
}

pub(super) struct Conn {
    ws: FakeWorldserver,
    id: ConnId,
    stream: TcpStream,
    commands: mpsc::Receiver<Command>,
    kill: watch::Receiver<bool>,
    timing: FakeTiming,
    echo: Option<Opcode>,
    dec: ClientHeaderDecoder,
    enc: ServerHeaderEncoder,
    /// Encoded packets not yet written; written (and flushed) once per turn.
    out: BytesMut,
    auth: AuthStage,
    ch: CharStage,
    /// The quirk: bytes read together with the auth session wait for the next read.
    hold_until_more: bool,
    /// Client packets for the world loop: (when it handles them, packet). Bounded by
    /// [`WORLD_QUEUE_MAX_PACKETS`]; reading pauses while full.
    world_queue: VecDeque<(Instant, Packet)>,
    /// Next SMSG_TIME_SYNC_REQ: when, and its counter.
    time_sync: Option<(Instant, u32)>,
    logout_at: Option<Instant>,
    redirect: Redirect,
    reassign: Option<Reassign>,
    idle_at: Option<Instant>,
    last_ping: Option<Instant>,
    fast_pings: u32,
    end: Option<End>,
}

impl Conn {
    pub(super) fn new(
        ws: FakeWorldserver,
        id: ConnId,
        stream: TcpStream,
        commands: mpsc::Receiver<Command>,
        kill: watch::Receiver<bool>,
    ) -> Self {
        Self {
            timing: ws.inner.timing,
            echo: ws.inner.echo,
            ws,
            id,
            stream,
            commands,
            kill,
            dec: ClientHeaderDecoder::for_gateway(),
            enc: ServerHeaderEncoder::plain(),
            out: BytesMut::new(),
            auth: AuthStage::ExpectAuthSession,
            ch: CharStage::None,
            hold_until_more: false,
            world_queue: VecDeque::new(),
            time_sync: None,
            logout_at: None,
            redirect: Redirect::None,
            reassign: None,
            idle_at: None,
            last_ping: None,
            fast_pings: 0,
            end: None,
        }
    }

    /// Challenges, serves the connection until it ends, then settles its player.
    pub(super) async fn run(mut self, server_seed: u32, seed_bytes: [u8; 32]) {
        let mut challenge = BytesMut::new();
        AuthChallenge {
            server_seed,
            seed_bytes,
        }
        .encode(&mut challenge);
        self.send(Opcode::SMSG_AUTH_CHALLENGE, &challenge);
        let end = self.serve().await;
        self.finish(end);
    }

    async fn serve(&mut self) -> End {
        loop {
            let flushed = self.flush().await;
            if let Some(end) = self.end.take() {
                return match flushed {
                    Err(Gone::Killed) => End::Killed,
                    _ => end,
                };
            }
            match flushed {
                Err(Gone::Killed) => return End::Killed,
                Err(Gone::Peer) => return End::PeerGone,
                Ok(()) => {}
            }
            if *self.kill.borrow_and_update() {
                return End::Killed;
            }
            let deadline = self.next_deadline();
            let reading = self.reading();
            if reading {
                self.dec.buffer_mut().reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                biased;
                _ = self.kill.changed() => return End::Killed,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_commands(cmd),
                    None => return End::Killed,
                },
                () = sleep_until(deadline) => self.on_timers(Instant::now()),
                read = self.stream.read_buf(self.dec.buffer_mut()), if reading => match read {
                    Ok(0) | Err(_) => return End::PeerGone,
                    Ok(_) => {
                        self.hold_until_more = false;
                        self.process(Instant::now());
                    }
                },
            }
        }
    }

    /// Writes what is pending, after the latency knob's delay. A kill interrupts.
    async fn flush(&mut self) -> Result<(), Gone> {
        if self.out.is_empty() {
            return Ok(());
        }
        let latency_ms = self.ws.inner.knobs.latency_ms.load(Ordering::Relaxed);
        let kill = &mut self.kill;
        if latency_ms > 0 {
            tokio::select! {
                biased;
                _ = kill.changed() => return Err(Gone::Killed),
                () = tokio::time::sleep(ms(latency_ms)) => {}
            }
        }
        let bytes = self.out.split();
        let stream = &mut self.stream;
        tokio::select! {
            biased;
            _ = kill.changed() => Err(Gone::Killed),
            written = async {
                stream.write_all(&bytes).await?;
                stream.flush().await
            } => written.map_err(|_| Gone::Peer),
        }
    }

    /// Settles the player and the shared rows once the socket is done with.
    fn finish(self, end: End) {
        let now = Instant::now();
        let ws = self.ws.clone();
        let mut linger = None;
        {
            let mut w = ws.world();
            if !w.is_killed(self.id) {
                match end {
                    End::Closed | End::PeerGone => {
                        linger =
                            w.release_session_player(self.id, true, now, self.timing.linger_ms);
                    }
                    End::Kicked | End::Killed => {}
                }
                if end == End::PeerGone {
                    w.event(Some(self.id), None, WorldEventKind::PeerClosed);
                }
            }
            if let Some(account) = w.sessions.get(&self.id).and_then(|s| s.account.clone())
                && w.online.get(&account) == Some(&self.id)
            {
                w.online.remove(&account);
            }
            w.sessions.remove(&self.id);
        }
        if let Some(t) = linger {
            ws.spawn_linger(t);
        }
        // The stream drops here: the socket closes.
    }

    /// The world lock, unless this connection was killed (then it must touch nothing).
    fn live<'a>(&mut self, ws: &'a FakeWorldserver) -> Option<MutexGuard<'a, World>> {
        let w = ws.world();
        if w.is_killed(self.id) {
            self.end = Some(End::Killed);
            return None;
        }
        Some(w)
    }

    fn event(&mut self, guid: Option<u64>, kind: WorldEventKind) {
        let ws = self.ws.clone();
        let mut w = ws.world();
        w.event(Some(self.id), guid, kind);
    }

    fn reading(&self) -> bool {
        self.end.is_none()
            && !matches!(self.auth, AuthStage::AccountLookup { .. })
            && self.world_queue.len() < WORLD_QUEUE_MAX_PACKETS
    }

    fn next_deadline(&self) -> Option<Instant> {
        let lookup = match self.auth {
            AuthStage::AccountLookup { until, .. } => Some(until),
            _ => None,
        };
        let character = match self.ch {
            CharStage::Loading { until, .. } => Some(until),
            CharStage::AwaitWorldportAck { timeout_at, .. } => Some(timeout_at),
            _ => None,
        };
        let redirect = match self.redirect {
            Redirect::Saving { until, .. } => Some(until),
            Redirect::AwaitKick { at, .. } => at,
            Redirect::None => None,
        };
        [
            lookup,
            character,
            self.logout_at,
            self.time_sync.map(|(at, _)| at),
            redirect,
            self.reassign.and_then(|r| r.second_at),
            self.reassign.map(|r| r.redirect_at),
            self.idle_at,
            self.world_queue.front().map(|(at, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn world_update(&self) -> Duration {
        ms(self.ws.inner.knobs.world_update_ms.load(Ordering::Relaxed))
    }

    fn unix_time(&self) -> u32 {
        let secs = self.ws.inner.start.elapsed().as_secs();
        EPOCH_UNIX_SECONDS.saturating_add(u32::try_from(secs).unwrap_or(u32::MAX))
    }

    fn game_ms(&self) -> u32 {
        // Wraps like the client's own millisecond clock.
        self.ws.inner.start.elapsed().as_millis() as u32
    }

    // ----- output -----

    fn send(&mut self, opcode: Opcode, body: &[u8]) {
        // Bodies the fake builds or echoes always fit a server header (client bodies are below
        // 10 KiB, pushes are the caller's); an oversized push is dropped rather than framed.
        let _ = self.enc.encode(opcode, body, &mut self.out);
    }

    fn send_packet<P: WirePacket>(&mut self, p: &P) {
        self.send(P::OPCODE, &p.to_body());
    }

    fn send_all(&mut self, packets: Vec<(Opcode, Bytes)>) {
        for (opcode, body) in packets {
            self.send(opcode, &body);
        }
    }

    // ----- closing -----

    /// Closes the socket after what is pending, without a kick: an in-world player lingers.
    fn close(&mut self, reason: CloseReason) {
        if self.end.is_none() {
            self.end = Some(End::Closed);
            self.event(self.ch.guid(), WorldEventKind::Closed { reason });
        }
    }

    /// Kicks the session: its player is saved and removed now, the socket closes after what is
    /// pending.
    fn kick(&mut self, reason: KickReason) {
        if self.end.is_some() {
            return;
        }
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let guid = self.ch.guid();
        if let Some(g) = guid
            && w.players.get(&g).is_some_and(|r| r.conn == Some(self.id))
        {
            let saved = !matches!(self.ch, CharStage::Loading { .. });
            w.remove_player(g, saved);
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.guid = None;
            s.loading = false;
            s.release_at = None;
        }
        w.event(Some(self.id), guid, WorldEventKind::Kicked { reason });
        drop(w);
        self.leave_world();
        self.end = Some(End::Kicked);
    }

    /// Forgets everything that belongs to a player.
    fn leave_world(&mut self) {
        self.ch = CharStage::None;
        self.time_sync = None;
        self.logout_at = None;
        self.redirect = Redirect::None;
        self.reassign = None;
    }

    // ----- commands -----

    fn on_commands(&mut self, first: Command) {
        self.on_command(first);
        for _ in 1..COMMANDS_PER_TURN_MAX {
            match self.commands.try_recv() {
                Ok(cmd) => self.on_command(cmd),
                Err(_) => break,
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        if self.end.is_some() {
            return;
        }
        match cmd {
            Command::Push { guid, opcode, body } => {
                if self.ch.has_player() && self.ch.guid() == Some(guid) {
                    self.send(opcode, &body);
                }
            }
            Command::Reassign { guid, map } => self.on_reassign(guid, map, Instant::now()),
        }
    }

    // ----- timers -----

    fn on_timers(&mut self, now: Instant) {
        if let AuthStage::AccountLookup { until, .. } = self.auth
            && until <= now
        {
            self.complete_lookup(now);
        }
        match self.ch {
            CharStage::Loading { until, .. } if until <= now => self.finish_load(now),
            CharStage::AwaitWorldportAck { timeout_at, .. } if timeout_at <= now => {
                self.arrive(now, true);
            }
            _ => {}
        }
        if self.end.is_some() {
            return;
        }
        if self.logout_at.is_some_and(|at| at <= now) {
            self.complete_logout();
        }
        if let Some((at, counter)) = self.time_sync
            && at <= now
        {
            self.send_packet(&TimeSyncReq { counter });
            self.time_sync = Some((now + ms(self.timing.time_sync_every_ms), counter + 1));
        }
        match self.redirect {
            Redirect::Saving { until, .. } if until <= now => self.ready(now),
            Redirect::AwaitKick { at: Some(at), .. } if at <= now => {
                self.kick(KickReason::Redirect);
                return;
            }
            _ => {}
        }
        if let Some(r) = self.reassign {
            if r.second_at.is_some_and(|at| at <= now) {
                self.send(
                    Opcode::SMSG_MESSAGECHAT,
                    &packets::system_message(&format!(
                        "This map is moving to another server: you will be transferred in {} seconds.",
                        r.redirect_at.saturating_duration_since(now).as_secs()
                    )),
                );
                self.event(
                    self.ch.guid(),
                    WorldEventKind::ReassignWarning {
                        map: r.map,
                        second: true,
                    },
                );
                self.reassign = Some(Reassign {
                    second_at: None,
                    ..r
                });
            }
            if r.redirect_at <= now {
                self.reassign = None;
                if self.redirect == Redirect::None {
                    self.start_save(now, true);
                }
            }
        }
        if self.idle_at.is_some_and(|at| at <= now) {
            self.idle_at = None;
            self.close(CloseReason::IdleTimeout);
            return;
        }
        self.process(now);
    }

    // ----- input -----

    /// Runs the world on what is due, and decodes and dispatches buffered packets, until the
    /// buffer runs dry or reading has to stop.
    fn process(&mut self, now: Instant) {
        loop {
            self.run_world(now);
            if self.end.is_some()
                || self.hold_until_more
                || matches!(self.auth, AuthStage::AccountLookup { .. })
                || self.world_queue.len() >= WORLD_QUEUE_MAX_PACKETS
            {
                return;
            }
            match self.dec.decode() {
                Ok(Decoded::Packet(p)) => self.on_packet(p, now),
                Ok(Decoded::NeedMore(_)) => return,
                Err(e) => {
                    self.close(match e {
                        FrameError::ClientSize { size, .. } => CloseReason::BadSize(size),
                        FrameError::ClientOpcode { opcode, .. } => CloseReason::BadOpcode(opcode),
                        _ => CloseReason::BadFrame,
                    });
                    return;
                }
            }
        }
    }

    /// The network thread's share: handshake, ping and keep-alive at once; the rest queued
    /// for the world loop.
    fn on_packet(&mut self, p: Packet, now: Instant) {
        match p.opcode {
            Opcode::CMSG_PING => self.on_ping(&p.body, now),
            Opcode::CMSG_AUTH_SESSION => match self.auth {
                AuthStage::ExpectAuthSession => self.on_auth_session(p.body, now),
                _ => self.close(CloseReason::SecondAuthSession),
            },
            opcode if self.auth == AuthStage::ExpectAuthSession => {
                self.close(CloseReason::NotAuthenticated(opcode));
            }
            Opcode::CMSG_KEEP_ALIVE => {
                // Resets the idle timer only with a player, as AzerothCore does.
                if self.ch.has_player() {
                    self.idle_at = Some(now + ms(self.timing.idle_in_world_ms));
                }
            }
            opcode => {
                if opcode != Opcode::CMSG_WARDEN_DATA {
                    self.reset_idle(now);
                }
                let mut due = now + self.world_update();
                if let Some((last, _)) = self.world_queue.back() {
                    due = due.max(*last);
                }
                self.world_queue.push_back((due, p));
            }
        }
    }

    fn reset_idle(&mut self, now: Instant) {
        let idle_ms = if self.ch.has_player() {
            self.timing.idle_in_world_ms
        } else {
            self.timing.idle_char_screen_ms
        };
        self.idle_at = Some(now + ms(idle_ms));
    }

    fn on_ping(&mut self, body: &[u8], now: Instant) {
        let Ok(ping) = Ping::decode(body) else {
            return self.close(CloseReason::MalformedPing);
        };
        if let Some(last) = self.last_ping {
            if now.saturating_duration_since(last) < ms(self.timing.ping_min_interval_ms) {
                self.fast_pings += 1;
                if self.fast_pings > OVERSPEED_PINGS_MAX {
                    self.last_ping = Some(now);
                    return self.close(CloseReason::PingOverspeed);
                }
            } else {
                self.fast_pings = 0;
            }
        }
        self.last_ping = Some(now);
        if !matches!(self.auth, AuthStage::Authed { .. }) {
            return self.close(CloseReason::NotAuthenticated(Opcode::CMSG_PING));
        }
        self.send_packet(&Pong { seq: ping.seq });
    }

    fn on_auth_session(&mut self, body: Bytes, now: Instant) {
        let Ok(session) = AuthSession::decode(body) else {
            return self.close(CloseReason::MalformedAuthSession);
        };
        if session.addon_block.is_empty() {
            return self.close(CloseReason::EmptyAddonBlob);
        }
        let account = session.account.to_ascii_uppercase();
        self.event(
            None,
            WorldEventKind::LookupStarted {
                account: account.clone(),
            },
        );
        self.auth = AuthStage::AccountLookup {
            account,
            until: now + ms(self.timing.account_lookup_ms),
        };
    }

    fn complete_lookup(&mut self, now: Instant) {
        let AuthStage::AccountLookup { account, .. } =
            std::mem::replace(&mut self.auth, AuthStage::ExpectAuthSession)
        else {
            return;
        };
        let refuse = self.ws.inner.knobs.refuse_logins.load(Ordering::Relaxed);
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let refusal = if !w.accounts.contains(&account) {
            Some((AuthResult::UNKNOWN_ACCOUNT, CloseReason::UnknownAccount))
        } else if refuse {
            Some((AuthResult::REJECT, CloseReason::WorldClosed))
        } else {
            None
        };
        if let Some((code, reason)) = refusal {
            w.event(
                Some(self.id),
                None,
                WorldEventKind::AuthRefused { code: code.0 },
            );
            drop(w);
            let mut b = BytesMut::new();
            AuthResponse::Failed(code).encode(&mut b);
            self.send(Opcode::SMSG_AUTH_RESPONSE, &b);
            return self.close(reason);
        }
        let mut linger = None;
        if let Some(old) = w.online.get(&account).copied().filter(|c| *c != self.id) {
            if w.sessions.get(&old).is_some_and(|s| s.loading) {
                drop(w);
                return self.close(CloseReason::AccountBusyLoading);
            }
            // The older socket closes without a kick: its in-world player becomes the
            // account's offline session.
            linger = w.release_session_player(old, true, now, self.timing.linger_ms);
            w.kill(old);
            w.event(Some(old), None, WorldEventKind::TakenOver { by: self.id });
        }
        w.online.insert(account.clone(), self.id);
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.account = Some(account.clone());
        }
        w.event(
            Some(self.id),
            None,
            WorldEventKind::Authenticated {
                account: account.clone(),
            },
        );
        let held = self.dec.buffered();
        if held > 0 {
            w.event(
                Some(self.id),
                None,
                WorldEventKind::HeldUntilMoreBytes { bytes: held },
            );
        }
        drop(w);
        if let Some(t) = linger {
            self.ws.spawn_linger(t);
        }
        self.auth = AuthStage::Authed { account };
        self.hold_until_more = held > 0;
        self.reset_idle(now);
    }

    // ----- the world loop -----

    fn run_world(&mut self, now: Instant) {
        while self.end.is_none() {
            match self.world_queue.front() {
                Some((due, _)) if *due <= now => {}
                _ => return,
            }
            if let Some((_, p)) = self.world_queue.pop_front() {
                self.handle_world(p, now);
            }
        }
    }

    fn handle_world(&mut self, p: Packet, now: Instant) {
        match p.opcode {
            Opcode::CMSG_PLAYER_LOGIN => return self.on_player_login(&p, now),
            Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT => return self.on_prepare(&p, now),
            _ => {}
        }
        match self.ch {
            CharStage::InWorld { guid } => self.in_world(guid, p, now),
            CharStage::AwaitWorldportAck { guid, .. } => {
                if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
                    self.log(guid, &p);
                    self.arrive(now, false);
                } else if is_logged_in_opcode(p.opcode) {
                    self.event(Some(guid), WorldEventKind::Dropped { opcode: p.opcode });
                }
            }
            CharStage::Loading { guid, .. } => {
                if is_logged_in_opcode(p.opcode) {
                    self.event(Some(guid), WorldEventKind::Dropped { opcode: p.opcode });
                }
            }
            // Character-screen opcodes: the characters service answers them in cluster mode.
            CharStage::None => {}
        }
    }

    fn log(&mut self, guid: u64, p: &Packet) {
        let ws = self.ws.clone();
        if let Some(mut w) = self.live(&ws) {
            w.log_received(guid, p.opcode, &p.body);
        }
    }

    fn in_world(&mut self, guid: u64, p: Packet, now: Instant) {
        if self.echo == Some(p.opcode) {
            // The benchmark's hot path: no lock, no log.
            self.send(p.opcode, &p.body);
            return;
        }
        self.log(guid, &p);
        match p.opcode {
            Opcode::CMSG_MESSAGECHAT => {
                if let Some(dest) = packets::parse_tele(&p.body) {
                    self.teleport(guid, dest, now);
                }
            }
            Opcode::CMSG_LOGOUT_REQUEST => self.on_logout_request(now),
            Opcode::CMSG_LOGOUT_CANCEL if self.logout_at.is_some() => {
                self.logout_at = None;
                self.send(Opcode::SMSG_LOGOUT_CANCEL_ACK, &[]);
            }
            Opcode::CMSG_TEXT_EMOTE
                if packets::emote_id(&p.body) == Some(TEXT_EMOTE_READY)
                    && self.reassign.is_some()
                    && self.redirect == Redirect::None =>
            {
                self.reassign = None;
                self.start_save(now, true);
            }
            _ => {}
        }
    }

    fn on_player_login(&mut self, p: &Packet, now: Instant) {
        // A body too short for a guid is skipped, as the world loop skips a packet whose
        // handler runs off its end.
        let Ok(PlayerLogin { guid }) = PlayerLogin::decode(&p.body) else {
            return;
        };
        let AuthStage::Authed { account } = &self.auth else {
            return;
        };
        let account = account.clone();
        if self.ch != CharStage::None {
            // "Player tries to login again": kicked.
            return self.kick(KickReason::SecondLogin);
        }
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        w.log_received(guid, p.opcode, &p.body);
        if w.players
            .get(&guid)
            .is_some_and(|r| r.presence == Presence::Lingering && r.account != account)
        {
            // Offline session of this character under another account.
            let code = LoginFailure::DUPLICATE_CHARACTER;
            w.event(
                Some(self.id),
                Some(guid),
                WorldEventKind::LoginFailed { code: code.0 },
            );
            drop(w);
            return self.send_packet(&CharacterLoginFailed { reason: code });
        }
        if let Some(offline) = w.offline.get(&account).copied() {
            if offline == guid {
                let generation = w.generation();
                let Some(row) = w.players.get_mut(&guid) else {
                    return;
                };
                row.presence = Presence::InWorld;
                row.conn = Some(self.id);
                row.generation = generation;
                let at = row.at;
                w.offline.remove(&account);
                if let Some(s) = w.sessions.get_mut(&self.id) {
                    s.guid = Some(guid);
                }
                w.event(Some(self.id), Some(guid), WorldEventKind::Reattached);
                drop(w);
                self.ch = CharStage::InWorld { guid };
                self.send_login(guid, at, now);
                return;
            }
            // Another character of the account was lingering: that offline session goes.
            w.remove_player(offline, true);
            w.event(None, Some(offline), WorldEventKind::Removed { saved: true });
        }
        let busy = w.players.contains_key(&guid);
        let outcome = match w.characters.get(&guid) {
            _ if busy => LoadOutcome::Busy,
            Some(c) if c.loads => LoadOutcome::Loads,
            _ => LoadOutcome::Fails,
        };
        if !busy && w.characters.contains_key(&guid) {
            let generation = w.generation();
            let at = w.saved_at(guid);
            w.players.insert(
                guid,
                super::world::PlayerRow {
                    presence: Presence::Loading,
                    conn: Some(self.id),
                    account,
                    at,
                    generation,
                },
            );
            if let Some(s) = w.sessions.get_mut(&self.id) {
                s.guid = Some(guid);
            }
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.loading = true;
        }
        w.event(Some(self.id), Some(guid), WorldEventKind::Loading);
        drop(w);
        self.ch = CharStage::Loading {
            guid,
            until: now + ms(self.timing.load_ms) + self.world_update(),
            outcome,
        };
    }

    fn finish_load(&mut self, now: Instant) {
        let CharStage::Loading { guid, outcome, .. } = self.ch else {
            return;
        };
        match outcome {
            LoadOutcome::Fails => return self.kick(KickReason::LoadFailed),
            LoadOutcome::Busy => return self.kick(KickReason::AlreadyOnline),
            LoadOutcome::Loads => {}
        }
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.loading = false;
        }
        let Some(row) = w.players.get_mut(&guid).filter(|r| r.conn == Some(self.id)) else {
            return;
        };
        row.presence = Presence::InWorld;
        let at = row.at;
        w.event(Some(self.id), Some(guid), WorldEventKind::InWorld);
        drop(w);
        self.ch = CharStage::InWorld { guid };
        self.send_login(guid, at, now);
    }

    /// The whole login sequence (PLAYER_LOGIN or re-attach).
    fn send_login(&mut self, guid: u64, at: MapPosition, now: Instant) {
        let motd = format!("Welcome to {}.", self.ws.inner.id);
        self.send_all(packets::login_prelude(at, self.unix_time(), &motd));
        self.send_map_entry(guid, at, now);
    }

    /// The map part: pre-map set, self-create, TIME_SYNC_REQ 0 (in world), world states.
    fn send_map_entry(&mut self, guid: u64, at: MapPosition, now: Instant) {
        self.send_all(packets::map_entry(
            guid,
            at,
            self.unix_time(),
            self.game_ms(),
        ));
        self.send_packet(&TimeSyncReq { counter: 0 });
        self.time_sync = Some((now + ms(self.timing.time_sync_first_ms), 1));
        self.send_packet(&packets::init_world_states(at));
    }

    fn teleport(&mut self, guid: u64, dest: MapPosition, now: Instant) {
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let Some(row) = w.players.get_mut(&guid).filter(|r| r.conn == Some(self.id)) else {
            return;
        };
        row.presence = Presence::Limbo;
        if let Redirect::AwaitKick { at: Some(at), .. } = self.redirect {
            // The kick is a player event: its clock stops while the player is off the map.
            self.redirect = Redirect::AwaitKick {
                at: None,
                left: at.saturating_duration_since(now),
            };
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.release_at = None;
        }
        w.event(
            Some(self.id),
            Some(guid),
            WorldEventKind::Teleporting { map: dest.map },
        );
        drop(w);
        self.send_packet(&TransferPending {
            map: dest.map,
            transport: None,
        });
        self.send_packet(&NewWorld(dest));
        self.ch = CharStage::AwaitWorldportAck {
            guid,
            dest,
            timeout_at: now + ms(self.timing.teleport_timeout_far_ms),
        };
        self.time_sync = None;
        if self.reassign.is_some_and(|r| r.map != dest.map) {
            self.reassign = None;
        }
    }

    /// MSG_MOVE_WORLDPORT_ACK (or the far-teleport timeout): the destination map is created
    /// here, whoever owns it, and the player enters it.
    fn arrive(&mut self, now: Instant, timed_out: bool) {
        let CharStage::AwaitWorldportAck { guid, dest, .. } = self.ch else {
            return;
        };
        if let Redirect::AwaitKick { at: None, left } = self.redirect {
            self.redirect = Redirect::AwaitKick {
                at: Some(now + left),
                left,
            };
        }
        let release_at = self.release_at();
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let Some(row) = w.players.get_mut(&guid).filter(|r| r.conn == Some(self.id)) else {
            return;
        };
        row.presence = Presence::InWorld;
        row.at = dest;
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.release_at = release_at;
        }
        w.event(
            Some(self.id),
            Some(guid),
            WorldEventKind::Arrived {
                map: dest.map,
                timed_out,
            },
        );
        drop(w);
        self.ch = CharStage::InWorld { guid };
        self.send_map_entry(guid, dest, now);
    }

    /// When a pending redirect will remove the player (bounds a linger).
    fn release_at(&self) -> Option<Instant> {
        match self.redirect {
            Redirect::Saving { until, .. } => {
                Some(until + ms(self.timing.kick_after_ready_ms) + self.world_update())
            }
            Redirect::AwaitKick { at, .. } => at,
            Redirect::None => None,
        }
    }

    fn on_prepare(&mut self, p: &Packet, now: Instant) {
        if self.ws.inner.knobs.ignore_prepare.load(Ordering::Relaxed) {
            return self.event(self.ch.guid(), WorldEventKind::PrepareIgnored);
        }
        match self.ch {
            CharStage::InWorld { guid } | CharStage::AwaitWorldportAck { guid, .. } => {
                self.log(guid, p);
                if self.redirect == Redirect::None {
                    self.start_save(now, false);
                }
            }
            CharStage::None | CharStage::Loading { .. } => {
                self.send_packet(&ReadyForRedirect { status: 1 });
                self.event(
                    self.ch.guid(),
                    WorldEventKind::ReadyForRedirect {
                        status: 1,
                        unsolicited: false,
                    },
                );
            }
        }
    }

    fn start_save(&mut self, now: Instant, unsolicited: bool) {
        self.redirect = Redirect::Saving {
            until: now + ms(self.timing.save_ms) + self.world_update(),
            unsolicited,
        };
        let release_at = self.release_at();
        let ws = self.ws.clone();
        if let Some(mut w) = self.live(&ws) {
            if let Some(s) = w.sessions.get_mut(&self.id) {
                s.release_at = release_at;
            }
            w.event(Some(self.id), self.ch.guid(), WorldEventKind::Saving);
        }
    }

    /// The save is done: READY_FOR_REDIRECT 0, then the kick.
    fn ready(&mut self, now: Instant) {
        let Redirect::Saving { unsolicited, .. } = self.redirect else {
            return;
        };
        let left = ms(self.timing.kick_after_ready_ms) + self.world_update();
        let in_limbo = matches!(self.ch, CharStage::AwaitWorldportAck { .. });
        self.redirect = Redirect::AwaitKick {
            at: (!in_limbo).then_some(now + left),
            left,
        };
        let release_at = self.release_at();
        let guid = self.ch.guid();
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if let Some(g) = guid
            && let Some(row) = w.players.get(&g).filter(|r| r.conn == Some(self.id))
        {
            let at = row.at;
            w.store.set(g, at);
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.release_at = release_at;
        }
        w.event(
            Some(self.id),
            guid,
            WorldEventKind::ReadyForRedirect {
                status: 0,
                unsolicited,
            },
        );
        drop(w);
        self.send_packet(&ReadyForRedirect { status: 0 });
    }

    fn on_logout_request(&mut self, now: Instant) {
        if self.logout_at.is_some() {
            return;
        }
        let instant = !self.ws.inner.knobs.slow_logout.load(Ordering::Relaxed);
        self.send_packet(&LogoutResponse { result: 0, instant });
        if instant {
            self.complete_logout();
        } else {
            self.logout_at = Some(now + ms(self.timing.logout_delay_ms));
        }
    }

    fn complete_logout(&mut self) {
        self.logout_at = None;
        let Some(guid) = self.ch.guid() else {
            return;
        };
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if w.players
            .get(&guid)
            .is_some_and(|r| r.conn == Some(self.id))
        {
            w.remove_player(guid, true);
        }
        w.event(Some(self.id), Some(guid), WorldEventKind::LoggedOut);
        drop(w);
        self.send(Opcode::SMSG_LOGOUT_COMPLETE, &[]);
        self.leave_world();
    }

    fn on_reassign(&mut self, guid: u64, map: u32, now: Instant) {
        if self.ch != (CharStage::InWorld { guid }) || self.reassign.is_some() {
            return;
        }
        let on_map = {
            let ws = self.ws.clone();
            let Some(w) = self.live(&ws) else {
                return;
            };
            w.players.get(&guid).is_some_and(|r| r.at.map == map)
        };
        if !on_map {
            return;
        }
        let t = self.timing;
        self.send(
            Opcode::SMSG_MESSAGECHAT,
            &packets::system_message(&format!(
                "This map is moving to another server: you will be transferred in {} seconds. \
                 Type /ready to go now.",
                t.map_reassign_warning_ms / 1_000
            )),
        );
        self.event(
            Some(guid),
            WorldEventKind::ReassignWarning { map, second: false },
        );
        self.reassign = Some(Reassign {
            map,
            second_at: Some(now + ms(t.map_reassign_second_warning_ms)),
            redirect_at: now + ms(t.map_reassign_warning_ms),
        });
    }
}

/// Opcodes the worldserver handles only with a player in world (STATUS_LOGGEDIN and the
/// like). The character-screen ones, the cluster's own and the worldport ack are not.
fn is_logged_in_opcode(opcode: Opcode) -> bool {
    !matches!(
        opcode,
        Opcode::CMSG_CHAR_CREATE
            | Opcode::CMSG_CHAR_ENUM
            | Opcode::CMSG_CHAR_DELETE
            | Opcode::CMSG_PLAYER_LOGIN
            | Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES
            | Opcode::CMSG_REALM_SPLIT
            | Opcode::MSG_MOVE_WORLDPORT_ACK
            | Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT
    )
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
