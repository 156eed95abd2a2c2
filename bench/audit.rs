//! Audit benchmark, in one run:
//! 1. sink appends from 64 concurrent writers: group commit (the file sink)
//!    vs. one fsync per record vs. no fsync at all;
//! 2. call throughput through the gateway, audited to the file sink vs. to
//!    memory (no fsync), against a real upstream on loopback;
//! 3. `verify` speed on a 1,000,000-record trail.
//!
//! cargo run --release --example audit_bench -- [RECORDS_PER_WRITER] [CALL_SECONDS] [VERIFY_RECORDS]

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use toolgate::audit::chain::Chain;
use toolgate::audit::checkpoint::Checkpoint;
use toolgate::audit::{AuditSink, Entry, Event, FileSink, MemorySink};
use toolgate::identity::{Role, generate_key, key_sha256};

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

async fn appends(sink: Arc<dyn AuditSink>, writers: u64, per: u64) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let sink = sink.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                sink.append(entry(w * per + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (writers * per) as f64 / t.elapsed().as_secs_f64()
}

/// The naive design: one record, one write, one fsync, under a lock.
struct FsyncEach {
    file: std::sync::Mutex<(std::fs::File, Chain)>,
    checkpoints: std::sync::Mutex<Vec<Checkpoint>>,
}

#[async_trait::async_trait]
impl AuditSink for FsyncEach {
    async fn append(
        &self,
        e: Entry,
    ) -> Result<toolgate::audit::Receipt, toolgate::audit::AuditError> {
        let mut g = self.file.lock().unwrap();
        let r = g.1.seal(e);
        let mut line = serde_json::to_vec(&r).unwrap();
        line.push(b'\n');
        g.0.write_all(&line).unwrap();
        g.0.sync_data().unwrap();
        Ok(toolgate::audit::Receipt {
            seq: r.seq,
            hash: r.hash,
        })
    }
    async fn head(&self) -> Result<toolgate::audit::Receipt, toolgate::audit::AuditError> {
        Ok(self.file.lock().unwrap().1.head())
    }
    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), toolgate::audit::AuditError> {
        self.checkpoints.lock().unwrap().push(c.clone());
        Ok(())
    }
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, toolgate::audit::AuditError> {
        Ok(self.checkpoints.lock().unwrap().clone())
    }
    fn is_healthy(&self) -> bool {
        true
    }
}

async fn calls(sink: Arc<dyn AuditSink>, secs: u64, up: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let agent = generate_key(Role::Agent);
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    std::fs::write(
        dir.path().join("tools/t.yaml"),
        format!("name: t\ndescription: d\ninput_schema: {{ type: object }}\nupstream: {{ method: POST, url: \"{up}/x\", body: \"{{args}}\", credential: c, allow_private_network: true }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("toolgate.yaml"),
        format!(
            "environment: bench\nstore: {{ kind: memory }}\nlimits: {{ max_concurrency: 4096 }}\n\
             credentials:\n  c: {{ environment: bench, source: {{ env: K }}, inject: {{ header: Authorization }} }}\n\
             workflows:\n  w: {{ environment: bench, credentials: {{ c: c }} }}\nagents:\n  a: {{ workflow: w, key_sha256: \"{}\" }}\n",
            key_sha256(&agent)
        ),
    )
    .unwrap();
    let (cfg, _) = toolgate::catalog::load(&dir.path().join("toolgate.yaml")).unwrap();
    let env = toolgate::secrets::MapEnv::new(
        [("K".to_owned(), "bench-secret-0123456789abcdef".to_owned())].into(),
    );
    let gw = toolgate::Gateway::with_audit_sink(cfg, Arc::new(env), sink).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/calls", l.local_addr().unwrap());
    tokio::spawn(async move { toolgate::server::serve(gw, l, std::future::pending()).await });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (http, url, agent, done) = (http.clone(), url.clone(), agent.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let r = http
                    .post(&url)
                    .bearer_auth(&agent)
                    .json(&json!({"tool": "t", "arguments": {"n": 1}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let per = args.first().copied().unwrap_or(200);
    let secs = args.get(1).copied().unwrap_or(5);
    let verify_n = args.get(2).copied().unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();

    let group = Arc::new(FileSink::open(&dir.path().join("group.jsonl"), None, None).unwrap());
    let each = Arc::new(FsyncEach {
        file: std::sync::Mutex::new((
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path().join("each.jsonl"))
                .unwrap(),
            Chain::new(None),
        )),
        checkpoints: std::sync::Mutex::default(),
    });
    let mem = Arc::new(MemorySink::new(None));
    println!("## appends, 64 concurrent writers × {per}");
    println!("| sink | records/s |\n|---|---|");
    println!(
        "| group commit (file sink) | {:.0} |",
        appends(group, 64, per).await
    );
    println!("| fsync per record | {:.0} |", appends(each, 64, per).await);
    println!("| memory (no fsync) | {:.0} |", appends(mem, 64, per).await);

    let app = axum::Router::new().fallback(|| async { axum::Json(json!({"ok": true})) });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    let audited = calls(
        Arc::new(FileSink::open(&dir.path().join("calls.jsonl"), None, None).unwrap()),
        secs,
        &up,
    )
    .await;
    let unaudited = calls(Arc::new(MemorySink::new(None)), secs, &up).await;
    println!("\n## calls, 64 concurrent clients, {secs} s each");
    println!("| audit | calls/s |\n|---|---|");
    println!("| file, fsynced (group commit) | {audited:.0} |");
    println!("| memory, no fsync | {unaudited:.0} |");
    println!("| ratio | {:.2}× |", audited / unaudited);

    let path = dir.path().join("big.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut chain = Chain::new(None);
        for i in 0..verify_n {
            serde_json::to_writer(&mut w, &chain.seal(entry(i))).unwrap();
            w.write_all(b"\n").unwrap();
        }
    }
    let t = Instant::now();
    let report = toolgate::audit::verify::verify(&[path], None);
    let el = t.elapsed().as_secs_f64();
    assert!(report.intact());
    println!(
        "\n## verify\n| records | seconds | records/s |\n|---|---|---|\n| {} | {el:.2} | {:.0} |",
        report.records,
        report.records as f64 / el
    );
}
