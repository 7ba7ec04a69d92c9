//! The realm's fencing store as one gateway reaches it: the shared in-memory bucket behind a
//! switch a fault flips. While cut, every call fails (as a NATS client does when the server
//! is out of reach: with an error, after its request times out) and the gateway's watch ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use waygate::runtime::{
    BoxFuture, KV_WATCH_QUEUE_MAX, KvChange, KvEntry, KvStore, KvWrite, MemoryKv,
};
use waygate::session::SeamError;

/// How long a call takes to fail while the store is cut (a request time-out).
const CUT_CALL_FAILS_AFTER_MS: u64 = 2_000;

/// One gateway's way to the shared bucket.
#[derive(Clone)]
pub struct GatewayStore {
    inner: MemoryKv,
    cut: Arc<AtomicBool>,
}

impl GatewayStore {
    /// A way to `inner`, open.
    pub fn new(inner: MemoryKv) -> Self {
        Self {
            inner,
            cut: Arc::default(),
        }
    }

    /// Cuts the way (or opens it again).
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Fails like a request to an unreachable server, or runs `call`.
    fn guarded<'a, T: Send + 'a>(
        &'a self,
        call: BoxFuture<'a, Result<T, SeamError>>,
    ) -> BoxFuture<'a, Result<T, SeamError>> {
        if !self.is_cut() {
            return call;
        }
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(CUT_CALL_FAILS_AFTER_MS)).await;
            Err(SeamError {
                service: "fencing store",
                detail: "simulated: no answer (store out of reach)".into(),
                retryable: true,
            })
        })
    }
}

impl KvStore for GatewayStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<KvEntry>, SeamError>> {
        self.guarded(self.inner.get(key))
    }

    fn create<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        self.guarded(self.inner.create(key, value))
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        self.guarded(self.inner.update(key, value, revision))
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        self.guarded(self.inner.delete(key, revision))
    }

    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<u64, SeamError>> {
        self.guarded(self.inner.put(key, value))
    }

    /// Forwards the bucket's changes while the way is open; ends once it is cut.
    fn watch(&self) -> BoxFuture<'_, Result<mpsc::Receiver<KvChange>, SeamError>> {
        let cut = self.cut.clone();
        let inner = self.inner.clone();
        self.guarded(Box::pin(async move {
            let mut from = inner.watch().await?;
            let (tx, rx) = mpsc::channel(KV_WATCH_QUEUE_MAX);
            tokio::spawn(async move {
                while let Some(change) = from.recv().await {
                    if cut.load(Ordering::SeqCst) || tx.try_send(change).is_err() {
                        return;
                    }
                }
            });
            Ok(rx)
        }))
    }
}
