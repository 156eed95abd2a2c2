//! Rotation that toolgate performs, end to end against a real OpenBao and a
//! sample vendor started here that mints keys, revokes them, and refuses a
//! revoked key (it records every key it is shown): calls in flight never
//! fail, an old key is revoked after the grace period and never sent again,
//! a failed mint leaves the key in use and is retried, the admin endpoint,
//! two replicas on Redis rotating once, and no key in the store or trail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::support::redis::{TestRedis, unique_env};
use crate::support::{ConfigDir, Keys, TestGateway, canary, code, crm, leaks};
use crate::vault::{Bao, bao_or_skip};

pub(crate) struct Key {
    id: String,
    revoked_at: Option<Instant>,
}

/// The vendor: its keys by secret, every use of a key on `/data`, and how
/// many mints it answered (and how many more it refuses).
#[derive(Default)]
pub(crate) struct Vendor {
    pub(crate) keys: Mutex<HashMap<String, Key>>,
    pub(crate) seen: Mutex<Vec<(String, Instant)>>,
    pub(crate) mints: AtomicUsize,
    pub(crate) fail_mints: AtomicUsize,
}

impl Vendor {
    pub(crate) fn valid(&self, h: &HeaderMap) -> Option<String> {
        let auth = h.get("authorization")?.to_str().ok()?;
        let secret = auth.strip_prefix("Bearer ")?;
        let keys = self.keys.lock().unwrap();
        keys.get(secret)
            .filter(|k| k.revoked_at.is_none())
            .map(|_| secret.to_owned())
    }

    pub(crate) fn revoked(&self) -> usize {
        let keys = self.keys.lock().unwrap();
        keys.values().filter(|k| k.revoked_at.is_some()).count()
    }

    pub(crate) fn is_revoked(&self, secret: &str) -> bool {
        self.keys.lock().unwrap()[secret].revoked_at.is_some()
    }

    pub(crate) fn revoke(&self, which: impl Fn(&str, &Key) -> bool) -> StatusCode {
        let mut keys = self.keys.lock().unwrap();
        match keys.iter_mut().find(|(s, k)| which(s, k)) {
            Some((_, k)) => {
                k.revoked_at.get_or_insert_with(Instant::now);
                StatusCode::NO_CONTENT
            }
            None => StatusCode::NOT_FOUND,
        }
    }

    /// Every secret it ever issued (and the first one).
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.keys.lock().unwrap().keys().cloned().collect()
    }

    /// No key was shown on `/data` after it was revoked.
    pub(crate) fn assert_never_used_after_revocation(&self) {
        let keys = self.keys.lock().unwrap();
        for (secret, at) in self.seen.lock().unwrap().iter() {
            if let Some(k) = keys.get(secret)
                && let Some(revoked) = k.revoked_at
            {
                assert!(*at < revoked, "key {} was sent after its revocation", k.id);
            }
        }
    }
}

