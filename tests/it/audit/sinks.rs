//! The sinks the conformance suite runs against, each a fresh, empty trail
//! on real storage (a temp dir, a tmpfs to fill up, a `redis-server` of the
//! test's own), with the means to read the trail back as `toolgate audit
//! verify` does, cut it short, and make its storage fail.

use std::future::Future;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use toolgate::audit::chain::Record;
use toolgate::audit::checkpoint::{self, Checkpoint};
use toolgate::audit::redis::Keys;
use toolgate::audit::redis_read::Trail;
use toolgate::audit::verify::{Report, verify_chain, verify_reader, verify_with};
use toolgate::audit::{AuditSink, Entry, Event, FileSink, MemorySink, Receipt, RedisSink};

use crate::support::redis::{TestRedis, unique_env};
use crate::support::tmpfs::Tmpfs;

/// What a property needs of the sink it is given.
#[derive(Clone, Copy)]
pub(super) struct Setup {
    /// Chain keyed with a random HMAC key (else plain SHA-256).
    keyed: bool,
    /// Storage the test can make fail (`Backend::starve`).
    starvable: bool,
}

pub(super) const KEYED: Setup = Setup {
    keyed: true,
    starvable: false,
};
pub(super) const UNKEYED: Setup = Setup {
    keyed: false,
    starvable: false,
};
pub(super) const STARVABLE: Setup = Setup {
    keyed: true,
    starvable: true,
};

pub(super) type Opened = Pin<Box<dyn Future<Output = Option<Backend>>>>;
/// Opens a fresh, empty trail of one kind (None: skipped, see `support`).
pub(super) type Open = fn(Setup) -> Opened;

/// A sink under test and the storage behind it.
pub(super) struct Backend {
    pub(super) sink: Arc<dyn AuditSink>,
    pub(super) key: Option<Arc<[u8]>>,
    pub(super) storage: Storage,
}

pub(super) enum Storage {
    /// Records "removed from storage" are left out when reading back.
    Memory {
        sink: Arc<MemorySink>,
        dropped: AtomicUsize,
    },
    File {
        path: PathBuf,
        /// A small tmpfs holding the trail, to fill up.
        tmpfs: Option<Tmpfs>,
        _dir: tempfile::TempDir,
    },
    Redis {
        redis: TestRedis,
        env: String,
        /// A replica's own chain (`chains: per_replica`), else the shared one.
        replica: Option<String>,
    },
}

fn key(setup: Setup) -> Option<Arc<[u8]>> {
    setup
        .keyed
        .then(|| Arc::from(crate::support::canary("audit-key-").as_bytes()))
}

pub(super) fn memory(setup: Setup) -> Opened {
    Box::pin(async move {
        let key = key(setup);
        let sink = Arc::new(MemorySink::new(key.clone()));
        Some(Backend {
            sink: sink.clone(),
            key,
            storage: Storage::Memory {
                sink,
                dropped: AtomicUsize::new(0),
            },
        })
    })
}

pub(super) fn file(setup: Setup) -> Opened {
    Box::pin(async move {
        let key = key(setup);
        let dir = tempfile::tempdir().unwrap();
        let tmpfs = if setup.starvable {
            Some(Tmpfs::mount(dir.path())?)
        } else {
            None
        };
        let path = dir.path().join("audit.jsonl");
        let sink = FileSink::open(&path, key.clone(), None).unwrap();
        Some(Backend {
            sink: Arc::new(sink),
            key,
            storage: Storage::File {
                path,
                tmpfs,
                _dir: dir,
            },
        })
    })
}

pub(super) fn redis(setup: Setup) -> Opened {
    open_redis(setup, None)
}

/// A replica's own chain of a Redis trail (`chains: per_replica`).
pub(super) fn redis_replica(setup: Setup) -> Opened {
    open_redis(setup, Some("gw-a"))
}

fn open_redis(setup: Setup, replica: Option<&'static str>) -> Opened {
    Box::pin(async move {
        // A server of the test's own when the test stops it.
        let redis = if setup.starvable {
            TestRedis::own().await?
        } else {
            TestRedis::any().await?
        };
        let key = key(setup);
        let env = unique_env("audit");
        let conn = toolgate::store::redis_connect(
            &toolgate::store::RedisTarget::Node(redis.url.clone()),
            &Default::default(),
        )
        .unwrap();
        let sink = match replica {
            None => RedisSink::open(conn, &env, key.clone()),
            Some(r) => RedisSink::open_replica(conn, &env, key.clone(), r),
        };
        Some(Backend {
            sink: Arc::new(sink),
            key,
            storage: Storage::Redis {
                redis,
                env,
                replica: replica.map(str::to_owned),
            },
        })
    })
}

