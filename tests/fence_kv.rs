//! The fencing store's contract, held by both implementations: `MemoryKv` (one gateway
//! alone, the simulator) and `JetStreamKv` against a real nats-server with JetStream
//! (`ci/services/nats start` prints the `WAYGATE_TEST_NATS_URL` to export; without it this
//! half fails when `CI` is set and is skipped, with a notice, otherwise).
//!
//! Compare-and-set writes (create only when absent, update and delete only at the revision
//! read), a watch that replays each key's current value and then every change in order, a
//! second gateway opening the same bucket, and the fence's own records read back.

#![cfg(not(madsim))]

#[path = "common/nats.rs"]
mod nats;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nats::nats_url;
use waygate::adapters::fence_kv::{FENCE_KV_OP_TIMEOUT_MS, JetStreamKv};
use waygate::cluster::fence::{AccountClaim, Owner, account_key};
use waygate::runtime::{KvChange, KvStore, KvWrite, MemoryKv};

/// Every wait in this file is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

/// A realm (so a bucket) no other run uses.
fn fresh_realm() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    200_000 + (std::process::id() % 100_000) * 16 + N.fetch_add(1, Ordering::Relaxed)
}

async fn next(rx: &mut tokio::sync::mpsc::Receiver<KvChange>) -> KvChange {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a change within the bound")
        .expect("the watch goes on")
}

/// The contract, on `a` and `b`: two handles on one bucket (two gateways).
async fn contract(a: &dyn KvStore, b: &dyn KvStore) {
    let key = "acct.7";
    assert_eq!(a.get(key).await, Ok(None));
    let Ok(KvWrite::Done(r1)) = a.create(key, b"one".to_vec()).await else {
        panic!("create on an absent key");
    };
    assert_eq!(b.create(key, b"two".to_vec()).await, Ok(KvWrite::Conflict));
    let seen = b.get(key).await.expect("get").expect("a value");
    assert_eq!((seen.value.as_slice(), seen.revision), (&b"one"[..], r1));

    // A watch opened now replays the current value first.
    let mut watch = b.watch().await.expect("watch");
    let first = next(&mut watch).await;
    assert_eq!(
        (first.key.as_str(), first.value.as_deref()),
        (key, Some(&b"one"[..]))
    );

    assert_eq!(
        b.update(key, b"stale".to_vec(), r1 + 1_000).await,
        Ok(KvWrite::Conflict)
    );
    let Ok(KvWrite::Done(r2)) = b.update(key, b"three".to_vec(), r1).await else {
        panic!("update at the revision read");
    };
    assert!(r2 > r1);
    assert_eq!(
        a.update(key, b"late".to_vec(), r1).await,
        Ok(KvWrite::Conflict)
    );
    assert_eq!(a.delete(key, r1).await, Ok(KvWrite::Conflict));
    assert!(matches!(a.delete(key, r2).await, Ok(KvWrite::Done(_))));
    assert_eq!(b.get(key).await, Ok(None));
    // Deleted: absent again for a create.
    assert!(matches!(
        b.create(key, b"four".to_vec()).await,
        Ok(KvWrite::Done(_))
    ));
    let hb = a
        .put("gw.x", 1u64.to_le_bytes().to_vec())
        .await
        .expect("put");
    assert!(hb > r2);

    let changes: Vec<(String, Option<Vec<u8>>)> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let c = next(&mut watch).await;
            v.push((c.key, c.value));
        }
        v
    };
    assert_eq!(
        changes,
        vec![
            (key.to_owned(), Some(b"three".to_vec())),
            (key.to_owned(), None),
            (key.to_owned(), Some(b"four".to_vec())),
            ("gw.x".to_owned(), Some(1u64.to_le_bytes().to_vec())),
        ]
    );

    // The fence's records survive the store byte for byte.
    let rec = AccountClaim {
        owner: Some(Owner {
            gateway: "0123456789abcdef".into(),
            session: 42,
        }),
        evict: None,
        holds: Vec::new(),
    };
    let k = account_key(9);
    assert!(matches!(
        a.create(&k, rec.encode()).await,
        Ok(KvWrite::Done(_))
    ));
    let back = b.get(&k).await.expect("get").expect("a value");
    assert_eq!(AccountClaim::decode(&back.value), Ok(rec));
}

#[tokio::test]
async fn memory_kv_keeps_the_contract() {
    let kv = MemoryKv::default();
    contract(&kv, &kv.clone()).await;
}

#[tokio::test]
async fn jetstream_kv_keeps_the_contract() {
    let Some(url) = nats_url("jetstream_kv_keeps_the_contract") else {
        return;
    };
    let realm = fresh_realm();
    let open = || async {
        let client = async_nats::connect(&url).await.expect("nats connects");
        JetStreamKv::open(client, realm, FENCE_KV_OP_TIMEOUT_MS)
            .await
            .expect("the bucket opens (JetStream is on)")
    };
    // Two gateways: the first creates the bucket, the second opens it.
    let (a, b) = (open().await, open().await);
    contract(&a, &b).await;
}
