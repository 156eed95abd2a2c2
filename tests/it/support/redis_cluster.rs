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

pub struct TestCluster {
    /// The masters' URLs (what `store.cluster` lists).
    pub urls: Vec<String>,
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
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
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
        let c = TestCluster::start(replicas);
        if c.is_none() {
            super::skip::unavailable(WHY);
        }
        c
    }

    fn start(replicas: usize) -> Option<TestCluster> {
        if !super::skip::on_path("redis-cli") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            let (port, bus) = (free_port(), free_port());
            let data = dir.path().join(port.to_string());
            std::fs::create_dir(&data).unwrap();
            let child = spawn(port, bus, &data)?;
            nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        let mut c = TestCluster {
            urls: Vec::new(),
            nodes,
            _dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !c.nodes.iter().all(|n| cli(n.port, &["PING"]).is_some()) {
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
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !created.success() {
            return None;
        }
        c.wait_ok(Duration::from_secs(20)).then_some(())?;
        c.urls = c
            .masters()
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect();
        Some(c)
    }

    /// Wait until every running node says `cluster_state:ok` and agrees on
    /// three masters that all serve; whether that happened within `within`.
    pub fn wait_ok(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                cli(n.port, &["CLUSTER", "INFO"]).is_some_and(|i| i.contains("cluster_state:ok"))
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
        cli(n.port, &["CLUSTER", "NODES"])
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
        let slot: u16 = cli(n.port, &["CLUSTER", "KEYSLOT", key])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let slots = cli(n.port, &["CLUSTER", "SLOTS"]).unwrap();
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
                let info = cli(m, &["INFO", "replication"]).unwrap_or_default();
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

fn spawn(port: u16, bus: u16, dir: &Path) -> Option<Child> {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
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
