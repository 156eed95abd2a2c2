//! Hostile traffic against the real binary, over raw sockets: a client
//! without a key is refused before its body is read and cannot take a
//! slot, nor grow the audit trail beyond its documented bound; a body sent
//! too slowly is cut off; a trail short of space keeps serving
//! authenticated calls and says so in `/readyz`; caller texts are capped
//! and redacted before they are recorded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use crate::support::calls_config::{config_yaml, tools_yaml};
use crate::support::process::{Proc, Serve, free_port};
use crate::support::tmpfs::Tmpfs;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, canary, code, github_token};

/// The distinct sources one refusals record window holds, plus one
/// `other` record per code an unauthenticated refusal can have
/// (`unauthenticated`, `store_unavailable`, `internal`): the documented
/// bound on records per interval.
const RECORDS_PER_INTERVAL: usize = 64 + 3;

struct Running {
    proc: Proc,
    keys: Keys,
    dir: ConfigDir,
    _up: Upstream,
}

impl Running {
    fn addr(&self) -> String {
        self.proc.base.trim_start_matches("http://").to_owned()
    }
}

/// The calls fixture as the real binary, with `limits` in place of
/// `max_concurrency: 64` and `extra` appended to its config.
async fn start(limits: &str, extra: &str) -> Running {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    let config = config_yaml(&keys, extra).replace("max_concurrency: 64", limits);
    dir.write("toolgate.yaml", &config);
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[
            ("TEST_API_KEY", &canary("api-")),
            ("TEST_BASIC", &canary("basic-")),
            ("TEST_QUERY", &canary("query-")),
        ])
        .start()
        .await;
    Running {
        proc,
        keys,
        dir,
        _up: up,
    }
}

