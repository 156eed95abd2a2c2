//! Two real toolgate processes on one real Redis act as one gateway: an
//! action created on one is approved on the other and runs once; a kill
//! switch set on one holds on the other within a second; one rate limit
//! spans both; with Redis gone calls fail closed and come back by themselves
//! with nothing lost; the shared audit stream verifies; Redis holds no secret.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use toolgate::identity::{Role, generate_key, key_sha256};

use crate::support::approvals_config::{Approvers, approval_config};
use crate::support::process::{Proc, free_port, toolgate};
use crate::support::redis::{TestRedis, unique_env};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, canary, code, leaks};

pub(crate) struct Cluster {
    pub up: Upstream,
    pub dir: ConfigDir,
    pub k: Approvers,
    pub admin: String,
    pub secret: String,
    pub env: String,
    /// `toolgate audit verify`'s target and options for the shared trail.
    verify: Vec<String>,
    /// Replicas started so far: each is named `r<n>` (`TOOLGATE_REPLICA_ID`).
    started: std::sync::atomic::AtomicUsize,
}

/// Where the replicas' Redis is: the inside of `store: {…}`, and how
/// `toolgate audit verify` reaches its trail.
pub(crate) struct Shared {
    pub store: String,
    pub verify: Vec<String>,
}

impl Shared {
    /// One Redis (over TLS when it serves TLS).
    pub fn redis(redis: &TestRedis) -> Shared {
        let mut tls = Vec::new();
        let mut verify = vec![redis.url.clone()];
        if let Some(ca) = &redis.tls.ca {
            tls.push(format!("ca: \"{}\"", ca.display()));
            verify.extend(["--redis-ca".to_owned(), ca.display().to_string()]);
        }
        if let Some((cert, key)) = &redis.tls.client {
            tls.push(format!(
                "cert: \"{}\", key: \"{}\"",
                cert.display(),
                key.display()
            ));
            verify.extend([
                "--redis-client-cert".to_owned(),
                cert.display().to_string(),
                key.display().to_string(),
            ]);
        }
        let tls = if tls.is_empty() {
            String::new()
        } else {
            format!(", tls: {{ {} }}", tls.join(", "))
        };
        Shared {
            store: format!("kind: redis, url: \"{}\"{tls}", redis.url),
            verify,
        }
    }
}

/// The approvals config on a Redis store and audit stream, with an admin and
/// `extra` added to the `sales` workflow.
fn cluster(up: Upstream, redis: &TestRedis, sales_extra: &str) -> Cluster {
    replicas_on(up, &Shared::redis(redis), sales_extra)
}

/// As [`cluster`], on any shared Redis.
pub(crate) fn replicas_on(up: Upstream, shared: &Shared, sales_extra: &str) -> Cluster {
    let (config, tools, k) = approval_config(&up.base(), sales_extra);
    let env = unique_env("replicas");
    let admin = generate_key(Role::Admin);
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    let config = config.replace("environment: test", &format!("environment: {env}"));
    dir.write(
        "toolgate.yaml",
        &format!(
            "{config}admins:\n  secops: {{ key_sha256: \"{}\" }}\nstore: {{ {} }}\naudit: {{ kind: redis }}\n",
            key_sha256(&admin),
            shared.store
        ),
    );
    Cluster {
        up,
        dir,
        k,
        admin,
        secret: canary("crm-"),
        env,
        verify: shared.verify.clone(),
        started: Default::default(),
    }
}

impl Cluster {
    pub async fn replica(&self) -> Proc {
        let n = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Proc::start(
            &self.dir.config_path(),
            free_port(),
            &[
                ("CRM_KEY", &self.secret),
                ("TOOLGATE_REPLICA_ID", &format!("r{n}")),
            ],
        )
        .await
    }

    /// From now on each replica appends to a chain of its own
    /// (`audit: {kind: redis, chains: per_replica}`).
    pub fn per_replica_chains(self) -> Cluster {
        let path = self.dir.config_path();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace(
            "audit: { kind: redis }",
            "audit: { kind: redis, chains: per_replica }",
        );
        std::fs::write(&path, text).unwrap();
        self
    }

