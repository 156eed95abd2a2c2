//! Kill switches and sessions: revoke an agent, disable a credential, reload
//! one, mint narrowed short-lived sessions.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::calls_config::{Setup, setup, setup_with_env};
use crate::support::{TestGateway, canary, code, leaks};

async fn admin(s: &TestGateway, key: &str, path: &str) -> (u16, Value) {
    s.api.admin(key, path).await
}

async fn session(s: &TestGateway, key: &str, body: Value) -> (u16, Value) {
    s.post_json(key, "/v1/sessions", body).await
}

#[tokio::test]
async fn revoking_an_agent_stops_its_key_and_sessions_at_once_and_for_good() {
    let Setup {
        gw,
        keys,
        secret,
        dir,
        up,
        ..
    } = setup().await;
    let call = json!({"tool": "echo", "arguments": {"id": "1"}});
    let (st, tok) = session(&gw, &keys.agent, json!({"ttl_seconds": 600})).await;
    assert_eq!(st, 201, "{tok}");
    let token = tok["token"].as_str().unwrap().to_owned();
    assert_eq!(gw.call(&token, call.clone()).await.0, 200);

    // Only admins hold the switch.
    let (st, _) = admin(&gw, &keys.approver, "/v1/admin/agents/test-agent/revoke").await;
    assert_eq!(st, 403);
    let (st, _) = admin(&gw, &keys.agent, "/v1/admin/agents/test-agent/revoke").await;
    assert_eq!(st, 403);
    let (st, v) = admin(&gw, &keys.admin, "/v1/admin/agents/nobody/revoke").await;
    assert_eq!((st, code(&v)), (404, "not_found"));

    let (st, v) = admin(&gw, &keys.admin, "/v1/admin/agents/test-agent/revoke").await;
    assert_eq!((st, v["status"].as_str()), (200, Some("revoked")));
    let before = up.count();
    let (st, v, _) = gw.call(&keys.agent, call.clone()).await;
    assert_eq!((st, code(&v)), (401, "unauthenticated"));
    let (st, _, _) = gw.call(&token, call.clone()).await;
    assert_eq!(st, 401);
    assert_eq!(up.count(), before);
    // Another agent is unaffected.
    assert_eq!(gw.call(&keys.other_agent, call.clone()).await.0, 200);

    // It holds across a restart.
    gw.stop().await;
    let env = HashMap::from([("TEST_API_KEY".to_owned(), secret)]);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    assert_eq!(gw.call(&keys.agent, call.clone()).await.0, 401);
}

#[tokio::test]
async fn a_disabled_credential_is_never_sent_until_enabled() {
    let s = setup().await;
    let call = json!({"tool": "echo", "arguments": {"id": "1"}});
    let (st, v) = admin(
        &s.gw,
        &s.keys.admin,
        "/v1/admin/credentials/api-key/disable",
    )
    .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("disabled")));
    let before = s.up.count();
    let (st, v, _) = s.gw.call(&s.keys.agent, call.clone()).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"));
    assert_eq!(s.up.count(), before);
    // Tools with other credentials still work.
    assert_eq!(
        s.gw.call(&s.keys.agent, json!({"tool": "echo_basic"}))
            .await
            .0,
        200
    );
    let (st, _) = admin(&s.gw, &s.keys.admin, "/v1/admin/credentials/api-key/enable").await;
    assert_eq!(st, 200);
    assert_eq!(s.gw.call(&s.keys.agent, call).await.0, 200);
    let (st, v) = admin(&s.gw, &s.keys.admin, "/v1/admin/credentials/nope/disable").await;
    assert_eq!((st, code(&v)), (404, "not_found"));
}

