//! The file sink (`audit: {kind: file, path}`): JSON lines, group commit.
//!
//! One writer thread owns the file. Callers queue entries and wait; the
//! writer takes everything queued, seals it into the chain, writes it in one
//! `write` and one `fdatasync`, and only then answers each caller. If the
//! write or the sync fails, the file is cut back to its last durable length,
//! the chain is not advanced, every waiter gets an error (the gateway answers
//! `503 audit_unavailable` and calls nothing upstream), and the sink reports
//! unhealthy until a later write succeeds.
//!
//! Rotation: past `max_file_bytes` the live file is renamed to
//! `<path>.<first seq, 12 digits>` and a new one begun; the chain continues.
//! A torn last line (a crash mid-write) is moved to `<path>.torn-<unix time>`
//! at open, and the chain continues from the last whole record.
//!
//! Checkpoints go to `<path>.checkpoints`, one JSON line each, synced before
//! `checkpoint` returns (`toolgate audit verify --checkpoint` reads it).
//!
//! Owns the trail's files and nothing else: it never rewrites a record once
//! answered for, and never answers before `fdatasync` did.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::chain::{Chain, Record};
use super::checkpoint::{self, Checkpoint};
use super::record::{AuditError, Entry, Receipt};
use super::sink::{AuditSink, check_against_head};

/// Most records written in one group commit.
const MAX_BATCH: usize = 4096;

struct Job {
    entry: Entry,
    reply: oneshot::Sender<Result<Receipt, AuditError>>,
}

pub struct FileSink {
    tx: mpsc::UnboundedSender<Job>,
    healthy: Arc<AtomicBool>,
    head: Arc<Mutex<Receipt>>,
    /// `<path>.checkpoints`; one writer at a time.
    checkpoints: Arc<tokio::sync::Mutex<PathBuf>>,
    /// The trail's directory, whose file system's free space is watched.
    dir: PathBuf,
}

fn err(e: impl std::fmt::Display) -> AuditError {
    AuditError(e.to_string())
}

/// Rotated files of `path`, oldest first.
pub(super) fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{name}.");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .is_some_and(|rest| rest.len() == 12 && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// The last whole record of a file, after moving a torn tail aside.
fn recover_tail(path: &Path) -> Result<Option<Record>, AuditError> {
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(err)?;
    let whole = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    if whole < bytes.len() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("audit.jsonl");
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let torn = path.with_file_name(format!("{name}.torn-{secs}"));
        std::fs::write(&torn, &bytes[whole..]).map_err(err)?;
        f.set_len(whole as u64).map_err(err)?;
        f.sync_all().map_err(err)?;
        tracing::warn!(
            torn_bytes = bytes.len() - whole,
            moved_to = %torn.display(),
            "the audit trail ended in a torn record (a crash mid-write); it was moved aside and the chain continues"
        );
    }
    let text = &bytes[..whole];
    let Some(last) = text[..text.len().saturating_sub(1)]
        .rsplit(|b| *b == b'\n')
        .next()
        .filter(|l| !l.is_empty())
    else {
        return Ok(None);
    };
    let record: Record = serde_json::from_slice(last).map_err(|_| {
        AuditError(format!(
            "the last record of {} is damaged; run `toolgate audit verify` before serving",
            path.display()
        ))
    })?;
    Ok(Some(record))
}

impl FileSink {
    pub fn open(
        path: &Path,
        key: Option<Arc<[u8]>>,
        max_file_bytes: Option<u64>,
    ) -> Result<FileSink, AuditError> {
        let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(err)?;
                dir.to_path_buf()
            }
            None => PathBuf::from("."),
        };
        let mut chain = Chain::new(key);
        let last = match recover_tail(path)? {
            Some(r) => Some(r),
            None => match rotated_files(path).last() {
                Some(p) => recover_tail(p)?,
                None => None,
            },
        };
        if let Some(r) = last {
            chain.resume(r.seq, r.hash);
        }
        let head = Arc::new(Mutex::new(chain.head()));
        let healthy = Arc::new(AtomicBool::new(true));
        let (tx, rx) = mpsc::unbounded_channel();
        let mut writer = Writer {
            path: path.to_path_buf(),
            file: None,
            len: 0,
            chain,
            max_file_bytes,
            healthy: healthy.clone(),
            head: head.clone(),
        };
        writer.ensure_open().map_err(err)?;
        std::thread::Builder::new()
            .name("toolgate-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(err)?;
        Ok(FileSink {
            tx,
            healthy,
            head,
            checkpoints: Arc::new(tokio::sync::Mutex::new(checkpoint::file_for(path))),
            dir,
        })
    }
}

