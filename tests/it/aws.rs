//! AWS Secrets Manager credentials against a real Secrets Manager API
//! (moto, verifying every signature toolgate sends): a secret named by the
//! caller's agent, a new `AWSCURRENT` used without restart with the
//! previous value still redacted, each link of the credential chain, calls
//! that fail closed, and a scan of the store, the trail and the logs of
//! the real binary that finds none of the secrets.

mod contract;
mod moto;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::calls::leaks;
use crate::support::process::{Serve, free_port};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code};
use moto::{Metadata, Moto, moto_or_skip};
use toolgate::identity::key_sha256;

/// A tool `leak` (GET the upstream's `/echo-secret` with credential `crm`)
/// and a toolgate.yaml whose `crm` reads `source`; both agents of `keys`
/// (`test-agent`, `second-agent`) are in workflow `main`. `top` holds more
/// top-level keys.
fn setup(up: &Upstream, keys: &Keys, top: &str, source: &str) -> ConfigDir {
    let dir = ConfigDir::new();
    crate::support::crm::write_tool(&dir, "leak", &format!("{}/echo-secret", up.base()));
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\n{top}credentials:\n  crm:\n    environment: test\n    source: {source}\n    \
             inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n\
             workflows:\n  main: {{ environment: test, scopes: [crm], credentials: {{ crm: crm }} }}\n\
             agents:\n  test-agent: {{ workflow: main, key_sha256: \"{}\" }}\n  second-agent: {{ workflow: main, key_sha256: \"{}\" }}\n",
            key_sha256(&keys.agent),
            key_sha256(&keys.other_agent),
        ),
    );
    dir
}

fn source(moto: &Moto, secret_id: &str, more: &str) -> String {
    format!(
        "{{ aws_secrets_manager: {{ secret_id: \"{secret_id}\", region: us-east-1, endpoint_url: \"{}\"{more} }} }}",
        moto.url
    )
}

