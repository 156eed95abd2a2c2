//! Config loading: every problem at once, each with file, line and key.

use crate::support::{ConfigDir, Keys};

pub(crate) fn messages(dir: &ConfigDir) -> Vec<String> {
    match toolgate::catalog::load(&dir.config_path()) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(|d| d.to_string()).collect(),
    }
}

/// What loading says of these manifests (tools/t0.yaml, t1.yaml, …) under
/// a toolgate.yaml with only an environment, one message a line.
fn problems_of(manifests: &[&str]) -> String {
    let dir = ConfigDir::new();
    for (i, text) in manifests.iter().enumerate() {
        dir.write(&format!("tools/t{i}.yaml"), text);
    }
    dir.write("toolgate.yaml", "environment: test\n");
    messages(&dir).join("\n")
}

fn tool(name: &str) -> String {
    format!(
        "name: {name}\ndescription: d\nscopes: [s]\ninput_schema: {{ type: object, additionalProperties: false }}\n\
         upstream: {{ method: GET, url: \"https://api.example.com/x\", credential: crm }}\n"
    )
}

#[test]
fn unknown_keys_are_named_with_file_and_line() {
    let dir = ConfigDir::new();
    dir.write(
        "tools/a.yaml",
        &tool("a").replace("description: d\n", "description: d\ndescriptoin: typo\n"),
    );
    dir.write(
        "toolgate.yaml",
        "environment: test\ncredentials:\n  crm:\n    environment: test\n    sorce: { env: X }\n    source: { env: X }\n    inject: { header: Authorization }\n",
    );
    let msgs = messages(&dir);
    let cfg = dir.config_path().display().to_string();
    let tool_file = dir.path().join("tools/a.yaml").display().to_string();
    assert!(
        msgs.iter().any(|m| m.starts_with(&format!(
            "{cfg}:5: error: credentials.crm.sorce: unknown key \"sorce\""
        ))),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with(&format!("{tool_file}:3: error: descriptoin: unknown key"))),
        "{msgs:#?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = ConfigDir::new();
    let keys = Keys::new();
    dir.write(
        "tools/a.yaml",
        &tool("a").replace(
            "input_schema: {",
            "input_schema: schemas/missing.json\nx: {",
        ),
    );
    dir.write(
        "tools/b.yaml",
        &tool("b").replace(
            "input_schema: { type: object, additionalProperties: false }",
            "input_schema: { type: object, properties: { p: { type: nonsense } } }",
        ),
    );
    dir.write("tools/c.yaml", &tool("c"));
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: production\nlisten: nowhere\n\
             credentials:\n  crm:\n    environment: staging\n    source: {{ env: X }}\n    inject: {{ header: Authorization }}\n\
             workflows:\n  main:\n    environment: staging\n    scopes: [s]\n    credentials: {{ crm: nope }}\n    tools: {{ ghost: {{}} }}\n  other:\n    environment: production\n    scopes: [s]\n\
             {}",
            keys.yaml()
        ),
    );
    let msgs = messages(&dir).join("\n");
    for needle in [
        "tools/a.yaml:",
        "unknown key \"x\"",
        "tools/b.yaml:",
        "the schema does not compile",
        "credentials.crm.environment: credential of environment \"staging\" in a gateway for \"production\"",
        "workflows.main.environment: workflow of environment \"staging\"",
        "workflows.main.credentials.crm: unknown credential \"nope\"",
        "workflows.main.tools.ghost: unknown tool \"ghost\"",
        "tool \"c\" needs credential slot \"crm\", which this workflow does not bind",
        "listen: listen must be host:port",
    ] {
        assert!(msgs.contains(needle), "missing {needle:?} in:\n{msgs}");
    }
}

#[test]
fn a_missing_schema_file_is_named() {
    let msgs = problems_of(&[&tool("a").replace(
        "input_schema: { type: object, additionalProperties: false }",
        "input_schema: schemas/a.json",
    )]);
    assert!(
        msgs.contains("input_schema: cannot read schema file"),
        "{msgs}"
    );
}

