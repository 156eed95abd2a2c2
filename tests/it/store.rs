//! One conformance suite for every store backend: each property of the
//! `Store` contract is its own function, and `suite!` runs every one against
//! memory, the embedded file store, Redis, Redis over TLS and a Redis Cluster (plain and over TLS), so a failure names the
//! property and the backend (`store::redis::ttl_expiry_frees_a_key`), and a
//! new backend gets the whole contract by adding one line.
//!
//! What only some backends promise is in `specific`.

mod specific;

use std::sync::Arc;
use std::time::Duration;

use toolgate::store::{
    FileStore, Inserted, MemoryStore, Ns, RateDecision, RedisOptions, RedisStore, RedisTarget,
    Store, Swapped, Versioned,
};

use crate::support::redis::{TestRedis, unique_env};

/// A store under test and what must live as long as it does.
struct Backend {
    store: Arc<dyn Store>,
    /// What `is_shared` must say.
    shared: bool,
    _keep: Box<dyn std::any::Any + Send>,
}

async fn memory() -> Option<Backend> {
    Some(Backend {
        store: Arc::new(MemoryStore::new()),
        shared: false,
        _keep: Box::new(()),
    })
}

async fn file() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(&dir.path().join("state/toolgate.redb")).unwrap();
    Some(Backend {
        store: Arc::new(store),
        shared: false,
        _keep: Box::new(dir),
    })
}

async fn redis() -> Option<Backend> {
    let redis = TestRedis::any().await?;
    let store = RedisStore::open(&redis.url, &unique_env("conformance")).unwrap();
    Some(Backend {
        store: Arc::new(store),
        shared: true,
        _keep: Box::new(redis),
    })
}

/// Redis over TLS (`rediss://`), verified against the CA made for it,
/// presenting a client certificate the server requires.
async fn rediss() -> Option<Backend> {
    let redis = TestRedis::own_tls(true).await?;
    let store = RedisStore::open_tls(&redis.url, &redis.tls, &unique_env("conformance")).unwrap();
    Some(Backend {
        store: Arc::new(store),
        shared: true,
        _keep: Box::new(redis),
    })
}

/// A real three-master Redis Cluster (shared by the tests that do not stop
/// its nodes).
async fn redis_cluster() -> Option<Backend> {
    let cluster = crate::support::redis_cluster::TestCluster::shared()?;
    let store = RedisStore::open_target(
        &RedisTarget::Cluster(cluster.urls.clone()),
        &RedisOptions::default(),
        &unique_env("conformance"),
    )
    .unwrap();
    Some(Backend {
        store: Arc::new(store),
        shared: true,
        _keep: Box::new(cluster),
    })
}

/// A Redis Cluster over TLS only (`rediss://` nodes, the cluster bus on
/// TLS too), verified against the CA made for it, with a client certificate.
async fn rediss_cluster() -> Option<Backend> {
    let cluster = crate::support::redis_cluster::TestCluster::shared_tls()?;
    let store = RedisStore::open_target(
        &RedisTarget::Cluster(cluster.urls.clone()),
        &cluster.tls,
        &unique_env("conformance"),
    )
    .unwrap();
    Some(Backend {
        store: Arc::new(store),
        shared: true,
        _keep: Box::new(cluster),
    })
}

/// Every property, once per backend.
macro_rules! suite {
    ($($property:ident),+ $(,)?) => {
        suite!(@backend memory: $($property),+);
        suite!(@backend file: $($property),+);
        suite!(@backend redis: $($property),+);
        suite!(@backend rediss: $($property),+);
        suite!(@backend redis_cluster: $($property),+);
        suite!(@backend rediss_cluster: $($property),+);
    };
    (@backend $backend:ident: $($property:ident),+) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $property() {
                    let Some(b) = super::$backend().await else {
                        return;
                    };
                    super::$property(&b).await;
                }
            )+
        }
    };
}

