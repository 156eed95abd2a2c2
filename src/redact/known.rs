//! Known values: automata over every form of them, searched in the text
//! and in each decoded view of it ([`crate::redact::decode`]), a match in a
//! view becoming the span of the original it was decoded from.

use aho_corasick::{AhoCorasick, Input, MatchKind};

use crate::redact::decode::{Scan, Views};
use crate::redact::sample::{MAX_MIN_LEN, MIN_LEN, Sampler};

/// A form of a known value, and the index of the credential it belongs to.
pub(crate) type Pattern = (String, usize);

/// A region to replace and the marker to put there.
pub(crate) type Span = (usize, usize, usize);

/// With more long patterns than this, the sampling filter goes first (up to
/// here Aho-Corasick's own SIMD prefilter is faster).
const SAMPLE_ABOVE: usize = 64;

/// One automaton and, per pattern, the credential it belongs to.
struct Known {
    ac: AhoCorasick,
    owner: Vec<usize>,
}

impl Known {
    fn new(patterns: &[&Pattern]) -> Option<Known> {
        if patterns.is_empty() {
            return None;
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns.iter().map(|(p, _)| p.as_bytes()))
            .ok()?;
        Some(Known {
            ac,
            owner: patterns.iter().map(|(_, o)| *o).collect(),
        })
    }

    /// Every match in `text` (offset by `base`), including ones that start
    /// inside an earlier match.
    fn find_into(&self, text: &[u8], base: usize, spans: &mut Vec<Span>) {
        let mut at = 0;
        while at < text.len() {
            let Some(m) = self.ac.find(Input::new(text).span(at..text.len())) else {
                break;
            };
            spans.push((
                base + m.start(),
                base + m.end(),
                self.owner[m.pattern().as_usize()],
            ));
            at = m.start() + 1;
        }
    }
}

/// The automata over every known pattern.
pub(crate) struct Matchers {
    /// Known values searched directly.
    short: Option<Known>,
    /// Many long known values: the sampling filter, then the automaton
    /// around its hits.
    long: Option<(Sampler, Known)>,
    /// What decoding reads (`+` as a space when a known value holds one;
    /// base64 blobs as long as the shortest value's base64).
    scan: Scan,
}

impl Matchers {
    /// `shortest`: the shortest known value's length.
    pub(crate) fn new(patterns: &[Pattern], plus: bool, shortest: usize) -> Matchers {
        // The sampler stands in for every pattern of at least `min_len`
        // bytes; the rest (at most SAMPLE_ABOVE, so the automaton keeps its
        // SIMD prefilter) are searched directly. The longer `min_len`, the
        // sparser the samples.
        let mut lens: Vec<usize> = patterns.iter().map(|(p, _)| p.len()).collect();
        lens.sort_unstable();
        let min_len = lens
            .get(SAMPLE_ABOVE)
            .copied()
            .unwrap_or(0)
            .clamp(MIN_LEN, MAX_MIN_LEN);
        let (long, short): (Vec<&Pattern>, Vec<&Pattern>) =
            patterns.iter().partition(|(p, _)| p.len() >= min_len);
        let (short, long) = if long.len() > SAMPLE_ABOVE {
            let sampler = Sampler::new(long.iter().map(|(p, _)| p.as_bytes()), min_len);
            (Known::new(&short), Known::new(&long).map(|k| (sampler, k)))
        } else {
            let all: Vec<&Pattern> = patterns.iter().collect();
            (Known::new(&all), None)
        };
        // A value's base64, or the base64 of a longer form of it, fills at
        // least this many characters.
        let min_b64 = (shortest * 4).div_ceil(3).max(11);
        Matchers {
            short,
            long,
            scan: Scan { plus, min_b64 },
        }
    }

    /// Whether the sampling filter goes first.
    #[cfg(test)]
    pub(crate) fn sampled(&self) -> bool {
        self.long.is_some()
    }

    /// The matches in `text` as it stands.
    fn literal(&self, text: &[u8], spans: &mut Vec<Span>) {
        if let Some(k) = &self.short {
            k.find_into(text, 0, spans);
        }
        if let Some((sampler, k)) = &self.long {
            let mut regions = Vec::new();
            sampler.regions(text, &mut regions);
            for (a, b) in regions {
                k.find_into(&text[a..b], a, spans);
            }
        }
    }

    /// Every match of a known pattern in `text` and in each decoded view
    /// of it, as spans of `text`.
    pub(crate) fn find(&self, text: &[u8], spans: &mut Vec<Span>) {
        if self.short.is_none() && self.long.is_none() {
            return;
        }
        self.literal(text, spans);
        let views = Views::of(text, self.scan);
        let mut found = Vec::new();
        for (i, t) in views.texts() {
            found.clear();
            self.literal(t, &mut found);
            spans.extend(found.iter().map(|&(a, b, m)| {
                let (s, e) = views.source(i, a, b);
                (s, e, m)
            }));
        }
    }
}