#[test]
fn duplicate_keys_and_shared_identity_keys_are_errors() {
    let dir = ConfigDir::new();
    let keys = Keys::new();
    let hash = toolgate::identity::key_sha256(&keys.agent);
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nenvironment: test\nworkflows:\n  w: {{ environment: test }}\n\
             agents:\n  a1: {{ workflow: w, key_sha256: \"{hash}\" }}\n  a2: {{ workflow: w, key_sha256: \"{hash}\" }}\n"
        ),
    );
    let msgs = messages(&dir).join("\n");
    assert!(
        msgs.contains(":2: error: environment: duplicate key \"environment\""),
        "{msgs}"
    );
    let dir2 = ConfigDir::new();
    std::fs::create_dir_all(dir2.path().join("tools")).unwrap();
    dir2.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nworkflows:\n  w: {{ environment: test }}\n\
             agents:\n  a1: {{ workflow: w, key_sha256: \"{hash}\" }}\n  a2: {{ workflow: w, key_sha256: \"{hash}\" }}\n"
        ),
    );
    let msgs = messages(&dir2).join("\n");
    assert!(
        msgs.contains("agents.a2.key_sha256: agent a2 has the same key as agent a1"),
        "{msgs}"
    );
}

#[test]
fn url_templates_are_checked_at_load() {
    let msgs = problems_of(&[
        "name: a\ndescription: d\ninput_schema: { type: object, properties: { h: { type: string } } }\n\
         upstream: { method: GET, url: \"https://{h}.example.com/x\" }\n",
        "name: b\ndescription: d\ninput_schema: { type: object, properties: { id: { type: string } } }\n\
         upstream: { method: GET, url: \"https://api.example.com/x/{id}\", body: { a: \"Bearer {args.id}\" } }\n",
    ]);
    assert!(
        msgs.contains("placeholders are not allowed in the host"),
        "{msgs}"
    );
    assert!(
        msgs.contains("must name a required property of input_schema"),
        "{msgs}"
    );
    assert!(msgs.contains("mixes a placeholder with text"), "{msgs}");
}

/// Every `*.yaml` / `*.json` file under `dir` (recursively), sorted.
fn shipped_files(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(shipped_files(&p, ext));
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_config_manifest_and_schema_loads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (loaded, _) =
        toolgate::catalog::load(&root.join("examples/toolgate.yaml")).expect("examples load");
    assert_eq!(loaded.config.environment, "development");
    // Every manifest in tools/ is loaded (none is skipped or dropped).
    let manifests = shipped_files(&root.join("tools"), "yaml");
    assert_eq!(loaded.config.tools.len(), manifests.len());
    let w = loaded.catalog.tools("lead-routing").unwrap();
    assert!(w.contains_key("create_lead") && !w.contains_key("delete_lead"));

    // What `toolgate dev` bundles is the same set, and loads where it is written.
    let dir = tempfile::tempdir().unwrap();
    let keys = toolgate::dev::mint_keys();
    let upstream = toolgate::dev::EXAMPLE_UPSTREAM.parse().unwrap();
    let path = toolgate::dev::write_examples(dir.path(), upstream, &keys).unwrap();
    let dev = crate::support::load(&path);
    assert_eq!(dev.config.tools.len(), manifests.len());
    assert_eq!(dev.catalog.len(), loaded.catalog.len());

    // The shipped JSON Schemas accept every shipped file of their format.
    let validator = |rel: &str| {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(rel)).unwrap()).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    };
    let mut configs = vec![
        root.join("examples/toolgate.yaml"),
        root.join("deploy/compose/toolgate.yaml"),
    ];
    configs.sort();
    let mut tools = manifests;
    tools.extend(shipped_files(&root.join("deploy/compose/tools"), "yaml"));
    for (schema, files) in [
        ("schemas/toolgate.schema.json", configs),
        ("schemas/tool.schema.json", tools),
    ] {
        let v = validator(schema);
        for f in files {
            // deploy/ ships placeholders where each operator puts their keys' hashes.
            let text = std::fs::read_to_string(&f).unwrap().replace(
                "key_sha256: \"REPLACE\"",
                &format!("key_sha256: \"{}\"", "0".repeat(64)),
            );
            let (doc, _) = toolgate::config::yaml::parse(&text)
                .unwrap_or_else(|_| panic!("{} is not YAML", f.display()));
            assert!(v.is_valid(&doc), "{} does not match {schema}", f.display());
        }
    }
    // Every schema shipped compiles as toolgate compiles user schemas.
    let schemas = shipped_files(&root.join("schemas"), "json");
    assert!(schemas.len() >= 4, "{schemas:?}");
    for f in schemas {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert!(
            toolgate::config::compile_schema(&s).is_ok(),
            "{} does not compile",
            f.display()
        );
    }
}

