//! The redactor: removes every loaded secret, in the encodings it travels in,
//! from anything that leaves the process or is stored.
//!
//! Values are matched with one Aho-Corasick automaton (leftmost-longest),
//! built once per set of known secrets and swapped atomically, so the hot
//! path takes no lock. Markers name the credential, never the value.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Secrets shorter than this cannot be removed by value without mangling ordinary text.
pub const MIN_REDACTABLE_LEN: usize = 8;

pub fn too_short_to_redact(value: &str) -> bool {
    value.len() < MIN_REDACTABLE_LEN
}

#[derive(Default)]
pub struct RedactorBuilder {
    patterns: Vec<(String, usize)>,
    names: Vec<String>,
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

    fn add(&mut self, idx: usize, p: String) {
        if !p.is_empty() && !self.patterns.iter().any(|(q, _)| *q == p) {
            self.patterns.push((p, idx));
        }
    }

    /// The value and its encodings.
    pub fn known_secret(&mut self, credential: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            return self;
        }
        let idx = self.name_index(credential);
        for form in encodings(value) {
            self.add(idx, form);
        }
        self
    }

    /// A form actually sent, such as `Bearer <value>`.
    pub fn composed(&mut self, credential: &str, sent_form: &str) -> &mut Self {
        self.known_secret(credential, sent_form)
    }

    pub fn basic_pair(&mut self, credential: &str, user: &str, password: &str) -> &mut Self {
        let pair = format!("{user}:{password}");
        self.known_secret(credential, &pair)
    }

    pub fn build(&self) -> Redactor {
        let markers = self
            .names
            .iter()
            .map(|n| format!("[REDACTED:credential:{n}]"))
            .collect();
        let automaton = if self.patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(self.patterns.iter().map(|(p, _)| p.as_bytes()))
                .ok()
        };
        Redactor {
            automaton,
            pattern_owner: self.patterns.iter().map(|(_, i)| *i).collect(),
            markers,
        }
    }
}

fn encodings(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json[1..json.len() - 1].to_owned();
    let pct = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
    vec![
        value.to_owned(),
        json.replace('/', "\\/"),
        json,
        pct.replace("%20", "+"),
        pct,
        STANDARD.encode(b),
        STANDARD_NO_PAD.encode(b),
        URL_SAFE.encode(b),
        URL_SAFE_NO_PAD.encode(b),
        hex::encode(b),
        hex::encode_upper(b),
    ]
}

/// An immutable matcher over a set of known secrets.
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    pattern_owner: Vec<usize>,
    markers: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct JsonOptions {
    pub sensitive_pointers: Vec<String>,
    pub pii: bool,
}

impl Redactor {
    pub fn empty() -> Self {
        RedactorBuilder::new().build()
    }

    pub fn redact_str<'a>(&self, s: &'a str) -> (Cow<'a, str>, usize) {
        let Some(ac) = &self.automaton else {
            return (Cow::Borrowed(s), 0);
        };
        let mut out = String::new();
        let mut last = 0;
        let mut count = 0;
        for m in ac.find_iter(s) {
            out.push_str(&s[last..m.start()]);
            out.push_str(&self.markers[self.pattern_owner[m.pattern().as_usize()]]);
            last = m.end();
            count += 1;
        }
        if count == 0 {
            return (Cow::Borrowed(s), 0);
        }
        out.push_str(&s[last..]);
        (Cow::Owned(out), count)
    }

    pub fn redact_bytes<'a>(&self, b: &'a [u8]) -> (Cow<'a, [u8]>, usize) {
        let Some(ac) = &self.automaton else {
            return (Cow::Borrowed(b), 0);
        };
        let mut out = Vec::new();
        let mut last = 0;
        let mut count = 0;
        for m in ac.find_iter(b) {
            out.extend_from_slice(&b[last..m.start()]);
            out.extend_from_slice(
                self.markers[self.pattern_owner[m.pattern().as_usize()]].as_bytes(),
            );
            last = m.end();
            count += 1;
        }
        if count == 0 {
            return (Cow::Borrowed(b), 0);
        }
        out.extend_from_slice(&b[last..]);
        (Cow::Owned(out), count)
    }

    /// Redact a JSON value in place: values at the sensitive pointers whole,
    /// then every known secret in any string or object key.
    pub fn redact_json(&self, v: &mut Value, opts: &JsonOptions) -> usize {
        let mut count = 0;
        for p in &opts.sensitive_pointers {
            let tokens: Vec<String> = p
                .split('/')
                .skip(1)
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect();
            count += blank_at(v, &tokens);
        }
        if self.automaton.is_none() {
            return count;
        }
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => {
                    if let (Cow::Owned(r), n) = self.redact_str(s) {
                        *s = r;
                        count += n;
                    }
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => {
                    let keys_hit = map.keys().any(|k| self.redact_str(k).1 > 0);
                    if keys_hit {
                        let old = std::mem::take(map);
                        for (k, val) in old {
                            let (k2, n) = self.redact_str(&k);
                            count += n;
                            map.insert(k2.into_owned(), val);
                        }
                    }
                    stack.extend(map.values_mut());
                }
                _ => {}
            }
        }
        count
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

    pub fn replace(&self, r: Redactor) {
        self.current.store(Arc::new(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_value_and_encodings() {
        let secret = "s3cr+t/=&%\"\\ value";
        let r = RedactorBuilder::new().known_secret("crm", secret).build();
        for form in encodings(secret) {
            let text = format!("before {form} after");
            let (out, n) = r.redact_str(&text);
            assert!(n >= 1);
            assert_eq!(out, "before [REDACTED:credential:crm] after");
        }
        let mut v = serde_json::json!({"a": [format!("x{secret}y")], secret: 1});
        assert_eq!(r.redact_json(&mut v, &JsonOptions::default()), 2);
        assert!(!v.to_string().contains("s3cr"));
        let mut v = serde_json::json!({"ssn": "123-45-6789", "people": [{"card": "4111"}, {"card": "4242"}], "ok": 1});
        let opts = JsonOptions {
            sensitive_pointers: vec!["/ssn".into(), "/people/*/card".into(), "/absent".into()],
            pii: false,
        };
        assert_eq!(RedactorBuilder::new().build().redact_json(&mut v, &opts), 3);
        assert_eq!(
            v,
            serde_json::json!({"ssn": "[REDACTED:key]", "people": [{"card": "[REDACTED:key]"}, {"card": "[REDACTED:key]"}], "ok": 1})
        );
    }
}
