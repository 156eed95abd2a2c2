//! `toolgate check --production`: the pre-production questions, answered
//! from the loaded configuration, one line each — pass, warn or fail, and
//! why. Nothing here reads a secret; the lints (`lint`) measure values.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::lint::bindings;
use super::{Config, SourceDef, StoreConfig};

/// How one question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub verdict: Verdict,
    pub question: &'static str,
    pub reason: String,
}

fn item(verdict: Verdict, question: &'static str, reason: impl Into<String>) -> Item {
    Item {
        verdict,
        question,
        reason: reason.into(),
    }
}

/// Every question, in the order a reviewer asks them.
pub fn checklist(config: &Config) -> Vec<Item> {
    vec![
        no_secret_in_config(config),
        one_credential_per_agent(config),
        narrow_scopes(config),
        environments(config),
        rotation(config),
        item(
            Verdict::Pass,
            "logs and traces redacted",
            "always: every log line and exported span passes the redactor (known values and detectors)",
        ),
        dead_letters(config),
        audit(config),
        at_rest(config),
        in_transit(config),
        item(
            Verdict::Pass,
            "an incident-response runbook",
            "README, \"Incident response: a credential has leaked\": disable, revoke, rotate, reload, retry, review",
        ),
    ]
}

fn dead_letters(config: &Config) -> Item {
    let mut longest: Option<(&str, std::time::Duration)> = None;
    for w in config.workflows.values() {
        if longest.is_none_or(|(_, d)| w.dead_letter_retention > d) {
            longest = Some((&w.name, w.dead_letter_retention));
        }
    }
    let kept = match longest {
        Some((name, d)) => format!(
            "; the longest retention is {} days (workflow {name})",
            d.as_secs_f64() / 86_400.0
        ),
        None => String::new(),
    };
    item(
        Verdict::Pass,
        "dead letters redacted, with a retention",
        format!(
            "always: a dead letter is stored redacted and purged, with a record, once its workflow's dead_letters.retention has passed{kept}"
        ),
    )
}

fn no_secret_in_config(config: &Config) -> Item {
    const Q: &str = "no secret in any config file";
    let redis_password = config
        .store
        .redis_urls()
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .any(|u| u.password().is_some());
    if redis_password {
        return item(
            Verdict::Fail,
            Q,
            "store.url (or a store.cluster node) holds the Redis password, so whoever reads toolgate.yaml has it: move it to store.password (a source)",
        );
    }
    item(
        Verdict::Pass,
        Q,
        "every secret is a reference (env, file, vault, oauth2); keys appear only as SHA-256",
    )
}

fn one_credential_per_agent(config: &Config) -> Item {
    const Q: &str = "one credential per agent";
    let (bound_in, _) = bindings(config);
    let mut shared = Vec::new();
    for (credential, workflows) in &bound_in {
        let agents = config
            .agents
            .values()
            .filter(|a| workflows.contains(a.workflow.as_str()))
            .count();
        if agents > 1 {
            shared.push(format!("{credential} ({agents} agents)"));
        }
    }
    if shared.is_empty() {
        item(Verdict::Pass, Q, "no credential is used by two agents")
    } else {
        item(
            Verdict::Warn,
            Q,
            format!(
                "shared: {}; the upstream cannot tell the agents apart, and one cannot be cut off alone",
                shared.join(", ")
            ),
        )
    }
}

fn narrow_scopes(config: &Config) -> Item {
    const Q: &str = "credential scopes no wider than their tools need";
    let (_, needed) = bindings(config);
    let wide: Vec<String> = config
        .credentials
        .values()
        .filter_map(|c| {
            let need = needed.get(c.name.as_str());
            let extra: Vec<&str> = c
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| need.is_none_or(|n| !n.contains(s)))
                .collect();
            (!extra.is_empty()).then(|| format!("{} ({})", c.name, extra.join(", ")))
        })
        .collect();
    if wide.is_empty() {
        item(
            Verdict::Pass,
            Q,
            "every scope a credential holds is needed by a tool bound to it",
        )
    } else {
        item(
            Verdict::Warn,
            Q,
            format!("not needed by any bound tool: {}", wide.join("; ")),
        )
    }
}

