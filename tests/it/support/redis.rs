//! A real Redis for tests: `TOOLGATE_TEST_REDIS_URL`, or a `redis-server` of
//! the test's own on a free port (with an append-only file, so a restart
//! keeps what was acknowledged). Tests that stop and start Redis need their own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use toolgate::store::RedisTls;

pub struct TestRedis {
    pub url: String,
    /// What a client needs to connect (`store.tls`); empty for plain Redis.
    pub tls: RedisTls,
    port: u16,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    /// Served over TLS only (`rediss://`), requiring a client certificate when set.
    served_tls: Option<bool>,
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
                tls: RedisTls::default(),
                port: 0,
                child: None,
                dir: None,
                served_tls: None,
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
            tls: RedisTls::default(),
            port,
            child: None,
            dir: Some(dir),
            served_tls: None,
        };
        if !r.start().await {
            super::skip::unavailable(
                "no Redis (set TOOLGATE_TEST_REDIS_URL or put `redis-server` on PATH: apt-get install redis-server)",
            );
            return None;
        }
        Some(r)
    }

    /// A `redis-server` of the test's own serving TLS only, with a
    /// certificate from a CA made for it; with `mutual`, clients must
    /// present a certificate that CA issued. `tls` holds the CA (and the
    /// client's pair). None = skip.
    pub async fn own_tls(mutual: bool) -> Option<TestRedis> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ca = super::certs::Ca::new("redis test CA");
        let server = ca.server();
        let client = ca.client("toolgate", None);
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        write("server.crt", &server.cert);
        write("server.key", &server.key);
        let ca_path = write("ca.crt", &ca.pem);
        let client_pair = (
            write("client.crt", &client.cert),
            write("client.key", &client.key),
        );
        let mut r = TestRedis {
            url: format!("rediss://localhost:{port}/0"),
            tls: RedisTls {
                ca: Some(ca_path),
                client: mutual.then_some(client_pair),
            },
            port,
            child: None,
            dir: Some(dir),
            served_tls: Some(mutual),
        };
        if !r.start().await {
            super::skip::unavailable(
                "no Redis with TLS (put a `redis-server` built with TLS on PATH: apt-get install redis-server)",
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
        let dir = self.dir();
        let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        let (plain_port, tls_args) = match self.served_tls {
            None => (self.port, Vec::new()),
            Some(mutual) => (
                0,
                vec![
                    "--tls-port".to_owned(),
                    self.port.to_string(),
                    "--tls-cert-file".to_owned(),
                    file("server.crt"),
                    "--tls-key-file".to_owned(),
                    file("server.key"),
                    "--tls-ca-cert-file".to_owned(),
                    file("ca.crt"),
                    "--tls-auth-clients".to_owned(),
                    if mutual { "yes" } else { "no" }.to_owned(),
                ],
            ),
        };
        let Ok(child) = Command::new("redis-server")
            .args(tls_args)
            .args([
                "--port",
                &plain_port.to_string(),
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
        let Ok(client) = toolgate::store::redis_client(&self.url, &self.tls) else {
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
        let client = toolgate::store::redis_client(&self.url, &self.tls).unwrap();
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
