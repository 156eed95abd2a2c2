//! Who is calling: agents, approvers and admins, each by their own key — or,
//! over mutual TLS, by a client certificate alone.
//!
//! Config holds only the SHA-256 of each key. A presented key is hashed once
//! and compared with every configured hash in constant time, without early
//! exit, so timing reveals neither which identity matched nor how much of a
//! hash did. Keys are generated here too (`toolgate keygen`).
//!
//! An identity without a key is known by its certificate pin (`cert_sha256`,
//! `cert_uri`): a request with no `Authorization` header over a connection
//! whose certificate matches that pin — and no other — is that identity. In
//! place of a key hash it has the SHA-256 of its pin, under which
//! revocations and sessions are kept (a new pin is, like a new key, a new
//! credential); no key is ever checked against it.
//!
//! An approver or admin may also be known at the console's single sign-on
//! provider (`oidc_subject`, `email`); a console session signed in that way
//! names its holder by the SHA-256 of the issuer and that name, looked up
//! again on every request as a key's hash is.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::config::{CertPin, Config, SsoNames};
use crate::tls::PeerCert;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Approver,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    Agent {
        name: String,
        workflow: String,
    },
    Approver {
        name: String,
        workflows: Vec<String>,
    },
    Admin {
        name: String,
    },
}

impl Caller {
    /// The identity's configured name, whatever its role.
    pub(crate) fn name(&self) -> &str {
        match self {
            Caller::Agent { name, .. } | Caller::Approver { name, .. } | Caller::Admin { name } => {
                name
            }
        }
    }
}

/// An admin acting, and how when not over the REST API (`console`): the
/// records of what they do say so (`admin_via`, `admin_sign_in`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Acting<'a> {
    pub name: &'a str,
    pub via: Option<Via>,
}

/// How a person reached toolgate when not over the REST API: the door
/// (`console`) and how they signed in there (`key`, `oidc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Via {
    pub door: &'static str,
    pub sign_in: &'static str,
}

impl Via {
    /// The door and the sign-in, as the trail's `*_via` and `*_sign_in` fields.
    pub(crate) fn fields(via: Option<Via>) -> (Option<String>, Option<String>) {
        (
            via.map(|v| v.door.to_owned()),
            via.map(|v| v.sign_in.to_owned()),
        )
    }
}

/// Every configured identity, with its key hash (or its pin's) and whether
/// it has a key.
pub struct Identities {
    entries: Vec<([u8; 32], Arc<Caller>, bool)>,
    /// The identities pinned to a client certificate, and how.
    pins: Vec<(Arc<Caller>, CertPin)>,
    /// With `ui.oidc`: the approvers and admins known at the provider.
    sso: Vec<(Arc<Caller>, SsoNames)>,
    /// `ui.oidc`'s issuer, part of every single sign-on holder's hash.
    issuer: String,
}

