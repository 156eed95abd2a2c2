//! The real toolgate binary: [`toolgate`] for one-shot commands (`check`,
//! `keygen`, `tools export`, …) and [`Proc`] for `toolgate serve` as a child
//! process (restarts, SIGKILL, SIGTERM, replicas, trace logs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::http::Api;

/// The built binary, ready for arguments.
pub fn toolgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolgate"))
}

/// How to start `toolgate serve`: config, port, environment, log level, where stderr goes.
pub struct Serve {
    config: PathBuf,
    port: u16,
    env: Vec<(String, String)>,
    rust_log: String,
    stderr: Option<PathBuf>,
    /// Serve over HTTPS: the CA the client trusts, and its own certificate.
    https: Option<(String, Option<String>)>,
}

impl Serve {
    pub fn new(config: &Path, port: u16) -> Serve {
        Serve {
            config: config.to_path_buf(),
            port,
            env: Vec::new(),
            rust_log: "warn".to_owned(),
            stderr: None,
            https: None,
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Serve {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> Serve {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    pub fn rust_log(mut self, filter: &str) -> Serve {
        filter.clone_into(&mut self.rust_log);
        self
    }

    /// Write the process's stderr (its logs) to `path`.
    pub fn stderr_to(mut self, path: &Path) -> Serve {
        self.stderr = Some(path.to_path_buf());
        self
    }

    /// The config serves TLS: talk to it at `https://localhost:port`,
    /// trusting `ca_pem`, presenting `identity_pem` (certificate and key)
    /// when given.
    pub fn https(mut self, ca_pem: &str, identity_pem: Option<&str>) -> Serve {
        self.https = Some((ca_pem.to_owned(), identity_pem.map(str::to_owned)));
        self
    }

    /// Spawn and wait until `/healthz` answers.
    pub async fn start(self) -> Proc {
        let stderr = match &self.stderr {
            Some(p) => Stdio::from(std::fs::File::create(p).expect("log file")),
            None => Stdio::null(),
        };
        #[allow(clippy::zombie_processes)] // waited for in kill9(), wait() or Drop
        let child = toolgate()
            .args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", &self.rust_log)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn toolgate");
        let api = match &self.https {
            None => Api::new(format!("http://127.0.0.1:{}", self.port)),
            Some((ca, identity)) => Api::https(self.port, ca, identity.as_deref()),
        };
        let mut p = Proc {
            child: Some(child),
            base: api.base.clone(),
            api,
        };
        if !p
            .api
            .wait_until_up("/healthz", Duration::from_secs(10))
            .await
        {
            p.kill_now();
            panic!("toolgate did not start");
        }
        p
    }
}

pub struct Proc {
    child: Option<Child>,
    pub base: String,
    pub api: Api,
}

impl Proc {
    /// `toolgate serve` with this config and environment on `port`; waits until it answers.
    pub async fn start(config: &Path, port: u16, env: &[(&str, &str)]) -> Proc {
        Serve::new(config, port).envs(env).start().await
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send a signal by name (`KILL`, `TERM`).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("kill(1)");
        assert!(sent.success(), "kill -{name} failed");
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill9(mut self) {
        self.signal("KILL");
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// Wait for the process to exit by itself.
    pub async fn wait(mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        tokio::task::spawn_blocking(move || c.wait().expect("wait"))
            .await
            .expect("join")
    }

    fn kill_now(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn send(
        &self,
        method: &str,
        key: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.api.send(method, key, path, body).await
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_now();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
