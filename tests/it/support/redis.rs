//! A real Redis for tests: `TOOLGATE_TEST_REDIS_URL`, or a `redis-server` of
//! the test's own on a free port (with an append-only file, so a restart
//! keeps what was acknowledged). Tests that stop and start Redis need their own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestRedis {
    pub url: String,
    port: u16,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A name no other test run uses: each test keeps to its own environment prefix.
pub fn unique_env(label: &str) -> String {
    format!(
        "{label}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl TestRedis {
    /// `TOOLGATE_TEST_REDIS_URL`, else a server of the test's own; None = skip.
    pub async fn any() -> Option<TestRedis> {
        if let Ok(url) = std::env::var("TOOLGATE_TEST_REDIS_URL") {
            return Some(TestRedis {
                url,
                port: 0,
                child: None,
                dir: None,
            });
        }
        TestRedis::own().await
    }

    /// A `redis-server` of the test's own (to stop and start); None = skip.
    pub async fn own() -> Option<TestRedis> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = TestRedis {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
            dir: Some(dir),
        };
        if !r.start().await {
            super::skip::unavailable(
                "no Redis (set TOOLGATE_TEST_REDIS_URL or put `redis-server` on PATH: apt-get install redis-server)",
            );
            return None;
        }
        Some(r)
    }

    fn dir(&self) -> PathBuf {
        self.dir.as_ref().expect("own server").path().to_path_buf()
    }

    /// Start (again, on the same port and data directory).
    pub async fn start(&mut self) -> bool {
        let Ok(child) = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                self.dir().to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        for _ in 0..200 {
            if self.ping().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// SIGKILL the server (own servers only).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return false;
        };
        let Ok(Ok(mut conn)) = tokio::time::timeout(
            Duration::from_millis(500),
            client.get_multiplexed_async_connection(),
        )
        .await
        else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }

    /// Every key and value under `pattern` (to scan for secrets).
    pub async fn dump(&self, pattern: &str) -> Vec<u8> {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut out = Vec::new();
        for k in keys {
            out.extend_from_slice(&k);
            out.push(b'\n');
            let kind: String = redis::cmd("TYPE")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .unwrap();
            let v: redis::Value = match kind.as_str() {
                "hash" => redis::cmd("HGETALL").arg(&k).query_async(&mut conn).await,
                "zset" => {
                    redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn)
                        .await
                }
                "stream" => {
                    redis::cmd("XRANGE")
                        .arg(&k)
                        .arg("-")
                        .arg("+")
                        .query_async(&mut conn)
                        .await
                }
                "list" => {
                    redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn)
                        .await
                }
                _ => redis::cmd("GET").arg(&k).query_async(&mut conn).await,
            }
            .unwrap();
            out.extend_from_slice(format!("{v:?}").as_bytes());
            flatten(&v, &mut out);
            out.push(b'\n');
        }
        out
    }
}

fn flatten(v: &redis::Value, out: &mut Vec<u8>) {
    match v {
        redis::Value::BulkString(b) => {
            out.extend_from_slice(b);
            out.push(b'\n');
        }
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|i| flatten(i, out))
        }
        redis::Value::Map(kv) => kv.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out)
        }),
        _ => {}
    }
}
