//! The approvals configuration: workflow `sales` with tools that need one
//! or two approvals, expire fast, or hold only big deals; agent `bot`,
//! approvers alice and bob (sales), carol (another workflow), four extras.

use toolgate::identity::{Role, generate_key, key_sha256};

pub struct Approvers {
    pub agent: String,
    pub alice: String,
    pub bob: String,
    pub carol_other: String,
    /// Approver `bot` of `sales`: the same name as the requesting agent.
    pub namesake: String,
    pub more: Vec<String>,
}

pub fn approval_config(base: &str, notify: &str) -> (String, Vec<(String, String)>, Approvers) {
    let k = Approvers {
        agent: generate_key(Role::Agent),
        alice: generate_key(Role::Approver),
        bob: generate_key(Role::Approver),
        carol_other: generate_key(Role::Approver),
        namesake: generate_key(Role::Approver),
        more: (0..4).map(|_| generate_key(Role::Approver)).collect(),
    };
    let more: String = k
        .more
        .iter()
        .enumerate()
        .map(|(i, key)| {
            format!(
                "  extra{i}: {{ key_sha256: \"{}\", workflows: [sales] }}\n",
                key_sha256(key)
            )
        })
        .collect();
    let config = format!(
        r#"environment: test
credentials:
  crm:
    environment: test
    source: {{ env: CRM_KEY }}
    inject: {{ header: Authorization, format: "Bearer {{secret}}" }}
workflows:
  sales:
    environment: test
    scopes: [crm]
    credentials: {{ crm: crm }}
{notify}    tools:
      two_person: {{ approvals_required: 2 }}
      quick_expiry: {{ expires_in: 1s }}
  other:
    environment: test
agents:
  bot: {{ workflow: sales, key_sha256: "{}" }}
approvers:
  alice: {{ key_sha256: "{}", workflows: [sales] }}
  bob: {{ key_sha256: "{}", workflows: [sales] }}
  carol: {{ key_sha256: "{}", workflows: [other] }}
  bot: {{ key_sha256: "{}", workflows: [sales] }}
{more}"#,
        key_sha256(&k.agent),
        key_sha256(&k.alice),
        key_sha256(&k.bob),
        key_sha256(&k.carol_other),
        key_sha256(&k.namesake),
    );
    let tool = |name: &str, approval: &str, path: &str| {
        (
            format!("tools/{name}.yaml"),
            format!(
                r#"name: {name}
description: d
scopes: [crm]
input_schema:
  type: object
  additionalProperties: false
  required: [name]
  properties:
    name: {{ type: string, maxLength: 20 }}
    value_usd: {{ type: number, minimum: 0 }}
upstream:
  method: POST
  url: {base}{path}
  body: {{ name: "{{args.name}}", value_usd: "{{args.value_usd}}" }}
  credential: crm
  allow_private_network: true
  timeout_ms: 10000
approval: {approval}
"#
            ),
        )
    };
    let tools = vec![
        tool("risky", "always", "/echo/risky"),
        tool("two_person", "always", "/echo/two"),
        tool("quick_expiry", "always", "/echo/quick"),
        tool(
            "big_deals",
            "{ when_matches: { properties: { value_usd: { minimum: 10000 } }, required: [value_usd] } }",
            "/echo/deals",
        ),
        tool("plain", "never", "/echo/plain"),
        tool("slow_risky", "always", "/slow"),
    ];
    (config, tools, k)
}