#[test]
fn formats_are_asserted_and_overlays_enforced() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (loaded, _) = toolgate::catalog::load(&root.join("examples/toolgate.yaml")).unwrap();
    let b = loaded
        .catalog
        .binding("lead-routing", "create_lead")
        .unwrap();
    let ok = serde_json::json!({"name": "Ada", "email": "ada@example.com", "source": "chat"});
    assert!(b.validator.is_valid(&ok));
    let bad_email = serde_json::json!({"name": "Ada", "email": "not an email", "source": "chat"});
    assert!(!b.validator.is_valid(&bad_email));
    // The tool allows "referral"; the workflow overlay does not.
    let referral =
        serde_json::json!({"name": "Ada", "email": "ada@example.com", "source": "referral"});
    assert!(!b.validator.is_valid(&referral));
}

#[test]
fn manifests_cannot_set_transport_headers() {
    let msgs = problems_of(&[
        "name: a\ndescription: d\ninput_schema: { type: object }\nupstream: { method: GET, url: \"https://api.example.com/\", headers: { Host: evil.example.com } }\n",
    ]);
    assert!(
        msgs.contains("upstream.headers.Host: toolgate sets host itself"),
        "{msgs}"
    );
}

#[test]
fn oauth2_and_shared_store_settings_are_checked_at_load() {
    let dir = ConfigDir::new();
    dir.write("tools/a.yaml", &tool("a"));
    let cred = |source: &str| {
        format!(
            "  crm:\n    environment: test\n    source: {{ oauth2: {source} }}\n    inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n"
        )
    };
    let load = |store: &str, source: &str| {
        dir.write(
            "toolgate.yaml",
            &format!("environment: test\n{store}credentials:\n{}", cred(source)),
        );
        messages(&dir).join("\n")
    };
    let ok = "{ token_url: \"https://id.example.com/token\", client_id: c, client_secret: { env: S }, grant: client_credentials }";
    // Tokens are kept in the store: sealed, so a key is required.
    let m = load("store: { kind: file }\n", ok);
    assert!(m.contains("store.encryption_key"), "{m}");
    assert_eq!(
        load("store: { kind: file, encryption_key: { env: K } }\n", ok),
        ""
    );
    assert_eq!(load("store: { kind: memory }\n", ok), "");
    let with_key = "store: { kind: memory }\n";
    let m = load(
        with_key,
        "{ token_url: \"http://id.example.com/token\", client_id: c, client_secret: { env: S }, grant: client_credentials }",
    );
    assert!(m.contains("https://"), "{m}");
    let m = load(
        with_key,
        "{ token_url: \"https://id.example.com/token\", client_id: c, client_secret: { env: S }, grant: refresh_token }",
    );
    assert!(m.contains("needs refresh_token"), "{m}");
    let m = load(
        with_key,
        "{ token_url: \"https://id.example.com/token\", client_id: c, client_secret: { oauth2: { token_url: \"https://x\", client_id: c, client_secret: { env: S }, grant: client_credentials } }, grant: client_credentials }",
    );
    assert!(
        m.contains("its own secrets come from env, file or vault"),
        "{m}"
    );
    // A Redis store needs a redis:// URL; the audit stream needs the Redis store.
    let m = load("store: { kind: redis, url: \"http://localhost\" }\n", ok);
    assert!(m.contains("not a Redis URL"), "{m}");
    let m = load("audit: { kind: redis }\n", ok);
    assert!(m.contains("writes to the store's Redis"), "{m}");
    // rediss:// is TLS; its own settings only with it (tests/it/tls.rs).
    let m = load(
        "store: { kind: redis, url: \"redis://h:6379/0\", tls: {} }\n",
        ok,
    );
    assert!(m.contains("applies to rediss:// URLs"), "{m}");
    let m = load("store: { kind: redis }\n", ok);
    assert!(m.contains("needs `url"), "{m}");
}

