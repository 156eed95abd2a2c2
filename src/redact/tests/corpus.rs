//! The measurement: how many real-shaped secrets the detectors catch, and
//! how many look-alikes they touch.
//!
//! Secrets: every documented format (`formats`), 40 random samples each,
//! each in one of the places secrets leak into — a JSON value, an env
//! file, YAML, a log line, a URL path — under a neutral name; formats with
//! no structure of their own sit under their documented variable names.
//! A sample is caught when none of its secret parts is left. Look-alikes:
//! random hex, base64, UUIDs, hashes, identifiers, words, config values,
//! tokens with a wrong checksum or length, prefixes inside words, in the
//! same places; one is flagged when redaction changes it at all.

use super::formats::formats;
use super::make::Format;
use super::make::*;
use crate::redact::Redactor;

const PER_FORMAT: usize = 40;

/// `value` in one of the usual places, under a neutral name.
fn place(value: &str, how: usize) -> String {
    if value.contains('\n') {
        return match how % 2 {
            0 => value.to_owned(),
            _ => serde_json::json!({ "output": value }).to_string(),
        };
    }
    match how % 6 {
        0 => serde_json::json!({ "id": 7, "value": value, "ok": true }).to_string(),
        1 => format!("APP_SETTING={value}\nLOG_LEVEL=info\n"),
        2 => format!("spec:\n  value: \"{value}\"\n  replicas: 2\n"),
        3 => format!("2025-03-01T12:00:00Z INFO worker: fetched {value} in 3ms"),
        4 => format!("https://api.example.com/v1/items/{value}/status"),
        _ => format!("value = '{value}'"),
    }
}

/// `value` under the variable `var`, as env, YAML, JSON or shell write it.
fn under(var: &str, value: &str, how: usize) -> String {
    match how % 4 {
        0 => format!("{var}={value}\n"),
        1 => format!("{}: {value}\n", var.to_lowercase()),
        2 => serde_json::json!({ var: value }).to_string(),
        _ => format!("export {var}=\"{value}\""),
    }
}

fn sample_text(f: &Format, how: usize) -> (String, Vec<String>) {
    let s = (f.make)();
    let text = match f.var {
        Some(var) => under(var, &s.text, how),
        None => place(&s.text, how),
    };
    (text, s.secrets)
}

fn word() -> &'static str {
    [
        "deploy", "cache", "user", "order", "build", "status", "region", "shard",
    ][between(0, 7)]
}

/// Text that holds no secret but looks like one in some way.
fn look_alikes() -> Vec<String> {
    let makers: Vec<fn() -> String> = vec![
        || hex(32),
        || hex(40),
        || hex(64),
        || b64(between(16, 96)),
        || pick(B64URL, between(20, 60)),
        || uuid(),
        || format!("sha256:{}", hex(64)),
        || format!("sha512-{}", b64(64)),
        || format!("{}-{}-{}", word(), word(), between(1, 99)),
        || format!("{}_{}_{}", word(), word(), word()),
        || "getUserAccountSettings".into(),
        || "The build finished; 3 tests were skipped and the cache was warm.".into(),
        || format!("v{}.{}.{}", between(0, 9), between(0, 20), between(0, 99)),
        || format!("/var/lib/app/{}/{}.db", word(), hex(8)),
        || format!("https://example.com:8443/{}?page={}", word(), between(1, 9)),
        || format!("{}@example.com", word()),
        || format!("{}-{}.{}.svc.cluster.local", word(), hex(5), word()),
        || format!("arn:aws:iam::{}:role/{}", pick(DIGITS, 12), word()),
        || format!("AKIA{}", pick(b"0189ABCDEFGHIJKL", 16)),
        || bad_crc_token("ghp_"),
        || bad_crc_token("npm_"),
        || format!("ghp_{}", alnum(30)),
        || {
            format!(
                "{}.{}.{}",
                b64url_of(b"this-is-not-an-id"),
                pick(B64URL, 6),
                pick(B64URL, 38)
            )
        },
        || format!("eyJ{}.eyJ{}.{}", alnum(20), alnum(40), alnum(43)),
        || "sk-learn-compatible-estimators".into(),
        || format!("task-{}-done", hex(6)),
        || format!("token_ttl: {}", between(60, 86400)),
        || format!("secret_name: {}-{}-credentials", word(), word()),
        || "api_key_header: X-Api-Key".into(),
        || format!("password_min_length={}", between(8, 16)),
        || "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}".into(),
        || format!("kind: ConfigMap\ndata:\n  {}: {}\n", word(), b64(18)),
        || format!("index-{}", hex(12)),
        || format!("commit {}", hex(40)),
        || format!("{}Q~", word()),
        || "Content-Type: application/json; charset=utf-8".into(),
        || format!("en-us{}", between(1, 30)),
        || format!("x-request-id: {}", uuid()),
        || {
            format!(
                "{}",
                between(1_000_000_000u64 as usize, 9_999_999_999u64 as usize)
            )
        },
        || format!("2/{}", between(1, 12)),
    ];
    let mut out = Vec::new();
    for (i, m) in makers.iter().enumerate() {
        for k in 0..25 {
            out.push(place(&m(), i + k));
        }
    }
    out
}

#[test]
fn caught_fraction_and_false_positive_fraction() {
    let r = Redactor::empty();
    let mut total = 0usize;
    let mut caught = 0usize;
    let mut missed: Vec<String> = Vec::new();
    let fs = formats();
    for f in &fs {
        let mut miss = 0;
        for how in 0..PER_FORMAT {
            let (text, secrets) = sample_text(f, how);
            let (out, _) = r.redact_str(&text);
            total += 1;
            if secrets.iter().all(|s| !out.contains(s.as_str())) {
                caught += 1;
            } else {
                miss += 1;
                if miss == 1 {
                    missed.push(format!("{} ({}): {text:?} -> {out:?}", f.name, f.detector));
                }
            }
        }
    }
    let alikes = look_alikes();
    let flagged: Vec<String> = alikes
        .iter()
        .filter_map(|t| {
            let (out, _) = r.redact_str(t);
            (out != *t).then(|| format!("{t:?} -> {out:?}"))
        })
        .collect();
    let catch = caught as f64 / total as f64;
    let fp = flagged.len() as f64 / alikes.len() as f64;
    println!(
        "corpus: {} formats, {total} samples, caught {caught} = {:.1}%; {} look-alikes, flagged {} = {:.2}%",
        fs.len(),
        catch * 100.0,
        alikes.len(),
        flagged.len(),
        fp * 100.0
    );
    for m in &missed {
        println!("missed: {m}");
    }
    for f in flagged.iter().take(20) {
        println!("flagged: {f}");
    }
    assert!(catch >= 0.90, "caught {:.1}%", catch * 100.0);
    assert!(fp <= 0.05, "flagged {:.2}%", fp * 100.0);
}
