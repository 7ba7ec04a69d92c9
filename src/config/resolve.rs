//! Which configuration runs, found in ToCloud9's lookup order (CONTRACTS.md section 3):
//!
//! 1. the file given on the command line (`-c FILE` or `--config FILE`);
//! 2. the file named by `CONFIG_FILE`;
//! 3. `config.yml` in the working directory;
//! 4. `config.yml` next to the executable;
//! 5. no file: the environment only.
//!
//! An empty path at 1 or 2 counts as not given, as in ToCloud9. The file's extension
//! decides the mode: `.toml` is Waygate's own file (the embedded default: accounts,
//! characters and worldservers in the file; no environment variable is read), `.yml` and
//! `.yaml` are ToCloud9's (the `gateway:` map, then the environment, with cleanenv's rules).
//! No file at all is the ToCloud9 mode from the environment alone.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::tocloud9::{self, CONFIG_FILE_MAX_BYTES, Env, LogFormat, ToCloud9Config, YamlGateway};
use super::{Config, ConfigError};

/// The variable naming the config file (lookup step 2).
pub const CONFIG_FILE_ENV: &str = "CONFIG_FILE";
/// The file looked for in the working directory and next to the executable.
pub const DEFAULT_CONFIG_NAME: &str = "config.yml";

/// The places the lookup tries besides the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// `-c FILE` / `--config FILE`.
    pub flag: Option<PathBuf>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// The executable's directory.
    pub exe_dir: Option<PathBuf>,
}

