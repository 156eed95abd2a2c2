//! Fault injection against a real gateway and real loopback servers: an
//! upstream that resets mid-body, one whose body never ends, one that
//! accepts and never answers; thousands of idle connections; the store's
//! disk full. Each time the gateway keeps serving other callers, nothing
//! acknowledged is lost, and no call is reported done that was not.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::support::process::{Proc, free_port, toolgate};
use crate::support::tmpfs::Tmpfs;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code};

/// Generous bounds: the machine running the tests may be loaded.
const WITHIN: Duration = Duration::from_secs(30);

/// Poll `done` every 20 ms until it holds; false once `within` has passed.
async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !done() {
        if t.elapsed() > within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// How a [`Faulty`] upstream misbehaves, on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Headers and part of a `Content-Length` body, then (once released) a
    /// TCP reset.
    ResetMidBody,
    /// Headers, then a chunked body a byte at a time, forever.
    EndlessBody,
    /// Accepts the connection, reads what comes, never answers.
    Silent,
}

/// A raw TCP upstream on 127.0.0.1:0 that misbehaves as its [`Fault`] says,
/// and counts what happened.
struct Faulty {
    addr: SocketAddr,
    /// Connections accepted.
    accepted: Arc<AtomicUsize>,
    /// Connections on which a whole request head arrived.
    requests: Arc<AtomicUsize>,
    /// Connections that got the part of an answer they will ever get.
    answered_partly: Arc<AtomicUsize>,
    /// Connections the gateway closed while this upstream still held them.
    hung_up: Arc<AtomicUsize>,
    /// `ResetMidBody` resets its connections only once this is notified.
    release: Arc<Notify>,
}

