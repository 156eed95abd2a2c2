//! SIGTERM: the real binary stops accepting, finishes the call in flight, exits 0.

use std::time::Duration;

use serde_json::json;

use crate::support::process::{Serve, free_port};
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
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nworkflows:\n  main: {{ environment: test }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
    let p = Serve::new(&dir.config_path(), free_port()).start().await;
    let call = {
        let api = p.api.clone();
        let key = keys.agent.clone();
        tokio::spawn(async move { api.call(&key, json!({"tool": "slow"})).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(up.count(), 1, "the call is in flight");
    p.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are refused while the call in flight finishes.
    assert!(p.api.http.get(p.api.url("/healthz")).send().await.is_err());
    let (status, body, _) = call.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["slow"], true, "{body}");
    let exit = p.wait().await;
    assert!(exit.success(), "{exit:?}");
}