fn environments(config: &Config) -> Item {
    const Q: &str = "credentials separated by environment";
    let envs: BTreeSet<&str> = config
        .credentials
        .values()
        .map(|c| c.environment.as_str())
        .collect();
    item(
        Verdict::Pass,
        Q,
        format!(
            "every credential is declared for environment {} (a credential of another environment is refused at load), {} in all",
            envs.iter().next().copied().unwrap_or(&config.environment),
            config.credentials.len()
        ),
    )
}

fn rotation(config: &Config) -> Item {
    const Q: &str = "rotation configured, or a versioned source with max_age_days";
    let unwatched: Vec<&str> = config
        .credentials
        .values()
        .filter(|c| {
            !matches!(
                c.source,
                SourceDef::OAuth2(_) | SourceDef::Vault { .. } | SourceDef::AwsSecretsManager(_)
            ) && c.max_age_days.is_none()
                && c.rotation.is_none()
                && !c.canary
        })
        .map(|c| c.name.as_str())
        .collect();
    if unwatched.is_empty() {
        item(
            Verdict::Pass,
            Q,
            "every credential is rotated by toolgate, an OAuth2 token, a Vault or AWS Secrets Manager secret, or has max_age_days",
        )
    } else {
        item(
            Verdict::Warn,
            Q,
            format!(
                "no rotation, no max_age_days and not from Vault, AWS Secrets Manager or OAuth2: {}; nothing says when they are too old",
                unwatched.join(", ")
            ),
        )
    }
}

fn audit(config: &Config) -> Item {
    const Q: &str = "audit trail hash-chained, keyed, with signed checkpoints";
    match (&config.audit.hmac_key, &config.audit.signing_key) {
        (Some(_), Some(_)) => item(
            Verdict::Pass,
            Q,
            "HMAC-chained under audit.hmac_key; checkpoints signed with audit.signing_key",
        ),
        (Some(_), None) => item(
            Verdict::Warn,
            Q,
            "keyed, but checkpoints are not signed: set audit.signing_key so a rewritten trail cannot pass as the original",
        ),
        (None, _) => item(
            Verdict::Fail,
            Q,
            "no audit.hmac_key: the chain's key is random per process, so no one can verify the trail afterwards",
        ),
    }
}

fn at_rest(config: &Config) -> Item {
    const Q: &str = "encryption at rest";
    match (&config.store, &config.store_encryption_key) {
        (StoreConfig::Memory, _) => item(
            Verdict::Warn,
            Q,
            "store.kind memory keeps nothing across a restart (pending actions are lost); use file or redis",
        ),
        (_, Some(_)) => item(
            Verdict::Pass,
            Q,
            "secret material the store keeps is sealed under store.encryption_key",
        ),
        (_, None) => item(
            Verdict::Warn,
            Q,
            "no store.encryption_key: set one so any token the store keeps is sealed",
        ),
    }
}

fn in_transit(config: &Config) -> Item {
    const Q: &str = "encryption in transit";
    let mut problems = Vec::new();
    if config.tls.is_none() && !config.listen.ip().is_loopback() {
        problems.push(format!(
            "the listener on {} is plain HTTP: set tls, or terminate TLS in a proxy on the same host",
            config.listen
        ));
    }
    if config.store.redis_urls().iter().any(|url| {
        url::Url::parse(url).is_ok_and(|u| u.scheme() == "redis" && !loopback(u.host_str()))
    }) {
        let key = match config.store.redis() {
            Some(crate::store::RedisTarget::Cluster(_)) => "store.cluster",
            _ => "store.url",
        };
        problems.push(format!("{key} is redis:// to another host: use rediss://"));
    }
    if let Some(addr) = &config.vault.address
        && let Ok(u) = url::Url::parse(addr)
        && u.scheme() == "http"
        && !loopback(u.host_str())
    {
        problems.push("vault.address is http:// to another host".to_owned());
    }
    if problems.is_empty() {
        let how = if config.tls.is_some() {
            "the listener serves TLS"
        } else {
            "the listener is on loopback only"
        };
        item(
            Verdict::Pass,
            Q,
            format!("{how}; no plain connection leaves the host"),
        )
    } else {
        item(Verdict::Warn, Q, problems.join("; "))
    }
}

fn loopback(host: Option<&str>) -> bool {
    match host {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
