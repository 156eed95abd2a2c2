//! The configuration most call tests share: tools over one upstream, a
//! workflow `main` granting most of them and `other`, four credentials
//! (one of them unset), and [`setup`] to serve it with fresh secrets.

use std::collections::HashMap;
use std::sync::Arc;

use super::upstream::Upstream;
use super::{ConfigDir, Keys, SharedEnv, TestGateway, canary};

pub struct Setup {
    pub gw: TestGateway,
    pub up: Upstream,
    pub keys: Keys,
    pub secret: String,
    pub basic_secret: String,
    pub query_secret: String,
    pub dir: ConfigDir,
}

/// Tools over one upstream, one workflow `main` granting most of them, one `other`.
pub fn tools_yaml(base: &str) -> Vec<(String, String)> {
    let t = |name: &str, body: &str| {
        (
            format!("tools/{name}.yaml"),
            format!("name: {name}\n{body}"),
        )
    };
    vec![
        t(
            "echo",
            &format!(
                r#"description: Echo the request.
scopes: [t:read]
input_schema:
  type: object
  additionalProperties: false
  required: [id]
  properties:
    id: {{ type: string }}
    q: {{ type: string }}
    tag: {{ type: string, x-sensitive: true }}
    n: {{ type: integer, minimum: 0, maximum: 100 }}
    nested: {{ type: object }}
upstream:
  method: POST
  url: {base}/echo/items/{{id}}/view
  query: {{ q: "{{args.q}}", fixed: "yes" }}
  headers: {{ X-Tag: "{{args.tag}}" }}
  body: {{ n: "{{args.n}}", nested: "{{args.nested}}", literal: toolgate }}
  credential: api
  allow_private_network: true
"#
            ),
        ),
        t(
            "echo_basic",
            &format!(
                r#"description: Echo with Basic auth.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo/basic", credential: basic, allow_private_network: true }}
"#
            ),
        ),
        t(
            "echo_query",
            &format!(
                r#"description: Echo with a query credential.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo/query?x=1", credential: query, allow_private_network: true }}
"#
            ),
        ),
        t(
            "leak",
            &format!(
                r#"description: An upstream that echoes the credential in its body.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo-secret", credential: api, allow_private_network: true }}
response: {{ headers: [x-request-id] }}
"#
            ),
        ),
        t(
            "leak_encoded",
            &format!(
                r#"description: Echoes the credential in a raw body of the given encoding.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false, required: [kind], properties: {{ kind: {{ enum: [html, ndjson, sse, pct, utf16, qp, mime] }} }} }}
upstream: {{ method: GET, url: "{base}/encoded/{{kind}}", credential: api, allow_private_network: true }}
"#
            ),
        ),
        t(
            "leak_text",
            &format!(
                r#"description: Echoes the credential as text.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/text-secret", credential: api, allow_private_network: true }}
"#
            ),
        ),
        t(
            "status",
            &format!(
                r#"description: Answers the given status.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false, required: [code], properties: {{ code: {{ type: integer }} }} }}
upstream: {{ method: GET, url: "{base}/status/{{code}}", credential: api, allow_private_network: true }}
"#
            ),
        ),
        t(
            "redirect",
            &format!(
                r#"description: Redirects.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/redirect", credential: api, allow_private_network: true }}
"#
            ),
        ),
        t(
            "huge",
            &format!(
                r#"description: An endless body.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/huge", credential: api, allow_private_network: true }}
response: {{ max_bytes: 100000 }}
"#
            ),
        ),
        t(
            "slow",
            &format!(
                r#"description: Too slow.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/slow", credential: api, allow_private_network: true, timeout_ms: 300 }}
"#
            ),
        ),
        t(
            "slow_ok",
            &format!(
                r#"description: Slow but in time.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/slow", credential: api, allow_private_network: true, timeout_ms: 10000 }}
"#
            ),
        ),
        t(
            "public_only",
            &format!(
                r#"description: No private network allowed.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo/public", credential: api }}
"#
            ),
        ),
        t(
            "projected",
            &format!(
                r#"description: Keeps only some fields.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo-secret", credential: api, allow_private_network: true }}
response: {{ fields: [/ok, /enc/nested/deeper/*/auth] }}
"#
            ),
        ),
        t(
            "sensitive_result",
            &format!(
                r#"description: Marks result fields sensitive.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo-secret", credential: api, allow_private_network: true }}
sensitive: [/ok, /enc/nested/deeper/*/auth]
"#
            ),
        ),
        t(
            "missing_cred",
            &format!(
                r#"description: Its credential is not set.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo/x", credential: unset, allow_private_network: true }}
"#
            ),
        ),
        t(
            "limited",
            &format!(
                r#"description: Rate limited.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/echo/limited", credential: api, allow_private_network: true }}
"#
            ),
        ),
        t(
            "admin_only",
            &format!(
                r#"description: Needs a scope main does not grant.
scopes: [t:admin]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: DELETE, url: "{base}/echo/everything", credential: api, allow_private_network: true }}
"#
            ),
        ),
    ]
}

