//! A real Redis Cluster for tests: `TOOLGATE_TEST_REDIS_CLUSTER` (its nodes'
//! URLs, comma-separated), or one of the test's own — three masters (and
//! optionally a replica each), each a `redis-server --cluster-enabled yes`
//! on free ports in a temp dir, joined by `redis-cli --cluster create`.
//!
//! Tests that only use the cluster share one ([`TestCluster::shared`]: it
//! stops when its last user is done); a test that kills a node has its own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use toolgate::store::RedisOptions;

pub struct TestCluster {
    /// The masters' URLs (what `store.cluster` lists).
    pub urls: Vec<String>,
    /// What a client needs to connect (`store.tls`); empty for plain nodes.
    pub tls: RedisOptions,
    /// `redis-cli`'s TLS options (empty for plain nodes).
    cli_tls: Vec<String>,
    nodes: Vec<Node>,
    _dir: Option<tempfile::TempDir>,
}

struct Node {
    port: u16,
    child: Option<Child>,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

impl Node {
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-cli -p <port> <args>`'s output, or None when it cannot run.
fn cli(tls: &[String], port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(tls)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

static SHARED: Mutex<Weak<TestCluster>> = Mutex::new(Weak::new());
static SHARED_TLS: Mutex<Weak<TestCluster>> = Mutex::new(Weak::new());

const WHY: &str = "no Redis Cluster (set TOOLGATE_TEST_REDIS_CLUSTER or put `redis-server` and `redis-cli` on PATH: apt-get install redis-server redis-tools)";

impl TestCluster {
    /// The cluster that tests which do not stop nodes share; None = skip.
    pub fn shared() -> Option<Arc<TestCluster>> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = shared.upgrade() {
            return Some(c);
        }
        let c = Arc::new(match std::env::var("TOOLGATE_TEST_REDIS_CLUSTER") {
            Ok(urls) => TestCluster {
                urls: urls.split(',').map(str::to_owned).collect(),
                tls: RedisOptions::default(),
                cli_tls: Vec::new(),
                nodes: Vec::new(),
                _dir: None,
            },
            Err(_) => TestCluster::own(0)?,
        });
        *shared = Arc::downgrade(&c);
        Some(c)
    }

    /// Three masters of the test's own, each with `replicas` replicas;
    /// None = skip (with the reason printed, or a failure under
    /// `TOOLGATE_REQUIRE_SERVERS`).
    pub fn own(replicas: usize) -> Option<TestCluster> {
        let c = TestCluster::start_retried(replicas, false);
        if c.is_none() {
            super::skip::unavailable(WHY);
        }
        c
    }

    /// The TLS cluster ([`TestCluster::own_tls`]) that tests which do not
    /// stop nodes share; None = skip.
    pub fn shared_tls() -> Option<Arc<TestCluster>> {
        let mut shared = SHARED_TLS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = shared.upgrade() {
            return Some(c);
        }
        let c = Arc::new(TestCluster::own_tls()?);
        *shared = Arc::downgrade(&c);
        Some(c)
    }

    /// Three masters of the test's own serving TLS only (the cluster bus
    /// too), with certificates from a CA made for them, requiring client
    /// certificates; `tls` holds the CA and the client's pair. None = skip.
    pub fn own_tls() -> Option<TestCluster> {
        let c = TestCluster::start_retried(0, true);
        if c.is_none() {
            super::skip::unavailable(
                "no Redis Cluster with TLS (put a `redis-server` built with TLS and `redis-cli` on PATH: apt-get install redis-server redis-tools)",
            );
        }
        c
    }

    /// [`TestCluster::start`], tried again (on fresh ports) when a try
    /// fails: on a loaded machine a node can be slow to come up, or a free
    /// port taken by another test before its node binds it.
    fn start_retried(replicas: usize, tls: bool) -> Option<TestCluster> {
        if !super::skip::on_path("redis-cli") {
            return None;
        }
        (0..3).find_map(|_| TestCluster::start(replicas, tls))
    }

    fn start(replicas: usize, tls: bool) -> Option<TestCluster> {
        let dir = tempfile::tempdir().unwrap();
        let (options, cli_tls, server_tls) = if tls {
            let ca = super::certs::Ca::new("redis cluster test CA");
            let server = ca.server();
            let client = ca.client("toolgate", None);
            let write = |name: &str, text: &str| {
                let p = dir.path().join(name);
                std::fs::write(&p, text).unwrap();
                p.to_str().unwrap().to_owned()
            };
            let (cert, key) = (
                write("server.crt", &server.cert),
                write("server.key", &server.key),
            );
            let ca_path = write("ca.crt", &ca.pem);
            let client_pair = (
                write("client.crt", &client.cert),
                write("client.key", &client.key),
            );
            let server_tls = vec![
                "--tls-cert-file".to_owned(),
                cert,
                "--tls-key-file".to_owned(),
                key,
                "--tls-ca-cert-file".to_owned(),
                ca_path.clone(),
                "--tls-auth-clients".to_owned(),
                "yes".to_owned(),
                "--tls-cluster".to_owned(),
                "yes".to_owned(),
                "--tls-replication".to_owned(),
                "yes".to_owned(),
                // Towards the other nodes, a node is a client.
                "--tls-client-cert-file".to_owned(),
                client_pair.0.clone(),
                "--tls-client-key-file".to_owned(),
                client_pair.1.clone(),
            ];
            let cli_tls = vec![
                "--tls".to_owned(),
                "--cacert".to_owned(),
                ca_path.clone(),
                "--cert".to_owned(),
                client_pair.0.clone(),
                "--key".to_owned(),
                client_pair.1.clone(),
            ];
            let options = RedisOptions {
                ca: Some(ca_path.into()),
                client: Some((client_pair.0.into(), client_pair.1.into())),
                ..Default::default()
            };
            (options, cli_tls, Some(server_tls))
        } else {
            (RedisOptions::default(), Vec::new(), None)
        };
        let base = dir.path().to_owned();
        // Nodes join `c` as they start, so a failed start stops them all.
        let mut c = TestCluster {
            urls: Vec::new(),
            tls: options,
            cli_tls,
            nodes: Vec::new(),
            _dir: Some(dir),
        };
        for _ in 0..3 * (1 + replicas) {
            let (port, bus) = (free_port(), free_port());
            let data = base.join(port.to_string());
            std::fs::create_dir(&data).unwrap();
            let child = spawn(port, bus, &data, server_tls.as_deref())?;
            c.nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !c.nodes.iter().all(|n| c.cli(n.port, &["PING"]).is_some()) {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let addrs: Vec<String> = c
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(&c.cli_tls)
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        if !finished(created, Duration::from_secs(20)) {
            return None;
        }
        c.wait_ok(Duration::from_secs(20)).then_some(())?;
        let scheme = if tls { "rediss" } else { "redis" };
        c.urls = c
            .masters()
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect();
        Some(c)
    }

    fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        cli(&self.cli_tls, port, args)
    }

    /// Wait until every running node says `cluster_state:ok` and agrees on
    /// three masters that all serve; whether that happened within `within`.
    pub fn wait_ok(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                self.cli(n.port, &["CLUSTER", "INFO"])
                    .is_some_and(|i| i.contains("cluster_state:ok"))
            }) && self.masters().len() == 3;
            if ok {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The ports of the live masters, as a live node sees them.
    pub fn masters(&self) -> Vec<u16> {
        let Some(n) = self.nodes.iter().find(|n| n.child.is_some()) else {
            return Vec::new();
        };
        self.cli(n.port, &["CLUSTER", "NODES"])
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            // id, address, flags, master, ping, pong, epoch, link, slots…
            .filter(|f| f.len() > 8 && f[2].contains("master") && !f[2].contains("fail"))
            .filter_map(|f| f[1].split(['@', ':']).nth(1)?.parse().ok())
            .collect()
    }

    /// The port of the master serving `key`'s slot.
    pub fn master_of(&self, key: &str) -> u16 {
        let n = self.nodes.iter().find(|n| n.child.is_some()).unwrap();
        let slot: u16 = self
            .cli(n.port, &["CLUSTER", "KEYSLOT", key])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let slots = self.cli(n.port, &["CLUSTER", "SLOTS"]).unwrap();
        // Lines: start, end, master ip, master port, id, replicas…
        let lines: Vec<&str> = slots.lines().map(str::trim).collect();
        let mut i = 0;
        while i + 3 < lines.len() {
            if let (Ok(start), Ok(end)) = (lines[i].parse::<u16>(), lines[i + 1].parse::<u16>())
                && lines[i + 2] == "127.0.0.1"
                && (start..=end).contains(&slot)
            {
                return lines[i + 3].parse().unwrap();
            }
            i += 1;
        }
        panic!("no master for slot {slot}: {slots}");
    }

    /// Wait until every replica has every write its master acknowledged.
    pub fn wait_replicated(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let done = self.masters().iter().all(|&m| {
                let info = self.cli(m, &["INFO", "replication"]).unwrap_or_default();
                let offset = info
                    .lines()
                    .find_map(|l| l.strip_prefix("master_repl_offset:"))
                    .map(|o| o.trim().to_owned());
                let replicas: Vec<&str> = info.lines().filter(|l| l.starts_with("slave")).collect();
                offset.is_some_and(|o| replicas.iter().all(|r| r.contains(&format!("offset={o},"))))
            });
            if done {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the node on `port`.
    pub fn kill(&mut self, port: u16) {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("an own node")
            .kill();
    }
}

/// Whether `child` exited successfully within `within` (killed if not).
fn finished(mut child: Child, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

fn spawn(port: u16, bus: u16, dir: &Path, tls: Option<&[String]>) -> Option<Child> {
    let ports = match tls {
        None => vec!["--port".to_owned(), port.to_string()],
        Some(tls) => [
            vec![
                "--port".to_owned(),
                "0".to_owned(),
                "--tls-port".to_owned(),
                port.to_string(),
            ],
            tls.to_vec(),
        ]
        .concat(),
    };
    Command::new("redis-server")
        .args(ports)
        .args([
            "--cluster-port",
            &bus.to_string(),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            dir.join("nodes.conf").to_str().unwrap(),
            "--cluster-node-timeout",
            "1000",
            "--cluster-replica-validity-factor",
            "0",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}