/// A `POST /v1/calls` head announcing `len` body bytes, with `key` if any.
fn head(key: Option<&str>, len: usize) -> String {
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    format!(
        "POST /v1/calls HTTP/1.1\r\nHost: toolgate\r\n{auth}Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// The status of the first response on `s`, read within `within`.
async fn status_within(s: &mut (impl AsyncRead + Unpin), within: Duration) -> Option<u16> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.split(' ').nth(1)?.parse().ok()
}

fn records(trail: &Path) -> Vec<Value> {
    std::fs::read_to_string(trail)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn refusal_records(trail: &Path) -> Vec<Value> {
    records(trail)
        .into_iter()
        .filter(|r| r["event"] == "refused_unauthenticated")
        .collect()
}

fn counted(records: &[Value]) -> u64 {
    records.iter().map(|r| r["count"].as_u64().unwrap()).sum()
}

/// Poll until `f` is true, for at most `within`.
async fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f()
}

fn trail(dir: &Path) -> PathBuf {
    dir.join("data/audit.jsonl")
}

#[tokio::test]
async fn an_unknown_key_is_refused_before_a_byte_of_its_body_is_read() {
    let r = start("max_concurrency: 64", "").await;
    for key in [None, Some("tg_agent_not-a-key"), Some("tg_session_unknown")] {
        let mut s = TcpStream::connect(r.addr()).await.unwrap();
        // A head announcing a large body, and no body at all.
        s.write_all(head(key, 60_000).as_bytes()).await.unwrap();
        assert_eq!(
            status_within(&mut s, Duration::from_secs(10)).await,
            Some(401),
            "{key:?} was not refused before its body"
        );
    }
    // The same head with the agent's key waits for its body.
    let mut s = TcpStream::connect(r.addr()).await.unwrap();
    s.write_all(head(Some(&r.keys.agent), 100).as_bytes())
        .await
        .unwrap();
    assert_eq!(
        status_within(&mut s, Duration::from_millis(700)).await,
        None
    );
}

#[tokio::test]
async fn slow_unauthenticated_uploads_take_no_slot() {
    // Four slots: three for agents, one for people.
    let r = start("max_concurrency: 4, min_body_bytes_per_sec: 0", "").await;
    // Many more slow uploads than slots, each with a wrong key, a body
    // announced and a few bytes of it sent.
    let mut slow = Vec::new();
    for i in 0..16 {
        let mut s = TcpStream::connect(r.addr()).await.unwrap();
        let key = format!("tg_agent_wrong{i}");
        s.write_all(head(Some(&key), 50_000).as_bytes())
            .await
            .unwrap();
        s.write_all(b"{\"tool\":").await.unwrap();
        slow.push(s);
    }
    // Agents are served, all three slots at once.
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let api = r.proc.api.clone();
            let key = r.keys.agent.clone();
            tokio::spawn(async move {
                api.call(
                    &key,
                    json!({"tool": "echo", "arguments": {"id": i.to_string()}}),
                )
                .await
                .0
            })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    for s in &mut slow {
        assert_eq!(status_within(s, Duration::from_secs(10)).await, Some(401));
    }
    let (_, ready) = r.proc.api.get(None, "/readyz").await;
    assert_eq!(ready["checks"]["load"]["shedding"], false, "{ready}");
}

/// Send `head`, then a byte every 100 ms until the connection breaks; the
/// reading half, to see the answer on.
async fn trickle(addr: &str, head: String) -> (OwnedReadHalf, tokio::task::JoinHandle<()>) {
    let (rd, mut wr) = TcpStream::connect(addr).await.unwrap().into_split();
    wr.write_all(head.as_bytes()).await.unwrap();
    let task = tokio::spawn(async move {
        for _ in 0..600 {
            if wr.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (rd, task)
}

#[tokio::test]
async fn a_body_not_complete_in_time_is_cut_off_and_gives_its_slot_back() {
    // One agent slot; a body must be complete within 3 s.
    let r = start(
        "max_concurrency: 2, body_read_timeout_ms: 3000, min_body_bytes_per_sec: 0",
        "",
    )
    .await;
    let started = Instant::now();
    let (mut rd, task) = trickle(&r.addr(), head(Some(&r.keys.agent), 5_000)).await;
    // While the slow body holds the only agent slot, agents are shed, and
    // readiness says so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (st, body, _) = r
        .proc
        .api
        .call(
            &r.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1"}}),
        )
        .await;
    assert_eq!((st, code(&body)), (503, "overloaded"), "{body}");
    let (_, ready) = r.proc.api.get(None, "/readyz").await;
    assert_eq!(ready["checks"]["load"]["shedding"], true, "{ready}");
    assert!(ready["checks"]["load"]["shed_total"].as_u64().unwrap() >= 1);
    assert_eq!(
        status_within(&mut rd, Duration::from_secs(20)).await,
        Some(408)
    );
    assert!(started.elapsed() >= Duration::from_millis(2900));
    task.abort();
    // The slot is back.
    let (st, body, _) = r
        .proc
        .api
        .call(
            &r.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "2"}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
}

#[tokio::test]
async fn a_body_below_the_minimum_rate_is_cut_off_long_before_the_timeout() {
    let r = start(
        "max_concurrency: 64, body_read_timeout_ms: 60000, min_body_bytes_per_sec: 1000",
        "",
    )
    .await;
    let started = Instant::now();
    // Ten bytes a second, against a thousand.
    let (mut rd, task) = trickle(&r.addr(), head(Some(&r.keys.agent), 5_000)).await;
    assert_eq!(
        status_within(&mut rd, Duration::from_secs(30)).await,
        Some(408)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    task.abort();
}

#[tokio::test]
async fn anonymous_refusals_grow_the_trail_by_at_most_the_documented_bound() {
    let r = start(
        "max_concurrency: 64",
        "audit: { kind: file, refusals_interval_seconds: 1 }\n",
    )
    .await;
    let path = trail(r.dir.path());
    let before = std::fs::metadata(&path).unwrap().len();
    // Refused calls, each with a large caller text in its body.
    let reason = "x".repeat(16 * 1024);
    let body = serde_json::to_vec(&json!({"tool": "echo", "reason": reason})).unwrap();
    let started = Instant::now();
    let sent = 2000;
    let tasks: Vec<_> = (0..20)
        .map(|t| {
            let api = r.proc.api.clone();
            let body = body.clone();
            tokio::spawn(async move {
                for i in 0..sent / 20 {
                    let key = format!("tg_agent_flood{t}x{i}");
                    let (st, _) = api.post_raw(&key, "application/json", body.clone()).await;
                    assert_eq!(st, 401);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    // Every refusal is counted, within an interval or two.
    assert!(
        eventually(Duration::from_secs(10), || counted(&refusal_records(&path))
            == sent as u64)
        .await,
        "counted {} of {sent}",
        counted(&refusal_records(&path))
    );
    let refusals = refusal_records(&path);
    assert!(refusals.iter().all(|r| r["source"] == "127.0.0.1"
        && r["code"] == "unauthenticated"
        && r["period_ms"].is_u64()));
    let intervals = elapsed.as_secs() as usize + 3;
    assert!(
        refusals.len() <= intervals * RECORDS_PER_INTERVAL,
        "{} records in {elapsed:?}",
        refusals.len()
    );
    // No refused request wrote a record of its own, nor its text.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("xxxxxxxx"));
    assert!(!records(&path).iter().any(|r| r["event"] == "call_denied"));
    let grown = std::fs::metadata(&path).unwrap().len() - before;
    assert!(
        grown < (intervals * RECORDS_PER_INTERVAL * 600) as u64,
        "the trail grew by {grown} bytes for {sent} refusals"
    );
}

#[tokio::test]
async fn a_trail_short_of_space_keeps_authenticated_calls_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(dir.path()) else {
        return;
    };
    let trail = fs.path().join("audit.jsonl");
    // The mark is 160 KiB on a 256 KiB file system.
    let r = start(
        "max_concurrency: 64",
        &format!(
            "audit: {{ kind: file, path: {}, refusals_interval_seconds: 1, min_free_bytes: 163840 }}\n",
            trail.display()
        ),
    )
    .await;
    let (_, ready) = r.proc.api.get(None, "/readyz").await;
    assert_eq!(ready["checks"]["audit"]["low_space"], false, "{ready}");
    // Near full: 128 KiB taken by something else.
    let filler = fs.path().join("other");
    std::fs::write(&filler, vec![0u8; 128 * 1024]).unwrap();
    let (_, ready) = r.proc.api.get(None, "/readyz").await;
    assert_eq!(ready["checks"]["audit"]["low_space"], true, "{ready}");
    assert_eq!(ready["checks"]["audit"]["ok"], true, "{ready}");
    // Authenticated calls are served and recorded.
    let (st, body, _) = r
        .proc
        .api
        .call(
            &r.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1"}, "call_id": "c-low"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(
        records(&trail)
            .iter()
            .any(|x| x["call_id"] == "c-low" && x["event"] == "executed")
    );
    // Anonymous refusals are counted, not recorded.
    for i in 0..50 {
        let (st, _) = r
            .proc
            .api
            .post_raw(
                &format!("tg_agent_x{i}"),
                "application/json",
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(st, 401);
    }
    let api = r.proc.api.clone();
    let mut unrecorded = 0;
    for _ in 0..100 {
        let (_, ready) = api.get(None, "/readyz").await;
        unrecorded = ready["checks"]["audit"]["unrecorded_refusals"]
            .as_u64()
            .unwrap();
        if unrecorded >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(unrecorded, 50);
    assert!(refusal_records(&trail).is_empty());
    // Space back: refusals are recorded again.
    std::fs::remove_file(&filler).unwrap();
    let (st, _) = r
        .proc
        .api
        .post_raw("tg_agent_y", "application/json", b"{}".to_vec())
        .await;
    assert_eq!(st, 401);
    assert!(
        eventually(Duration::from_secs(10), || counted(&refusal_records(
            &trail
        )) == 1)
        .await
    );
    let (_, ready) = r.proc.api.get(None, "/readyz").await;
    assert_eq!(ready["checks"]["audit"]["low_space"], false, "{ready}");
    drop(r);
    drop(fs);
}

#[tokio::test]
async fn caller_texts_are_capped_and_recorded_redacted() {
    let r = start("max_concurrency: 64", "").await;
    let api = &r.proc.api;
    let too_long = [
        json!({"tool": "e".repeat(129)}),
        json!({"tool": "echo", "model": "m".repeat(201)}),
        json!({"tool": "echo", "reason": "r".repeat(2001)}),
        json!({"tool": "echo", "call_id": "c".repeat(129)}),
        json!({"tool": "echo", "idempotency_key": "k".repeat(201)}),
        json!({"type": "function", "function": {"name": "f".repeat(129), "arguments": "{}"}}),
        json!({"type": "tool_use", "id": "t1", "name": "a".repeat(129), "input": {}}),
    ];
    for body in too_long {
        let (st, answer, _) = api.call(&r.keys.agent, body.clone()).await;
        assert_eq!((st, code(&answer)), (400, "bad_request"), "{body}");
    }
    // Long, and holding a token toolgate did not load: recorded, redacted.
    // (A loaded secret there is refused: see `inbound`.)
    let token = github_token();
    let reason = format!("{} {token}", "r".repeat(1000));
    let model = format!("model-{token}");
    let (st, body, _) = api
        .call(
            &r.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1"}, "call_id": "c-texts",
                   "reason": reason, "model": model}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let (st, body, _) = api
        .call(&r.keys.agent, json!({"tool": "n".repeat(128)}))
        .await;
    assert_eq!((st, code(&body)), (404, "unknown_tool"), "{body}");
    let path = trail(r.dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&token), "a token reached the audit trail");
    let all = records(&path);
    let rec = all
        .iter()
        .find(|x| x["call_id"] == "c-texts" && x["event"] == "executed")
        .expect("the call's record");
    let marker = "[REDACTED:pattern:github_token]";
    assert!(
        rec["orchestrator_reason"]
            .as_str()
            .unwrap()
            .ends_with(marker),
        "{rec}"
    );
    assert_eq!(rec["model"], format!("model-{marker}"));
    assert!(
        all.iter()
            .any(|x| x["event"] == "call_denied" && x["tool"] == "n".repeat(128))
    );
}