suite!(
    ping_answers_and_sharing_is_declared,
    get_of_an_absent_key_is_none,
    insert_new_is_insert_if_absent,
    exactly_one_of_racing_inserts_is_new,
    values_are_opaque_bytes,
    namespaces_are_kept_apart,
    compare_and_swap_bumps_the_version,
    compare_and_swap_conflicts_on_a_stale_version,
    compare_and_swap_of_a_missing_key_conflicts,
    exactly_one_of_racing_swaps_wins,
    delete_with_a_version_deletes_only_at_that_version,
    delete_without_a_version_deletes_what_is_there,
    ttl_expiry_frees_a_key,
    a_swap_sets_the_ttl_anew,
    list_is_in_key_order_with_a_limit,
    list_leaves_out_expired_and_deleted_keys,
    rate_limit_allows_a_burst_then_limits_with_a_retry_after,
    rate_limit_allows_again_after_the_retry_after,
    rate_limits_are_per_key,
);

fn v(value: &[u8], version: u64) -> Versioned {
    Versioned {
        value: value.to_vec(),
        version,
    }
}

async fn ping_answers_and_sharing_is_declared(b: &Backend) {
    b.store.ping().await.unwrap();
    assert_eq!(b.store.is_shared(), b.shared);
}

async fn get_of_an_absent_key_is_none(b: &Backend) {
    assert_eq!(b.store.get(Ns::Actions, "absent").await.unwrap(), None);
}

async fn insert_new_is_insert_if_absent(b: &Backend) {
    let s = &b.store;
    assert_eq!(
        s.insert_new(Ns::Actions, "a1", b"one", None).await.unwrap(),
        Inserted::New
    );
    assert_eq!(
        s.insert_new(Ns::Actions, "a1", b"other", None)
            .await
            .unwrap(),
        Inserted::Exists(v(b"one", 1))
    );
    assert_eq!(
        s.get(Ns::Actions, "a1").await.unwrap(),
        Some(v(b"one", 1)),
        "a refused insert changes nothing"
    );
}

async fn exactly_one_of_racing_inserts_is_new(b: &Backend) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = b.store.clone();
        tasks.push(tokio::spawn(async move {
            let value = format!("{i}");
            let r = s.insert_new(Ns::Idempotency, "race", value.as_bytes(), None);
            let r = r.await.unwrap();
            (value, r)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let (value, Inserted::New) = t.await.unwrap() {
            winners.push(value);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        b.store.get(Ns::Idempotency, "race").await.unwrap(),
        Some(v(winners[0].as_bytes(), 1))
    );
}

async fn values_are_opaque_bytes(b: &Backend) {
    let s = &b.store;
    let binary: Vec<u8> = (0..=255u8).rev().chain([0, 0, b'\n', 0xff]).collect();
    for (key, value) in [
        ("binary", binary.as_slice()),
        ("empty", &b""[..]),
        ("key: with {braces} and \u{fc}", &b"x"[..]),
    ] {
        assert_eq!(
            s.insert_new(Ns::Secrets, key, value, None).await.unwrap(),
            Inserted::New
        );
        assert_eq!(
            s.get(Ns::Secrets, key).await.unwrap(),
            Some(v(value, 1)),
            "{key}"
        );
    }
    assert_eq!(
        s.compare_and_swap(Ns::Secrets, "empty", 1, &binary, None)
            .await
            .unwrap(),
        Swapped::Done(2)
    );
    assert_eq!(
        s.get(Ns::Secrets, "empty").await.unwrap(),
        Some(v(&binary, 2))
    );
}

async fn namespaces_are_kept_apart(b: &Backend) {
    let s = &b.store;
    s.insert_new(Ns::Actions, "k", b"action", None)
        .await
        .unwrap();
    assert_eq!(s.get(Ns::Sessions, "k").await.unwrap(), None);
    assert!(s.list(Ns::Sessions, 10).await.unwrap().is_empty());
    assert_eq!(
        s.insert_new(Ns::Sessions, "k", b"session", None)
            .await
            .unwrap(),
        Inserted::New
    );
    assert!(s.delete(Ns::Sessions, "k", None).await.unwrap());
    assert_eq!(
        s.get(Ns::Actions, "k").await.unwrap(),
        Some(v(b"action", 1))
    );
}

async fn compare_and_swap_bumps_the_version(b: &Backend) {
    let s = &b.store;
    s.insert_new(Ns::Actions, "a", b"one", None).await.unwrap();
    assert_eq!(
        s.compare_and_swap(Ns::Actions, "a", 1, b"two", None)
            .await
            .unwrap(),
        Swapped::Done(2)
    );
    assert_eq!(
        s.compare_and_swap(Ns::Actions, "a", 2, b"three", None)
            .await
            .unwrap(),
        Swapped::Done(3)
    );
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), Some(v(b"three", 3)));
}

