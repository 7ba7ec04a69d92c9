//! One task per client connection: read, hand to the session, carry out its outputs.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use super::Gateway;
use super::fence::Release;
use super::lent::{Lent, read_lent};
use super::players::{FromEvent, PLAYER_EVENT_QUEUE_MAX};
use crate::cluster::WorldserverId;
use crate::cluster::coordinator::{MoveOrder, PlaceRequest};
use crate::cluster::view::Selection;
use crate::present::{ClusterEvent, EventFate, ServiceAnswer};
use crate::runtime::Clock;
use crate::session::{
    AccountId, AccountRecord, Announcement, CharacterGuid, CharacterRecord, ClaimRefused, LinkId,
    NameRecord, Output, Phase, RequestId, SeamError, Session, SessionEvent, SessionId,
};

/// Seam answers and connection results a session can have in flight; a session never has
/// more than a handful outstanding, name queries included (they are capped at 32).
const SEAM_CHANNEL_CAPACITY: usize = 64;

/// What a session's inbox carries: a seam answer or connection result, routed back to the
/// session task, or a cluster event for its player. Public only because the gateway's
/// [`Players`] table is typed by it.
pub enum Answer {
    Account(RequestId, Result<Option<AccountRecord>, SeamError>),
    Characters(RequestId, Result<Vec<CharacterRecord>, SeamError>),
    Name(CharacterGuid, Result<Option<NameRecord>, SeamError>),
    Connected(LinkId, WorldserverId, io::Result<TcpStream>),
    Service(RequestId, ServiceAnswer),
    Claim(
        RequestId,
        AccountId,
        Result<Vec<(CharacterGuid, WorldserverId, Option<u64>)>, ClaimRefused>,
    ),
    /// A cluster event for the player, delivered for the session's join `.0` (see
    /// `Connection::joined`).
    Event(u64, ClusterEvent),
}

impl FromEvent for Box<Answer> {
    fn from_event(join: u64, event: ClusterEvent) -> Self {
        Box::new(Answer::Event(join, event))
    }
}

/// Characters one session may play that the fence remembers for its release, at most (an
/// account has at most ten on a realm).
const PLAYED_MAX: usize = 64;

struct WorldSocket {
    link: LinkId,
    stream: TcpStream,
}

/// What one connection task owns.
struct Connection<'g> {
    gw: &'g Gateway,
    /// The client's address (the accounts seam checks IP locks against it).
    peer_ip: IpAddr,
    /// The join under which the character in play gets its cluster events (in `rx`), once
    /// it entered the world; events of an earlier join (queued before a logout) are dropped.
    joined: Option<u64>,
    /// Joins so far.
    joins: u64,
    clock: Clock,
    session: Session,
    client: TcpStream,
    /// The buffer of the last read, lent to the session, until its outputs are carried out
    /// (they may write runs of it).
    lent: Option<Lent>,
    worlds: [Option<WorldSocket>; 2],
    tx: mpsc::Sender<Box<Answer>>,
    rx: mpsc::Receiver<Box<Answer>>,
    shutting_down: bool,
    /// The worldserver the player counts against in the cluster view.
    placed_on: Option<WorldserverId>,
    /// Where the fence says the account must be let go (a newer login, a lost lease).
    evictions: Option<oneshot::Receiver<Box<str>>>,
    /// The account this session owns, once its claim was granted.
    claimed: Option<AccountId>,
    /// Characters the session played, for the fence's release.
    played: Vec<CharacterGuid>,
    /// Bumped whenever `placed_on` changes.
    placement_gen: u64,
    /// What the coordinator was last asked for a move order with: (the gateway's moves epoch,
    /// in world, map, placement generation). Asked again only when one of them changed.
    move_check: Option<(u64, bool, Option<u32>, u64)>,
    /// The session's next deadline, kept across waits: re-armed only when the deadline moves
    /// earlier (a later one is reached by waking early and finding nothing due).
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// When `sleep` fires, if armed.
    sleep_at: Option<tokio::time::Instant>,
}

