//! Reading a Redis trail back, for `toolgate audit verify` and the access
//! review: which chains an environment's trail has (the shared one, and one
//! per replica listed in `…#chains`), each chain's records as the bytes of a
//! JSON-lines file, its checkpoints, and every chain's records merged into
//! one order by time.
//!
//! Reads only, over one blocking connection (a Redis Cluster's routes each
//! key to its slot's master); never writes a key.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};

use super::checkpoint::Checkpoint;
use super::record::AuditError;
use super::redis::{Keys, err, parse_checkpoints};

type Conn = Arc<Mutex<Box<dyn redis::ConnectionLike + Send>>>;

/// One environment's trail on Redis, open for reading.
pub struct Trail {
    conn: Conn,
    environment: String,
    chains: Vec<Option<String>>,
}

/// The shared chain of `environment` on the Redis at `url`, as JSON lines
/// read in pages, and the checkpoints kept beside it.
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
    let trail = Trail::open(target, tls, environment)?;
    Ok((trail.reader(None), trail.checkpoints(None)?))
}

impl Trail {
    /// Connect and list the trail's chains.
    pub fn open(
        target: &crate::store::RedisTarget,
        tls: &crate::store::RedisOptions,
        environment: &str,
    ) -> Result<Trail, AuditError> {
        let mut conn =
            crate::store::redis_connect_blocking(target, tls).map_err(|e| AuditError(e.0))?;
        let shared = Keys::new(environment);
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&shared.head)
            .query(conn.as_mut())
            .map_err(|e| err(&e))?;
        let mut replicas: Vec<String> = redis::cmd("SMEMBERS")
            .arg(Keys::registry(environment))
            .query(conn.as_mut())
            .map_err(|e| err(&e))?;
        replicas.sort();
        // The shared chain when it holds anything, or when nothing else
        // does (an empty trail is one empty chain).
        let mut chains = Vec::with_capacity(replicas.len() + 1);
        if exists > 0 || replicas.is_empty() {
            chains.push(None);
        }
        chains.extend(replicas.into_iter().map(Some));
        Ok(Trail {
            conn: Arc::new(Mutex::new(conn)),
            environment: environment.to_owned(),
            chains,
        })
    }

    /// The shared chain (`None`) when there is one, then each replica's
    /// chain by name.
    pub fn chains(&self) -> &[Option<String>] {
        &self.chains
    }

    /// One chain's records, as the bytes of a JSON-lines file.
    pub fn reader(&self, chain: Option<&str>) -> TrailReader {
        TrailReader {
            conn: self.conn.clone(),
            stream: Keys::of(&self.environment, chain).stream,
            next: "-".to_owned(),
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    /// The checkpoints kept beside one chain, oldest first.
    pub fn checkpoints(&self, chain: Option<&str>) -> Result<Vec<Checkpoint>, AuditError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let lines: Vec<String> = redis::cmd("LRANGE")
            .arg(Keys::of(&self.environment, chain).checkpoints)
            .arg(0)
            .arg(-1)
            .query(conn.as_mut())
            .map_err(|e| err(&e))?;
        Ok(parse_checkpoints(&lines))
    }

    /// Every chain's records, one JSON line each, merged by their `time`
    /// (each chain is in time order; see [`merge_by_time`]). A chain that
    /// cannot be read ends where it failed.
    pub fn lines_by_time(&self) -> impl Iterator<Item = String> + use<> {
        let chains = self
            .chains
            .iter()
            .map(|c| self.reader(c.as_deref()).lines().map_while(Result::ok))
            .collect();
        merge_by_time(chains)
    }
}

/// The `time` of a record's line ("" when it has none).
fn time_of(line: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Timed {
        #[serde(default)]
        time: String,
    }
    serde_json::from_str::<Timed>(line)
        .map(|t| t.time)
        .unwrap_or_default()
}

/// Merge lines of several sources, each in time order, into one: at each
/// step the earliest next line (RFC 3339 UTC times of one width compare as
/// text; ties go to the earlier source).
pub fn merge_by_time<I: Iterator<Item = String>>(sources: Vec<I>) -> impl Iterator<Item = String> {
    let mut sources = sources;
    let mut heads = BinaryHeap::new();
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(line) = s.next() {
            heads.push(Reverse((time_of(&line), i, line)));
        }
    }
    std::iter::from_fn(move || {
        let Reverse((_, i, line)) = heads.pop()?;
        if let Some(next) = sources[i].next() {
            heads.push(Reverse((time_of(&next), i, next)));
        }
        Some(line)
    })
}

/// Reads a trail stream as the bytes of a JSON-lines file.
pub struct TrailReader {
    conn: Conn,
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
        let page: Page = {
            let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            redis::cmd("XRANGE")
                .arg(&self.stream)
                .arg(&self.next)
                .arg("+")
                .arg("COUNT")
                .arg(1000)
                .query(conn.as_mut())
                .map_err(|e| std::io::Error::other(crate::store::redis_error_text(&e)))?
        };
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

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail")
            .field("chains", &self.chains)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TrailReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailReader").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(time: &str, n: u32) -> String {
        format!(r#"{{"seq":{n},"time":"{time}","event":"executed"}}"#)
    }

    #[test]
    fn chains_merge_into_one_order_by_time() {
        let a = vec![
            line("2026-12-04T10:00:00.000001Z", 1),
            line("2026-12-04T10:00:00.000005Z", 2),
            line("2026-12-04T10:00:01.000000Z", 3),
        ];
        let b = vec![
            line("2026-12-04T10:00:00.000003Z", 1),
            line("2026-12-04T10:00:00.000005Z", 2),
        ];
        let c: Vec<String> = Vec::new();
        let merged: Vec<String> = merge_by_time(vec![
            a.clone().into_iter(),
            b.clone().into_iter(),
            c.into_iter(),
        ])
        .collect();
        assert_eq!(
            merged,
            [&a[0], &b[0], &a[1], &b[1], &a[2]].map(String::clone)
        );
    }

    #[test]
    fn a_line_without_a_time_comes_first_and_nothing_is_dropped() {
        let a = vec![
            "not json".to_owned(),
            line("2026-12-04T10:00:00.000001Z", 1),
        ];
        let b = vec![line("2026-12-04T09:00:00.000000Z", 1)];
        let merged: Vec<String> =
            merge_by_time(vec![a.clone().into_iter(), b.clone().into_iter()]).collect();
        assert_eq!(merged, vec![a[0].clone(), b[0].clone(), a[1].clone()]);
    }
}
