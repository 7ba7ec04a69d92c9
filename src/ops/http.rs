//! The HTTP plumbing both listeners share: a bounded accept loop over hyper's HTTP/1
//! server, and small response and request helpers. Nothing a client sends can panic it:
//! hyper answers malformed requests itself, oversize headers get 431, oversize bodies 413.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Connections open at once on one listener; more are closed at accept.
pub const OPS_CONNECTIONS_MAX: usize = 64;
/// A request's headers must arrive within this; a client that dawdles is disconnected.
pub const OPS_HEADER_READ_TIMEOUT_MS: u64 = 5_000;
/// A connection is closed this long after it opened, whatever it is doing (keep-alive
/// included).
pub const OPS_CONNECTION_MAX_MS: u64 = 30_000;
/// After a failed accept (out of file descriptors), the listener waits this long.
pub const OPS_ACCEPT_RETRY_MS: u64 = 100;
/// After shutdown begins, open connections get this long to finish their request.
pub const OPS_SHUTDOWN_GRACE_MS: u64 = 1_000;
/// Read buffer of a connection: the request line and headers must fit (hyper's minimum).
pub const OPS_CONNECTION_BUFFER_MAX_BYTES: usize = 8_192;
/// Headers in one request.
pub const OPS_REQUEST_HEADERS_MAX: usize = 32;
/// Largest request body accepted (the endpoints take none; a small one is ignored).
pub const OPS_REQUEST_BODY_MAX_BYTES: usize = 1_024;

/// Accepts connections until `shutdown`, each served by `handle` with the bounds above.
pub async fn serve_bounded<H, F>(
    name: &'static str,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    handle: H,
) -> io::Result<()>
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let handle = Arc::new(handle);
    let permits = Arc::new(Semaphore::new(OPS_CONNECTIONS_MAX));
    let local = listener.local_addr()?;
    tracing::debug!(listener = name, %local, "ops accepting");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (stream, peer) = tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(listener = name, error = %e, "ops accept failed");
                    // Out of file descriptors: do not spin.
                    tokio::time::sleep(Duration::from_millis(OPS_ACCEPT_RETRY_MS)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(listener = name, %peer, cap = OPS_CONNECTIONS_MAX, "ops connection cap reached, closing");
            drop(stream);
            continue;
        };
        let handle = handle.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = handle(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(OPS_HEADER_READ_TIMEOUT_MS))
                .max_buf_size(OPS_CONNECTION_BUFFER_MAX_BYTES)
                .max_headers(OPS_REQUEST_HEADERS_MAX)
                .serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let lifetime = tokio::time::sleep(Duration::from_millis(OPS_CONNECTION_MAX_MS));
            tokio::select! {
                biased;
                _ = conn.as_mut() => {}
                () = lifetime => {}
                () = stopped(&mut shutdown) => {
                    conn.as_mut().graceful_shutdown();
                    let grace = Duration::from_millis(OPS_SHUTDOWN_GRACE_MS);
                    let _ = tokio::time::timeout(grace, conn.as_mut()).await;
                }
            }
            drop(permit);
        });
    }
    tracing::info!(listener = name, %local, "ops stopped");
    Ok(())
}

/// Resolves once `shutdown` says true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    loop {
        let stop = *shutdown.borrow_and_update();
        if stop || shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// A JSON response.
pub fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    text(status, "application/json", body)
}

/// A response with a body of `content_type`.
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `{"error": why}` with `status`.
pub fn error(status: StatusCode, why: &str) -> Response<Full<Bytes>> {
    json(status, format!(r#"{{"error":{}}}"#, json_string(why)))
}

/// 405 with the methods allowed.
pub fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// The same response without its body (for HEAD).
pub fn without_body(response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// 413 when the request announces a body larger than [`OPS_REQUEST_BODY_MAX_BYTES`].
pub fn refuse_body(req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    (req.body().size_hint().lower() > OPS_REQUEST_BODY_MAX_BYTES as u64).then(|| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large; the endpoints take none",
        )
    })
}

/// A request refused: the status and why, answered as `{"error": why}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A 4xx (or 503) status.
    pub status: StatusCode,
    /// What was wrong, for the client.
    pub why: String,
}

impl Refusal {
    /// A refusal with `status`.
    pub fn new(status: StatusCode, why: impl Into<String>) -> Self {
        Self {
            status,
            why: why.into(),
        }
    }

    /// The response.
    pub fn response(&self) -> Response<Full<Bytes>> {
        error(self.status, &self.why)
    }
}

/// Reads (and drops) the request body, at most [`OPS_REQUEST_BODY_MAX_BYTES`]: refused with
/// 413 when it is larger, 400 when the client broke off.
pub async fn drain_body(body: Incoming) -> Result<(), Refusal> {
    match Limited::new(body, OPS_REQUEST_BODY_MAX_BYTES)
        .collect()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large; the endpoints take none",
        )),
        Err(_) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "request body broken off",
        )),
    }
}

/// Whether the client asks for OpenMetrics rather than Prometheus text.
pub fn accepts_openmetrics(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

/// A JSON string literal for `s`.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Why a query string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

/// The `name=value` pairs of a query string, percent-decoded (`+` is a space). A name given
/// twice, a pair without `=`, a bad escape or a value that is not UTF-8 is refused.
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(QueryError(format!("query part {part:?} has no `=`")));
        };
        let name = percent_decode(name)?;
        let value = percent_decode(value)?;
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(QueryError(format!("query parameter {name:?} given twice")));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn percent_decode(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| QueryError(format!("bad %-escape in {s:?}")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError(format!("{s:?} is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_and_refuse() {
        assert_eq!(
            query_pairs("worldserver=ws%2D1&x=a+b").expect("valid"),
            vec![
                ("worldserver".into(), "ws-1".into()),
                ("x".into(), "a b".into())
            ]
        );
        assert!(query_pairs("").expect("empty is fine").is_empty());
        for bad in ["a", "a=1&a=2", "a=%zz", "a=%4", "a=%ff"] {
            assert!(query_pairs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_strings_escape() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }
}
