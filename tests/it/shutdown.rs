//! SIGTERM: the real binary stops accepting, finishes the call in flight, exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys};

#[tokio::test]
async fn sigterm_drains_calls_in_flight() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write(
        "tools/slow.yaml",
        &format!(
            "name: slow\ndescription: d\ninput_schema: {{ type: object, additionalProperties: false }}\n\
             upstream: {{ method: GET, url: \"{}/slow\", allow_private_network: true }}\n",
            up.base()
        ),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nlisten: 127.0.0.1:{port}\nworkflows:\n  main: {{ environment: test }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(["serve", "--config"])
        .arg(dir.config_path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "toolgate did not start");
    let call = {
        let http = http.clone();
        let url = format!("{base}/v1/calls");
        let key = keys.agent.clone();
        tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(key)
                .json(&json!({"tool": "slow"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(up.count(), 1, "the call is in flight");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are refused while the call in flight finishes.
    assert!(http.get(format!("{base}/healthz")).send().await.is_err());
    let (status, body) = call.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
