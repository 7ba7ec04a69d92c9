//! The `waygate` command: thin. Config -> tracing -> build -> serve -> signal -> drain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use waygate::adapters::tocloud9::ClusterAdapters;
use waygate::config::{self, LogSettings, Mode, OpsSettings, Places, ProcessEnv, Resolved};
use waygate::driver::{AdapterErrors, Gateway, serve};
use waygate::ops::{self, Health, Ops};
use waygate::runtime::{Clock, Entropy, Seams};

/// Exit code for a usage or config error (EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// Exit code when the gateway could not start or stopped on an error.
const EXIT_FAILURE: u8 = 1;
/// After the gateway stopped, how long the ops listeners get to finish.
const OPS_STOP_TIMEOUT_MS: u64 = 2_000;

/// A cluster gateway for World of Warcraft 3.3.5a realms on AzerothCore + ToCloud9.
#[derive(Debug, Parser)]
#[command(
    name = "waygate",
    disable_version_flag = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (see README: config reference)
    Serve(ConfigArg),
    /// Resolve the configuration as `serve` would, print it (secrets masked) and exit
    CheckConfig(ConfigArg),
    /// Gateway + 3 fake worldservers + N bots in one process, through a degrade, a crash and
    /// a drain
    Demo {
        /// Bots to run, 1 to 2000
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=2000))]
        bots: u16,
    },
    /// Print the version and the client build spoken
    Version,
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The config file: .toml (Waygate's own, the embedded cluster) or .yml/.yaml
    /// (ToCloud9's `gateway:` map, then its environment variables). Without it, as ToCloud9:
    /// $CONFIG_FILE, ./config.yml, config.yml next to the executable, then the environment
    /// alone
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    match cli.command {
        Command::Serve(arg) => serve_command(arg.config),
        Command::CheckConfig(arg) => check_config(arg.config),
        Command::Demo { bots } => waygate_demo(usize::from(bots)),
        Command::Version => {
            println!(
                "waygate {} (client build {})",
                env!("CARGO_PKG_VERSION"),
                waygate::wire::auth::CLIENT_BUILD
            );
            ExitCode::SUCCESS
        }
    }
}

