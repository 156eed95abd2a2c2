//! The embedded durable store (`store: {kind: file, path}`), on redb: one ACID
//! file. Reads run on the blocking pool; every change goes to one writer
//! thread that applies all queued changes in one transaction and one fsync
//! (group commit), and answers each caller only after that commit. Each
//! change still sees the ones before it, so compare-and-swap stays exact.
//! Rate-limit steps alone commit without fsync: a counter lost in a crash only
//! forgives a few calls, and fsyncing every call would cost more than the call.
//!
//! A write that fails on the file (a full disk) fails every later operation
//! in redb until the database is closed and opened again; so after a failed
//! write the writer reopens the file before its next batch, and the store
//! serves again by itself once writing works. Reopening recovers the last
//! durable commit: nothing acknowledged is lost.
//!
//! Owns one redb file (a table per namespace, one for rate limits). Never
//! shares it with another process: a second gateway on the same file is
//! refused by redb's lock; several replicas need the Redis store.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use super::clock::{deadline, gcra, now_ms, now_ns};
use super::contract::{Inserted, Ns, RateDecision, Store, StoreError, Swapped, Versioned};

const RATES: TableDefinition<'static, &str, u64> = TableDefinition::new("rates");

fn table(ns: Ns) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(ns.as_str())
}

/// Stored layout: version (u64 LE) | expires ms (u64 LE, 0 = never) | value.
fn encode(version: u64, expires: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + value.len());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&expires.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(raw: &[u8], now: u64) -> Option<Versioned> {
    if raw.len() < 16 {
        return None;
    }
    let version = u64::from_le_bytes(raw[0..8].try_into().ok()?);
    let expires = u64::from_le_bytes(raw[8..16].try_into().ok()?);
    if expires != 0 && expires <= now {
        return None;
    }
    Some(Versioned {
        value: raw[16..].to_vec(),
        version,
    })
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

pub struct FileStore {
    shared: Arc<Shared>,
    writes: Option<std::sync::mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// The open database, for readers and the writer.
struct Shared {
    path: PathBuf,
    /// `None` while the writer reopens the file, or after reopening failed.
    db: RwLock<Option<Arc<Database>>>,
    /// The last commit failed: the writer reopens the file before the next.
    broken: AtomicBool,
}

/// How long a reopen waits for the reads in progress to let go of the file.
const READERS_LET_GO: Duration = Duration::from_secs(10);

impl Shared {
    fn current(&self) -> Option<Arc<Database>> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Close the file (once the reads in progress are done with it) and open
    /// it again: redb recovers the last durable commit.
    fn reopen(&self) -> Result<Arc<Database>, StoreError> {
        let old = self
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut old) = old {
            let since = Instant::now();
            loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(still_read) if since.elapsed() < READERS_LET_GO => {
                        old = still_read;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(still_read) => {
                        *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(still_read);
                        return Err(StoreError(
                            "the store file is still being read; not reopened".into(),
                        ));
                    }
                }
            }
        }
        // The file must still be there: a new, empty one would hold nothing acknowledged.
        let db = Arc::new(Database::open(&self.path).map_err(err)?);
        *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(db.clone());
        tracing::warn!("store file reopened after a failed write");
        Ok(db)
    }
}

impl Drop for FileStore {
    /// Stop the writer and wait for it, so the file is closed (and can be
    /// reopened) as soon as the store is dropped.
    fn drop(&mut self) {
        self.writes.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Runs inside the batch's transaction; returns what to tell the caller once
/// the batch has committed (or failed to).
type Apply = Box<dyn FnOnce(&WriteTransaction) -> Finish + Send>;
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

struct Job {
    apply: Apply,
    durable: bool,
}

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 1024;

impl FileStore {
    /// Open (or create) the store file; creates its directory.
    pub fn open(path: &Path) -> Result<FileStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let db = Arc::new(Database::create(path).map_err(err)?);
        // Create every table once so reads never meet a missing one.
        let tx = db.begin_write().map_err(err)?;
        for ns in Ns::ALL {
            tx.open_table(table(ns)).map_err(err)?;
        }
        tx.open_table(RATES).map_err(err)?;
        tx.commit().map_err(err)?;
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            db: RwLock::new(Some(db)),
            broken: AtomicBool::new(false),
        });
        let (writes, rx) = std::sync::mpsc::channel::<Job>();
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("toolgate-store".into())
            .spawn(move || write_loop(&writer_shared, &rx))
            .map_err(err)?;
        Ok(FileStore {
            shared,
            writes: Some(writes),
            writer: Some(writer),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(db) = self.shared.current() else {
            // Not open since a failed write: the writer tries again now.
            let _ = self.write(false, |_| Ok(())).await;
            return Err(StoreError(
                "the store file is not open after a failed write".into(),
            ));
        };
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError(format!("store task failed: {e}")))?
    }

