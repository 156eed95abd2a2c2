//! The quarterly access review in one command: for each agent, what it may
//! do against what it did (from the audit trail); for each credential, its
//! age, its last use, and scopes no bound tool needs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::catalog::Catalog;
use crate::config::Config;

/// The access review: granted vs. used, per agent and per credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessReview {
    pub environment: String,
    /// The start of the period read (RFC 3339).
    pub since: String,
    pub generated_at: String,
    pub agents: Vec<AgentReview>,
    pub credentials: Vec<CredentialReview>,
}

/// What an agent may do against what it did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentReview {
    pub agent: String,
    pub workflow: String,
    pub scopes_granted: Vec<String>,
    pub scopes_used: Vec<String>,
    pub scopes_unused: Vec<String>,
    pub tools_callable: Vec<String>,
    /// Per tool used in the period.
    pub tools_used: BTreeMap<String, ToolUse>,
    pub tools_unused: Vec<String>,
    /// RFC 3339; null when never used in the period.
    pub last_used: Option<String>,
}

/// How often, and when last, a tool was called.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolUse {
    pub calls: u64,
    pub last_used: Option<String>,
}

/// A credential's age, use, and scopes no bound tool needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialReview {
    pub credential: String,
    /// The workflows with a tool bound to it.
    pub bound_in: Vec<String>,
    /// Null when its age is not known.
    pub age_days: Option<u64>,
    pub max_age_days: Option<u32>,
    /// Older than `max_age_days`.
    pub stale: bool,
    pub calls: u64,
    pub last_used: Option<String>,
    pub scopes_held: Vec<String>,
    pub scopes_needed: Vec<String>,
    pub over_privileged: Vec<String>,
    /// For a credential toolgate rotates: from the audit trail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationReview>,
}

/// A rotated credential's last rotation and its failure not yet overcome.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RotationReview {
    /// RFC 3339: the last rotation completed in the period; null: none.
    pub last_rotated: Option<String>,
    /// The last failed step after it (`decision` of `rotation_failed`).
    pub failing: Option<String>,
    pub failed_at: Option<String>,
}

#[derive(Default)]
struct Use {
    calls: u64,
    last: Option<String>,
}

impl Use {
    fn add(&mut self, time: &str) {
        self.calls += 1;
        if self.last.as_deref().is_none_or(|l| l < time) {
            self.last = Some(time.to_owned());
        }
    }
}

/// The review of the trail the config names: its files, or its Redis stream.
pub fn review_configured(
    config: &Config,
    catalog: &Catalog,
    since: Duration,
    now: SystemTime,
) -> Result<AccessReview, String> {
    if !config.audit.redis {
        return Ok(review(
            config,
            catalog,
            std::slice::from_ref(&config.audit.path),
            since,
            now,
        ));
    }
    // Every chain (the shared one, each replica's), in one order by time.
    let trail = open_redis_trail(config)?;
    Ok(review_records(
        config,
        catalog,
        trail.lines_by_time(),
        since,
        now,
    ))
}

/// The Redis trail the config names, open for reading: its chains, their
/// records and the checkpoints kept beside them.
pub(crate) fn open_redis_trail(config: &Config) -> Result<crate::audit::redis_read::Trail, String> {
    let target = config
        .store
        .redis()
        .ok_or_else(|| "the Redis trail needs the Redis store".to_owned())?;
    let mut options = config.store_redis.clone();
    if let Some(source) = &config.store_password {
        options.password = Some(
            crate::secrets::Credentials::read_source(source, &crate::secrets::ProcessEnv)
                .ok_or_else(|| "store.password cannot be read".to_owned())?,
        );
    }
    crate::audit::redis_read::Trail::open(target, &options, &config.environment)
        .map_err(|e| e.to_string())
}

/// Build the review from the config and the trail files (rotated ones included).
pub(crate) fn review(
    config: &Config,
    catalog: &Catalog,
    trail: &[PathBuf],
    since: Duration,
    now: SystemTime,
) -> AccessReview {
    let lines = crate::audit::verify::expand(trail)
        .into_iter()
        .filter_map(|path| std::fs::File::open(path).ok())
        .flat_map(|f| BufReader::new(f).lines().map_while(Result::ok));
    review_records(config, catalog, lines, since, now)
}

