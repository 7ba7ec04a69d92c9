//! Scenario files (`scenarios/*.toml`): topology, bots and their scripts, a fault timeline
//! in virtual time, and expectations.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use waygate::session::SessionConfig;

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name (the file stem).
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Virtual time the whole run may take; past it the run fails.
    pub time_limit_ms: u64,
    /// Liveness bound: every bot must have finished its script by then.
    pub slo_ms: u64,
    /// Session limits for the gateway under test.
    #[serde(default)]
    pub session: SessionConfig,
    /// Worldservers.
    pub worldservers: Vec<WorldserverSpec>,
    /// Groups of bots.
    pub bots: Vec<BotGroup>,
    /// Faults, in virtual time.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// What must hold at the end.
    #[serde(default)]
    pub expect: Expect,
    /// Longest wait of a bot for any one awaited reply (a loading screen included).
    #[serde(default = "default_bot_step_timeout_ms")]
    pub bot_step_timeout_ms: u64,
    /// Faults drawn from the seed, on top of `faults`.
    #[serde(default)]
    pub swarm: Option<Swarm>,
    /// Gateways of the realm (1 to [`GATEWAYS_MAX`]), sharing one fencing store. A bot's
    /// connections go to the group's `gateway`, or hop: connection `k` of attempt `a` of bot
    /// `i` goes to gateway `(i + a + k) % gateways`.
    #[serde(default = "one")]
    pub gateways: u32,
    /// The gateways' presentation runs on simulated cluster services
    /// (`waygate::peers::services`): whispers and guild chat go through a chatserver and a
    /// guildserver that deliver them to the gateways that have their receivers in world, and
    /// a groupserver hears the players' state and tells their group members. Off: no cluster
    /// services, everything goes to the worldserver.
    #[serde(default)]
    pub chat_service: bool,
}

fn one() -> u32 {
    1
}

/// Gateways a scenario may run.
pub const GATEWAYS_MAX: u32 = 4;

fn default_bot_step_timeout_ms() -> u64 {
    20_000
}

/// Faults drawn from the seed: each hits a random worldserver at a random time inside the
/// window and is healed (restart, heal, undrain, back to speed...) at most `fault_max_ms`
/// later, so everything is healed by `until_ms + fault_max_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// How many faults.
    pub faults: u32,
    /// Window start.
    pub from_ms: u64,
    /// Window end.
    pub until_ms: u64,
    /// Longest fault.
    pub fault_max_ms: u64,
    /// Worldservers never faulted (the fallback that serves every map, say).
    #[serde(default)]
    pub spare: Vec<String>,
}

/// A fake worldserver in the topology.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldserverSpec {
    /// Registry id.
    pub id: String,
    /// Maps it owns; empty means every map.
    #[serde(default)]
    pub maps: Vec<u32>,
    /// Network latency added to its packets.
    #[serde(default)]
    pub latency_ms: u64,
    /// Its idle timeout with a player in world (AzerothCore's `SocketTimeOutTimeActive`): a
    /// connection that brings no packet (pings aside) for this long is closed and its player
    /// lingers. Default: the fake's own, 60,000.
    #[serde(default)]
    pub idle_in_world_ms: Option<u64>,
    /// The gateway's connections to it close, as it sees them, only once a partition that
    /// cuts it off has healed (a real network carries no FIN across a partition; madsim's
    /// sockets would show the close at once). Off: direct connections, as always.
    #[serde(default)]
    pub partition_hides_close: bool,
    /// An in-world player's health changes this often, each change an object update
    /// (`waygate::peers::worldserver::ticked_health`). Default: never.
    #[serde(default)]
    pub health_tick_ms: u64,
}

