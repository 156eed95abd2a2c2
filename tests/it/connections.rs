//! Per-user OAuth connections against the repository's OAuth2 server
//! (tests/oauth2: PKCE required, codes single use and bound to their
//! redirect_uri, an RFC 7009 revocation endpoint), driven as a browser
//! would: the connect URL, the provider's redirect, the callback — each
//! redirect followed by hand.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::calls::leaks;
use crate::oauth2::Provider;
use crate::support::process::{Proc, Serve, free_port};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code, crm};

const RETURN_TO: &str = "https://app.example/settings?connected=crm";

/// A browser: no redirect followed by itself, no cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Credential `crm`: per-user connections at `p`, used by tool `plain`.
fn config(p: &Provider, up: &Upstream, keys: &Keys, store: &str, state_ttl: u64) -> ConfigDir {
    let dir = ConfigDir::new();
    crm::write_tool(&dir, "plain", &format!("{}/echo/plain", up.base()));
    let top = format!(
        "store: {store}\nconnections: {{ return_to_origins: [\"https://app.example\"], state_ttl_seconds: {state_ttl} }}\n"
    );
    let source = format!(
        "{{ oauth2: {{ grant: authorization_code, per_subject: true, authorize_url: \"{}\", token_url: \"{}\", revocation_url: \"{}\", client_id: toolgate, client_secret: {{ env: CLIENT_SECRET }}, scopes: [crm.read, crm.write] }} }}",
        p.url("/authorize"),
        p.token_url(),
        p.url("/revoke"),
    );
    crm::write_config(&dir, keys, "test", &top, &source, "Bearer");
    dir
}

const FILE_STORE: &str =
    "{ kind: file, path: data/store.redb, encryption_key: { env: STORE_KEY } }";
const MEMORY_STORE: &str = "{ kind: memory, encryption_key: { env: STORE_KEY } }";

/// Anything that speaks to the gateway: the in-process one or the binary.
trait Gw {
    fn base(&self) -> String;
}

impl Gw for TestGateway {
    fn base(&self) -> String {
        self.url("")
    }
}

impl Gw for Proc {
    fn base(&self) -> String {
        self.base.clone()
    }
}