#[test]
fn a_redis_cluster_is_a_list_of_node_urls_checked_at_load() {
    let dir = ConfigDir::new();
    dir.write("tools/a.yaml", &tool("a"));
    let load = |store: &str| {
        dir.write("toolgate.yaml", &format!("environment: test\n{store}"));
        messages(&dir).join("\n")
    };
    assert_eq!(
        load(
            "store: { kind: redis, cluster: [\"redis://a:7000\", \"redis://b:7001\"] }\naudit: { kind: redis }\n"
        ),
        ""
    );
    let m =
        load("store: { kind: redis, url: \"redis://a:7000/0\", cluster: [\"redis://a:7000\"] }\n");
    assert!(
        m.contains("store.cluster:") && m.contains("exclude each other"),
        "{m}"
    );
    let m = load("store: { kind: redis, cluster: [] }\n");
    assert!(
        m.contains("store.cluster:") && m.contains("is empty"),
        "{m}"
    );
    let m = load("store: { kind: redis, cluster: [\"redis://a:7000\", \"http://b:7001\"] }\n");
    assert!(
        m.contains("store.cluster[1]") && m.contains("not a Redis URL"),
        "{m}"
    );
    let m = load("store: { kind: redis, cluster: [\"redis://a:7000/3\"] }\n");
    assert!(
        m.contains("store.cluster[0]") && m.contains("only database 0"),
        "{m}"
    );
    let m = load("store: { kind: redis, cluster: [\"redis://a:7000\", \"rediss://b:7001\"] }\n");
    assert!(m.contains("mixes redis:// and rediss://"), "{m}");
    let m = load("store: { kind: redis, cluster: [\"redis://a:7000\"], tls: {} }\n");
    assert!(m.contains("applies to rediss:// URLs"), "{m}");
    assert_eq!(
        load("store: { kind: redis, cluster: [\"rediss://a:7000\"], tls: {}, username: tg }\n"),
        ""
    );
}

#[test]
fn per_replica_audit_chains_are_for_the_redis_trail() {
    let dir = ConfigDir::new();
    dir.write("tools/a.yaml", &tool("a"));
    let load = |rest: &str| {
        dir.write("toolgate.yaml", &format!("environment: test\n{rest}"));
        messages(&dir).join("\n")
    };
    let redis = "store: { kind: redis, url: \"redis://127.0.0.1:6379/0\" }\n";
    for chains in ["shared", "per_replica"] {
        assert_eq!(
            load(&format!(
                "{redis}audit: {{ kind: redis, chains: {chains} }}\n"
            )),
            ""
        );
    }
    let m = load("audit: { kind: file, chains: per_replica }\n");
    assert!(
        m.contains("audit.chains:") && m.contains("for the Redis trail"),
        "{m}"
    );
    let m = load(&format!("{redis}audit: {{ kind: redis, chains: each }}\n"));
    assert!(m.contains("audit.chains"), "{m}");
}

#[test]
fn store_path_names_a_directory_or_the_database_file() {
    let store_of = |yaml: &str, setup: &dyn Fn(&ConfigDir)| {
        let dir = ConfigDir::new();
        std::fs::create_dir_all(dir.path().join("tools")).unwrap();
        setup(&dir);
        dir.write("toolgate.yaml", &format!("environment: test\n{yaml}"));
        let loaded = crate::support::load(&dir.config_path());
        let toolgate::config::StoreConfig::File(file) = &loaded.config.store else {
            panic!("not a file store: {:?}", loaded.config.store);
        };
        (file.strip_prefix(dir.path()).unwrap().to_path_buf(), dir)
    };
    let none = |_: &ConfigDir| {};
    let rel = |p: &str| std::path::PathBuf::from(p);
    // As SPEC writes it: a directory, created at start, the database inside.
    assert_eq!(
        store_of("store: { kind: file, path: ./data }\n", &none).0,
        rel("data/toolgate.redb")
    );
    assert_eq!(
        store_of("store: { kind: file, path: state/ }\n", &none).0,
        rel("state/toolgate.redb")
    );
    // An existing directory, whatever its name.
    let mkdir = |d: &ConfigDir| std::fs::create_dir_all(d.path().join("db.redb")).unwrap();
    assert_eq!(
        store_of("store: { kind: file, path: db.redb }\n", &mkdir).0,
        rel("db.redb/toolgate.redb")
    );
    // The database file itself: a new *.redb path, or any existing file.
    assert_eq!(
        store_of("store: { kind: file, path: data/store.redb }\n", &none).0,
        rel("data/store.redb")
    );
    let existing = |d: &ConfigDir| {
        d.write("state/db", "");
    };
    assert_eq!(
        store_of("store: { kind: file, path: state/db }\n", &existing).0,
        rel("state/db")
    );
    // Defaults: no store, or no path.
    assert_eq!(store_of("", &none).0, rel("data/toolgate.redb"));
    assert_eq!(
        store_of("store: { kind: file }\n", &none).0,
        rel("data/toolgate.redb")
    );
}