    /// A call that waits for approval, made on `p`; its action id.
    pub async fn hold(&self, p: &Proc, name: &str) -> String {
        let (st, v) = p
            .send(
                "POST",
                &self.k.agent,
                "/v1/calls",
                Some(json!({"tool": "risky", "arguments": {"name": name}})),
            )
            .await;
        assert_eq!(st, 202, "{v}");
        v["action_id"].as_str().unwrap().to_owned()
    }

    /// `toolgate audit verify` of the shared trail; its report (it must
    /// pass: every chain intact).
    pub fn verify_trail(&self) -> String {
        let mut cmd = toolgate();
        cmd.args(["audit", "verify"])
            .args(&self.verify)
            .args(["--environment", &self.env]);
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "audit verify: {text}");
        assert!(text.lines().all(|l| l.starts_with("intact")), "{text}");
        text
    }
}

/// Call the `plain` tool on `p` until `done` holds of the answer; fail
/// with `what` once `within` has passed.
pub(crate) async fn call_until(
    p: &Proc,
    key: &str,
    within: Duration,
    what: &str,
    done: impl Fn(u16, &Value) -> bool,
) {
    let t = Instant::now();
    loop {
        let (st, v) = p
            .send(
                "POST",
                key,
                "/v1/calls",
                Some(json!({"tool": "plain", "arguments": {"name": "x"}})),
            )
            .await;
        if done(st, &v) {
            return;
        }
        assert!(t.elapsed() < within, "{what}: {st} {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn redis_or_skip() -> Option<TestRedis> {
    TestRedis::any().await
}

#[tokio::test]
async fn an_action_created_on_one_replica_is_approved_on_the_other_and_runs_once() {
    if let Some(redis) = redis_or_skip().await {
        approved_on_the_other_runs_once(redis).await;
    }
}

/// The same over TLS: `rediss://`, the server verified against its CA, a
/// client certificate presented (store, audit stream and pub/sub alike).
#[tokio::test]
async fn over_tls_an_action_created_on_one_replica_is_approved_on_the_other_and_runs_once() {
    if let Some(redis) = TestRedis::own_tls(true).await {
        approved_on_the_other_runs_once(redis).await;
    }
}

/// With a chain per replica: the same, and each replica's records are on
/// its own chain, both verified.
#[tokio::test]
async fn with_per_replica_chains_an_action_created_on_one_replica_is_approved_on_the_other_and_runs_once()
 {
    if let Some(redis) = redis_or_skip().await {
        let c = cluster(Upstream::start().await, &redis, "").per_replica_chains();
        approved_on_the_other_runs_once_on(&c).await;
        chains_are_each_replicas(&c);
    }
}

#[tokio::test]
async fn with_per_replica_chains_a_replica_without_a_usable_name_does_not_start() {
    let Some(redis) = redis_or_skip().await else {
        return;
    };
    let c = cluster(Upstream::start().await, &redis, "").per_replica_chains();
    let out = toolgate()
        .args(["serve", "--config"])
        .arg(c.dir.config_path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("CRM_KEY", &c.secret)
        .env("TOOLGATE_REPLICA_ID", "gw 1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("TOOLGATE_REPLICA_ID must be"), "{err}");
}

/// The trail of a run with per-replica chains: the chains of replicas
/// that wrote (A, `r0`, held the action), no shared one, each intact.
pub(crate) fn chains_are_each_replicas(c: &Cluster) {
    let report = c.verify_trail();
    assert!(report.contains("intact: chain r0: "), "{report}");
    assert!(
        report
            .lines()
            .all(|l| l.starts_with("intact: chain r0: ") || l.starts_with("intact: chain r1: ")),
        "{report}"
    );
}

async fn approved_on_the_other_runs_once(redis: TestRedis) {
    let c = cluster(Upstream::start().await, &redis, "");
    approved_on_the_other_runs_once_on(&c).await;
    // Redis holds no credential.
    let dump = redis.dump(&format!("toolgate:{{{}:*", c.env)).await;
    assert!(!dump.is_empty());
    assert!(!leaks(&String::from_utf8_lossy(&dump), &c.secret));
}

/// An action held on A, listed and approved (20 times at once, across A
/// and B) on B, runs once; the shared trail verifies.
pub(crate) async fn approved_on_the_other_runs_once_on(c: &Cluster) {
    let (a, b) = (c.replica().await, c.replica().await);
    let id = c.hold(&a, "Shared").await;
    // B lists it for its approvers.
    let (st, v) = b.send("GET", &c.k.alice, "/v1/pending-actions", None).await;
    assert_eq!(st, 200);
    assert!(v.to_string().contains(&id), "{v}");
    // 20 concurrent approvals, split across A and B: exactly one execution.
    let path = format!("/v1/pending-actions/{id}/approve");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let api = if i % 2 == 0 {
            a.api.clone()
        } else {
            b.api.clone()
        };
        let (key, path) = (c.k.alice.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            api.post_json(&key, &path, json!({"reason": "ok"})).await
        }));
    }
    let mut succeeded = 0;
    for t in tasks {
        let (st, v) = t.await.unwrap();
        match st {
            200 => succeeded += 1,
            409 => assert_eq!(code(&v), "conflict", "{v}"),
            other => panic!("approval answered {other}: {v}"),
        }
    }
    assert_eq!(succeeded, 1, "exactly one approval executes");
    assert_eq!(c.up.count(), 1, "exactly one upstream request");
    // Both replicas report the same outcome.
    for p in [&a, &b] {
        let (st, v) = p
            .send("GET", &c.k.agent, &format!("/v1/calls/{id}"), None)
            .await;
        assert_eq!((st, v["status"].as_str()), (200, Some("succeeded")), "{v}");
    }
    // The access review reads the shared trail, on either replica.
    let (st, v) = b
        .send("GET", &c.admin, "/v1/admin/access-review?since=1d", None)
        .await;
    assert_eq!(st, 200, "{v}");
    let bot = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "bot")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(bot["tools_used"]["risky"]["calls"], 1, "{v}");
    // The shared trail is one intact chain.
    let report = c.verify_trail();
    assert!(report.starts_with("intact"), "{report}");
}

