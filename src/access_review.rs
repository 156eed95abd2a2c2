//! The quarterly access review in one command: for each agent, what it may
//! do against what it did (from the audit trail); for each credential, its
//! age, its last use, and scopes no bound tool needs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::catalog::Catalog;
use crate::config::Config;

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
) -> Result<Value, String> {
    if !config.audit.redis {
        return Ok(review(
            config,
            catalog,
            std::slice::from_ref(&config.audit.path),
            since,
            now,
        ));
    }
    let url = config
        .store
        .redis_url()
        .ok_or_else(|| "the Redis trail needs the Redis store".to_owned())?;
    let (reader, _) =
        crate::audit::redis::open_reader(url, &config.environment).map_err(|e| e.to_string())?;
    Ok(review_records(
        config,
        catalog,
        reader.lines().map_while(Result::ok),
        since,
        now,
    ))
}

/// Build the review from the config and the trail files (rotated ones included).
pub(crate) fn review(
    config: &Config,
    catalog: &Catalog,
    trail: &[PathBuf],
    since: Duration,
    now: SystemTime,
) -> Value {
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
) -> Value {
    let cutoff = now.checked_sub(since).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut tools_used: BTreeMap<(String, String), Use> = BTreeMap::new();
    let mut agents_used: BTreeMap<String, Use> = BTreeMap::new();
    let mut creds_used: BTreeMap<String, Use> = BTreeMap::new();
    for line in lines {
        let Ok(r) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if r["event"] != "executed" && r["event"] != "failed" {
            continue;
        }
        let time = r["time"].as_str().unwrap_or_default();
        if humantime::parse_rfc3339(time).map_or(true, |t| t < cutoff) {
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

    let agents: Vec<Value> = config
        .agents
        .values()
        .map(|a| {
            let w = config.workflows.get(&a.workflow);
            let tools = catalog.tools(&a.workflow);
            let callable: Vec<&String> = tools.map(|t| t.keys().collect()).unwrap_or_default();
            let granted: BTreeSet<&String> =
                w.map(|w| w.scopes.iter().collect()).unwrap_or_default();
            let mut used_tools = serde_json::Map::new();
            let mut used_scopes = BTreeSet::new();
            for t in &callable {
                if let Some(u) = tools_used.get(&(a.name.clone(), (*t).clone())) {
                    used_tools.insert((*t).clone(), json!({"calls": u.calls, "last_used": u.last}));
                    if let Some(b) = tools.and_then(|tools| tools.get(*t)) {
                        used_scopes.extend(b.tool.scopes.iter());
                    }
                }
            }
            let unused_scopes: Vec<&&String> = granted
                .iter()
                .filter(|s| !used_scopes.contains(**s))
                .collect();
            let unused_tools: Vec<&&String> = callable
                .iter()
                .filter(|t| !used_tools.contains_key(**t))
                .collect();
            json!({
                "agent": a.name,
                "workflow": a.workflow,
                "scopes_granted": granted,
                "scopes_used": used_scopes,
                "scopes_unused": unused_scopes,
                "tools_callable": callable,
                "tools_used": used_tools,
                "tools_unused": unused_tools,
                "last_used": agents_used.get(&a.name).and_then(|u| u.last.clone()),
            })
        })
        .collect();

    let credentials: Vec<Value> = config
        .credentials
        .values()
        .map(|c| {
            let mut needed = BTreeSet::new();
            let mut bound_in = BTreeSet::new();
            for w in config.workflows.values() {
                for b in catalog.tools(&w.name).into_iter().flat_map(|t| t.values()) {
                    if b.credential.as_ref().is_some_and(|bc| bc.name == c.name) {
                        needed.extend(b.tool.scopes.iter());
                        bound_in.insert(&w.name);
                    }
                }
            }
            let over: Vec<&String> = c.scopes.iter().filter(|s| !needed.contains(s)).collect();
            let age_days = crate::config::lint::age(c, now).map(|a| a.as_secs() / 86_400);
            let stale =
                matches!((age_days, c.max_age_days), (Some(a), Some(m)) if a > u64::from(m));
            let used = creds_used.get(&c.name);
            json!({
                "credential": c.name,
                "bound_in": bound_in,
                "age_days": age_days,
                "max_age_days": c.max_age_days,
                "stale": stale,
                "calls": used.map_or(0, |u| u.calls),
                "last_used": used.and_then(|u| u.last.clone()),
                "scopes_held": c.scopes,
                "scopes_needed": needed,
                "over_privileged": over,
            })
        })
        .collect();

    json!({
        "environment": config.environment,
        "since": humantime::format_rfc3339_seconds(cutoff).to_string(),
        "generated_at": humantime::format_rfc3339_seconds(now).to_string(),
        "agents": agents,
        "credentials": credentials,
    })
}

/// The review as text, for people.
pub fn render(v: &Value) -> String {
    let list = |x: &Value| {
        let items: Vec<String> = x
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let mut out = format!(
        "access review of {} since {}\n\nagents\n",
        v["environment"].as_str().unwrap_or(""),
        v["since"].as_str().unwrap_or("")
    );
    for a in v["agents"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} (workflow {}), last used {}\n    scopes granted: {}\n    scopes unused:  {}\n    tools unused:   {}\n",
            a["agent"].as_str().unwrap_or(""),
            a["workflow"].as_str().unwrap_or(""),
            a["last_used"].as_str().unwrap_or("never"),
            list(&a["scopes_granted"]),
            list(&a["scopes_unused"]),
            list(&a["tools_unused"]),
        ));
        for (t, u) in a["tools_used"].as_object().into_iter().flatten() {
            out.push_str(&format!(
                "    used {t}: {} call(s), last {}\n",
                u["calls"],
                u["last_used"].as_str().unwrap_or("")
            ));
        }
    }
    out.push_str("\ncredentials\n");
    for c in v["credentials"].as_array().into_iter().flatten() {
        let age = c["age_days"]
            .as_u64()
            .map_or("unknown".to_owned(), |d| format!("{d} days"));
        out.push_str(&format!(
            "  {}: age {age}{}, {} call(s), last used {}\n    over-privileged: {}\n",
            c["credential"].as_str().unwrap_or(""),
            if c["stale"] == true {
                " (STALE: past max_age_days)"
            } else {
                ""
            },
            c["calls"],
            c["last_used"].as_str().unwrap_or("never"),
            list(&c["over_privileged"]),
        ));
    }
    out
}
