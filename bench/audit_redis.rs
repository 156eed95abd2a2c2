//! Redis audit stream benchmark: the append rate of 1, 2 and 4 replicas
//! (each its own `RedisSink`, with its own connection and its own view of
//! the head, as separate processes would have), each with CALLERS
//! concurrent callers, on one chain shared by all and on a chain per
//! replica (`chains: per_replica`); then every chain is read back and
//! verified.
//!
//! cargo run --release --example audit_redis_bench -- TARGET [SECONDS] [CALLERS]
//!
//! TARGET: one `redis://` URL, or a Redis Cluster's nodes joined by commas.
//! Each run uses its own environment (key prefix).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use toolgate::audit::redis_read::Trail;
use toolgate::audit::verify;
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

/// Appends per second by `replicas` sinks, on one chain or each on its own;
/// failed appends; the verdict of verifying every chain.
async fn run(
    target: &RedisTarget,
    replicas: usize,
    per_replica: bool,
    callers: usize,
    secs: u64,
) -> (f64, u64, String) {
    let env = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let done = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for r in 0..replicas {
        let conn = toolgate::store::redis_connect(target, &RedisOptions::default()).unwrap();
        let sink: Arc<dyn AuditSink> = Arc::new(if per_replica {
            RedisSink::open_replica(conn, &env, None, &format!("r{r}"))
        } else {
            RedisSink::open(conn, &env, None)
        });
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
        let trail = Trail::open(&target, &RedisOptions::default(), &env).unwrap();
        let mut records = 0;
        for chain in trail.chains() {
            let reader = trail.reader(chain.as_deref());
            let stored = trail.checkpoints(chain.as_deref()).unwrap();
            let label = std::path::Path::new("bench");
            let report = match chain {
                None => verify::verify_reader(label, reader, None, &stored, None),
                Some(name) => verify::verify_chain(label, reader, name, None, &stored, None),
            };
            if !report.intact() {
                return format!("NOT intact: {:?}", report.problem);
            }
            records += report.records;
        }
        format!(
            "{} chain(s) intact, {records} records",
            trail.chains().len()
        )
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
    println!("| chains | replicas | callers each | appends/s (all replicas) | failed | trail |");
    println!("|---|---:|---:|---:|---:|---|");
    for per_replica in [false, true] {
        let chains = if per_replica { "per replica" } else { "shared" };
        for replicas in [1, 2, 4] {
            let (rate, failed, verdict) = run(&target, replicas, per_replica, callers, secs).await;
            println!("| {chains} | {replicas} | {callers} | {rate:.0} | {failed} | {verdict} |");
        }
    }
}