/// The environment of a process holding `keys` (and nothing that could
/// send it to a real metadata address).
fn env_keys(keys: &moto::Keys) -> HashMap<String, String> {
    [
        ("AWS_ACCESS_KEY_ID", keys.id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", keys.secret.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into()
}

fn sent(up: &Upstream) -> String {
    up.last().headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_secret_is_fetched_by_the_agent_name() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let user = moto.user(true).await;
    let root = format!("toolgate{}", rand::random::<u32>());
    let (first, second) = (canary("first-"), canary("second-"));
    moto.create_secret(
        &format!("{root}/test-agent/crm"),
        &json!({"api_key": first, "other": "x"}).to_string(),
    )
    .await;
    moto.create_secret(
        &format!("{root}/second-agent/crm"),
        &json!({"api_key": second}).to_string(),
    )
    .await;
    let up = Upstream::start().await;
    let keys = Keys::new();
    let src = source(&moto, &format!("{root}/{{agent}}/crm"), ", field: api_key");
    let dir = setup(&up, &keys, "", &src);
    let gw = TestGateway::start(&dir.config_path(), env_keys(&user)).await;
    for (key, secret, other) in [
        (&keys.agent, &first, &second),
        (&keys.other_agent, &second, &first),
    ] {
        let (st, body, _) = gw.call(key, json!({"tool": "leak"})).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(sent(&up), format!("Bearer {secret}"));
        assert!(!leaks(&body.to_string(), secret) && !leaks(&body.to_string(), other));
    }
    // /readyz does not count a per-agent credential as unavailable.
    let (st, _) = gw.get(None, "/readyz").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn a_new_awscurrent_is_used_and_the_previous_value_stays_redacted() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let user = moto.user(true).await;
    let name = format!("crm{}", rand::random::<u32>());
    let (v1, v2, v3) = (canary("v1-"), canary("v2-"), canary("v3-"));
    // Rotated once before toolgate starts: it never uses v1, yet must know it.
    moto.create_secret(&name, &v1).await;
    moto.rotate(&name, &v2).await;
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = setup(&up, &keys, "", &source(&moto, &name, ", cache_seconds: 1"));
    let gw = TestGateway::start(&dir.config_path(), env_keys(&user)).await;
    let redacted = |v: &str| gw.gw.redactor.load().redact_str(&format!("x {v} y")).1 >= 1;

    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(sent(&up), format!("Bearer {v2}"));
    assert!(redacted(&v1), "AWSPREVIOUS is known to the redactor");

    moto.rotate(&name, &v3).await;
    // Cached for cache_seconds: still v2.
    let (st, _, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!((st, sent(&up)), (200, format!("Bearer {v2}")));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        sent(&up),
        format!("Bearer {v3}"),
        "the new version, without restart"
    );
    assert!(!leaks(&body.to_string(), &v3));
    assert!(redacted(&v1) && redacted(&v2) && redacted(&v3));
}

#[tokio::test]
async fn each_link_of_the_credential_chain_signs_requests_moto_accepts() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let user = moto.user(true).await;
    let name = format!("crm{}", rand::random::<u32>());
    let value = canary("chain-");
    moto.create_secret(&name, &value).await;
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = setup(
        &up,
        &keys,
        "store: { kind: memory }\n",
        &source(&moto, &name, ", cache_seconds: 0"),
    );
    let call = |env: HashMap<String, String>| {
        let (dir, keys, up, value) = (&dir, &keys, &up, &value);
        async move {
            let gw = TestGateway::start(&dir.config_path(), env).await;
            let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
            assert_eq!(st, 200, "{body}");
            assert_eq!(sent(up), format!("Bearer {value}"));
            gw
        }
    };
    let base = |more: &[(&str, &str)]| -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [("AWS_EC2_METADATA_DISABLED", "true")]
            .iter()
            .chain(more)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.retain(|_, v| !v.is_empty());
        env
    };

    // Shared files: a named profile's static keys.
    let files = ConfigDir::new();
    let creds = files.write(
        "credentials",
        &format!(
            "[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n[ops]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.id, user.secret
        ),
    );
    let config = files.write("config", "[profile ops]\nregion = us-east-1\n");
    let (creds, config) = (creds.display().to_string(), config.display().to_string());
    call(base(&[
        ("AWS_SHARED_CREDENTIALS_FILE", &creds),
        ("AWS_CONFIG_FILE", &config),
        ("AWS_PROFILE", "ops"),
    ]))
    .await;

    // Container endpoint, with its authorization token.
    let token = format!("ct-{}", rand::random::<u64>());
    let meta = Metadata::start(&user, &token).await;
    let full_uri = format!("{}/creds", meta.base);
    call(base(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full_uri),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", &token),
    ]))
    .await;
    assert_eq!(meta.served(), 1);

    // IMDSv2 at the address given by AWS_EC2_METADATA_SERVICE_ENDPOINT;
    // the credentials are kept until shortly before they expire.
    let mut env = base(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &meta.base)]);
    env.remove("AWS_EC2_METADATA_DISABLED");
    let gw = call(env).await;
    let (st, _, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200);
    assert_eq!(meta.served(), 2, "one metadata read for two calls");

    // Web identity: STS AssumeRoleWithWebIdentity (unsigned, so made while
    // moto's auth is off), then Secrets Manager with the temporary keys
    // and session token, checked by moto once auth is on again.
    let role = moto.role().await;
    let jwt = files.write("token", &format!("eyJ.{}.sig", rand::random::<u64>()));
    let jwt = jwt.display().to_string();
    let env = base(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &jwt),
        ("AWS_ROLE_ARN", &role),
        ("AWS_ROLE_SESSION_NAME", "toolgate-test"),
        ("AWS_ENDPOINT_URL_STS", &moto.url),
    ]);
    moto.auth(false).await;
    let gw = call(env).await;
    moto.auth(true).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "signed with the STS keys and token: {body}");
}

