//! Identities (`agents:`, `approvers:`, `admins:`): key hashes (or, for an
//! identity known by its client certificate alone, none), the workflow each
//! one may act in, and the rule that no two identities share a key.

use std::collections::BTreeMap;

use super::document::FileCtx;
use super::model::{AdminDef, AgentDef, ApproverDef, CertPin, WorkflowDef};
use super::raw::{RawAdmin, RawAgent, RawApprover};
use super::yaml;

pub(super) struct Identities {
    pub agents: BTreeMap<String, AgentDef>,
    pub approvers: BTreeMap<String, ApproverDef>,
    pub admins: BTreeMap<String, AdminDef>,
}

/// `cert_sha256` and `cert_uri`, when either is set.
fn pin(sha256: Option<&str>, uri: Option<&String>) -> Option<CertPin> {
    (sha256.is_some() || uri.is_some()).then(|| CertPin {
        sha256: sha256.map(parse_hash),
        uri: uri.cloned(),
    })
}

/// The schema already enforced 64 lower-case hex digits.
fn parse_hash(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).unwrap_or_default();
    out
}

pub(super) fn build(
    agents_raw: BTreeMap<String, RawAgent>,
    approvers_raw: BTreeMap<String, RawApprover>,
    admins_raw: BTreeMap<String, RawAdmin>,
    workflows: &BTreeMap<String, WorkflowDef>,
    ctx: &mut FileCtx<'_>,
) -> Identities {
    let mut seen_keys: BTreeMap<[u8; 32], String> = BTreeMap::new();
    // The key's hash; `None` for an identity known by its certificate alone.
    let mut check_key = |ctx: &mut FileCtx<'_>,
                         pointer: String,
                         who: String,
                         key: Option<&str>,
                         pin: &Option<CertPin>| {
        let Some(key) = key.map(parse_hash) else {
            if pin.is_none() {
                ctx.error(
                    &pointer,
                    format!("{who} needs key_sha256, or a client certificate to be known by instead (cert_sha256 or cert_uri, with tls.client_ca)"),
                );
            }
            return None;
        };
        if let Some(other) = seen_keys.get(&key) {
            ctx.error(
                &format!("{pointer}/key_sha256"),
                format!("{who} has the same key as {other}; every identity needs its own key"),
            );
        } else {
            seen_keys.insert(key, who);
        }
        Some(key)
    };
    let mut agents = BTreeMap::new();
    for (name, ra) in agents_raw {
        let p = format!("/agents/{}", yaml::escape_token(&name));
        if !workflows.contains_key(&ra.workflow) {
            ctx.error(
                &format!("{p}/workflow"),
                format!("unknown workflow \"{}\"", ra.workflow),
            );
        }
        let pin = pin(ra.cert_sha256.as_deref(), ra.cert_uri.as_ref());
        let key = check_key(
            ctx,
            p,
            format!("agent {name}"),
            ra.key_sha256.as_deref(),
            &pin,
        );
        agents.insert(
            name.clone(),
            AgentDef {
                name,
                workflow: ra.workflow,
                key_sha256: key,
                pin,
            },
        );
    }
    let mut approvers = BTreeMap::new();
    for (name, ra) in approvers_raw {
        let p = format!("/approvers/{}", yaml::escape_token(&name));
        for (i, w) in ra.workflows.iter().enumerate() {
            if !workflows.contains_key(w) {
                ctx.error(
                    &format!("{p}/workflows/{i}"),
                    format!("unknown workflow \"{w}\""),
                );
            }
        }
        let pin = pin(ra.cert_sha256.as_deref(), ra.cert_uri.as_ref());
        let key = check_key(
            ctx,
            p,
            format!("approver {name}"),
            ra.key_sha256.as_deref(),
            &pin,
        );
        approvers.insert(
            name.clone(),
            ApproverDef {
                name,
                workflows: ra.workflows,
                key_sha256: key,
                pin,
            },
        );
    }
    let mut admins = BTreeMap::new();
    for (name, ra) in admins_raw {
        let p = format!("/admins/{}", yaml::escape_token(&name));
        let pin = pin(ra.cert_sha256.as_deref(), ra.cert_uri.as_ref());
        let key = check_key(
            ctx,
            p,
            format!("admin {name}"),
            ra.key_sha256.as_deref(),
            &pin,
        );
        admins.insert(
            name.clone(),
            AdminDef {
                name,
                key_sha256: key,
                pin,
            },
        );
    }
    Identities {
        agents,
        approvers,
        admins,
    }
}

/// Pins need client certificates to check (`tls.client_ca`), and each
/// certificate or URI belongs to one identity.
pub(super) fn check_pins(ids: &Identities, client_ca: bool, ctx: &mut FileCtx<'_>) {
    let pins = ids
        .agents
        .iter()
        .map(|(n, a)| (format!("/agents/{}", yaml::escape_token(n)), a.pin.as_ref()))
        .chain(ids.approvers.iter().map(|(n, a)| {
            (
                format!("/approvers/{}", yaml::escape_token(n)),
                a.pin.as_ref(),
            )
        }))
        .chain(
            ids.admins
                .iter()
                .map(|(n, a)| (format!("/admins/{}", yaml::escape_token(n)), a.pin.as_ref())),
        );
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (pointer, pin) in pins {
        let Some(pin) = pin else { continue };
        if !client_ca {
            ctx.error(
                &pointer,
                "cert_sha256 and cert_uri need tls.client_ca: without client certificates there is nothing to check them against",
            );
        }
        let marks = [
            pin.sha256
                .map(|h| (format!("cert_sha256 {}", hex::encode(h)), "cert_sha256")),
            pin.uri
                .as_ref()
                .map(|u| (format!("cert_uri {u}"), "cert_uri")),
        ];
        for (mark, key) in marks.into_iter().flatten() {
            match seen.get(&mark) {
                Some(other) => ctx.error(
                    &format!("{pointer}/{key}"),
                    format!("{other} pins the same {key}; a certificate belongs to one identity"),
                ),
                None => {
                    seen.insert(mark, pointer.trim_start_matches('/').to_owned());
                }
            }
        }
    }
}