/// Serves one client connection until its session closes.
pub(super) async fn run_connection(
    gw: &Gateway,
    id: SessionId,
    client: TcpStream,
    peer_ip: IpAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Option<Release> {
    // Answers are boxed: the channel's first block of slots is allocated with it, for every
    // session, and boxes keep that block small. The player's events share it, with room of
    // their own beyond the answers'.
    let (tx, rx) = mpsc::channel::<Box<Answer>>(SEAM_CHANNEL_CAPACITY + PLAYER_EVENT_QUEUE_MAX);
    let mut c = Connection {
        gw,
        peer_ip,
        joined: None,
        joins: 0,
        clock: gw.seams.clock,
        session: gw.new_session(id),
        client,
        lent: None,
        worlds: [None, None],
        tx,
        rx,
        shutting_down: false,
        placed_on: None,
        evictions: Some(gw.fence.register(id)),
        claimed: None,
        played: Vec::new(),
        placement_gen: 0,
        move_check: None,
        sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
        sleep_at: None,
    };
    gw.metrics.sessions.fetch_add(1, Ordering::Relaxed);
    loop {
        let client_closed = c.carry_out().await;
        c.track_placement(client_closed);
        c.track_played();
        if client_closed {
            break;
        }
        if c.apply_move_order() {
            continue;
        }
        c.wait(&mut shutdown).await;
    }
    if let Some(guid) = c.session.character() {
        gw.players.leave(guid, c.session.id());
    }
    #[cfg(feature = "canaries")]
    if gw.cfg.session.canary == Some(crate::session::Canary::LeakWorldLinks) {
        std::mem::forget(std::mem::take(&mut c.worlds));
    }
    // Boxed: its read scratch lives on the heap only while the connection closes.
    Box::pin(close_client(&mut c.client)).await;
    gw.fence.unregister(id);
    c.claimed.map(|account| Release {
        account,
        session: id,
        played: c.played,
    })
}

impl Connection<'_> {
    /// Carries out everything the session asked for, in order. True once the session closed
    /// the client.
    async fn carry_out(&mut self) -> bool {
        let mut client_closed = false;
        // Dropped (back to the pool) once everything it was lent for is written.
        let lent = self.lent.take();
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Client(bytes) => self.write_client(&bytes).await,
                Output::ClientRun(range) => match lent.as_ref().and_then(|l| l.data().get(range)) {
                    Some(run) => self.write_client(run).await,
                    None => tracing::error!("a client run outside the lent read buffer: dropped"),
                },
                Output::WorldRun { link, range } => {
                    match lent.as_ref().and_then(|l| l.data().get(range)) {
                        Some(run) => self.write_world(link, run).await,
                        None => {
                            tracing::error!(
                                "a worldserver run outside the lent read buffer: dropped"
                            )
                        }
                    }
                }
                Output::World { link, bytes } => self.write_world(link, &bytes).await,
                Output::Place {
                    request,
                    guid,
                    map,
                    exclude,
                    avoid,
                    prefer,
                } => {
                    let req = PlaceRequest {
                        session: self.session.id(),
                        guid,
                        map,
                        exclude,
                        avoid,
                        prefer,
                    };
                    self.place(request, req);
                }
                Output::CloseWorld { link } => {
                    #[cfg(feature = "canaries")]
                    if self.gw.cfg.session.canary == Some(crate::session::Canary::LeakWorldLinks)
                        && self.session.phase() == Phase::Closed
                    {
                        continue;
                    }
                    close_world(&mut self.worlds, link)
                }
                Output::CloseClient { reason } => {
                    tracing::info!(?reason, culprit = ?reason.culprit(), "session closed");
                    client_closed = true;
                }
                Output::Announce(a) => self.announce(a),
                Output::Event(e) => {
                    let id = self.session.id();
                    self.note_hold(&e);
                    if let Some(observe) = &self.gw.observer {
                        observe(id, &e);
                    }
                    let guid = self.session.character();
                    self.gw
                        .coordinate(|c, now| c.handle_session_event(now, id, guid, &e));
                    self.gw.metrics.record(&e);
                }
                other => self.spawn_call(other),
            }
        }
        self.gw.metrics.absorb(self.session.take_counters());
        client_closed
    }

    async fn write_client(&mut self, bytes: &[u8]) {
        let timeout_ms = self.gw.cfg.write_timeout_ms;
        if write_with_deadline(&mut self.client, bytes, timeout_ms)
            .await
            .is_err()
        {
            self.session.handle_client_closed(self.clock.now());
        }
    }

    async fn write_world(&mut self, link: LinkId, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(w) = self.worlds.iter_mut().flatten().find(|w| w.link == link) else {
            return;
        };
        if write_with_deadline(&mut w.stream, bytes, self.gw.cfg.write_timeout_ms)
            .await
            .is_err()
        {
            close_world(&mut self.worlds, link);
            self.session.handle_world_closed(self.clock.now(), link);
        }
    }

    /// A character entered or left the world, or its state changed: the cluster's bus hears
    /// it, and its events are delivered to this session while it is in the world.
    fn announce(&mut self, a: Announcement) {
        let id = self.session.id();
        match &a {
            Announcement::LoggedIn { character, .. } => {
                self.joins += 1;
                self.joined = Some(self.joins);
                let inbox = self.tx.clone();
                (self.gw.players).join_inbox(character.guid, id, self.joins, inbox);
            }
            Announcement::LoggedOut { guid, .. } => {
                self.gw.players.leave(*guid, id);
                self.joined = None;
            }
            Announcement::CharacterUpdated(_) | Announcement::ChannelMembership { .. } => {}
        }
        self.gw.seams.events.publish(a);
    }

    /// Asks the coordinator and answers the session at once.
    fn place(&mut self, request: RequestId, req: PlaceRequest) {
        let (selection, class) = self.gw.coordinate(|c, now| c.place(now, req));
        self.gw.count_placement(class);
        let answer = match selection {
            Selection::Place(server) => Ok(Some(server)),
            Selection::Refuse(_) => Ok(None),
            Selection::Wait(reason) => Err(SeamError {
                service: "placement",
                detail: reason.into(),
                retryable: true,
            }),
        };
        self.session
            .handle_placement(self.clock.now(), request, answer);
    }

    /// Seam calls and connection attempts run as tasks of their own and answer on the
    /// session's channel.
    fn spawn_call(&self, out: Output) {
        let tx = self.tx.clone();
        let seams = &self.gw.seams;
        match out {
            Output::LookupAccount { request, name } => {
                let accounts = seams.accounts.clone();
                let ip = self.peer_ip;
                tokio::spawn(async move {
                    let r = accounts.lookup(&name, ip).await;
                    let _ = tx.send(Box::new(Answer::Account(request, r))).await;
                });
            }
            Output::ListCharacters { request, account } => {
                let characters = seams.characters.clone();
                tokio::spawn(async move {
                    let r = characters.list(account).await;
                    let _ = tx.send(Box::new(Answer::Characters(request, r))).await;
                });
            }
            Output::QueryName { guid } => {
                let characters = seams.characters.clone();
                tokio::spawn(async move {
                    let r = characters.name(guid).await;
                    let _ = tx.send(Box::new(Answer::Name(guid, r))).await;
                });
            }
            Output::ClaimAccount { request, account } => {
                let Some(gw) = self.gw.me.upgrade() else {
                    return;
                };
                let id = self.session.id();
                let bound = Duration::from_millis(self.gw.cfg.session.account_claim_timeout_ms);
                tokio::spawn(async move {
                    let r = match tokio::time::timeout(bound, gw.fence.claim(account, id)).await {
                        Ok(r) => r,
                        Err(_) => Err(ClaimRefused::StillOnline(format!(
                            "the account's other session did not let go within {} ms",
                            bound.as_millis()
                        ))),
                    };
                    let _ = tx.send(Box::new(Answer::Claim(request, account, r))).await;
                });
            }
            Output::Connect { link, worldserver } => {
                let net = seams.net.clone();
                let who = crate::runtime::ConnectFor::Session(self.session.id().0);
                tokio::spawn(async move {
                    let r = net.connect(&worldserver.address, who).await;
                    let _ = tx
                        .send(Box::new(Answer::Connected(link, worldserver.id, r)))
                        .await;
                });
            }
            Output::CallService { request, call } => {
                let services = seams.services.clone();
                let bound_ms = self.gw.cfg.session.present_call_timeout_ms;
                tokio::spawn(async move {
                    let service = call.service();
                    let asked = call.clone();
                    let answer = match tokio::time::timeout(
                        Duration::from_millis(bound_ms),
                        services.call(call),
                    )
                    .await
                    {
                        Ok(answer) => answer,
                        Err(_) => asked.failed(format!(
                            "the {service} service did not answer within {bound_ms} ms"
                        )),
                    };
                    if let Some(detail) = answer.failure() {
                        tracing::warn!(service, %detail, "a presentation call failed; the client was told");
                    }
                    let _ = tx.send(Box::new(Answer::Service(request, answer))).await;
                });
            }
            other => tracing::error!(output = ?other, "not a seam call"),
        }
    }

    /// A PLAYER_LOGIN sent: the account's fencing record learns where (in the background;
    /// see `Fence::note_hold`).
    fn note_hold(&self, e: &SessionEvent) {
        let (SessionEvent::LoginSent { worldserver }, Some(account), Some(guid)) =
            (e, self.claimed, self.session.character())
        else {
            return;
        };
        let Some(gw) = self.gw.me.upgrade() else {
            return;
        };
        let (id, worldserver) = (self.session.id(), worldserver.clone());
        tokio::spawn(async move {
            gw.fence.note_hold(account, id, guid, worldserver).await;
        });
    }

    /// Remembers the character the session plays, for the fence's release.
    fn track_played(&mut self) {
        if let Some(guid) = self.session.character()
            && !self.played.contains(&guid)
            && self.played.len() < PLAYED_MAX
        {
            self.played.push(guid);
        }
    }

    /// Keeps the player's count in the cluster view on the worldserver it is on.
    fn track_placement(&mut self, client_closed: bool) {
        let now_on = self.session.worldserver().map(|w| &w.id);
        let now_on = if client_closed { None } else { now_on };
        if now_on != self.placed_on.as_ref() {
            let now_on = now_on.cloned();
            self.placement_gen += 1;
            let from = self.placed_on.take();
            self.gw
                .coordinate(|c, _| c.handle_player_moved(from.as_ref(), now_on.as_ref()));
            self.placed_on = now_on;
        }
    }

    /// Moves the player off its worldserver when the coordinator says so (a drain, a layer
    /// switch). True when the session has something to carry out.
    fn apply_move_order(&mut self) -> bool {
        let s = &self.session;
        let (guid, in_world, map) = (s.character(), s.phase() == Phase::InWorld, s.map());
        // Read before asking: a wake after this is seen at the next check.
        let epoch = self.gw.moves_epoch.load(Ordering::Acquire);
        let check = (epoch, in_world, map, self.placement_gen);
        if self.move_check == Some(check) {
            return false;
        }
        self.move_check = Some(check);
        // `placed_on` is the worldserver the session is on (`track_placement` ran just before).
        let on = self.placed_on.as_ref();
        let order = self
            .gw
            .coordinate(|c, now| c.move_for(now, guid, on, in_world, map));
        let now = self.clock.now();
        match order {
            Some(MoveOrder::Drain(from)) => {
                self.session.handle_drain(now, &from);
                self.session.has_output()
            }
            Some(MoveOrder::LayerSwitch(target)) => self.session.handle_layer_switch(now, target),
            None => false,
        }
    }

    /// Waits for the next thing to happen and hands it to the session.
    async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) {
        let clock = self.clock;
        let deadline = self.session.poll_timeout().map(|at| clock.instant_at(at));
        // The timer is re-armed only when the deadline moves earlier: a later deadline is
        // reached by waking early and finding nothing due, so most waits touch no timer.
        if let Some(at) = deadline
            && self.sleep_at.is_none_or(|armed| at < armed)
        {
            self.sleep.as_mut().reset(at);
            self.sleep_at = Some(at);
        }
        let sleeping = self.sleep_at.is_some();
        let [w0, w1] = &mut self.worlds;
        let session = &mut self.session;
        tokio::select! {
            biased;
            changed = shutdown.changed(), if !self.shutting_down => {
                let _ = changed;
                self.shutting_down = true;
                session.begin_shutdown(clock.now());
            }
            () = self.gw.moves_changed.notified() => {}
            detail = recv_eviction(self.evictions.as_mut()) => {
                // A one-shot is done after its one answer (a reason, or the fence let go).
                self.evictions = None;
                if let Ok(detail) = detail {
                    session.handle_evicted(clock.now(), &detail);
                }
            }
            answer = self.rx.recv() => {
                // `tx` lives in this task, so the channel never closes here.
                if let Some(answer) = answer {
                    let answer = *answer;
                    if let Answer::Connected(_, server, result) = &answer {
                        self.gw.connect_result(server, result.as_ref().map(|_| ()));
                    }
                    if let Answer::Event(join, event) = answer {
                        if self.joined == Some(join) {
                            on_event(session, clock.now(), event);
                        }
                    } else if let Answer::Claim(request, account, result) = answer {
                        let result = result.map(|holds| {
                            self.gw.coordinate(|c, now| c.import_holds(now, &holds));
                            self.claimed = Some(account);
                        });
                        session.handle_claim(clock.now(), request, result);
                    } else {
                        deliver(session, &mut self.worlds, clock.now(), answer);
                    }
                }
            }
            r = read_some(w0.as_mut()) => {
                self.lent = on_world_read(session, &mut self.worlds, clock.now(), 0, r);
            }
            r = read_some(w1.as_mut()) => {
                self.lent = on_world_read(session, &mut self.worlds, clock.now(), 1, r);
            }
            r = read_lent(&mut self.client) => match r {
                Ok(mut lent) if !lent.data().is_empty() => {
                    let n = lent.data().len() as u64;
                    self.gw.metrics.client_bytes_in.fetch_add(n, Ordering::Relaxed);
                    session.relay_client_bytes(clock.now(), lent.data_mut());
                    self.lent = Some(lent);
                }
                _ => session.handle_client_closed(clock.now()),
            },
            () = self.sleep.as_mut(), if sleeping => {
                self.sleep_at = None;
                session.handle_timeout(clock.now());
            }
        }
    }
}