#[tokio::test]
async fn failures_fail_closed_and_say_nothing_internal() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let (allowed, denied) = (moto.user(true).await, moto.user(false).await);
    let name = format!("crm{}", rand::random::<u32>());
    moto.create_secret(&name, &json!({"api_key": canary("f-")}).to_string())
        .await;
    let up = Upstream::start().await;
    let keys = Keys::new();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let wrong_key = moto::Keys {
        id: allowed.id.clone(),
        secret: "not-the-key".into(),
    };
    let cases: Vec<(&str, String, HashMap<String, String>)> = vec![
        (
            "not found",
            source(&moto, "no/such/secret", ""),
            env_keys(&allowed),
        ),
        ("access denied", source(&moto, &name, ""), env_keys(&denied)),
        (
            "bad signature",
            source(&moto, &name, ""),
            env_keys(&wrong_key),
        ),
        (
            "field missing",
            source(&moto, &name, ", field: nope"),
            env_keys(&allowed),
        ),
        (
            "unreachable",
            format!(
                "{{ aws_secrets_manager: {{ secret_id: {name}, region: us-east-1, endpoint_url: \"{closed}\" }} }}"
            ),
            env_keys(&allowed),
        ),
        (
            "no credentials",
            source(&moto, &name, ""),
            [("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned())].into(),
        ),
        (
            "no region",
            format!(
                "{{ aws_secrets_manager: {{ secret_id: {name}, endpoint_url: \"{}\" }} }}",
                moto.url
            ),
            env_keys(&allowed),
        ),
    ];
    for (what, src, env) in cases {
        let dir = setup(&up, &keys, "", &src);
        let gw = TestGateway::start(&dir.config_path(), env).await;
        let before = up.count();
        let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
        assert_eq!(
            (st, code(&body)),
            (503, "credential_unavailable"),
            "{what}: {body}"
        );
        assert_eq!(up.count(), before, "{what}: the call was not made");
        let text = body.to_string();
        for internal in [
            name.as_str(),
            "no/such",
            "Secrets Manager",
            "moto",
            "127.0.0.1",
        ] {
            assert!(!text.contains(internal), "{what}: {text}");
        }
        let (st, ready) = gw.get(None, "/readyz").await;
        assert_eq!(st, 503, "{what}: {ready}");
    }
}

#[tokio::test]
async fn bad_source_settings_are_refused_at_load_with_clear_messages() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let cases = [
        (
            "{ aws_secrets_manager: { secret_id: \"a/{user}\" } }",
            "placeholder other than {agent} and {subject}",
        ),
        (
            "{ aws_secrets_manager: { secret_id: \"{subject}\" } }",
            "needs a fixed part",
        ),
        (
            "{ aws_secrets_manager: { secret_id: a, region: Mars } }",
            "not an AWS region name",
        ),
        (
            "{ aws_secrets_manager: { secret_id: a, endpoint_url: \"http://example.com/\" } }",
            "http:// only on loopback",
        ),
        (
            "{ aws_secrets_manager: { secret_id: a, field: \"\" } }",
            "field names a key",
        ),
        (
            "{ aws_secrets_manager: { secret_id: a, version_stage: \"a b\" } }",
            "staging label",
        ),
        (
            "{ aws_secrets_manager: { secret_id: a, cache: 3 } }",
            "cache",
        ),
    ];
    for (src, want) in cases {
        let dir = setup(&up, &keys, "", src);
        let errs = match toolgate::catalog::load(&dir.config_path()) {
            Ok(_) => panic!("{src} loaded"),
            Err(d) => d
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        };
        assert!(errs.contains(want), "{src}: {errs}");
    }
    // A setting that names a secret takes no AWS source.
    let dir = setup(
        &up,
        &keys,
        "audit: { kind: file, path: audit.jsonl, hmac_key: { aws_secrets_manager: { secret_id: k } } }\n",
        "{ env: X }",
    );
    let errs = toolgate::catalog::load(&dir.config_path()).err().unwrap();
    assert!(
        errs.iter()
            .any(|d| d.to_string().contains("for credentials only"))
    );
}

