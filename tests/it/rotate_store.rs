//! Rotation into the store source (`{store: {initial: <source>}}`): the
//! versions kept sealed in toolgate's own store (a file store, and Redis
//! shared by two replicas), against the sample vendor of `rotate.rs`.
//! Calls under load never fail, old keys are revoked after the grace period
//! (read back from the store for `{old_secret}`) and never sent again, a
//! restart uses the rotated value (not `initial`), and neither the store
//! file nor Redis holds a key in clear.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::rotate::{BY_SECRET, events, load, problems_with, read, setup_with, vendor, wait_for};
use crate::support::redis::{TestRedis, unique_env};
use crate::support::{ConfigDir, Keys, TestGateway, canary, leaks};

const SOURCE: &str = "{ store: { initial: { env: CRM_FIRST } } }";

/// The process environment: the first key and the store's sealing key.
fn environment(first: &str, sealing: &str) -> HashMap<String, String> {
    [
        ("CRM_FIRST".to_owned(), first.to_owned()),
        ("STORE_KEY".to_owned(), sealing.to_owned()),
    ]
    .into()
}

fn file_store() -> String {
    "store: { kind: file, path: data, encryption_key: { env: STORE_KEY } }\n".into()
}

#[tokio::test]
async fn a_store_rotation_under_load_fails_no_call_and_the_store_holds_no_clear_key() {
    let first = canary("first-");
    let sealing = canary("seal-");
    let (url, vendor) = vendor(&first).await;
    let keys = Keys::new();
    let dir = setup_with(
        &keys,
        "test",
        &file_store(),
        SOURCE,
        &url,
        ("2s", "1s"),
        BY_SECRET,
    );
    let env = environment(&first, &sealing);
    let gw = Arc::new(TestGateway::start(&dir.config_path(), env.clone()).await);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = load(gw.clone(), &keys.agent, 8, stop.clone());
    wait_for("two keys revoked", 40, || vendor.revoked() >= 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (n, failed) = calls.await.unwrap();
    assert_eq!(failed, 0, "of {n} calls");
    assert!(n > 20, "only {n} calls");
    // The first key came from `initial`; its revoke read it back from the
    // store's previous version.
    assert!(vendor.is_revoked(&first), "the first key is revoked");
    vendor.assert_never_used_after_revocation();
    let audit = read(&dir, "data/audit.jsonl");
    let records = events(&audit);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    for step in [
        "rotation_started",
        "rotation_minted",
        "rotation_switched",
        "rotation_revoked",
    ] {
        assert!(kinds.contains(&step), "{step} missing: {kinds:?}");
    }
    assert!(!kinds.contains(&"rotation_failed"), "{kinds:?}");
    drop(gw);
    let store = read(&dir, "data/toolgate.redb");
    assert!(!store.is_empty(), "no store file");
    for secret in vendor.secrets().iter().chain([&sealing]) {
        assert!(!leaks(&audit, secret), "the trail holds a key");
        assert!(!leaks(&store, secret), "the store holds a key in clear");
    }
}

#[tokio::test]
async fn a_restart_uses_the_rotated_key_from_the_store_and_revokes_the_old_one_after_the_grace() {
    let first = canary("first-");
    let sealing = canary("seal-");
    let (url, vendor) = vendor(&first).await;
    let keys = Keys::new();
    let dir = setup_with(
        &keys,
        "test",
        &file_store(),
        SOURCE,
        &url,
        ("1h", "2s"),
        BY_SECRET,
    );
    let env = environment(&first, &sealing);
    let gw = TestGateway::start(&dir.config_path(), env.clone()).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "data"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(vendor.seen.lock().unwrap().last().unwrap().0, first);
    let (st, v) = gw
        .post_json(&keys.admin, "/v1/admin/credentials/crm/rotate", json!({}))
        .await;
    assert_eq!((st, &v["phase"]), (200, &json!("grace")), "{v}");
    let minted: Vec<String> = vendor
        .secrets()
        .into_iter()
        .filter(|s| *s != first)
        .collect();
    assert_eq!(minted.len(), 1);
    gw.stop().await;
    assert_eq!(vendor.revoked(), 0, "revoked before the grace passed");
    // Started again with the same `initial`: the store's version is used.
    let gw = TestGateway::start(&dir.config_path(), env).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "data"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(vendor.seen.lock().unwrap().last().unwrap().0, minted[0]);
    wait_for("the revoke after the restart", 20, || {
        vendor.is_revoked(&first)
    })
    .await;
    for _ in 0..3 {
        let (st, body, _) = gw.call(&keys.agent, json!({"tool": "data"})).await;
        assert_eq!(st, 200, "{body}");
    }
    vendor.assert_never_used_after_revocation();
    assert!(!vendor.is_revoked(&minted[0]));
    gw.stop().await;
    let store = read(&dir, "data/toolgate.redb");
    for secret in vendor.secrets().iter().chain([&sealing]) {
        assert!(!leaks(&store, secret), "the store holds a key in clear");
    }
}

#[tokio::test]
async fn two_replicas_on_redis_rotate_the_store_source_once_and_neither_fails_a_call() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let first = canary("first-");
    let sealing = canary("seal-");
    let (url, vendor) = vendor(&first).await;
    let keys = Keys::new();
    let env = unique_env("rots");
    let top = format!(
        "store: {{ kind: redis, url: \"{}\", encryption_key: {{ env: STORE_KEY }} }}\n",
        redis.url
    );
    let dirs = [0, 1].map(|_| setup_with(&keys, &env, &top, SOURCE, &url, ("3s", "1s"), BY_SECRET));
    let vars = environment(&first, &sealing);
    let a = Arc::new(TestGateway::start(&dirs[0].config_path(), vars.clone()).await);
    let b = Arc::new(TestGateway::start(&dirs[1].config_path(), vars).await);
    let stop = Arc::new(AtomicBool::new(false));
    let on_a = load(a.clone(), &keys.agent, 4, stop.clone());
    let on_b = load(b.clone(), &keys.agent, 4, stop.clone());
    // Two complete rotations, counted while no mint is under way.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (minted, trails) = loop {
        wait_for("two rotations", 60, || {
            vendor.mints.load(Ordering::SeqCst) >= 2
                && vendor.revoked() == vendor.mints.load(Ordering::SeqCst)
        })
        .await;
        let minted = vendor.mints.load(Ordering::SeqCst);
        let trails: Vec<Value> = dirs
            .iter()
            .flat_map(|d| events(&read(d, "data/audit.jsonl")))
            .collect();
        let revoked = trails
            .iter()
            .filter(|r| r["event"] == "rotation_revoked")
            .count();
        let quiet = vendor.mints.load(Ordering::SeqCst) == minted && vendor.revoked() == minted;
        if quiet && (revoked == minted || Instant::now() > deadline) {
            break (minted, trails);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let ((na, fa), (nb, fb)) = (on_a.await.unwrap(), on_b.await.unwrap());
    drop((a, b));
    assert_eq!((fa, fb), (0, 0), "of {na} and {nb} calls");
    vendor.assert_never_used_after_revocation();
    assert!(vendor.is_revoked(&first));
    // One written version per mint: a second writer's compare-and-set
    // would have failed, recorded as rotation_failed.
    let count = |e: &str| trails.iter().filter(|r| r["event"] == e).count();
    assert_eq!(count("rotation_minted"), minted, "one record per mint");
    assert_eq!(count("rotation_revoked"), minted, "one revoke per rotation");
    assert_eq!(count("rotation_failed"), 0, "{trails:?}");
    let dump =
        String::from_utf8_lossy(&redis.dump(&format!("toolgate:{{{env}:*")).await).into_owned();
    assert!(
        dump.contains("store-source/crm"),
        "no sealed record in Redis"
    );
    for secret in vendor.secrets().iter().chain([&sealing]) {
        assert!(!leaks(&dump, secret), "Redis holds a key in clear");
    }
}

#[test]
fn every_bad_store_source_is_reported_at_its_key() {
    let sealed = "store: { kind: memory, encryption_key: { env: STORE_KEY } }\n";
    let rotation = "{ every: 30d, grace: 1h, mint: { method: POST, url: \"https://vendor.example/keys\", secret_at: /key } }";
    assert_eq!(problems_with(sealed, rotation, SOURCE), "");
    let vault_initial = "{ store: { initial: { vault: { path: secret/data/crm, field: k } } } }";
    assert_eq!(problems_with(sealed, rotation, vault_initial), "");
    let cases = [
        (
            "",
            SOURCE,
            "credentials.crm.source.store",
            "set store.encryption_key",
        ),
        (
            "store: { kind: file, path: data }\n",
            SOURCE,
            "credentials.crm.source.store",
            "set store.encryption_key",
        ),
        (
            sealed,
            "{ store: { initial: { store: { initial: { env: X } } } } }",
            "credentials.crm.source.store.initial",
            "not store or oauth2",
        ),
        (
            sealed,
            "{ store: { initial: { vault: { path: \"secret/data/{subject}/crm\", field: k } } } }",
            "credentials.crm.source.store.initial",
            "one value for every caller",
        ),
        (
            sealed,
            "{ store: { initial: { vault: { path: \"/abs\", field: k } } } }",
            "credentials.crm.source.store.initial.vault",
            "relative API path",
        ),
        (sealed, "{ store: {} }", "credentials.crm.source", "initial"),
        (
            sealed,
            "{ store: { initial: { env: X }, versions: 3 } }",
            "credentials.crm.source",
            "versions",
        ),
    ];
    for (top, source, at, expected) in cases {
        let text = problems_with(top, rotation, source);
        assert!(
            text.contains(at) && text.contains(expected),
            "{top} / {source}: {text}"
        );
    }
    // A store source is for credentials: a setting that names a secret refuses it.
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        "environment: test\nstore: { kind: memory, encryption_key: { store: { initial: { env: K } } } }\n",
    );
    let text = match toolgate::catalog::load(&dir.config_path()) {
        Ok(_) => String::new(),
        Err(d) => d
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    };
    assert!(
        text.contains("store.encryption_key.store") && text.contains("takes env or file"),
        "{text}"
    );
}
