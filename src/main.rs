//! The `waygate` command: thin. Config -> tracing -> build -> serve -> signal -> drain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use waygate::config::{self, Config, LogSettings, Mode, OpsSettings, Places, ProcessEnv, Resolved};
use waygate::driver::{AdapterErrors, Gateway, serve};
use waygate::ops::{self, Health, Ops};
use waygate::runtime::{Entropy, Seams};

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
    match resolved.mode {
        Mode::Embedded(cfg) => run_embedded(*cfg, ops),
        Mode::ToCloud9(_) => {
            tracing::error!(
                "the ToCloud9 cluster mode is configured and valid (see `waygate check-config`), \
                 but its adapters (registry, characters, auth DB, NATS) are not wired into \
                 `serve` yet; run the embedded mode with a .toml config"
            );
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run_embedded(cfg: Config, ops_settings: OpsSettings) -> ExitCode {
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
    runtime.block_on(async move {
        let entropy = match Entropy::from_os() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("waygate: cannot seed from the OS: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        let cluster = Arc::new(cfg.cluster());
        let gateway = Gateway::new(Seams::embedded(cluster), cfg.driver_config(), entropy);
        let listener = match tokio::net::TcpListener::bind(cfg.gateway.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("waygate: cannot listen on {}: {e}", cfg.gateway.listen);
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        // Nothing to register with and the accounts are in the file: ready at once.
        let health = Health::embedded();
        let (ops_stop_tx, ops_stop_rx) = tokio::sync::watch::channel(false);
        let ops_tasks = match start_ops(
            ops_settings,
            &gateway,
            &health,
            AdapterErrors::default(),
            &ops_stop_rx,
        )
        .await
        {
            Ok(tasks) => tasks,
            Err(code) => return code,
        };
        // Signal handlers are installed before the gateway says it is serving, so a SIGTERM
        // that follows the "serving" line is always a polite shutdown.
        let signals = match Signals::install() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("waygate: cannot install signal handlers: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let draining = health.clone();
        tokio::spawn(async move {
            signals.wait().await;
            // /healthcheck answers 503 from now: the registry stops sending players here.
            draining.set_draining(true);
            tracing::info!("shutdown requested: refusing new clients, logging players out");
            let _ = stop_tx.send(true);
        });
        tracing::info!(listen = %cfg.gateway.listen, realm = cfg.gateway.realm_id, "waygate serving");
        let served = serve(gateway, listener, stop_rx).await;
        // The ops listeners answered (503) while players were logged out; now they stop.
        let _ = ops_stop_tx.send(true);
        for task in ops_tasks {
            let _ = tokio::time::timeout(Duration::from_millis(OPS_STOP_TIMEOUT_MS), task).await;
        }
        match served {
            Ok(report) => {
                tracing::info!(?report, "waygate stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "serve failed");
                ExitCode::from(EXIT_FAILURE)
            }
        }
    })
}

/// Binds and starts the configured ops listeners.
async fn start_ops(
    settings: OpsSettings,
    gateway: &Arc<Gateway>,
    health: &Health,
    adapter_errors: AdapterErrors,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ExitCode> {
    let bind = |addr, what: &'static str| async move {
        tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            eprintln!("waygate: cannot listen on {addr} ({what}): {e}");
            ExitCode::from(EXIT_FAILURE)
        })
    };
    let mut tasks = Vec::new();
    if let Some(addr) = settings.listen {
        let listener = bind(addr, "ops listener").await?;
        let local = listener.local_addr().map_or(addr, |a| a);
        tracing::info!(listener = "ops", %local, "ops listening: /healthcheck /livez /readyz /metrics");
        let ops = Ops {
            gateway: gateway.clone(),
            health: health.clone(),
            adapter_errors,
        };
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = ops::serve(listener, ops, stop).await {
                tracing::error!(error = %e, "ops listener failed");
            }
        }));
    }
    if let Some(addr) = settings.admin_listen {
        let listener = bind(addr, "admin listener").await?;
        let local = listener.local_addr().map_or(addr, |a| a);
        tracing::info!(listener = "admin", %local, "ops listening: admin (drain, undrain, layer switch)");
        let gateway = gateway.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = ops::serve_admin(listener, gateway, stop).await {
                tracing::error!(error = %e, "admin listener failed");
            }
        }));
    }
    Ok(tasks)
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