pub fn config_yaml(keys: &Keys, extra: &str) -> String {
    format!(
        r#"environment: test
listen: 127.0.0.1:0
limits: {{ max_body_bytes: 65536, max_concurrency: 64 }}
credentials:
  api-key:
    environment: test
    source: {{ env: TEST_API_KEY }}
    scopes: [t:read]
    inject: {{ header: Authorization, format: "Bearer {{secret}}" }}
  basic-key:
    environment: test
    source: {{ env: TEST_BASIC }}
    inject: {{ basic: {{ username: svc-user }} }}
  query-key:
    environment: test
    source: {{ env: TEST_QUERY }}
    inject: {{ query: api_key }}
  unset-key:
    environment: test
    source: {{ env: TEST_NOT_SET }}
    inject: {{ header: X-Api-Key }}
workflows:
  main:
    environment: test
    scopes: [t:read]
    credentials: {{ api: api-key, basic: basic-key, query: query-key, unset: unset-key }}
    tools:
      limited: {{ rate_limit: {{ per_minute: 60, burst: 2 }} }}
      echo:
        schema: {{ type: object, properties: {{ n: {{ maximum: 50 }} }} }}
  other:
    environment: test
    scopes: [t:read, t:admin]
    credentials: {{ api: api-key, basic: basic-key, query: query-key, unset: unset-key }}
{}{extra}"#,
        keys.yaml()
    )
}

pub async fn setup_with(extra: &str) -> Setup {
    setup_with_env(extra).await.0
}

/// [`setup_with`], and the environment the gateway reads, to change while it runs.
pub async fn setup_with_env(extra: &str) -> (Setup, SharedEnv) {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("toolgate.yaml", &config_yaml(&keys, extra));
    let secret = canary("api-");
    let basic_secret = canary("basic-");
    let query_secret = canary("query-");
    let env = SharedEnv::new(HashMap::from([
        ("TEST_API_KEY".to_owned(), secret.clone()),
        ("TEST_BASIC".to_owned(), basic_secret.clone()),
        ("TEST_QUERY".to_owned(), query_secret.clone()),
    ]));
    let gw = TestGateway::start_with(&dir.config_path(), Arc::new(env.clone())).await;
    let s = Setup {
        gw,
        up,
        keys,
        secret,
        basic_secret,
        query_secret,
        dir,
    };
    (s, env)
}

pub async fn setup() -> Setup {
    setup_with("").await
}

/// Percent-encoding as URL encoders write it (RFC 3986): unreserved
/// characters `-._~` stay literal.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// True when `text` holds the secret in any common encoding.
pub fn leaks(text: &str, secret: &str) -> bool {
    use base64::Engine as _;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let e = base64::engine::general_purpose::STANDARD;
    let forms = [
        secret.to_owned(),
        e.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        utf8_percent_encode(secret, URI_COMPONENT).to_string(),
        hex::encode(secret),
        serde_json::to_string(secret)
            .unwrap()
            .trim_matches('"')
            .to_owned(),
    ];
    forms.iter().any(|f| text.contains(f.as_str()))
}