struct Writer {
    path: PathBuf,
    file: Option<File>,
    len: u64,
    chain: Chain,
    max_file_bytes: Option<u64>,
    healthy: Arc<AtomicBool>,
    head: Arc<Mutex<Receipt>>,
}

impl Writer {
    fn ensure_open(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            let created = !self.path.exists();
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&self.path)?;
            self.len = f.seek(SeekFrom::End(0))?;
            if created {
                f.sync_all()?;
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    File::open(dir)?.sync_all()?;
                }
            }
            self.file = Some(f);
        }
        Ok(())
    }

    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Job>) {
        let mut chain = self.chain.clone();
        let mut buf = Vec::with_capacity(batch.len() * 512);
        let mut receipts = Vec::with_capacity(batch.len());
        let mut jobs = Vec::with_capacity(batch.len());
        for job in batch {
            let record = chain.seal(job.entry);
            receipts.push(Receipt {
                seq: record.seq,
                hash: record.hash.clone(),
            });
            // A record's fields are strings, numbers and JSON values: it
            // always serializes.
            serde_json::to_writer(&mut buf, &record).expect("an audit record serializes");
            buf.push(b'\n');
            jobs.push(job.reply);
        }
        match self.write(&buf) {
            Ok(()) => {
                self.chain = chain;
                self.healthy.store(true, Ordering::SeqCst);
                *self.head.lock().unwrap_or_else(|p| p.into_inner()) = self.chain.head();
                // Rotate before answering: whoever hears "durable" finds the
                // files as they stay.
                if let Err(e) = self.rotate_if_due() {
                    tracing::error!(error = %e, "audit rotation failed; writing on in the current file");
                }
                for (reply, receipt) in jobs.into_iter().zip(receipts) {
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(e) => {
                self.healthy.store(false, Ordering::SeqCst);
                tracing::error!(error = %e, "audit write failed: calls fail closed until it works again");
                for reply in jobs {
                    let _ = reply.send(Err(AuditError(format!("audit write failed: {e}"))));
                }
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.ensure_open()?;
        let before = self.len;
        let f = self.file.as_mut().expect("opened above");
        let result = f.write_all(buf).and_then(|()| f.sync_data());
        match result {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut back to the last durable record, then reopen next time.
                if let Some(f) = self.file.take() {
                    let _ = f.set_len(before);
                    let _ = f.sync_all();
                }
                Err(e)
            }
        }
    }

    fn rotate_if_due(&mut self) -> std::io::Result<()> {
        let Some(max) = self.max_file_bytes else {
            return Ok(());
        };
        if self.len < max {
            return Ok(());
        }
        // Name the closed file by its first record's seq.
        let mut first = String::new();
        File::open(&self.path)?
            .take(64)
            .read_to_string(&mut first)
            .ok();
        let seq: u64 = first
            .split("\"seq\":")
            .nth(1)
            .and_then(|r| r.split([',', '}']).next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(self.chain.seq);
        let name = format!(
            "{}.{seq:012}",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("audit.jsonl")
        );
        self.file = None;
        std::fs::rename(&self.path, self.path.with_file_name(name))?;
        self.ensure_open()
    }
}

#[async_trait]
impl AuditSink for FileSink {
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { entry, reply })
            .map_err(|_| AuditError("the audit writer has stopped".into()))?;
        rx.await
            .map_err(|_| AuditError("the audit writer has stopped".into()))?
    }

    async fn head(&self) -> Result<Receipt, AuditError> {
        Ok(self.head.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), AuditError> {
        check_against_head(c, &self.head().await?)?;
        let path = self.checkpoints.clone().lock_owned().await;
        let c = c.clone();
        tokio::task::spawn_blocking(move || checkpoint::append(&path, &c))
            .await
            .map_err(err)?
            .map_err(|e| AuditError(format!("cannot write an audit checkpoint: {e}")))
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        let path = self.checkpoints.lock().await.clone();
        match tokio::task::spawn_blocking(move || checkpoint::read(&path))
            .await
            .map_err(err)?
        {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(AuditError(format!(
                "cannot read the audit checkpoints: {e}"
            ))),
        }
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    fn free_bytes(&self) -> Option<u64> {
        let s = rustix::fs::statvfs(&self.dir).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink").finish_non_exhaustive()
    }
}
