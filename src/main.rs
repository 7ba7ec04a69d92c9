//! The `waygate` command: thin. Config -> tracing -> build -> serve -> signal -> drain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use waygate::config::{Config, ConfigError};
use waygate::driver::{DriverConfig, Gateway, serve};
use waygate::runtime::{Entropy, Seams};

/// Exit code for a usage or config error (EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// Exit code when the gateway could not start or stopped on an error.
const EXIT_FAILURE: u8 = 1;

const USAGE: &str = "\
usage: waygate <command>

commands:
  serve --config FILE   run the gateway (see README: config reference)
  demo [--bots N]       gateway + 3 fake worldservers + N bots (default 20) in one process,
                        through a degrade, a crash and a drain
  version               print the version and the client build spoken
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => match parse_serve(&args[1..]) {
            Ok(path) => serve_command(path),
            Err(msg) => usage_error(&msg),
        },
        Some("demo") => match parse_demo(&args[1..]) {
            Ok(bots) => waygate_demo(bots),
            Err(msg) => usage_error(&msg),
        },
        Some("version") => {
            println!(
                "waygate {} (client build {})",
                env!("CARGO_PKG_VERSION"),
                waygate::wire::auth::CLIENT_BUILD
            );
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown command `{other}`")),
        None => usage_error("no command given"),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("waygate: {msg}\n\n{USAGE}");
    ExitCode::from(EXIT_USAGE)
}

fn parse_serve(args: &[String]) -> Result<PathBuf, String> {
    match args {
        [flag, path] if flag == "--config" => Ok(PathBuf::from(path)),
        _ => Err("serve takes exactly `--config FILE`".into()),
    }
}

fn parse_demo(args: &[String]) -> Result<usize, String> {
    match args {
        [] => Ok(20),
        [flag, n] if flag == "--bots" => match n.parse::<usize>() {
            Ok(n) if (1..=2_000).contains(&n) => Ok(n),
            _ => Err(format!("--bots takes a number from 1 to 2000, not `{n}`")),
        },
        _ => Err("demo takes at most `--bots N`".into()),
    }
}

fn load_config(path: &PathBuf) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    Config::parse(&text)
}

fn init_tracing(format: &str, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve_command(path: PathBuf) -> ExitCode {
    let cfg = match load_config(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("waygate: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(&cfg.gateway.log_format, &cfg.gateway.log_level);
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
        let seams = Seams::embedded(cluster);
        let gateway = Gateway::new(
            seams,
            DriverConfig {
                session: cfg.session.clone(),
                max_connections: cfg.gateway.max_connections,
                write_timeout_ms: cfg.gateway.client_write_timeout_ms,
                shutdown_timeout_ms: cfg.gateway.shutdown_timeout_ms,
                cluster: cfg.cluster,
            },
            entropy,
        );
        let listener = match tokio::net::TcpListener::bind(cfg.gateway.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("waygate: cannot listen on {}: {e}", cfg.gateway.listen);
                return ExitCode::from(EXIT_FAILURE);
            }
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
        tokio::spawn(async move {
            signals.wait().await;
            tracing::info!("shutdown requested: refusing new clients, logging players out");
            let _ = stop_tx.send(true);
        });
        tracing::info!(listen = %cfg.gateway.listen, realm = cfg.gateway.realm_id, "waygate serving");
        match serve(gateway, listener, stop_rx).await {
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
    init_tracing("text", "warn");
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