async fn compare_and_swap_conflicts_on_a_stale_version(b: &Backend) {
    let s = &b.store;
    s.insert_new(Ns::Actions, "a", b"one", None).await.unwrap();
    s.compare_and_swap(Ns::Actions, "a", 1, b"two", None)
        .await
        .unwrap();
    for stale in [1, 3] {
        assert_eq!(
            s.compare_and_swap(Ns::Actions, "a", stale, b"stale", None)
                .await
                .unwrap(),
            Swapped::Conflict(Some(v(b"two", 2))),
            "expected version {stale}"
        );
    }
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), Some(v(b"two", 2)));
}

async fn compare_and_swap_of_a_missing_key_conflicts(b: &Backend) {
    assert_eq!(
        b.store
            .compare_and_swap(Ns::Actions, "missing", 1, b"x", None)
            .await
            .unwrap(),
        Swapped::Conflict(None)
    );
    assert_eq!(b.store.get(Ns::Actions, "missing").await.unwrap(), None);
}

async fn exactly_one_of_racing_swaps_wins(b: &Backend) {
    b.store
        .insert_new(Ns::Actions, "race", b"0", None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = b.store.clone();
        tasks.push(tokio::spawn(async move {
            let value = format!("{i}");
            let r = s.compare_and_swap(Ns::Actions, "race", 1, value.as_bytes(), None);
            let r = r.await.unwrap();
            (value, r)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (value, Swapped::Done(2)) => winners.push(value),
            (_, Swapped::Conflict(Some(current))) => assert_eq!(current.version, 2),
            (_, other) => panic!("a racing swap: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        b.store.get(Ns::Actions, "race").await.unwrap(),
        Some(v(winners[0].as_bytes(), 2))
    );
}

async fn delete_with_a_version_deletes_only_at_that_version(b: &Backend) {
    let s = &b.store;
    s.insert_new(Ns::Actions, "a", b"one", None).await.unwrap();
    s.compare_and_swap(Ns::Actions, "a", 1, b"two", None)
        .await
        .unwrap();
    assert!(!s.delete(Ns::Actions, "a", Some(1)).await.unwrap());
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), Some(v(b"two", 2)));
    assert!(s.delete(Ns::Actions, "a", Some(2)).await.unwrap());
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), None);
    assert!(!s.delete(Ns::Actions, "a", Some(2)).await.unwrap());
}

async fn delete_without_a_version_deletes_what_is_there(b: &Backend) {
    let s = &b.store;
    s.insert_new(Ns::Actions, "a", b"one", None).await.unwrap();
    assert!(s.delete(Ns::Actions, "a", None).await.unwrap());
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), None);
    assert!(!s.delete(Ns::Actions, "a", None).await.unwrap());
    // Deleted means absent: the key can be inserted anew, at version 1.
    assert_eq!(
        s.insert_new(Ns::Actions, "a", b"again", None)
            .await
            .unwrap(),
        Inserted::New
    );
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), Some(v(b"again", 1)));
}

async fn ttl_expiry_frees_a_key(b: &Backend) {
    let s = &b.store;
    let ttl = Some(Duration::from_millis(80));
    s.insert_new(Ns::Idempotency, "k", b"v", ttl).await.unwrap();
    s.insert_new(Ns::Idempotency, "gone", b"v", ttl)
        .await
        .unwrap();
    assert_eq!(s.get(Ns::Idempotency, "k").await.unwrap(), Some(v(b"v", 1)));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.get(Ns::Idempotency, "k").await.unwrap(), None);
    assert_eq!(
        s.compare_and_swap(Ns::Idempotency, "k", 1, b"late", None)
            .await
            .unwrap(),
        Swapped::Conflict(None),
        "an expired key cannot be swapped"
    );
    assert!(
        !s.delete(Ns::Idempotency, "gone", None).await.unwrap(),
        "an expired key is not there to delete"
    );
    assert_eq!(
        s.insert_new(Ns::Idempotency, "k", b"v2", None)
            .await
            .unwrap(),
        Inserted::New
    );
    assert_eq!(
        s.get(Ns::Idempotency, "k").await.unwrap(),
        Some(v(b"v2", 1))
    );
}

