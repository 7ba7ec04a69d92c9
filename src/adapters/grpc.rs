//! ToCloud9's gRPC services: the `v1` contracts (compiled from `proto/` by `build.rs`) and the
//! adapters over them.
//!
//! - [`v1`]: messages, clients and servers of the nine services (servers-registry, characters,
//!   group with the section 7 extensions, guilds, chat, mail, matchmaking, worldserver sidecar,
//!   auctionhouse), one module as in ToCloud9 (`package v1;` everywhere).
//! - [`GrpcRegistry`]: the [`Registry`](crate::runtime::Registry) seam over
//!   `v1.ServersRegistryService`: registration at start, the worldserver list, re-registration
//!   when the registry forgot the gateway, map layers.
//! - [`GrpcCharacters`]: the [`Characters`](crate::runtime::Characters) seam over
//!   `v1.CharactersService`.
//! - [`GrpcServices`]: the [`PresentServices`](crate::runtime::PresentServices) seam:
//!   chatserver's whispers ([`GrpcChat`]), guildserver's guild chat ([`GrpcGuilds`]),
//!   groupserver's groups ([`GrpcGroups`]) and charserver's /who.
//!
//! Every call has a deadline; every failure is a [`SeamError`] naming the service, the RPC and
//! whether a retry may help. tonic is declared as `madsim-tonic`, so the same code runs over
//! madsim's simulated network under `--cfg madsim`.

mod characters;
mod chat;
mod groups;
mod guilds;
mod registry;
mod services;

use std::future::Future;
use std::time::Duration;

pub use characters::{AccountDataEntry, CharactersSettings, GrpcCharacters};
pub use chat::{ChatSettings, GrpcChat};
pub use groups::{GroupsSettings, GrpcGroups};
pub use guilds::{GrpcGuilds, GuildsSettings};
pub use registry::{GrpcRegistry, RegistrySettings};
pub use services::GrpcServices;

use crate::session::SeamError;

/// ToCloud9's `v1` package: messages, clients and servers of all nine services.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("v1");
}

/// What the gateway puts in every request's `api` field (CONTRACTS.md section 0; no service
/// checks it).
pub const API_VERSION: &str = "0.0.1";

/// Longest part of a service's error message kept in a [`SeamError`]: the text comes from
/// the network.
pub const STATUS_MESSAGE_MAX_BYTES: usize = 256;

/// A lazily connecting channel to `address` (`host:port`, as ToCloud9's config writes it, or
/// a full `http://` URI). Nothing is dialled until the first call; a call that cannot connect
/// fails with a retryable error. Needs a runtime (tokio or madsim).
fn lazy_channel(
    service: &'static str,
    address: &str,
    connect_timeout_ms: u64,
) -> Result<tonic::transport::Channel, SeamError> {
    let uri = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let endpoint = tonic::transport::Endpoint::from_shared(uri).map_err(|e| SeamError {
        service,
        detail: format!("bad address {address:?}: {e}"),
        retryable: false,
    })?;
    Ok(endpoint
        .connect_timeout(Duration::from_millis(connect_timeout_ms))
        .connect_lazy())
}

/// A request carrying its deadline to the server (`grpc-timeout`).
fn request<T>(message: T, timeout_ms: u64) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(Duration::from_millis(timeout_ms));
    request
}

/// Runs one unary call with a deadline of its own (the connect included), so a service that
/// hangs costs `timeout_ms` and no more.
async fn call<T>(
    service: &'static str,
    rpc: &'static str,
    timeout_ms: u64,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, SeamError> {
    match tokio::time::timeout(Duration::from_millis(timeout_ms), call).await {
        Err(_) => Err(SeamError {
            service,
            detail: format!("{rpc}: no answer within {timeout_ms} ms"),
            retryable: true,
        }),
        Ok(Err(status)) => Err(status_error(service, rpc, &status)),
        Ok(Ok(response)) => Ok(response.into_inner()),
    }
}

/// [`call`] for an RPC the service may not implement (the seed PR's extensions, CONTRACTS.md
/// section 7): `Ok(None)` when it answers UNIMPLEMENTED.
async fn call_extension<T>(
    service: &'static str,
    rpc: &'static str,
    timeout_ms: u64,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<Option<T>, SeamError> {
    match tokio::time::timeout(Duration::from_millis(timeout_ms), call).await {
        Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => Ok(None),
        Err(_) => Err(SeamError {
            service,
            detail: format!("{rpc}: no answer within {timeout_ms} ms"),
            retryable: true,
        }),
        Ok(Err(status)) => Err(status_error(service, rpc, &status)),
        Ok(Ok(response)) => Ok(Some(response.into_inner())),
    }
}

/// A gRPC status as a [`SeamError`]. Retryable: the service could not be reached or was
/// overloaded, the deadline passed, or it failed in a way ToCloud9's Go services report for
/// passing faults (a plain Go error arrives as `Unknown`: a database or Redis error). Final:
/// the service refused the request or does not implement the RPC, or its answer could not be
/// decoded (`Internal`).
fn status_error(service: &'static str, rpc: &'static str, status: &tonic::Status) -> SeamError {
    use tonic::Code;
    let retryable = matches!(
        status.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
    );
    let mut message = status.message();
    if message.len() > STATUS_MESSAGE_MAX_BYTES {
        let mut end = STATUS_MESSAGE_MAX_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message = &message[..end];
    }
    SeamError {
        service,
        detail: format!("{rpc}: {:?}: {message}", status.code()),
        retryable,
    }
}

/// A service answered something the gateway cannot use: a final error naming it.
fn bad_answer(service: &'static str, rpc: &'static str, detail: String) -> SeamError {
    SeamError {
        service,
        detail: format!("{rpc}: bad answer: {detail}"),
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_split_into_retryable_and_final() {
        let retryable = [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::Unknown,
            tonic::Code::ResourceExhausted,
        ];
        for code in retryable {
            let e = status_error(
                "registry",
                "ListAllGameServers",
                &tonic::Status::new(code, "x"),
            );
            assert!(e.retryable, "{code:?}");
            assert_eq!(e.service, "registry");
            assert!(e.detail.starts_with("ListAllGameServers: "), "{}", e.detail);
        }
        for code in [
            tonic::Code::Unimplemented,
            tonic::Code::InvalidArgument,
            tonic::Code::Internal,
            tonic::Code::NotFound,
        ] {
            let e = status_error("characters", "WhoQuery", &tonic::Status::new(code, "x"));
            assert!(!e.retryable, "{code:?}");
        }
    }

    #[test]
    fn a_long_status_message_is_cut_on_a_char_boundary() {
        let long = "é".repeat(STATUS_MESSAGE_MAX_BYTES);
        let e = status_error(
            "registry",
            "RegisterGateway",
            &tonic::Status::unavailable(long),
        );
        let kept = e.detail.rsplit(": ").next().unwrap_or_default();
        assert!(kept.len() <= STATUS_MESSAGE_MAX_BYTES);
        assert!(kept.len() >= STATUS_MESSAGE_MAX_BYTES - 1);
    }

    #[test]
    fn a_bad_address_is_a_final_error() {
        let e = lazy_channel("registry", "http://bad host:1", 10).expect_err("bad uri");
        assert!(!e.retryable);
        assert!(e.detail.contains("bad address"), "{}", e.detail);
    }
}
