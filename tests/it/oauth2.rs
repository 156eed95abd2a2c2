//! OAuth2 credentials against a real OAuth2 server (`oauth2-mock-server`, run
//! by node from tests/oauth2): one token request for many concurrent calls,
//! in one process and across replicas; rotated refresh tokens survive a
//! restart; provider down with the token expired → `credential_unavailable`
//! and no upstream call; no token is kept in plaintext in the store or Redis.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::calls::leaks;
use crate::support::crm;
use crate::support::process::{Proc, free_port};
use crate::support::redis::{TestRedis, unique_env};
use crate::support::skip;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code};

pub struct Provider {
    child: Option<Child>,
    port: u16,
    client_secret: String,
    stats: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn fixture() -> PathBuf {
    std::env::var("TOOLGATE_TEST_OAUTH2_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oauth2"))
}

impl Provider {
    /// The OAuth2 server on a free port; None (see [`skip::unavailable`])
    /// when node or the package is missing.
    pub fn start(
        client_secret: &str,
        initial_refresh: Option<&str>,
        ttl_secs: u64,
    ) -> Option<Provider> {
        let dir = fixture();
        let installed = dir.join("node_modules/oauth2-mock-server").is_dir();
        if !installed || !skip::on_path("node") {
            skip::unavailable(
                "no OAuth2 server (needs node and `npm ci --prefix tests/oauth2`, or TOOLGATE_TEST_OAUTH2_DIR)",
            );
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let stats = tmp.path().join("stats.json");
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("server.js"))
            .env("PORT", "0")
            .env("CLIENT_ID", "toolgate")
            .env("CLIENT_SECRET", client_secret)
            .env("TOKEN_TTL", ttl_secs.to_string())
            .env("STATS_FILE", &stats)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(r) = initial_refresh {
            cmd.env("INITIAL_REFRESH_TOKEN", r);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the OAuth2 server did not start: {line:?}"));
        Some(Provider {
            child: Some(child),
            port,
            client_secret: client_secret.to_owned(),
            stats,
            _dir: tmp,
        })
    }

    /// The client secret it was started with.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    pub fn token_url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// An endpoint of the provider (`/authorize`, `/revoke`, …).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stats(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.stats).unwrap()).unwrap()
    }

    pub fn count(&self, grant: &str) -> u64 {
        self.stats()[grant].as_u64().unwrap_or(0)
    }

