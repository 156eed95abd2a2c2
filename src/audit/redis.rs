//! The shared trail (`audit: {kind: redis}`): one hash chain on a Redis
//! stream that every replica appends to.
//!
//! Design: a single chain with optimistic concurrency. The stream
//! `toolgate:{<env>:audit}#trail` holds one entry per record (field `r`, the
//! record's JSON line, exactly as a file trail would hold it), and
//! `toolgate:{<env>:audit}#head` holds the head, `"<seq> <hash>"`. A replica
//! seals a batch of records after the head it believes in and appends them
//! with one Lua script that checks the head first: if another replica got
//! there first, the script appends nothing and returns the real head, and
//! the replica re-seals the batch after it and tries again. So the stream is
//! one chain, in order, with no gaps — verified exactly like a file
//! (`toolgate audit verify redis://… --environment <env>`), checkpoints and all.
//! On a Redis Cluster the head, the stream and the checkpoints share the
//! hash tag `{<env>:audit}`, so they live in one slot and the script stays
//! atomic; while that slot's master is failing over, appends fail closed.
//!
//! Like the file sink, a caller is answered only after its record is written
//! (and durable as far as Redis is configured to make it: run Redis with
//! `appendonly yes` and `appendfsync always` for the file sink's guarantee).
//! If Redis fails, every waiting caller gets an error and the gateway fails
//! closed (`503 audit_unavailable`). When Redis applied a batch but the reply
//! was lost, the next batch finds the head moved, continues after it, and the
//! records of those failed calls stay in the trail (it may show an attempt
//! the caller was told had failed; it never lacks one that happened).
//!
//! Checkpoints: `toolgate:{<env>:audit}#checkpoints`, a list of JSON lines
//! beside the stream, in the same hash slot.
//!
//! Per-replica chains (`audit: {kind: redis, chains: per_replica}`): each
//! replica appends to a chain of its own, the same three keys under the hash
//! tag `{<env>:audit:<replica>}` (so on a cluster the chains spread over the
//! masters), its records naming the chain (`chain`). Replicas then never
//! contend for one head. Before its first append a writer adds its name to
//! the set `toolgate:{<env>:audit}#chains`, where readers find every chain
//! (`redis_read`); an append whose chain is not listed there is not made.
//! Two processes given one replica name share its chain, correctly (the
//! same head check), only contending.
//!
//! Owns the trail's keys of one environment and nothing else: it never
//! rewrites or trims the stream, and never answers before Redis did. Reading
//! a trail back (`audit verify`, the access review) is `redis_read`'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::Script;
use tokio::sync::{mpsc, oneshot};

use super::chain::{Chain, GENESIS};
use super::checkpoint::Checkpoint;
use super::record::{AuditError, Entry, Receipt};
use super::sink::{AuditSink, check_against_head};

/// Most records appended in one script call.
const MAX_BATCH: usize = 512;
/// How often a failed writer checks whether Redis is back.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// How long a batch keeps re-sealing after other replicas' appends.
const CONTENTION_BUDGET: Duration = Duration::from_secs(2);

/// KEYS: head, stream. ARGV: expected head ('' = empty trail), new head, lines….
/// Returns {1} when appended, else {0, actual head}.
const APPEND: &str = "
local head = redis.call('GET', KEYS[1]) or ''
if head ~= ARGV[1] then return {0, head} end
for i = 3, #ARGV do redis.call('XADD', KEYS[2], '*', 'r', ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[2])
return {1}
";

/// The Redis keys of one environment's trail.
#[derive(Clone)]
pub struct Keys {
    pub head: String,
    pub stream: String,
    pub checkpoints: String,
}

impl Keys {
    /// The keys of `environment`'s shared chain.
    pub fn new(environment: &str) -> Keys {
        Keys::of(environment, None)
    }

    /// The keys of one chain: the shared one, or `replica`'s own.
    pub fn of(environment: &str, replica: Option<&str>) -> Keys {
        let base = match replica {
            None => format!("toolgate:{{{environment}:audit}}"),
            Some(r) => format!("toolgate:{{{environment}:audit:{r}}}"),
        };
        Keys {
            head: format!("{base}#head"),
            stream: format!("{base}#trail"),
            checkpoints: format!("{base}#checkpoints"),
        }
    }

    /// The set naming every per-replica chain of `environment`.
    pub fn registry(environment: &str) -> String {
        format!("toolgate:{{{environment}:audit}}#chains")
    }
}

/// The variable naming this replica's chain (else the host name is used).
pub const REPLICA_VAR: &str = "TOOLGATE_REPLICA_ID";

/// This process's replica name: `TOOLGATE_REPLICA_ID`, else the host name
/// (a Kubernetes pod's name, a container's id), or why there is none.
pub fn replica_name() -> Result<String, String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    replica_name_from(std::env::var(REPLICA_VAR).ok(), host)
}

