//! Refusals of requests that never authenticated, kept as counts.
//!
//! A request without a valid credential is refused before its body is read.
//! One record for each would let anyone who can reach the port grow the
//! trail at wire speed, so instead they are counted per refusal code and
//! source — an IPv4 address, or an IPv6 /64 — and written every
//! `audit.refusals_interval_seconds` as one `refused_unauthenticated` record
//! per pair, with its count and the period it covers.
//!
//! A window holds at most [`MAX_SOURCES`] pairs; refusals from sources beyond
//! them are counted under `source: "other"`. So, whatever the rate, the trail
//! grows by at most [`MAX_SOURCES`] records, plus one `other` record per
//! refusal code, an interval.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Entry, Event};
use crate::error::Code;
use crate::store::now_ms;

/// Distinct (code, source) pairs counted in one window.
pub(crate) const MAX_SOURCES: usize = 64;

/// Where refused requests came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Source {
    /// An IPv4 address, or an IPv6 address with its last 64 bits cleared
    /// (one client commonly holds a whole /64).
    Addr(IpAddr),
    /// Not known (a request that did not come through the listener).
    Unknown,
    /// Beyond [`MAX_SOURCES`] in this window.
    Other,
}

impl Source {
    fn of(from: Option<IpAddr>) -> Source {
        match from {
            Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => Source::Addr(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(a) & !u128::from(u64::MAX);
                    Source::Addr(IpAddr::V6(prefix.into()))
                }
            },
            Some(a) => Source::Addr(a),
            None => Source::Unknown,
        }
    }

    fn name(self) -> String {
        match self {
            Source::Addr(IpAddr::V6(a)) => format!("{a}/64"),
            Source::Addr(a) => a.to_string(),
            Source::Unknown => "unknown".into(),
            Source::Other => "other".into(),
        }
    }
}

#[derive(Debug, Default)]
struct Window {
    counts: HashMap<(&'static str, Source), u64>,
    /// Pairs other than `other`.
    sources: usize,
    started_ms: u64,
}

/// The counts of the current window, and of refusals that could not be written.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    window: Mutex<Window>,
    unrecorded: AtomicU64,
}

impl Refusals {
    /// One request refused before it authenticated.
    pub(crate) fn note(&self, code: Code, from: Option<IpAddr>) {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.counts.is_empty() {
            w.started_ms = now_ms();
        }
        let mut key = (code.as_str(), Source::of(from));
        if !w.counts.contains_key(&key) {
            if w.sources >= MAX_SOURCES {
                key.1 = Source::Other;
            } else {
                w.sources += 1;
            }
        }
        *w.counts.entry(key).or_default() += 1;
    }

    /// The window's records, oldest first by code and source; the window starts over.
    pub(crate) fn take(&self) -> Vec<Entry> {
        let w = std::mem::take(&mut *self.window.lock().unwrap_or_else(|p| p.into_inner()));
        let period_ms = now_ms().saturating_sub(w.started_ms);
        let mut counts: Vec<_> = w.counts.into_iter().collect();
        counts.sort();
        counts
            .into_iter()
            .map(|((code, source), count)| Entry {
                code: Some(code.to_owned()),
                source: Some(source.name()),
                count: Some(count),
                period_ms: Some(period_ms),
                ..Entry::new(Event::RefusedUnauthenticated)
            })
            .collect()
    }

    /// Refusals counted but not written (the trail was short of space or failed).
    pub(crate) fn unrecorded(&self, n: u64) {
        self.unrecorded.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn unrecorded_total(&self) -> u64 {
        self.unrecorded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_of(entries: &[Entry], source: &str) -> Option<u64> {
        entries
            .iter()
            .find(|e| e.source.as_deref() == Some(source))
            .and_then(|e| e.count)
    }

    #[test]
    fn refusals_are_counted_per_code_and_source_and_the_window_starts_over() {
        let r = Refusals::default();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..1000 {
            r.note(Code::Unauthenticated, Some(a));
        }
        r.note(Code::StoreUnavailable, Some(a));
        r.note(Code::Unauthenticated, None);
        let entries = r.take();
        assert_eq!(entries.len(), 3);
        let unauth: Vec<_> = entries
            .iter()
            .filter(|e| e.code.as_deref() == Some("unauthenticated"))
            .collect();
        assert_eq!(unauth.len(), 2);
        assert_eq!(count_of(&entries, "unknown"), Some(1));
        assert!(
            entries
                .iter()
                .all(|e| e.event == Some(Event::RefusedUnauthenticated))
        );
        assert!(r.take().is_empty());
    }

    #[test]
    fn an_ipv6_client_is_one_source_per_64_and_sources_beyond_the_cap_are_other() {
        let r = Refusals::default();
        for i in 0..1000u128 {
            let a = std::net::Ipv6Addr::from((0x2001_0db8u128 << 96) | i);
            r.note(Code::Unauthenticated, Some(IpAddr::V6(a)));
        }
        let entries = r.take();
        assert_eq!(entries.len(), 1);
        assert_eq!(count_of(&entries, "2001:db8::/64"), Some(1000));

        for i in 0..10_000u32 {
            r.note(Code::Unauthenticated, Some(IpAddr::V4(i.into())));
        }
        let entries = r.take();
        assert_eq!(entries.len(), MAX_SOURCES + 1);
        assert_eq!(
            count_of(&entries, "other"),
            Some(10_000 - MAX_SOURCES as u64)
        );
        let total: u64 = entries.iter().filter_map(|e| e.count).sum();
        assert_eq!(total, 10_000);
    }

    #[test]
    fn a_mapped_ipv4_address_is_its_ipv4_source() {
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert_eq!(Source::of(Some(mapped)).name(), "192.0.2.9");
    }
}
