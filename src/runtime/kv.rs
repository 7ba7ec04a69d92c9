//! The key-value seam behind account fencing (`cluster::fence`): per-key revisions,
//! compare-and-set writes and a watch of every change. NATS JetStream key-value in a
//! cluster (`adapters::fence_kv`); [`MemoryKv`] for a gateway alone and for the simulator,
//! where several gateways share one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::BoxFuture;
use crate::session::SeamError;

/// A key's value and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The bytes.
    pub value: Vec<u8>,
    /// The store's revision of this write.
    pub revision: u64,
}

/// What a compare-and-set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvWrite {
    /// Written, at this revision.
    Done(u64),
    /// Someone else wrote first (or the key already exists, for a create).
    Conflict,
}

/// One change seen by a watch: `value` is `None` for a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvChange {
    /// The key.
    pub key: String,
    /// The new value.
    pub value: Option<Vec<u8>>,
    /// The change's revision.
    pub revision: u64,
}

/// Changes a watch queues, at most. A watcher that falls this far behind is dropped (its
/// receiver ends) and watches again, which replays every key's current value.
pub const KV_WATCH_QUEUE_MAX: usize = 4_096;

/// A key-value bucket.
pub trait KvStore: Send + Sync {
    /// The key's current value, if any.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<KvEntry>, SeamError>>;
    /// Writes the key only if it has no value.
    fn create<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>>;
    /// Writes the key only if its revision is still `revision`.
    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>>;
    /// Deletes the key only if its revision is still `revision`.
    fn delete<'a>(
        &'a self,
        key: &'a str,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>>;
    /// Writes the key whatever it holds.
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<u64, SeamError>>;
    /// Every change from now on, after the current value of every key.
    fn watch(&self) -> BoxFuture<'_, Result<mpsc::Receiver<KvChange>, SeamError>>;
}

/// A bucket in memory. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct MemoryKv {
    inner: Arc<Mutex<MemoryBucket>>,
}

#[derive(Debug, Default)]
struct MemoryBucket {
    revision: u64,
    keys: BTreeMap<String, KvEntry>,
    watchers: Vec<mpsc::Sender<KvChange>>,
}

impl MemoryBucket {
    fn write(&mut self, key: &str, value: Option<Vec<u8>>) -> u64 {
        self.revision += 1;
        let revision = self.revision;
        match &value {
            Some(v) => {
                self.keys.insert(
                    key.to_owned(),
                    KvEntry {
                        value: v.clone(),
                        revision,
                    },
                );
            }
            None => {
                self.keys.remove(key);
            }
        }
        let change = KvChange {
            key: key.to_owned(),
            value,
            revision,
        };
        self.watchers.retain(|w| w.try_send(change.clone()).is_ok());
        revision
    }

    fn revision_of(&self, key: &str) -> Option<u64> {
        self.keys.get(key).map(|e| e.revision)
    }
}

impl MemoryKv {
    fn with<T>(&self, f: impl FnOnce(&mut MemoryBucket) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Keys with a value, ascending (tests and the simulator's checks read it).
    pub fn keys(&self) -> Vec<String> {
        self.with(|b| b.keys.keys().cloned().collect())
    }
}

impl KvStore for MemoryKv {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<KvEntry>, SeamError>> {
        let r = self.with(|b| b.keys.get(key).cloned());
        Box::pin(async move { Ok(r) })
    }

    fn create<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        let r = self.with(|b| match b.revision_of(key) {
            Some(_) => KvWrite::Conflict,
            None => KvWrite::Done(b.write(key, Some(value))),
        });
        Box::pin(async move { Ok(r) })
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        let r = self.with(|b| match b.revision_of(key) {
            Some(r) if r == revision => KvWrite::Done(b.write(key, Some(value))),
            _ => KvWrite::Conflict,
        });
        Box::pin(async move { Ok(r) })
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
        revision: u64,
    ) -> BoxFuture<'a, Result<KvWrite, SeamError>> {
        let r = self.with(|b| match b.revision_of(key) {
            Some(r) if r == revision => KvWrite::Done(b.write(key, None)),
            _ => KvWrite::Conflict,
        });
        Box::pin(async move { Ok(r) })
    }

    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<u64, SeamError>> {
        let r = self.with(|b| b.write(key, Some(value)));
        Box::pin(async move { Ok(r) })
    }

    fn watch(&self) -> BoxFuture<'_, Result<mpsc::Receiver<KvChange>, SeamError>> {
        let (tx, rx) = mpsc::channel(KV_WATCH_QUEUE_MAX);
        self.with(|b| {
            for (key, e) in &b.keys {
                let _ = tx.try_send(KvChange {
                    key: key.clone(),
                    value: Some(e.value.clone()),
                    revision: e.revision,
                });
            }
            b.watchers.push(tx);
        });
        Box::pin(async move { Ok(rx) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn writes_compare_revisions_and_watchers_see_them_in_order() {
        let kv = MemoryKv::default();
        let Ok(KvWrite::Done(r1)) = run(kv.create("a", b"1".to_vec())) else {
            panic!("create");
        };
        assert_eq!(run(kv.create("a", b"2".to_vec())), Ok(KvWrite::Conflict));
        let mut w = run(kv.watch()).expect("watch");
        assert_eq!(
            run(kv.update("a", b"3".to_vec(), r1 + 5)),
            Ok(KvWrite::Conflict)
        );
        let Ok(KvWrite::Done(r2)) = run(kv.update("a", b"3".to_vec(), r1)) else {
            panic!("update");
        };
        assert_eq!(run(kv.delete("a", r1)), Ok(KvWrite::Conflict));
        assert_eq!(run(kv.delete("a", r2)), Ok(KvWrite::Done(r2 + 1)));
        let seen: Vec<_> = std::iter::from_fn(|| w.try_recv().ok())
            .map(|c| (c.key, c.value))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("a".into(), Some(b"1".to_vec())),
                ("a".into(), Some(b"3".to_vec())),
                ("a".into(), None),
            ]
        );
        assert_eq!(run(kv.get("a")), Ok(None));
        assert!(matches!(
            run(kv.create("a", b"4".to_vec())),
            Ok(KvWrite::Done(_))
        ));
    }
}
