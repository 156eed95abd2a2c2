//! What one redaction pass removed, by kind — the `kind` label of
//! `toolgate_redactions_total`.

use std::ops::AddAssign;

/// Removals by kind: a loaded secret, a detector's token shape, a value
/// under a sensitive key or pointer, personal data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Redactions {
    pub credential: usize,
    pub pattern: usize,
    pub key: usize,
    pub pii: usize,
    /// Of the `credential` removals, how many were a canary's value (not
    /// a kind of its own: the marker does not tell a canary apart).
    pub canary: usize,
}

impl Redactions {
    /// Every removal, whatever its kind.
    pub(crate) fn total(&self) -> usize {
        self.credential + self.pattern + self.key + self.pii
    }

    /// Each kind with its label value.
    pub(crate) fn by_kind(&self) -> [(&'static str, usize); 4] {
        [
            ("credential", self.credential),
            ("pattern", self.pattern),
            ("key", self.key),
            ("pii", self.pii),
        ]
    }
}

impl AddAssign for Redactions {
    fn add_assign(&mut self, o: Redactions) {
        self.credential += o.credential;
        self.pattern += o.pattern;
        self.key += o.key;
        self.pii += o.pii;
        self.canary += o.canary;
    }
}