async fn a_swap_sets_the_ttl_anew(b: &Backend) {
    let s = &b.store;
    let short = Some(Duration::from_millis(80));
    // A swap with a TTL makes a lasting key expire...
    s.insert_new(Ns::Sessions, "expiring", b"1", None)
        .await
        .unwrap();
    s.compare_and_swap(Ns::Sessions, "expiring", 1, b"2", short)
        .await
        .unwrap();
    // ...and one without makes an expiring key last.
    s.insert_new(Ns::Sessions, "lasting", b"1", short)
        .await
        .unwrap();
    s.compare_and_swap(Ns::Sessions, "lasting", 1, b"2", None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.get(Ns::Sessions, "expiring").await.unwrap(), None);
    assert_eq!(
        s.get(Ns::Sessions, "lasting").await.unwrap(),
        Some(v(b"2", 2))
    );
}

async fn list_is_in_key_order_with_a_limit(b: &Backend) {
    let s = &b.store;
    for k in ["c", "a", "b", "B", "a:1"] {
        s.insert_new(Ns::DeadLetters, k, k.as_bytes(), None)
            .await
            .unwrap();
    }
    s.compare_and_swap(Ns::DeadLetters, "b", 1, b"b2", None)
        .await
        .unwrap();
    let all = s.list(Ns::DeadLetters, 10).await.unwrap();
    assert_eq!(
        all,
        [
            ("B".to_owned(), v(b"B", 1)),
            ("a".to_owned(), v(b"a", 1)),
            ("a:1".to_owned(), v(b"a:1", 1)),
            ("b".to_owned(), v(b"b2", 2)),
            ("c".to_owned(), v(b"c", 1)),
        ],
        "byte order of keys, with values and versions"
    );
    for limit in [0, 1, 2, 5, 6] {
        let keys: Vec<String> = s
            .list(Ns::DeadLetters, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let want: Vec<String> = all.iter().take(limit).map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, want, "limit {limit}");
    }
}

async fn list_leaves_out_expired_and_deleted_keys(b: &Backend) {
    let s = &b.store;
    for k in ["a", "b", "c"] {
        s.insert_new(Ns::DeadLetters, k, k.as_bytes(), None)
            .await
            .unwrap();
    }
    s.insert_new(Ns::DeadLetters, "d", b"d", Some(Duration::from_millis(1)))
        .await
        .unwrap();
    assert!(s.delete(Ns::DeadLetters, "b", None).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let keys: Vec<String> = s
        .list(Ns::DeadLetters, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a", "c"]);
}

async fn rate_limit_allows_a_burst_then_limits_with_a_retry_after(b: &Backend) {
    for i in 0..3 {
        assert_eq!(
            b.store.rate_limit("agent:tool", 60, 3).await.unwrap(),
            RateDecision::Allowed,
            "call {i} of the burst"
        );
    }
    match b.store.rate_limit("agent:tool", 60, 3).await.unwrap() {
        RateDecision::Limited { retry_after } => assert!(
            retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1),
            "{retry_after:?}"
        ),
        RateDecision::Allowed => panic!("burst exceeded"),
    }
}

async fn rate_limit_allows_again_after_the_retry_after(b: &Backend) {
    // 600 a minute: one every 100 ms; no burst beyond one.
    assert_eq!(
        b.store.rate_limit("agent:slow", 600, 1).await.unwrap(),
        RateDecision::Allowed
    );
    let RateDecision::Limited { retry_after } =
        b.store.rate_limit("agent:slow", 600, 1).await.unwrap()
    else {
        panic!("a second call at once passed a limit of one");
    };
    assert!(retry_after <= Duration::from_millis(100), "{retry_after:?}");
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert_eq!(
        b.store.rate_limit("agent:slow", 600, 1).await.unwrap(),
        RateDecision::Allowed,
        "still limited after waiting {retry_after:?}"
    );
}

async fn rate_limits_are_per_key(b: &Backend) {
    assert_eq!(
        b.store.rate_limit("agent:tool", 60, 1).await.unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        b.store.rate_limit("agent:tool", 60, 1).await.unwrap(),
        RateDecision::Limited { .. }
    ));
    assert_eq!(
        b.store.rate_limit("agent:other", 60, 1).await.unwrap(),
        RateDecision::Allowed
    );
}
