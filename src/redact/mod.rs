//! The redactor: one pass that removes, from anything that leaves the
//! process or is stored,
//!
//! - the exact values of every secret the process has loaded, and the forms
//!   they travel in (base64 standard and URL-safe, padded or not, also inside
//!   a larger base64 blob at each byte alignment; percent-encoding with `%20`
//!   and `+`; JSON escaping incl. `\/` and `\uXXXX`; hex in both cases; the
//!   composed `Bearer …` and Basic `user:pass` forms) → `[REDACTED:credential:NAME]`;
//!   besides, the text is decoded (`decode`: percent-escapes in any mix,
//!   JSON escapes anywhere, HTML references, quoted-printable, base64 blobs
//!   wrapped in lines or not, two decodings deep; UTF-16 and UTF-32 bodies
//!   before those, `body`) and a value found in a decoded view is replaced
//!   where it stands in the original;
//!   in JSON, a number whose digits are an all-digit secret is replaced too;
//! - token shapes from the curated detectors → `[REDACTED:pattern:ID]`;
//! - in JSON, values under sensitive keys and at the manifest's sensitive
//!   pointers → `[REDACTED:key]`;
//! - with `pii`, e-mail addresses, phone numbers, SSNs and Luhn-valid card
//!   numbers → `[REDACTED:pii:KIND]`.
//!
//! Known values are matched by Aho-Corasick automata (leftmost-longest, and
//! searched again from inside each match, so overlapping values are all
//! caught), built once per set of secrets and swapped atomically
//! (`SharedRedactor`), so the hot path takes no lock. With many long values,
//! a sampling filter (`sample`) rules out most text before the automaton
//! runs. Markers name what was removed, never it.

mod body;
mod count;
mod decode;
pub(crate) mod detectors;
mod forms;
mod keys;
mod known;
mod pii;
mod sample;
pub mod stream;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::Value;

pub(crate) use body::body_text;
pub(crate) use count::Redactions;
use forms::encodings;
pub(crate) use keys::{is_sensitive_key, may_hold_sensitive_keys};
use known::{Matchers, Pattern, Span};
pub use stream::StreamRedactor;

/// Secrets shorter than this cannot be removed by value without mangling
/// ordinary text (every "abc" in a result would go); `toolgate check` warns.
pub(crate) const MIN_REDACTABLE_LEN: usize = 8;

pub(crate) fn too_short_to_redact(value: &str) -> bool {
    value.len() < MIN_REDACTABLE_LEN
}

#[derive(Default)]
pub struct RedactorBuilder {
    patterns: Vec<Pattern>,
    seen: HashSet<String>,
    names: Vec<String>,
    /// Names of canary credentials (decoys watched for).
    canaries: HashSet<String>,
    no_detectors: bool,
    /// The longest value given (the stream's window covers its encoded forms).
    longest_value: usize,
    /// The shortest value given (base64 blobs shorter than its base64 are
    /// not decoded); 0 before the first.
    shortest_value: usize,
    /// All-digit values, matched in JSON numbers.
    digits: HashMap<String, usize>,
    /// Whether a value holds a space (so `+` is decoded as one).
    space: bool,
}

