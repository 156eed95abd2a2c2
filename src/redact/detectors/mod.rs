//! Token shapes: secrets toolgate did not load but can recognise — provider
//! key formats, JWTs, private keys, passwords in URLs, signatures in signed
//! URLs, `password=` pairs, Kubernetes Secret data — written from the
//! providers' own descriptions of their formats, by family:
//! `code` (source hosting, registries, developer tools), `cloud`, `apps`
//! (payments, chat, mail), `ai` (model vendors, observability), `generic`.
//!
//! Each detector has literal keywords; one case-insensitive Aho-Corasick pass
//! finds which keywords occur, and only those detectors run. Text without
//! any keyword costs one automaton scan. A detector either removes its whole
//! match or, when it has capture groups, the first that took part (the value
//! after `password=`, the password in `user:pass@`). Where a format has a
//! checksum or a fixed inner structure (GitHub's and npm's CRC-32, a JWT's
//! header, a Discord token's numeric id), a match must pass it.
//!
//! A removed span never ends or starts inside a backslash escape (`\"`,
//! `\\`, `\u00e9`): it is widened to whole escapes, so that redacting the
//! text of a JSON document leaves a JSON document.

mod ai;
mod apps;
mod cloud;
mod code;
mod generic;
mod kube;
mod spec;

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

use self::spec::{Check, Scan, Spec};

/// Room for this many detectors in the per-call candidate set.
const MAX_DETECTORS: usize = 192;

enum Finder {
    Regex(Regex),
    Scan(Scan),
}

pub(crate) struct Detector {
    pub id: &'static str,
    #[cfg(test)]
    keywords: &'static [&'static str],
    finder: Finder,
    check: Option<Check>,
}

pub(crate) struct Detectors {
    prefilter: AhoCorasick,
    /// For each keyword, the detector it belongs to.
    owner: Vec<usize>,
    pub list: Vec<Detector>,
}

/// Every spec, vendors' first (a vendor's marker wins over a generic one
/// for the same span).
fn specs() -> impl Iterator<Item = &'static Spec> {
    [
        code::SPECS,
        cloud::SPECS,
        apps::SPECS,
        ai::SPECS,
        generic::SPECS,
    ]
    .into_iter()
    .flatten()
}

pub(crate) static DETECTORS: LazyLock<Detectors> = LazyLock::new(|| {
    let mut keywords = Vec::new();
    let mut owner = Vec::new();
    let list: Vec<Detector> = specs()
        .enumerate()
        .map(|(i, s)| {
            for k in s.keywords {
                keywords.push(*k);
                owner.push(i);
            }
            let finder = match s.scan {
                Some(f) => Finder::Scan(f),
                None => Finder::Regex(
                    RegexBuilder::new(s.pattern)
                        .unicode(false)
                        .build()
                        .expect("detector patterns compile"),
                ),
            };
            Detector {
                id: s.id,
                #[cfg(test)]
                keywords: s.keywords,
                finder,
                check: s.check,
            }
        })
        .collect();
    assert!(list.len() <= MAX_DETECTORS, "raise MAX_DETECTORS");
    // A DFA: one table lookup per byte, whatever the number of keywords.
    let prefilter = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&keywords)
        .expect("keywords compile");
    Detectors {
        prefilter,
        owner,
        list,
    }
});

/// Whether the `\` at `p` starts an escape (an even run of `\` precedes it).
fn escape_at(text: &[u8], p: usize) -> Option<usize> {
    if text[p] != b'\\' {
        return None;
    }
    let run = text[..p].iter().rev().take_while(|&&c| c == b'\\').count();
    if run % 2 == 1 {
        return None;
    }
    Some(if text.get(p + 1) == Some(&b'u') { 6 } else { 2 })
}

/// `(s, e)` widened so that neither end falls inside an escape.
fn whole_escapes(text: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    for p in s.saturating_sub(5)..s {
        if let Some(n) = escape_at(text, p)
            && p + n > s
        {
            s = p;
            break;
        }
    }
    for p in e.saturating_sub(6)..e {
        if let Some(n) = escape_at(text, p)
            && p + n > e
        {
            e = (p + n).min(text.len());
            break;
        }
    }
    (s, e)
}

impl Detectors {
    /// Spans `(start, end, detector)` of every detector hit in `text`.
    pub(crate) fn find(&self, text: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        let mut candidates = [false; MAX_DETECTORS];
        let mut any = false;
        for m in self.prefilter.find_overlapping_iter(text) {
            candidates[self.owner[m.pattern().as_usize()]] = true;
            any = true;
        }
        if !any {
            return;
        }
        let mut found = Vec::new();
        for (i, d) in self.list.iter().enumerate() {
            if !candidates[i] {
                continue;
            }
            found.clear();
            match &d.finder {
                Finder::Scan(scan) => scan(text, &mut found),
                Finder::Regex(re) => {
                    for c in re.captures_iter(text) {
                        let m = (1..c.len())
                            .find_map(|g| c.get(g))
                            .or_else(|| c.get(0))
                            .expect("a match has group 0");
                        found.push((m.start(), m.end()));
                    }
                }
            }
            for &(s, e) in &found {
                if e > s && d.check.is_none_or(|ok| ok(&text[s..e])) {
                    let (s, e) = whole_escapes(text, s, e);
                    out.push((s, e, i));
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.list.len()
    }

    /// The ids of the detectors whose pattern matches somewhere in `text`
    /// without one of their keywords inside the match (the prefilter would
    /// have skipped it).
    #[cfg(test)]
    pub(crate) fn matches_without_keyword(&self, text: &[u8]) -> Vec<&'static str> {
        let mut out = Vec::new();
        for d in &self.list {
            let Finder::Regex(re) = &d.finder else {
                continue;
            };
            for m in re.find_iter(text) {
                let lower = m.as_bytes().to_ascii_lowercase();
                let held = d.keywords.iter().any(|k| {
                    let k = k.to_ascii_lowercase();
                    lower.windows(k.len()).any(|w| w == k.as_bytes())
                });
                if !held {
                    out.push(d.id);
                }
            }
        }
        out
    }
}
