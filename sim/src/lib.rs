//! `waygate-sim`: the deterministic cluster simulator.
//!
//! Scenario files describe a topology, bots and a fault timeline; [`runner::run`] (built with
//! `--cfg madsim`) plays one with one seed in a fresh madsim runtime and returns its
//! transcript, the transcript's FNV-1a hash and the failures its checkers found. The `sweep`
//! module runs every scenario over many seeds in worker processes ([`pool`]: constant memory)
//! and re-runs a share of them to check that the hash repeats.

#![allow(clippy::disallowed_methods)] // the sweep runs seeds in processes and threads of its own

pub mod check;
pub mod pool;
pub mod scenario;
pub mod transcript;

#[cfg(madsim)]
pub mod relay;
#[cfg(madsim)]
pub mod runner;
#[cfg(madsim)]
pub mod store;
#[cfg(madsim)]
pub mod sweep;
