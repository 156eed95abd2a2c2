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
//! Owns the trail's keys of one environment and nothing else: it never
//! rewrites or trims the stream, and never answers before Redis did.

use std::io::{BufRead, Read};
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
    pub fn new(environment: &str) -> Keys {
        let base = format!("toolgate:{{{environment}:audit}}");
        Keys {
            head: format!("{base}#head"),
            stream: format!("{base}#trail"),
            checkpoints: format!("{base}#checkpoints"),
        }
    }
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

fn err(e: &redis::RedisError) -> AuditError {
    AuditError(crate::store::redis_error_text(e))
}

impl RedisSink {
    /// Append to `environment`'s trail over `conn`. The head is learned on
    /// the first append, so the gateway may start while Redis is down.
    pub fn open(
        conn: crate::store::RedisConn,
        environment: &str,
        key: Option<Arc<[u8]>>,
    ) -> RedisSink {
        let (tx, rx) = mpsc::unbounded_channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let keys = Keys::new(environment);
        let writer = Writer {
            conn: conn.clone(),
            keys: keys.clone(),
            chain: Chain::new(key),
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

fn parse_checkpoints(lines: &[String]) -> Vec<Checkpoint> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

struct Writer {
    conn: crate::store::RedisConn,
    keys: Keys,
    chain: Chain,
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

/// The trail of `environment` on the Redis at `url`, as JSON lines, read in
/// pages (for `toolgate audit verify`), and the checkpoints kept beside it.
pub fn open_reader(
    url: &str,
    environment: &str,
) -> Result<(TrailReader, Vec<Checkpoint>), AuditError> {
    open_reader_with(
        &crate::store::RedisTarget::Node(url.to_owned()),
        &crate::store::RedisOptions::default(),
        environment,
    )
}

/// As [`open_reader`], on one Redis or a Redis Cluster, with `store.tls`
/// for `rediss://`.
pub fn open_reader_with(
    target: &crate::store::RedisTarget,
    tls: &crate::store::RedisOptions,
    environment: &str,
) -> Result<(TrailReader, Vec<Checkpoint>), AuditError> {
    let mut conn =
        crate::store::redis_connect_blocking(target, tls).map_err(|e| AuditError(e.0))?;
    let keys = Keys::new(environment);
    let lines: Vec<String> = redis::cmd("LRANGE")
        .arg(&keys.checkpoints)
        .arg(0)
        .arg(-1)
        .query(conn.as_mut())
        .map_err(|e| err(&e))?;
    let checkpoints = parse_checkpoints(&lines);
    Ok((
        TrailReader {
            conn,
            stream: keys.stream,
            next: "-".to_owned(),
            buf: Vec::new(),
            pos: 0,
            done: false,
        },
        checkpoints,
    ))
}

/// Reads a trail stream as the bytes of a JSON-lines file.
pub struct TrailReader {
    conn: Box<dyn redis::ConnectionLike + Send>,
    stream: String,
    /// The next id to read from (`-`, or `(<last id>`).
    next: String,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl TrailReader {
    fn refill(&mut self) -> std::io::Result<()> {
        type Page = Vec<(String, Vec<(String, Vec<u8>)>)>;
        let page: Page = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(&self.next)
            .arg("+")
            .arg("COUNT")
            .arg(1000)
            .query(self.conn.as_mut())
            .map_err(|e| std::io::Error::other(crate::store::redis_error_text(&e)))?;
        self.buf.clear();
        self.pos = 0;
        if page.is_empty() {
            self.done = true;
        }
        for (id, fields) in page {
            for (name, value) in fields {
                if name == "r" {
                    self.buf.extend_from_slice(&value);
                    self.buf.push(b'\n');
                }
            }
            self.next = format!("({id}");
        }
        Ok(())
    }
}

impl Read for TrailReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for TrailReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos >= self.buf.len() && !self.done {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
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

impl std::fmt::Debug for TrailReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailReader").finish_non_exhaustive()
    }
}
