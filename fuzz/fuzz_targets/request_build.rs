//! Stage 6, the request builder (and the template renderer under it), from
//! a fixed configuration (`fuzz/fixtures/request/`) with fuzzed arguments.
//!
//! Input: one byte choosing the tool, then the arguments: a JSON object,
//! or else any bytes, which become every argument's value as text (so
//! strings reach the path, query and headers without JSON escaping).
//! Building never panics, and a request that is built goes to the
//! manifest's scheme, host and port only, below its fixed path, with no
//! CR or LF in any header value; frozen for an approver, it thaws back to
//! the same bytes.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use toolgate::catalog::ToolBinding;
use toolgate::fuzzing::{build_request, load_config_dir, thaw_request};
use toolgate::digest::DigestKey;
use toolgate::request::FrozenRequest;

const FIXTURE: &[(&str, &str)] = &[
    (
        "toolgate.yaml",
        include_str!("../fixtures/request/toolgate.yaml"),
    ),
    (
        "tools/fz_path.yaml",
        include_str!("../fixtures/request/tools/fz_path.yaml"),
    ),
    (
        "tools/fz_query_headers.yaml",
        include_str!("../fixtures/request/tools/fz_query_headers.yaml"),
    ),
    (
        "tools/fz_body.yaml",
        include_str!("../fixtures/request/tools/fz_body.yaml"),
    ),
];

/// The tools, in the order the first byte picks them, with the path each
/// request must stay below.
const TOOLS: &[(&str, &str)] = &[
    ("fz_path", "/v1/items/"),
    ("fz_query_headers", "/v1/things/"),
    ("fz_body", "/v1/body"),
];

/// Every argument name the fixture's templates use.
const ARGUMENTS: &[&str] = &["id", "kind", "q", "n", "tag", "a", "b", "e"];

/// The fixture's bindings, loaded once per process.
static BINDINGS: LazyLock<Vec<Arc<ToolBinding>>> = LazyLock::new(|| {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("toolgate-fuzz-request-{}", std::process::id()));
    for (name, text) in FIXTURE {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a file has a parent"))
            .expect("the fixture directory can be made");
        std::fs::write(&path, text).expect("the fixture can be written");
    }
    let (loaded, _warnings) = load_config_dir(&dir).unwrap_or_else(|problems| {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("the fixture does not load:\n{}", text.join("\n"))
    });
    let _ = std::fs::remove_dir_all(&dir);
    TOOLS
        .iter()
        .map(|(tool, _)| {
            loaded
                .catalog
                .binding("fuzz", tool)
                .unwrap_or_else(|| panic!("the fixture binds {tool}"))
                .clone()
        })
        .collect()
});

/// Arguments from the input: its JSON value, or its text under every name
/// (nested where a template reaches into an object).
fn arguments(bytes: &[u8]) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    let text = Value::String(String::from_utf8_lossy(bytes).into_owned());
    let mut args: Map<String, Value> = ARGUMENTS
        .iter()
        .map(|k| ((*k).to_owned(), text.clone()))
        .collect();
    for (outer, inner) in [("filter", "name"), ("trace", "id"), ("c", "d")] {
        let mut m = Map::new();
        m.insert(inner.to_owned(), text.clone());
        args.insert(outer.to_owned(), Value::Object(m));
    }
    Value::Object(args)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let which = which as usize % TOOLS.len();
    let binding = &BINDINGS[which];
    let args = arguments(rest);
    let Ok(req) = build_request(binding, &args) else {
        return;
    };

    let origin = &binding.tool.upstream.url.origin;
    assert_eq!(req.url.scheme(), origin.scheme(), "the scheme moved");
    assert_eq!(req.url.host_str(), origin.host_str(), "the host moved");
    assert_eq!(
        req.url.port_or_known_default(),
        origin.port_or_known_default(),
        "the port moved"
    );
    assert!(
        req.url.username().is_empty() && req.url.password().is_none(),
        "the URL gained credentials"
    );
    assert!(req.url.fragment().is_none(), "the URL gained a fragment");
    let below = TOOLS[which].1;
    assert!(
        req.url.path().starts_with(below),
        "the path left {below}: {}",
        req.url.path()
    );
    for (name, value) in &req.headers {
        assert!(
            !value.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n')),
            "header {name} holds CR or LF"
        );
    }

    let key = DigestKey::derive(b"fuzz");
    let frozen = FrozenRequest::freeze(&req, &key);
    let thawed = thaw_request(&frozen, &key).expect("a frozen request thaws");
    assert_eq!(thawed.url, req.url, "the URL changed in the freezer");
    assert_eq!(thawed.body, req.body, "the body changed in the freezer");
    assert_eq!(
        FrozenRequest::freeze(&thawed, &key),
        frozen,
        "a thawed request freezes differently"
    );
});