pub(crate) async fn vendor(first: &str) -> (String, Arc<Vendor>) {
    let v = Arc::new(Vendor::default());
    v.keys.lock().unwrap().insert(
        first.to_owned(),
        Key {
            id: "k-0".into(),
            revoked_at: None,
        },
    );
    let app = axum::Router::new()
        .route(
            "/keys",
            axum::routing::post(|State(v): State<Arc<Vendor>>, h: HeaderMap| async move {
                if v.valid(&h).is_none() {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if v
                    .fail_mints
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                let n = v.mints.fetch_add(1, Ordering::SeqCst) + 1;
                let secret = canary(&format!("minted{n}-"));
                let id = format!("k-{n}");
                v.keys.lock().unwrap().insert(
                    secret.clone(),
                    Key {
                        id: id.clone(),
                        revoked_at: None,
                    },
                );
                axum::Json(json!({"data": {"key": secret}, "id": id})).into_response()
            }),
        )
        .route(
            "/keys/{id}",
            axum::routing::delete(
                |State(v): State<Arc<Vendor>>, h: HeaderMap, Path(id): Path<String>| async move {
                    if v.valid(&h).is_none() {
                        return StatusCode::UNAUTHORIZED;
                    }
                    v.revoke(|_, k| k.id == id)
                },
            ),
        )
        .route(
            "/revoke",
            axum::routing::post(
                |State(v): State<Arc<Vendor>>, h: HeaderMap, axum::Json(b): axum::Json<Value>| async move {
                    if v.valid(&h).is_none() {
                        return StatusCode::UNAUTHORIZED;
                    }
                    let old = b["key"].as_str().unwrap_or_default().to_owned();
                    v.revoke(|s, _| s == old)
                },
            ),
        )
        .route(
            "/data",
            axum::routing::get(|State(v): State<Arc<Vendor>>, h: HeaderMap| async move {
                if let Some(secret) = h
                    .get("authorization")
                    .and_then(|a| a.to_str().ok())
                    .and_then(|a| a.strip_prefix("Bearer "))
                {
                    v.seen
                        .lock()
                        .unwrap()
                        .push((secret.to_owned(), Instant::now()));
                }
                match v.valid(&h) {
                    Some(_) => axum::Json(json!({"ok": true})).into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        )
        .with_state(v.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), v)
}

pub(crate) const BY_SECRET: &str = "{ method: POST, url: \"VENDOR/revoke\", body: { key: \"{old_secret}\" }, allow_private_network: true }";
pub(crate) const BY_ID: &str =
    "{ method: DELETE, url: \"VENDOR/keys/{old_id}\", allow_private_network: true }";

/// A gateway's directory: credential `crm` from Vault at `path`, rotated
/// `every`, with `grace` and `revoke`; tool `data` calls the vendor with it.
#[allow(clippy::too_many_arguments)]
fn setup(
    keys: &Keys,
    env: &str,
    top: &str,
    bao: &Bao,
    path: &str,
    vendor: &str,
    timing: (&str, &str),
    revoke: &str,
) -> ConfigDir {
    let top = format!(
        "{top}vault: {{ address: \"{}\", token: {{ env: VT }}, cache_seconds: 1 }}\n",
        bao.addr
    );
    let source = format!("{{ vault: {{ path: \"{path}\", field: api_key }} }}");
    setup_with(keys, env, &top, &source, vendor, timing, revoke)
}

/// [`setup`] with the credential's `source` (YAML) and the top-level keys
/// `top` given whole.
pub(crate) fn setup_with(
    keys: &Keys,
    env: &str,
    top: &str,
    source: &str,
    vendor: &str,
    (every, grace): (&str, &str),
    revoke: &str,
) -> ConfigDir {
    let dir = ConfigDir::new();
    crm::write_tool(&dir, "data", &format!("{vendor}/data"));
    let revoke = revoke.replace("VENDOR", vendor);
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: {env}\n{top}\
             credentials:\n  crm:\n    environment: {env}\n    source: {source}\n\
             \x20   inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n\
             \x20   rotation:\n      every: {every}\n      grace: {grace}\n      retry: {{ initial: 1s, max: 2s }}\n\
             \x20     mint: {{ method: POST, url: \"{vendor}/keys\", allow_private_network: true, secret_at: /data/key, id_at: /id, timeout_ms: 5000 }}\n\
             \x20     revoke: {revoke}\n\
             workflows:\n  main: {{ environment: {env}, scopes: [crm], credentials: {{ crm: crm }} }}\n  other: {{ environment: {env} }}\n{}",
            keys.yaml()
        ),
    );
    dir
}

async fn start(dir: &ConfigDir, bao: &Bao) -> TestGateway {
    TestGateway::start(
        &dir.config_path(),
        [("VT".to_owned(), bao.token.clone())].into(),
    )
    .await
}

/// Calls from `tasks` tasks until `stop`; (calls, failures).
pub(crate) fn load(
    gw: Arc<TestGateway>,
    key: &str,
    tasks: usize,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, usize)> {
    let key = key.to_owned();
    tokio::spawn(async move {
        let mut all = Vec::new();
        for _ in 0..tasks {
            let (gw, key, stop) = (gw.clone(), key.clone(), stop.clone());
            all.push(tokio::spawn(async move {
                let (mut calls, mut failed) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let (st, body, _) = gw.call(&key, json!({"tool": "data"})).await;
                    calls += 1;
                    if st != 200 {
                        eprintln!("failed call: {st} {body}");
                        failed += 1;
                    }
                }
                (calls, failed)
            }));
        }
        let mut total = (0, 0);
        for t in all {
            let (c, f) = t.await.unwrap();
            total = (total.0 + c, total.1 + f);
        }
        total
    })
}

pub(crate) async fn wait_for(what: &str, secs: u64, cond: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn events(audit: &str) -> Vec<Value> {
    audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| {
            r["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("rotation_"))
        })
        .collect()
}

pub(crate) fn read(dir: &ConfigDir, file: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.path().join(file)).unwrap_or_default()).into_owned()
}

async fn seeded(bao: &Bao, path: &str, first: &str) {
    bao.api(
        "POST",
        path,
        json!({"data": {"api_key": first, "note": "kept"}}),
    )
    .await;
}

#[tokio::test]
async fn a_rotation_under_load_fails_no_call_and_old_keys_are_revoked_after_the_grace() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let first = canary("first-");
    let (url, vendor) = vendor(&first).await;
    let path = format!("secret/data/rot{}", rand::random::<u32>());
    seeded(&bao, &path, &first).await;
    let keys = Keys::new();
    let dir = setup(
        &keys,
        "test",
        "",
        &bao,
        &path,
        &url,
        ("2s", "1s"),
        BY_SECRET,
    );
    let gw = Arc::new(start(&dir, &bao).await);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = load(gw.clone(), &keys.agent, 8, stop.clone());
    // Two rotations with their grace periods, calls in flight all along.
    wait_for("two keys revoked", 40, || vendor.revoked() >= 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (n, failed) = calls.await.unwrap();
    assert_eq!(failed, 0, "of {n} calls");
    assert!(n > 20, "only {n} calls");
    assert!(vendor.is_revoked(&first), "the first key is revoked");
    vendor.assert_never_used_after_revocation();
    // The secret's other fields are kept in each version toolgate writes.
    let now = bao.api("GET", &path, Value::Null).await;
    assert_eq!(now["data"]["data"]["note"], "kept");
    assert!(now["data"]["metadata"]["version"].as_u64().unwrap() >= 3);

    let audit = read(&dir, "data/audit.jsonl");
    let audit_events = events(&audit);
    let kinds_seen: Vec<&str> = audit_events
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    for step in [
        "rotation_started",
        "rotation_minted",
        "rotation_switched",
        "rotation_revoked",
    ] {
        assert!(kinds_seen.contains(&step), "{step} missing: {kinds_seen:?}");
    }
    assert!(!kinds_seen.contains(&"rotation_failed"), "{kinds_seen:?}");
    let store = read(&dir, "data/toolgate.redb");
    for secret in vendor.secrets().iter().chain([&bao.token]) {
        assert!(!leaks(&audit, secret), "the trail holds a key");
        assert!(!leaks(&store, secret), "the store holds a key");
    }
}

#[tokio::test]
async fn a_failed_mint_leaves_the_key_in_use_and_is_retried_and_the_admin_endpoint_answers() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let first = canary("first-");
    let (url, vendor) = vendor(&first).await;
    let path = format!("secret/data/rot{}", rand::random::<u32>());
    seeded(&bao, &path, &first).await;
    let keys = Keys::new();
    let dir = setup(&keys, "test", "", &bao, &path, &url, ("1h", "3s"), BY_ID);
    let gw = start(&dir, &bao).await;
    let rotate = |key: &str, name: &str| {
        let (http, u, key) = (
            gw.http.clone(),
            gw.url(&format!("/v1/admin/credentials/{name}/rotate")),
            key.to_owned(),
        );
        async move {
            let r = http.post(u).bearer_auth(key).send().await.unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(rotate(&keys.agent, "crm").await.0, 403);
    let (st, v) = rotate(&keys.admin, "nope").await;
    assert_eq!((st, code(&v)), (404, "not_found"));

    // The vendor refuses the next two mints.
    vendor.fail_mints.store(2, Ordering::SeqCst);
    let (st, v) = rotate(&keys.admin, "crm").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["phase"], "idle", "{v}");
    assert_eq!(v["failures"], 1, "{v}");
    assert_eq!(v["last_error"]["step"], "mint", "{v}");
    assert!(
        v["last_error"]["reason"].as_str().unwrap().contains("500"),
        "{v}"
    );
    // The key in use stays in use.
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "data"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(vendor.seen.lock().unwrap().last().unwrap().0, first);
    // Shown on /readyz, in the metrics and in the access review.
    let (st, ready) = gw.get(None, "/readyz").await;
    assert_eq!(
        (st, &ready["checks"]["rotation"]["failing"]),
        (200, &json!(1)),
        "{ready}"
    );
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("toolgate_rotation_failures_total{credential=\"crm\",step=\"mint\"}"),
        "{metrics}"
    );
    let (st, review) = gw
        .get(Some(&keys.admin), "/v1/admin/access-review?since=1d")
        .await;
    assert_eq!(st, 200, "{review}");
    let crm = review["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["credential"] == "crm")
        .unwrap();
    assert!(
        crm["rotation"]["failing"]
            .as_str()
            .unwrap()
            .contains("mint"),
        "{review}"
    );

    // Retried with backoff until the vendor mints; then in its grace period.
    wait_for("a mint after the retries", 20, || {
        vendor.mints.load(Ordering::SeqCst) == 1
    })
    .await;
    let (st, v) = rotate(&keys.admin, "crm").await;
    assert_eq!((st, code(&v)), (409, "rotation_in_progress"), "{v}");
    assert!(v["error"]["details"][0]["phase"].is_string(), "{v}");
    // Calls switch to the new key; the first key, not minted here and with
    // a revoke that needs its id, is left to the operator.
    wait_for("the grace period", 20, || {
        events(&read(&dir, "data/audit.jsonl"))
            .iter()
            .any(|r| r["event"] == "rotation_revoked")
    })
    .await;
    assert!(!vendor.is_revoked(&first));
    let (st, ready) = gw.get(None, "/readyz").await;
    assert_eq!(
        (st, &ready["checks"]["rotation"]["failing"]),
        (200, &json!(0)),
        "{ready}"
    );

    // The next rotation revokes the key toolgate minted, by its id.
    let minted = vendor.secrets().into_iter().find(|s| s != &first).unwrap();
    let (st, v) = rotate(&keys.admin, "crm").await;
    assert_eq!((st, &v["phase"]), (200, &json!("grace")), "{v}");
    assert_eq!(v["key_id"], "k-2", "{v}");
    wait_for("the minted key revoked", 20, || vendor.is_revoked(&minted)).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "data"})).await;
    assert_eq!(st, 200, "{body}");
    // The vendor refuses the revoked key, and toolgate never sends it again.
    let refused = gw
        .http
        .get(format!("{url}/data"))
        .bearer_auth(&minted)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    vendor.seen.lock().unwrap().pop();
    vendor.assert_never_used_after_revocation();

    wait_for("the revoke recorded", 10, || {
        events(&read(&dir, "data/audit.jsonl"))
            .iter()
            .filter(|r| r["event"] == "rotation_revoked")
            .count()
            >= 2
    })
    .await;
    let audit = read(&dir, "data/audit.jsonl");
    let revoked: Vec<String> = events(&audit)
        .iter()
        .filter(|r| r["event"] == "rotation_revoked")
        .map(|r| r["decision"].as_str().unwrap().to_owned())
        .collect();
    assert!(revoked[0].contains("not minted by toolgate"), "{revoked:?}");
    assert!(revoked[1].contains("k-1 revoked"), "{revoked:?}");
    assert!(
        events(&audit)
            .iter()
            .any(|r| r["event"] == "rotation_started" && r["admin"] == "secops")
    );
    let store = read(&dir, "data/toolgate.redb");
    for secret in vendor.secrets() {
        assert!(!leaks(&audit, &secret), "the trail holds a key");
        assert!(!leaks(&store, &secret), "the store holds a key");
    }
}

