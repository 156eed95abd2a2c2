//! Test harness: a real toolgate on 127.0.0.1:0 from a YAML config written to a
//! temp dir, a real upstream HTTP server, and secrets generated per run.

#![allow(dead_code)]

pub mod process;
pub mod redis;
pub mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use tokio::sync::oneshot;
use toolgate::identity::{Role, generate_key, key_sha256};
use toolgate::secrets::MapEnv;

/// A random secret with the characters that make encodings differ.
pub fn canary(label: &str) -> String {
    let a: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let b: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    format!("{label}{a}+/=&%\"\\{b}")
}

pub struct Keys {
    pub agent: String,
    pub other_agent: String,
    pub approver: String,
    pub admin: String,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            agent: generate_key(Role::Agent),
            other_agent: generate_key(Role::Agent),
            approver: generate_key(Role::Approver),
            admin: generate_key(Role::Admin),
        }
    }

    /// Identity sections for toolgate.yaml: `agent` in workflow `main`, `other_agent` in `other`.
    pub fn yaml(&self) -> String {
        format!(
            "agents:\n  test-agent: {{ workflow: main, key_sha256: \"{}\" }}\n  other-agent: {{ workflow: other, key_sha256: \"{}\" }}\n\
             approvers:\n  alice: {{ key_sha256: \"{}\", workflows: [main] }}\n\
             admins:\n  secops: {{ key_sha256: \"{}\" }}\n",
            key_sha256(&self.agent),
            key_sha256(&self.other_agent),
            key_sha256(&self.approver),
            key_sha256(&self.admin),
        )
    }
}

/// A config directory: toolgate.yaml plus files under it.
pub struct ConfigDir {
    pub dir: tempfile::TempDir,
}

impl ConfigDir {
    pub fn new() -> ConfigDir {
        ConfigDir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("toolgate.yaml")
    }
}

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub gw: Arc<toolgate::Gateway>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestGateway {
    /// Load `config` (which must be valid) with these environment variables and serve it.
    pub async fn start(config: &Path, env: HashMap<String, String>) -> TestGateway {
        let (cfg, _warnings) = match toolgate::catalog::load(config) {
            Ok(ok) => ok,
            Err(diags) => {
                let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                panic!("test config does not load:\n{}", text.join("\n"));
            }
        };
        let gw = toolgate::Gateway::standalone(cfg, Arc::new(MapEnv::new(env))).expect("gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let g = gw.clone();
        let task = tokio::spawn(async move {
            let _ = toolgate::server::serve(g, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        TestGateway {
            addr,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            gw,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POST a native call with `key`.
    pub async fn call(&self, key: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .http
            .post(self.url("/v1/calls"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("gateway reachable");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v, headers)
    }

    /// POST raw bytes with a content type.
    /// POST a JSON body to `path` with `key`.
    pub async fn post_json(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("gateway reachable");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/v1/calls"))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("gateway reachable");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, key: Option<&str>, path: &str) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let r = req.send().await.expect("gateway reachable");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The error code of an error body.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}