#[test]
fn places_serve_could_not_open_are_errors_at_load() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write("blocker", "a file, not a directory\n");
    std::fs::create_dir_all(dir.path().join("data/toolgate.redb")).unwrap();
    let load = |yaml: &str| {
        dir.write("toolgate.yaml", &format!("environment: test\n{yaml}"));
        messages(&dir).join("\n")
    };
    let cfg = dir.config_path().display().to_string();
    let m = load("store: { kind: file, path: blocker/state }\n");
    assert!(
        m.contains(&format!("{cfg}:2: error: store.path: the store database"))
            && m.contains("is not a directory"),
        "{m}"
    );
    // A directory where the database file goes.
    let m = load("store: { kind: file, path: data }\n");
    assert!(
        m.contains("store.path: the store database") && m.contains("is a directory, not a file"),
        "{m}"
    );
    let m = load("store: { kind: memory }\naudit: { kind: file, path: blocker/audit.jsonl }\n");
    assert!(
        m.contains(&format!("{cfg}:3: error: audit.path: the audit trail"))
            && m.contains("is not a directory"),
        "{m}"
    );
    let m = load("store: { kind: memory }\naudit: { kind: file, path: data }\n");
    assert!(m.contains("audit.path: the audit trail"), "{m}");
    // Keys that do not apply to the store's kind are named, with their line.
    let m = load("store:\n  kind: memory\n  path: data\n");
    assert!(
        m.contains(&format!(
            "{cfg}:4: error: store.path: this key does not apply here"
        )),
        "{m}"
    );
    let m = load("store: { kind: redis, url: \"redis://127.0.0.1:6379/0\", path: x }\n");
    assert!(
        m.contains("store.path: this key does not apply here"),
        "{m}"
    );
    // With a usable place, the same config loads.
    assert_eq!(load("store: { kind: file, path: state }\n"), "");
}

#[test]
fn metrics_listen_must_be_an_address_other_than_listen() {
    for (value, needle) in [
        (
            "somewhere",
            "metrics.listen: metrics.listen must be host:port",
        ),
        (
            "127.0.0.1:8080",
            "metrics.listen: metrics.listen must differ from listen",
        ),
    ] {
        let (_, dir) = crate::support::bare_config("");
        let config = std::fs::read_to_string(dir.config_path()).unwrap();
        dir.write(
            "toolgate.yaml",
            &format!("{config}listen: 127.0.0.1:8080\nmetrics: {{ listen: \"{value}\" }}\n"),
        );
        let msgs = messages(&dir).join("\n");
        assert!(msgs.contains(needle), "missing {needle:?} in:\n{msgs}");
    }
}

