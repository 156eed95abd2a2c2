//! An identity known by its client certificate alone: an entry with a pin
//! and no key is that identity over a connection showing that certificate,
//! with no `Authorization` header; any other certificate, or none, is not;
//! no key is taken over its certificate; a revocation holds; and an entry
//! with neither a key nor a pin is a config error.

use serde_json::json;
use toolgate::identity::key_sha256;

use crate::support::calls_config::{config_yaml, tools_yaml};
use crate::support::certs::Ca;
use crate::support::{Api, ConfigDir, Keys};
use crate::tls::start_edited;

#[tokio::test]
async fn a_certificate_alone_is_the_identity_pinned_to_it_when_that_has_no_key() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let alice_uri = "spiffe://example.test/approver/alice";
    let agent_cert = clients.client("test-agent", None);
    let alice_cert = clients.client("alice", Some(alice_uri));
    let plain_cert = clients.client("someone", Some("spiffe://example.test/other"));
    let keys = Keys::new();
    let t = start_edited(
        &ca,
        &ca.server(),
        ", client_ca: tls/clients.pem",
        &[("tls/clients.pem", &clients.pem)],
        Some(&agent_cert.identity_pem()),
        &keys,
        |c| {
            let agent = format!("key_sha256: \"{}\"", key_sha256(&keys.agent));
            let alice = format!("key_sha256: \"{}\"", key_sha256(&keys.approver));
            assert!(c.contains(&agent) && c.contains(&alice));
            c.replacen(
                &agent,
                &format!("cert_sha256: \"{}\"", agent_cert.sha256),
                1,
            )
            .replacen(&alice, &format!("cert_uri: \"{alice_uri}\""), 1)
        },
    )
    .await;
    let over = |cert: &crate::support::certs::Pair| {
        Api::https(t.port, &ca.pem, Some(&cert.identity_pem()))
    };
    let call = json!({"tool": "echo", "arguments": {"id": "1"}});

    // The certificate is the credential: listed, called, approver queue read.
    assert_eq!(over(&agent_cert).get(None, "/v1/tools").await.0, 200);
    let (st, body, _) = over(&agent_cert)
        .request("POST", None, "/v1/calls", Some(call.clone()))
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        over(&alice_cert).get(None, "/v1/pending-actions").await.0,
        200
    );
    // A session minted by the certificate's agent works as a bearer.
    let (st, session, _) = over(&agent_cert)
        .request(
            "POST",
            None,
            "/v1/sessions",
            Some(json!({"ttl_seconds": 60})),
        )
        .await;
    assert_eq!(st, 201, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(
        over(&agent_cert).get(Some(&token), "/v1/tools").await.0,
        200
    );

    // Another certificate is no one; without one there is no connection.
    assert_eq!(over(&plain_cert).get(None, "/v1/tools").await.0, 401);
    let bare = Api::https(t.port, &ca.pem, None);
    let refused = bare.http.get(bare.url("/v1/tools")).send().await;
    assert!(refused.is_err(), "no certificate, yet served");
    // The key it had is no key now; no other key over its certificate; and
    // a malformed Authorization header is refused, not ignored.
    assert_eq!(
        over(&agent_cert)
            .get(Some(&keys.agent), "/v1/tools")
            .await
            .0,
        401
    );
    assert_eq!(
        over(&agent_cert)
            .get(Some(&keys.other_agent), "/v1/tools")
            .await
            .0,
        401
    );
    let api = over(&agent_cert);
    let basic = api
        .http
        .get(api.url("/v1/tools"))
        .header("authorization", "Basic eDp5")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    // Each certificate is its own identity only: alice's is no agent.
    assert_eq!(over(&alice_cert).get(None, "/v1/tools").await.0, 403);

    // Revoked: the certificate stops working, and its session with it.
    let (st, v) = over(&plain_cert)
        .send(
            "POST",
            &keys.admin,
            "/v1/admin/agents/test-agent/revoke",
            Some(json!({"reason": "certificate-only agent revoked"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(over(&agent_cert).get(None, "/v1/tools").await.0, 401);
    assert_eq!(
        over(&agent_cert).get(Some(&token), "/v1/tools").await.0,
        401
    );
    let log = std::fs::read_to_string(t.dir.path().join("toolgate.log")).unwrap();
    assert!(!log.contains(&token), "a session token is in the log");
}

#[test]
fn an_identity_with_neither_a_key_nor_a_certificate_is_a_config_error() {
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml("http://127.0.0.1:9") {
        dir.write(&rel, &text);
    }
    let config = config_yaml(&keys, "");
    let admin = format!("{{ key_sha256: \"{}\" }}", key_sha256(&keys.admin));
    assert!(config.contains(&admin));
    dir.write("toolgate.yaml", &config.replacen(&admin, "{}", 1));
    let Err(diags) = toolgate::catalog::load(&dir.config_path()) else {
        panic!("an admin with no key and no certificate was accepted");
    };
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(
        text.len() == 1
            && text[0].contains("admins.secops")
            && text[0].contains("needs key_sha256"),
        "{text:?}"
    );
}