#[tokio::test]
async fn a_restart_in_the_grace_period_still_revokes_the_old_key() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let first = canary("first-");
    let (url, vendor) = vendor(&first).await;
    let path = format!("secret/data/rot{}", rand::random::<u32>());
    seeded(&bao, &path, &first).await;
    let keys = Keys::new();
    let dir = setup(
        &keys,
        "test",
        "",
        &bao,
        &path,
        &url,
        ("1h", "2s"),
        BY_SECRET,
    );
    let gw = start(&dir, &bao).await;
    let (st, v) = gw
        .post_json(&keys.admin, "/v1/admin/credentials/crm/rotate", json!({}))
        .await;
    assert_eq!((st, &v["phase"]), (200, &json!("grace")), "{v}");
    // Stopped before the grace passes: nothing is revoked yet.
    gw.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(vendor.revoked(), 0);
    let gw = start(&dir, &bao).await;
    wait_for("the revoke after the restart", 20, || {
        vendor.is_revoked(&first)
    })
    .await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "data"})).await;
    assert_eq!(st, 200, "{body}");
    assert_ne!(vendor.seen.lock().unwrap().last().unwrap().0, first);
    vendor.assert_never_used_after_revocation();
    wait_for("the revoke recorded", 10, || {
        events(&read(&dir, "data/audit.jsonl"))
            .iter()
            .filter(|r| r["event"] == "rotation_revoked")
            .count()
            >= 1
    })
    .await;
    let audit = read(&dir, "data/audit.jsonl");
    let kinds: Vec<String> = events(&audit)
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "rotation_started",
            "rotation_minted",
            "rotation_switched",
            "rotation_revoked"
        ],
        "one rotation, resumed"
    );
}