/// A group of bots with one script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotGroup {
    /// How many.
    pub count: u32,
    /// The map their characters start on.
    pub map: u32,
    /// The group's first bot may start this long after the run began.
    #[serde(default)]
    pub start_after_ms: u64,
    /// Each bot starts at `start_after_ms` plus an offset drawn from the seed in
    /// `[0, start_spread_ms)`.
    #[serde(default)]
    pub start_spread_ms: u64,
    /// What each bot does.
    pub script: Vec<Step>,
    /// A bot whose script fails reconnects and starts it again, this many times at most (a
    /// player who logs back in).
    #[serde(default)]
    pub retries: u32,
    /// How long a bot waits before it starts again (a player reconnecting).
    #[serde(default = "default_retry_pause_ms")]
    pub retry_pause_ms: u64,
    /// The group's bots play the accounts and characters of this earlier group's bots, bot
    /// for bot (the same player logging in twice); the groups have the same count.
    #[serde(default)]
    pub twin_of: Option<usize>,
    /// Every connection of the group's bots goes to this gateway (else they hop).
    #[serde(default)]
    pub gateway: Option<u32>,
    /// The guild the group's characters are members of (0: none); the simulated guild
    /// service (`chat_service`) carries its guild chat.
    #[serde(default)]
    pub guild: u32,
    /// The group the group's characters are members of (0: none); the simulated
    /// groupserver (`chat_service`) tells each member of the others' state.
    #[serde(default)]
    pub party: u32,
}

fn default_retry_pause_ms() -> u64 {
    2_000
}

/// A bot script step (see `waygate::peers::bot::BotStep`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Handshake with the cipher.
    Authenticate,
    /// Account data times, character list, realm split.
    CharacterScreen,
    /// Log in and wait until in world.
    EnterWorld,
    /// Log in a character the realm must refuse, and expect SMSG_CHARACTER_LOGIN_FAILED with
    /// `code` within the gateway's login bound (see
    /// `waygate::session::SessionConfig::login_answer_max_ms`).
    EnterWorldRefused {
        /// The code expected (0x4E: no worldserver serves the map).
        code: u8,
    },
    /// Movement packets at an interval.
    Chatter {
        /// How many.
        packets: u32,
        /// Between two.
        interval_ms: u64,
        /// Body size.
        #[serde(default = "default_body_bytes")]
        body_bytes: usize,
    },
    /// Teleport to a map (possibly owned by another worldserver).
    ChangeMap {
        /// Destination map.
        map: u32,
        /// Destination.
        x: f32,
        /// Destination.
        y: f32,
        /// Destination.
        z: f32,
    },
    /// Teleport, and quit after the worldport ack (see
    /// `waygate::peers::bot::BotStep::AbandonChangeMap`).
    AbandonChangeMap {
        /// Destination map.
        map: u32,
        /// Destination.
        x: f32,
        /// Destination.
        y: f32,
        /// Destination.
        z: f32,
        /// The close comes this long after the ack, at most (drawn from the bot's seed).
        leave_within_ms: u64,
    },
    /// Log out to the character screen.
    Logout,
    /// Drop the connection.
    Disconnect,
    /// Play on until evicted by a newer login of the account, told why (see
    /// `waygate::peers::bot::BotStep::AwaitEviction`).
    AwaitEviction {
        /// How long the bot waits for it.
        within_ms: u64,
    },
    /// Whisper lines to another bot's character (needs `chat_service`): the bot `to_next`
    /// places after this one, counting every bot of the file in order and wrapping.
    Whisper {
        /// Which bot, counted from this one.
        to_next: usize,
        /// How many lines.
        count: u32,
        /// Between two.
        interval_ms: u64,
    },
    /// Lines in guild chat (needs `chat_service` and a `guild`).
    GuildChat {
        /// How many lines.
        count: u32,
        /// Between two.
        interval_ms: u64,
    },
    /// Drop the connection and connect again `after_ms` later (the player's client
    /// restarts); the steps after it run on the new connection.
    Reconnect {
        /// Pause before the new connection.
        after_ms: u64,
    },
}

fn default_body_bytes() -> usize {
    32
}