pub(super) async fn redis_conn(url: &str) -> ::redis::aio::MultiplexedConnection {
    let client = ::redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// The Redis trail of `env`, open for reading as `audit verify` reads it.
pub(super) fn trail(redis: &TestRedis, env: &str) -> Trail {
    Trail::open(
        &toolgate::store::RedisTarget::Node(redis.url.clone()),
        &Default::default(),
        env,
    )
    .unwrap()
}

pub(super) type StreamEntries = Vec<(String, Vec<(String, String)>)>;

impl Backend {
    pub(super) fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The trail's records as stored, one JSON line each.
    pub(super) async fn lines(&self) -> Vec<String> {
        match &self.storage {
            Storage::Memory { sink, dropped } => {
                let mut records = sink.records().await;
                records.truncate(records.len() - dropped.load(Ordering::SeqCst));
                records
                    .iter()
                    .map(|r| serde_json::to_string(r).unwrap())
                    .collect()
            }
            Storage::File { path, .. } => std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect(),
            Storage::Redis {
                redis,
                env,
                replica,
            } => {
                let stream = Keys::of(env, replica.as_deref()).stream;
                let entries: StreamEntries = ::redis::cmd("XRANGE")
                    .arg(stream)
                    .arg("-")
                    .arg("+")
                    .query_async(&mut redis_conn(&redis.url).await)
                    .await
                    .unwrap();
                entries.into_iter().map(|(_, f)| f[0].1.clone()).collect()
            }
        }
    }

    pub(super) async fn records(&self) -> Vec<Record> {
        let lines = self.lines().await;
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The checkpoints `toolgate audit verify` finds for this trail.
    pub(super) async fn stored_checkpoints(&self) -> Vec<Checkpoint> {
        match &self.storage {
            Storage::Memory { sink, .. } => sink.checkpoints().await.unwrap(),
            Storage::File { path, .. } => {
                checkpoint::read(&checkpoint::file_for(path)).unwrap_or_default()
            }
            Storage::Redis {
                redis,
                env,
                replica,
            } => trail(redis, env).checkpoints(replica.as_deref()).unwrap(),
        }
    }

    /// `verify` over the trail as stored.
    pub(super) async fn verify(
        &self,
        key: Option<&[u8]>,
        checkpoints: &[Checkpoint],
        public_key: Option<&str>,
    ) -> Report {
        match &self.storage {
            Storage::Memory { .. } => {
                let text = self
                    .lines()
                    .await
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect::<String>();
                verify_reader(
                    Path::new("memory"),
                    Cursor::new(text.into_bytes()),
                    key,
                    checkpoints,
                    public_key,
                )
            }
            Storage::File { path, .. } => {
                verify_with(std::slice::from_ref(path), key, checkpoints, public_key)
            }
            Storage::Redis {
                redis,
                env,
                replica,
            } => {
                let trail = trail(redis, env);
                let reader = trail.reader(replica.as_deref());
                match replica {
                    None => verify_reader(Path::new("redis"), reader, key, checkpoints, public_key),
                    Some(r) => {
                        verify_chain(Path::new("redis"), reader, r, key, checkpoints, public_key)
                    }
                }
            }
        }
    }

    /// Remove the last record from where it is stored.
    pub(super) async fn drop_last_record(&self) {
        match &self.storage {
            Storage::Memory { dropped, .. } => {
                dropped.fetch_add(1, Ordering::SeqCst);
            }
            Storage::File { path, .. } => {
                let lines = self.lines().await;
                let kept = &lines[..lines.len() - 1];
                std::fs::write(
                    path,
                    kept.iter().map(|l| format!("{l}\n")).collect::<String>(),
                )
                .unwrap();
            }
            Storage::Redis {
                redis,
                env,
                replica,
            } => {
                let stream = Keys::of(env, replica.as_deref()).stream;
                let mut conn = redis_conn(&redis.url).await;
                let last: StreamEntries = ::redis::cmd("XREVRANGE")
                    .arg(&stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let _: i64 = ::redis::cmd("XDEL")
                    .arg(&stream)
                    .arg(&last[0].0)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }

    /// Make the storage fail: memory set to fail, the file's disk full,
    /// Redis killed.
    pub(super) async fn starve(&mut self) {
        match &mut self.storage {
            Storage::Memory { sink, .. } => sink.set_failing(true),
            Storage::File { tmpfs, .. } => tmpfs.as_ref().expect("opened STARVABLE").fill(),
            Storage::Redis { redis, .. } => redis.kill(),
        }
    }

    pub(super) async fn restore(&mut self) {
        match &mut self.storage {
            Storage::Memory { sink, .. } => sink.set_failing(false),
            Storage::File { tmpfs, .. } => tmpfs.as_ref().expect("opened STARVABLE").free(),
            Storage::Redis { redis, .. } => assert!(redis.start().await),
        }
    }
}

pub(super) fn entry(i: usize) -> Entry {
    let mut e = Entry::new(Event::Executed);
    e.call_id = Some(format!("call-{i}"));
    e.agent = Some("conformance-agent".into());
    e.upstream_status = Some(200);
    e
}

pub(super) async fn append_n(b: &Backend, n: usize) -> Vec<Receipt> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(b.sink.append(entry(i)).await.unwrap());
    }
    out
}

pub(super) fn signer() -> ed25519_dalek::SigningKey {
    checkpoint::signing_key(crate::support::canary("audit-signing-").as_bytes())
}
