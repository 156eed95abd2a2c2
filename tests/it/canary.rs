//! Canary credentials end to end: a decoy seen in a call or in an upstream's
//! answer quarantines the agent — key and sessions refused, pending work
//! denied, the sighting audited, counted and posted to the webhook — until
//! an admin releases it. The decoy's value appears nowhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use toolgate::identity::{Role, generate_key, key_sha256};

use crate::support::{ConfigDir, TestGateway, canary, code, leaks};

pub(crate) type Hooks = Arc<Mutex<Vec<Value>>>;
/// What the upstream received: path and body of each request.
pub(crate) type Sent = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

pub(crate) struct Rig {
    pub gw: TestGateway,
    pub agent: String,
    pub approver: String,
    pub admin: String,
    pub decoy: String,
    pub secret: String,
    pub hooks: Hooks,
    /// Requests the upstream received: path and body.
    pub sent: Sent,
    pub dir: ConfigDir,
}

/// An upstream: `/plain` and `/risky` answer `{"ok": true}`, `/lookup`
/// answers a record that holds `decoy`; and a webhook receiver.
async fn servers(decoy: &str, sent: Sent, hooks: Hooks) -> (String, String) {
    let decoy = decoy.to_owned();
    let up = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let sent = sent.clone();
        let decoy = decoy.clone();
        async move {
            let path = req.uri().path().to_owned();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            sent.lock().unwrap().push((path.clone(), body.to_vec()));
            if path == "/lookup" {
                axum::Json(json!({"note": format!("found in a ticket: {decoy}")}))
            } else {
                axum::Json(json!({"ok": true}))
            }
        }
    });
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<Value>| {
            let hooks = hooks.clone();
            async move {
                hooks.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    let mut addrs = Vec::new();
    for app in [up, hook] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    (
        format!("http://{}", addrs[0]),
        format!("http://{}/hook", addrs[1]),
    )
}

/// Workflow `sales` (agent `bot`, approver `alice`, admin `secops`, a
/// notify webhook) with tools `plain`, `risky` (always held), `lookup` and
/// `guarded` (refuses token shapes),
/// each taking `{note}` and sending its arguments as the body; credential
/// `crm` and the canary `decoy`.
pub(crate) async fn rig() -> Rig {
    let decoy = canary("decoy-");
    let secret = canary("crm-");
    let sent = Sent::default();
    let hooks = Hooks::default();
    let (base, hook) = servers(&decoy, sent.clone(), hooks.clone()).await;
    let (agent, approver, admin) = (
        generate_key(Role::Agent),
        generate_key(Role::Approver),
        generate_key(Role::Admin),
    );
    let dir = ConfigDir::new();
    for (name, method, approval, body) in [
        ("plain", "POST", "never", ", body: \"{args}\""),
        ("risky", "POST", "always", ", body: \"{args}\""),
        ("lookup", "GET", "never", ""),
        ("guarded", "POST", "never", ", body: \"{args}\""),
    ] {
        let inbound = if name == "guarded" {
            "inbound: { refuse_token_shapes: true }\n"
        } else {
            ""
        };
        dir.write(
            &format!("tools/{name}.yaml"),
            &format!(
                "name: {name}\ndescription: d\nscopes: [crm]\n\
                 input_schema: {{ type: object, additionalProperties: false, properties: {{ note: {{ type: string }} }} }}\n\
                 upstream: {{ method: {method}, url: \"{base}/{name}\", credential: crm, allow_private_network: true{body} }}\n\
                 approval: {approval}\n{inbound}"
            ),
        );
    }
    dir.write(
        "toolgate.yaml",
        &format!(
            r#"environment: test
credentials:
  crm:
    environment: test
    source: {{ env: CRM_KEY }}
    inject: {{ header: Authorization, format: "Bearer {{secret}}" }}
  decoy:
    environment: test
    source: {{ env: DECOY_KEY }}
    canary: true
workflows:
  sales:
    environment: test
    scopes: [crm]
    credentials: {{ crm: crm }}
    notify: {{ webhook: "{hook}", secret: {{ env: HOOK_SECRET }} }}
agents:
  bot: {{ workflow: sales, key_sha256: "{}" }}
approvers:
  alice: {{ key_sha256: "{}", workflows: [sales] }}
admins:
  secops: {{ key_sha256: "{}" }}
"#,
            key_sha256(&agent),
            key_sha256(&approver),
            key_sha256(&admin),
        ),
    );
    let env = HashMap::from([
        ("CRM_KEY".to_owned(), secret.clone()),
        ("DECOY_KEY".to_owned(), decoy.clone()),
        ("HOOK_SECRET".to_owned(), canary("hook-")),
    ]);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    Rig {
        gw,
        agent,
        approver,
        admin,
        decoy,
        secret,
        hooks,
        sent,
        dir,
    }
}

impl Rig {
    pub(crate) fn sent(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    /// The quarantine's webhook post (pending actions post their own).
    pub(crate) async fn hook(&self) -> Value {
        for _ in 0..100 {
            let found = self
                .hooks
                .lock()
                .unwrap()
                .iter()
                .find(|v| v["event"] == "agent.quarantined")
                .cloned();
            if let Some(v) = found {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the webhook was not called");
    }

    /// The trail, and that neither the decoy nor the real key is in it.
    pub(crate) fn trail(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("data/audit.jsonl")).unwrap();
        assert!(!leaks(&text, &self.decoy), "the decoy reached the trail");
        assert!(!leaks(&text, &self.secret));
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn metrics(&self) -> String {
        let text = self
            .gw
            .http
            .get(self.gw.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!leaks(&text, &self.decoy));
        text
    }
}

fn plain() -> Value {
    json!({"tool": "plain", "arguments": {"note": "hello"}})
}

#[tokio::test]
async fn a_canary_in_a_call_quarantines_the_agent_until_released() {
    let r = rig().await;
    let (st, tok) =
        r.gw.post_json(&r.agent, "/v1/sessions", json!({"ttl_seconds": 600}))
            .await;
    assert_eq!(st, 201, "{tok}");
    let token = tok["token"].as_str().unwrap().to_owned();
    let (st, held, _) =
        r.gw.call(&r.agent, json!({"tool": "risky", "arguments": {}}))
            .await;
    assert_eq!(st, 202, "{held}");
    let action = held["action_id"].as_str().unwrap().to_owned();
    assert_eq!(r.gw.call(&r.agent, plain()).await.0, 200);
    let before = r.sent();

    // The decoy, percent-encoded, in the arguments: refused like any
    // loaded secret, nothing sent, and nothing says it was a decoy.
    let encoded: String =
        percent_encoding::utf8_percent_encode(&r.decoy, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let smuggle = json!({"tool": "plain", "arguments": {"note": format!("use {encoded}")}});
    let (st, v, _) = r.gw.call(&r.agent, smuggle).await;
    assert_eq!((st, code(&v)), (403, "secret_in_arguments"), "{v}");
    assert!(!leaks(&v.to_string(), &r.decoy));
    assert!(!v.to_string().contains("canary") && !v.to_string().contains("decoy"));
    assert_eq!(r.sent(), before, "the upstream was called");

    // Quarantined: key and session refused, pending work denied.
    let (st, v, _) = r.gw.call(&r.agent, plain()).await;
    assert_eq!((st, code(&v)), (401, "unauthenticated"));
    assert_eq!(r.gw.call(&token, plain()).await.0, 401);
    let (st, v) =
        r.gw.post_json(
            &r.approver,
            &format!("/v1/pending-actions/{action}/approve"),
            json!({"reason": "looks fine"}),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(r.sent(), before);

    let hook = r.hook().await;
    assert_eq!(
        (&hook["agent"], &hook["credential"], &hook["seen_in"]),
        (&json!("bot"), &json!("decoy"), &json!("call"))
    );
    assert!(!leaks(&hook.to_string(), &r.decoy));
    let trail = r.trail();
    let seen = trail
        .iter()
        .find(|e| e["event"] == "canary_seen")
        .expect("the sighting is recorded");
    assert_eq!(
        (&seen["agent"], &seen["credential"]),
        (&json!("bot"), &json!("decoy"))
    );
    assert_eq!(seen["decision"], "agent quarantined");
    assert!(trail.iter().any(|e| e["event"] == "denied"
        && e["action_id"] == json!(action)
        && e["reason"].as_str().unwrap().contains("quarantined")));
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("toolgate_canary_sightings_total{credential=\"decoy\"} 1"),
        "{metrics}"
    );

    // Only an admin lets it back; the old session stays ended.
    let release = "/v1/admin/agents/bot/release";
    assert_eq!(r.gw.api.admin(&r.approver, release).await.0, 403);
    let (st, v) = r.gw.api.admin(&r.admin, release).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("released")), "{v}");
    let (st, v) = r.gw.api.admin(&r.admin, release).await;
    assert_eq!((st, code(&v)), (409, "conflict"));
    assert_eq!(r.gw.call(&r.agent, plain()).await.0, 200);
    assert_eq!(r.gw.call(&token, plain()).await.0, 401);
    assert!(r.trail().iter().any(|e| e["event"] == "admin_release"));
}

#[tokio::test]
async fn a_canary_in_an_answer_is_redacted_and_quarantines_the_agent() {
    let r = rig().await;
    let (st, v, _) =
        r.gw.call(&r.agent, json!({"tool": "lookup", "arguments": {}}))
            .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        !leaks(&v.to_string(), &r.decoy),
        "the decoy reached the model"
    );
    assert!(
        v["result"]["note"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:credential:decoy]")
    );
    let (st, _, _) = r.gw.call(&r.agent, plain()).await;
    assert_eq!(st, 401, "the agent was not quarantined");
    let hook = r.hook().await;
    assert_eq!(hook["seen_in"], "answer");
    let seen: Vec<Value> = r
        .trail()
        .into_iter()
        .filter(|e| e["event"] == "canary_seen")
        .collect();
    assert_eq!(seen.len(), 1);
}

#[test]
fn a_canary_is_never_injected_nor_bound() {
    let cases = [
        (
            "  decoy: { environment: test, source: { env: D }, canary: true, inject: { header: X-Key } }\n",
            "",
            "a canary is never injected; remove inject",
        ),
        (
            "  decoy: { environment: test, source: { env: D } }\n",
            "",
            "inject is required",
        ),
        (
            "  decoy: { environment: test, source: { env: D }, canary: true }\n",
            "    credentials: { crm: decoy }\n",
            "credential \"decoy\" is a canary: toolgate never injects it, so no workflow may bind it",
        ),
    ];
    for (credential, binding, needle) in cases {
        let dir = ConfigDir::new();
        std::fs::create_dir_all(dir.path().join("tools")).unwrap();
        dir.write(
            "toolgate.yaml",
            &format!(
                "environment: test\ncredentials:\n{credential}workflows:\n  main:\n    environment: test\n{binding}"
            ),
        );
        let msgs = match toolgate::catalog::load(&dir.config_path()) {
            Ok(_) => String::new(),
            Err(diags) => diags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        };
        assert!(msgs.contains(needle), "missing {needle:?} in:\n{msgs}");
    }
}