/// A fault at a point in virtual time. (Unknown keys are refused by the flattened kind.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Fault {
    /// When.
    pub at_ms: u64,
    /// What.
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// Fault kinds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// The worldserver's world loop slows down.
    SlowWorld {
        /// Which worldserver.
        target: String,
        /// Extra time per world update.
        world_update_ms: u64,
    },
    /// The worldserver process dies: every connection drops, nothing lingers.
    Crash {
        /// Which worldserver.
        target: String,
    },
    /// The network between the worldserver and everyone else stops carrying packets (no
    /// close is seen; madsim delays, never drops).
    Partition {
        /// Which worldserver.
        target: String,
    },
    /// The partition heals.
    Heal {
        /// Which worldserver.
        target: String,
    },
    /// The gateway starts draining the worldserver: its players are moved away.
    Drain {
        /// Which worldserver.
        target: String,
    },
    /// The registry takes a map away from the worldserver: it warns its players, then sends
    /// an unsolicited READY_FOR_REDIRECT (shortened warning in the simulator: 5 s).
    ReassignMap {
        /// Which worldserver.
        target: String,
        /// The map.
        map: u32,
    },
    /// A crashed worldserver comes back, empty.
    Restart {
        /// Which worldserver.
        target: String,
    },
    /// The worldserver stops accepting logins (world closed).
    RefuseLogins {
        /// Which worldserver.
        target: String,
        /// Refuse or accept again.
        refuse: bool,
    },
    /// The gateway stops draining the worldserver.
    Undrain {
        /// Which worldserver.
        target: String,
    },
    /// The worldserver's character saves hang: PREPARE_FOR_REDIRECT goes unanswered.
    IgnorePrepare {
        /// Which worldserver.
        target: String,
        /// Hang or answer again.
        ignore: bool,
    },
    /// Every character in world on the worldserver is asked to switch to `to`'s layer of its
    /// map.
    SwitchLayer {
        /// Which worldserver the players leave.
        target: String,
        /// Where they go.
        to: String,
    },
    /// The registry stops (or starts again) answering.
    Registry {
        /// Whether it answers.
        reachable: bool,
    },
    /// One gateway loses (or gets back) its way to the realm's fencing store.
    FenceStore {
        /// Which gateway (0 is the first).
        gateway: u32,
        /// Whether it reaches the store.
        reachable: bool,
    },
}

impl FaultKind {
    /// The worldserver the fault hits, if it hits one.
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::SlowWorld { target, .. }
            | Self::RefuseLogins { target, .. }
            | Self::IgnorePrepare { target, .. }
            | Self::SwitchLayer { target, .. }
            | Self::Crash { target }
            | Self::Restart { target }
            | Self::Partition { target }
            | Self::Heal { target }
            | Self::Drain { target }
            | Self::Undrain { target }
            | Self::ReassignMap { target, .. } => Some(target),
            Self::Registry { .. } | Self::FenceStore { .. } => None,
        }
    }
}

/// What must hold at the end of a run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Bots that must finish their script without an error (default: all).
    pub bots_ok: Option<u32>,
    /// Logins completed, counted by the bots.
    pub logins: Option<u32>,
    /// Handoffs completed, counted by the bots.
    pub handoffs: Option<u32>,
    /// At least this many new characters admitted by a worldserver while another one that
    /// could have taken them was drained (the drain checker's evidence that the run pressed
    /// on "a drained worldserver admits nobody"; see `check::drain`).
    pub logins_while_drained: Option<u32>,
    /// At least this many new characters admitted by a worldserver while another one that
    /// could have taken them was closed by the health rule (a slow world): the evidence that
    /// the run pressed on "a degraded worldserver admits nobody new" (see `check::admission`).
    pub logins_while_closed: Option<u32>,
    /// At least this many new characters admitted by a worldserver after a window in which
    /// the health rule closed it had ended (the world fast again): the evidence that a
    /// degraded worldserver is let admit again (see `check::admission`).
    pub logins_after_reopen: Option<u32>,
    /// Bots that may finish their script cleanly, at most (two logins of one account at
    /// once: only the newer may).
    pub bots_ok_max: Option<u32>,
    /// Bots evicted by a newer login of their account and told why, exactly.
    pub evicted: Option<u32>,
    /// At least this many whispers reached their receiver while it was moving between
    /// worldservers (by the receiving bot: between its teleport and its return to world, or
    /// on a loading screen it did not ask for): the evidence that the run pressed on "a
    /// whisper during a redirect is delivered" (see `check::whispers`).
    pub whispers_while_moving: Option<u32>,
    /// At least this many party frames of members on other worldservers reached the bots:
    /// the evidence that the run's party frames were live (see `check::party_frames`).
    pub party_frames: Option<u32>,
    /// At least this many guild lines reached other members, counted by the receiving bots:
    /// the evidence that the run's guild chat went through (see `check::guild_chat`).
    pub guild_lines_received: Option<u32>,
    /// At least this many characters in world (lingering included) on a partitioned
    /// worldserver, by its own count, at every heal of its partition: the evidence that the
    /// run pressed on "it still holds them when the partition heals" (see
    /// `check::held_at_heal`).
    pub held_at_heal: Option<u32>,
}

