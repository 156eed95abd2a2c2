//! The same tool call through `/mcp` and through `POST /v1/calls`, in one
//! run: the latency each path adds over calling the upstream directly, and
//! the ratio of the two (target: MCP adds at most 1.2× what REST adds).
//!
//! It serves a fixed ~2.7 KB JSON answer from an upstream of its own (which
//! checks the credential), starts the given toolgate binary on a config with
//! one tool over it (memory store, the durable file audit trail), opens one
//! MCP session, then sends requests on a fixed schedule (open loop: latency
//! from each request's scheduled start, as `bench/loadgen.rs` does) to each
//! target in turn, round after round.
//!
//! cargo build --release --bin toolgate --example mcp_bench
//! target/release/examples/mcp_bench target/release/toolgate [RATE] [SECONDS] [ROUNDS]
//!
//! (`bash bench/mcp.sh` does both and writes bench/results/.)

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use toolgate::identity::{Role, generate_key, key_sha256};

const ARGS: &str = r#"{"name":"Ada Lovelace","email":"ada@example.com","value_usd":1200}"#;

struct Target {
    name: &'static str,
    url: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    /// A 2xx whose body holds this is still a failure (an MCP error result).
    failure_marker: Option<&'static str>,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(binary) = args.first() else {
        eprintln!("usage: mcp_bench TOOLGATE_BINARY [RATE] [SECONDS] [ROUNDS]");
        std::process::exit(2);
    };
    let arg = |i: usize, default: f64| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (rate, secs, rounds) = (arg(1, 150.0), arg(2, 8.0), arg(3, 5.0) as usize);

    let secret = format!("bench-{}", generate_key(Role::Agent));
    let upstream = start_upstream(&secret).await;
    let (mut toolgate, port, key, _dir) = start_toolgate(binary, upstream, &secret).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let session = initialize(&client, &base, &key).await;

    let header = |pairs: &[(&str, &str)]| {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    };
    let bearer = format!("Bearer {key}");
    let targets = [
        Target {
            name: "direct",
            url: format!("http://{upstream}/api/echo"),
            headers: header(&[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {secret}")),
            ]),
            body: ARGS.as_bytes().to_vec(),
            failure_marker: None,
        },
        Target {
            name: "rest",
            url: format!("{base}/v1/calls"),
            headers: header(&[("content-type", "application/json"), ("authorization", &bearer)]),
            body: format!(r#"{{"tool":"echo","arguments":{ARGS}}}"#).into_bytes(),
            failure_marker: None,
        },
        Target {
            name: "mcp",
            url: format!("{base}/mcp"),
            headers: header(&[
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("authorization", &bearer),
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-11-25"),
            ]),
            body: format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{ARGS}}}}}"#
            )
            .into_bytes(),
            failure_marker: Some(r#""isError":true"#),
        },
    ];
    // Sanity: each answers as it should, the credential never reaches the caller.
    for t in &targets {
        let r = send(&client, t).await;
        let text = r.text().await.unwrap();
        assert!(text.contains("Lead number 17"), "{}: {text}", t.name);
        assert!(
            t.name == "direct" || !text.contains(&secret),
            "{}: the credential leaked",
            t.name
        );
        if t.name == "mcp" {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["result"]["isError"], false, "{text}");
        }
    }

    let mut p50 = vec![Vec::new(); targets.len()];
    let mut p99 = vec![Vec::new(); targets.len()];
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let measured = interleaved(&client, &targets, rate, secs).await;
        for (i, (t, (a, b, errors))) in targets.iter().zip(&measured).enumerate() {
            eprintln!(
                "round {round} {}: p50 {a:.3} ms, p99 {b:.3} ms, errors {errors}",
                t.name
            );
            assert_eq!(
                *errors, 0,
                "{} answered errors; the figures would be meaningless",
                t.name
            );
            p50[i].push(*a);
            p99[i].push(*b);
        }
        ratios.push((measured[2].0 - measured[0].0) / (measured[1].0 - measured[0].0));
    }
    let _ = toolgate.kill();
    let _ = toolgate.wait();

    let m50: Vec<f64> = p50.iter().map(|v| median(v)).collect();
    let m99: Vec<f64> = p99.iter().map(|v| median(v)).collect();
    let added = |m: &[f64], i: usize| m[i] - m[0];
    println!("| target | p50 at {rate}/s (ms) | p99 at {rate}/s (ms) | added p50 | added p99 |");
    println!("|---|---|---|---|---|");
    let labels = [
        "direct to upstream",
        "`POST /v1/calls`",
        "`/mcp` `tools/call`",
    ];
    for (i, label) in labels.iter().enumerate() {
        let (a, b) = if i == 0 {
            ("—".to_owned(), "—".to_owned())
        } else {
            (
                format!("+{:.3} ms", added(&m50, i)),
                format!("+{:.3} ms", added(&m99, i)),
            )
        };
        println!("| {label} | {:.3} | {:.3} | {a} | {b} |", m50[i], m99[i]);
    }
    println!();
    let ratio = |m: &[f64]| added(m, 2) / added(m, 1);
    let verdict = |r: f64| if r <= 1.2 { "met" } else { "**not met**" };
    println!("| measure | measured | target |");
    println!("|---|---|---|");
    let (r50, r99) = (ratio(&m50), ratio(&m99));
    println!(
        "| MCP added / REST added, p50 | {r50:.2}× | ≤ 1.2× — {} |",
        verdict(r50)
    );
    println!(
        "| MCP added / REST added, p99 | {r99:.2}× | ≤ 1.2× — {} |",
        verdict(r99)
    );
    let spread: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!("| the same, per round (p50) | {} | |", spread.join(", "));
    println!();
    println!(
        "Medians of {rounds} rounds of {secs} s; in each round the three targets take turns request by \
         request (each at {rate} requests/s), so all three see the same machine."
    );
}

