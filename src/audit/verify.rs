//! `toolgate audit verify`: walk a trail and name the first bad record.
//!
//! Checks, record by record: the line parses; `seq` is the next number;
//! `prev` is the previous record's `hash`; `hash` matches the canonical form
//! (under the audit key, when the trail is keyed). The first failure is named
//! with its kind: `edited` (the hash does not match), `missing` (a gap in
//! `seq`), `reordered` (a record out of place), `broken_chain` (`prev` does
//! not link), `unparsable`, or `torn_tail` (the last line is incomplete — a
//! crash mid-write, not tampering). Given checkpoints: `truncated` (the
//! trail ends before a checkpoint's record), `checkpoint_mismatch` (the
//! record a checkpoint vouched for changed) and `bad_checkpoint` (not signed
//! by the given public key). Of one of a trail's several chains (one per
//! replica on Redis): `misplaced` (a record names another chain, or none)
//! and `time_reversed` (a record earlier than the one before it).
//!
//! Reads only: it never changes a trail, and a line it cannot read is named
//! as a problem, never skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use std::collections::HashMap;

use super::chain::{GENESIS, hash_value};
use super::checkpoint::{self, Checkpoint};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub kind: &'static str,
    pub file: PathBuf,
    pub line: usize,
    pub seq: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub records: u64,
    pub head_seq: u64,
    pub head_hash: String,
    pub problem: Option<Problem>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// The files of a trail in order: rotated siblings of each live file first.
pub(crate) fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        for r in super::file::rotated_files(p) {
            if !out.contains(&r) && !paths.contains(&r) {
                out.push(r);
            }
        }
        out.push(p.clone());
    }
    out
}

struct Line {
    seq: u64,
    prev: String,
    hash: String,
    computed: String,
    /// `chain`, when the record names one.
    chain: Option<String>,
    time: String,
}

