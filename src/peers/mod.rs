//! Protocol peers of the gateway, written against tokio names so they run on real sockets
//! (tests, `waygate demo`, `ci/bench`) and on madsim's simulated sockets unchanged:
//!
//! - [`worldserver`]: a fake ToCloud9 cluster-mode AzerothCore worldserver that reproduces
//!   PROTOCOL.md section 3, awkward behaviours included, with fault knobs;
//! - [`bot`]: a game client that runs the full handshake with the header cipher, plays a
//!   script, and checks independently that every header it receives decrypts;
//! - [`registry`]: a servers-registry over fake worldservers (who is up, how slow their
//!   world loop runs, outages);
//! - [`services`]: a fake chatserver and guildserver behind presentation's seam, carrying
//!   whispers and guild chat between the characters in world on a realm's gateways.
//!
//! They live in the library rather than in `sim/` because the `waygate demo` command of the
//! root binary runs them, and `sim` depends on this crate.

pub mod bot;
pub mod registry;
pub mod services;
pub mod worldserver;
