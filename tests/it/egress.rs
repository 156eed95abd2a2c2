//! Egress: private addresses refused unless the tool allows them, by IP
//! literal and by name, and the upstream never contacted.

use serde_json::json;

use crate::calls::setup_with;
use crate::support::{ConfigDir, Keys, TestGateway, code};

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
async fn localhost_is_refused_before_any_lookup() {
    // `localhost` is loopback by definition: the name guard refuses it before
    // a lookup (what a resolver answers is checked at connect; see
    // `the_connect_time_check_refuses_what_the_resolver_answers`).
    let up = crate::support::upstream::Upstream::start().await;
    let keys = Keys::new();
    let port = up.addr.port();
    let dir = uncredentialed(
        &keys,
        &[
            (
                "by_name",
                format!("{{ method: GET, url: \"http://localhost:{port}/echo/n\" }}"),
            ),
            (
                "by_alias",
                format!("{{ method: GET, url: \"http://127.0.0.1.nip.invalid:{port}/echo/n\" }}"),
            ),
        ],
    );
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "by_name"})).await;
    assert_eq!((st, code(&body)), (403, "egress_denied"), "{body}");
    // A name that does not resolve is an upstream error, not a leak of anything.
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "by_alias"})).await;
    assert_eq!((st, code(&body)), (502, "upstream_error"), "{body}");
    assert_eq!(up.count(), 0);
}

/// Tools `(name, upstream)` without arguments or credential, in a config
/// without credentials (workflows `main` and `other`, the `keys` identities).
fn uncredentialed(keys: &Keys, tools: &[(&str, String)]) -> ConfigDir {
    let dir = ConfigDir::new();
    for (name, upstream) in tools {
        dir.write(
            &format!("tools/{name}.yaml"),
            &format!(
                "name: {name}\ndescription: d\ninput_schema: {{ type: object, additionalProperties: false }}\nupstream: {upstream}\n"
            ),
        );
    }
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nworkflows:\n  main: {{ environment: test }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
    dir
}

/// A resolver that answers what a hostile DNS server would, and counts the questions.
struct Hostile {
    answer: Vec<std::net::IpAddr>,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl toolgate::pipeline::egress::Lookup for Hostile {
    fn lookup(
        &self,
        host: &str,
    ) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<std::net::IpAddr>>> {
        assert_eq!(
            host, "api.rebind.test",
            "only the manifest's host is looked up"
        );
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let answer = self.answer.clone();
        Box::pin(async move { Ok(answer) })
    }
}

/// The config in `dir` served with `lookup` as its resolver.
async fn with_resolver(dir: &ConfigDir, lookup: Hostile) -> TestGateway {
    TestGateway::start_with_parts(
        &dir.config_path(),
        std::sync::Arc::new(toolgate::secrets::MapEnv::new(Default::default())),
        toolgate::Parts {
            lookup: Some(std::sync::Arc::new(lookup)),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn the_connect_time_check_refuses_what_the_resolver_answers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let up = crate::support::upstream::Upstream::start().await;
    let keys = Keys::new();
    let port = up.addr.port();
    let tools = [("public_only", false), ("internal", true)].map(|(name, private)| {
        (
            name,
            format!(
                "{{ method: GET, url: \"http://api.rebind.test:{port}/echo/{name}\", allow_private_network: {private} }}"
            ),
        )
    });
    let dir = uncredentialed(&keys, &tools);
    // A name that looks public and resolves to loopback and to a private address.
    let asked = Arc::new(AtomicUsize::new(0));
    let lookup = Hostile {
        answer: vec!["10.0.0.7".parse().unwrap(), "127.0.0.1".parse().unwrap()],
        asked: asked.clone(),
    };
    let gw = with_resolver(&dir, lookup).await;

    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "public_only"})).await;
    assert_eq!((st, code(&body)), (403, "egress_denied"), "{body}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the name was looked up");
    assert_eq!(up.count(), 0, "no answered address was connected to");

    // The same answer, for a tool that may reach private networks: toolgate
    // connects to exactly the address it was given (the name has no DNS).
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "internal"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(up.count(), 1);
    assert_eq!(up.last().path, "/echo/internal");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

/// IPv6 forms that carry a loopback or private IPv4 address — the
/// IPv4-translated form, NAT64 and 6to4 — are refused like the address
/// they carry, whether a resolver answers them or the manifest names one.
#[tokio::test]
async fn ipv6_forms_carrying_an_internal_ipv4_address_are_refused() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    let up = crate::support::upstream::Upstream::start().await;
    let keys = Keys::new();
    let port = up.addr.port();
    let tools = [
        (
            "by_name",
            format!("{{ method: GET, url: \"http://api.rebind.test:{port}/echo/x\" }}"),
        ),
        (
            "translated_literal",
            format!("{{ method: GET, url: \"http://[::ffff:0:7f00:1]:{port}/echo/x\" }}"),
        ),
        (
            "nat64_literal",
            format!("{{ method: GET, url: \"http://[64:ff9b::a9fe:a9fe]:{port}/echo/x\" }}"),
        ),
    ];
    let dir = uncredentialed(&keys, &tools);
    let lookup = Hostile {
        answer: vec![
            "::ffff:0:7f00:1".parse().unwrap(),
            "64:ff9b::7f00:1".parse().unwrap(),
            "2002:7f00:1::1".parse().unwrap(),
            "64:ff9b::c0a8:101".parse().unwrap(),
        ],
        asked: Arc::new(AtomicUsize::new(0)),
    };
    let gw = with_resolver(&dir, lookup).await;
    for tool in ["by_name", "translated_literal", "nat64_literal"] {
        let (st, body, _) = gw.call(&keys.agent, json!({ "tool": tool })).await;
        assert_eq!((st, code(&body)), (403, "egress_denied"), "{tool}: {body}");
    }
    assert_eq!(up.count(), 0);
}