impl RedactorBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn name_index(&mut self, credential: &str) -> usize {
        match self.names.iter().position(|n| n == credential) {
            Some(i) => i,
            None => {
                self.names.push(credential.to_owned());
                self.names.len() - 1
            }
        }
    }

    /// The value and every encoding of it.
    pub fn known_secret(&mut self, credential: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            return self;
        }
        let idx = self.name_index(credential);
        self.longest_value = self.longest_value.max(value.len());
        self.shortest_value = match self.shortest_value {
            0 => value.len(),
            n => n.min(value.len()),
        };
        self.space |= value.contains(' ');
        if value.bytes().all(|b| b.is_ascii_digit()) {
            self.digits.insert(value.to_owned(), idx);
        }
        for form in encodings(value) {
            if !form.is_empty() && self.seen.insert(form.clone()) {
                self.patterns.push((form, idx));
            }
        }
        self
    }

    /// A form actually sent, such as `Bearer <value>`.
    pub(crate) fn composed(&mut self, credential: &str, sent_form: &str) -> &mut Self {
        self.known_secret(credential, sent_form)
    }

    /// The Basic-auth pair `user:password` (and so its base64 in the header).
    pub(crate) fn basic_pair(&mut self, credential: &str, user: &str, password: &str) -> &mut Self {
        self.known_secret(credential, &format!("{user}:{password}"))
    }

    /// Mark `credential`'s values as a canary's: redacted like any other,
    /// and counted apart ([`Redactions::canary`], [`Redactor::canary_in`]).
    pub(crate) fn canary(&mut self, credential: &str) -> &mut Self {
        self.canaries.insert(credential.to_owned());
        self
    }

    /// Token-shape detectors are on unless turned off here.
    pub fn detectors(&mut self, on: bool) -> &mut Self {
        self.no_detectors = !on;
        self
    }

    pub fn build(&self) -> Redactor {
        let mut markers: Vec<String> = self
            .names
            .iter()
            .map(|n| format!("[REDACTED:credential:{n}]"))
            .collect();
        let first_detector = markers.len();
        let canary = self
            .names
            .iter()
            .map(|n| self.canaries.contains(n))
            .collect();
        markers.extend(
            detectors::DETECTORS
                .list
                .iter()
                .map(|d| format!("[REDACTED:pattern:{}]", d.id)),
        );
        Redactor {
            known: Matchers::new(&self.patterns, self.space, self.shortest_value),
            digits: self.digits.clone(),
            markers,
            first_detector,
            canary,
            detectors: !self.no_detectors,
            longest: self
                .patterns
                .iter()
                .map(|(p, _)| p.len())
                .max()
                .unwrap_or(0)
                .max(self.longest_value * decode::MAX_EXPANSION),
        }
    }
}

/// An immutable matcher over a set of known secrets and the detectors.
pub struct Redactor {
    /// The known values' forms, searched in the text and its decoded views.
    known: Matchers,
    /// All-digit values, and their markers (matched in JSON numbers).
    digits: HashMap<String, usize>,
    /// Credential markers, then one marker per detector.
    markers: Vec<String>,
    first_detector: usize,
    /// Per credential marker: whether it is a canary's.
    canary: Vec<bool>,
    detectors: bool,
    longest: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct JsonOptions {
    pub sensitive_pointers: Vec<String>,
    pub pii: bool,
}

impl Redactor {
    /// No known secrets; detectors only.
    pub fn empty() -> Self {
        RedactorBuilder::new().build()
    }

    /// The longest known pattern, or encoded form of a known value to the
    /// decoding depth (the window a stream must hold back).
    pub fn longest_pattern(&self) -> usize {
        self.longest
    }

    fn spans(&self, text: &[u8], pii: bool) -> Vec<Span> {
        self.spans_of(text, self.detectors, pii)
    }

    fn spans_of(&self, text: &[u8], detectors: bool, pii: bool) -> Vec<Span> {
        let mut spans = Vec::new();
        self.known.find(text, &mut spans);
        if detectors {
            let mut found = Vec::new();
            detectors::DETECTORS.find(text, &mut found);
            spans.extend(
                found
                    .into_iter()
                    .map(|(s, e, d)| (s, e, self.first_detector + d)),
            );
        }
        if pii {
            pii::find(text, &mut spans);
        }
        if spans.len() > 1 {
            spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
            for s in spans {
                match merged.last_mut() {
                    Some(last) if s.0 < last.1 => last.1 = last.1.max(s.1),
                    _ => merged.push(s),
                }
            }
            return merged;
        }
        spans
    }

    /// The name of a loaded secret that `text` holds, in any form this
    /// redactor knows of it (the detectors' shapes are not looked for).
    pub(crate) fn known_secret_in(&self, text: &[u8]) -> Option<&str> {
        self.known_in(text, |_| true)
    }

    /// Whether any canary is known (else [`Redactor::canary_in`] is never worth a scan).
    pub(crate) fn has_canaries(&self) -> bool {
        self.canary.contains(&true)
    }

    /// The name of a canary whose value `text` holds, in any known form.
    pub(crate) fn canary_in(&self, text: &[u8]) -> Option<&str> {
        if !self.has_canaries() {
            return None;
        }
        self.known_in(text, |m| self.canary.get(m).copied().unwrap_or(false))
    }

    /// The name of the first known value in `text` whose marker `wanted` accepts.
    fn known_in(&self, text: &[u8], wanted: impl Fn(usize) -> bool) -> Option<&str> {
        let mut spans = Vec::new();
        self.known.find(text, &mut spans);
        spans.retain(|&(_, _, m)| wanted(m));
        let &(_, _, m) = spans.first()?;
        let marker = self.markers.get(m)?;
        marker
            .strip_prefix("[REDACTED:credential:")
            .and_then(|n| n.strip_suffix(']'))
    }