#[tokio::test]
async fn reload_picks_up_the_current_value() {
    let (s, env) = setup_with_env("").await;
    let call = json!({"tool": "echo", "arguments": {"id": "1"}});
    let bearer = |s: &Setup| {
        s.up.last().headers["authorization"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(s.gw.call(&s.keys.agent, call.clone()).await.0, 200);
    assert_eq!(bearer(&s), format!("Bearer {}", s.secret));

    // The operator changes the variable: the loaded value serves until a reload.
    let new = canary("api-new-");
    env.set("TEST_API_KEY", &new);
    assert_eq!(s.gw.call(&s.keys.agent, call.clone()).await.0, 200);
    assert_eq!(bearer(&s), format!("Bearer {}", s.secret));

    let (st, v) = admin(&s.gw, &s.keys.admin, "/v1/admin/credentials/api-key/reload").await;
    assert_eq!((st, v["status"].as_str()), (200, Some("reloaded")), "{v}");
    assert!(v["version"].as_u64().unwrap() >= 2, "{v}");
    let (st, body, _) = s.gw.call(&s.keys.agent, call.clone()).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(bearer(&s), format!("Bearer {new}"));

    // The new value echoed back is redacted, and so is the old one.
    let (st, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    let text = body.to_string();
    assert!(!leaks(&text, &new), "{text}");
    assert!(text.contains("[REDACTED:credential:api-key]"), "{text}");
    // The old value is still known: refused as an argument, not echoed.
    let (st, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1", "nested": {"old": s.secret}}}),
        )
        .await;
    assert_eq!((st, code(&body)), (403, "secret_in_arguments"), "{body}");
    let text = body.to_string();
    assert!(!leaks(&text, &s.secret), "the old value came back: {text}");

    // A credential whose source is missing cannot be reloaded.
    let (st, v) = admin(
        &s.gw,
        &s.keys.admin,
        "/v1/admin/credentials/unset-key/reload",
    )
    .await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"));
}

#[tokio::test]
async fn sessions_narrow_scopes_and_die_with_their_ttl() {
    let s = setup().await;
    // The other workflow grants t:read and t:admin; a session may keep only t:read.
    let (st, v) = session(
        &s.gw,
        &s.keys.other_agent,
        json!({"ttl_seconds": 1, "scopes": ["t:read"], "subject": "user-17", "run_id": "run-1"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["scopes"], json!(["t:read"]));
    let token = v["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tg_session_"));
    let (st, tools) = s.gw.get(Some(&token), "/v1/tools?format=anthropic").await;
    assert_eq!(st, 200);
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"echo") && !names.contains(&"admin_only"),
        "{names:?}"
    );
    let (st, v, _) = s.gw.call(&token, json!({"tool": "admin_only"})).await;
    assert_eq!((st, code(&v)), (404, "unknown_tool"));
    assert_eq!(
        s.gw.call(&s.keys.other_agent, json!({"tool": "admin_only"}))
            .await
            .0,
        200
    );
    // A session cannot mint sessions, nor widen scopes.
    let (st, _) = session(&s.gw, &token, json!({"ttl_seconds": 60})).await;
    assert_eq!(st, 403);
    let (st, _) = session(
        &s.gw,
        &s.keys.agent,
        json!({"ttl_seconds": 60, "scopes": ["t:admin"]}),
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = session(
        &s.gw,
        &s.keys.agent,
        json!({"ttl_seconds": 60, "subject": "../etc"}),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = session(&s.gw, &s.keys.approver, json!({"ttl_seconds": 60})).await;
    assert_eq!(st, 403);
    // The TTL is capped by config (default one hour).
    let (_, v) = session(&s.gw, &s.keys.agent, json!({"ttl_seconds": 999_999})).await;
    let expires = humantime::parse_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
    let left = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(
        left <= Duration::from_secs(3600) && left > Duration::from_secs(3500),
        "{left:?}"
    );
    // And the token dies with its TTL.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (st, _, _) =
        s.gw.call(&token, json!({"tool": "echo", "arguments": {"id": "1"}}))
            .await;
    assert_eq!(st, 401);
}