    /// Run `f` in the writer's next group commit and wait until it is durable.
    async fn write<T: Send + 'static>(
        &self,
        durable: bool,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let apply: Apply = Box::new(move |wtx| {
            let out = f(wtx);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = tx.send(committed.and(out));
            })
        });
        self.writes
            .as_ref()
            .ok_or_else(|| StoreError("the store is closing".into()))?
            .send(Job { apply, durable })
            .map_err(|_| StoreError("the store writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError("the store writer has stopped".into()))?
    }
}

/// The single writer: every queued operation in one transaction, one fsync.
fn write_loop(shared: &Shared, rx: &std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|j| j.durable);
        // Dropping the jobs unapplied tells each caller the writer failed.
        let open = shared
            .current()
            .filter(|_| !shared.broken.load(Ordering::Acquire));
        let opened = match open {
            Some(db) => Ok(db),
            None => shared.reopen(),
        };
        let db = match opened {
            Ok(db) => db,
            Err(e) => {
                tracing::error!(error = %e, "store file cannot be reopened");
                drop(batch);
                continue;
            }
        };
        let mut wtx = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "store write failed");
                shared.broken.store(true, Ordering::Release);
                drop(batch);
                continue;
            }
        };
        if !durable {
            let _ = wtx.set_durability(Durability::None);
        }
        let finishers: Vec<Finish> = batch.into_iter().map(|j| (j.apply)(&wtx)).collect();
        let committed = wtx.commit().map_err(err);
        if let Err(e) = &committed {
            tracing::error!(error = %e, "store commit failed");
        }
        shared.broken.store(committed.is_err(), Ordering::Release);
        for f in finishers {
            f(committed
                .as_ref()
                .map(|_| ())
                .map_err(|e| StoreError(e.0.clone())));
        }
    }
}

/// The live value at `key`, if any.
fn present(
    t: &redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Versioned>, StoreError> {
    Ok(t.get(key)
        .map_err(err)?
        .and_then(|g| decode(g.value(), now_ms())))
}

#[async_trait]
impl Store for FileStore {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<Versioned>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(table(ns)).map_err(err)?;
            let v = t.get(key.as_str()).map_err(err)?;
            Ok(v.and_then(|g| decode(g.value(), now_ms())))
        })
        .await
    }

    async fn insert_new(
        &self,
        ns: Ns,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Inserted, StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write(true, move |tx| {
            let mut t = tx.open_table(table(ns)).map_err(err)?;
            Ok(match present(&t, &key)? {
                Some(v) => Inserted::Exists(v),
                None => {
                    t.insert(key.as_str(), encode(1, deadline(ttl), &value).as_slice())
                        .map_err(err)?;
                    Inserted::New
                }
            })
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        ns: Ns,
        key: &str,
        expected: u64,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Swapped, StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write(true, move |tx| {
            let mut t = tx.open_table(table(ns)).map_err(err)?;
            Ok(match present(&t, &key)? {
                Some(v) if v.version == expected => {
                    t.insert(
                        key.as_str(),
                        encode(expected + 1, deadline(ttl), &value).as_slice(),
                    )
                    .map_err(err)?;
                    Swapped::Done(expected + 1)
                }
                other => Swapped::Conflict(other),
            })
        })
        .await
    }

    async fn delete(&self, ns: Ns, key: &str, expected: Option<u64>) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write(true, move |tx| {
            let mut t = tx.open_table(table(ns)).map_err(err)?;
            Ok(match present(&t, &key)? {
                Some(v) if expected.is_none_or(|e| e == v.version) => {
                    t.remove(key.as_str()).map_err(err)?;
                    true
                }
                _ => false,
            })
        })
        .await
    }

    async fn list(&self, ns: Ns, limit: usize) -> Result<Vec<(String, Versioned)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(table(ns)).map_err(err)?;
            let now = now_ms();
            let mut out = Vec::new();
            for item in t.iter().map_err(err)? {
                let (k, v) = item.map_err(err)?;
                if let Some(v) = decode(v.value(), now) {
                    out.push((k.value().to_owned(), v));
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn rate_limit(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        let key = key.to_owned();
        self.write(false, move |tx| {
            let mut t = tx.open_table(RATES).map_err(err)?;
            let tat = t.get(key.as_str()).map_err(err)?.map(|g| g.value());
            let (decision, new_tat) = gcra(tat, now_ns(), per_minute, burst);
            if let Some(n) = new_tat {
                t.insert(key.as_str(), n).map_err(err)?;
            }
            Ok(decision)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.shared.broken.load(Ordering::Acquire) {
            // Since the last write failed, only a commit tells whether writing works again.
            return self.write(true, |_| Ok(())).await;
        }
        self.blocking(|db| db.begin_read().map(|_| ()).map_err(err))
            .await
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore").finish_non_exhaustive()
    }
}