/// Reads from one world slot; pends forever for an empty slot so the select ignores it.
async fn read_some(slot: Option<&mut WorldSocket>) -> io::Result<Lent> {
    match slot {
        Some(w) => read_lent(&mut w.stream).await,
        None => std::future::pending().await,
    }
}

/// A cluster event for the player in play.
fn on_event(session: &mut Session, now: Duration, event: ClusterEvent) {
    let subject = event.subject.clone();
    if let EventFate::Malformed(detail) = session.handle_cluster_event(now, event) {
        tracing::warn!(%subject, %detail, "an event from the bus did not read as its subject's: dropped");
    }
}

/// How long a closing connection keeps reading (and discarding) what the client still
/// sends, so its last packets (a refusal, an eviction notice) are not lost to a reset.
pub const CLIENT_CLOSE_DRAIN_MS: u64 = 1_000;

/// Closes the client connection gracefully: shuts down the sending side (the client reads
/// everything queued, then the end), then reads until the client closes its side or
/// [`CLIENT_CLOSE_DRAIN_MS`] passes. Dropping a socket with unread bytes sends a reset,
/// which makes the client's TCP stack discard what it had not read yet.
async fn close_client(client: &mut TcpStream) {
    let _ = client.shutdown().await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(CLIENT_CLOSE_DRAIN_MS);
    let mut scratch = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, client.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

/// The next eviction notice; pends forever once the channel is gone.
async fn recv_eviction(
    rx: Option<&mut oneshot::Receiver<Box<str>>>,
) -> Result<Box<str>, oneshot::error::RecvError> {
    match rx {
        Some(rx) => rx.await,
        None => std::future::pending().await,
    }
}

/// Hands what a worldserver sent to the session; the read's buffer, lent to it, is
/// answered back to be kept until the session's outputs are carried out.
fn on_world_read(
    session: &mut Session,
    worlds: &mut [Option<WorldSocket>; 2],
    now: Duration,
    slot: usize,
    r: io::Result<Lent>,
) -> Option<Lent> {
    let link = worlds[slot].as_ref()?.link;
    match r {
        Ok(mut lent) if !lent.data().is_empty() => {
            session.relay_world_bytes(now, link, lent.data_mut());
            Some(lent)
        }
        _ => {
            worlds[slot] = None;
            session.handle_world_closed(now, link);
            None
        }
    }
}

fn deliver(
    session: &mut Session,
    worlds: &mut [Option<WorldSocket>; 2],
    now: Duration,
    answer: Answer,
) {
    match answer {
        Answer::Account(r, result) => session.handle_account(now, r, result),
        Answer::Characters(r, result) => session.handle_characters(now, r, result),
        Answer::Name(guid, result) => session.handle_name(now, guid, result),
        Answer::Connected(link, _, Ok(stream)) => {
            if !session.has_link(link) {
                // The session gave up on this attempt meanwhile; dropping the stream closes it.
                return;
            }
            if let Some(slot) = worlds.iter_mut().find(|s| s.is_none()) {
                *slot = Some(WorldSocket { link, stream });
                session.handle_world_connected(now, link, Ok(()));
            } else {
                // Both slots busy: the session never asks for a third link, so this is a
                // stale answer; dropping the stream closes it.
                session.handle_world_connected(now, link, Err("no free link slot".into()));
            }
        }
        Answer::Connected(link, _, Err(e)) => {
            session.handle_world_connected(now, link, Err(e.to_string()))
        }
        Answer::Service(request, answer) => session.handle_service_answer(now, request, answer),
        Answer::Claim(..) | Answer::Event(..) => {}
    }
}

fn close_world(worlds: &mut [Option<WorldSocket>; 2], link: LinkId) {
    for slot in worlds.iter_mut() {
        if slot.as_ref().is_some_and(|w| w.link == link) {
            *slot = None; // dropping the stream closes the connection
        }
    }
}

async fn write_with_deadline(
    stream: &mut TcpStream,
    bytes: &[u8],
    timeout_ms: u64,
) -> io::Result<()> {
    // Most writes fit the socket's buffer at once: those arm no timer and read no clock.
    let written = write_now(stream, bytes).await?;
    if written == bytes.len() {
        // A no-op for a kernel socket; the simulator's sockets send on flush.
        return stream.flush().await;
    }
    // The socket is full: the rest must go within the deadline. Boxed: the timer and the
    // write's state live on the heap only while a write waits, not in every connection's
    // task.
    let write = async {
        stream.write_all(&bytes[written..]).await?;
        stream.flush().await
    };
    match Box::pin(tokio::time::timeout(
        Duration::from_millis(timeout_ms),
        write,
    ))
    .await
    {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write deadline passed",
        )),
    }
}

/// Writes what the socket takes without waiting: the bytes written (all of them, or fewer
/// when the socket would block).
async fn write_now(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::pin::Pin;
    use std::task::Poll;
    use tokio::io::AsyncWrite;
    let mut written = 0;
    std::future::poll_fn(|cx| {
        while written < bytes.len() {
            match Pin::new(&mut *stream).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero)));
                }
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Would block: the caller waits for the rest under its deadline.
                Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(written))
    })
    .await
}
