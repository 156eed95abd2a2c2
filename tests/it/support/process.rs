//! The real toolgate binary as a child process (restarts, SIGKILL, replicas).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Proc {
    child: Child,
    pub base: String,
}

impl Proc {
    /// `toolgate serve` with this config and environment on `port`; waits until it answers.
    pub async fn start(config: &Path, port: u16, env: &[(&str, &str)]) -> Proc {
        #[allow(clippy::zombie_processes)] // waited for in kill9() or Drop
        let child = Command::new(env!("CARGO_BIN_EXE_toolgate"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        for _ in 0..200 {
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                return Proc { child, base };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("toolgate did not start");
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill9(mut self) {
        assert!(
            Command::new("kill")
                .args(["-KILL", &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let _ = self.child.wait();
    }

    pub async fn send(
        &self,
        method: &str,
        key: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut r = http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