/// The configuration, found in ToCloud9's lookup order.
fn resolve(flag: Option<PathBuf>) -> Result<Resolved, ExitCode> {
    config::resolve(&Places::of_process(flag), &ProcessEnv).map_err(|e| {
        eprintln!("waygate: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

fn check_config(flag: Option<PathBuf>) -> ExitCode {
    let resolved = match resolve(flag) {
        Ok(r) => r,
        Err(code) => return code,
    };
    for warning in &resolved.warnings {
        eprintln!("waygate: warning: {warning}");
    }
    println!("mode: {}", resolved.mode_name());
    println!("source: {}", resolved.source);
    for line in resolved.summary_lines() {
        println!("{line}");
    }
    ExitCode::SUCCESS
}

fn init_tracing(log: &LogSettings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Plain text always: logs go to journald, docker or a file, and a workspace build may
    // switch tracing-subscriber's colours on through feature unification.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    if log.json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve_command(flag: Option<PathBuf>) -> ExitCode {
    let resolved = match resolve(flag) {
        Ok(r) => r,
        Err(code) => return code,
    };
    init_tracing(&resolved.log());
    // Once, secrets masked: the operator sees every value and where it came from.
    tracing::info!(
        mode = resolved.mode_name(),
        source = %resolved.source,
        settings = %resolved.summary(),
        "configuration resolved"
    );
    for warning in &resolved.warnings {
        tracing::warn!("{warning}");
    }
    let ops = resolved.ops();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("waygate: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(run(resolved.mode, ops)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// What the mode puts behind the seams.
enum Cluster {
    /// Everything from the config file.
    Embedded(Arc<waygate::runtime::StaticCluster>),
    /// ToCloud9's services, started.
    ToCloud9(Arc<ClusterAdapters>),
}

/// Binds, starts the mode's services, serves until a signal, drains.
async fn run(mode: Mode, ops_settings: OpsSettings) -> Result<(), ExitCode> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!("{what}: {e}");
        eprintln!("waygate: {what}: {e}");
        ExitCode::from(EXIT_FAILURE)
    };
    let mut entropy = Entropy::from_os().map_err(|e| failed("cannot seed from the OS", &e))?;
    let (listen, driver_config) = match &mode {
        Mode::Embedded(cfg) => (cfg.gateway.listen, cfg.driver_config()),
        Mode::ToCloud9(cfg) => (cfg.listen(), cfg.driver_config()),
    };
    // Every port first: a conflict fails before anything registers anywhere, and the
    // registry's first health check finds the health port accepting.
    let listener = bind(listen, "game clients").await?;
    let ops_listeners = bind_ops(&ops_settings).await?;
    // Signal handlers are installed before anything slow (the registration retries), and
    // before the gateway says it is serving: a SIGTERM is always a polite shutdown.
    let signals = Signals::install().map_err(|e| failed("cannot install signal handlers", &e))?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signals.wait().await;
        let _ = stop_tx.send(true);
    });
    let clock = Clock::new();
    let adapter_errors = AdapterErrors::default();
    let (health, cluster) = match mode {
        // Nothing to register with and the accounts are in the file: ready at once.
        Mode::Embedded(cfg) => (
            Health::embedded(),
            Cluster::Embedded(Arc::new(cfg.cluster())),
        ),
        Mode::ToCloud9(cfg) => {
            let health = Health::cluster();
            let started = tokio::select! {
                biased;
                _ = stop_rx.changed() => {
                    tracing::info!("shutdown requested before the gateway was registered");
                    return Ok(());
                }
                started = ClusterAdapters::start(&cfg, clock, &mut entropy, &health) => started,
            };
            let adapters =
                started.map_err(|e| failed("the ToCloud9 cluster mode cannot start", &e))?;
            (health, Cluster::ToCloud9(Arc::new(adapters)))
        }
    };
    let seams = match &cluster {
        Cluster::Embedded(c) => Seams {
            clock,
            ..Seams::embedded(c.clone())
        },
        Cluster::ToCloud9(a) => a.seams(clock, &adapter_errors, &health),
    };
    let realm = driver_config.session.realm_id;
    let gateway = Gateway::new(seams, driver_config, entropy);
    if let Cluster::ToCloud9(adapters) = &cluster {
        adapters
            .subscribe(gateway.clone())
            .await
            .map_err(|e| failed("NATS subscriptions", &e))?;
        tokio::spawn(
            adapters
                .clone()
                .probe_accounts(adapter_errors.clone(), health.clone()),
        );
        tokio::spawn(watch_gateway_id(
            adapters.registry.clone(),
            adapters.bus.clone(),
            adapters.gateway_id().to_owned(),
        ));
    }
    let ops = Ops {
        gateway: gateway.clone(),
        health: health.clone(),
        adapter_errors,
    };
    let (ops_stop_tx, ops_stop_rx) = tokio::sync::watch::channel(false);
    let ops_tasks = serve_ops(ops_listeners, ops, &ops_stop_rx);
    let (serve_stop_tx, serve_stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
        // /healthcheck answers 503 from now: the registry stops sending players here.
        health.set_draining(true);
        tracing::info!("shutdown requested: refusing new clients, logging players out");
        let _ = serve_stop_tx.send(true);
    });
    tracing::info!(%listen, realm, "waygate starting: first registry refresh and fencing heartbeat");
    let served = serve(gateway, listener, serve_stop_rx).await;
    // The last logouts out to NATS before the ops listeners go.
    if let Cluster::ToCloud9(adapters) = &cluster {
        adapters.stop().await;
    }
    // The ops listeners answered (503) while players were logged out; now they stop.
    let _ = ops_stop_tx.send(true);
    for task in ops_tasks {
        let _ = tokio::time::timeout(Duration::from_millis(OPS_STOP_TIMEOUT_MS), task).await;
    }
    let report = served.map_err(|e| failed("serve failed", &e))?;
    tracing::info!(?report, "waygate stopped");
    Ok(())
}

/// How often the registry's gateway id is compared with the one NATS runs under.
const GATEWAY_ID_CHECK_MS: u64 = 5_000;

/// Follows the registry's gateway id: when the registry registered this gateway again under
/// another id, NATS publishes and listens (the whisper subject) under the new one. A move
/// that fails (the new id cannot be a subject, NATS refuses the subscription) is logged and
/// tried again at the next check.
async fn watch_gateway_id(
    registry: Arc<waygate::adapters::grpc::GrpcRegistry>,
    bus: Arc<waygate::adapters::nats::NatsBus>,
    started: String,
) {
    let mut current = started;
    loop {
        tokio::time::sleep(Duration::from_millis(GATEWAY_ID_CHECK_MS)).await;
        let now = registry.gateway_id();
        if now == current {
            continue;
        }
        tracing::warn!(old = %current, new = %now, "servers-registry registered this gateway again under a new id");
        match bus.follow_gateway_id(&now).await {
            Ok(()) => current = now,
            Err(e) => tracing::error!(error = %e, "NATS could not move to the gateway's new id"),
        }
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener, ExitCode> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        tracing::error!("cannot listen on {addr} ({what}): {e}");
        eprintln!("waygate: cannot listen on {addr} ({what}): {e}");
        ExitCode::from(EXIT_FAILURE)
    })
}

/// The ops listeners, bound.
struct OpsListeners {
    ops: Option<tokio::net::TcpListener>,
    admin: Option<tokio::net::TcpListener>,
}

async fn bind_ops(settings: &OpsSettings) -> Result<OpsListeners, ExitCode> {
    let ops = match settings.listen {
        Some(addr) => Some(bind(addr, "ops listener").await?),
        None => None,
    };
    let admin = match settings.admin_listen {
        Some(addr) => Some(bind(addr, "admin listener").await?),
        None => None,
    };
    Ok(OpsListeners { ops, admin })
}

/// Serves the bound ops listeners until `stop`.
fn serve_ops(
    listeners: OpsListeners,
    ops: Ops,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let local =
        |l: &tokio::net::TcpListener| l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    if let Some(listener) = listeners.admin {
        tracing::info!(listener = "admin", local = %local(&listener), "ops listening: admin (drain, undrain, layer switch)");
        let gateway = ops.gateway.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = ops::serve_admin(listener, gateway, stop).await {
                tracing::error!(error = %e, "admin listener failed");
            }
        }));
    }
    if let Some(listener) = listeners.ops {
        tracing::info!(listener = "ops", local = %local(&listener), "ops listening: /healthcheck /livez /readyz /metrics");
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = ops::serve(listener, ops, stop).await {
                tracing::error!(error = %e, "ops listener failed");
            }
        }));
    }
    tasks
}

/// SIGTERM or Ctrl-C, registered up front.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            let mut term = self.term;
            tokio::select! {
                biased;
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn waygate_demo(bots: usize) -> ExitCode {
    init_tracing(&LogSettings {
        json: false,
        filter: "warn".into(),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("waygate: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(waygate::demo::run(bots)) {
        Ok(summary) => {
            print!("{}", summary.table());
            if summary.bots_ok == summary.bots {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
        Err(e) => {
            eprintln!("waygate: demo could not start: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