#[test]
fn telemetry_settings_are_checked_at_load() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        "environment: test\ntelemetry:\n  otlp:\n    endpoint: \"collector:4318\"\n    protocol: http/json\n    headers:\n      content-type: { env: A }\n      \"bad name\": { env: B }\n      x-ok: { vault: { path: secret/data/x, field: f } }\n  record_payloads: all\n",
    );
    let msgs = messages(&dir);
    let cfg = dir.config_path().display().to_string();
    let has = |line: usize, text: &str| {
        msgs.iter()
            .any(|m| m.starts_with(&format!("{cfg}:{line}: error: ")) && m.contains(text))
    };
    assert!(has(5, "telemetry.otlp.protocol"), "{msgs:#?}");
    assert!(has(10, "telemetry.record_payloads"), "{msgs:#?}");

    // Past the schema: the URL itself, header names and sources.
    dir.write(
        "toolgate.yaml",
        "environment: test\ntelemetry:\n  otlp:\n    endpoint: \"ftp://collector:4318\"\n    protocol: grpc\n    headers:\n      content-type: { env: A }\n      \"bad name\": { env: B }\n      x-ok: { vault: { path: secret/data/x, field: f } }\n",
    );
    let msgs = messages(&dir).join("\n");
    assert!(
        msgs.contains(&format!("{cfg}:4: error: telemetry.otlp.endpoint: an OTLP endpoint is an http:// or https:// URL")),
        "{msgs}"
    );
    assert!(msgs.contains("toolgate sets content-type itself"), "{msgs}");
    assert!(
        msgs.contains("\"bad name\" is not a valid HTTP header name"),
        "{msgs}"
    );
    assert!(
        msgs.contains("a vault source outside credentials"),
        "{msgs}"
    );

    dir.write(
        "toolgate.yaml",
        "environment: test\ntelemetry:\n  otlp: { endpoint: \"http://127.0.0.1:4318\", protocol: grpc, headers: { x-token: { env: T } } }\n  record_payloads: redacted\n",
    );
    assert!(messages(&dir).is_empty(), "{:#?}", messages(&dir));
}

#[test]
fn manifests_cannot_set_trace_headers() {
    let msgs = problems_of(&[
        "name: a\ndescription: d\ninput_schema: { type: object }\nupstream: { method: GET, url: \"https://api.example.com/\", headers: { traceparent: \"{args.tp}\" } }\n",
    ]);
    assert!(
        msgs.contains("upstream.headers.traceparent: toolgate sets traceparent itself"),
        "{msgs}"
    );
}

#[test]
fn console_settings_are_checked() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    let problems = |yaml: &str| {
        dir.write("toolgate.yaml", &format!("environment: test\n{yaml}"));
        messages(&dir).join("\n")
    };
    let msgs = problems("ui: { session_ttl_seconds: 0 }\n");
    assert!(
        msgs.contains("ui.session_ttl_seconds: value is less than the minimum of 1"),
        "{msgs}"
    );
    let msgs = problems("ui: { enabled: true, sesion_ttl_seconds: 5 }\n");
    assert!(
        msgs.contains("unknown key \"sesion_ttl_seconds\""),
        "{msgs}"
    );
    assert_eq!(
        problems("ui: { enabled: false, session_ttl_seconds: 60 }\n"),
        ""
    );
    let (loaded, _) = toolgate::catalog::load(&dir.config_path()).expect("loads");
    assert!(!loaded.config.ui.enabled);
    assert_eq!(loaded.config.ui.session_ttl.as_secs(), 60);
}