/// A scenario file that cannot be used.
#[derive(Debug)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Scenario {
    /// Parses a scenario's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let s: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError(format!("{origin}: {e}")))?;
        if s.worldservers.is_empty() {
            return Err(ScenarioError(format!("{origin}: no worldservers")));
        }
        if s.bots.iter().map(|g| g.count).sum::<u32>() == 0 {
            return Err(ScenarioError(format!("{origin}: no bots")));
        }
        if let Some(w) = &s.swarm
            && (w.faults == 0 || w.until_ms <= w.from_ms || w.fault_max_ms == 0)
        {
            return Err(ScenarioError(format!(
                "{origin}: swarm needs faults > 0, until_ms > from_ms and fault_max_ms > 0"
            )));
        }
        if s.gateways == 0 || s.gateways > GATEWAYS_MAX {
            return Err(ScenarioError(format!(
                "{origin}: gateways must be 1 to {GATEWAYS_MAX}"
            )));
        }
        for (i, g) in s.bots.iter().enumerate() {
            if g.gateway.is_some_and(|n| n >= s.gateways) {
                return Err(ScenarioError(format!(
                    "{origin}: bot group {i} names gateway {:?} of {}",
                    g.gateway, s.gateways
                )));
            }
            if let Some(t) = g.twin_of
                && (t >= i || s.bots[t].count != g.count || s.bots[t].twin_of.is_some())
            {
                return Err(ScenarioError(format!(
                    "{origin}: bot group {i} is twin_of {t}: it must be an earlier group of the same count that is not itself a twin"
                )));
            }
        }
        if let Some(f) = s.faults.iter().find(
            |f| matches!(f.kind, FaultKind::FenceStore { gateway, .. } if gateway >= s.gateways),
        ) {
            return Err(ScenarioError(format!(
                "{origin}: fault at {} ms names a gateway the scenario does not run",
                f.at_ms
            )));
        }
        if s.slo_ms > s.time_limit_ms {
            return Err(ScenarioError(format!(
                "{origin}: slo_ms exceeds time_limit_ms"
            )));
        }
        Ok(s)
    }

    /// Loads `dir/<name>.toml`.
    pub fn load(dir: &Path, name: &str) -> Result<Self, ScenarioError> {
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ScenarioError(format!("{}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Bots in all groups.
    pub fn bot_count(&self) -> u32 {
        self.bots.iter().map(|g| g.count).sum()
    }
}

/// The scenario names in `dir`, sorted.
pub fn list(dir: &Path) -> Result<Vec<String>, ScenarioError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ScenarioError(format!("{}: {e}", dir.display())))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p: PathBuf| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
    }

    #[test]
    fn every_scenario_file_parses_and_is_named_after_its_file() {
        let names = list(&dir()).expect("scenarios dir");
        assert!(names.len() >= 2);
        for name in names {
            let s = Scenario::load(&dir(), &name).expect("parses");
            assert_eq!(s.name, name);
        }
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_reason() {
        let e = Scenario::parse("name = 1", "x").expect_err("bad");
        assert!(e.0.starts_with("x:"));
        let text = std::fs::read_to_string(dir().join("login_logout.toml")).expect("read");
        let e = Scenario::parse(&text.replace("slo_ms = 60_000", "slo_ms = 600_000"), "y")
            .expect_err("slo over limit");
        assert!(e.0.contains("slo_ms"));
    }
}
