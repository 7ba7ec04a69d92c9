//! Values as ToCloud9's loader reads them: environment text the way Go parses it, YAML
//! nodes the way yaml.v3 decodes them, and the `gateway:` map of a config file.

use serde_yaml_ng::Value as Yaml;

use super::keys::{KEYS, Key, Kind};
use crate::config::ConfigError;
use crate::config::goparse;

/// A value of one of the Go types, before checking.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Raw {
    Str(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Level(i8),
}

impl Raw {
    pub(super) fn zero(kind: Kind) -> Self {
        match kind {
            Kind::Str => Self::Str(String::new()),
            Kind::Int => Self::Int(0),
            Kind::Uint32 => Self::Uint(0),
            Kind::Bool => Self::Bool(false),
            Kind::Level => Self::Level(0),
        }
    }

    pub(super) fn is_zero(&self) -> bool {
        match self {
            Self::Str(s) => s.is_empty(),
            Self::Int(n) => *n == 0,
            Self::Uint(n) => *n == 0,
            Self::Bool(b) => !b,
            Self::Level(l) => *l == 0,
        }
    }
}

/// Longest value text repeated in an error message.
const SHOWN_VALUE_MAX_CHARS: usize = 64;

/// A value as an error message may show it: never the DSN, long values cut.
pub(super) fn show(key: &Key, text: &str) -> String {
    if key.env == "AUTH_DB_CONNECTION" {
        return "(value hidden: it may hold a password)".into();
    }
    if text.chars().count() > SHOWN_VALUE_MAX_CHARS {
        let cut: String = text.chars().take(SHOWN_VALUE_MAX_CHARS).collect();
        return format!("{cut:?}...");
    }
    format!("{text:?}")
}

/// How Go reads the variable's text into the key's type.
pub(super) fn parse_env_text(key: &Key, text: &str) -> Result<Raw, String> {
    match key.kind {
        Kind::Str => Ok(Raw::Str(text.to_owned())),
        Kind::Int => goparse::parse_int(text, 64)
            .map(Raw::Int)
            .map_err(|e| format!("{} is {e} (Go syntax: 42, 0x2A, 0o52)", show(key, text))),
        Kind::Uint32 => goparse::parse_uint(text, 32).map(Raw::Uint).map_err(|e| {
            format!(
                "{} is {e} (a whole number from 0 to 4294967295)",
                show(key, text)
            )
        }),
        Kind::Bool => goparse::parse_bool(text).map(Raw::Bool).ok_or_else(|| {
            format!(
                "{} is not a boolean (true, false, 1, 0, t, f, TRUE, FALSE, True, False)",
                show(key, text)
            )
        }),
        Kind::Level => goparse::parse_zerolog_level(text)
            .map(Raw::Level)
            .ok_or_else(|| {
                format!(
                    "{} is not a log level (trace, debug, info, warn, error, fatal, panic, \
                     disabled, or a number from -128 to 127)",
                    show(key, text)
                )
            }),
    }
}