#[test]
fn single_sign_on_settings_and_the_identities_it_knows_are_checked() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    let key = toolgate::identity::key_sha256("k");
    let problems = |yaml: &str| {
        dir.write(
            "toolgate.yaml",
            &format!("environment: test\nworkflows:\n  w: {{ environment: test }}\n{yaml}"),
        );
        messages(&dir).join("\n")
    };
    let oidc = |issuer: &str| {
        format!(
            "ui:\n  oidc: {{ issuer: \"{issuer}\", client_id: toolgate, client_secret: {{ env: SSO_SECRET }} }}\n"
        )
    };
    let public = "public_url: https://toolgate.example.com\n";

    // The issuer is https (http only on loopback).
    let msgs = problems(&format!("{public}{}", oidc("http://id.example.com")));
    assert!(
        msgs.contains("ui.oidc.issuer: issuer must be an https:// URL (http:// only on loopback)"),
        "{msgs}"
    );
    // The redirect URI is built from public_url.
    let msgs = problems(&oidc("https://id.example.com"));
    assert!(
        msgs.contains("ui.oidc: ui.oidc needs public_url: the provider sends the browser back to <public_url>/ui/oidc/callback"),
        "{msgs}"
    );
    // A client secret is a source, of a kind a setting may use.
    let msgs = problems(&format!(
        "{public}ui:\n  oidc: {{ issuer: \"https://id.example.com\", client_id: toolgate, client_secret: \"plain\" }}\n"
    ));
    assert!(msgs.contains("ui.oidc.client_secret"), "{msgs}");
    let msgs = problems(&format!(
        "{public}ui:\n  oidc: {{ issuer: \"https://id.example.com\", client_id: toolgate, client_secret: {{ vault: {{ path: secret/data/sso, field: s }} }} }}\n"
    ));
    assert!(msgs.contains("ui.oidc.client_secret.vault"), "{msgs}");

    // email and oidc_subject need ui.oidc.
    let msgs = problems(&format!(
        "approvers:\n  ada: {{ key_sha256: \"{key}\", workflows: [w], email: ada@example.com }}\nadmins:\n  root: {{ key_sha256: \"{}\", oidc_subject: \"1234\" }}\n",
        toolgate::identity::key_sha256("k2")
    ));
    assert!(
        msgs.contains(
            "approvers.ada.email: email is what single sign-on knows a person by: it needs ui.oidc"
        ),
        "{msgs}"
    );
    assert!(
        msgs.contains("admins.root.oidc_subject: oidc_subject is what single sign-on knows a person by: it needs ui.oidc"),
        "{msgs}"
    );
    // Without ui.oidc a key stays required.
    let msgs = problems("approvers:\n  ada: { workflows: [w] }\n");
    assert!(msgs.contains("approver ada needs key_sha256"), "{msgs}");
    assert!(!msgs.contains("single sign-on only"), "{msgs}");

    // With it, a person may have no key; each name belongs to one identity.
    let sso = format!("{public}{}", oidc("http://127.0.0.1:9/realms/x"));
    let msgs = problems(&format!(
        "{sso}approvers:\n  ada: {{ workflows: [w], email: Ada@Example.com }}\n  bob: {{ workflows: [w], oidc_subject: \"s-1\" }}\n  eve: {{ workflows: [w] }}\nadmins:\n  root: {{ email: ada@example.com }}\n  ops: {{ oidc_subject: \"s-1\" }}\n"
    ));
    assert!(
        msgs.contains(
            "admins.root.email: approver ada has the same email; a person signs in as one identity"
        ),
        "{msgs}"
    );
    assert!(
        msgs.contains("admins.ops.oidc_subject: approver bob has the same oidc_subject"),
        "{msgs}"
    );
    assert!(
        msgs.contains("approver eve needs key_sha256, or a client certificate to be known by instead (cert_sha256 or cert_uri, with tls.client_ca), or email or oidc_subject to sign in to the console by single sign-on only"),
        "{msgs}"
    );
    assert!(!msgs.contains("approvers.ada"), "{msgs}");
    assert!(!msgs.contains("approvers.bob"), "{msgs}");

    let text = format!(
        "{sso}approvers:\n  ada: {{ workflows: [w], email: Ada@Example.com }}\nadmins:\n  root: {{ key_sha256: \"{key}\", oidc_subject: \"s-1\" }}\n"
    );
    assert_eq!(problems(&text), "");
    let (loaded, _) = toolgate::catalog::load(&dir.config_path()).expect("loads");
    let o = loaded.config.ui.oidc.as_ref().expect("ui.oidc");
    assert_eq!(o.issuer, "http://127.0.0.1:9/realms/x");
    assert_eq!(o.scopes, ["openid", "email"]);
    assert_eq!(
        o.redirect_uri,
        "https://toolgate.example.com/ui/oidc/callback"
    );
    assert_eq!(
        loaded.config.approvers["ada"].sso.email.as_deref(),
        Some("ada@example.com")
    );
    // openid is always asked for.
    problems(&text.replace(
        "client_id: toolgate,",
        "client_id: toolgate, scopes: [profile],",
    ));
    let (loaded, _) = toolgate::catalog::load(&dir.config_path()).expect("loads");
    assert_eq!(
        loaded.config.ui.oidc.as_ref().unwrap().scopes,
        ["openid", "profile"]
    );
}
