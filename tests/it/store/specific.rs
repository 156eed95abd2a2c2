//! What only some store backends promise: the file store keeps what it
//! committed across a reopen; Redis keeps environments apart, shares state
//! between replicas, and fails fast while down and recovers by itself.

use std::time::Duration;

use toolgate::store::{FileStore, Inserted, Ns, RateDecision, RedisStore, Store, Swapped};

use super::v;
use crate::support::redis::{TestRedis, unique_env};

#[tokio::test]
async fn file_store_keeps_what_it_committed_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/toolgate.redb");
    {
        let s = FileStore::open(&path).unwrap();
        s.insert_new(Ns::Sessions, "s1", b"kept", None)
            .await
            .unwrap();
        s.insert_new(Ns::Actions, "a", b"one", None).await.unwrap();
        s.compare_and_swap(Ns::Actions, "a", 1, b"two", None)
            .await
            .unwrap();
        s.insert_new(Ns::Actions, "deleted", b"x", None)
            .await
            .unwrap();
        assert!(s.delete(Ns::Actions, "deleted", None).await.unwrap());
    }
    let s = FileStore::open(&path).unwrap();
    assert_eq!(
        s.get(Ns::Sessions, "s1").await.unwrap(),
        Some(v(b"kept", 1))
    );
    assert_eq!(s.get(Ns::Actions, "a").await.unwrap(), Some(v(b"two", 2)));
    assert_eq!(s.get(Ns::Actions, "deleted").await.unwrap(), None);
}

#[tokio::test]
async fn redis_store_keeps_environments_apart() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let one = RedisStore::open(&redis.url, &unique_env("one")).unwrap();
    let other = RedisStore::open(&redis.url, &unique_env("other")).unwrap();
    one.insert_new(Ns::Actions, "k", b"one", None)
        .await
        .unwrap();
    one.insert_new(Ns::DeadLetters, "d", b"d", None)
        .await
        .unwrap();
    assert_eq!(
        one.rate_limit("agent:tool", 60, 1).await.unwrap(),
        RateDecision::Allowed
    );
    // Another environment on the same Redis sees none of it.
    assert_eq!(other.get(Ns::Actions, "k").await.unwrap(), None);
    assert!(other.list(Ns::DeadLetters, 10).await.unwrap().is_empty());
    assert_eq!(
        other.rate_limit("agent:tool", 60, 1).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        other
            .insert_new(Ns::Actions, "k", b"other", None)
            .await
            .unwrap(),
        Inserted::New
    );
    assert_eq!(one.get(Ns::Actions, "k").await.unwrap(), Some(v(b"one", 1)));
}

#[tokio::test]
async fn redis_store_replicas_share_one_state() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let env = unique_env("replicas");
    let one = RedisStore::open(&redis.url, &env).unwrap();
    // A second connection (another replica) sees the same state.
    let replica = RedisStore::open(&redis.url, &env).unwrap();
    one.insert_new(Ns::Actions, "a", b"one", None)
        .await
        .unwrap();
    one.compare_and_swap(Ns::Actions, "a", 1, b"two", None)
        .await
        .unwrap();
    assert_eq!(
        replica.get(Ns::Actions, "a").await.unwrap(),
        Some(v(b"two", 2))
    );
    assert_eq!(
        replica
            .compare_and_swap(Ns::Actions, "a", 1, b"stale", None)
            .await
            .unwrap(),
        Swapped::Conflict(Some(v(b"two", 2)))
    );
    for _ in 0..3 {
        assert_eq!(
            one.rate_limit("agent:tool", 60, 3).await.unwrap(),
            RateDecision::Allowed
        );
    }
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

#[tokio::test]
async fn over_tls_a_server_that_does_not_verify_or_a_missing_client_certificate_is_refused() {
    let Some(redis) = TestRedis::own_tls(true).await else {
        return;
    };
    let env = unique_env("tls");
    // As the server asks: verified and served.
    let good = RedisStore::open_tls(&redis.url, &redis.tls, &env).unwrap();
    good.ping()
        .await
        .expect("a verified server with our certificate");
    // Its CA not trusted (the system's roots, or another CA): refused.
    let refused = |tls: toolgate::store::RedisTls| {
        let url = redis.url.clone();
        let env = env.clone();
        async move {
            let s = RedisStore::open_tls(&url, &tls, &env).unwrap();
            s.ping().await.is_err() && s.get(Ns::Actions, "a").await.is_err()
        }
    };
    let without_ca = toolgate::store::RedisTls {
        ca: None,
        client: redis.tls.client.clone(),
    };
    assert!(
        refused(without_ca).await,
        "a server the system roots do not know was used"
    );
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("ca.pem");
    std::fs::write(&other_ca, crate::support::certs::Ca::new("other").pem).unwrap();
    let wrong_ca = toolgate::store::RedisTls {
        ca: Some(other_ca),
        client: redis.tls.client.clone(),
    };
    assert!(
        refused(wrong_ca).await,
        "a server another CA vouches for was used"
    );
    // The server asks for a client certificate: without one, refused.
    let no_client = toolgate::store::RedisTls {
        ca: redis.tls.ca.clone(),
        client: None,
    };
    assert!(
        refused(no_client).await,
        "served without a client certificate"
    );
}