async fn send(
    gw: &impl Gw,
    method: &str,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = browser()
        .request(method.parse().unwrap(), format!("{}{path}", gw.base()))
        .bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `POST /v1/connections`: the connect URL.
async fn connect_url(gw: &impl Gw, key: &str, subject: &str, return_to: Option<&str>) -> String {
    let mut body = json!({"credential": "crm", "subject": subject});
    if let Some(r) = return_to {
        body["return_to"] = json!(r);
    }
    let (st, v) = send(gw, "POST", key, "/v1/connections", Some(body)).await;
    assert_eq!(st, 201, "{v}");
    assert!(v["expires_at"].is_string(), "{v}");
    v["connect_url"].as_str().unwrap().to_owned()
}

/// Open the connect URL; the provider consents at once and redirects to
/// the callback: its URL.
async fn consent(connect_url: &str) -> String {
    let r = browser().get(connect_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302, "the provider redirects back");
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Open the callback URL: its status, `Location` and body.
async fn arrive(callback: &str) -> (u16, Option<String>, String) {
    let r = browser().get(callback).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, r.text().await.unwrap())
}

/// The whole flow for `subject`; the callback URL it went through.
async fn connect(gw: &impl Gw, key: &str, subject: &str) -> String {
    let url = connect_url(gw, key, subject, Some(RETURN_TO)).await;
    let callback = consent(&url).await;
    let (st, location, body) = arrive(&callback).await;
    assert_eq!((st, location.as_deref()), (303, Some(RETURN_TO)), "{body}");
    callback
}

async fn session(gw: &impl Gw, key: &str, subject: &str) -> String {
    let (st, v) = send(
        gw,
        "POST",
        key,
        "/v1/sessions",
        Some(json!({"ttl_seconds": 300, "subject": subject})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

async fn call(gw: &impl Gw, key: &str) -> (u16, Value) {
    send(
        gw,
        "POST",
        key,
        "/v1/calls",
        Some(json!({"tool": "plain", "arguments": {}})),
    )
    .await
}

fn bearer(up: &Upstream) -> String {
    up.last().headers["authorization"]
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned()
}

fn env(secret: &str, store_key: &str) -> HashMap<String, String> {
    HashMap::from([
        ("CLIENT_SECRET".to_owned(), secret.to_owned()),
        ("STORE_KEY".to_owned(), store_key.to_owned()),
    ])
}

/// The audit trail's records (the file sink's, durable at each write).
fn trail(dir: &ConfigDir) -> Vec<Value> {
    std::fs::read_to_string(dir.path().join("data/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events<'a>(trail: &'a [Value], event: &str, subject: &str) -> Vec<&'a Value> {
    trail
        .iter()
        .filter(|r| r["event"] == event && r["subject"] == subject)
        .collect()
}

#[tokio::test]
async fn a_connected_subject_s_calls_carry_its_own_token_refreshed_then_revoked_on_disconnect() {
    // Long enough that every step before the refresh ends well within four
    // fifths of it on a busy machine.
    const TTL_SECS: u64 = 30;
    let secret = canary("client-");
    let Some(p) = Provider::start(&secret, None, TTL_SECS) else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = config(&p, &up, &keys, FILE_STORE, 600);
    let store_key = canary("store-");
    let log = dir.path().join("toolgate.log");
    let gw = Serve::new(&dir.config_path(), free_port())
        .envs(&[("CLIENT_SECRET", &secret), ("STORE_KEY", &store_key)])
        .rust_log("debug")
        .stderr_to(&log)
        .start()
        .await;

    // The connect URL is the provider's, with PKCE (S256) and a state.
    let url = connect_url(&gw, &keys.agent, "alice", Some(RETURN_TO)).await;
    assert!(url.starts_with(&p.url("/authorize?")), "{url}");
    let q = query(&url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "toolgate");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "crm.read crm.write");
    assert_eq!(q["redirect_uri"], format!("{}/v1/oauth/callback", gw.base));
    assert!(q["state"].len() >= 43 && q["code_challenge"].len() == 43);
    let mut states = vec![q["state"].clone()];
    let alice_callback = consent(&url).await;
    let (st, location, _) = arrive(&alice_callback).await;
    let alice_connected = std::time::Instant::now();
    assert_eq!((st, location.as_deref()), (303, Some(RETURN_TO)));
    let bob_callback = connect(&gw, &keys.agent, "bob").await;
    states.push(query(&bob_callback)["state"].clone());
    assert_eq!(p.count("authorization_code"), 2, "{}", p.stats());

    // Each subject's calls carry that subject's token; never the other's.
    let (alice, bob) = (
        session(&gw, &keys.agent, "alice").await,
        session(&gw, &keys.agent, "bob").await,
    );
    let (st, v) = call(&gw, &alice).await;
    assert_eq!(st, 200, "{v}");
    let alice_token = bearer(&up);
    let (st, v) = call(&gw, &bob).await;
    assert_eq!(st, 200, "{v}");
    let bob_token = bearer(&up);
    assert_ne!(alice_token, bob_token);
    assert!(p.issued().contains(&alice_token) && p.issued().contains(&bob_token));
    let (st, _) = call(&gw, &alice).await;
    assert_eq!((st, bearer(&up)), (200, alice_token.clone()));

    // A replayed callback (same state, same code) is refused.
    let (st, _, body) = arrive(&alice_callback).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((st, code(&v)), (400, "oauth_state_invalid"), "{v}");

    // The agent key (no subject) and a subject with no connection: refused,
    // naming the credential; the upstream is not called.
    let before = up.count();
    let (st, v) = call(&gw, &keys.agent).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"), "{v}");
    let carol = session(&gw, &keys.agent, "carol").await;
    let (st, v) = call(&gw, &carol).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"), "{v}");
    assert_eq!(v["error"]["details"][0]["credential"], "crm", "{v}");
    assert_eq!(v["error"]["details"][0]["reason"], "connection_required");
    assert_eq!(up.count(), before);

    // Listed without token material.
    let (st, v) = send(
        &gw,
        "GET",
        &keys.agent,
        "/v1/connections?subject=alice",
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let list = v["connections"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["credential"], "crm");
    assert_eq!(list[0]["subject"], "alice");
    assert!(list[0]["connected_at"].is_string() && list[0]["expires_at"].is_string());

    // Past four fifths of its lifetime, alice's token is refreshed once.
    assert_eq!(p.count("refresh_token"), 0, "nothing was due yet");
    tokio::time::sleep(
        Duration::from_millis(TTL_SECS * 800 + 300).saturating_sub(alice_connected.elapsed()),
    )
    .await;
    let (st, _) = call(&gw, &alice).await;
    assert_eq!(st, 200);
    let refreshed = bearer(&up);
    assert_ne!(refreshed, alice_token);
    let (st, _) = call(&gw, &alice).await;
    assert_eq!((st, bearer(&up)), (200, refreshed.clone()));
    assert_eq!(p.count("refresh_token"), 1, "{}", p.stats());

    // Disconnect: revoked at the provider (the rotated refresh token), and
    // alice's calls need a connection again; bob's still work.
    let (st, v) = send(
        &gw,
        "DELETE",
        &keys.agent,
        "/v1/connections/crm/alice",
        None,
    )
    .await;
    assert_eq!(
        (st, v["revocation"].as_str()),
        (200, Some("revoked")),
        "{v}"
    );
    let revoked = p.stats()["revoked"].clone();
    assert_eq!(revoked.as_array().unwrap().len(), 1, "{revoked}");
    assert_eq!(revoked[0]["hint"], "refresh_token");
    let issued = p.issued();
    let revoked_token = revoked[0]["token"].as_str().unwrap();
    assert_eq!(
        issued.iter().rposition(|t| t == revoked_token),
        Some(issued.len() - 1),
        "the newest refresh token was revoked"
    );
    let (st, v) = call(&gw, &alice).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"), "{v}");
    let (_, v) = send(
        &gw,
        "GET",
        &keys.agent,
        "/v1/connections?subject=alice",
        None,
    )
    .await;
    assert_eq!(v["connections"], json!([]));
    let (st, v) = send(
        &gw,
        "DELETE",
        &keys.agent,
        "/v1/connections/crm/alice",
        None,
    )
    .await;
    assert_eq!((st, code(&v)), (404, "not_found"), "{v}");
    let (st, _) = call(&gw, &bob).await;
    assert_eq!(st, 200);

    // Every step audited with the subject.
    drop(gw);
    let trail = trail(&dir);
    for event in [
        "connection_started",
        "connected",
        "connection_refreshed",
        "disconnected",
    ] {
        let found = events(&trail, event, "alice");
        assert_eq!(found.len(), 1, "{event}");
        assert_eq!(found[0]["credential"], "crm", "{event}");
    }
    assert_eq!(
        events(&trail, "connection_started", "alice")[0]["agent"],
        "test-agent"
    );
    assert_eq!(events(&trail, "connected", "bob").len(), 1);

    // No token, refresh token, code, verifier or state anywhere toolgate writes.
    let store =
        String::from_utf8_lossy(&std::fs::read(dir.path().join("data/store.redb")).unwrap())
            .into_owned();
    let trail = std::fs::read_to_string(dir.path().join("data/audit.jsonl")).unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("connected"), "the log is written");
    let secrets: Vec<String> = p
        .issued()
        .into_iter()
        .chain(states)
        .chain([secret])
        .collect();
    assert!(
        secrets.len() >= 2 * 4 + 2,
        "tokens, codes and verifiers were seen"
    );
    for s in &secrets {
        for (what, text) in [("store", &store), ("trail", &trail), ("log", &logs)] {
            assert!(!leaks(text, s), "a secret is in the {what}");
        }
    }
}

#[tokio::test]
async fn forged_expired_and_refused_states_connect_nothing() {
    let secret = canary("client-");
    let Some(p) = Provider::start(&secret, None, 3600) else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = config(&p, &up, &keys, MEMORY_STORE, 2);
    let gw = TestGateway::start(&dir.config_path(), env(&secret, &canary("store-"))).await;
    let refused = |callback: String| async move {
        let (st, location, body) = arrive(&callback).await;
        assert_eq!(location, None);
        let v: Value = serde_json::from_str(&body).unwrap();
        (st, code(&v).to_owned(), v)
    };
    let callback = gw.url("/v1/oauth/callback");

    // A forged state, and none at all: one answer that says nothing more.
    let (st, c, v) = refused(format!("{callback}?state=forged-state&code=abc")).await;
    assert_eq!((st, c.as_str()), (400, "oauth_state_invalid"), "{v}");
    assert!(!v.to_string().contains("forged"), "{v}");
    let (st, c, _) = refused(format!("{callback}?code=abc")).await;
    assert_eq!((st, c.as_str()), (400, "oauth_state_invalid"));

    // Consent refused at the provider: audited, nothing kept.
    let url = connect_url(&gw, &keys.agent, "dana", None).await;
    let state = query(&url)["state"].clone();
    let mut denied = url::Url::parse(&callback).unwrap();
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("state", &state);
    let (st, c, v) = refused(denied.to_string()).await;
    assert_eq!((st, c.as_str()), (403, "oauth_denied"), "{v}");
    // And that state cannot be used again with a code.
    let (st, c, _) = refused(format!("{callback}?state={state}&code=abc")).await;
    assert_eq!((st, c.as_str()), (400, "oauth_state_invalid"));

    // An expired state: the provider redirects, toolgate refuses.
    let url = connect_url(&gw, &keys.agent, "dana", None).await;
    let back = consent(&url).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (st, c, _) = refused(back).await;
    assert_eq!((st, c.as_str()), (400, "oauth_state_invalid"));
    assert_eq!(p.count("authorization_code"), 0, "no code was exchanged");

    // Without return_to, a page says so.
    let url = connect_url(&gw, &keys.agent, "dana", None).await;
    let (st, location, body) = arrive(&consent(&url).await).await;
    assert_eq!((st, location), (200, None));
    assert!(body.contains("connected"), "{body}");

    // return_to only at an allowed origin.
    for bad in [
        "https://evil.example/x",
        "https://app.example.evil/x",
        "javascript:alert(1)",
        "/relative",
    ] {
        let (st, v) = send(
            &gw,
            "POST",
            &keys.agent,
            "/v1/connections",
            Some(json!({"credential": "crm", "subject": "dana", "return_to": bad})),
        )
        .await;
        assert_eq!((st, code(&v)), (400, "bad_request"), "{bad}: {v}");
    }

    let trail = trail(&dir);
    let denied = events(&trail, "connection_denied", "dana");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["reason"], "access_denied");
    assert_eq!(events(&trail, "connected", "dana").len(), 1);
    assert_eq!(events(&trail, "connection_started", "dana").len(), 3);
}

#[tokio::test]
async fn agents_sessions_and_admins_reach_only_their_own_connections() {
    let secret = canary("client-");
    let Some(p) = Provider::start(&secret, None, 3600) else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = config(&p, &up, &keys, MEMORY_STORE, 600);
    let gw = TestGateway::start(&dir.config_path(), env(&secret, &canary("store-"))).await;
    connect(&gw, &keys.agent, "erin").await;
    let create = |key: String, credential: &'static str, subject: &'static str| {
        let base = gw.url("");
        async move {
            let r = browser()
                .post(format!("{base}/v1/connections"))
                .bearer_auth(key)
                .json(&json!({"credential": credential, "subject": subject}))
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (st, code(&v).to_owned())
        }
    };
    // An approver key: never.
    assert_eq!(
        create(keys.approver.clone(), "crm", "erin").await,
        (403, "forbidden".into())
    );
    // An agent whose workflow does not bind the credential: as if it did
    // not exist, as for a credential that does not.
    let absent = (404, "not_found".to_owned());
    assert_eq!(
        create(keys.other_agent.clone(), "crm", "erin").await,
        absent
    );
    assert_eq!(create(keys.agent.clone(), "nope", "erin").await, absent);
    let (st, v) = send(
        &gw,
        "GET",
        &keys.other_agent,
        "/v1/connections?subject=erin",
        None,
    )
    .await;
    assert_eq!((st, v["connections"].clone()), (200, json!([])));
    let (st, _) = send(
        &gw,
        "DELETE",
        &keys.other_agent,
        "/v1/connections/crm/erin",
        None,
    )
    .await;
    assert_eq!(st, 404);

    // A session: only its own subject.
    let frank = session(&gw, &keys.agent, "frank").await;
    assert_eq!(
        create(frank.clone(), "crm", "erin").await,
        (403, "forbidden".into())
    );
    assert_eq!(create(frank.clone(), "crm", "frank").await.0, 201);
    let (st, _) = send(&gw, "GET", &frank, "/v1/connections?subject=erin", None).await;
    assert_eq!(st, 403);
    let (st, v) = send(&gw, "GET", &frank, "/v1/connections", None).await;
    assert_eq!((st, v["connections"].clone()), (200, json!([])));
    let (st, _) = send(&gw, "DELETE", &frank, "/v1/connections/crm/erin", None).await;
    assert_eq!(st, 403);
    let erin = session(&gw, &keys.agent, "erin").await;
    let (_, v) = send(&gw, "GET", &erin, "/v1/connections", None).await;
    assert_eq!(v["connections"][0]["subject"], "erin", "{v}");

    // An admin: every credential, every subject.
    assert_eq!(create(keys.admin.clone(), "crm", "erin").await.0, 201);
    let (_, v) = send(
        &gw,
        "GET",
        &keys.admin,
        "/v1/connections?subject=erin",
        None,
    )
    .await;
    assert_eq!(v["connections"].as_array().unwrap().len(), 1, "{v}");
    let (st, v) = send(&gw, "DELETE", &keys.admin, "/v1/connections/crm/erin", None).await;
    assert_eq!(st, 200, "{v}");
    let trail = trail(&dir);
    assert_eq!(events(&trail, "disconnected", "erin")[0]["admin"], "secops");
    let (st, v) = call(&gw, &erin).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"));
}

#[test]
fn connection_credentials_are_checked_at_load() {
    let dir = ConfigDir::new();
    crm::write_tool(&dir, "plain", "https://crm.example/x");
    let keys = Keys::new();
    let load = |store: &str, oauth2: &str, more: &str| {
        let top = format!("store: {store}\n{more}");
        crm::write_config(
            &dir,
            &keys,
            "test",
            &top,
            &format!("{{ oauth2: {oauth2} }}"),
            "Bearer",
        );
        match toolgate::catalog::load(&dir.config_path()) {
            Ok(_) => String::new(),
            Err(d) => d
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    };
    let keyed = "{ kind: memory, encryption_key: { env: K } }";
    let base = "token_url: \"https://id.example/token\", client_id: c, client_secret: { env: S }";
    let good = format!(
        "{{ {base}, grant: authorization_code, per_subject: true, authorize_url: \"https://id.example/authorize\" }}"
    );
    assert_eq!(load(keyed, &good, ""), "");
    // Always sealed in the store: the key is required, even in memory.
    let m = load("{ kind: memory }", &good, "");
    assert!(m.contains("store.encryption_key"), "{m}");
    let m = load(
        keyed,
        &format!(
            "{{ {base}, grant: authorization_code, authorize_url: \"https://id.example/a\" }}"
        ),
        "",
    );
    assert!(
        m.contains("oauth2.per_subject: ") && m.contains("set per_subject: true"),
        "{m}"
    );
    let m = load(
        keyed,
        &format!("{{ {base}, grant: authorization_code, per_subject: true }}"),
        "",
    );
    assert!(m.contains("needs authorize_url"), "{m}");
    let m = load(
        keyed,
        &format!(
            "{{ {base}, grant: authorization_code, per_subject: true, authorize_url: \"http://id.example/a\" }}"
        ),
        "",
    );
    assert!(m.contains("authorize_url must be an https://"), "{m}");
    let m = load(
        keyed,
        &format!(
            "{{ {base}, grant: client_credentials, per_subject: true, revocation_url: \"https://id.example/r\" }}"
        ),
        "",
    );
    assert!(
        m.contains("per_subject is only used with grant: authorization_code"),
        "{m}"
    );
    assert!(m.contains("revocation_url is only used"), "{m}");
    let m = load(
        keyed,
        &good,
        "connections: { return_to_origins: [\"https://app.example/path\"] }\n",
    );
    assert!(m.contains("connections.return_to_origins[0]"), "{m}");
    let m = load(keyed, &good, "connections: { state_ttl_seconds: 0 }\n");
    assert!(m.contains("state_ttl_seconds"), "{m}");
}

#[tokio::test]
async fn replicas_on_one_redis_share_states_and_connections_and_redis_holds_them_sealed() {
    let secret = canary("client-");
    let Some(p) = Provider::start(&secret, None, 3600) else {
        return;
    };
    let Some(redis) = crate::support::redis::TestRedis::any().await else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let name = crate::support::redis::unique_env("connections");
    let dir = ConfigDir::new();
    crm::write_tool(&dir, "plain", &format!("{}/echo/plain", up.base()));
    let source = format!(
        "{{ oauth2: {{ grant: authorization_code, per_subject: true, authorize_url: \"{}\", token_url: \"{}\", client_id: toolgate, client_secret: {{ env: CLIENT_SECRET }} }} }}",
        p.url("/authorize"),
        p.token_url(),
    );
    let top = format!(
        "store: {{ kind: redis, url: \"{}\", encryption_key: {{ env: STORE_KEY }} }}\n",
        redis.url
    );
    crm::write_config(&dir, &keys, &name, &top, &source, "Bearer");
    let store_key = canary("store-");
    let a = TestGateway::start(&dir.config_path(), env(&secret, &store_key)).await;
    let b = TestGateway::start(&dir.config_path(), env(&secret, &store_key)).await;
    // The connect URL from A; the provider sends the browser back to B.
    let url = connect_url(&a, &keys.agent, "gina", None).await;
    let back = consent(&url).await;
    let state = query(&back)["state"].clone();
    let on_b = back.replacen(&a.url(""), &b.url(""), 1);
    assert_ne!(on_b, back);
    let (st, _, body) = arrive(&on_b).await;
    assert_eq!(st, 200, "{body}");
    // Either replica calls with gina's token; a disconnect on B ends it on A.
    let gina = session(&a, &keys.agent, "gina").await;
    let (st, v) = call(&a, &gina).await;
    assert_eq!(st, 200, "{v}");
    let token = bearer(&up);
    let (st, _) = call(&b, &gina).await;
    assert_eq!((st, bearer(&up)), (200, token));
    let dump =
        String::from_utf8_lossy(&redis.dump(&format!("toolgate:{{{name}:*")).await).into_owned();
    assert!(
        dump.contains("connection/crm/gina"),
        "the sealed connection is kept"
    );
    for s in p.issued().iter().chain([&state, &secret]) {
        assert!(!leaks(&dump, s), "a secret is in Redis");
    }
    let (st, v) = send(&b, "DELETE", &keys.agent, "/v1/connections/crm/gina", None).await;
    assert_eq!(
        (st, v["revocation"].as_str()),
        (200, Some("not_configured")),
        "{v}"
    );
    let (st, v) = call(&a, &gina).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"), "{v}");
}