/// [`replica_name`] from the variable's value and the host name.
pub fn replica_name_from(var: Option<String>, host: Option<String>) -> Result<String, String> {
    if let Some(v) = var {
        return if valid_replica_name(&v) {
            Ok(v)
        } else {
            Err(format!(
                "{REPLICA_VAR} must be 1 to 64 of A-Z a-z 0-9 . _ - (it names this replica's audit chain)"
            ))
        };
    }
    let host = host.map(|h| h.trim().to_owned()).unwrap_or_default();
    if valid_replica_name(&host) {
        Ok(host)
    } else {
        Err(format!(
            "per-replica audit chains need a name for this replica: set {REPLICA_VAR} (1 to 64 of A-Z a-z 0-9 . _ -); the host name cannot serve"
        ))
    }
}

/// A replica's name for its own chain: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_replica_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

struct Job {
    entry: Entry,
    reply: oneshot::Sender<Result<Receipt, AuditError>>,
}

pub struct RedisSink {
    tx: mpsc::UnboundedSender<Job>,
    healthy: Arc<AtomicBool>,
    conn: crate::store::RedisConn,
    keys: Keys,
}

fn parse_head(text: &str) -> Option<Receipt> {
    if text.is_empty() {
        return Some(Receipt {
            seq: 0,
            hash: GENESIS.to_owned(),
        });
    }
    let (seq, hash) = text.split_once(' ')?;
    Some(Receipt {
        seq: seq.parse().ok()?,
        hash: hash.to_owned(),
    })
}

fn head_text(r: &Receipt) -> String {
    if r.seq == 0 {
        String::new()
    } else {
        format!("{} {}", r.seq, r.hash)
    }
}

pub(super) fn err(e: &redis::RedisError) -> AuditError {
    AuditError(crate::store::redis_error_text(e))
}

impl RedisSink {
    /// Append to `environment`'s shared chain over `conn`. The head is
    /// learned on the first append, so the gateway may start while Redis is
    /// down.
    pub fn open(
        conn: crate::store::RedisConn,
        environment: &str,
        key: Option<Arc<[u8]>>,
    ) -> RedisSink {
        RedisSink::start(conn, environment, key, None)
    }

    /// Append to `replica`'s own chain of `environment`'s trail (a name
    /// [`valid_replica_name`] accepts).
    pub fn open_replica(
        conn: crate::store::RedisConn,
        environment: &str,
        key: Option<Arc<[u8]>>,
        replica: &str,
    ) -> RedisSink {
        RedisSink::start(conn, environment, key, Some(replica))
    }

    fn start(
        conn: crate::store::RedisConn,
        environment: &str,
        key: Option<Arc<[u8]>>,
        replica: Option<&str>,
    ) -> RedisSink {
        let (tx, rx) = mpsc::unbounded_channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let keys = Keys::of(environment, replica);
        let writer = Writer {
            conn: conn.clone(),
            keys: keys.clone(),
            chain: match replica {
                None => Chain::new(key),
                Some(r) => Chain::named(key, r),
            },
            register: replica.map(|r| (Keys::registry(environment), r.to_owned())),
            script: Script::new(APPEND),
            healthy: healthy.clone(),
        };
        tokio::spawn(writer.run(rx));
        RedisSink {
            tx,
            healthy,
            conn,
            keys,
        }
    }
}

pub(super) fn parse_checkpoints(lines: &[String]) -> Vec<Checkpoint> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

