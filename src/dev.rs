//! `toolgate dev`: a complete gateway on loopback in one command.
//!
//! It writes the bundled `examples/toolgate.yaml`, `tools/` and `schemas/`
//! to a temporary directory (at the same relative paths), starts a
//! sample CRM upstream that insists on the credential it was given, mints a
//! random credential and fresh agent, approver and admin keys (printed once,
//! with the console's address), and serves. The example holds big leads and
//! lost ones for approval, so the approver key has something to decide. The
//! sample upstream records what it received, so the model's view and the
//! upstream's view can be compared side by side.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use crate::identity::{Role, generate_key, key_sha256};

/// Where the bundled config sits among the files written, as in the repository.
const CONFIG_FILE: &str = "examples/toolgate.yaml";

/// The repository's `examples/toolgate.yaml`, `tools/` and `schemas/`, at the same relative paths.
const EXAMPLE_FILES: &[(&str, &str)] = &[
    (CONFIG_FILE, include_str!("../examples/toolgate.yaml")),
    (
        "tools/create_lead.yaml",
        include_str!("../tools/create_lead.yaml"),
    ),
    (
        "tools/get_lead.yaml",
        include_str!("../tools/get_lead.yaml"),
    ),
    (
        "tools/search_leads.yaml",
        include_str!("../tools/search_leads.yaml"),
    ),
    (
        "tools/update_lead_status.yaml",
        include_str!("../tools/update_lead_status.yaml"),
    ),
    (
        "tools/delete_lead.yaml",
        include_str!("../tools/delete_lead.yaml"),
    ),
    (
        "schemas/create_lead.json",
        include_str!("../schemas/create_lead.json"),
    ),
    (
        "schemas/lead-routing/create_lead.json",
        include_str!("../schemas/lead-routing/create_lead.json"),
    ),
];

/// The address the bundled manifests name for the sample upstream.
pub const EXAMPLE_UPSTREAM: &str = "127.0.0.1:8090";
/// The environment variable the example credential reads.
pub const EXAMPLE_CREDENTIAL_VAR: &str = "TOOLGATE_DEV_CRM_KEY";

/// Keys minted for a dev session.
pub struct DevKeys {
    pub agent: String,
    pub approver: String,
    pub admin: String,
    pub upstream_credential: String,
}

/// Write the examples into `dir`, pointing the manifests at `upstream`, with identities for `keys`.
pub fn write_examples(
    dir: &Path,
    upstream: SocketAddr,
    keys: &DevKeys,
) -> std::io::Result<PathBuf> {
    for (rel, text) in EXAMPLE_FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut text = text.replace(EXAMPLE_UPSTREAM, &upstream.to_string());
        if *rel == CONFIG_FILE {
            for (name, key) in [
                ("lead-router-dev", &keys.agent),
                ("dev-approver", &keys.approver),
                ("dev-admin", &keys.admin),
            ] {
                text = with_key(&text, name, &key_sha256(key)).ok_or_else(|| {
                    std::io::Error::other(format!("the bundled example has no identity {name}"))
                })?;
            }
        }
        std::fs::write(&path, text)?;
    }
    Ok(dir.join(CONFIG_FILE))
}

/// `text` with the `key_sha256` of identity `name` (its line `  name: {…}`) set to `hash`.
fn with_key(text: &str, name: &str, hash: &str) -> Option<String> {
    let prefix = format!("  {name}: ");
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let Some(at) = line
                .starts_with(&prefix)
                .then(|| line.find("key_sha256: \""))
                .flatten()
            else {
                return line.to_owned();
            };
            let start = at + "key_sha256: \"".len();
            let end = start + line[start..].find('"').unwrap_or(0);
            found = true;
            format!("{}{hash}{}", &line[..start], &line[end..])
        })
        .collect();
    found.then(|| lines.join("\n") + "\n")
}

pub fn mint_keys() -> DevKeys {
    DevKeys {
        agent: generate_key(Role::Agent),
        approver: generate_key(Role::Approver),
        admin: generate_key(Role::Admin),
        upstream_credential: format!(
            "crm_dev_{}",
            generate_key(Role::Agent).trim_start_matches("tg_agent_")
        ),
    }
}

/// Bind the sample upstream on its usual port, or any free loopback port.
pub async fn bind_sample_upstream() -> std::io::Result<TcpListener> {
    match TcpListener::bind(EXAMPLE_UPSTREAM).await {
        Ok(l) => Ok(l),
        Err(_) => TcpListener::bind("127.0.0.1:0").await,
    }
}

#[derive(Default)]
struct Crm {
    leads: BTreeMap<String, Value>,
    next_id: u64,
    received: Vec<Value>,
}

#[derive(Clone)]
struct SampleState {
    expected_auth: Arc<String>,
    crm: Arc<Mutex<Crm>>,
}

/// The sample CRM: checks `Authorization: Bearer <credential>` on every API call.
pub fn sample_upstream(credential: &str) -> Router {
    let state = SampleState {
        expected_auth: Arc::new(format!("Bearer {credential}")),
        crm: Arc::new(Mutex::new(Crm {
            next_id: 1001,
            ..Crm::default()
        })),
    };
    Router::new()
        .route("/api/v2/leads", get(search).post(create))
        .route("/api/v2/leads/{id}", get(fetch).delete(remove))
        .route("/api/v2/leads/{id}/status", patch(set_status))
        .route("/_dev/received", get(received))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            check_and_record,
        ))
        .with_state(state)
}

