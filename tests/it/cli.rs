//! The real binary: check, keygen, tools export, and refusing a bad config
//! at start; `check` and `tools export` output against golden files.

use std::collections::HashSet;

use toolgate::identity::{Role, generate_key};

use crate::support::process::toolgate;
use crate::support::{ConfigDir, Keys, canary, example_config, golden, repo_root};

/// The agent key a `keygen` run printed.
fn printed_key(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("tg_agent_"))
        .expect("a key line")
        .to_owned()
}

#[test]
fn check_names_file_line_and_key_and_fails() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        "environment: test\nlisten: 127.0.0.1:0\nlimits:\n  max_body_byts: 10\n",
    );
    let out = toolgate()
        .args(["check", "--config"])
        .arg(dir.config_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let expect = format!(
        "{}:4: error: limits.max_body_byts: unknown key \"max_body_byts\"",
        dir.config_path().display()
    );
    assert!(err.contains(&expect), "{err}");
}

#[test]
fn check_lints_and_deny_warnings() {
    let dir = ConfigDir::new();
    let keys = Keys::new();
    dir.write(
        "tools/a.yaml",
        "name: a\ndescription: d\nscopes: [s]\ninput_schema: { type: object }\n\
         upstream: { method: GET, url: \"https://api.example.com/a\", credential: c }\n",
    );
    dir.write("secrets/short", "abc\n");
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\ncredentials:\n  shared:\n    environment: test\n    source: {{ file: secrets/short }}\n    scopes: [s, admin]\n    inject: {{ query: key }}\n    max_age_days: 1\n    rotated_at: \"2020-01-01\"\n\
             workflows:\n  main: {{ environment: test, scopes: [s], credentials: {{ c: shared }} }}\n  other: {{ environment: test, scopes: [s], credentials: {{ c: shared }} }}\n{}",
            keys.yaml()
        ),
    );
    let out = toolgate()
        .args(["check", "--config"])
        .arg(dir.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "credential is shared by workflows",
        "over-privileged: no bound tool needs [\"admin\"]",
        "sent in a query string",
        "shorter than 8 characters",
        "past max_age_days (1)",
        "open input schema",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("abc"), "a secret value was printed");
    let out = toolgate()
        .args(["check", "--deny-warnings", "--config"])
        .arg(dir.config_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn keygen_prints_a_key_and_its_hash() {
    let out = toolgate()
        .args([
            "keygen",
            "--role",
            "agent",
            "--name",
            "bot",
            "--workflow",
            "w",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let key = printed_key(&out.stdout);
    assert!(key.len() >= 50);
    let hash = toolgate::identity::key_sha256(&key);
    assert!(
        text.contains(&format!("bot: {{ workflow: w, key_sha256: \"{hash}\" }}")),
        "{text}"
    );
}

#[test]
fn keys_of_one_role_are_all_distinct() {
    // Separate processes (each seeds its own generator)...
    let mut seen = HashSet::new();
    for _ in 0..8 {
        let out = toolgate()
            .args(["keygen", "--role", "agent", "--name", "bot"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let key = printed_key(&out.stdout);
        assert!(seen.insert(key.clone()), "keygen printed {key} twice");
    }
    // ...and many keys from one process.
    for _ in 0..5000 {
        let key = generate_key(Role::Agent);
        assert!(key.starts_with("tg_agent_"), "{key}");
        assert!(
            seen.insert(key.clone()),
            "generate_key returned {key} twice"
        );
    }
    assert_eq!(seen.len(), 5008);
}

#[test]
fn tools_export_prints_the_workflow_tools() {
    let v: serde_json::Value = serde_json::from_str(&export("anthropic")).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "create_lead",
            "get_lead",
            "search_leads",
            "update_lead_status"
        ]
    );
    let create = &v[0]["input_schema"];
    assert_eq!(
        create["required"],
        serde_json::json!(["name", "email", "source"])
    );
    assert!(create.get("$schema").is_none());
}

#[test]
fn serve_refuses_a_config_of_another_environment() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write(
        "toolgate.yaml",
        "environment: production\nlisten: 127.0.0.1:0\nworkflows:\n  w: { environment: staging }\n",
    );
    let out = toolgate()
        .args(["serve", "--config"])
        .arg(dir.config_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("workflows.w.environment"), "{err}");
    assert!(err.contains("refusing to start"), "{err}");
}

/// `toolgate tools export` of the example workflow in `format`.
fn export(format: &str) -> String {
    let out = toolgate()
        .args([
            "tools",
            "export",
            "--workflow",
            "lead-routing",
            "--format",
            format,
            "--config",
        ])
        .arg(example_config())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).expect("export prints JSON");
    text
}

#[test]
fn tools_export_matches_its_golden_files() {
    for format in ["openai", "anthropic", "native"] {
        golden::check(&format!("tools_export_{format}.json"), &export(format));
    }
}

/// `toolgate check` of `config`: exit code, then stdout and stderr with the
/// directory and repository paths normalised.
fn check_report(config: &std::path::Path, dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let out = toolgate()
        .args(["check", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    golden::replace_all(
        &text,
        &[
            (&dir.display().to_string(), "<dir>"),
            (&repo_root().display().to_string(), "<repo>"),
        ],
    )
}

#[test]
fn check_output_matches_its_golden_files() {
    // Known problems: a key hash of the wrong form, an unknown key in the
    // config and one in a tool manifest.
    let dir = ConfigDir::new();
    dir.write(
        "tools/a.yaml",
        "name: a\ndescription: d\nscopes: [s]\ninput_schema: { type: object }\n\
         upstream: { method: GET, url: \"https://api.example.com/a\", credential: c, timeout: 3 }\n",
    );
    dir.write(
        "toolgate.yaml",
        "environment: test\nlimits:\n  max_body_byts: 10\n\
         workflows:\n  main: { environment: staging, scopes: [s] }\n\
         agents:\n  bot: { workflow: nowhere, key_sha256: \"00\" }\n",
    );
    golden::check(
        "check_problems.txt",
        &check_report(&dir.config_path(), dir.path(), &[]),
    );
    // A clean config: the bundled example, its credential set.
    let example = example_config();
    let secret = canary("crm-");
    let report = check_report(
        &example,
        example.parent().unwrap(),
        &[("TOOLGATE_DEV_CRM_KEY", &secret)],
    );
    assert!(!report.contains(&secret), "check printed the credential");
    golden::check("check_clean.txt", &report);
}

/// What `check` accepts, `serve` opens: a store directory is created with the database inside.
#[tokio::test]
async fn a_store_directory_check_accepts_is_one_serve_opens() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    let port = crate::support::process::free_port();
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\nlisten: 127.0.0.1:{port}\nstore: {{ kind: file, path: ./data }}\n"
        ),
    );
    let out = toolgate()
        .args(["check", "--config"])
        .arg(dir.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let serve = crate::support::process::Serve::new(&dir.config_path(), port)
        .start()
        .await;
    let ready = serve
        .api
        .wait_until_up("/readyz", std::time::Duration::from_secs(10))
        .await;
    serve.kill9();
    assert!(ready, "serve did not become ready");
    assert!(dir.path().join("data/toolgate.redb").is_file());
}

/// What `serve` would refuse at start, `check` refuses first, with file and line.
#[test]
fn check_and_serve_refuse_a_store_path_under_a_file() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    dir.write("data", "a file where the store directory should be\n");
    dir.write(
        "toolgate.yaml",
        "environment: test\nlisten: 127.0.0.1:0\nstore: { kind: file, path: data/state/ }\n",
    );
    for cmd in ["check", "serve"] {
        let out = toolgate()
            .args([cmd, "--config"])
            .arg(dir.config_path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd} accepted it");
        let err = String::from_utf8_lossy(&out.stderr);
        let expect = format!("{}:3: error: store.path:", dir.config_path().display());
        assert!(
            err.contains(&expect) && err.contains("is not a directory"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn check_production_answers_the_checklist_from_the_config() {
    let dir = ConfigDir::new();
    let keys = Keys::new();
    dir.write(
        "tools/a.yaml",
        "name: a\ndescription: d\nscopes: [s]\ninput_schema: { type: object, additionalProperties: false }\n\
         upstream: { method: GET, url: \"https://api.example.com/a\", credential: c }\n",
    );
    // The other workflow's tool needs no credential.
    dir.write(
        "tools/o.yaml",
        "name: o\ndescription: d\nscopes: [o]\ninput_schema: { type: object, additionalProperties: false }\n\
         upstream: { method: GET, url: \"https://api.example.com/o\" }\n",
    );
    dir.write("secrets/api", &format!("{}\n", canary("api-")));
    for name in ["hmac", "signing", "sealing"] {
        dir.write(&format!("secrets/{name}"), &format!("{}\n", canary(name)));
    }
    let config = |extra: &str| {
        format!(
            "environment: test\nlisten: 0.0.0.0:8080\ncredentials:\n  api:\n    environment: test\n    source: {{ file: secrets/api }}\n    scopes: [s, admin]\n    inject: {{ header: Authorization }}\n\
             workflows:\n  main: {{ environment: test, scopes: [s], credentials: {{ c: api }} }}\n  other: {{ environment: test, scopes: [o] }}\n{}{extra}",
            keys.yaml()
        )
    };
    let run = |text: &str, deny: bool| {
        dir.write("toolgate.yaml", text);
        let mut cmd = toolgate();
        cmd.args(["check", "--production", "--config"])
            .arg(dir.config_path());
        if deny {
            cmd.arg("--deny-warnings");
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("production checklist:"),
            "did not load: {err}"
        );
        (out.status.success(), format!("{text}{err}"))
    };
    // Bare: no audit key (fail), a plain listener on every address, no
    // sealing key, a scope no tool needs, no max_age_days (warn).
    let (ok, out) = run(&config(""), false);
    assert!(!ok, "{out}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{out}"))
            .trim()
            .to_owned()
    };
    assert!(line("audit trail").starts_with("fail"));
    assert!(
        line("encryption in transit").starts_with("warn")
            && line("in transit").contains("0.0.0.0:8080")
    );
    assert!(line("encryption at rest").starts_with("warn"));
    assert!(
        line("scopes no wider").starts_with("warn") && line("scopes no wider").contains("admin")
    );
    assert!(line("max_age_days").starts_with("warn"));
    assert!(line("no secret in any config file").starts_with("pass"));
    assert!(line("logs and traces").starts_with("pass"));
    // Put right: keyed and signed trail, sealed store, loopback listener,
    // max_age_days; only the wide scope is left (a warning).
    let good = config(
        "audit: { kind: file, hmac_key: { file: secrets/hmac }, signing_key: { file: secrets/signing } }\n\
         store: { kind: file, encryption_key: { file: secrets/sealing } }\n",
    )
    .replace("listen: 0.0.0.0:8080", "listen: 127.0.0.1:8080")
    .replace(
        "    inject: { header: Authorization }\n",
        "    inject: { header: Authorization }\n    max_age_days: 90\n",
    );
    let (ok, out) = run(&good, false);
    assert!(ok, "{out}");
    assert_eq!(out.matches("  fail  ").count(), 0, "{out}");
    assert_eq!(out.matches("  warn  ").count(), 1, "{out}");
    let (ok, _) = run(&good, true);
    assert!(!ok, "a warning passed --deny-warnings");
    let (ok, out) = run(&good.replace("scopes: [s, admin]", "scopes: [s]"), true);
    assert!(ok, "{out}");
    // A Redis password in the URL is a secret in the config file.
    let (ok, out) = run(
        &good.replace(
            "store: { kind: file, encryption_key: { file: secrets/sealing } }",
            "store: { kind: redis, url: \"redis://:hunter2-pass@127.0.0.1:6379/0\", encryption_key: { file: secrets/sealing } }",
        ),
        false,
    );
    assert!(!ok, "{out}");
    assert!(
        out.lines().any(|l| l.trim().starts_with("fail  no secret")),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "the password was printed");
    // So is one in a cluster node's URL; and plain redis:// to other hosts
    // is flagged for a cluster as for one Redis.
    let (ok, out) = run(
        &good.replace(
            "store: { kind: file, encryption_key: { file: secrets/sealing } }",
            "store: { kind: redis, cluster: [\"redis://10.0.0.1:7000\", \"redis://:hunter2-pass@10.0.0.2:7000\"], encryption_key: { file: secrets/sealing } }",
        ),
        false,
    );
    assert!(!ok, "{out}");
    assert!(
        out.lines().any(|l| l.trim().starts_with("fail  no secret")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("in transit") && l.contains("store.cluster is redis://")),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "the password was printed");
}

#[tokio::test]
async fn audit_verify_takes_the_redis_password_from_a_variable_or_a_file_not_the_url() {
    let Some(redis) = crate::support::redis::TestRedis::own().await else {
        return;
    };
    let password = canary("redis-pass-");
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("auditor")
        .arg("on")
        .arg(format!(">{password}"))
        .arg("~*")
        .arg("+@read")
        .arg("+@connection")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(canary("default-"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let dir = ConfigDir::new();
    let file = dir.write("redis-password", &format!("{password}\n"));
    let env = crate::support::redis::unique_env("verify");
    let verify = |args: &[&str], vars: &[(&str, &str)]| {
        let out = toolgate()
            .args(["audit", "verify", &redis.url, "--environment", &env])
            .args(args)
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains(&password),
            "the password was printed: {text}"
        );
        (out.status.success(), text)
    };
    let (ok, text) = verify(&[], &[]);
    assert!(!ok && text.contains("cannot read the trail"), "{text}");
    let by_env = [
        "--redis-user",
        "auditor",
        "--redis-password-env",
        "AUDIT_REDIS_PASSWORD",
    ];
    let (ok, text) = verify(&by_env, &[("AUDIT_REDIS_PASSWORD", password.as_str())]);
    assert!(ok, "{text}");
    let by_file = [
        "--redis-user",
        "auditor",
        "--redis-password-file",
        file.to_str().unwrap(),
    ];
    let (ok, text) = verify(&by_file, &[]);
    assert!(ok, "{text}");
    let (ok, text) = verify(&by_env, &[]);
    assert!(
        !ok && text.contains("AUDIT_REDIS_PASSWORD is not set"),
        "{text}"
    );
    let wrong = dir.write("wrong", "not-it");
    let (ok, text) = verify(
        &[
            "--redis-user",
            "auditor",
            "--redis-password-file",
            wrong.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok && text.contains("cannot read the trail"), "{text}");
}
