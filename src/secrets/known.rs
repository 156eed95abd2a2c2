//! Every secret value the process holds, as the redactor must know it.
//!
//! Owns the redactor's list of known values: each credential's recent
//! versions (per subject where it has subjects), in every form they are
//! sent in, and the other secrets toolgate holds for itself (webhook keys,
//! refresh tokens, …). A value is learned here **before** it can be used,
//! and an earlier version stays known after a rotation.
//!
//! Nothing in here reads a source or decides which value is current; it
//! never logs or returns a value.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};

use crate::config::{CredentialDef, Inject};
use crate::redact::{Redactor, RedactorBuilder, SharedRedactor};

/// How many earlier versions of each credential (per subject) stay known.
pub(super) const PREVIOUS_VERSIONS_KEPT: usize = 8;

/// The values of one credential (or one subject of it), oldest first.
struct History {
    def: Arc<CredentialDef>,
    values: VecDeque<SecretString>,
}

#[derive(Default)]
struct State {
    /// Keyed by credential name and subject ("" without one).
    credentials: BTreeMap<(String, String), History>,
    extra: BTreeMap<String, SecretString>,
}

/// The known values and the redactor built from them.
pub(super) struct Known {
    redactor: Arc<SharedRedactor>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Known").finish_non_exhaustive()
    }
}

impl Known {
    pub(super) fn new(redactor: Arc<SharedRedactor>) -> Known {
        Known {
            redactor,
            state: Mutex::new(State::default()),
        }
    }

    /// A new version of credential `def` (for `subject`, if it has one):
    /// from now on redacted in every form it is sent in. The redactor is
    /// replaced before this returns.
    pub(super) fn learn(
        &self,
        def: &Arc<CredentialDef>,
        subject: Option<&str>,
        value: &SecretString,
    ) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = (def.name.clone(), subject.unwrap_or_default().to_owned());
        let history = state.credentials.entry(key).or_insert_with(|| History {
            def: def.clone(),
            values: VecDeque::new(),
        });
        history
            .values
            .retain(|v| v.expose_secret() != value.expose_secret());
        history.values.push_back(value.clone());
        while history.values.len() > PREVIOUS_VERSIONS_KEPT + 1 {
            history.values.pop_front();
        }
        self.redactor.replace(build(&state));
    }

    /// A secret that is not a credential, known under `name` (replacing
    /// the value it had under that name).
    pub(super) fn remember(&self, name: &str, value: &SecretString) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state
            .extra
            .get(name)
            .is_some_and(|v| v.expose_secret() == value.expose_secret())
        {
            return;
        }
        state.extra.insert(name.to_owned(), value.clone());
        self.redactor.replace(build(&state));
    }
}

fn build(state: &State) -> Redactor {
    let mut b = RedactorBuilder::new();
    for (name, v) in &state.extra {
        b.known_secret(name, v.expose_secret());
    }
    for h in state.credentials.values() {
        if h.def.canary {
            b.canary(&h.def.name);
        }
        for v in &h.values {
            add_forms(&mut b, &h.def, v);
        }
    }
    b.build()
}

/// Every form in which a credential's value is sent.
fn add_forms(b: &mut RedactorBuilder, def: &CredentialDef, value: &SecretString) {
    let v = value.expose_secret();
    b.known_secret(&def.name, v);
    match &def.inject {
        Inject::Header { prefix, suffix, .. } => {
            if !prefix.is_empty() || !suffix.is_empty() {
                b.composed(&def.name, &format!("{prefix}{v}{suffix}"));
            }
        }
        Inject::Basic { username } => {
            b.basic_pair(&def.name, username, v);
        }
        Inject::Query { .. } | Inject::Never => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Loc, SourceDef};

    fn def(name: &str) -> Arc<CredentialDef> {
        Arc::new(CredentialDef {
            name: name.to_owned(),
            environment: "test".into(),
            source: SourceDef::Env("X".into()),
            scopes: Default::default(),
            inject: Inject::Header {
                name: http::header::AUTHORIZATION,
                prefix: "Token ".into(),
                suffix: String::new(),
            },
            canary: false,
            max_age_days: None,
            rotated_at: None,
            rotation: None,
            loc: Loc {
                file: "toolgate.yaml".into(),
                line: 1,
                key: "crm".into(),
            },
        })
    }

    fn value(i: usize) -> String {
        format!("value-{i:02}-+/=&%\"\\-{}", rand::random::<u64>())
    }

    #[test]
    fn the_newest_versions_per_subject_and_every_extra_stay_redacted() {
        let redactor = Arc::new(SharedRedactor::new(RedactorBuilder::new().build()));
        let known = Known::new(redactor.clone());
        let crm = def("crm");
        let values: Vec<String> = (0..PREVIOUS_VERSIONS_KEPT + 2).map(value).collect();
        for v in &values {
            known.learn(&crm, None, &SecretString::from(v.clone()));
        }
        let alice = value(99);
        known.learn(&crm, Some("alice"), &SecretString::from(alice.clone()));
        let webhook = value(98);
        known.remember("notify:main", &SecretString::from(webhook.clone()));
        let redacted = |v: &str| redactor.load().redact_str(&format!("x {v} y")).1 >= 1;
        // The current value and the 8 before it; the oldest is forgotten.
        assert!(!redacted(&values[0]));
        for v in &values[1..] {
            assert!(redacted(v), "a recent version is redacted");
        }
        // In the form it is sent in, too.
        let sent = format!("Token {}", values[values.len() - 1]);
        let r = redactor.load();
        let (out, _) = r.redact_str(&sent);
        assert!(!out.contains(values[values.len() - 1].as_str()));
        // A subject's history is its own: learning it forgot none of the others.
        assert!(redacted(&alice) && redacted(&webhook) && redacted(&values[1]));
        assert!(!format!("{known:?}").contains("value-"));
    }
}
