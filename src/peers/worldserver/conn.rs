//! One gateway connection: a single task that reads, lets the "world" handle what it read,
//! fires its timers and writes. There are no split halves (madsim has none) and every wait
//! is a deadline.
//!
//! Two threads of the real server are modelled. The network thread handles CMSG_PING,
//! CMSG_KEEP_ALIVE and the handshake the moment they are decoded. Everything else goes
//! through a bounded world queue and is handled by the world loop `world_update_ms` later,
//! in arrival order; the player's state at that moment decides whether it is handled or
//! dropped.

mod in_world;
mod login;
mod network;
mod redirect;
mod screen;

use std::collections::VecDeque;
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::packets::{self, EPOCH_UNIX_SECONDS};
use super::world::{Command, ConnId, World};
use super::{
    Bug, CloseReason, FakeTiming, FakeWorldserver, KickReason, WORLD_QUEUE_MAX_PACKETS,
    WorldEventKind,
};
use crate::wire::auth::AuthChallenge;
use crate::wire::packets::{MapPosition, TimeSyncReq, WirePacket};
use crate::wire::{ClientHeaderDecoder, Opcode, Packet, ServerHeaderEncoder};

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
    /// Next health change of the player in world ([`FakeTiming::health_tick_ms`]): when, and
    /// its tick number.
    health_tick: Option<(Instant, u32)>,
    logout_at: Option<Instant>,
    redirect: Redirect,
    reassign: Option<Reassign>,
    idle_at: Option<Instant>,
    last_ping: Option<Instant>,
    fast_pings: u32,
    /// Reading stalls until then ([`Bug::StallRead`]).
    stalled_until: Option<Instant>,
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
            health_tick: None,
            logout_at: None,
            redirect: Redirect::None,
            reassign: None,
            idle_at: None,
            last_ping: None,
            fast_pings: 0,
            stalled_until: None,
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
                        let now = Instant::now();
                        let stall = self.bug(Bug::StallRead);
                        if !stall.is_zero() {
                            self.stalled_until = Some(now + stall);
                        }
                        self.process(now);
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
            && self.stalled_until.is_none()
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
            self.health_tick.map(|(at, _)| at),
            redirect,
            self.reassign.and_then(|r| r.second_at),
            self.reassign.map(|r| r.redirect_at),
            self.idle_at,
            self.world_queue.front().map(|(at, _)| *at),
            self.stalled_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How long seeded misbehaviour `bug` delays this occasion (zero when it spares it).
    pub(super) fn bug(&mut self, bug: Bug) -> Duration {
        let ws = self.ws.clone();
        let id = self.id;
        self.live(&ws)
            .and_then(|mut w| w.bug(Some(id), bug))
            .unwrap_or_default()
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
        self.health_tick = None;
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
        if self.stalled_until.is_some_and(|at| at <= now) {
            self.stalled_until = None;
        }
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
        if let (Some((at, tick)), Some(guid)) = (self.health_tick, self.ch.guid())
            && at <= now
        {
            let health = packets::ticked_health(guid, tick);
            self.send(
                Opcode::SMSG_UPDATE_OBJECT,
                &packets::health_update(guid, health),
            );
            self.health_tick = Some((now + ms(self.timing.health_tick_ms), tick + 1));
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
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
