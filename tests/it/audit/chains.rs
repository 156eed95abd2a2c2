//! Per-replica chains on Redis (`audit: {kind: redis, chains: per_replica}`):
//! replicas append to chains of their own without contending, readers find
//! every chain in the registry and merge them by time, and `toolgate audit
//! verify` checks each chain — a chain passed off under another replica's
//! name, or a record earlier than the one before it, is found.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use toolgate::audit::chain::Chain;
use toolgate::audit::checkpoint;
use toolgate::audit::redis::Keys;
use toolgate::audit::redis_read::Trail;
use toolgate::audit::verify::{Report, verify_chain};
use toolgate::audit::{AuditSink, RedisSink};

use super::sinks::{StreamEntries, entry, redis_conn, signer, trail};
use crate::support::process::toolgate;
use crate::support::redis::{TestRedis, unique_env};

fn sink(redis: &TestRedis, env: &str, key: &Arc<[u8]>, replica: &str) -> Arc<RedisSink> {
    let conn = toolgate::store::redis_connect(
        &toolgate::store::RedisTarget::Node(redis.url.clone()),
        &Default::default(),
    )
    .unwrap();
    Arc::new(RedisSink::open_replica(
        conn,
        env,
        Some(key.clone()),
        replica,
    ))
}

/// `n` appends spread over `sinks`, all at once.
async fn append_at_once(sinks: &[Arc<RedisSink>], n: usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let sink = sinks[i % sinks.len()].clone();
        tasks.push(tokio::spawn(
            async move { sink.append(entry(i)).await.unwrap() },
        ));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn audit_key() -> Arc<[u8]> {
    Arc::from(crate::support::canary("audit-").as_bytes())
}

/// A fresh environment on a test Redis, its audit key, and a sink for each
/// replica name; None = skipped.
async fn replicas(names: [&str; 2]) -> Option<(TestRedis, String, Arc<[u8]>, [Arc<RedisSink>; 2])> {
    let redis = TestRedis::any().await?;
    let (env, key) = (unique_env("chains"), audit_key());
    let sinks = names.map(|n| sink(&redis, &env, &key, n));
    Some((redis, env, key, sinks))
}

/// One chain of `t` verified as `toolgate audit verify` does.
fn verify_one(t: &Trail, name: &str, key: &[u8]) -> Report {
    verify_chain(
        Path::new("redis"),
        t.reader(Some(name)),
        name,
        Some(key),
        &[],
        None,
    )
}

#[tokio::test]
async fn replicas_append_to_chains_of_their_own_merged_by_time() {
    let Some((redis, env, key, sinks)) = replicas(["gw-a", "gw-b"]).await else {
        return;
    };
    // Nothing is listed before anything is written.
    assert_eq!(trail(&redis, &env).chains(), [None]);
    append_at_once(&sinks, 300).await;
    // Each replica's head is its own chain's.
    for s in &sinks {
        assert_eq!(s.head().await.unwrap().seq, 150);
    }
    let t = trail(&redis, &env);
    assert_eq!(t.chains(), [Some("gw-a".into()), Some("gw-b".into())]);
    for name in ["gw-a", "gw-b"] {
        let report = verify_one(&t, name, &key);
        assert!(report.intact(), "{name}: {:?}", report.problem);
        assert_eq!(report.records, 150);
    }
    // The shared chain is untouched.
    let mut conn = redis_conn(&redis.url).await;
    let shared: i64 = ::redis::cmd("EXISTS")
        .arg(Keys::new(&env).stream)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(shared, 0);
    // Merged: every record once, in time order.
    let times: Vec<String> = t
        .lines_by_time()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            v["time"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(times.len(), 300);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn two_processes_given_one_replica_name_share_its_chain_correctly() {
    let Some((redis, env, key, sinks)) = replicas(["gw-a", "gw-a"]).await else {
        return;
    };
    append_at_once(&sinks, 200).await;
    let t = trail(&redis, &env);
    assert_eq!(t.chains(), [Some("gw-a".into())]);
    let report = verify_one(&t, "gw-a", &key);
    assert!(report.intact(), "{:?}", report.problem);
    assert_eq!(report.records, 200);
}

/// `toolgate audit verify` of `env`'s trail on `redis`, with `extra`
/// arguments: (exit success, stdout, stderr).
fn verify_cli(redis: &TestRedis, env: &str, key: &[u8], extra: &[&str]) -> (bool, String, String) {
    let out = toolgate()
        .args(["audit", "verify", &redis.url, "--environment", env])
        .args(["--key-env", "TOOLGATE_TEST_AUDIT_KEY"])
        .args(extra)
        .env(
            "TOOLGATE_TEST_AUDIT_KEY",
            String::from_utf8_lossy(key).as_ref(),
        )
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn verify_checks_every_chain_and_finds_one_passed_off_under_another_name() {
    let Some((redis, env, key, sinks)) = replicas(["gw-a", "gw-b"]).await else {
        return;
    };
    append_at_once(&sinks, 40).await;
    let c = checkpoint::sign(&signer(), &sinks[0].head().await.unwrap());
    sinks[0].checkpoint(&c).await.unwrap();
    let (ok, out, err) = verify_cli(&redis, &env, &key, &["--public-key", &c.key]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("intact: chain gw-a: 20 record(s)"), "{out}");
    assert!(out.contains("intact: chain gw-b: 20 record(s)"), "{out}");
    let (ok, out, _) = verify_cli(&redis, &env, &key, &["--json"]);
    assert!(ok);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["intact"], true);
    assert_eq!(doc["chains"][1]["chain"], "gw-b");
    assert_eq!(doc["chains"][1]["records"], 20);

    // gw-a's history copied under the name gw-c, and listed.
    let mut conn = redis_conn(&redis.url).await;
    let entries: StreamEntries = ::redis::cmd("XRANGE")
        .arg(Keys::of(&env, Some("gw-a")).stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    for (_, fields) in &entries {
        let _: String = ::redis::cmd("XADD")
            .arg(Keys::of(&env, Some("gw-c")).stream)
            .arg("*")
            .arg("r")
            .arg(&fields[0].1)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let _: i64 = ::redis::cmd("SADD")
        .arg(Keys::registry(&env))
        .arg("gw-c")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (ok, out, _) = verify_cli(&redis, &env, &key, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("intact: chain gw-a"), "{out}");
    assert!(
        out.contains(&format!(
            "misplaced: redis:{env}/gw-c:1: record 1 belongs to chain \"gw-a\""
        )),
        "{out}"
    );
    // One chain alone; a name the trail lacks; checkpoints of which chain.
    assert!(verify_cli(&redis, &env, &key, &["--chain", "gw-b"]).0);
    let (ok, _, err) = verify_cli(&redis, &env, &key, &["--chain", "gw-z"]);
    assert!(
        !ok && err.contains("no chain named \"gw-z\"") && err.contains("gw-a, gw-b, gw-c"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("heads");
    std::fs::write(&file, format!("{}\n", serde_json::to_string(&c).unwrap())).unwrap();
    let file = file.to_str().unwrap();
    let (ok, _, err) = verify_cli(&redis, &env, &key, &["--checkpoint", file]);
    assert!(!ok && err.contains("--chain"), "{err}");
    let (ok, out, err) = verify_cli(
        &redis,
        &env,
        &key,
        &["--checkpoint", file, "--chain", "gw-a"],
    );
    assert!(ok, "{out}{err}");
}

#[test]
fn a_record_earlier_than_the_one_before_it_is_found() {
    let key: Arc<[u8]> = audit_key();
    let mut chain = Chain::named(Some(key.clone()), "gw-a");
    let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s);
    let mut text = String::new();
    for (i, t) in [0, 5, 3].into_iter().enumerate() {
        let record = chain.seal_at(entry(i), at(t));
        text.push_str(&serde_json::to_string(&record).unwrap());
        text.push('\n');
    }
    let report = verify_chain(
        Path::new("trail"),
        Cursor::new(text.clone().into_bytes()),
        "gw-a",
        Some(&key),
        &[],
        None,
    );
    let p = report.problem.unwrap();
    assert_eq!((p.kind, p.seq), ("time_reversed", Some(3)));
    // The same records are another chain's to a reader told so.
    let p = verify_chain(
        Path::new("trail"),
        Cursor::new(text.into_bytes()),
        "gw-b",
        Some(&key),
        &[],
        None,
    )
    .problem
    .unwrap();
    assert_eq!((p.kind, p.seq), ("misplaced", Some(1)));
}

#[test]
fn one_writer_never_goes_back_in_time() {
    // A record sealed an hour ahead (a clock since set back): the next
    // one is not earlier.
    let mut chain = Chain::named(None, "gw-a");
    let ahead = std::time::SystemTime::now() + Duration::from_secs(3600);
    let first = chain.seal_at(entry(0), ahead);
    let next = chain.seal(entry(1));
    assert!(next.time >= first.time, "{} < {}", next.time, first.time);
    assert_eq!(next.chain.as_deref(), Some("gw-a"));
}
