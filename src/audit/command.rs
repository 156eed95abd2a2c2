//! `toolgate audit verify` as a command: read the key and checkpoints it
//! is given, verify a file trail or a Redis one, and print the report.

use std::path::{Path, PathBuf};

use crate::audit::checkpoint::Checkpoint;
use crate::audit::redis_read::Trail;
use crate::audit::verify::{self, Report};
use crate::store::RedisOptions;

/// What `toolgate audit verify` was given.
#[derive(Debug, Clone, Copy)]
pub struct Verify<'a> {
    /// Trail files in order, or one `redis://` / `rediss://` URL (a Redis
    /// Cluster's nodes: the URLs joined by commas).
    pub paths: &'a [PathBuf],
    /// The environment of a Redis trail.
    pub environment: Option<&'a str>,
    /// Of a Redis trail with per-replica chains: only this replica's chain.
    pub chain: Option<&'a str>,
    pub redis: &'a RedisOptions,
    pub key_env: Option<&'a str>,
    pub key_file: Option<&'a Path>,
    pub checkpoint: Option<&'a Path>,
    pub public_key: Option<&'a str>,
    pub json: bool,
}

/// `toolgate audit verify`: check the trail, print the report; whether it is intact.
pub fn verify(args: &Verify<'_>) -> bool {
    let Verify {
        paths,
        environment,
        chain,
        redis,
        key_env,
        key_file,
        checkpoint,
        public_key,
        json,
    } = *args;
    let key = match (key_env, key_file) {
        (Some(var), _) => match std::env::var(var) {
            Ok(k) => Some(k.into_bytes()),
            Err(_) => {
                eprintln!("toolgate: environment variable {var} is not set");
                return false;
            }
        },
        (None, Some(f)) => match std::fs::read_to_string(f) {
            Ok(k) => Some(k.trim_end_matches(['\n', '\r']).as_bytes().to_vec()),
            Err(e) => {
                eprintln!("toolgate: cannot read {}: {e}", f.display());
                return false;
            }
        },
        (None, None) => None,
    };
    let checkpoints = match checkpoint {
        None => Vec::new(),
        Some(f) => match crate::audit::checkpoint::read(f) {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                eprintln!("toolgate: {} holds no checkpoint", f.display());
                return false;
            }
            Err(e) => {
                eprintln!("toolgate: cannot read {}: {e}", f.display());
                return false;
            }
        },
    };
    let redis_url = paths
        .first()
        .and_then(|p| p.to_str())
        .filter(|p| p.starts_with("redis://") || p.starts_with("rediss://"));
    if chain.is_some() && environment.is_none() {
        eprintln!("toolgate: --chain is for a redis:// trail with per-replica chains");
        return false;
    }
    let report = match (redis_url, environment) {
        (None, None) if public_key.is_some() && checkpoints.is_empty() => {
            eprintln!("toolgate: --public-key needs --checkpoint (the checkpoints to check)");
            return false;
        }
        (None, None) => {
            crate::audit::verify::verify_with(paths, key.as_deref(), &checkpoints, public_key)
        }
        (Some(url), Some(env)) if paths.len() == 1 => {
            let target = crate::store::RedisTarget::parse(url);
            let Some(reports) = verify_redis(
                &target,
                redis,
                env,
                chain,
                &Given {
                    key: key.as_deref(),
                    checkpoints,
                    public_key,
                },
            ) else {
                return false;
            };
            match reports.as_slice() {
                [(None, report)] => report.clone(),
                _ => return print_chains(&reports, json),
            }
        }
        (Some(_), _) => {
            eprintln!(
                "toolgate: give one redis:// URL (a cluster's as one comma-separated list) and --environment (the trail's environment)"
            );
            return false;
        }
        (None, Some(_)) => {
            eprintln!("toolgate: --environment is for a redis:// trail");
            return false;
        }
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("toolgate: cannot encode the report: {e}");
                return false;
            }
        }
    } else {
        print_report(&report, None);
    }
    report.intact()
}

/// What a verification is given besides the trail.
struct Given<'a> {
    key: Option<&'a [u8]>,
    /// From `--checkpoint`: of the one chain verified.
    checkpoints: Vec<Checkpoint>,
    public_key: Option<&'a str>,
}

/// Each chain of a Redis trail verified (or only `only`), with the
/// checkpoints kept beside it; `None` once an error is printed.
fn verify_redis(
    target: &crate::store::RedisTarget,
    redis: &RedisOptions,
    env: &str,
    only: Option<&str>,
    given: &Given<'_>,
) -> Option<Vec<(Option<String>, Report)>> {
    let trail = match Trail::open(target, redis, env) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("toolgate: cannot read the trail from Redis: {e}");
            return None;
        }
    };
    let chains: Vec<Option<String>> = match only {
        None => trail.chains().to_vec(),
        Some(name) if trail.chains().iter().any(|c| c.as_deref() == Some(name)) => {
            vec![Some(name.to_owned())]
        }
        Some(name) => {
            let names: Vec<&str> = trail.chains().iter().filter_map(|c| c.as_deref()).collect();
            eprintln!(
                "toolgate: the trail of {env} has no chain named {name:?} (its replicas' chains: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            );
            return None;
        }
    };
    if !given.checkpoints.is_empty() && chains.len() > 1 {
        eprintln!(
            "toolgate: this trail has {} chains; name the one --checkpoint is of with --chain",
            chains.len()
        );
        return None;
    }
    let mut out = Vec::with_capacity(chains.len());
    let mut any_checkpoint = false;
    for chain in chains {
        // The checkpoints kept beside the stream count too.
        let mut stored = match trail.checkpoints(chain.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("toolgate: cannot read the trail from Redis: {e}");
                return None;
            }
        };
        stored.extend(given.checkpoints.iter().cloned());
        any_checkpoint |= !stored.is_empty();
        let reader = trail.reader(chain.as_deref());
        let report = match &chain {
            None => {
                let label = PathBuf::from(format!("redis:{env}"));
                verify::verify_reader(&label, reader, given.key, &stored, given.public_key)
            }
            Some(name) => {
                let label = PathBuf::from(format!("redis:{env}/{name}"));
                verify::verify_chain(&label, reader, name, given.key, &stored, given.public_key)
            }
        };
        out.push((chain, report));
    }
    if given.public_key.is_some() && !any_checkpoint {
        eprintln!("toolgate: --public-key given, but there is no checkpoint to check");
        return None;
    }
    Some(out)
}

fn print_report(report: &Report, chain: Option<&str>) {
    let named = chain.map(|c| format!("chain {c}: ")).unwrap_or_default();
    match &report.problem {
        None => println!(
            "intact: {named}{} record(s); head seq {} hash {}",
            report.records, report.head_seq, report.head_hash
        ),
        Some(p) => {
            println!("{}: {}:{}: {}", p.kind, p.file.display(), p.line, p.message);
            println!("{named}{} record(s) verified before it", report.records);
        }
    }
}

/// The reports of a trail of several chains; whether every chain is intact.
fn print_chains(reports: &[(Option<String>, Report)], json: bool) -> bool {
    let intact = reports.iter().all(|(_, r)| r.intact());
    if json {
        let chains: Vec<serde_json::Value> = reports
            .iter()
            .map(|(chain, r)| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["chain"] = serde_json::json!(chain);
                v
            })
            .collect();
        let doc = serde_json::json!({"intact": intact, "chains": chains});
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("toolgate: cannot encode the report: {e}");
                return false;
            }
        }
    } else {
        for (chain, r) in reports {
            print_report(r, Some(chain.as_deref().unwrap_or("(shared)")));
        }
    }
    intact
}
