//! How busy the gateway is: the slots of `limits.max_concurrency`, shared
//! out between agents and people, and the requests shed beyond them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

use crate::store::now_ms;

/// A gateway that shed a request this recently is reported as shedding.
const SHEDDING_WINDOW_MS: u64 = 10_000;

/// The slots requests are served in, and what was refused for want of one.
#[derive(Debug)]
pub(crate) struct Load {
    /// Every agent route shares these.
    pub(crate) agents: Arc<Semaphore>,
    /// Approvers and operators keep these, so they can act during an overload.
    pub(crate) people: Arc<Semaphore>,
    shed: AtomicU64,
    last_shed_ms: AtomicU64,
}

/// What `/readyz` says of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoadReport {
    /// A request was shed within the last ten seconds.
    pub shedding: bool,
    /// Requests shed since the start.
    pub shed_total: u64,
}

impl Load {
    pub(crate) fn new(max_concurrency: usize) -> Load {
        let share = Shares::of(max_concurrency);
        Load {
            agents: Arc::new(Semaphore::new(share.agents)),
            people: Arc::new(Semaphore::new(share.people)),
            shed: AtomicU64::new(0),
            last_shed_ms: AtomicU64::new(0),
        }
    }

    /// A request was refused for want of a slot.
    pub(crate) fn shed_one(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
        self.last_shed_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn report(&self) -> LoadReport {
        let shed_total = self.shed.load(Ordering::Relaxed);
        let last = self.last_shed_ms.load(Ordering::Relaxed);
        LoadReport {
            shedding: shed_total > 0 && now_ms().saturating_sub(last) < SHEDDING_WINDOW_MS,
            shed_total,
        }
    }
}

/// How `limits.max_concurrency` is shared: one pool for every agent route,
/// and a reserved tenth (at least one slot) for approvers and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shares {
    agents: usize,
    people: usize,
}

impl Shares {
    fn of(max: usize) -> Shares {
        let people = (max / 10).max(1);
        Shares {
            agents: max.saturating_sub(people).max(1),
            people,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shares_add_up_to_the_limit_and_people_always_have_one() {
        let of = |max| {
            let s = Shares::of(max);
            (s.agents, s.people)
        };
        assert_eq!(of(64), (58, 6));
        assert_eq!(of(10), (9, 1));
        assert_eq!(of(2), (1, 1));
        // The only case over the limit: one slot cannot be shared.
        assert_eq!(of(1), (1, 1));
    }

    #[test]
    fn shedding_is_reported_while_recent() {
        let load = Load::new(10);
        assert_eq!(
            load.report(),
            LoadReport {
                shedding: false,
                shed_total: 0
            }
        );
        load.shed_one();
        assert_eq!(
            load.report(),
            LoadReport {
                shedding: true,
                shed_total: 1
            }
        );
        load.last_shed_ms
            .store(now_ms() - SHEDDING_WINDOW_MS, Ordering::Relaxed);
        assert!(!load.report().shedding);
    }
}