impl Faulty {
    async fn start(fault: Fault) -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let f = Faulty {
            addr: listener.local_addr().unwrap(),
            accepted: Arc::default(),
            requests: Arc::default(),
            answered_partly: Arc::default(),
            hung_up: Arc::default(),
            release: Arc::default(),
        };
        let counters = f.counters();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counters.0.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(misbehave(fault, stream, counters.clone()));
            }
        });
        f
    }

    fn counters(&self) -> Counters {
        (
            self.accepted.clone(),
            self.requests.clone(),
            self.answered_partly.clone(),
            self.hung_up.clone(),
            self.release.clone(),
        )
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

type Counters = (
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    Arc<Notify>,
);

/// Read up to the end of a request head; false if the peer went away first.
async fn read_head(s: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Read until the peer closes the connection.
async fn until_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

async fn misbehave(fault: Fault, mut s: TcpStream, c: Counters) {
    let (_, requests, answered_partly, hung_up, release) = c;
    if !read_head(&mut s).await {
        return;
    }
    requests.fetch_add(1, Ordering::SeqCst);
    match fault {
        Fault::ResetMidBody => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n";
            let part = format!("{head}{{\"items\": [\"first\", \"second\"");
            if s.write_all(part.as_bytes()).await.is_err() {
                return;
            }
            answered_partly.fetch_add(1, Ordering::SeqCst);
            release.notified().await;
            // SO_LINGER 0: the close sends a RST, not a FIN.
            s.set_zero_linger().unwrap();
            drop(s);
        }
        Fault::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n";
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            answered_partly.fetch_add(1, Ordering::SeqCst);
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if s.write_all(b"2\r\n0,\r\n").await.is_err() {
                    hung_up.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
        }
        Fault::Silent => {
            until_closed(&mut s).await;
            hung_up.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The tools of these tests: over the healthy upstream `healthy` (GET),
/// `keyed` (POST) and `held` (always held for approval); over the faulty one
/// `faulty` with `timeout_ms`.
fn write_tools(dir: &ConfigDir, healthy: &str, faulty: &str, timeout_ms: u64) {
    let tool = |name: &str, upstream: &str, rest: &str| {
        dir.write(
            &format!("tools/{name}.yaml"),
            &format!(
                "name: {name}\ndescription: d\nscopes: [t]\n\
                 input_schema: {{ type: object, additionalProperties: false, properties: {{ name: {{ type: string }} }} }}\n\
                 upstream: {{ {upstream}, credential: api, allow_private_network: true }}\n{rest}"
            ),
        );
    };
    tool(
        "healthy",
        &format!("method: GET, url: \"{healthy}/echo/healthy\""),
        "",
    );
    tool(
        "keyed",
        &format!(
            "method: POST, url: \"{healthy}/echo/keyed\", body: {{ name: \"{{args.name}}\" }}"
        ),
        "",
    );
    tool(
        "held",
        &format!("method: POST, url: \"{healthy}/echo/held\", body: {{ name: \"{{args.name}}\" }}"),
        "approval: always\n",
    );
    tool(
        "faulty",
        &format!("method: GET, url: \"{faulty}/items\", timeout_ms: {timeout_ms}"),
        "",
    );
}

/// toolgate.yaml for these tests: credential `api`, workflow `main` granting
/// scope `t`, the [`Keys`] identities, and `top` (more top-level keys).
fn write_config(dir: &ConfigDir, keys: &Keys, top: &str) {
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\n{top}credentials:\n  api:\n    environment: test\n    source: {{ env: FAULTS_API_KEY }}\n    \
             inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n\
             workflows:\n  main: {{ environment: test, scopes: [t], credentials: {{ api: api }} }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
}

/// A gateway in process, its healthy upstream and a faulty one.
struct Rig {
    gw: TestGateway,
    up: Upstream,
    faulty: Faulty,
    keys: Keys,
    dir: ConfigDir,
}

async fn rig(fault: Fault, timeout_ms: u64, top: &str) -> Rig {
    let up = Upstream::start().await;
    let faulty = Faulty::start(fault).await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    write_tools(&dir, &up.base(), &faulty.base(), timeout_ms);
    write_config(&dir, &keys, top);
    let env = [("FAULTS_API_KEY".to_owned(), canary("api-"))].into();
    let gw = TestGateway::start(&dir.config_path(), env).await;
    Rig {
        gw,
        up,
        faulty,
        keys,
        dir,
    }
}

/// The audit trail's records.
fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("data/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `toolgate audit verify` on the trail exits 0 ("intact").
fn assert_trail_verifies(dir: &Path) {
    let out = toolgate()
        .args(["audit", "verify"])
        .arg(dir.join("data/audit.jsonl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "audit verify: {text}");
}

/// A call to the healthy tool succeeds, and the healthy upstream got it.
async fn healthy_call_succeeds(gw: &TestGateway, key: &str, up: &Upstream) {
    let before = up.count();
    let (st, body, _) = gw.call(key, json!({"tool": "healthy"})).await;
    assert_eq!(
        (st, body["status"].as_str()),
        (200, Some("succeeded")),
        "{body}"
    );
    assert!(up.count() > before);
}

/// One faulty upstream, one call to it with an idempotency key: the call
/// fails with `expect` in bounded time while healthy calls are served; the
/// trail holds `executing` then `failed` for it and verifies; a retry with
/// the key is answered with the same failure, and nothing is re-sent.
async fn a_faulty_upstream_fails_its_call_alone(
    fault: Fault,
    timeout_ms: u64,
    expect: (u16, &str),
) {
    let r = rig(fault, timeout_ms, "").await;
    let started = Instant::now();
    let faulty_call = {
        let api = r.gw.api.clone();
        let key = r.keys.agent.clone();
        tokio::spawn(async move {
            api.call(
                &key,
                json!({"tool": "faulty", "call_id": "faulty-1", "idempotency_key": "k-faulty"}),
            )
            .await
        })
    };
    // The upstream has the request in hand (and has sent the start of an
    // answer, where it sends one).
    let in_hand = if fault == Fault::Silent {
        &r.faulty.requests
    } else {
        &r.faulty.answered_partly
    };
    assert!(
        eventually(WITHIN, || in_hand.load(Ordering::SeqCst) == 1).await,
        "the faulty upstream never got the request"
    );
    // Meanwhile other callers are served: at least one call, and every call
    // made while the faulty one is in flight.
    loop {
        healthy_call_succeeds(&r.gw, &r.keys.agent, &r.up).await;
        if faulty_call.is_finished() || fault == Fault::ResetMidBody {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if fault == Fault::ResetMidBody {
        assert!(
            !faulty_call.is_finished(),
            "answered before the upstream reset"
        );
        r.faulty.release.notify_waiters();
    }
    let (st, body, _) = tokio::time::timeout(WITHIN, faulty_call)
        .await
        .expect("the faulty call was answered in bounded time")
        .unwrap();
    assert_eq!((st, code(&body)), expect, "{body}");
    assert!(body.get("result").is_none(), "{body}");
    if fault == Fault::ResetMidBody {
        // A reset ends the call at once, not at the tool's timeout.
        assert!(started.elapsed() < Duration::from_millis(timeout_ms));
    } else {
        // The gateway let go of the upstream's connection.
        assert!(
            eventually(WITHIN, || r.faulty.hung_up.load(Ordering::SeqCst) == 1).await,
            "the gateway kept the faulty connection open"
        );
    }
    healthy_call_succeeds(&r.gw, &r.keys.agent, &r.up).await;

    // A retry with the same key: the first call's failure, not sent again.
    let (st, retry, _) =
        r.gw.call(
            &r.keys.agent,
            json!({"tool": "faulty", "call_id": "faulty-2", "idempotency_key": "k-faulty"}),
        )
        .await;
    assert_eq!((st, code(&retry)), expect, "{retry}");
    let action = retry["action_id"]
        .as_str()
        .expect("the first call's action");
    let (st, v) =
        r.gw.get(Some(&r.keys.agent), &format!("/v1/calls/{action}"))
            .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")), "{v}");
    assert_eq!(code(&v), expect.1, "{v}");
    assert_eq!(r.faulty.accepted(), 1, "the failed call was sent again");

    // The trail: executing, then failed with the code — never executed.
    let trail = records(r.dir.path());
    let events: Vec<(&str, &str)> = trail
        .iter()
        .filter(|rec| rec["call_id"] == "faulty-1")
        .map(|rec| {
            (
                rec["event"].as_str().unwrap(),
                rec["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(events, [("executing", ""), ("failed", expect.1)]);
    assert!(
        !trail
            .iter()
            .any(|rec| rec["call_id"] == "faulty-2" && rec["event"] == "executed"),
        "the retry was recorded as executed"
    );
    assert_trail_verifies(r.dir.path());
}

#[tokio::test]
async fn an_upstream_that_resets_mid_body_fails_its_call_alone() {
    // A timeout far beyond the bound the test allows: a reset must end the
    // call by itself.
    a_faulty_upstream_fails_its_call_alone(Fault::ResetMidBody, 50_000, (502, "upstream_error"))
        .await;
}

#[tokio::test]
async fn an_upstream_body_that_never_ends_times_its_call_out_alone() {
    a_faulty_upstream_fails_its_call_alone(Fault::EndlessBody, 2_000, (504, "upstream_timeout"))
        .await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_its_call_out_alone() {
    a_faulty_upstream_fails_its_call_alone(Fault::Silent, 2_000, (504, "upstream_timeout")).await;
}

/// The soft limit on open files of this process (inherited by the gateway
/// it starts), from /proc; None where that cannot be read.
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `n` plain TCP connections to `addr` that send nothing. After every 50, a
/// request on a fresh connection is answered first: the gateway accepts in
/// order, so it has then accepted all before it, and its listen queue (128
/// deep) never overflows, which would cost a connect a SYN retransmission —
/// a second or more.
/// Each with the time just before its connect.
async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<(Instant, TcpStream)> {
    let mut idle = Vec::with_capacity(n);
    for i in 0..n {
        let opened = Instant::now();
        idle.push((opened, TcpStream::connect(addr).await.unwrap()));
        if i % 50 == 49 || i == n - 1 {
            let mut probe = TcpStream::connect(addr).await.unwrap();
            probe
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: toolgate\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            probe.read_to_end(&mut answer).await.unwrap();
            assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
        }
    }
    idle
}

/// Thousands of connections that send nothing, held at once, within the
/// connection limits configured for them: a real agent call is served, and
/// the gateway closes each after limits.header_read_timeout_ms.
#[tokio::test]
async fn thousands_of_idle_connections_keep_no_agent_out_and_are_closed() {
    // As many as this process may hold, besides what other tests hold.
    let n = open_files_limit()
        .unwrap_or(1024)
        .saturating_sub(512)
        .clamp(64, 2500);
    let timeout = Duration::from_millis(3000);
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    write_tools(&dir, &up.base(), &up.base(), 1000);
    // Room for them all, from one address, and for the agent.
    write_config(
        &dir,
        &keys,
        &format!(
            "limits: {{ header_read_timeout_ms: {}, max_connections: {}, max_connections_per_client: {} }}\n",
            timeout.as_millis(),
            n + 64,
            n + 64
        ),
    );
    // The real binary, so the idle connections' two ends are in two processes.
    let p = Proc::start(
        &dir.config_path(),
        free_port(),
        &[("FAULTS_API_KEY", &canary("api-"))],
    )
    .await;
    let addr: SocketAddr = p.base.trim_start_matches("http://").parse().unwrap();

    let first = Instant::now();
    let idle = idle_connections(addr, n).await;
    // A real agent call while they are held.
    let (st, body, _) = p.api.call(&keys.agent, json!({"tool": "healthy"})).await;
    assert_eq!(
        (st, body["status"].as_str()),
        (200, Some("succeeded")),
        "{body}"
    );
    assert_eq!(up.count(), 1);
    // The gateway closes no idle connection before limits.header_read_timeout_ms
    // has run from its accept, so while that much has not passed since the
    // first connect, every one must still be held.
    if first.elapsed() < timeout {
        let mut buf = [0u8; 1];
        let open = idle
            .iter()
            .filter(|(_, s)| {
                matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .count();
        assert_eq!(open, n, "idle connections were closed before the timeout");
    }

    // Each is closed by the gateway, after the timeout and in bounded time.
    let mut closing = tokio::task::JoinSet::new();
    for (opened, mut s) in idle {
        closing.spawn(async move {
            until_closed(&mut s).await;
            opened.elapsed()
        });
    }
    let closed = tokio::time::timeout(WITHIN + timeout, async {
        let mut after = Vec::with_capacity(n);
        while let Some(t) = closing.join_next().await {
            after.push(t.unwrap());
        }
        after
    })
    .await;
    let Ok(after) = closed else {
        panic!(
            "{} of {n} idle connections still open {:?} after the last was opened",
            closing.len(),
            WITHIN + timeout
        );
    };
    let early = after.iter().filter(|t| **t < timeout).count();
    assert_eq!(early, 0, "closed before limits.header_read_timeout_ms");
    // The gateway serves as before.
    let (st, body, _) = p.api.call(&keys.agent, json!({"tool": "healthy"})).await;
    assert_eq!(st, 200, "{body}");
}

/// Hold a call for approval: the status and body.
async fn hold(r: &Rig, name: &str) -> (u16, Value) {
    let (st, body, _) =
        r.gw.call(
            &r.keys.agent,
            json!({"tool": "held", "arguments": {"name": name}}),
        )
        .await;
    (st, body)
}

/// Requests the healthy upstream got on `path`.
fn sent(up: &Upstream, path: &str) -> usize {
    up.requests().iter().filter(|q| q.path == path).count()
}

#[tokio::test]
async fn a_full_store_disk_refuses_what_needs_the_store_and_recovers_without_restart() {
    let mnt_dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(mnt_dir.path()) else {
        return;
    };
    let store = mnt.path().join("toolgate.redb");
    let r = rig(
        Fault::Silent,
        1000,
        &format!("store: {{ kind: file, path: \"{}\" }}\n", store.display()),
    )
    .await;
    let agent = &r.keys.agent;

    // Acknowledged before the disk fills: a held action and a keyed call.
    let (st, body) = hold(&r, "before").await;
    assert_eq!(st, 202, "{body}");
    let mut held = vec![body["action_id"].as_str().unwrap().to_owned()];
    let keyed =
        json!({"tool": "keyed", "arguments": {"name": "once"}, "idempotency_key": "k-before"});
    let (st, first, _) = r.gw.call(agent, keyed.clone()).await;
    assert_eq!(st, 200, "{first}");

    mnt.fill();
    // Pages the file has written before can take a few more commits; then
    // a write needs a new page, and fails.
    let mut refused = false;
    for i in 0..2000 {
        let (st, body) = hold(&r, &format!("n{i}")).await;
        if st == 202 {
            held.push(body["action_id"].as_str().unwrap().to_owned());
            continue;
        }
        assert_eq!((st, code(&body)), (503, "store_unavailable"), "{body}");
        refused = true;
        break;
    }
    assert!(refused, "the full disk never refused a call");
    // Calls with an idempotency key need the store too: each is refused
    // with nothing sent or, while pages written before last, kept, sent
    // once and answered.
    let mut answered = Vec::new();
    let mut refused_key = None;
    for i in 0..2000 {
        let call = json!({"tool": "keyed", "arguments": {"name": format!("k{i}")}, "idempotency_key": format!("k-full-{i}")});
        let before = sent(&r.up, "/echo/keyed");
        let (st, body, _) = r.gw.call(agent, call.clone()).await;
        if st == 200 {
            assert_eq!(sent(&r.up, "/echo/keyed"), before + 1, "{body}");
            answered.push((call, body));
            continue;
        }
        assert_eq!((st, code(&body)), (503, "store_unavailable"), "{body}");
        assert_eq!(
            sent(&r.up, "/echo/keyed"),
            before,
            "sent without its key kept"
        );
        refused_key = Some(call);
        break;
    }
    let refused_key = refused_key.expect("the full disk never refused a call with a key");
    // Each failed write is counted, by operation.
    let text =
        r.gw.http
            .get(r.gw.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    let insert_errors = text
        .lines()
        .find(|l| l.starts_with("toolgate_store_errors_total{op=\"insert\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(insert_errors.is_some_and(|n| n >= 1.0), "{text}");
    // A call that needs no store is served.
    healthy_call_succeeds(&r.gw, agent, &r.up).await;

    // Space again: service returns without a restart.
    mnt.free();
    let mut back = None;
    let t = Instant::now();
    while t.elapsed() < WITHIN {
        let (st, body) = hold(&r, "after").await;
        if st == 202 {
            back = Some(body["action_id"].as_str().unwrap().to_owned());
            break;
        }
        assert_eq!((st, code(&body)), (503, "store_unavailable"), "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(after) = back else {
        panic!("the store did not come back once the disk had space");
    };
    held.push(after);
    let (st, v) = r.gw.get(None, "/readyz").await;
    assert_eq!(
        (st, v["checks"]["store"]["ok"].as_bool()),
        (200, Some(true)),
        "{v}"
    );

    // Nothing acknowledged was lost: every held action is still pending.
    for id in &held {
        let (st, v) = r.gw.get(Some(agent), &format!("/v1/calls/{id}")).await;
        assert_eq!(
            (st, v["status"].as_str()),
            (200, Some("pending_approval")),
            "{id}: {v}"
        );
    }
    // The first one runs once approved, once.
    let held_sent = sent(&r.up, "/echo/held");
    let (st, v) =
        r.gw.post_json(
            &r.keys.approver,
            &format!("/v1/pending-actions/{}/approve", held[0]),
            json!({"reason": "after the disk was freed"}),
        )
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("succeeded")), "{v}");
    assert_eq!(sent(&r.up, "/echo/held"), held_sent + 1);
    // The keyed call made before is answered from its first result.
    let keyed_sent = sent(&r.up, "/echo/keyed");
    let (st, again, _) = r.gw.call(agent, keyed).await;
    assert_eq!((st, &again["result"]), (200, &first["result"]), "{again}");
    assert_eq!(
        sent(&r.up, "/echo/keyed"),
        keyed_sent,
        "a kept result was sent again"
    );
    // Those answered while the disk was full are not sent again either: a
    // retry gets the result or, where the disk kept it from being recorded,
    // is told the call is still executing — never that it is done.
    for (call, first) in &answered {
        let before = sent(&r.up, "/echo/keyed");
        let (st, again, _) = r.gw.call(agent, call.clone()).await;
        assert_eq!(sent(&r.up, "/echo/keyed"), before, "sent again: {again}");
        match st {
            200 => assert_eq!(again["result"], first["result"], "{again}"),
            202 => assert_eq!(again["status"], "executing", "{again}"),
            _ => assert_eq!((st, code(&again)), (409, "conflict"), "{again}"),
        }
    }
    // The key refused while the disk was full: let go (a retry runs, once)
    // or, when the full disk kept it from being let go, still held (409,
    // nothing sent) — never reported done without being sent.
    let before = sent(&r.up, "/echo/keyed");
    let (st, body, _) = r.gw.call(agent, refused_key).await;
    if st == 200 {
        assert_eq!(sent(&r.up, "/echo/keyed"), before + 1, "{body}");
    } else {
        assert_eq!((st, code(&body)), (409, "conflict"), "{body}");
        assert_eq!(sent(&r.up, "/echo/keyed"), before);
    }
    // A new key runs.
    let before = sent(&r.up, "/echo/keyed");
    let (st, body, _) =
        r.gw.call(
            agent,
            json!({"tool": "keyed", "arguments": {"name": "new"}, "idempotency_key": "k-after"}),
        )
        .await;
    assert_eq!(
        (st, body["status"].as_str()),
        (200, Some("succeeded")),
        "{body}"
    );
    assert_eq!(sent(&r.up, "/echo/keyed"), before + 1);
    assert_trail_verifies(r.dir.path());
}
