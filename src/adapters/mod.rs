//! Real external systems behind the seams (DESIGN.md section 2): ToCloud9's gRPC services,
//! the auth DB and NATS. Each implements a seam of `crate::runtime`; nothing in the protocol
//! core knows they exist.
//!
//! What talks to real tokio internally (sqlx, async-nats) is compiled out of the simulator,
//! which replaces it with an in-memory seam; the gRPC adapters run there too, on madsim-tonic.

pub mod grpc;

#[cfg(not(madsim))]
pub mod auth_db;

#[cfg(not(madsim))]
pub mod fence_kv;

#[cfg(not(madsim))]
pub mod nats;

#[cfg(not(madsim))]
pub mod tocloud9;