/// Build the review from the trail's records, one JSON line each.
pub(crate) fn review_records(
    config: &Config,
    catalog: &Catalog,
    lines: impl Iterator<Item = String>,
    since: Duration,
    now: SystemTime,
) -> AccessReview {
    let cutoff = now.checked_sub(since).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut tools_used: BTreeMap<(String, String), Use> = BTreeMap::new();
    let mut agents_used: BTreeMap<String, Use> = BTreeMap::new();
    let mut creds_used: BTreeMap<String, Use> = BTreeMap::new();
    let mut rotations: BTreeMap<String, RotationReview> = BTreeMap::new();
    for line in lines {
        let Ok(r) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let time = r["time"].as_str().unwrap_or_default();
        if humantime::parse_rfc3339(time).map_or(true, |t| t < cutoff) {
            continue;
        }
        if let Some(c) = r["credential"].as_str()
            && matches!(
                r["event"].as_str(),
                Some("rotation_revoked" | "rotation_failed")
            )
        {
            let review = rotations.entry(c.to_owned()).or_default();
            if r["event"] == "rotation_revoked" {
                *review = RotationReview {
                    last_rotated: Some(time.to_owned()),
                    ..RotationReview::default()
                };
            } else {
                review.failing = r["decision"].as_str().map(str::to_owned);
                review.failed_at = Some(time.to_owned());
            }
        }
        if r["event"] != "executed" && r["event"] != "failed" {
            continue;
        }
        if let (Some(a), Some(t)) = (r["agent"].as_str(), r["tool"].as_str()) {
            tools_used
                .entry((a.to_owned(), t.to_owned()))
                .or_default()
                .add(time);
            agents_used.entry(a.to_owned()).or_default().add(time);
        }
        if let Some(c) = r["credential"].as_str() {
            creds_used.entry(c.to_owned()).or_default().add(time);
        }
    }

    let agents: Vec<AgentReview> = config
        .agents
        .values()
        .map(|a| {
            let w = config.workflows.get(&a.workflow);
            let tools = catalog.tools(&a.workflow);
            let callable: Vec<&String> = tools.map(|t| t.keys().collect()).unwrap_or_default();
            let granted: BTreeSet<&String> =
                w.map(|w| w.scopes.iter().collect()).unwrap_or_default();
            let mut used_tools = BTreeMap::new();
            let mut used_scopes = BTreeSet::new();
            for t in &callable {
                if let Some(u) = tools_used.get(&(a.name.clone(), (*t).clone())) {
                    used_tools.insert(
                        (*t).clone(),
                        ToolUse {
                            calls: u.calls,
                            last_used: u.last.clone(),
                        },
                    );
                    if let Some(b) = tools.and_then(|tools| tools.get(*t)) {
                        used_scopes.extend(b.tool.scopes.iter());
                    }
                }
            }
            fn owned<'s>(names: impl Iterator<Item = &'s String>) -> Vec<String> {
                names.cloned().collect()
            }
            AgentReview {
                agent: a.name.clone(),
                workflow: a.workflow.clone(),
                scopes_granted: owned(granted.iter().copied()),
                scopes_used: owned(used_scopes.iter().copied()),
                scopes_unused: owned(granted.iter().copied().filter(|s| !used_scopes.contains(s))),
                tools_callable: owned(callable.iter().copied()),
                tools_unused: owned(
                    callable
                        .iter()
                        .copied()
                        .filter(|t| !used_tools.contains_key(*t)),
                ),
                tools_used: used_tools,
                last_used: agents_used.get(&a.name).and_then(|u| u.last.clone()),
            }
        })
        .collect();

    let credentials: Vec<CredentialReview> = config
        .credentials
        .values()
        .map(|c| {
            let mut needed = BTreeSet::new();
            let mut bound_in = BTreeSet::new();
            for w in config.workflows.values() {
                for b in catalog.tools(&w.name).into_iter().flat_map(|t| t.values()) {
                    if b.credential.as_ref().is_some_and(|bc| bc.name == c.name) {
                        needed.extend(b.tool.scopes.iter().cloned());
                        bound_in.insert(w.name.clone());
                    }
                }
            }
            let over = c
                .scopes
                .iter()
                .filter(|s| !needed.contains(*s))
                .cloned()
                .collect();
            let age_days = crate::config::lint::age(c, now).map(|a| a.as_secs() / 86_400);
            let stale =
                matches!((age_days, c.max_age_days), (Some(a), Some(m)) if a > u64::from(m));
            let used = creds_used.get(&c.name);
            CredentialReview {
                credential: c.name.clone(),
                bound_in: bound_in.into_iter().collect(),
                age_days,
                max_age_days: c.max_age_days,
                stale,
                calls: used.map_or(0, |u| u.calls),
                last_used: used.and_then(|u| u.last.clone()),
                scopes_held: c.scopes.iter().cloned().collect(),
                scopes_needed: needed.into_iter().collect(),
                over_privileged: over,
                rotation: c
                    .rotation
                    .as_ref()
                    .map(|_| rotations.remove(&c.name).unwrap_or_default()),
            }
        })
        .collect();

    AccessReview {
        environment: config.environment.clone(),
        since: humantime::format_rfc3339_seconds(cutoff).to_string(),
        generated_at: humantime::format_rfc3339_seconds(now).to_string(),
        agents,
        credentials,
    }
}

/// The review as text, for people.
pub fn render(v: &AccessReview) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let mut out = format!(
        "access review of {} since {}\n\nagents\n",
        v.environment, v.since
    );
    for a in &v.agents {
        out.push_str(&format!(
            "  {} (workflow {}), last used {}\n    scopes granted: {}\n    scopes unused:  {}\n    tools unused:   {}\n",
            a.agent,
            a.workflow,
            a.last_used.as_deref().unwrap_or("never"),
            list(&a.scopes_granted),
            list(&a.scopes_unused),
            list(&a.tools_unused),
        ));
        for (t, u) in &a.tools_used {
            out.push_str(&format!(
                "    used {t}: {} call(s), last {}\n",
                u.calls,
                u.last_used.as_deref().unwrap_or("")
            ));
        }
    }
    out.push_str("\ncredentials\n");
    for c in &v.credentials {
        let age = c
            .age_days
            .map_or("unknown".to_owned(), |d| format!("{d} days"));
        out.push_str(&format!(
            "  {}: age {age}{}, {} call(s), last used {}\n    over-privileged: {}\n",
            c.credential,
            if c.stale {
                " (STALE: past max_age_days)"
            } else {
                ""
            },
            c.calls,
            c.last_used.as_deref().unwrap_or("never"),
            list(&c.over_privileged),
        ));
        if let Some(r) = &c.rotation {
            out.push_str(&format!(
                "    rotated by toolgate, last {}\n",
                r.last_rotated.as_deref().unwrap_or("not in the period")
            ));
            if let (Some(why), Some(at)) = (&r.failing, &r.failed_at) {
                out.push_str(&format!("    ROTATION FAILING since {at}: {why}\n"));
            }
        }
    }
    out
}