fn parse(bytes: &[u8], key: Option<&[u8]>) -> Option<Line> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let chain = match v.get("chain") {
        None => None,
        Some(c) => Some(c.as_str()?.to_owned()),
    };
    Some(Line {
        seq: v.get("seq")?.as_u64()?,
        prev: v.get("prev")?.as_str()?.to_owned(),
        hash: v.get("hash")?.as_str()?.to_owned(),
        computed: hash_value(&v, key),
        chain,
        time: v
            .get("time")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

pub fn verify(paths: &[PathBuf], key: Option<&[u8]>) -> Report {
    verify_with(paths, key, &[], None)
}

/// Verify the trail and, for each checkpoint, that the trail reaches it with
/// the same hash (and, given the public key, that it is genuinely signed).
pub fn verify_with(
    paths: &[PathBuf],
    key: Option<&[u8]>,
    checkpoints: &[Checkpoint],
    public_key: Option<&str>,
) -> Report {
    let sources = expand(paths).into_iter().map(|path| {
        let reader = std::fs::File::open(&path)
            .map(|f| Box::new(BufReader::with_capacity(1 << 20, f)) as Box<dyn BufRead>);
        (path, reader)
    });
    verify_sources(sources, key, checkpoints, public_key, None)
}

/// Verify a trail read from one source (a Redis stream, say); `label` names
/// it in problems.
pub fn verify_reader(
    label: &Path,
    reader: impl BufRead + 'static,
    key: Option<&[u8]>,
    checkpoints: &[Checkpoint],
    public_key: Option<&str>,
) -> Report {
    let source: (PathBuf, std::io::Result<Box<dyn BufRead>>) =
        (label.to_path_buf(), Ok(Box::new(reader)));
    verify_sources(std::iter::once(source), key, checkpoints, public_key, None)
}

/// As [`verify_reader`], for one of a trail's several chains: besides the
/// links, every record must name `chain` (`misplaced` otherwise) and no
/// record may be earlier than the one before it (`time_reversed`), as one
/// writer seals them in order.
pub fn verify_chain(
    label: &Path,
    reader: impl BufRead + 'static,
    chain: &str,
    key: Option<&[u8]>,
    checkpoints: &[Checkpoint],
    public_key: Option<&str>,
) -> Report {
    let source: (PathBuf, std::io::Result<Box<dyn BufRead>>) =
        (label.to_path_buf(), Ok(Box::new(reader)));
    verify_sources(
        std::iter::once(source),
        key,
        checkpoints,
        public_key,
        Some(chain),
    )
}

fn verify_sources(
    sources: impl Iterator<Item = (PathBuf, std::io::Result<Box<dyn BufRead>>)>,
    key: Option<&[u8]>,
    checkpoints: &[Checkpoint],
    public_key: Option<&str>,
    chain: Option<&str>,
) -> Report {
    let mut report = Report {
        records: 0,
        head_seq: 0,
        head_hash: GENESIS.to_owned(),
        problem: None,
    };
    let cp_problem = |kind: &'static str, c: &Checkpoint, message: String| Problem {
        kind,
        file: PathBuf::new(),
        line: 0,
        seq: Some(c.seq),
        message,
    };
    if let Some(pk) = public_key
        && let Some(c) = checkpoints
            .iter()
            .find(|c| !checkpoint::check_signature(c, pk))
    {
        report.problem = Some(cp_problem(
            "bad_checkpoint",
            c,
            format!(
                "the checkpoint at record {} is not signed by the given key",
                c.seq
            ),
        ));
        return report;
    }
    let marks: HashMap<u64, &str> = checkpoints
        .iter()
        .map(|c| (c.seq, c.hash.as_str()))
        .collect();
    let mut at = Position {
        expected: 1,
        prev: GENESIS.to_owned(),
        time: String::new(),
    };
    for (path, reader) in sources {
        if let Err(p) = walk(&path, reader, key, &marks, chain, &mut at, &mut report) {
            report.problem = Some(p);
            return report;
        }
    }
    if let Some(c) = checkpoints
        .iter()
        .filter(|c| c.seq > report.head_seq)
        .max_by_key(|c| c.seq)
    {
        report.problem = Some(cp_problem(
            "truncated",
            c,
            format!(
                "the trail ends at record {} but a checkpoint vouches for record {}: records were removed from its end",
                report.head_seq, c.seq
            ),
        ));
    }
    report
}

/// Where a walk is: the next `seq`, the last record's hash and time.
struct Position {
    expected: u64,
    prev: String,
    time: String,
}

fn walk(
    path: &Path,
    reader: std::io::Result<Box<dyn BufRead>>,
    key: Option<&[u8]>,
    marks: &HashMap<u64, &str>,
    chain: Option<&str>,
    at: &mut Position,
    report: &mut Report,
) -> Result<(), Problem> {
    let Position {
        expected,
        prev,
        time,
    } = at;
    let problem = |kind: &'static str, line: usize, seq: Option<u64>, message: String| Problem {
        kind,
        file: path.to_path_buf(),
        line,
        seq,
        message,
    };
    let mut reader = reader.map_err(|e| problem("unreadable", 0, None, e.to_string()))?;
    let mut buf = Vec::with_capacity(1024);
    let mut lineno = 0usize;
    let mut pending: Option<(usize, Line)> = None;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| problem("unreadable", lineno, None, e.to_string()))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        if buf.last() != Some(&b'\n') {
            return Err(problem(
                "torn_tail",
                lineno,
                None,
                "the last line is incomplete: the writer stopped mid-record (a crash), not necessarily tampering".into(),
            ));
        }
        let Some(line) = parse(&buf[..buf.len() - 1], key) else {
            return Err(problem(
                "unparsable",
                lineno,
                None,
                "not a valid audit record".into(),
            ));
        };
        // A record out of place is told apart from a deleted one by whether
        // the expected record comes next.
        if let Some((pline, p)) = pending.take() {
            let kind = if line.seq == *expected {
                "reordered"
            } else {
                "missing"
            };
            let msg = if kind == "reordered" {
                format!("record {} appears before record {}", p.seq, *expected)
            } else {
                format!("record {} is missing (found {} instead)", *expected, p.seq)
            };
            return Err(problem(kind, pline, Some(p.seq), msg));
        }
        if line.computed != line.hash {
            return Err(problem(
                "edited",
                lineno,
                Some(line.seq),
                format!(
                    "record {} does not match its hash: it was changed after it was written",
                    line.seq
                ),
            ));
        }
        if line.seq != *expected {
            if line.seq < *expected {
                return Err(problem(
                    "reordered",
                    lineno,
                    Some(line.seq),
                    format!("record {} appears after record {}", line.seq, *expected - 1),
                ));
            }
            pending = Some((lineno, line));
            continue;
        }
        if line.prev != *prev {
            return Err(problem(
                "broken_chain",
                lineno,
                Some(line.seq),
                format!("record {} does not link to the record before it", line.seq),
            ));
        }
        if line.chain.as_deref() != chain {
            let message = match (&line.chain, chain) {
                (Some(found), Some(own)) => format!(
                    "record {} belongs to chain {found:?}, not to {own:?}",
                    line.seq
                ),
                (Some(found), None) => format!(
                    "record {} belongs to chain {found:?} of a trail of several",
                    line.seq
                ),
                (None, _) => format!("record {} names no chain", line.seq),
            };
            return Err(problem("misplaced", lineno, Some(line.seq), message));
        }
        // RFC 3339 times in UTC with microseconds compare as text.
        if chain.is_some() && line.time < *time {
            return Err(problem(
                "time_reversed",
                lineno,
                Some(line.seq),
                format!(
                    "record {} is earlier than the record before it ({} < {})",
                    line.seq, line.time, time
                ),
            ));
        }
        if marks.get(&line.seq).is_some_and(|h| *h != line.hash) {
            return Err(problem(
                "checkpoint_mismatch",
                lineno,
                Some(line.seq),
                format!(
                    "record {} differs from the one its checkpoint vouched for: the trail was rewritten",
                    line.seq
                ),
            ));
        }
        *expected += 1;
        *prev = line.hash.clone();
        *time = line.time;
        report.records += 1;
        report.head_seq = line.seq;
        report.head_hash = line.hash;
    }
    if let Some((pline, p)) = pending {
        return Err(problem(
            "missing",
            pline,
            Some(p.seq),
            format!("record {} is missing (found {} instead)", *expected, p.seq),
        ));
    }
    Ok(())
}
