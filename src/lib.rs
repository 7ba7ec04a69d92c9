//! Waygate: a cluster gateway for World of Warcraft 3.3.5a realms on AzerothCore worldservers
//! clustered with ToCloud9.
//!
//! The protocol core (`wire`, and later `session`, `cluster`, `present`) does no I/O and reads
//! no clock or global RNG; see `../shared/DESIGN.md` for the architecture.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapters;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod driver;
#[cfg(not(madsim))]
pub mod ops;
pub mod peers;
pub mod present;
pub mod runtime;
pub mod session;
pub mod wire;