struct Writer {
    conn: crate::store::RedisConn,
    keys: Keys,
    chain: Chain,
    /// A replica's chain not yet listed in the registry: (registry, name).
    register: Option<(String, String)>,
    script: Script,
    healthy: Arc<AtomicBool>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let received = if self.healthy.load(Ordering::SeqCst) {
                rx.recv_many(&mut batch, MAX_BATCH).await
            } else {
                // After a failure, say ready again once the trail's head can
                // be read, even if no call comes (a load balancer sends none
                // to a replica that is not ready).
                tokio::select! {
                    n = rx.recv_many(&mut batch, MAX_BATCH) => n,
                    () = tokio::time::sleep(PROBE_INTERVAL) => {
                        if self.probe().await {
                            self.healthy.store(true, Ordering::SeqCst);
                        }
                        continue;
                    }
                }
            };
            if received == 0 {
                return;
            }
            let result = self.commit(&batch).await;
            self.healthy.store(result.is_ok(), Ordering::SeqCst);
            match result {
                Ok(receipts) => {
                    for (job, receipt) in batch.drain(..).zip(receipts) {
                        let _ = job.reply.send(Ok(receipt));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot append to the audit stream; failing closed");
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(AuditError(e.0.clone())));
                    }
                }
            }
        }
    }

    /// Whether the head can be read and continues the chain this writer knows.
    async fn probe(&self) -> bool {
        let text: Result<Option<String>, _> = redis::cmd("GET")
            .arg(&self.keys.head)
            .query_async(&mut self.conn.clone())
            .await;
        match text {
            Ok(t) => parse_head(t.as_deref().unwrap_or(""))
                .is_some_and(|h| h.seq >= self.chain.seq || self.chain.seq == 0),
            Err(_) => false,
        }
    }

    /// Seal the batch after the head and append it, re-sealing after other
    /// replicas' records as often as needed.
    async fn commit(&mut self, batch: &[Job]) -> Result<Vec<Receipt>, AuditError> {
        if let Some((registry, name)) = &self.register {
            // Listed before anything is appended: no chain unknown to readers.
            redis::cmd("SADD")
                .arg(registry)
                .arg(name)
                .query_async::<i64>(&mut self.conn.clone())
                .await
                .map_err(|e| err(&e))?;
            self.register = None;
        }
        let started = Instant::now();
        loop {
            let expected = head_text(&self.chain.head());
            let mut chain = self.chain.clone();
            let mut lines = Vec::with_capacity(batch.len());
            let mut receipts = Vec::with_capacity(batch.len());
            for job in batch {
                let record = chain.seal(job.entry.clone());
                receipts.push(Receipt {
                    seq: record.seq,
                    hash: record.hash.clone(),
                });
                lines.push(
                    serde_json::to_string(&record)
                        .map_err(|e| AuditError(format!("cannot encode a record: {e}")))?,
                );
            }
            let mut invocation = self.script.key(&self.keys.head);
            invocation
                .key(&self.keys.stream)
                .arg(&expected)
                .arg(head_text(&chain.head()));
            for l in &lines {
                invocation.arg(l);
            }
            let reply: Vec<redis::Value> = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| err(&e))?;
            match reply.as_slice() {
                [redis::Value::Int(1)] => {
                    self.chain = chain;
                    return Ok(receipts);
                }
                [redis::Value::Int(0), actual] => {
                    let text = match actual {
                        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => String::new(),
                    };
                    let head = parse_head(&text)
                        .ok_or_else(|| AuditError("the audit stream's head is damaged".into()))?;
                    if head.seq < self.chain.seq && self.chain.seq > 0 {
                        // The head went backwards: the stream was truncated or replaced.
                        return Err(AuditError(
                            "the audit stream's head went backwards; run `toolgate audit verify`"
                                .into(),
                        ));
                    }
                    self.chain.resume(head.seq, head.hash);
                    if started.elapsed() > CONTENTION_BUDGET {
                        return Err(AuditError("the audit stream is too contended".into()));
                    }
                }
                _ => return Err(AuditError("redis: unexpected reply".into())),
            }
        }
    }
}

#[async_trait]
impl AuditSink for RedisSink {
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { entry, reply })
            .map_err(|_| AuditError("the audit writer stopped".into()))?;
        rx.await
            .map_err(|_| AuditError("the audit writer stopped".into()))?
    }

    async fn head(&self) -> Result<Receipt, AuditError> {
        let mut conn = self.conn.clone();
        let text: Option<String> = redis::cmd("GET")
            .arg(&self.keys.head)
            .query_async(&mut conn)
            .await
            .map_err(|e| err(&e))?;
        parse_head(text.as_deref().unwrap_or(""))
            .ok_or_else(|| AuditError("the audit stream's head is damaged".into()))
    }

    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), AuditError> {
        // The head only moves forward, so a checkpoint that passes here
        // still holds when it lands.
        check_against_head(c, &self.head().await?)?;
        let line = serde_json::to_string(c)
            .map_err(|e| AuditError(format!("cannot encode a checkpoint: {e}")))?;
        redis::cmd("RPUSH")
            .arg(&self.keys.checkpoints)
            .arg(line)
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .map_err(|e| err(&e))?;
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        let lines: Vec<String> = redis::cmd("LRANGE")
            .arg(&self.keys.checkpoints)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| err(&e))?;
        Ok(parse_checkpoints(&lines))
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_named_by_its_variable_else_its_host() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            replica_name_from(some("gw-1"), some("host")),
            Ok("gw-1".into())
        );
        assert_eq!(
            replica_name_from(None, some("pod-7f9c\n")),
            Ok("pod-7f9c".into())
        );
        assert!(replica_name_from(some("a b"), some("host")).is_err());
        assert!(replica_name_from(some(""), some("host")).is_err());
        assert!(replica_name_from(some(&"x".repeat(65)), None).is_err());
        assert!(replica_name_from(None, some("{slot}")).is_err());
        assert!(replica_name_from(None, None).is_err());
    }

    #[test]
    fn each_replica_chain_has_a_hash_tag_of_its_own() {
        let shared = Keys::new("prod");
        let r = Keys::of("prod", Some("gw-1"));
        assert_eq!(shared.head, "toolgate:{prod:audit}#head");
        assert_eq!(r.stream, "toolgate:{prod:audit:gw-1}#trail");
        assert_eq!(r.checkpoints, "toolgate:{prod:audit:gw-1}#checkpoints");
        assert_eq!(Keys::registry("prod"), "toolgate:{prod:audit}#chains");
    }
}