    fn marker(&self, m: usize) -> Cow<'_, str> {
        match self.markers.get(m) {
            Some(s) => Cow::Borrowed(s.as_str()),
            None => Cow::Owned(pii::marker(m)),
        }
    }

    fn apply(&self, text: &[u8], spans: &[Span]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let mut last = 0;
        for &(s, e, m) in spans {
            out.extend_from_slice(&text[last..s]);
            out.extend_from_slice(self.marker(m).as_bytes());
            last = e;
        }
        out.extend_from_slice(&text[last..]);
        out
    }

    pub(crate) fn redact_bytes<'a>(&self, b: &'a [u8]) -> (Cow<'a, [u8]>, usize) {
        let (out, n) = self.redact_bytes_counted(b);
        (out, n.total())
    }

    /// [`Redactor::redact_bytes`], counting by kind.
    pub(crate) fn redact_bytes_counted<'a>(&self, b: &'a [u8]) -> (Cow<'a, [u8]>, Redactions) {
        let spans = self.spans(b, false);
        if spans.is_empty() {
            return (Cow::Borrowed(b), Redactions::default());
        }
        (Cow::Owned(self.apply(b, &spans)), self.kinds(&spans))
    }

    pub fn redact_str<'a>(&self, s: &'a str) -> (Cow<'a, str>, usize) {
        let (out, n) = self.redact_text(s, false);
        (out, n.total())
    }

    /// [`Redactor::redact_str`], counting by kind.
    pub(crate) fn redact_str_counted<'a>(&self, s: &'a str) -> (Cow<'a, str>, Redactions) {
        self.redact_text(s, false)
    }

    /// How many of `spans` are of each kind, by their markers: the
    /// credentials' come first, then the detectors', then PII's.
    fn kinds(&self, spans: &[Span]) -> Redactions {
        let mut n = Redactions::default();
        for &(_, _, m) in spans {
            if m < self.first_detector {
                n.credential += 1;
                if self.canary.get(m).copied().unwrap_or(false) {
                    n.canary += 1;
                }
            } else if m < self.markers.len() {
                n.pattern += 1;
            } else {
                n.pii += 1;
            }
        }
        n
    }

    fn redact_text<'a>(&self, s: &'a str, pii: bool) -> (Cow<'a, str>, Redactions) {
        let spans = self.spans(s.as_bytes(), pii);
        if spans.is_empty() {
            return (Cow::Borrowed(s), Redactions::default());
        }
        let out = self.apply(s.as_bytes(), &spans);
        // Spans can cut a multi-byte character only if a secret itself starts
        // or ends mid-character, which a &str secret cannot.
        (
            Cow::Owned(String::from_utf8_lossy(&out).into_owned()),
            self.kinds(&spans),
        )
    }

    /// Redact a JSON value in place: values at the sensitive pointers and
    /// under sensitive keys whole, then known secrets, token shapes (and
    /// PII when asked) in every string and object key.
    pub(crate) fn redact_json(&self, v: &mut Value, opts: &JsonOptions) -> usize {
        self.redact_json_counted(v, opts).total()
    }

    /// [`Redactor::redact_json`], counting by kind.
    pub(crate) fn redact_json_counted(&self, v: &mut Value, opts: &JsonOptions) -> Redactions {
        let mut count = Redactions::default();
        for p in &opts.sensitive_pointers {
            let tokens: Vec<String> = p
                .split('/')
                .skip(1)
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect();
            count.key += blank_at(v, &tokens);
        }
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => {
                    if let (Cow::Owned(r), n) = self.redact_text(s, opts.pii) {
                        *s = r;
                        count += n;
                    }
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => {
                    for (k, val) in map.iter_mut() {
                        if is_sensitive_key(k)
                            && *val != Value::String("[REDACTED:key]".into())
                            && !val.is_null()
                        {
                            *val = Value::String("[REDACTED:key]".into());
                            count.key += 1;
                        }
                    }
                    if map
                        .keys()
                        .any(|k| !self.spans(k.as_bytes(), false).is_empty())
                    {
                        let old = std::mem::take(map);
                        for (k, val) in old {
                            let (k2, n) = self.redact_str_counted(&k);
                            count += n;
                            map.insert(k2.into_owned(), val);
                        }
                    }
                    stack.extend(map.values_mut());
                }
                Value::Number(_) => {
                    if let Some(m) = self.number(v) {
                        count.credential += 1;
                        count.canary += usize::from(self.canary.get(m).copied().unwrap_or(false));
                    }
                }
                _ => {}
            }
        }
        count
    }

    /// A number whose digits are an all-digit known value becomes its
    /// marker, a string. The marker's index, if it did.
    fn number(&self, v: &mut Value) -> Option<usize> {
        if self.digits.is_empty() {
            return None;
        }
        let Value::Number(n) = v else { return None };
        let &m = self.digits.get(&n.to_string())?;
        *v = Value::String(self.marker(m).into_owned());
        Some(m)
    }

    /// `s` with only the loaded secrets removed — what a person deciding on
    /// a request may see of what a model wrote: token shapes are flagged
    /// for them ([`Redactor::token_shapes`]), not hidden.
    pub(crate) fn redact_known_str<'a>(&self, s: &'a str) -> (Cow<'a, str>, usize) {
        let spans = self.spans_of(s.as_bytes(), false, false);
        if spans.is_empty() {
            return (Cow::Borrowed(s), 0);
        }
        let out = self.apply(s.as_bytes(), &spans);
        (
            Cow::Owned(String::from_utf8_lossy(&out).into_owned()),
            spans.len(),
        )
    }

    /// [`Redactor::redact_known_str`] over every string and object key of `v`.
    pub(crate) fn redact_known_json(&self, v: &mut Value) -> usize {
        let mut count = 0;
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => {
                    if let (Cow::Owned(r), n) = self.redact_known_str(s) {
                        *s = r;
                        count += n;
                    }
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => {
                    let old = std::mem::take(map);
                    for (k, val) in old {
                        let (k2, n) = self.redact_known_str(&k);
                        count += n;
                        map.insert(k2.into_owned(), val);
                    }
                    stack.extend(map.values_mut());
                }
                Value::Number(_) => count += usize::from(self.number(v).is_some()),
                _ => {}
            }
        }
        count
    }

    /// The ids of the token-shape detectors that match in `text`, each once,
    /// in the order they first match.
    pub(crate) fn token_shapes(&self, text: &[u8]) -> Vec<&'static str> {
        let mut found = Vec::new();
        detectors::DETECTORS.find(text, &mut found);
        found.sort_unstable();
        let mut ids: Vec<&'static str> = Vec::new();
        for (_, _, d) in found {
            let id = detectors::DETECTORS.list[d].id;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// A streaming redactor over this one (chunks in, redacted bytes out).
    pub fn stream(self: &Arc<Self>) -> StreamRedactor {
        StreamRedactor::new(self.clone(), None)
    }

    /// A streaming redactor for a body of the given content type (whose
    /// `charset` may say it is UTF-16 or UTF-32).
    pub fn stream_for(self: &Arc<Self>, content_type: Option<&str>) -> StreamRedactor {
        StreamRedactor::new(self.clone(), content_type)
    }
}

