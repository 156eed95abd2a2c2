//! Redis audit stream benchmark: the append rate of one hash chain shared by
//! 1, 2 and 4 replicas (each its own `RedisSink`, with its own connection and
//! its own view of the head, as separate processes would have), each with
//! CALLERS concurrent callers; then the chain is read back and verified.
//!
//! cargo run --release --example audit_redis_bench -- TARGET [SECONDS] [CALLERS]
//!
//! TARGET: one `redis://` URL, or a Redis Cluster's nodes joined by commas.
//! Each run uses its own environment (key prefix).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use toolgate::audit::{AuditSink, Entry, Event, RedisSink};
use toolgate::store::{RedisOptions, RedisTarget};

fn entry(i: u64) -> Entry {
    let mut e = Entry::new(Event::Executed);
    e.agent = Some("bench-agent".into());
    e.tool = Some("create_lead".into());
    e.call_id = Some(format!("call_{i}"));
    e.args_sha256 = Some("a".repeat(64));
    e.arguments = Some(json!({"name": "Ada Lovelace", "email": "ada@example.com", "value_usd": i}));
    e.upstream_status = Some(200);
    e
}

/// Appends per second by `replicas` sinks on one chain; failed appends.
async fn run(
    target: &RedisTarget,
    replicas: usize,
    callers: usize,
    secs: u64,
) -> (f64, u64, String) {
    let env = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let done = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..replicas {
        let conn = toolgate::store::redis_connect(target, &RedisOptions::default()).unwrap();
        let sink: Arc<dyn AuditSink> = Arc::new(RedisSink::open(conn, &env, None));
        for c in 0..callers {
            let (sink, done, appended, failed) =
                (sink.clone(), done.clone(), appended.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = c as u64 * 1_000_000_000;
                while !done.load(Ordering::Relaxed) {
                    match sink.append(entry(i)).await {
                        Ok(_) => appended.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            }));
        }
    }
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let rate = appended.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    let target = target.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        let (reader, stored) =
            toolgate::audit::redis::open_reader_with(&target, &RedisOptions::default(), &env)
                .unwrap();
        let report = toolgate::audit::verify::verify_reader(
            std::path::Path::new("bench"),
            reader,
            None,
            &stored,
            None,
        );
        if report.intact() {
            format!("intact, {} records", report.records)
        } else {
            format!("NOT intact: {:?}", report.problem)
        }
    })
    .await
    .unwrap();
    (rate, failed.load(Ordering::Relaxed), verdict)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = RedisTarget::parse(args.get(1).expect("TARGET: a redis:// URL or a cluster's"));
    let secs = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let callers = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(64);
    println!("| replicas | callers each | appends/s (all replicas) | failed | trail |");
    println!("|---:|---:|---:|---:|---|");
    for replicas in [1, 2, 4] {
        let (rate, failed, verdict) = run(&target, replicas, callers, secs).await;
        println!("| {replicas} | {callers} | {rate:.0} | {failed} | {verdict} |");
    }
}
