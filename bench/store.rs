//! Store benchmark: calls that go through the store (idempotency keys, rate
//! limits, approvals) with the in-memory, the embedded durable and the Redis
//! store — Redis with one replica and with two sharing it (load split
//! between them) — in one run, against a real upstream on loopback.
//!
//! cargo run --release --example store_bench -- [SECONDS] [CONCURRENCY] [APPROVALS]
//!
//! Redis: `TOOLGATE_BENCH_REDIS_URL` (default redis://127.0.0.1:6379/0); each
//! run uses its own key prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use toolgate::identity::{Role, generate_key, key_sha256};
use toolgate::secrets::MapEnv;

async fn upstream() -> String {
    let app = axum::Router::new()
        .fallback(|| async { axum::Json(json!({"id": "L-1", "status": "new"})) });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

struct Gw {
    base: String,
    agent: String,
    approver: String,
    _dir: tempfile::TempDir,
}

async fn gateway(store: &str, audit: &str, env: &str, up: &str) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    let agent = generate_key(Role::Agent);
    let approver = generate_key(Role::Approver);
    let tool = |name: &str, approval: &str| {
        format!(
            "name: {name}\ndescription: d\nscopes: [s]\ninput_schema: {{ type: object, additionalProperties: false, properties: {{ n: {{ type: integer }} }} }}\n\
             upstream: {{ method: POST, url: \"{up}/x\", body: \"{{args}}\", credential: c, allow_private_network: true }}\napproval: {approval}\n"
        )
    };
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    std::fs::write(
        dir.path().join("tools/direct.yaml"),
        tool("direct", "never"),
    )
    .unwrap();
    std::fs::write(dir.path().join("tools/held.yaml"), tool("held", "always")).unwrap();
    std::fs::write(
        dir.path().join("toolgate.yaml"),
        format!(
            "environment: {env}\nstore: {store}\naudit: {audit}\nlimits: {{ max_concurrency: 4096 }}\n\
             credentials:\n  c: {{ environment: {env}, source: {{ env: K }}, scopes: [s], inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }} }}\n\
             workflows:\n  w: {{ environment: {env}, scopes: [s], credentials: {{ c: c }}, rate_limit: {{ per_minute: 100000000, burst: 100000 }} }}\n\
             agents:\n  a: {{ workflow: w, key_sha256: \"{}\" }}\napprovers:\n  p: {{ key_sha256: \"{}\", workflows: [w] }}\n",
            key_sha256(&agent),
            key_sha256(&approver)
        ),
    )
    .unwrap();
    let base = serve(dir.path()).await;
    Gw {
        base,
        agent,
        approver,
        _dir: dir,
    }
}

/// Serve the config in `dir` on a free port; its base URL.
async fn serve(dir: &std::path::Path) -> String {
    let (cfg, _) = toolgate::catalog::load(&dir.join("toolgate.yaml")).expect("bench config");
    let env = MapEnv::new([("K".to_owned(), "bench-secret-value-0123456789".to_owned())].into());
    let gw = toolgate::Gateway::standalone(cfg, Arc::new(env)).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { toolgate::server::serve(gw, l, std::future::pending()).await });
    base
}

/// Calls per second, the load spread over the replicas in `gs` (same keys).
async fn throughput(gs: &[&Gw], secs: u64, conc: usize, idempotent: bool) -> f64 {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conc {
        let (http, url, key, done) = (
            http.clone(),
            format!("{}/v1/calls", gs[c % gs.len()].base),
            gs[0].agent.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let mut body = json!({"tool": "direct", "arguments": {"n": i}});
                if idempotent {
                    body["idempotency_key"] = json!(format!("k-{c}-{i}"));
                }
                let r = http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

/// Held on the first replica, approved on the last.
async fn approve_latency(gs: &[&Gw], n: usize) -> (f64, f64) {
    let (g, approver) = (gs[0], gs[gs.len() - 1]);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let r = http
            .post(format!("{}/v1/calls", g.base))
            .bearer_auth(&g.agent)
            .json(&json!({"tool": "held", "arguments": {"n": i}}))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        ids.push(v["action_id"].as_str().unwrap().to_owned());
    }
    let mut lat = Vec::new();
    for id in ids {
        let t = Instant::now();
        let r = http
            .post(format!("{}/v1/pending-actions/{id}/approve", approver.base))
            .bearer_auth(&approver.approver)
            .json(&json!({"reason": "bench"}))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["status"], "succeeded");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    (
        lat[lat.len() / 2],
        lat[(lat.len() * 99 / 100).min(lat.len() - 1)],
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let secs = args.first().copied().unwrap_or(5);
    let conc = args.get(1).copied().unwrap_or(32) as usize;
    let approvals = args.get(2).copied().unwrap_or(200) as usize;
    let up = upstream().await;
    let redis = std::env::var("TOOLGATE_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let redis_store = format!("{{ kind: redis, url: \"{redis}\" }}");
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    println!(
        "| store (audit) | replicas | plain calls/s (rate-limited) | idempotent calls/s | approve→executed p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|");
    let file_audit = "{ kind: file }";
    for (name, store, audit) in [
        ("memory (file)", "{ kind: memory }", file_audit),
        ("file/redb (file)", "{ kind: file }", file_audit),
        ("redis (file)", redis_store.as_str(), file_audit),
        ("redis (redis)", redis_store.as_str(), "{ kind: redis }"),
    ] {
        let env = format!("bench-{run}-{}", name.len());
        let a = gateway(store, audit, &env, &up).await;
        row(name, &[&a], secs, conc, approvals).await;
        if store.contains("redis") {
            // A second replica on the same Redis, with the same config and keys.
            let b = replica_of(&a).await;
            row(name, &[&a, &b], secs, conc, approvals).await;
        }
    }
}

/// Another replica with `a`'s config (and so its keys and its Redis), in a
/// directory of its own (its own audit file, when the trail is a file).
async fn replica_of(a: &Gw) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    for rel in ["toolgate.yaml", "tools/direct.yaml", "tools/held.yaml"] {
        std::fs::copy(a._dir.path().join(rel), dir.path().join(rel)).unwrap();
    }
    let base = serve(dir.path()).await;
    Gw {
        base,
        agent: a.agent.clone(),
        approver: a.approver.clone(),
        _dir: dir,
    }
}

async fn row(name: &str, gs: &[&Gw], secs: u64, conc: usize, approvals: usize) {
    let plain = throughput(gs, secs, conc, false).await;
    let idem = throughput(gs, secs, conc, true).await;
    let (p50, p99) = approve_latency(gs, approvals).await;
    println!(
        "| {name} | {} | {plain:.0} | {idem:.0} | {p50:.2} | {p99:.2} |",
        gs.len()
    );
}
