//! A sampling prefilter for many long known patterns.
//!
//! With more patterns than Aho-Corasick's SIMD prefilter takes, the
//! automaton looks at every byte. Known values are long and random, so
//! almost all text can be ruled out much more cheaply: every pattern of at
//! least `min_len` bytes contains, wherever it occurs, the two [`Q`]-byte
//! windows starting at some text position that is a multiple of
//! `step = min_len - Q` and at the position after it. So it is enough to
//! look up, at every `STEP`-th position, whether those `Q` bytes occur
//! anywhere in any pattern — a filter of all patterns' `Q`-grams (a blocked
//! Bloom filter: two bits in one 64-bit word, one memory access) — and, on
//! a hit, the window one byte on (a false candidate must pass both, so
//! false candidates are rare even with a crowded filter). Only around a
//! double hit does the automaton run, over a window wide enough to hold any
//! pattern through that position. A miss is certain; a hit is only a candidate, confirmed
//! by the automaton.

/// Bytes per sampled window.
pub(super) const Q: usize = 8;
/// Shortest pattern the sampler may stand in for.
pub(super) const MIN_LEN: usize = 16;
/// Longest minimum length worth using (beyond it the windows barely help).
pub(super) const MAX_MIN_LEN: usize = 64;

pub(super) struct Sampler {
    /// Distance between sampled positions (`min_len - Q`): any occurrence of
    /// a pattern holds the windows at some sampled position `i` *and* at `i + 1`.
    step: usize,
    words: Vec<u64>,
    /// `64 - log2(words.len())`: the shift that turns a hash into a word index.
    shift: u32,
    /// The longest pattern: how far around a hit a match may reach.
    longest: usize,
}

#[inline]
fn hash(gram: u64) -> u64 {
    // A multiply-xorshift mix (the finaliser of a well-known 64-bit hash).
    let mut h = gram ^ (gram >> 33);
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[inline]
fn gram_at(text: &[u8], i: usize) -> u64 {
    let mut b = [0u8; Q];
    b.copy_from_slice(&text[i..i + Q]);
    u64::from_le_bytes(b)
}

impl Sampler {
    /// A filter over every `Q`-gram of `patterns`, each at least `min_len`
    /// (≥ [`MIN_LEN`]) long: the longer the shortest, the sparser the samples.
    pub(super) fn new<'p>(
        patterns: impl Iterator<Item = &'p [u8]> + Clone,
        min_len: usize,
    ) -> Sampler {
        debug_assert!(min_len >= MIN_LEN);
        let grams: usize = patterns
            .clone()
            .map(|p| p.len().saturating_sub(Q - 1))
            .sum();
        // ~16 bits per gram: one window passes falsely ~1.5 % of the time,
        // two in a row ~0.02 %; the filter stays small enough to cache.
        let bits = (grams.max(1) * 16)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 31);
        let words = bits / 64;
        let mut s = Sampler {
            step: min_len - Q,
            words: vec![0; words],
            shift: 64 - words.trailing_zeros(),
            longest: 0,
        };
        for p in patterns {
            debug_assert!(p.len() >= min_len);
            s.longest = s.longest.max(p.len());
            for i in 0..=p.len() - Q {
                let (w, m) = s.slot(gram_at(p, i));
                s.words[w] |= m;
            }
        }
        s
    }

    #[inline]
    fn slot(&self, gram: u64) -> (usize, u64) {
        let h = hash(gram);
        let w = (h >> self.shift) as usize;
        let m = (1u64 << (h & 63)) | (1u64 << ((h >> 6) & 63));
        (w, m)
    }

    #[inline]
    fn maybe(&self, gram: u64) -> bool {
        let (w, m) = self.slot(gram);
        self.words[w] & m == m
    }

    /// The regions of `text` that may hold a pattern, in order, disjoint.
    /// Every occurrence of every pattern lies wholly inside one of them.
    pub(super) fn regions(&self, text: &[u8], out: &mut Vec<(usize, usize)>) {
        if text.len() < self.step + Q + 1 {
            if !text.is_empty() {
                out.push((0, text.len()));
            }
            return;
        }
        let reach_back = self.longest - Q;
        let mut i = 0;
        while i + Q < text.len() {
            // Both windows must be known: false candidates become rare.
            if self.maybe(gram_at(text, i)) && self.maybe(gram_at(text, i + 1)) {
                let start = i.saturating_sub(reach_back);
                let end = (i + self.longest).min(text.len());
                match out.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => out.push((start, end)),
                }
            }
            i += self.step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_lies_in_a_region_at_every_offset() {
        let patterns: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("secret-{i:04}-abcdefghijkl").into_bytes())
            .collect();
        let s = Sampler::new(patterns.iter().map(|p| p.as_slice()), 21);
        for p in patterns.iter().step_by(37) {
            for offset in 0..40 {
                let mut text = vec![b'x'; offset];
                text.extend_from_slice(p);
                text.extend_from_slice(b" and some text after it");
                let mut regions = Vec::new();
                s.regions(&text, &mut regions);
                assert!(
                    regions
                        .iter()
                        .any(|&(a, b)| a <= offset && offset + p.len() <= b),
                    "offset {offset}: {regions:?}"
                );
            }
        }
        // Text without any of them yields (almost) no region.
        let plain: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"name\":\"Lead {i}\"}},").into_bytes())
            .collect();
        let mut regions = Vec::new();
        s.regions(&plain, &mut regions);
        let covered: usize = regions.iter().map(|(a, b)| b - a).sum();
        assert!(covered < plain.len() / 50, "{covered} of {}", plain.len());
    }
}
