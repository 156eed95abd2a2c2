//! Two real toolgate processes on a real Redis Cluster of three masters act
//! as one gateway, as on one Redis (`replicas`): an action runs once, kill
//! switches hold within a second, one rate limit spans both, the shared
//! trail verifies with `audit verify` over the nodes' URLs. And with a
//! replica per master: a master SIGKILLed and replaced by its replica fails
//! calls closed meanwhile, then service returns with nothing acknowledged lost.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::replicas::{
    Shared, approved_on_the_other_runs_once_on, chains_are_each_replicas,
    kill_switches_hold_on_the_other_on, one_rate_limit_spans_the_replicas_on, replicas_on,
};
use crate::support::code;
use crate::support::redis_cluster::TestCluster;
use crate::support::upstream::Upstream;

/// The store on `cluster`; `audit verify` given its nodes comma-separated
/// (and, over TLS, the CA and client certificate).
fn on(cluster: &TestCluster) -> Shared {
    let nodes: Vec<String> = cluster.urls.iter().map(|u| format!("\"{u}\"")).collect();
    let mut verify = vec![cluster.urls.join(",")];
    let mut tls = String::new();
    if let (Some(ca), Some((cert, key))) = (&cluster.tls.ca, &cluster.tls.client) {
        tls = format!(
            ", tls: {{ ca: \"{}\", cert: \"{}\", key: \"{}\" }}",
            ca.display(),
            cert.display(),
            key.display()
        );
        verify.extend([
            "--redis-ca".to_owned(),
            ca.display().to_string(),
            "--redis-client-cert".to_owned(),
            cert.display().to_string(),
            key.display().to_string(),
        ]);
    }
    Shared {
        store: format!("kind: redis, cluster: [{}]{tls}", nodes.join(", ")),
        verify,
    }
}

#[tokio::test]
async fn on_a_cluster_an_action_created_on_one_replica_is_approved_on_the_other_and_runs_once() {
    let Some(cluster) = TestCluster::shared() else {
        return;
    };
    let c = replicas_on(Upstream::start().await, &on(&cluster), "");
    approved_on_the_other_runs_once_on(&c).await;
}

/// With a chain per replica, each under a hash tag of its own (so on
/// another master, as it happens), the same.
#[tokio::test]
async fn on_a_cluster_with_per_replica_chains_an_action_is_approved_on_the_other_and_runs_once() {
    let Some(cluster) = TestCluster::shared() else {
        return;
    };
    let c = replicas_on(Upstream::start().await, &on(&cluster), "").per_replica_chains();
    approved_on_the_other_runs_once_on(&c).await;
    chains_are_each_replicas(&c);
}

/// The same on a cluster served over TLS only (`rediss://` nodes).
#[tokio::test]
async fn on_a_tls_cluster_an_action_created_on_one_replica_is_approved_on_the_other_and_runs_once()
{
    let Some(cluster) = TestCluster::shared_tls() else {
        return;
    };
    let c = replicas_on(Upstream::start().await, &on(&cluster), "");
    approved_on_the_other_runs_once_on(&c).await;
}

#[tokio::test]
async fn on_a_cluster_kill_switches_set_on_one_replica_hold_on_the_other_within_a_second() {
    let Some(cluster) = TestCluster::shared() else {
        return;
    };
    let c = replicas_on(Upstream::start().await, &on(&cluster), "");
    kill_switches_hold_on_the_other_on(&c).await;
}

#[tokio::test]
async fn on_a_cluster_one_rate_limit_spans_the_replicas() {
    let Some(cluster) = TestCluster::shared() else {
        return;
    };
    one_rate_limit_spans_the_replicas_on(&on(&cluster)).await;
}

#[tokio::test]
async fn on_a_cluster_a_master_replaced_by_its_replica_fails_calls_closed_meanwhile_and_loses_nothing()
 {
    let Some(mut cluster) = TestCluster::own(1) else {
        return;
    };
    let c = replicas_on(Upstream::start().await, &on(&cluster), "");
    let (a, b) = (c.replica().await, c.replica().await);
    let id = c.hold(&a, "Kept").await;
    let plain = json!({"tool": "plain", "arguments": {"name": "x"}});
    let (st, v) = a
        .send("POST", &c.k.agent, "/v1/calls", Some(plain.clone()))
        .await;
    assert_eq!(st, 200, "{v}");
    // What was acknowledged has reached the replicas (Redis replicates
    // asynchronously; see README "On a Redis Cluster").
    assert!(cluster.wait_replicated(Duration::from_secs(5)));

    // SIGKILL the master holding the actions; its replica takes over.
    let victim = cluster.master_of(&format!("{{{}:actions}}", c.env));
    cluster.kill(victim);
    let pending = format!("/v1/pending-actions/{id}");
    // Meanwhile the action cannot be read: 503 store_unavailable.
    let (st, v) = b.send("GET", &c.k.alice, &pending, None).await;
    assert_eq!((st, code(&v)), (503, "store_unavailable"), "{v}");
    // Every call is answered, and none that failed reached the upstream.
    // From when the cluster marks the master failed until its replica is
    // promoted, the whole cluster refuses commands (a slot is uncovered),
    // so calls touching other slots fail closed too, and the trail's
    // append is refused with them.
    let t = Instant::now();
    let mut served = 1;
    loop {
        let (st, v) = a
            .send("POST", &c.k.agent, "/v1/calls", Some(plain.clone()))
            .await;
        match st {
            200 => served += 1,
            503 if code(&v) == "store_unavailable" => {}
            503 if code(&v) == "audit_unavailable" => {}
            other => panic!("during the failover: {other} {v}"),
        }
        assert_eq!(
            c.up.requests()
                .iter()
                .filter(|r| r.path == "/echo/plain")
                .count(),
            served,
            "only served calls reach the upstream"
        );
        let (st, v) = b.send("GET", &c.k.alice, &pending, None).await;
        if st == 200 {
            assert_eq!(v["status"], "pending_approval", "{v}");
            break;
        }
        assert_eq!((st, code(&v)), (503, "store_unavailable"), "{v}");
        assert!(t.elapsed() < Duration::from_secs(20), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cluster.wait_ok(Duration::from_secs(10)));
    // The action held before the failover runs once, approved on B.
    let (st, v) = b
        .send(
            "POST",
            &c.k.alice,
            &format!("{pending}/approve"),
            Some(json!({"reason": "after the failover"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        c.up.requests()
            .iter()
            .filter(|r| r.path == "/echo/risky")
            .count(),
        1
    );
    for p in [&a, &b] {
        let t = Instant::now();
        loop {
            let (st, v) = p.send("GET", &c.k.agent, "/readyz", None).await;
            if st == 200 {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "not ready: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The trail verifies, read over the nodes' URLs (one of them dead).
    let report = c.verify_trail();
    assert!(report.starts_with("intact"), "{report}");
}