#[tokio::test]
async fn kill_switches_set_on_one_replica_hold_on_the_other_within_a_second() {
    if let Some(redis) = redis_or_skip().await {
        kill_switches_hold_on_the_other(redis).await;
    }
}

#[tokio::test]
async fn over_tls_kill_switches_set_on_one_replica_hold_on_the_other_within_a_second() {
    if let Some(redis) = TestRedis::own_tls(true).await {
        kill_switches_hold_on_the_other(redis).await;
    }
}

async fn kill_switches_hold_on_the_other(redis: TestRedis) {
    kill_switches_hold_on_the_other_on(&cluster(Upstream::start().await, &redis, "")).await;
}

/// Disabling, enabling and revoking on A hold on B within a second.
pub(crate) async fn kill_switches_hold_on_the_other_on(c: &Cluster) {
    let (a, b) = (c.replica().await, c.replica().await);
    let plain = json!({"tool": "plain", "arguments": {"name": "x"}});
    let (st, v) = b
        .send("POST", &c.k.agent, "/v1/calls", Some(plain.clone()))
        .await;
    assert_eq!(st, 200, "{v}");

    // Disable the credential on A; B stops using it within a second.
    let (st, _) = a
        .send(
            "POST",
            &c.admin,
            "/v1/admin/credentials/crm/disable",
            Some(json!({"reason": "leak drill"})),
        )
        .await;
    assert_eq!(st, 200);
    call_until(
        &b,
        &c.k.agent,
        Duration::from_secs(1),
        "B still uses it",
        |st, v| st == 503 && code(v) == "credential_unavailable",
    )
    .await;
    let (st, _) = a
        .send("POST", &c.admin, "/v1/admin/credentials/crm/enable", None)
        .await;
    assert_eq!(st, 200);
    call_until(
        &b,
        &c.k.agent,
        Duration::from_secs(1),
        "B did not resume",
        |st, _| st == 200,
    )
    .await;

    // Revoke the agent on A; B refuses it within a second.
    let (st, _) = a
        .send("POST", &c.admin, "/v1/admin/agents/bot/revoke", None)
        .await;
    assert_eq!(st, 200);
    call_until(
        &b,
        &c.k.agent,
        Duration::from_secs(1),
        "B still admits it",
        |st, _| st == 401,
    )
    .await;
    c.verify_trail();
}

