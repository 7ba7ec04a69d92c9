//! The seams: everything the world does to the gateway comes through here (DESIGN.md
//! section 2). One implementation over tokio names serves production and, with tokio
//! declared as `madsim-tokio`, the simulator unchanged.
//!
//! - [`Clock`]: monotonic time since an origin, wall time, deadlines.
//! - [`Net`]: outbound connections (inbound ones come from the listener handed to `serve`).
//! - [`Accounts`], [`Characters`], [`Registry`]: cluster services, as boxed futures so the
//!   driver can hold them behind `Arc<dyn _>`.
//! - [`EventBus`]: what sessions announce to the cluster's services ([`MemoryBus`] when no
//!   bus is configured).
//! - [`KvStore`]: the bucket account fencing keeps its records in ([`MemoryKv`] alone).
//! - [`Entropy`]: the one seeded RNG of a component.
//! - [`StaticCluster`]: accounts, characters and worldservers from the config file (the
//!   embedded default; no external service).

#![allow(clippy::disallowed_methods)] // the seams are where the clock is read

mod kv;
mod static_cluster;

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::net::TcpStream;

pub use kv::{KV_WATCH_QUEUE_MAX, KvChange, KvEntry, KvStore, KvWrite, MemoryKv};
pub use static_cluster::StaticCluster;

use crate::cluster::WorldserverInfo;
use crate::present::{ServiceAnswer, ServiceRequest};
use crate::session::{
    AccountId, AccountRecord, Announcement, CharacterGuid, CharacterRecord, NameRecord, SeamError,
};

/// A future a seam returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Monotonic and wall time. Cloning shares the origin.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }

    /// Time since the origin: the `now` every sans-IO call takes.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The instant `at` (since the origin) as a tokio instant, for `sleep_until`.
    pub fn instant_at(&self, at: Duration) -> tokio::time::Instant {
        self.origin + at
    }

    /// Seconds since the Unix epoch, saturated to `u32`.
    pub fn unix_secs(&self) -> u32 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
            .unwrap_or(0)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Whom a worldserver connection is for. A [`Net`] may name it in logs; the simulator's
/// backoff oracle groups the connect attempts it sees by it (the timing it measures itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnectFor {
    /// A client session, by its id on this gateway.
    Session(u64),
    /// A probe of a worldserver that may still hold characters.
    Probe,
}

/// Outbound byte streams.
pub trait Net: Send + Sync {
    /// Opens a TCP connection to `address` (`host:port`) for `who`.
    fn connect<'a>(
        &'a self,
        address: &'a str,
        who: ConnectFor,
    ) -> BoxFuture<'a, io::Result<TcpStream>>;
}

/// [`Net`] over tokio's (or, under madsim, the simulator's) TCP.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioNet;

impl Net for TokioNet {
    fn connect<'a>(
        &'a self,
        address: &'a str,
        _who: ConnectFor,
    ) -> BoxFuture<'a, io::Result<TcpStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }
}

/// Accounts: name -> session key, bans, locks.
pub trait Accounts: Send + Sync {
    /// Looks an account up by the name the client sent, for a client connecting from
    /// `client_ip` (an IP-locked account is `locked` unless that is its last address).
    /// `Ok(None)`: no such account.
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        client_ip: IpAddr,
    ) -> BoxFuture<'a, Result<Option<AccountRecord>, SeamError>>;
}

/// The cluster's event bus, outbound: what sessions announce (a character logged in or out)
/// reaches the cluster's services. Publishing never blocks a session: an implementation
/// buffers (bounded) and counts what it had to drop.
pub trait EventBus: Send + Sync {
    /// Publishes one announcement.
    fn publish(&self, announcement: Announcement);
}

/// An [`EventBus`] that keeps the last announcements in memory: the embedded default (no
/// cluster services listen) and what tests read.
#[derive(Debug, Default)]
pub struct MemoryBus {
    log: std::sync::Mutex<std::collections::VecDeque<Announcement>>,
}

/// Announcements a [`MemoryBus`] keeps, at most (the oldest are dropped).
pub const MEMORY_BUS_MAX: usize = 4_096;

