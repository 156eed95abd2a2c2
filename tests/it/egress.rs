//! Egress: private addresses refused unless the tool allows them, by IP
//! literal and by name, and the upstream never contacted.

use serde_json::json;

use crate::calls::setup_with;
use crate::support::code;

#[tokio::test]
async fn a_tool_without_allow_private_network_cannot_reach_loopback() {
    let s = setup_with("").await;
    let (st, body, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "public_only"}))
            .await;
    assert_eq!((st, code(&body)), (403, "egress_denied"), "{body}");
    assert_eq!(s.up.count(), 0, "the upstream was contacted");
}

#[tokio::test]
async fn names_resolving_to_loopback_are_refused_at_connect() {
    // `localhost` resolves to loopback; the resolver check refuses it, and the
    // literal-name guard refuses it before any lookup.
    let up = crate::support::upstream::Upstream::start().await;
    let keys = crate::support::Keys::new();
    let dir = crate::support::ConfigDir::new();
    let port = up.addr.port();
    dir.write(
        "tools/by_name.yaml",
        &format!(
            "name: by_name\ndescription: d\ninput_schema: {{ type: object, additionalProperties: false }}\n\
             upstream: {{ method: GET, url: \"http://localhost:{port}/echo/n\" }}\n"
        ),
    );
    dir.write(
        "tools/by_alias.yaml",
        &format!(
            "name: by_alias\ndescription: d\ninput_schema: {{ type: object, additionalProperties: false }}\n\
             upstream: {{ method: GET, url: \"http://127.0.0.1.nip.invalid:{port}/echo/n\" }}\n"
        ),
    );
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nworkflows:\n  main: {{ environment: test }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
    let gw = crate::support::TestGateway::start(&dir.config_path(), Default::default()).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "by_name"})).await;
    assert_eq!((st, code(&body)), (403, "egress_denied"), "{body}");
    // A name that does not resolve is an upstream error, not a leak of anything.
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "by_alias"})).await;
    assert_eq!((st, code(&body)), (502, "upstream_error"), "{body}");
    assert_eq!(up.count(), 0);
}