async fn send(client: &reqwest::Client, t: &Target) -> reqwest::Response {
    client
        .post(&t.url)
        .headers(t.headers.clone())
        .body(t.body.clone())
        .send()
        .await
        .expect("the target answers")
}

/// Requests on a fixed schedule for `secs`, the targets taking turns (each
/// at `rate`): per target, p50 and p99 (ms) and failures.
async fn interleaved(
    client: &reqwest::Client,
    targets: &[Target],
    rate: f64,
    secs: f64,
) -> Vec<(f64, f64, usize)> {
    for t in targets {
        for _ in 0..20 {
            let _ = send(client, t).await.bytes().await;
        }
    }
    let n = targets.len();
    let total = (rate * secs) as u32 * n as u32;
    let interval = Duration::from_secs_f64(1.0 / (rate * n as f64));
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, u64, bool)>();
    let start = Instant::now() + Duration::from_millis(50);
    let shared: Vec<_> = targets
        .iter()
        .map(|t| {
            Arc::new((
                t.url.clone(),
                t.headers.clone(),
                t.body.clone(),
                t.failure_marker,
            ))
        })
        .collect();
    for i in 0..total {
        let which = i as usize % n;
        let scheduled = start + interval * i;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, shared, tx) = (client.clone(), shared[which].clone(), tx.clone());
        tokio::spawn(async move {
            let (url, headers, body, marker) = &*shared;
            let ok = match client
                .post(url)
                .headers(headers.clone())
                .body(body.clone())
                .send()
                .await
            {
                Ok(r) => {
                    let ok = r.status().is_success();
                    let text = r.bytes().await.unwrap_or_default();
                    ok && marker.is_none_or(|m| !String::from_utf8_lossy(&text).contains(m))
                }
                Err(_) => false,
            };
            let _ = tx.send((which, scheduled.elapsed().as_micros() as u64, ok));
        });
    }
    drop(tx);
    let mut lat = vec![Vec::new(); n];
    let mut errors = vec![0; n];
    while let Some((which, us, ok)) = rx.recv().await {
        lat[which].push(us);
        errors[which] += usize::from(!ok);
    }
    lat.iter_mut()
        .zip(errors)
        .map(|(l, e)| {
            l.sort_unstable();
            let pct = |p: f64| {
                l[((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1] as f64 / 1000.0
            };
            (pct(0.50), pct(0.99), e)
        })
        .collect()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// An upstream answering a fixed ~2.7 KB JSON body to a POST with the credential.
async fn start_upstream(secret: &str) -> SocketAddr {
    let items: Vec<Value> = (0..18)
        .map(|i| {
            json!({"id": format!("L-{}", 1000 + i), "name": format!("Lead number {i}"),
                   "email": format!("lead{i}@example.com"), "status": "qualified",
                   "value_usd": 1000 + 37 * i, "owner": {"name": "Sales Team", "region": "emea"}})
        })
        .collect();
    let body = Arc::new(json!({"total": items.len(), "leads": items}).to_string());
    let expected = Arc::new(format!("Bearer {secret}"));
    let app = Router::new().route(
        "/api/echo",
        post(move |headers: HeaderMap| {
            let (body, expected) = (body.clone(), expected.clone());
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                if auth != Some(expected.as_str()) {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [("content-type", "application/json")],
                        "{}".to_owned(),
                    );
                }
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    (*body).clone(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// toolgate serving one tool over the upstream: the child, its port, the agent key, its directory.
async fn start_toolgate(
    binary: &str,
    upstream: SocketAddr,
    secret: &str,
) -> (Child, u16, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = generate_key(Role::Agent);
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    std::fs::write(
        dir.path().join("toolgate.yaml"),
        format!(
            r#"environment: bench
listen: 127.0.0.1:{port}
store: {{ kind: memory }}
limits: {{ max_concurrency: 4096, max_body_bytes: 65536 }}
credentials:
  upstream:
    environment: bench
    source: {{ env: BENCH_SECRET }}
    scopes: [bench]
    inject: {{ header: Authorization, format: "Bearer {{secret}}" }}
workflows:
  bench:
    environment: bench
    scopes: [bench]
    credentials: {{ api: upstream }}
agents:
  bench: {{ workflow: bench, key_sha256: "{}" }}
"#,
            key_sha256(&key)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tools/echo.yaml"),
        format!(
            r#"name: echo
description: Post a lead and get the lead list back.
scopes: [bench]
input_schema:
  type: object
  additionalProperties: false
  required: [name, email]
  properties:
    name: {{ type: string, maxLength: 100 }}
    email: {{ type: string, maxLength: 200 }}
    value_usd: {{ type: number, minimum: 0 }}
upstream:
  method: POST
  url: http://{upstream}/api/echo
  body: "{{args}}"
  credential: api
  allow_private_network: true
  timeout_ms: 5000
"#
        ),
    )
    .unwrap();
    #[allow(clippy::zombie_processes)] // killed and waited for at the end of main
    let mut child = Command::new(binary)
        .args(["serve", "--config"])
        .arg(dir.path().join("toolgate.yaml"))
        .env("BENCH_SECRET", secret)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("toolgate starts");
    let health = format!("http://127.0.0.1:{port}/healthz");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..200 {
        if client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (child, port, key, dir);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("toolgate did not start");
}

/// `initialize` then `notifications/initialized`: the session id.
async fn initialize(client: &reqwest::Client, base: &str, key: &str) -> String {
    let r = client
        .post(format!("{base}/mcp"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "mcp_bench", "version": "0"}}}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "initialize: {}", r.status());
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let r = client
        .post(format!("{base}/mcp"))
        .bearer_auth(key)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    session
}
