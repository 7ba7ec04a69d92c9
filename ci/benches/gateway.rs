//! The proxy benchmark (run by `ci/bench`): Waygate against a plain TCP relay, each in its
//! own process, driven by the same lean load generator and echoing worldserver stand-ins.
//!
//! Processes:
//! - the proxy under test: the real `waygate serve` binary (`WAYGATE_BENCH_BIN`), embedded mode,
//!   accounts and characters and worldservers from a generated config, as deployed;
//! - the relay: this binary again (`WAYGATE_BENCH_ROLE=relay`), copying bytes both ways with
//!   `tokio::io::copy_bidirectional` on a multi-thread runtime, like the gateway's;
//! - this process: the echoing worldserver stand-ins and the clients. The clients send the
//!   same packets both ways: plain 6-byte headers to the relay, RC4 headers to the gateway
//!   (the difference is the gateway's real work). The echo answers the gateway's replayed auth
//!   session and PLAYER_LOGIN as a worldserver does (a challenge, LOGIN_VERIFY_WORLD,
//!   TIME_SYNC_REQ), and sends every other packet back with a 4-byte server header; the relay's
//!   clients get the same challenge first.
//!
//! Each run measures, for the relay then the gateway (alternated, `BENCH_RUNS` runs):
//! - saturation (closed loop, `BENCH_WINDOW` in flight per client, `BENCH_SECONDS`): round trips
//!   per second, and the proxy process's CPU time per forwarded packet (both directions count)
//!   from `/proc/<pid>/task/*/schedstat`;
//! - latency at half the relay's saturation rate (open loop: packets leave on a schedule,
//!   whatever comes back): p50, p99, p99.9 of the round trip;
//! - latency at low load (one client, one packet in flight).
//!
//! Then memory: a fresh gateway with `BENCH_MEM_SESSIONS` sessions, its RSS per session at the
//! character screen and again in world.
//!
//! Prints the median of the runs:
//! `bench: proxy_ns_per_pkt=… relay_ns_per_pkt=… cpu_ratio=… pps_ratio=… p50_ratio=…
//! added_p50_us=… added_p99_us=… idle_kib_per_session=… inworld_kib_per_session=… spread=…`
//! (`cpu_ratio` = relay ns / proxy ns, higher is better; `p50_ratio` = gateway p50 / relay p50
//! at half load; `added_*` at low load; `spread` = the lowest and highest `cpu_ratio` of the
//! runs), and a line per run before it.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time and runs child processes

#[path = "procfs.rs"]
mod procfs;
use procfs::{cpu_ns, rss_kib};

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use waygate::wire::auth::{
    AddonList, AuthChallenge, AuthSession, AuthSessionFields, compute_digest,
};
use waygate::wire::packets::{PlayerLogin, TimeSyncReq, WirePacket};
use waygate::wire::{
    ClientCiphers, ClientHeaderEncoder, Decoded, Opcode, ServerHeaderDecoder, SessionKey,
};

const ROLE_ENV: &str = "WAYGATE_BENCH_ROLE";
/// The opcode the load is made of (a movement heartbeat, as players send most).
const LOAD: Opcode = Opcode::MSG_MOVE_HEARTBEAT;
/// Body bytes of a load packet (the first eight carry the send time at open loop).
const BODY: usize = 32;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn account(i: usize) -> String {
    format!("B{i}")
}

fn key(i: usize) -> SessionKey {
    let mut k = [0u8; 40];
    for (j, b) in k.iter_mut().enumerate() {
        *b = (i as u8) ^ (j as u8).wrapping_mul(7);
    }
    SessionKey(k)
}

// ----- the worldserver stand-in -----------------------------------------------------------

fn put_server(out: &mut Vec<u8>, opcode: u16, body: &[u8]) {
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&opcode.to_le_bytes());
    out.extend_from_slice(body);
}

