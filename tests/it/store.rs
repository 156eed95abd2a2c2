//! One conformance suite for every store backend: the same atomic
//! transitions, TTLs and rate-limit steps, whatever sits behind the trait.

use std::sync::Arc;
use std::time::Duration;

use toolgate::store::{
    FileStore, Inserted, MemoryStore, Ns, RateDecision, RedisStore, Store, Swapped,
};

use crate::support::redis::{TestRedis, unique_env};

async fn conformance(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    // insert-if-absent
    assert_eq!(
        store
            .insert_new(Ns::Actions, "a1", b"one", None)
            .await
            .unwrap(),
        Inserted::New
    );
    match store
        .insert_new(Ns::Actions, "a1", b"other", None)
        .await
        .unwrap()
    {
        Inserted::Exists(v) => assert_eq!((v.value.as_slice(), v.version), (&b"one"[..], 1)),
        Inserted::New => panic!("inserted twice"),
    }
    // namespaces are separate
    assert!(store.get(Ns::Sessions, "a1").await.unwrap().is_none());
    // compare-and-swap
    assert_eq!(
        store
            .compare_and_swap(Ns::Actions, "a1", 1, b"two", None)
            .await
            .unwrap(),
        Swapped::Done(2)
    );
    match store
        .compare_and_swap(Ns::Actions, "a1", 1, b"stale", None)
        .await
        .unwrap()
    {
        Swapped::Conflict(Some(v)) => assert_eq!((v.value.as_slice(), v.version), (&b"two"[..], 2)),
        other => panic!("stale swap: {other:?}"),
    }
    assert_eq!(
        store
            .compare_and_swap(Ns::Actions, "missing", 1, b"x", None)
            .await
            .unwrap(),
        Swapped::Conflict(None)
    );
    // delete, conditional
    assert!(!store.delete(Ns::Actions, "a1", Some(1)).await.unwrap());
    assert!(store.delete(Ns::Actions, "a1", Some(2)).await.unwrap());
    assert!(store.get(Ns::Actions, "a1").await.unwrap().is_none());
    assert!(!store.delete(Ns::Actions, "a1", None).await.unwrap());
    // TTL
    store
        .insert_new(Ns::Idempotency, "k", b"v", Some(Duration::from_millis(80)))
        .await
        .unwrap();
    assert!(store.get(Ns::Idempotency, "k").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(store.get(Ns::Idempotency, "k").await.unwrap().is_none());
    assert_eq!(
        store
            .insert_new(Ns::Idempotency, "k", b"v2", None)
            .await
            .unwrap(),
        Inserted::New
    );
    // list: key order, limit, expired left out
    for k in ["c", "a", "b"] {
        store
            .insert_new(Ns::DeadLetters, k, k.as_bytes(), None)
            .await
            .unwrap();
    }
    store
        .insert_new(Ns::DeadLetters, "d", b"d", Some(Duration::from_millis(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let keys: Vec<String> = store
        .list(Ns::DeadLetters, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(store.list(Ns::DeadLetters, 2).await.unwrap().len(), 2);
    // exactly one of many racing swaps wins
    store
        .insert_new(Ns::Actions, "race", b"0", None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.compare_and_swap(Ns::Actions, "race", 1, format!("{i}").as_bytes(), None)
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Swapped::Done(2)) {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    // rate limit: burst, then refusal with a wait, per key
    for _ in 0..3 {
        assert_eq!(
            store.rate_limit("agent:tool", 60, 3).await.unwrap(),
            RateDecision::Allowed
        );
    }
    match store.rate_limit("agent:tool", 60, 3).await.unwrap() {
        RateDecision::Limited { retry_after } => {
            assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1))
        }
        RateDecision::Allowed => panic!("burst exceeded"),
    }
    assert_eq!(
        store.rate_limit("agent:other", 60, 3).await.unwrap(),
        RateDecision::Allowed
    );
}

#[tokio::test]
async fn memory_store_conforms() {
    conformance(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn file_store_conforms_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/toolgate.redb");
    conformance(Arc::new(FileStore::open(&path).unwrap())).await;
    // What was committed is there after reopening.
    {
        let s = FileStore::open(&path).unwrap();
        s.insert_new(Ns::Sessions, "s1", b"kept", None)
            .await
            .unwrap();
    }
    let s = FileStore::open(&path).unwrap();
    assert_eq!(
        s.get(Ns::Sessions, "s1").await.unwrap().unwrap().value,
        b"kept"
    );
    assert_eq!(
        s.get(Ns::Actions, "race").await.unwrap().unwrap().version,
        2
    );
}

#[tokio::test]
async fn redis_store_conforms_and_keeps_environments_apart() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let env = unique_env("conformance");
    let store = Arc::new(RedisStore::open(&redis.url, &env).unwrap());
    assert!(store.is_shared());
    conformance(store.clone()).await;
    // Another environment on the same Redis sees none of it.
    let other = RedisStore::open(&redis.url, &unique_env("other")).unwrap();
    assert!(other.get(Ns::Actions, "race").await.unwrap().is_none());
    assert!(other.list(Ns::DeadLetters, 10).await.unwrap().is_empty());
    assert_eq!(
        other.rate_limit("agent:tool", 60, 1).await.unwrap(),
        RateDecision::Allowed
    );
    // A second connection (another replica) sees the same state.
    let replica = RedisStore::open(&redis.url, &env).unwrap();
    assert_eq!(
        replica
            .get(Ns::Actions, "race")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert!(matches!(
        replica.rate_limit("agent:tool", 60, 3).await.unwrap(),
        RateDecision::Limited { .. }
    ));
}

#[tokio::test]
async fn redis_store_fails_fast_while_down_and_recovers_by_itself() {
    let Some(mut redis) = TestRedis::own().await else {
        return;
    };
    let store = RedisStore::open(&redis.url, &unique_env("faults")).unwrap();
    store
        .insert_new(Ns::Actions, "kept", b"acknowledged", None)
        .await
        .unwrap();
    redis.kill();
    let started = std::time::Instant::now();
    assert!(store.get(Ns::Actions, "kept").await.is_err());
    assert!(store.ping().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(redis.start().await);
    let mut back = None;
    for _ in 0..100 {
        if let Ok(v) = store.get(Ns::Actions, "kept").await {
            back = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        back.expect("acknowledged value survives").value,
        b"acknowledged"
    );
}