#[tokio::test]
async fn one_rate_limit_spans_the_replicas() {
    let Some(redis) = redis_or_skip().await else {
        return;
    };
    one_rate_limit_spans_the_replicas_on(&Shared::redis(&redis)).await;
}

/// A burst of 5 a minute, called 12 times alternately on A and B: 5 pass.
pub(crate) async fn one_rate_limit_spans_the_replicas_on(shared: &Shared) {
    let c = replicas_on(
        Upstream::start().await,
        shared,
        "    rate_limit: { per_minute: 1, burst: 5 }\n",
    );
    let (a, b) = (c.replica().await, c.replica().await);
    let mut allowed = 0;
    let mut limited = 0;
    for i in 0..12 {
        let p = if i % 2 == 0 { &a } else { &b };
        let (st, v) = p
            .send(
                "POST",
                &c.k.agent,
                "/v1/calls",
                Some(json!({"tool": "plain", "arguments": {"name": "x"}})),
            )
            .await;
        match st {
            200 => allowed += 1,
            429 => {
                assert_eq!(code(&v), "rate_limited");
                limited += 1
            }
            other => panic!("{other}: {v}"),
        }
    }
    assert_eq!(
        (allowed, limited),
        (5, 7),
        "one burst of 5 for both replicas"
    );
    assert_eq!(c.up.count(), 5);
}

#[tokio::test]
async fn with_redis_down_calls_fail_closed_and_service_returns_with_nothing_lost() {
    let Some(mut redis) = TestRedis::own().await else {
        return;
    };
    let c = cluster(Upstream::start().await, &redis, "");
    let a = c.replica().await;
    let id = c.hold(&a, "Kept").await;

    redis.kill();
    // Calls fail closed: 503 at once, and `store_unavailable` once the kill
    // switches cannot have been refreshed.
    call_until(
        &a,
        &c.k.agent,
        Duration::from_secs(10),
        "no store_unavailable",
        |st, v| {
            assert_eq!(st, 503, "{v}");
            assert!(
                ["store_unavailable", "audit_unavailable"].contains(&code(v)),
                "{v}"
            );
            code(v) == "store_unavailable"
        },
    )
    .await;
    let (st, v) = a
        .send(
            "GET",
            &c.k.alice,
            &format!("/v1/pending-actions/{id}"),
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (503, "store_unavailable"), "{v}");
    let (st, ready) = a.send("GET", &c.k.agent, "/readyz", None).await;
    assert_eq!(st, 503);
    let not_ready = ready["not_ready"].as_array().expect("subsystems named");
    assert!(not_ready.contains(&json!("store")), "{ready}");
    assert_eq!(ready["checks"]["store"]["kind"], "redis");
    assert_eq!(c.up.count(), 0, "nothing reached the upstream");

    // Redis returns (with its append-only file): service returns by itself.
    assert!(redis.start().await);
    call_until(
        &a,
        &c.k.agent,
        Duration::from_secs(10),
        "no recovery",
        |st, _| st == 200,
    )
    .await;
    let (st, _) = a.send("GET", &c.k.agent, "/readyz", None).await;
    assert_eq!(st, 200);
    // The pending action was not lost; it runs once.
    let (st, v) = a
        .send(
            "POST",
            &c.k.alice,
            &format!("/v1/pending-actions/{id}/approve"),
            Some(json!({"reason": "after the outage"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(c.up.count(), 2);
    assert_eq!(
        c.up.requests()
            .iter()
            .filter(|r| r.path == "/echo/risky")
            .count(),
        1
    );
    c.verify_trail();
}
