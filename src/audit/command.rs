//! `toolgate audit verify` as a command: read the key and checkpoints it
//! is given, verify a file trail or a Redis one, and print the report.

use std::path::{Path, PathBuf};

use crate::store::RedisOptions;

/// What `toolgate audit verify` was given.
#[derive(Debug, Clone, Copy)]
pub struct Verify<'a> {
    /// Trail files in order, or one `redis://` / `rediss://` URL (a Redis
    /// Cluster's nodes: the URLs joined by commas).
    pub paths: &'a [PathBuf],
    /// The environment of a Redis trail.
    pub environment: Option<&'a str>,
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
            let (reader, mut stored) =
                match crate::audit::redis::open_reader_with(&target, redis, env) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("toolgate: cannot read the trail from Redis: {e}");
                        return false;
                    }
                };
            // The checkpoints kept beside the stream count too.
            stored.extend(checkpoints);
            if public_key.is_some() && stored.is_empty() {
                eprintln!("toolgate: --public-key given, but there is no checkpoint to check");
                return false;
            }
            let label = PathBuf::from(format!("redis:{env}"));
            crate::audit::verify::verify_reader(&label, reader, key.as_deref(), &stored, public_key)
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
        match &report.problem {
            None => println!(
                "intact: {} record(s); head seq {} hash {}",
                report.records, report.head_seq, report.head_hash
            ),
            Some(p) => {
                println!("{}: {}:{}: {}", p.kind, p.file.display(), p.line, p.message);
                println!("{} record(s) verified before it", report.records);
            }
        }
    }
    report.intact()
}