impl Places {
    /// This process's places, with the command line's file.
    pub fn of_process(flag: Option<PathBuf>) -> Self {
        Self {
            flag,
            cwd: std::env::current_dir().ok(),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
        }
    }
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-c FILE` / `--config FILE`.
    Flag(PathBuf),
    /// `CONFIG_FILE`.
    ConfigFileEnv(PathBuf),
    /// `./config.yml`.
    WorkingDir(PathBuf),
    /// `config.yml` next to the executable.
    ExecutableDir(PathBuf),
    /// No file: environment variables and defaults.
    EnvOnly,
}

impl Source {
    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Flag(p)
            | Self::ConfigFileEnv(p)
            | Self::WorkingDir(p)
            | Self::ExecutableDir(p) => Some(p),
            Self::EnvOnly => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag(p) => write!(f, "{} (--config)", p.display()),
            Self::ConfigFileEnv(p) => write!(f, "{} ({CONFIG_FILE_ENV})", p.display()),
            Self::WorkingDir(p) => write!(f, "{} (working directory)", p.display()),
            Self::ExecutableDir(p) => write!(f, "{} (next to the executable)", p.display()),
            Self::EnvOnly => f.write_str("environment only (no config file found)"),
        }
    }
}

/// Finds the config file, in ToCloud9's order.
pub fn locate(places: &Places, env: &dyn Env) -> Result<Source, ConfigError> {
    if let Some(flag) = places.flag.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        return Ok(Source::Flag(flag.clone()));
    }
    if let Some(file) = env.var(CONFIG_FILE_ENV)?.filter(|s| !s.is_empty()) {
        return Ok(Source::ConfigFileEnv(PathBuf::from(file)));
    }
    if let Some(cwd) = &places.cwd {
        let path = cwd.join(DEFAULT_CONFIG_NAME);
        if path.exists() {
            return Ok(Source::WorkingDir(path));
        }
    }
    if let Some(dir) = &places.exe_dir {
        let path = dir.join(DEFAULT_CONFIG_NAME);
        if path.exists() {
            return Ok(Source::ExecutableDir(path));
        }
    }
    Ok(Source::EnvOnly)
}

/// Which gateway runs.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Waygate's TOML: the embedded default (no external service).
    Embedded(Box<Config>),
    /// A ToCloud9 cluster: ToCloud9's YAML and/or environment variables.
    ToCloud9(Box<ToCloud9Config>),
}

/// Logging settings, whichever the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON lines rather than text.
    pub json: bool,
    /// A tracing filter.
    pub filter: String,
}

/// The operations listeners, whichever the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpsSettings {
    /// `/healthcheck`, `/livez`, `/readyz`, `/metrics`; `None`: off.
    pub listen: Option<SocketAddr>,
    /// The admin listener (loopback only); `None`: off.
    pub admin_listen: Option<SocketAddr>,
}

/// The configuration to run, where it came from, and what was noticed on the way.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Where it came from.
    pub source: Source,
    /// What runs.
    pub mode: Mode,
    /// Things worth a warning (ignored keys), to log once logging is set up.
    pub warnings: Vec<String>,
}

impl Resolved {
    /// `embedded` or `tocloud9`.
    pub fn mode_name(&self) -> &'static str {
        match &self.mode {
            Mode::Embedded(_) => "embedded",
            Mode::ToCloud9(_) => "tocloud9",
        }
    }

    /// How to log.
    pub fn log(&self) -> LogSettings {
        match &self.mode {
            Mode::Embedded(c) => LogSettings {
                json: c.gateway.log_format == "json",
                filter: c.gateway.log_level.clone(),
            },
            Mode::ToCloud9(c) => LogSettings {
                json: c.log_format == LogFormat::Json,
                filter: c.tracing_filter(),
            },
        }
    }

    /// The operations listeners.
    pub fn ops(&self) -> OpsSettings {
        match &self.mode {
            Mode::Embedded(c) => OpsSettings {
                listen: c.ops.listen,
                admin_listen: c.ops.admin_listen,
            },
            Mode::ToCloud9(c) => OpsSettings {
                listen: Some(c.health_listen()),
                admin_listen: c.admin_listen,
            },
        }
    }

    /// Every setting as `key=value`, secrets masked.
    pub fn summary_lines(&self) -> Vec<String> {
        match &self.mode {
            Mode::Embedded(c) => c.summary_lines(),
            Mode::ToCloud9(c) => c.summary_lines(),
        }
    }

    /// Every setting on one line, secrets masked: what the gateway logs at start.
    pub fn summary(&self) -> String {
        self.summary_lines().join(" ")
    }
}

/// Finds and reads the configuration: the lookup, the file, the environment. Every error
/// names the key (or the file, or the variable).
pub fn resolve(places: &Places, env: &dyn Env) -> Result<Resolved, ConfigError> {
    let source = locate(places, env)?;
    let Some(path) = source.path() else {
        return Ok(Resolved {
            mode: Mode::ToCloud9(Box::new(tocloud9::resolve(None, env)?)),
            source,
            warnings: Vec::new(),
        });
    };
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (mode, warnings) = match ext.as_str() {
        "toml" => {
            let text = read_bounded(path, &source)?;
            let cfg = Config::parse(&text).map_err(|e| ConfigError(format!("{name}: {}", e.0)))?;
            (Mode::Embedded(Box::new(cfg)), Vec::new())
        }
        "yml" | "yaml" => {
            let text = read_bounded(path, &source)?;
            let yaml = YamlGateway::parse(&text, &name)?;
            let cfg = tocloud9::resolve(Some((&yaml, &name)), env)?;
            let warnings = yaml
                .unknown_keys
                .iter()
                .map(|k| format!("{name}: {k} is not a ToCloud9 gateway key; ignored"))
                .collect();
            (Mode::ToCloud9(Box::new(cfg)), warnings)
        }
        _ => {
            return Err(ConfigError(format!(
                "{source}: Waygate reads .toml (its own format) or .yml/.yaml (ToCloud9's), \
                 not {:?}",
                if ext.is_empty() {
                    "a file without an extension".to_owned()
                } else {
                    format!(".{ext}")
                }
            )));
        }
    };
    Ok(Resolved {
        source,
        mode,
        warnings,
    })
}

/// Reads a config file, at most [`CONFIG_FILE_MAX_BYTES`].
fn read_bounded(path: &Path, source: &Source) -> Result<String, ConfigError> {
    let cannot = |e: std::io::Error| ConfigError(format!("cannot read {source}: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(CONFIG_FILE_MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > CONFIG_FILE_MAX_BYTES {
        return Err(ConfigError(format!(
            "{source}: larger than {CONFIG_FILE_MAX_BYTES} bytes; not a gateway config"
        )));
    }
    String::from_utf8(bytes).map_err(|_| ConfigError(format!("{source}: not UTF-8 text")))
}