    /// Every token it issued (access and refresh).
    pub fn issued(&self) -> Vec<String> {
        self.stats()["issued"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A gateway config with one OAuth2 credential and a `plain` tool using it.
fn config(up: &Upstream, keys: &Keys, oauth2: &str, store: &str, env: &str) -> ConfigDir {
    let dir = ConfigDir::new();
    crm::write_tool(&dir, "plain", &format!("{}/echo/plain", up.base()));
    let (top, source) = (
        format!("store: {store}\n"),
        format!("{{ oauth2: {oauth2} }}"),
    );
    crm::write_config(&dir, keys, env, &top, &source, "Bearer");
    dir
}

fn client_credentials(p: &Provider) -> String {
    format!(
        "{{ token_url: \"{}\", client_id: toolgate, client_secret: {{ env: CLIENT_SECRET }}, grant: client_credentials, scopes: [crm.read, crm.write], audience: \"https://crm.example\", resource: \"https://crm.example/api\" }}",
        p.token_url()
    )
}

fn env(secret: &str, store_key: &str) -> HashMap<String, String> {
    HashMap::from([
        ("CLIENT_SECRET".to_owned(), secret.to_owned()),
        ("STORE_KEY".to_owned(), store_key.to_owned()),
    ])
}

/// Fire `n` calls at once, alternating over `gateways`; every one must succeed.
async fn burst(gateways: &[&TestGateway], key: &str, n: usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (api, key) = (gateways[i % gateways.len()].api.clone(), key.to_owned());
        tasks.push(tokio::spawn(async move {
            let (st, body, _) = api
                .call(&key, json!({"tool": "plain", "arguments": {}}))
                .await;
            (st, body)
        }));
    }
    for t in tasks {
        let (st, body) = t.await.unwrap();
        assert_eq!(st, 200, "{body}");
    }
}

fn bearer_tokens(up: &Upstream) -> Vec<String> {
    up.requests()
        .iter()
        .map(|r| {
            r.headers["authorization"]
                .to_str()
                .unwrap()
                .trim_start_matches("Bearer ")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn twenty_concurrent_calls_cost_one_token_request_and_a_due_token_is_replaced_once() {
    const TTL_SECS: u64 = 20;
    let secret = canary("client-");
    // Long enough that a burst of 20 calls (debug build, busy machine) ends
    // well before the token is due: the point is one request per token.
    let Some(p) = Provider::start(&secret, None, TTL_SECS) else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = config(
        &up,
        &keys,
        &client_credentials(&p),
        "{ kind: file, path: data/store.redb, encryption_key: { env: STORE_KEY } }",
        "test",
    );
    let store_key = canary("store-");
    let gw = TestGateway::start(&dir.config_path(), env(&secret, &store_key)).await;
    burst(&[&gw], &keys.agent, 20).await;
    // The token was obtained before now.
    let obtained = std::time::Instant::now();
    assert_eq!(p.count("client_credentials"), 1, "{}", p.stats());
    let tokens = bearer_tokens(&up);
    assert_eq!(tokens.len(), 20);
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one token for all");
    assert_eq!(p.issued(), [tokens[0].clone()]);
    // What the provider was asked for.
    let asked = &p.stats()["bodies"][0];
    assert_eq!(asked["scope"], "crm.read crm.write");
    assert_eq!(asked["audience"], "https://crm.example");
    assert_eq!(asked["resource"], "https://crm.example/api");
    // Past four fifths of its lifetime it is replaced, once, for a new burst.
    tokio::time::sleep(
        Duration::from_millis(TTL_SECS * 800 + 100).saturating_sub(obtained.elapsed()),
    )
    .await;
    burst(&[&gw], &keys.agent, 20).await;
    assert_eq!(p.count("client_credentials"), 2);
    let tokens = bearer_tokens(&up);
    assert_ne!(tokens[20], tokens[0]);
    assert!(tokens[20..].iter().all(|t| *t == tokens[20]));
    // Reload asks for a new one at once.
    let (st, _) = gw
        .post_json(&keys.admin, "/v1/admin/credentials/crm/reload", json!({}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(p.count("client_credentials"), 3);
    // No token, and not the client secret, in the store file.
    gw.stop().await;
    let file = std::fs::read(dir.path().join("data/store.redb")).unwrap();
    let text = String::from_utf8_lossy(&file);
    for t in p.issued().iter().chain([&secret]) {
        assert!(!leaks(&text, t), "a secret is in the store file");
    }
}

#[tokio::test]
async fn replicas_on_one_redis_share_the_token_and_refresh_once() {
    let secret = canary("client-");
    let Some(p) = Provider::start(&secret, None, 3600) else {
        return;
    };
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let name = unique_env("oauth2");
    let dir = config(
        &up,
        &keys,
        &client_credentials(&p),
        &format!(
            "{{ kind: redis, url: \"{}\", encryption_key: {{ env: STORE_KEY }} }}",
            redis.url
        ),
        &name,
    );
    let store_key = canary("store-");
    let a = TestGateway::start(&dir.config_path(), env(&secret, &store_key)).await;
    let b = TestGateway::start(&dir.config_path(), env(&secret, &store_key)).await;
    burst(&[&a, &b], &keys.agent, 20).await;
    assert_eq!(
        p.count("client_credentials"),
        1,
        "one refresh for both replicas"
    );
    let tokens = bearer_tokens(&up);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    // A reload on A: B takes A's new token, without asking for its own.
    let (st, _) = a
        .post_json(&keys.admin, "/v1/admin/credentials/crm/reload", json!({}))
        .await;
    assert_eq!(st, 200);
    // B hears of it within about a second (announced, or its own check of
    // the store); under load that can take longer, so wait for it.
    let first = tokens[0].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        burst(&[&b], &keys.agent, 1).await;
        if bearer_tokens(&up).last() != Some(&first) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B never took A's new token"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    burst(&[&b], &keys.agent, 5).await;
    assert_eq!(p.count("client_credentials"), 2, "{}", p.stats());
    let tokens = bearer_tokens(&up);
    assert!(tokens[tokens.len() - 5..].iter().all(|t| *t != first));
    // Redis holds the token sealed: no token, no client secret in it.
    let dump =
        String::from_utf8_lossy(&redis.dump(&format!("toolgate:{{{name}:*")).await).into_owned();
    assert!(dump.contains("oauth2/crm"), "the sealed token is kept");
    for t in p.issued().iter().chain([&secret]) {
        assert!(!leaks(&dump, t), "a secret is in Redis");
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_survives_a_restart() {
    let secret = canary("client-");
    let initial = canary("refresh-");
    let Some(p) = Provider::start(&secret, Some(&initial), 1) else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = config(
        &up,
        &keys,
        &format!(
            "{{ token_url: \"{}\", client_id: toolgate, client_secret: {{ env: CLIENT_SECRET }}, grant: refresh_token, refresh_token: {{ env: REFRESH_TOKEN }} }}",
            p.token_url()
        ),
        "{ kind: file, path: data/store.redb, encryption_key: { env: STORE_KEY } }",
        "test",
    );
    let store_key = canary("store-");
    let vars = [
        ("CLIENT_SECRET", secret.as_str()),
        ("STORE_KEY", store_key.as_str()),
        ("REFRESH_TOKEN", initial.as_str()),
    ];
    let port = free_port();
    let call = json!({"tool": "plain", "arguments": {}});
    let first = Proc::start(&dir.config_path(), port, &vars).await;
    let (st, v) = first
        .send("POST", &keys.agent, "/v1/calls", Some(call.clone()))
        .await;
    assert_eq!(st, 200, "{v}");
    first.kill9();
    // The initial refresh token is spent (the provider rotates them); the
    // token has expired. A new process continues with the rotated one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = Proc::start(&dir.config_path(), port, &vars).await;
    let (st, v) = second
        .send("POST", &keys.agent, "/v1/calls", Some(call.clone()))
        .await;
    assert_eq!(st, 200, "{v}");
    let s = p.stats();
    assert_eq!(
        (s["refresh_token"].as_u64(), s["rejected"].as_u64()),
        (Some(2), Some(0)),
        "{s}"
    );
    drop(second);
    let file = std::fs::read(dir.path().join("data/store.redb")).unwrap();
    let text = String::from_utf8_lossy(&file);
    for t in p.issued().iter().chain([&secret, &initial]) {
        assert!(!leaks(&text, t), "a secret is in the store file");
    }
}

#[tokio::test]
async fn provider_down_a_valid_token_serves_and_an_expired_one_fails_closed() {
    let secret = canary("client-");
    let Some(mut p) = Provider::start(&secret, None, 5) else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = config(
        &up,
        &keys,
        &client_credentials(&p),
        "{ kind: memory }",
        "test",
    );
    let gw = TestGateway::start(&dir.config_path(), env(&secret, "")).await;
    let call = json!({"tool": "plain", "arguments": {}});
    let obtained = std::time::Instant::now();
    let (st, v, _) = gw.call(&keys.agent, call.clone()).await;
    assert_eq!(st, 200, "{v}");
    p.stop();
    // Due for replacement (past 4 of its 5 s) but not expired: the refresh
    // fails, and the still-valid token serves.
    tokio::time::sleep(Duration::from_millis(4300).saturating_sub(obtained.elapsed())).await;
    let (st, v, _) = gw.call(&keys.agent, call.clone()).await;
    assert_eq!(st, 200, "{v}");
    let tokens = bearer_tokens(&up);
    assert_eq!(tokens[1], tokens[0]);
    // Expired: never sent.
    tokio::time::sleep(Duration::from_millis(5300).saturating_sub(obtained.elapsed())).await;
    let (st, v, _) = gw.call(&keys.agent, call.clone()).await;
    assert_eq!((st, code(&v)), (503, "credential_unavailable"), "{v}");
    assert_eq!(up.count(), 2, "the expired token was not sent");
    assert!(!leaks(&v.to_string(), &secret));
}