/// Replace the values at a pointer (`*` = every array item) with `[REDACTED:key]`.
fn blank_at(v: &mut Value, tokens: &[String]) -> usize {
    let Some((first, rest)) = tokens.split_first() else {
        *v = Value::String("[REDACTED:key]".into());
        return 1;
    };
    match v {
        Value::Object(m) => m.get_mut(first).map_or(0, |c| blank_at(c, rest)),
        Value::Array(items) if first == "*" => items.iter_mut().map(|i| blank_at(i, rest)).sum(),
        Value::Array(items) => first
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get_mut(i))
            .map_or(0, |c| blank_at(c, rest)),
        _ => 0,
    }
}

/// The current redactor, swapped atomically when the set of secrets changes.
pub struct SharedRedactor {
    current: ArcSwap<Redactor>,
}

impl SharedRedactor {
    pub fn new(r: Redactor) -> Self {
        SharedRedactor {
            current: ArcSwap::from_pointee(r),
        }
    }

    pub fn load(&self) -> Arc<Redactor> {
        self.current.load_full()
    }

    pub(crate) fn replace(&self, r: Redactor) {
        self.current.store(Arc::new(r));
    }
}

impl std::fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the type: it holds every secret value.
        f.debug_struct("RedactorBuilder").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the type: it holds every secret value.
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SharedRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedactor").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