impl Identities {
    pub(crate) fn new(config: &Config) -> Self {
        let mut entries = Vec::new();
        let mut pins = Vec::new();
        let mut sso = Vec::new();
        let oidc = config.ui.oidc.is_some();
        let mut add =
            |key: Option<[u8; 32]>, caller: Caller, pin: &Option<CertPin>, names: &SsoNames| {
                let caller = Arc::new(caller);
                if let Some(pin) = pin {
                    pins.push((caller.clone(), pin.clone()));
                }
                if oidc && !names.is_empty() {
                    sso.push((caller.clone(), names.clone()));
                }
                // Config refuses an identity with neither a key nor a pin.
                let Some(hash) = key.or_else(|| pin.as_ref().map(pin_sha256)) else {
                    return;
                };
                entries.push((hash, caller, key.is_some()));
            };
        for a in config.agents.values() {
            let caller = Caller::Agent {
                name: a.name.clone(),
                workflow: a.workflow.clone(),
            };
            add(a.key_sha256, caller, &a.pin, &SsoNames::default());
        }
        for a in config.approvers.values() {
            let caller = Caller::Approver {
                name: a.name.clone(),
                workflows: a.workflows.clone(),
            };
            add(a.key_sha256, caller, &a.pin, &a.sso);
        }
        for a in config.admins.values() {
            let caller = Caller::Admin {
                name: a.name.clone(),
            };
            add(a.key_sha256, caller, &a.pin, &a.sso);
        }
        Identities {
            entries,
            pins,
            sso,
            issuer: config
                .ui
                .oidc
                .as_ref()
                .map(|o| o.issuer.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether `caller`'s key may be used over a connection that showed
    /// `cert`: a pinned identity only over its certificate, and nobody over
    /// a certificate pinned to another identity.
    pub(crate) fn cert_allows(&self, caller: &Arc<Caller>, cert: Option<&PeerCert>) -> bool {
        self.pins.iter().all(|(pinned, pin)| {
            if Arc::ptr_eq(pinned, caller) {
                pin_matches(pin, cert)
            } else {
                !pin_matches(pin, cert)
            }
        })
    }

    /// The caller holding `key`, if any, with the key's hash. Identities
    /// without a key are never matched by one.
    pub(crate) fn authenticate(&self, key: &str) -> Option<(Arc<Caller>, [u8; 32])> {
        let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for (hash, caller, by_key) in &self.entries {
            if bool::from(hash.ct_eq(&presented) & Choice::from(u8::from(*by_key))) {
                found = Some(caller.clone());
            }
        }
        found.map(|c| (c, presented))
    }

    /// The identity whose key hashes to `hash` (constant time, as
    /// [`Self::authenticate`]): a console session names its holder by the
    /// key's hash and is looked up again on every request, so a removed or
    /// changed key ends it.
    pub(crate) fn by_key_sha256(&self, hash: &[u8; 32]) -> Option<Arc<Caller>> {
        let mut found = None;
        for (h, caller, by_key) in &self.entries {
            if bool::from(h.ct_eq(hash) & Choice::from(u8::from(*by_key))) {
                found = Some(caller.clone());
            }
        }
        found
    }

    /// The identity without a key that `cert` is pinned to, with its pin's
    /// hash: `None` without a certificate, when it matches no such identity,
    /// or when it matches more than one (one by `cert_sha256`, another by
    /// `cert_uri`), which is refused rather than guessed.
    pub(crate) fn by_certificate(
        &self,
        cert: Option<&PeerCert>,
    ) -> Option<(Arc<Caller>, [u8; 32])> {
        cert?;
        let mut found = self.pins.iter().filter(|(caller, pin)| {
            pin_matches(pin, cert)
                && self
                    .entries
                    .iter()
                    .any(|(_, c, by_key)| !by_key && Arc::ptr_eq(c, caller))
        });
        let (caller, pin) = found.next()?;
        if let Some((other, _)) = found.next() {
            tracing::warn!(
                first = caller.name(),
                second = other.name(),
                "a client certificate matches two identities without a key; refused"
            );
            return None;
        }
        Some((caller.clone(), pin_sha256(pin)))
    }
}

impl Identities {
    /// The approver or admin the single sign-on provider vouched for, with
    /// the hash their session names them by: by `sub` (`oidc_subject`)
    /// first, else by `email` — only an address the provider verified.
    pub(crate) fn by_oidc(
        &self,
        sub: &str,
        email: Option<&str>,
        email_verified: bool,
    ) -> Option<(Arc<Caller>, [u8; 32])> {
        if let Some((c, _)) = self
            .sso
            .iter()
            .find(|(_, n)| n.oidc_subject.as_deref() == Some(sub))
        {
            return Some((c.clone(), self.sso_sha256("oidc_subject", sub)));
        }
        let email = email.filter(|_| email_verified)?.to_ascii_lowercase();
        let (c, _) = self
            .sso
            .iter()
            .find(|(_, n)| n.email.as_deref() == Some(email.as_str()))?;
        Some((c.clone(), self.sso_sha256("email", &email)))
    }

    /// The identity a single sign-on session's hash names, while the
    /// config still binds it to that issuer and name.
    pub(crate) fn by_sso_sha256(&self, hash: &[u8; 32]) -> Option<Arc<Caller>> {
        let mut found = None;
        for (caller, names) in &self.sso {
            let hashes = [
                names
                    .oidc_subject
                    .as_deref()
                    .map(|s| self.sso_sha256("oidc_subject", s)),
                names.email.as_deref().map(|e| self.sso_sha256("email", e)),
            ];
            for h in hashes.into_iter().flatten() {
                if bool::from(h.ct_eq(hash)) {
                    found = Some(caller.clone());
                }
            }
        }
        found
    }

    fn sso_sha256(&self, kind: &str, value: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"toolgate single sign-on identity\n");
        h.update(self.issuer.as_bytes());
        h.update(b"\n");
        h.update(kind.as_bytes());
        h.update(b"\n");
        h.update(value.as_bytes());
        h.finalize().into()
    }
}

/// Whether `cert` satisfies `pin`: every part set holds.
fn pin_matches(pin: &CertPin, cert: Option<&PeerCert>) -> bool {
    cert.is_some_and(|c| {
        pin.sha256.is_none_or(|h| bool::from(h.ct_eq(&c.sha256)))
            && pin.uri.as_ref().is_none_or(|u| c.uris.contains(u))
    })
}

/// What stands for the key hash of an identity known by its pin.
fn pin_sha256(pin: &CertPin) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"toolgate certificate identity\n");
    h.update(pin.sha256.map(hex::encode).unwrap_or_default());
    h.update(b"\n");
    h.update(pin.uri.as_deref().unwrap_or_default());
    h.finalize().into()
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = key.trim();
    (!key.is_empty() && key.len() <= 512).then_some(key)
}

impl Identities {
    /// The configured key hash of an agent.
    pub(crate) fn agent_key(&self, name: &str) -> Option<[u8; 32]> {
        self.agent(name).map(|(_, h)| h)
    }

    /// An agent by name, with its configured key hash.
    pub(crate) fn agent(&self, name: &str) -> Option<(Arc<Caller>, [u8; 32])> {
        self.entries
            .iter()
            .find(|(_, c, _)| matches!(c.as_ref(), Caller::Agent { name: n, .. } if n == name))
            .map(|(h, c, _)| (c.clone(), *h))
    }
}

/// A new random key for `role`: 256 bits, URL-safe, with a readable prefix.
pub fn generate_key(role: Role) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("tg_{}_{}", role.as_str(), URL_SAFE_NO_PAD.encode(bytes))
}

/// Lower-case hex SHA-256 of a key, as config holds it.
pub fn key_sha256(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The config line for a new identity.
pub fn config_line(role: Role, name: &str, key: &str, workflow: Option<&str>) -> String {
    let hash = key_sha256(key);
    match role {
        Role::Agent => format!(
            "agents:\n  {name}: {{ workflow: {}, key_sha256: \"{hash}\" }}",
            workflow.unwrap_or("WORKFLOW")
        ),
        Role::Approver => format!(
            "approvers:\n  {name}: {{ key_sha256: \"{hash}\", workflows: [{}] }}",
            workflow.unwrap_or("WORKFLOW")
        ),
        Role::Admin => format!("admins:\n  {name}: {{ key_sha256: \"{hash}\" }}"),
    }
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities").finish_non_exhaustive()
    }
}
