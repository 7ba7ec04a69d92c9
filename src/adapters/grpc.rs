//! ToCloud9's gRPC services: the `v1` contracts (compiled from `proto/`) and the adapters
//! over them.
