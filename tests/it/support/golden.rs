//! Golden files under `tests/it/golden/`: a test renders what it checks to
//! text and compares it with the file. `TOOLGATE_BLESS=1 cargo test` rewrites
//! the files instead (review the diff before committing it).

use std::path::PathBuf;

use regex::Regex;
use serde_json::Value;

pub fn dir() -> PathBuf {
    super::repo_root().join("tests/it/golden")
}

fn blessing() -> bool {
    matches!(std::env::var("TOOLGATE_BLESS"), Ok(v) if v == "1")
}

/// Compare `actual` with the golden file `name` (or rewrite it when blessing).
pub fn check(name: &str, actual: &str) {
    let path = dir().join(name);
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let Ok(expected) = std::fs::read_to_string(&path) else {
        panic!(
            "golden file {} is missing; run with TOOLGATE_BLESS=1 to create it. Actual:\n{actual}",
            path.display()
        );
    };
    if expected == actual {
        return;
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let line = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    panic!(
        "{} differs at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
         (rerun with TOOLGATE_BLESS=1 to accept the new output). Actual output:\n{actual}",
        path.display(),
        line + 1,
        e.get(line).copied().unwrap_or("<end of file>"),
        a.get(line).copied().unwrap_or("<end of output>"),
    );
}

/// Replace each `from` with its `to` (temp dirs, ports, generated names).
pub fn replace_all(text: &str, replacements: &[(&str, &str)]) -> String {
    replacements
        .iter()
        .fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
}

/// Pretty JSON with volatile values normalised: the `replacements` first,
/// then RFC 3339 timestamps → `<timestamp>`, generated action and call ids
/// → `act_<id>` / `call_<id>`, and
/// the values of `volatile_keys` (e.g. a hash over a URL with a random port)
/// → `<volatile>`.
pub fn normalise_json(v: &Value, replacements: &[(&str, &str)], volatile_keys: &[&str]) -> String {
    let time = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$").unwrap();
    let ids = Regex::new(r"\b(act|call)_[0-9a-f]{32}\b").unwrap();
    fn walk(v: &mut Value, f: &dyn Fn(&str, &mut Value)) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    f(k, x);
                    walk(x, f);
                }
            }
            Value::Array(xs) => xs.iter_mut().for_each(|x| walk(x, f)),
            _ => {}
        }
    }
    let mut v = v.clone();
    let fix = |key: &str, x: &mut Value| {
        if volatile_keys.contains(&key) && !x.is_null() {
            *x = Value::String("<volatile>".to_owned());
        } else if let Value::String(s) = x {
            let t = replace_all(s, replacements);
            let t = ids.replace_all(&t, "${1}_<id>").into_owned();
            *s = if time.is_match(&t) {
                "<timestamp>".to_owned()
            } else {
                t
            };
        }
    };
    walk(&mut v, &fix);
    let mut out = serde_json::to_string_pretty(&v).unwrap();
    out.push('\n');
    out
}
