//! The fencing store on NATS JetStream key-value (DESIGN.md section 2): the bucket
//! `waygate_fence_<realm>` every gateway of the realm shares, one value per key (history 1),
//! revisions for compare-and-set, and a watch that replays each key's last value first.
//!
//! Every call is bounded by `op_timeout_ms`; a timeout or a server error is a retryable
//! [`SeamError`] naming the fencing store. A lost connection is async-nats's to restore; the
//! watch ends then, and the fence watches again (which replays every key).

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::runtime::{BoxFuture, KV_WATCH_QUEUE_MAX, KvChange, KvEntry, KvStore, KvWrite};
use crate::session::SeamError;

/// Default bound on one store call.
pub const FENCE_KV_OP_TIMEOUT_MS: u64 = 2_000;

/// The bucket a realm's gateways share.
pub fn bucket_name(realm_id: u32) -> String {
    format!("waygate_fence_{realm_id}")
}

/// The fencing store could not be opened (JetStream off, no permission, ...).
#[derive(Debug, thiserror::Error)]
#[error("fencing store (NATS JetStream key-value bucket {bucket}): {detail}")]
pub struct FenceKvError {
    /// The bucket.
    pub bucket: String,
    /// What failed.
    pub detail: String,
}

/// A realm's fencing bucket.
pub struct JetStreamKv {
    store: kv::Store,
    op_timeout: Duration,
}

impl JetStreamKv {
    /// Opens the realm's bucket, creating it if no gateway did yet.
    pub async fn open(
        client: async_nats::Client,
        realm_id: u32,
        op_timeout_ms: u64,
    ) -> Result<Self, FenceKvError> {
        let bucket = bucket_name(realm_id);
        let js = jetstream::new(client);
        let op_timeout = Duration::from_millis(op_timeout_ms);
        let fail = |detail: String| FenceKvError {
            bucket: bucket.clone(),
            detail,
        };
        let opened = match tokio::time::timeout(op_timeout, js.get_key_value(bucket.clone())).await
        {
            Ok(Ok(store)) => store,
            Ok(Err(_)) | Err(_) => {
                // The bucket's stream as JetStream key-value lays it out, created directly:
                // async-nats's `create_key_value` first asks for the account's limits, whose
                // answer it cannot read from servers before 2.10 (Debian's 2.9 among them).
                // Two gateways starting at once may both create: the same config is no error.
                let create = js.get_or_create_stream(bucket_stream(&bucket));
                match tokio::time::timeout(op_timeout, create).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(fail(e.to_string())),
                    Err(_) => return Err(fail(format!("no answer within {op_timeout_ms} ms"))),
                }
                match tokio::time::timeout(op_timeout, js.get_key_value(bucket.clone())).await {
                    Ok(Ok(store)) => store,
                    Ok(Err(e)) => return Err(fail(e.to_string())),
                    Err(_) => return Err(fail(format!("no answer within {op_timeout_ms} ms"))),
                }
            }
        };
        Ok(Self {
            store: opened,
            op_timeout,
        })
    }

    fn error(&self, detail: impl std::fmt::Display) -> SeamError {
        SeamError {
            service: "fencing store",
            detail: format!("NATS JetStream key-value: {detail}"),
            retryable: true,
        }
    }

    async fn bounded<T, E: std::fmt::Display>(
        &self,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, SeamError> {
        match tokio::time::timeout(self.op_timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(e)),
            Err(_) => Err(self.error(format!(
                "no answer within {} ms",
                self.op_timeout.as_millis()
            ))),
        }
    }
}

/// The stream behind a key-value bucket of one value per key: `KV_<bucket>` over
/// `$KV.<bucket>.>`, the newest value per key kept, writes refused rather than old values
/// dropped when full, direct gets, no expiry.
impl JetStreamKv {
    /// A bounded update or delete at a revision: a wrong revision is a conflict, not an error.
    async fn compare_and_set(
        &self,
        call: impl std::future::Future<Output = Result<u64, kv::UpdateError>>,
    ) -> Result<KvWrite, SeamError> {
        match tokio::time::timeout(self.op_timeout, call).await {
            Ok(Ok(revision)) => Ok(KvWrite::Done(revision)),
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                Ok(KvWrite::Conflict)
            }
            Ok(Err(e)) => Err(self.error(e)),
            Err(_) => Err(self.error("no answer in time")),
        }
    }
}

fn bucket_stream(bucket: &str) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("Waygate account fencing (one session per account)".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    }
}

fn is_value(op: kv::Operation) -> bool {
    matches!(op, kv::Operation::Put)
}

impl KvStore for JetStreamKv {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<KvEntry>, SeamError>> {
        Box::pin(async move {
            let entry = self.bounded(self.store.entry(key)).await?;
            Ok(entry.filter(|e| is_value(e.operation)).map(|e| KvEntry {
                value: e.value.to_vec(),
                revision: e.revision,
            }))
        })
    }

    fn create<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        Box::pin(async move {
            match tokio::time::timeout(self.op_timeout, self.store.create(key, value.into())).await
            {
                Ok(Ok(revision)) => Ok(KvWrite::Done(revision)),
                Ok(Err(e)) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    Ok(KvWrite::Conflict)
                }
                Ok(Err(e)) => Err(self.error(e)),
                Err(_) => Err(self.error("create: no answer in time")),
            }
        })
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        Box::pin(async move {
            let call = self.store.update(key, value.into(), revision);
            self.compare_and_set(call).await
        })
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        Box::pin(async move {
            // The store does not say the tombstone's revision; nothing reads it.
            let call = async {
                let store = &self.store;
                store.delete_expect_revision(key, Some(revision)).await?;
                Ok(revision.saturating_add(1))
            };
            self.compare_and_set(call).await
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<u64, SeamError>> {
        Box::pin(async move { self.bounded(self.store.put(key, value.into())).await })
    }

    fn watch(&self) -> BoxFuture<'_, Result<mpsc::Receiver<KvChange>, SeamError>> {
        Box::pin(async move {
            let mut watch = self.bounded(self.store.watch_with_history(">")).await?;
            let (tx, rx) = mpsc::channel(KV_WATCH_QUEUE_MAX);
            tokio::spawn(async move {
                while let Some(item) = watch.next().await {
                    let Ok(entry) = item else {
                        // A broken watch ends; the fence watches again.
                        return;
                    };
                    let change = KvChange {
                        value: is_value(entry.operation).then(|| entry.value.to_vec()),
                        key: entry.key,
                        revision: entry.revision,
                    };
                    if tx.try_send(change).is_err() {
                        // Full (the fence fell behind) or gone: end; a new watch replays all.
                        return;
                    }
                }
            });
            Ok(rx)
        })
    }
}