async fn check_and_record(
    State(st): State<SampleState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.uri().path().starts_with("/_dev/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = bool::from(auth.as_bytes().ct_eq(st.expected_auth.as_bytes()));
    record(&st, &parts.method, &parts.uri, &parts.headers, &bytes, ok);
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid or missing API key" })),
        )
            .into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

fn record(
    st: &SampleState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    ok: bool,
) {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let entry = json!({
        "method": method.as_str(),
        "uri": uri.to_string(),
        "headers": headers,
        "body": serde_json::from_slice::<Value>(body).unwrap_or(Value::Null),
        "credential_valid": ok,
    });
    let mut crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    crm.received.push(entry);
    if crm.received.len() > 20 {
        crm.received.remove(0);
    }
}

async fn received(State(st): State<SampleState>) -> Json<Value> {
    let crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    Json(Value::Array(crm.received.iter().rev().cloned().collect()))
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

async fn create(
    State(st): State<SampleState>,
    headers: HeaderMap,
    Json(mut lead): Json<Value>,
) -> Response {
    let mut crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    let id = format!("L-{}", crm.next_id);
    crm.next_id += 1;
    lead["id"] = json!(id);
    lead["status"] = json!("new");
    lead["created_at"] = json!(now_rfc3339());
    // A careless upstream: it stores the caller's Authorization header in the
    // record. toolgate's redactor keeps it from ever reaching the model.
    lead["_audit"] =
        json!({ "created_with": headers.get("authorization").and_then(|v| v.to_str().ok()) });
    crm.leads.insert(id, lead.clone());
    (StatusCode::CREATED, Json(lead)).into_response()
}

async fn fetch(State(st): State<SampleState>, UrlPath(id): UrlPath<String>) -> Response {
    let crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    match crm.leads.get(&id) {
        Some(l) => Json(l.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no lead {id}") })),
        )
            .into_response(),
    }
}

async fn remove(State(st): State<SampleState>, UrlPath(id): UrlPath<String>) -> Response {
    let mut crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    match crm.leads.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no lead {id}") })),
        )
            .into_response(),
    }
}

async fn search(
    State(st): State<SampleState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    let text = q.get("q").map(|s| s.to_lowercase());
    let status = q.get("status");
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(10);
    let leads: Vec<Value> = crm
        .leads
        .values()
        .filter(|l| status.is_none_or(|s| l["status"] == json!(s)))
        .filter(|l| {
            text.as_ref().is_none_or(|t| {
                ["name", "email", "company"]
                    .iter()
                    .any(|k| l[k].as_str().is_some_and(|v| v.to_lowercase().contains(t)))
            })
        })
        .take(limit)
        .cloned()
        .collect();
    Json(json!({ "total": leads.len(), "leads": leads }))
}

async fn set_status(
    State(st): State<SampleState>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut crm = st.crm.lock().unwrap_or_else(|p| p.into_inner());
    match crm.leads.get_mut(&id) {
        Some(l) => {
            l["status"] = body["status"].clone();
            if let Some(note) = body.get("note") {
                l["note"] = note.clone();
            }
            l["updated_at"] = json!(now_rfc3339());
            Json(l.clone()).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no lead {id}") })),
        )
            .into_response(),
    }
}

/// What `toolgate dev` prints once at start.
pub fn banner(listen: SocketAddr, upstream: SocketAddr, dir: &Path, keys: &DevKeys) -> String {
    format!(
        r#"
toolgate dev — a gateway, a sample CRM and fresh keys, all on loopback.
These keys are printed once and live only as long as this process.

  gateway          http://{listen}
  console          http://{listen}/ui/   (sign in with the approver key)
  sample upstream  http://{upstream}   (what it received: curl -s http://{upstream}/_dev/received)
  config           {config}

  agent key     (workflow lead-routing)  {agent}
  approver key  (workflow lead-routing)  {approver}
  admin key                              {admin}

Try:
  export TG={listen} AGENT_KEY={agent} APPROVER_KEY={approver}
  curl -s http://$TG/v1/tools?format=openai -H "Authorization: Bearer $AGENT_KEY"
  curl -s http://$TG/v1/calls -H "Authorization: Bearer $AGENT_KEY" -H 'Content-Type: application/json' \
       -d '{{"tool":"create_lead","arguments":{{"name":"Ada Lovelace","email":"ada@example.com","source":"chat","value_usd":1200}}}}'
  curl -s http://{upstream}/_dev/received

A lead above 10,000 USD (or a lead marked lost) waits for a person: 202, pending_approval.
  curl -s http://$TG/v1/calls -H "Authorization: Bearer $AGENT_KEY" -H 'Content-Type: application/json' \
       -d '{{"tool":"create_lead","arguments":{{"name":"Big Co","email":"cfo@example.com","source":"chat","value_usd":40000}}}}'
Approve it in the console (http://{listen}/ui/, the approver key signs in), or here:
  curl -s http://$TG/v1/pending-actions/ACTION_ID/approve -H "Authorization: Bearer $APPROVER_KEY" \
       -H 'Content-Type: application/json' -d '{{"reason":"confirmed with the account owner"}}'
The agent waits for the outcome (up to 60 s a call):
  curl -s "http://$TG/v1/calls/ACTION_ID?wait=30" -H "Authorization: Bearer $AGENT_KEY"
"#,
        config = dir.join(CONFIG_FILE).display(),
        agent = keys.agent,
        approver = keys.approver,
        admin = keys.admin,
    )
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the type: the keys are printed once, on purpose, never through Debug.
        f.debug_struct("DevKeys").finish_non_exhaustive()
    }
}