#[tokio::test]
async fn a_tool_pointed_at_the_metadata_address_is_refused() {
    // Only the AWS client reaches the metadata addresses; a tool, even one
    // allowed private networks, is refused before any connection.
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = setup(&up, &keys, "", "{ env: X }");
    for (name, url) in [
        (
            "imds",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        ),
        ("ecs", "http://169.254.170.2/v2/credentials/x"),
        ("imds6", "http://[fd00:ec2::254]/latest/api/token"),
    ] {
        dir.write(
            &format!("tools/{name}.yaml"),
            &format!(
                "name: {name}\ndescription: d\nscopes: [crm]\ninput_schema: {{ type: object, additionalProperties: false }}\n\
                 upstream: {{ method: GET, url: \"{url}\", credential: crm, allow_private_network: true }}\n"
            ),
        );
    }
    let env = [("X".to_owned(), canary("x-"))].into();
    let gw = TestGateway::start(&dir.config_path(), env).await;
    for name in ["imds", "ecs", "imds6"] {
        let (st, body, _) = gw.call(&keys.agent, json!({"tool": name})).await;
        assert_eq!((st, code(&body)), (403, "egress_denied"), "{name}: {body}");
    }
}

/// Every file under `dir`, as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[tokio::test]
async fn the_store_the_trail_and_the_logs_hold_none_of_the_secrets() {
    let Some(moto) = moto_or_skip().await else {
        return;
    };
    let user = moto.user(true).await;
    let name = format!("crm{}", rand::random::<u32>());
    let (v1, v2, v3) = (canary("s1-"), canary("s2-"), canary("s3-"));
    moto.create_secret(&name, &json!({"api_key": v1}).to_string())
        .await;
    moto.rotate(&name, &json!({"api_key": v2}).to_string())
        .await;
    let up = Upstream::start().await;
    let keys = Keys::new();
    let state = ConfigDir::new();
    let top = format!(
        "store: {{ kind: file, path: \"{}\" }}\naudit: {{ kind: file, path: \"{}\" }}\n",
        state.path().join("store").display(),
        state.path().join("audit.jsonl").display()
    );
    let src = source(&moto, &name, ", field: api_key, cache_seconds: 1");
    let dir = setup(&up, &keys, &top, &src);
    let log = state.path().join("trace.log");
    let p = Serve::new(&dir.config_path(), free_port())
        .envs(&[
            ("AWS_ACCESS_KEY_ID", &user.id),
            ("AWS_SECRET_ACCESS_KEY", &user.secret),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .rust_log("trace")
        .stderr_to(&log)
        .start()
        .await;
    let call = || {
        p.send(
            "POST",
            &keys.agent,
            "/v1/calls",
            Some(json!({"tool": "leak"})),
        )
    };
    let (st, body) = call().await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(sent(&up), format!("Bearer {v2}"));
    moto.rotate(&name, &json!({"api_key": v3}).to_string())
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (st, body) = call().await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(sent(&up), format!("Bearer {v3}"));
    // The upstream echoed the credential; what the caller got is redacted.
    assert!(!leaks(&body.to_string(), &v3));
    p.send(
        "POST",
        &keys.agent,
        "/v1/calls",
        Some(json!({"tool": "nope"})),
    )
    .await;
    drop(p);
    let files = files_under(state.path());
    assert!(files.iter().any(|(p, _)| p.ends_with("audit.jsonl")));
    assert!(files.iter().any(|(p, _)| p.ends_with("trace.log")));
    let trail = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap();
    assert!(trail.contains("\"crm\""), "the trail names the credential");
    for secret in [&v1, &v2, &v3, &user.secret] {
        let needle = secret.as_bytes();
        for (path, bytes) in &files {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds a secret",
                path.display()
            );
        }
    }
}
