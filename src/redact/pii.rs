//! PII detectors, off unless a tool sets `pii: true`: e-mail addresses,
//! phone numbers, US social security numbers, and payment card numbers that
//! pass the Luhn check.

use std::sync::LazyLock;

use regex::bytes::Regex;

const KINDS: [&str; 4] = ["email", "phone", "ssn", "card"];
/// Marker indices for PII sit at the top of the index space.
const BASE: usize = usize::MAX - 8;

static PATTERNS: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        Regex::new(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b").unwrap(),
        Regex::new(r"(?:\+\d{1,3}[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b").unwrap(),
        Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").unwrap(),
        Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").unwrap(),
    ]
});

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

pub(super) fn find(text: &[u8], out: &mut Vec<(usize, usize, usize)>) {
    for (kind, re) in PATTERNS.iter().enumerate() {
        for m in re.find_iter(text) {
            if KINDS[kind] == "card" {
                let digits: Vec<u8> = m
                    .as_bytes()
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .collect();
                if !(13..=19).contains(&digits.len()) || !luhn(&digits) {
                    continue;
                }
            }
            out.push((m.start(), m.end(), BASE + kind));
        }
    }
}

pub(super) fn marker(m: usize) -> String {
    let kind = m
        .checked_sub(BASE)
        .and_then(|k| KINDS.get(k))
        .unwrap_or(&"pii");
    format!("[REDACTED:pii:{kind}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        find(s.as_bytes(), &mut out);
        out.iter().map(|(_, _, m)| marker(*m)).collect()
    }

    #[test]
    fn pii_vectors() {
        assert_eq!(
            hits("write to ada.lovelace@example.com today"),
            ["[REDACTED:pii:email]"]
        );
        assert_eq!(hits("call +1 415-555-0100"), ["[REDACTED:pii:phone]"]);
        assert_eq!(hits("ssn 078-05-1120"), ["[REDACTED:pii:ssn]"]);
        assert_eq!(hits("card 4111 1111 1111 1111"), ["[REDACTED:pii:card]"]);
        assert!(hits("order 4111 1111 1111 1112").is_empty(), "fails Luhn");
        assert!(hits("version 1.2.3, 2026-11-22, id 12345").is_empty());
    }
}