#[tokio::test]
async fn the_binary_killed_in_the_grace_period_resumes_and_its_logs_hold_no_key() {
    use crate::support::process::{Serve, free_port};
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let first = canary("first-");
    let (url, vendor) = vendor(&first).await;
    let path = format!("secret/data/rot{}", rand::random::<u32>());
    seeded(&bao, &path, &first).await;
    let keys = Keys::new();
    let dir = setup(
        &keys,
        "test",
        "",
        &bao,
        &path,
        &url,
        ("1h", "2s"),
        BY_SECRET,
    );
    let serve = |log: &str| {
        Serve::new(&dir.config_path(), free_port())
            .env("VT", &bao.token)
            .rust_log("trace")
            .stderr_to(&dir.path().join(log))
            .start()
    };
    let p = serve("one.log").await;
    // A failed mint first, retried by the schedule; then killed mid-grace.
    vendor.fail_mints.store(1, Ordering::SeqCst);
    let (st, v) = p
        .send(
            "POST",
            &keys.admin,
            "/v1/admin/credentials/crm/rotate",
            None,
        )
        .await;
    assert_eq!((st, &v["last_error"]["step"]), (200, &json!("mint")), "{v}");
    wait_for("the retried mint", 20, || {
        vendor.mints.load(Ordering::SeqCst) == 1
    })
    .await;
    // Killed once calls use the new key (in the grace period). Killed while
    // it held the lease, the next process would wait for the lease to run out.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (st, body) = p
            .send(
                "POST",
                &keys.agent,
                "/v1/calls",
                Some(json!({"tool": "data"})),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        if vendor.seen.lock().unwrap().last().unwrap().0 != first {
            break;
        }
        assert!(
            Instant::now() < until,
            "calls never switched to the new key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.kill9();
    assert_eq!(vendor.revoked(), 0);
    let p = serve("two.log").await;
    // At most the lease (twice the 5 s request timeout, and 30 s) when the
    // kill came while the lease was held.
    wait_for("the revoke after the restart", 60, || {
        vendor.is_revoked(&first)
    })
    .await;
    let (st, body) = p
        .send(
            "POST",
            &keys.agent,
            "/v1/calls",
            Some(json!({"tool": "data"})),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    vendor.assert_never_used_after_revocation();
    drop(p);
    let mut scanned = String::new();
    for file in [
        "one.log",
        "two.log",
        "data/audit.jsonl",
        "data/toolgate.redb",
    ] {
        scanned.push_str(&read(&dir, file));
    }
    assert!(
        scanned.contains("rotation"),
        "the logs say nothing of the rotation"
    );
    for secret in vendor.secrets().iter().chain([&bao.token]) {
        assert!(
            !leaks(&scanned, secret),
            "a log, the trail or the store holds a key"
        );
    }
}

#[tokio::test]
async fn two_replicas_on_redis_rotate_once_and_neither_fails_a_call() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let first = canary("first-");
    let (url, vendor) = vendor(&first).await;
    let path = format!("secret/data/rot{}", rand::random::<u32>());
    seeded(&bao, &path, &first).await;
    let keys = Keys::new();
    let env = unique_env("rot");
    let top = format!("store: {{ kind: redis, url: \"{}\" }}\n", redis.url);
    let dirs = [0, 1].map(|_| {
        setup(
            &keys,
            &env,
            &top,
            &bao,
            &path,
            &url,
            ("3s", "1s"),
            BY_SECRET,
        )
    });
    let a = Arc::new(start(&dirs[0], &bao).await);
    let b = Arc::new(start(&dirs[1], &bao).await);
    let stop = Arc::new(AtomicBool::new(false));
    let on_a = load(a.clone(), &keys.agent, 4, stop.clone());
    let on_b = load(b.clone(), &keys.agent, 4, stop.clone());
    // Three rotations, the last one complete (its old key revoked); counted
    // between two rotations, while no mint happens.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (minted, version, trails) = loop {
        wait_for("three rotations", 60, || {
            vendor.mints.load(Ordering::SeqCst) >= 3
                && vendor.revoked() == vendor.mints.load(Ordering::SeqCst)
        })
        .await;
        let minted = vendor.mints.load(Ordering::SeqCst);
        let now = bao.api("GET", &path, Value::Null).await;
        let version = now["data"]["metadata"]["version"].as_u64().unwrap() as usize;
        let trails: Vec<Value> = dirs
            .iter()
            .flat_map(|d| events(&read(d, "data/audit.jsonl")))
            .collect();
        let revoked_records = trails
            .iter()
            .filter(|r| r["event"] == "rotation_revoked")
            .count();
        let quiet = vendor.mints.load(Ordering::SeqCst) == minted && vendor.revoked() == minted;
        // The last revoke's record follows the vendor's answer by a moment.
        if quiet && (revoked_records == minted || Instant::now() > deadline) {
            break (minted, version, trails);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let ((na, fa), (nb, fb)) = (on_a.await.unwrap(), on_b.await.unwrap());
    drop((a, b));
    assert_eq!((fa, fb), (0, 0), "of {na} and {nb} calls");
    vendor.assert_never_used_after_revocation();
    // Each rotation minted one key and wrote one version: never two (a
    // second writer's check-and-set would fail, recorded as rotation_failed).
    let minted_records = trails
        .iter()
        .filter(|r| r["event"] == "rotation_minted")
        .count();
    assert_eq!(version - 1, minted, "one version written per mint");
    assert_eq!(minted_records, minted, "one record per mint");
    let revoked_records = trails
        .iter()
        .filter(|r| r["event"] == "rotation_revoked")
        .count();
    assert_eq!(revoked_records, minted, "one revoke per rotation");
    assert!(
        !trails.iter().any(|r| r["event"] == "rotation_failed"),
        "{trails:?}"
    );
    let dump =
        String::from_utf8_lossy(&redis.dump(&format!("toolgate:{{{env}:*")).await).into_owned();
    assert!(!dump.is_empty(), "nothing of this environment in Redis");
    for secret in vendor.secrets() {
        assert!(!leaks(&dump, &secret), "Redis holds a key");
    }
}

pub(crate) fn problems(rotation: &str, source: &str) -> String {
    problems_with("", rotation, source)
}

/// The load errors of a config with credential `crm` from `source`,
/// rotated by `rotation`, below the top-level keys `top`.
pub(crate) fn problems_with(top: &str, rotation: &str, source: &str) -> String {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\n{top}credentials:\n  crm:\n    environment: test\n    source: {source}\n\
             \x20   inject: {{ header: Authorization }}\n    rotation: {rotation}\n  other:\n    environment: test\n    source: {{ env: X }}\n    inject: {{ header: X-Key }}\n"
        ),
    );
    match toolgate::catalog::load(&dir.config_path()) {
        Ok(_) => String::new(),
        Err(d) => d
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn every_bad_rotation_is_reported_at_its_key() {
    let vault = "{ vault: { path: secret/data/crm, field: k } }";
    let mint = "{ method: POST, url: \"https://vendor.example/keys\", secret_at: /key }";
    let ok = format!("{{ every: 30d, grace: 1h, mint: {mint} }}");
    assert_eq!(problems(&ok, vault), "");
    let cases = [
        (ok.clone(), "{ env: CRM }", "toolgate cannot write a env source"),
        (
            format!("{{ every: soon, grace: 1h, mint: {mint} }}"),
            vault,
            "credentials.crm.rotation.every",
        ),
        (
            format!("{{ every: 1h, grace: 2h, mint: {mint} }}"),
            vault,
            "grace must be shorter than every",
        ),
        (
            format!("{{ every: 1h, grace: 1m, retry: {{ initial: 0s }}, mint: {mint} }}"),
            vault,
            "credentials.crm.rotation.retry.initial",
        ),
        (
            "{ every: 1h, grace: 1m, mint: { method: POST, url: \"https://v.example/k\", secret_at: key } }".into(),
            vault,
            "a JSON pointer into the answer starts with /",
        ),
        (
            "{ every: 1h, grace: 1m, mint: { method: POST, url: \"https://v.example/k\" } }".into(),
            vault,
            "mint needs secret_at",
        ),
        (
            "{ every: 1h, grace: 1m, mint: { method: POST, url: \"https://v.example/{old_id}\", secret_at: /k } }".into(),
            vault,
            "mint takes no placeholders",
        ),
        (
            format!("{{ every: 1h, grace: 1m, mint: {mint}, revoke: {{ method: DELETE, url: \"https://v.example/keys/{{old_key}}\" }} }}"),
            vault,
            "unknown placeholder {old_key}",
        ),
        (
            format!("{{ every: 1h, grace: 1m, mint: {mint}, revoke: {{ method: DELETE, url: \"https://v.example/keys/{{old_id}}\" }} }}"),
            vault,
            "mint has no id_at",
        ),
        (
            "{ every: 1h, grace: 1m, mint: { method: POST, url: \"https://v.example/k\", secret_at: /k, credential: nope } }".into(),
            vault,
            "no credential named nope",
        ),
        (
            "{ every: 1h, grace: 1m, mint: { method: POST, url: \"https://{old_id}.example/k\", secret_at: /k } }".into(),
            vault,
            "credentials.crm.rotation.mint.url",
        ),
        (
            ok,
            "{ vault: { path: \"secret/data/{subject}/crm\", field: k } }",
            "one key (a path without {subject})",
        ),
    ];
    for (rotation, source, expected) in cases {
        let text = problems(&rotation, source);
        assert!(text.contains(expected), "{rotation} / {source}: {text}");
    }
    // Another credential may authorize the requests.
    let other = "{ every: 1h, grace: 1m, mint: { method: POST, url: \"https://v.example/k\", secret_at: /k, credential: other } }";
    assert_eq!(problems(other, vault), "");
}
