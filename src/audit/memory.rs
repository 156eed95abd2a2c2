//! The memory sink: records and checkpoints in one mutex, for tests of other
//! parts and benchmarks. Keeps nothing past the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::chain::{Chain, Record};
use super::checkpoint::Checkpoint;
use super::record::{AuditError, Entry, Receipt};
use super::sink::{AuditSink, check_against_head};

#[derive(Default)]
struct MemoryTrail {
    records: Vec<Record>,
    chain: Chain,
    checkpoints: Vec<Checkpoint>,
}

/// Records kept in memory (tests of other parts).
#[derive(Default)]
pub struct MemorySink {
    state: tokio::sync::Mutex<MemoryTrail>,
    failing: AtomicBool,
}

impl MemorySink {
    pub fn new(key: Option<Arc<[u8]>>) -> MemorySink {
        MemorySink {
            state: tokio::sync::Mutex::new(MemoryTrail {
                chain: Chain::new(key),
                ..MemoryTrail::default()
            }),
            failing: AtomicBool::new(false),
        }
    }

    pub async fn records(&self) -> Vec<Record> {
        self.state.lock().await.records.clone()
    }

    fn refuse_if_failing(&self) -> Result<(), AuditError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AuditError("memory sink set to fail".into()));
        }
        Ok(())
    }

    /// Make every write fail (to test failing closed).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl AuditSink for MemorySink {
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError> {
        self.refuse_if_failing()?;
        let mut st = self.state.lock().await;
        let record = st.chain.seal(entry);
        let receipt = Receipt {
            seq: record.seq,
            hash: record.hash.clone(),
        };
        st.records.push(record);
        Ok(receipt)
    }

    async fn head(&self) -> Result<Receipt, AuditError> {
        Ok(self.state.lock().await.chain.head())
    }

    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), AuditError> {
        self.refuse_if_failing()?;
        let mut st = self.state.lock().await;
        check_against_head(c, &st.chain.head())?;
        st.checkpoints.push(c.clone());
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        Ok(self.state.lock().await.checkpoints.clone())
    }

    fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySink").finish_non_exhaustive()
    }
}