/// What a YAML node is, for messages.
fn yaml_kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(n) if n.is_f64() => "a fractional number",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a map",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// How yaml.v3 decodes a node into the key's Go type (null leaves the zero value).
pub(super) fn decode_yaml(key: &Key, node: &Yaml) -> Result<Raw, String> {
    let node = match node {
        Yaml::Tagged(t) => &t.value,
        other => other,
    };
    if let Yaml::Null = node {
        return Ok(Raw::zero(key.kind));
    }
    let scalar_text = || -> Option<String> {
        match node {
            Yaml::String(s) => Some(s.clone()),
            Yaml::Number(n) => Some(n.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match key.kind {
        Kind::Str => scalar_text()
            .map(Raw::Str)
            .ok_or_else(|| format!("expected a string, found {}", yaml_kind(node))),
        Kind::Int => match node {
            Yaml::Number(n) => n
                .as_i64()
                .map(Raw::Int)
                .ok_or_else(|| format!("{n} is not a whole number that fits in 64 bits")),
            other => Err(format!(
                "expected a whole number, found {}",
                yaml_kind(other)
            )),
        },
        Kind::Uint32 => match node {
            Yaml::Number(n) => n
                .as_u64()
                .filter(|&v| v <= u64::from(u32::MAX))
                .map(Raw::Uint)
                .ok_or_else(|| format!("{n} is not a whole number from 0 to 4294967295")),
            other => Err(format!(
                "expected a whole number, found {}",
                yaml_kind(other)
            )),
        },
        Kind::Bool => match node {
            Yaml::Bool(b) => Ok(Raw::Bool(*b)),
            Yaml::String(s) => goparse::parse_yaml11_bool(s)
                .map(Raw::Bool)
                .ok_or_else(|| format!("{s:?} is not a boolean (true or false)")),
            other => Err(format!(
                "expected true or false, found {}",
                yaml_kind(other)
            )),
        },
        Kind::Level => {
            let text = scalar_text()
                .ok_or_else(|| format!("expected a log level, found {}", yaml_kind(node)))?;
            goparse::parse_zerolog_level(&text)
                .map(Raw::Level)
                .ok_or_else(|| {
                    format!(
                        "{text:?} is not a log level (trace, debug, info, warn, error, fatal, \
                         panic, disabled, or a number from -128 to 127)"
                    )
                })
        }
    }
}

/// Longest config file read, bytes.
pub const CONFIG_FILE_MAX_BYTES: usize = 1 << 20;

/// The `gateway:` map of a ToCloud9 `config.yml`, merges applied, with what was ignored.
#[derive(Debug, Clone, Default)]
pub struct YamlGateway {
    gateway: Option<serde_yaml_ng::Mapping>,
    /// Keys under `gateway:` that are not ToCloud9 gateway keys (ToCloud9 ignores them too).
    pub unknown_keys: Vec<String>,
}

impl YamlGateway {
    /// Parses a file's text. `name` (the file's path) starts every error.
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let bad = |why: String| ConfigError(format!("{name}: {why}"));
        if text.len() > CONFIG_FILE_MAX_BYTES {
            return Err(bad(format!(
                "larger than {CONFIG_FILE_MAX_BYTES} bytes; not a gateway config"
            )));
        }
        // yaml.v3's decoder reads the first document only.
        let first = serde_yaml_ng::Deserializer::from_str(text).next();
        let mut doc: Yaml = match first {
            Some(d) => serde::Deserialize::deserialize(d)
                .map_err(|e| bad(format!("not valid YAML: {e}")))?,
            None => Yaml::Null,
        };
        if let Yaml::Null = doc {
            return Err(bad(
                "holds no YAML document (ToCloud9 refuses an empty config file too)".into(),
            ));
        }
        doc.apply_merge()
            .map_err(|e| bad(format!("a `<<` merge is malformed: {e}")))?;
        let Yaml::Mapping(mut top) = doc else {
            return Err(bad(format!(
                "the top level must be a map holding `gateway:`, not {}",
                yaml_kind(&doc)
            )));
        };
        let gateway = match top.remove("gateway") {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Mapping(m)) => Some(m),
            Some(other) => {
                return Err(bad(format!(
                    "gateway: expected a map of settings, found {}",
                    yaml_kind(&other)
                )));
            }
        };
        let mut parsed = Self {
            gateway,
            unknown_keys: Vec::new(),
        };
        parsed.find_unknown_keys(name)?;
        Ok(parsed)
    }

    fn find_unknown_keys(&mut self, name: &str) -> Result<(), ConfigError> {
        let Some(map) = &self.gateway else {
            return Ok(());
        };
        let known_top = |k: &str| KEYS.iter().any(|key| key.yaml == k) || k == "logging";
        for (k, v) in map {
            let Some(k) = k.as_str() else {
                self.unknown_keys.push(format!("gateway.{}", key_text(k)));
                continue;
            };
            if !known_top(k) {
                self.unknown_keys.push(format!("gateway.{k}"));
            }
            if k == "logging" {
                match v {
                    Yaml::Null => {}
                    Yaml::Mapping(logging) => {
                        for (lk, _) in logging {
                            let lk = lk.as_str().map_or_else(|| key_text(lk), str::to_owned);
                            if lk != "level" && lk != "format" {
                                self.unknown_keys.push(format!("gateway.logging.{lk}"));
                            }
                        }
                    }
                    other => {
                        return Err(ConfigError(format!(
                            "{name}: gateway.logging: expected a map (level, format), found {}",
                            yaml_kind(other)
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The node at `path` (`port`, `logging.level`) under `gateway:`, if present.
    pub(super) fn node(&self, path: &str) -> Option<&Yaml> {
        let map = self.gateway.as_ref()?;
        match path.split_once('.') {
            Some((outer, inner)) => match map.get(outer)? {
                Yaml::Mapping(m) => m.get(inner),
                _ => None,
            },
            None => map.get(path),
        }
    }
}

fn key_text(k: &Yaml) -> String {
    match k {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => yaml_kind(other).to_owned(),
    }
}
