//! The event bus contract: one function per property, run against every bus
//! it applies to — `NoBus` (a gateway alone) and `RedisBus` (a real
//! `redis-server` of the test's own, and a real Redis Cluster).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use toolgate::bus::{Bus, NoBus, RedisBus, Signal};

use crate::support::redis::{TestRedis, unique_env};

const WAIT: Duration = Duration::from_secs(3);

fn redis_bus(r: &TestRedis, env: &str) -> Arc<dyn Bus> {
    let conn = toolgate::store::redis_connect(
        &toolgate::store::RedisTarget::Node(r.url.clone()),
        &Default::default(),
    )
    .expect("redis url");
    Arc::new(
        RedisBus::new(
            &toolgate::store::RedisTarget::Node(r.url.clone()),
            &Default::default(),
            conn,
            env,
        )
        .expect("bus"),
    )
}

async fn next(s: &mut BoxStream<'static, Signal>) -> Option<Signal> {
    tokio::time::timeout(WAIT, s.next()).await.ok().flatten()
}

fn reload(n: usize) -> Signal {
    Signal::Reload {
        credential: format!("crm-{n}"),
    }
}

/// What one replica publishes, every subscribed replica hears, in order.
async fn published_signals_reach_every_subscriber_in_order(a: Arc<dyn Bus>, b: Arc<dyn Bus>) {
    let mut on_a = a.subscribe().await.expect("subscribe");
    let mut on_b = b.subscribe().await.expect("subscribe");
    a.publish(&Signal::Switches).await.expect("publish");
    for n in 0..5 {
        a.publish(&reload(n)).await.expect("publish");
    }
    for s in [&mut on_a, &mut on_b] {
        assert_eq!(next(s).await, Some(Signal::Switches));
        for n in 0..5 {
            assert_eq!(next(s).await, Some(reload(n)));
        }
    }
}

/// Replicas of another environment on the same server hear nothing.
async fn other_environments_hear_nothing(ours: Arc<dyn Bus>, theirs: Arc<dyn Bus>) {
    let mut on_theirs = theirs.subscribe().await.expect("subscribe");
    let mut on_ours = ours.subscribe().await.expect("subscribe");
    ours.publish(&Signal::Switches).await.expect("publish");
    assert_eq!(next(&mut on_ours).await, Some(Signal::Switches));
    let heard = tokio::time::timeout(Duration::from_millis(300), on_theirs.next()).await;
    assert!(heard.is_err(), "another environment heard {heard:?}");
}

#[tokio::test]
async fn no_bus_is_not_shared_and_publishing_on_it_is_a_silent_success() {
    let bus = NoBus;
    assert!(!bus.is_shared());
    let mut s = bus.subscribe().await.unwrap();
    bus.publish(&Signal::Switches).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_millis(200), s.next()).await;
    assert!(heard.is_err(), "a gateway alone heard {heard:?}");
}

#[tokio::test]
async fn redis_published_signals_reach_every_subscriber_in_order() {
    let Some(r) = TestRedis::own().await else {
        return;
    };
    let env = unique_env("bus");
    let (a, b) = (redis_bus(&r, &env), redis_bus(&r, &env));
    assert!(a.is_shared());
    published_signals_reach_every_subscriber_in_order(a, b).await;
}

#[tokio::test]
async fn redis_other_environments_hear_nothing() {
    let Some(r) = TestRedis::own().await else {
        return;
    };
    let ours = redis_bus(&r, &unique_env("bus-a"));
    let theirs = redis_bus(&r, &unique_env("bus-b"));
    other_environments_hear_nothing(ours, theirs).await;
}

/// With the server gone, publishing fails (the caller logs it; the store
/// check covers it) and the subscription ends; both work again once it is back.
#[tokio::test]
async fn redis_a_lost_server_ends_the_subscription_and_the_bus_recovers() {
    let Some(mut r) = TestRedis::own().await else {
        return;
    };
    let bus = redis_bus(&r, &unique_env("bus"));
    let mut s = bus.subscribe().await.expect("subscribe");
    r.kill();
    assert_eq!(
        next(&mut s).await,
        None,
        "the subscription ends with the server"
    );
    assert!(bus.publish(&Signal::Switches).await.is_err());
    assert!(bus.subscribe().await.is_err());
    assert!(r.start().await, "redis restarts");
    let mut s = bus.subscribe().await.expect("subscribe again");
    let mut published = false;
    for _ in 0..40 {
        if bus.publish(&Signal::Switches).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "publishing works again");
    assert_eq!(next(&mut s).await, Some(Signal::Switches));
}

/// A bus on a Redis Cluster by `seeds` (it subscribes on the first that answers).
fn cluster_bus(seeds: &[String], env: &str) -> Arc<dyn Bus> {
    let target = toolgate::store::RedisTarget::Cluster(seeds.to_vec());
    let conn = toolgate::store::redis_connect(&target, &Default::default()).expect("cluster");
    Arc::new(RedisBus::new(&target, &Default::default(), conn, env).expect("bus"))
}

/// On a cluster, a classic PUBLISH reaches subscribers on every node: A
/// subscribes on one master, B on another.
#[tokio::test]
async fn cluster_published_signals_reach_subscribers_on_every_node() {
    let Some(cluster) = crate::support::redis_cluster::TestCluster::shared() else {
        return;
    };
    let env = unique_env("bus");
    let mut rotated = cluster.urls.clone();
    rotated.rotate_left(1);
    let (a, b) = (
        cluster_bus(&cluster.urls, &env),
        cluster_bus(&rotated, &env),
    );
    published_signals_reach_every_subscriber_in_order(a, b).await;
}

/// With the node it subscribed on killed, the subscription ends, and the
/// next one is made on another node and hears what is published.
#[tokio::test]
async fn cluster_a_failed_node_moves_the_subscription_to_another() {
    let Some(mut cluster) = crate::support::redis_cluster::TestCluster::own(1) else {
        return;
    };
    let bus = cluster_bus(&cluster.urls, &unique_env("bus"));
    let mut s = bus.subscribe().await.expect("subscribe");
    let first: u16 = cluster.urls[0].rsplit(':').next().unwrap().parse().unwrap();
    cluster.kill(first);
    assert_eq!(
        next(&mut s).await,
        None,
        "the subscription ends with its node"
    );
    let mut s = bus.subscribe().await.expect("subscribed on another node");
    let mut published = false;
    for _ in 0..100 {
        if bus.publish(&Signal::Switches).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(published, "publishing works again");
    assert_eq!(next(&mut s).await, Some(Signal::Switches));
}
