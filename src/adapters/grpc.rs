//! ToCloud9's gRPC services: the `v1` contracts (compiled from `proto/` by `build.rs`) and the
//! adapters over them.

/// ToCloud9's `v1` package: messages, clients and servers of all nine services.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("v1");
}
