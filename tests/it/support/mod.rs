//! Test harness, shared by every test file: a real toolgate on 127.0.0.1:0
//! from a YAML config written to a temp dir ([`TestGateway`]) or as a child
//! process ([`process`]), one request helper family ([`http`]), real upstream
//! servers ([`upstream`], [`redis`], [`redis_cluster`]), a disk to fill ([`tmpfs`]), the one
//! skip rule ([`skip`]), the configs the tests share ([`calls_config`],
//! [`approvals_config`], the one-credential [`crm`]), golden files, and
//! secrets generated per run.

#![allow(dead_code)]

pub mod approvals_config;
pub mod calls_config;
pub mod certs;
pub mod crm;
pub mod golden;
pub mod http;
pub mod modgraph;
pub mod otlp;
pub mod process;
pub mod redis;
pub mod redis_cluster;
pub mod sample_crm;
pub mod skip;
pub mod tmpfs;
pub mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use tokio::sync::oneshot;
use toolgate::identity::{Role, generate_key, key_sha256};
use toolgate::secrets::{EnvSource, MapEnv};

pub use self::calls_config::leaks;
pub use self::http::Api;

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

/// A running gateway, in process, on 127.0.0.1:0.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub api: Api,
    pub gw: Arc<toolgate::Gateway>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestGateway {
    /// Load `config` (which must be valid) with these environment variables and serve it.
    pub async fn start(config: &Path, env: HashMap<String, String>) -> TestGateway {
        TestGateway::start_with(config, Arc::new(MapEnv::new(env))).await
    }

    /// Load `config` (which must be valid) reading the environment from `env`, and serve it.
    pub async fn start_with(config: &Path, env: Arc<dyn EnvSource>) -> TestGateway {
        let gw = toolgate::Gateway::standalone(load(config), env).expect("gateway");
        TestGateway::serve(gw).await
    }

    /// [`TestGateway::start_with`] with some of the gateway's seams filled
    /// in (an audit sink a test can make fail, a hostile resolver, …).
    pub async fn start_with_parts(
        config: &Path,
        env: Arc<dyn EnvSource>,
        parts: toolgate::Parts,
    ) -> TestGateway {
        let gw = toolgate::Gateway::with_parts(load(config), env, parts).expect("gateway");
        TestGateway::serve(gw).await
    }

    /// Serve a built gateway on 127.0.0.1:0 until stopped or dropped.
    pub async fn serve(gw: Arc<toolgate::Gateway>) -> TestGateway {
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
        let api = Api::new(format!("http://{addr}"));
        TestGateway {
            addr,
            http: api.http.clone(),
            api,
            gw,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// POST a native call with `key`.
    pub async fn call(&self, key: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
        self.api.call(key, body).await
    }

    /// POST a JSON body to `path` with `key`.
    pub async fn post_json(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.api.post_json(key, path, body).await
    }

    /// POST raw bytes with a content type to `/v1/calls`.
    pub async fn post_raw(&self, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.api.post_raw(key, content_type, body).await
    }

    pub async fn get(&self, key: Option<&str>, path: &str) -> (u16, Value) {
        self.api.get(key, path).await
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

/// Load a test config, which must be valid: a panic lists what is wrong.
pub fn load(config: &Path) -> toolgate::catalog::Loaded {
    must_load(toolgate::catalog::load(config))
}

/// What a loader (`catalog::load`, `config::load`) gave, without its
/// warnings; a panic listing every problem when the config is invalid.
pub fn must_load<T>(
    loaded: Result<(T, Vec<toolgate::config::Diagnostic>), Vec<toolgate::config::Diagnostic>>,
) -> T {
    match loaded {
        Ok((value, _warnings)) => value,
        Err(diags) => {
            let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!("test config does not load:\n{}", text.join("\n"));
        }
    }
}

/// An environment a test can change while the gateway runs (an operator
/// rotating a variable), read through toolgate's `EnvSource`.
#[derive(Clone, Default)]
pub struct SharedEnv(Arc<RwLock<HashMap<String, String>>>);

impl SharedEnv {
    pub fn new(vars: HashMap<String, String>) -> SharedEnv {
        SharedEnv(Arc::new(RwLock::new(vars)))
    }

    pub fn set(&self, name: &str, value: &str) {
        self.0
            .write()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }
}

impl EnvSource for SharedEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.read().unwrap().get(name).cloned()
    }
}

/// The repository root (for shipped files).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled example configuration (its tools sit next to it).
pub fn example_config() -> PathBuf {
    repo_root().join("examples/toolgate.yaml")
}

/// The error code of an error body.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

/// The real binary serving a config, for tests of what happens on its sockets.
pub struct Binary {
    pub proc: process::Proc,
    pub addr: SocketAddr,
}

impl Binary {
    pub async fn get(&self, key: Option<&str>, path: &str) -> (u16, Value) {
        self.proc.api.get(key, path).await
    }
}

/// A config with no tools, the default identities and these `limits`
/// (the text inside `limits: { … }`).
pub fn bare_config(limits: &str) -> (Keys, ConfigDir) {
    let keys = Keys::new();
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nlimits: {{ {limits} }}\nworkflows:\n  main: {{ environment: test }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
    (keys, dir)
}

/// The real binary serving [`bare_config`].
pub async fn bare_gateway(limits: &str) -> (Binary, Keys, ConfigDir) {
    let (keys, dir) = bare_config(limits);
    let port = process::free_port();
    let proc = process::Proc::start(&dir.config_path(), port, &[]).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    (Binary { proc, addr }, keys, dir)
}

/// A GitHub token's shape, random each run: `ghp_`, 30 random base62, and
/// their CRC-32 in 6 base62 (the detector checks it).
pub fn github_token() -> String {
    use rand::Rng as _;
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body: Vec<u8> = (0..30)
        .map(|_| BASE62[rand::rng().random_range(0..62)])
        .collect();
    let mut crc = !0u32;
    for &b in &body {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut sum = u64::from(!crc);
    let mut tail = [b'0'; 6];
    for slot in tail.iter_mut().rev() {
        *slot = BASE62[(sum % 62) as usize];
        sum /= 62;
    }
    format!(
        "ghp_{}{}",
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&tail)
    )
}