impl MemoryBus {
    /// What was published, oldest first.
    pub fn published(&self) -> Vec<Announcement> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<Announcement>> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventBus for MemoryBus {
    fn publish(&self, announcement: Announcement) {
        let mut log = self.lock();
        if log.len() >= MEMORY_BUS_MAX {
            log.pop_front();
        }
        log.push_back(announcement);
    }
}

/// The characters part of the cluster services.
pub trait Characters: Send + Sync {
    /// The account's characters on this realm.
    fn list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<CharacterRecord>, SeamError>>;
    /// A character's name, for name queries.
    fn name(&self, guid: CharacterGuid) -> BoxFuture<'_, Result<Option<NameRecord>, SeamError>>;
}

/// The cluster registry: which worldservers exist and which maps they own. The gateway keeps
/// its own view of their health and chooses among them (`cluster::view`).
pub trait Registry: Send + Sync {
    /// Every worldserver of the realm, in registry order.
    fn worldservers(&self) -> BoxFuture<'_, Result<Vec<WorldserverInfo>, SeamError>>;
}

/// The cluster services presentation calls (chatserver, ...), for the session's
/// `Output::CallService`.
pub trait PresentServices: Send + Sync {
    /// Makes one call. A failure is an answer too ([`ServiceRequest::failed`]), so the
    /// presenter always hears back; the driver bounds the wait.
    fn call(&self, request: ServiceRequest) -> BoxFuture<'_, ServiceAnswer>;
}

/// No cluster services: the embedded mode, whose presenters call none
/// ([`crate::present::Services::NONE`]). A call is answered as failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoServices;

impl PresentServices for NoServices {
    fn call(&self, request: ServiceRequest) -> BoxFuture<'_, ServiceAnswer> {
        Box::pin(async move {
            let service = request.service();
            request.failed(format!("no {service} service in this mode"))
        })
    }
}

/// The services a gateway runs on.
#[derive(Clone)]
pub struct Seams {
    /// Time.
    pub clock: Clock,
    /// Outbound connections.
    pub net: Arc<dyn Net>,
    /// Accounts.
    pub accounts: Arc<dyn Accounts>,
    /// Characters.
    pub characters: Arc<dyn Characters>,
    /// Registry.
    pub registry: Arc<dyn Registry>,
    /// The cluster's event bus (outbound).
    pub events: Arc<dyn EventBus>,
    /// The services presentation calls.
    pub services: Arc<dyn PresentServices>,
    /// Where account fencing keeps its records (shared by every gateway of the realm).
    pub fence: Arc<dyn KvStore>,
}

impl Seams {
    /// The embedded default: accounts, characters and the registry from one
    /// [`StaticCluster`], tokio's clock and network.
    pub fn embedded(cluster: Arc<StaticCluster>) -> Self {
        Self {
            clock: Clock::new(),
            net: Arc::new(TokioNet),
            accounts: cluster.clone(),
            characters: cluster.clone(),
            registry: cluster,
            events: Arc::new(MemoryBus::default()),
            services: Arc::new(NoServices),
            fence: Arc::new(MemoryKv::default()),
        }
    }
}

/// The one RNG of a component, seeded once.
#[derive(Debug, Clone)]
pub struct Entropy {
    rng: ChaCha8Rng,
}

impl Entropy {
    /// A reproducible generator (simulation, tests, demo).
    pub fn seeded(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A generator seeded from the operating system: production. The auth challenge's server
    /// seed must be unpredictable, or a captured auth session could be replayed.
    /// Asks the OS through `getrandom` (the getrandom(2) system call on Linux, which waits
    /// until the kernel's pool is initialised at boot, then never blocks).
    pub fn from_os() -> io::Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| io::Error::other(format!("the OS gave no random seed: {e}")))?;
        Ok(Self {
            rng: ChaCha8Rng::from_seed(seed),
        })
    }

    /// A random `u32`.
    pub fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    /// A random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }

    /// A generator of its own for a part that keeps one (an adapter's jitter), seeded from
    /// this one: reproducible when this one is.
    pub fn child_rng(&mut self) -> ChaCha8Rng {
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        ChaCha8Rng::from_seed(seed)
    }
}
