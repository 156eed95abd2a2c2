//! Identities (`agents:`, `approvers:`, `admins:`): key hashes (or, for an
//! identity known by its client certificate alone, none), the workflow each
//! one may act in, and the rule that no two identities share a key. An
//! approver or admin may also be known at the single sign-on provider
//! (`email`, `oidc_subject`, only with `ui.oidc`); with it, they need no key.

use std::collections::BTreeMap;

use super::document::FileCtx;
use super::model::{AdminDef, AgentDef, ApproverDef, CertPin, SsoNames, WorkflowDef};
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

/// `email` and `oidc_subject` of a person: only with `ui.oidc`, each
/// belonging to one identity.
fn sso_names(
    oidc: bool,
    seen: &mut BTreeMap<String, String>,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
    who: &str,
    email: Option<&str>,
    subject: Option<&str>,
) -> SsoNames {
    let names = SsoNames {
        oidc_subject: subject.map(str::to_owned),
        email: email.map(str::to_ascii_lowercase),
    };
    for (key, value) in [
        ("email", &names.email),
        ("oidc_subject", &names.oidc_subject),
    ] {
        let Some(value) = value else { continue };
        let at = format!("{pointer}/{key}");
        if !oidc {
            ctx.error(
                &at,
                format!("{key} is what single sign-on knows a person by: it needs ui.oidc (or remove it)"),
            );
            continue;
        }
        if key == "email" && !value.contains('@') {
            ctx.error(&at, "email must be an address, e.g. ada@example.com");
        }
        match seen.get(&format!("{key} {value}")) {
            Some(other) => ctx.error(
                &at,
                format!("{other} has the same {key}; a person signs in as one identity"),
            ),
            None => {
                seen.insert(format!("{key} {value}"), who.to_owned());
            }
        }
    }
    names
}

pub(super) fn build(
    agents_raw: BTreeMap<String, RawAgent>,
    approvers_raw: BTreeMap<String, RawApprover>,
    admins_raw: BTreeMap<String, RawAdmin>,
    workflows: &BTreeMap<String, WorkflowDef>,
    oidc: bool,
    ctx: &mut FileCtx<'_>,
) -> Identities {
    let mut seen_keys: BTreeMap<[u8; 32], String> = BTreeMap::new();
    let mut seen_sso: BTreeMap<String, String> = BTreeMap::new();
    // The key's hash; `None` for an identity known by its certificate
    // alone, or signing in by single sign-on only (`sso`).
    let mut check_key = |ctx: &mut FileCtx<'_>,
                         pointer: String,
                         who: String,
                         key: Option<&str>,
                         pin: &Option<CertPin>,
                         sso: &SsoNames| {
        let Some(key) = key.map(parse_hash) else {
            let by_sso = oidc && !sso.is_empty();
            if pin.is_none() && !by_sso {
                let or_sso = if oidc && !who.starts_with("agent ") {
                    ", or email or oidc_subject to sign in to the console by single sign-on only"
                } else {
                    ""
                };
                ctx.error(
                    &pointer,
                    format!("{who} needs key_sha256, or a client certificate to be known by instead (cert_sha256 or cert_uri, with tls.client_ca){or_sso}"),
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
            &SsoNames::default(),
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
        let who = format!("approver {name}");
        let sso = sso_names(
            oidc,
            &mut seen_sso,
            ctx,
            &p,
            &who,
            ra.email.as_deref(),
            ra.oidc_subject.as_deref(),
        );
        let key = check_key(ctx, p, who, ra.key_sha256.as_deref(), &pin, &sso);
        approvers.insert(
            name.clone(),
            ApproverDef {
                name,
                workflows: ra.workflows,
                key_sha256: key,
                pin,
                sso,
            },
        );
    }
    let mut admins = BTreeMap::new();
    for (name, ra) in admins_raw {
        let p = format!("/admins/{}", yaml::escape_token(&name));
        let pin = pin(ra.cert_sha256.as_deref(), ra.cert_uri.as_ref());
        let who = format!("admin {name}");
        let sso = sso_names(
            oidc,
            &mut seen_sso,
            ctx,
            &p,
            &who,
            ra.email.as_deref(),
            ra.oidc_subject.as_deref(),
        );
        let key = check_key(ctx, p, who, ra.key_sha256.as_deref(), &pin, &sso);
        admins.insert(
            name.clone(),
            AdminDef {
                name,
                key_sha256: key,
                pin,
                sso,
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
