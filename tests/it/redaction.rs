//! End to end through the real binary: an upstream that echoes the
//! credential every way it can; neither the caller nor toolgate's own logs,
//! captured at trace level, ever hold it.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::calls::{config_yaml, leaks, tools_yaml};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, canary};

#[tokio::test]
async fn nothing_echoed_reaches_the_caller_or_the_trace_logs() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    dir.write(
        "toolgate.yaml",
        &config_yaml(&keys, "")
            .replace("listen: 127.0.0.1:0", &format!("listen: 127.0.0.1:{port}")),
    );
    let (api, basic, query) = (canary("api-"), canary("basic-"), canary("query-"));
    let log = dir.path().join("trace.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(["serve", "--config"])
        .arg(dir.config_path())
        .env("RUST_LOG", "trace")
        .env("TEST_API_KEY", &api)
        .env("TEST_BASIC", &basic)
        .env("TEST_QUERY", &query)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut answers = String::new();
    for call in [
        json!({"tool": "leak"}),
        json!({"tool": "leak_text"}),
        json!({"tool": "status", "arguments": {"code": 500}}),
        json!({"tool": "status", "arguments": {"code": 401}}),
        json!({"tool": "echo_basic"}),
        json!({"tool": "echo_query"}),
        json!({"tool": "echo", "arguments": {"id": "1", "tag": "t"}}),
    ] {
        let r = http
            .post(format!("{base}/v1/calls"))
            .bearer_auth(&keys.agent)
            .json(&call)
            .send()
            .await
            .unwrap();
        answers.push_str(&r.text().await.unwrap());
    }
    assert!(up.count() >= 7);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.len() > 1000,
        "trace logging produced {} bytes",
        logs.len()
    );
    for secret in [&api, &basic, &query] {
        assert!(!leaks(&answers, secret), "a secret reached the caller");
        assert!(!leaks(&logs, secret), "a secret reached the logs");
    }
    // The agent's own key never appears in the logs either.
    assert!(!logs.contains(&keys.agent));
}