/// One connection of the echo: a challenge, then every client-format packet answered.
async fn echo_conn(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut out = Vec::with_capacity(64 * 1024);
    let challenge = AuthChallenge {
        server_seed: 7,
        seed_bytes: [3; 32],
    };
    let mut body = BytesMut::new();
    challenge.encode(&mut body);
    put_server(&mut out, Opcode::SMSG_AUTH_CHALLENGE.0 as u16, &body);
    if s.write_all(&out).await.is_err() {
        return;
    }
    out.clear();
    let mut buf = vec![0u8; 64 * 1024];
    let mut have = 0;
    loop {
        match s.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        let mut at = 0;
        while have - at >= 6 {
            let size = usize::from(u16::from_be_bytes([buf[at], buf[at + 1]]));
            if size < 4 {
                return;
            }
            if have - at < 2 + size {
                break;
            }
            let opcode = u32::from_le_bytes([buf[at + 2], buf[at + 3], buf[at + 4], buf[at + 5]]);
            let body = &buf[at + 6..at + 2 + size];
            if opcode == Opcode::CMSG_PLAYER_LOGIN.0 {
                put_server(&mut out, Opcode::SMSG_LOGIN_VERIFY_WORLD.0 as u16, &[0; 20]);
                put_server(
                    &mut out,
                    Opcode::SMSG_TIME_SYNC_REQ.0 as u16,
                    &TimeSyncReq { counter: 0 }.to_body(),
                );
            } else if opcode != Opcode::CMSG_AUTH_SESSION.0 && opcode != Opcode::CMSG_KEEP_ALIVE.0 {
                put_server(&mut out, opcode as u16, body);
            }
            at += 2 + size;
        }
        buf.copy_within(at..have, 0);
        have -= at;
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

async fn echo_server(listener: TcpListener) {
    while let Ok((s, _)) = listener.accept().await {
        tokio::spawn(echo_conn(s));
    }
}

// ----- the relay (a child process) ---------------------------------------------------------

fn relay_main() {
    let upstream: SocketAddr = std::env::var("WAYGATE_BENCH_UPSTREAM")
        .ok()
        .and_then(|a| a.parse().ok())
        .expect("WAYGATE_BENCH_UPSTREAM");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("port {}", listener.local_addr().expect("addr").port());
        let _ = std::io::stdout().flush();
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
}

// ----- the processes ------------------------------------------------------------------------

struct Proc {
    child: Child,
    addr: SocketAddr,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_relay(upstream: SocketAddr) -> Proc {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(ROLE_ENV, "relay")
        .env("WAYGATE_BENCH_UPSTREAM", upstream.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("relay process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .expect("port");
    Proc {
        child,
        addr: ([127, 0, 0, 1], port).into(),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The `waygate serve` config: `n` accounts, one character each on map 0, one worldserver.
fn gateway_config(listen: u16, n: usize, world: SocketAddr) -> String {
    let mut c = format!(
        "[gateway]\nlisten = \"127.0.0.1:{listen}\"\nmax_connections = {}\nlog_level = \"warn\"\n\
         [session]\n# The echo sends nothing unasked: no silence is a lost worldserver here.\n\
         world_silence_timeout_ms = 3600000\npre_auth_timeout_ms = 600000\n",
        n + 64
    );
    for i in 0..n {
        let hex: String = key(i).0.iter().map(|b| format!("{b:02x}")).collect();
        c.push_str(&format!(
            "[[accounts]]\nname = \"{}\"\nid = {}\nsession_key = \"{hex}\"\n",
            account(i),
            i + 1
        ));
        c.push_str(&format!(
            "[[characters]]\nguid = {}\naccount = \"{}\"\nname = \"Bench{i}\"\nrace = 1\nclass = 1\ngender = 0\nlevel = 1\nmap = 0\nzone = 12\nx = 0.0\ny = 0.0\nz = 0.0\n",
            i + 1,
            account(i)
        ));
    }
    c.push_str(&format!(
        "[[worldservers]]\nid = \"echo\"\naddress = \"{world}\"\nmaps = []\n"
    ));
    c
}

fn spawn_gateway(n: usize, world: SocketAddr, dir: &std::path::Path) -> Proc {
    let bin = std::env::var_os("WAYGATE_BENCH_BIN")
        .map(PathBuf::from)
        .expect("WAYGATE_BENCH_BIN: the waygate binary (ci/bench builds it)");
    let port = free_port();
    let config = dir.join(format!("bench-{port}.toml"));
    std::fs::write(&config, gateway_config(port, n, world)).expect("config written");
    let child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .expect("waygate serve");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let began = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the gateway did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc { child, addr }
}

// ----- the clients --------------------------------------------------------------------------

/// A client connection in its steady state: headers encrypted for the gateway, plain for the
/// relay.
struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    dec: ServerHeaderDecoder,
    enc: ClientHeaderEncoder,
}

async fn next_packet(
    rd: &mut OwnedReadHalf,
    dec: &mut ServerHeaderDecoder,
) -> waygate::wire::Packet {
    loop {
        if let Decoded::Packet(p) = dec.decode().expect("a sane server header") {
            return p;
        }
        dec.buffer_mut().reserve(16 * 1024);
        let n = rd.read_buf(dec.buffer_mut()).await.expect("read");
        assert!(n > 0, "the proxy closed a bench client");
    }
}

/// A relay client: the echo's challenge read, then ready.
async fn relay_client(addr: SocketAddr) -> Conn {
    let s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.set_nodelay(true);
    let (mut rd, wr) = s.into_split();
    let mut dec = ServerHeaderDecoder::for_gateway(1 << 16);
    let p = next_packet(&mut rd, &mut dec).await;
    assert_eq!(p.opcode, Opcode::SMSG_AUTH_CHALLENGE);
    Conn {
        rd,
        wr,
        dec,
        enc: ClientHeaderEncoder::plain(),
    }
}

/// A gateway client: authenticated (at the character screen), and in world when `enter`.
async fn gateway_client(addr: SocketAddr, i: usize, enter: bool) -> Conn {
    let s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.set_nodelay(true);
    let (mut rd, mut wr) = s.into_split();
    let mut dec = ServerHeaderDecoder::for_gateway(1 << 20);
    let p = next_packet(&mut rd, &mut dec).await;
    let challenge = AuthChallenge::decode(&p.body).expect("challenge");
    let body = AuthSession::encode(&AuthSessionFields {
        account: account(i),
        client_seed: i as u32,
        realm_id: 1,
        digest: compute_digest(&account(i), i as u32, challenge.server_seed, &key(i)),
        addon_block: AddonList::default().encode_block(),
    });
    let mut enc = ClientHeaderEncoder::plain();
    let mut out = BytesMut::new();
    enc.encode(Opcode::CMSG_AUTH_SESSION, &body, &mut out)
        .expect("fits");
    wr.write_all(&out).await.expect("write");
    let ciphers = ClientCiphers::new(&key(i));
    enc.start_cipher(ciphers.outbound);
    dec.start_cipher(ciphers.inbound);
    let p = next_packet(&mut rd, &mut dec).await;
    assert_eq!(p.opcode, Opcode::SMSG_AUTH_RESPONSE, "bench session {i}");
    let mut conn = Conn { rd, wr, dec, enc };
    if enter {
        enter_world(&mut conn, i).await;
    }
    conn
}

async fn enter_world(conn: &mut Conn, i: usize) {
    let mut out = BytesMut::new();
    let login = PlayerLogin { guid: i as u64 + 1 };
    conn.enc
        .encode(PlayerLogin::OPCODE, &login.to_body(), &mut out)
        .expect("fits");
    conn.wr.write_all(&out).await.expect("write");
    loop {
        let p = next_packet(&mut conn.rd, &mut conn.dec).await;
        if p.opcode == Opcode::SMSG_TIME_SYNC_REQ {
            return;
        }
    }
}

/// Closed loop: `window` packets in flight until `stop`; every echo counted in `done`.
async fn saturate(mut c: Conn, window: u32, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> Conn {
    let body = [0u8; BODY];
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut in_flight = 0u32;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if !stopping {
            while in_flight < window {
                c.enc.encode(LOAD, &body, &mut out).expect("fits");
                in_flight += 1;
            }
        }
        if !out.is_empty() {
            c.wr.write_all(&out).await.expect("write");
            out.clear();
        }
        if in_flight == 0 {
            return c;
        }
        c.dec.buffer_mut().reserve(16 * 1024);
        let n = c.rd.read_buf(c.dec.buffer_mut()).await.expect("read");
        assert!(n > 0, "the proxy closed a bench client");
        while let Decoded::Packet(p) = c.dec.decode().expect("a sane server header") {
            if p.opcode == LOAD {
                in_flight -= 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Open loop: packets leave at `per_second` on their schedule until `stop` (checked every
/// millisecond); each carries its send time, and each echo's round trip lands in `rtts` when
/// it left inside `[from, until)` (ns since `epoch`).
async fn open_loop(
    c: Conn,
    per_second: f64,
    epoch: Instant,
    window_ns: (u64, u64),
    stop: Arc<AtomicBool>,
) -> (Conn, Vec<u64>) {
    let Conn {
        mut rd,
        mut wr,
        mut dec,
        mut enc,
    } = c;
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (sent, stop) = (sent.clone(), stop.clone());
        tokio::spawn(async move {
            let began = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut out = BytesMut::with_capacity(16 * 1024);
            let mut body = [0u8; BODY];
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let due = (began.elapsed().as_secs_f64() * per_second) as u64;
                while n < due {
                    let at = epoch.elapsed().as_nanos() as u64;
                    body[..8].copy_from_slice(&at.to_le_bytes());
                    enc.encode(LOAD, &body, &mut out).expect("fits");
                    n += 1;
                }
                if !out.is_empty() {
                    wr.write_all(&out).await.expect("write");
                    out.clear();
                }
            }
            sent.store(n, Ordering::Release);
            (wr, enc)
        })
    };
    let mut rtts = Vec::new();
    let mut got = 0u64;
    loop {
        let finished = sender.is_finished();
        if finished && got >= sent.load(Ordering::Acquire) {
            break;
        }
        dec.buffer_mut().reserve(16 * 1024);
        let read = tokio::time::timeout(Duration::from_millis(5), rd.read_buf(dec.buffer_mut()));
        match read.await {
            Ok(Ok(0)) => panic!("the proxy closed a bench client"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => continue,
        }
        let now = epoch.elapsed().as_nanos() as u64;
        while let Decoded::Packet(p) = dec.decode().expect("a sane server header") {
            if p.opcode == LOAD && p.body.len() >= 8 {
                got += 1;
                let mut at = [0u8; 8];
                at.copy_from_slice(&p.body[..8]);
                let at = u64::from_le_bytes(at);
                if at >= window_ns.0 && at < window_ns.1 {
                    rtts.push(now.saturating_sub(at));
                }
            }
        }
    }
    let (wr, enc) = sender.await.expect("sender");
    (Conn { rd, wr, dec, enc }, rtts)
}

// ----- one mode, one run --------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    /// Round trips per second at saturation.
    pps: f64,
    /// The proxy's CPU nanoseconds per forwarded packet (each direction one).
    ns_per_pkt: f64,
    /// Open loop at the half-load rate: p50, p99, p99.9 (µs).
    half: [f64; 3],
    /// One client, one in flight: p50, p99 (µs).
    low: [f64; 2],
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1_000.0
}

struct Bench {
    seconds: f64,
    window: u32,
}

impl Bench {
    /// Saturation, then (if `rate` is given, else at half of this mode's own rate) the open
    /// loop, then the low load.
    async fn run(&self, pid: u32, conns: Vec<Conn>, rate: Option<f64>) -> (Figures, Vec<Conn>) {
        let mut f = Figures::default();
        // Saturation.
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|c| tokio::spawn(saturate(c, self.window, stop.clone(), done.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (c0, cpu0, t0) = (done.load(Ordering::Relaxed), cpu_ns(pid), Instant::now());
        tokio::time::sleep(Duration::from_secs_f64(self.seconds)).await;
        let (c1, cpu1, dt) = (
            done.load(Ordering::Relaxed),
            cpu_ns(pid),
            t0.elapsed().as_secs_f64(),
        );
        stop.store(true, Ordering::Relaxed);
        let mut conns = Vec::new();
        for t in tasks {
            conns.push(t.await.expect("client"));
        }
        let trips = c1.saturating_sub(c0);
        f.pps = trips as f64 / dt;
        f.ns_per_pkt = cpu1.saturating_sub(cpu0) as f64 / (2 * trips.max(1)) as f64;

        // Open loop at half load.
        let total = rate.unwrap_or(f.pps) / 2.0;
        let per_client = total / conns.len() as f64;
        let epoch = Instant::now();
        let warm = Duration::from_millis(300);
        let window_ns = (
            warm.as_nanos() as u64,
            (warm + Duration::from_secs_f64(self.seconds)).as_nanos() as u64,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|c| tokio::spawn(open_loop(c, per_client, epoch, window_ns, stop.clone())))
            .collect();
        tokio::time::sleep(warm + Duration::from_secs_f64(self.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut conns = Vec::new();
        let mut rtts = Vec::new();
        for t in tasks {
            let (c, r) = t.await.expect("client");
            conns.push(c);
            rtts.extend(r);
        }
        rtts.sort_unstable();
        f.half = [pct(&rtts, 0.50), pct(&rtts, 0.99), pct(&rtts, 0.999)];

        // Low load: the first client alone, one packet in flight.
        let mut c = conns.remove(0);
        let mut rtts = Vec::new();
        let body = [0u8; BODY];
        let mut out = BytesMut::new();
        let until = Instant::now() + Duration::from_secs_f64(self.seconds.min(1.0));
        while Instant::now() < until {
            let at = Instant::now();
            c.enc.encode(LOAD, &body, &mut out).expect("fits");
            c.wr.write_all(&out).await.expect("write");
            out.clear();
            loop {
                let p = next_packet(&mut c.rd, &mut c.dec).await;
                if p.opcode == LOAD {
                    break;
                }
            }
            rtts.push(at.elapsed().as_nanos() as u64);
        }
        rtts.sort_unstable();
        f.low = [pct(&rtts, 0.50), pct(&rtts, 0.99)];
        conns.insert(0, c);
        (f, conns)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    if std::env::var(ROLE_ENV).as_deref() == Ok("relay") {
        return relay_main();
    }
    let clients = env_num("BENCH_CLIENTS", 64) as usize;
    let runs = env_num("BENCH_RUNS", 5).max(1) as usize;
    let bench = Bench {
        seconds: env_num("BENCH_MILLIS", 2_000) as f64 / 1_000.0,
        window: env_num("BENCH_WINDOW", 32) as u32,
    };
    let mem_sessions = env_num("BENCH_MEM_SESSIONS", 2_000) as usize;
    let dir = std::env::temp_dir().join(format!("waygate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let echo_addr = rt.block_on(async {
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = echo.local_addr().expect("addr");
        tokio::spawn(echo_server(echo));
        addr
    });
    let relay = spawn_relay(echo_addr);
    let gateway = spawn_gateway(clients, echo_addr, &dir);
    let mut relay_conns = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..clients {
            v.push(relay_client(relay.addr).await);
        }
        v
    });
    let mut gateway_conns = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..clients {
            v.push(gateway_client(gateway.addr, i, true).await);
        }
        v
    });

    let mut per_run: Vec<(Figures, Figures)> = Vec::new();
    for run in 0..runs {
        let (r, conns) = rt.block_on(bench.run(relay.pid(), relay_conns, None));
        relay_conns = conns;
        let (g, conns) = rt.block_on(bench.run(gateway.pid(), gateway_conns, Some(r.pps)));
        gateway_conns = conns;
        println!(
            "bench run {run}: relay {:.0} pps {:.0} ns/pkt half p50/p99/p99.9 {:.0}/{:.0}/{:.0} us low p50/p99 {:.0}/{:.0} us | gateway {:.0} pps {:.0} ns/pkt half {:.0}/{:.0}/{:.0} us low {:.0}/{:.0} us",
            r.pps,
            r.ns_per_pkt,
            r.half[0],
            r.half[1],
            r.half[2],
            r.low[0],
            r.low[1],
            g.pps,
            g.ns_per_pkt,
            g.half[0],
            g.half[1],
            g.half[2],
            g.low[0],
            g.low[1],
        );
        per_run.push((r, g));
    }
    drop(relay_conns);
    drop(gateway_conns);
    drop(relay);
    drop(gateway);

    // Memory: a fresh gateway, sessions at the character screen, then in world.
    let gateway = spawn_gateway(mem_sessions, echo_addr, &dir);
    std::thread::sleep(Duration::from_millis(300));
    let base = rss_kib(gateway.pid()).unwrap_or(0);
    let (idle, inworld) = rt.block_on(async {
        let mut conns = Vec::with_capacity(mem_sessions);
        for i in 0..mem_sessions {
            conns.push(gateway_client(gateway.addr, i, false).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = rss_kib(gateway.pid()).unwrap_or(0);
        for (i, c) in conns.iter_mut().enumerate() {
            enter_world(c, i).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let inworld = rss_kib(gateway.pid()).unwrap_or(0);
        drop(conns);
        (idle, inworld)
    });
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    let per = |rss: u64| rss.saturating_sub(base) as f64 / mem_sessions.max(1) as f64;

    let m = |f: &dyn Fn(&(Figures, Figures)) -> f64| median(per_run.iter().map(f).collect());
    let cpu_ratios: Vec<f64> = per_run
        .iter()
        .map(|(r, g)| r.ns_per_pkt / g.ns_per_pkt)
        .collect();
    let lo = cpu_ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = cpu_ratios.iter().copied().fold(0.0, f64::max);
    println!(
        "bench: p99 at half load: relay {:.0} us ({:.0}..{:.0}), gateway {:.0} us ({:.0}..{:.0}); p99.9 relay {:.0} us, gateway {:.0} us; low load p50/p99 relay {:.0}/{:.0} us, gateway {:.0}/{:.0} us",
        m(&|x| x.0.half[1]),
        per_run
            .iter()
            .map(|x| x.0.half[1])
            .fold(f64::INFINITY, f64::min),
        per_run.iter().map(|x| x.0.half[1]).fold(0.0, f64::max),
        m(&|x| x.1.half[1]),
        per_run
            .iter()
            .map(|x| x.1.half[1])
            .fold(f64::INFINITY, f64::min),
        per_run.iter().map(|x| x.1.half[1]).fold(0.0, f64::max),
        m(&|x| x.0.half[2]),
        m(&|x| x.1.half[2]),
        m(&|x| x.0.low[0]),
        m(&|x| x.0.low[1]),
        m(&|x| x.1.low[0]),
        m(&|x| x.1.low[1]),
    );
    println!(
        "bench: proxy_ns_per_pkt={:.0} relay_ns_per_pkt={:.0} cpu_ratio={:.2} pps_ratio={:.2} p50_ratio={:.2} added_p50_us={:.1} added_p99_us={:.1} idle_kib_per_session={:.1} inworld_kib_per_session={:.1} spread={:.2}..{:.2}",
        m(&|x| x.1.ns_per_pkt),
        m(&|x| x.0.ns_per_pkt),
        median(cpu_ratios.clone()),
        m(&|x| x.1.pps / x.0.pps),
        m(&|x| x.1.half[0] / x.0.half[0]),
        m(&|x| x.1.low[0] - x.0.low[0]),
        m(&|x| x.1.low[1] - x.0.low[1]),
        per(idle),
        per(inworld),
        lo,
        hi,
    );
}
