//! Configuration: `toolgate.yaml`, `tools/*.yaml` and the schemas they name.
//!
//! Loading goes raw → validated. Every file is parsed with line positions,
//! checked against the shipped JSON Schema of its format (so every unknown
//! key and wrong type is reported at once, with file, line and key), then
//! deserialized into typed `Raw*` values and cross-checked (dangling
//! references, environments, uncompilable schemas). All problems of all
//! files come back together. Nothing in here reads a secret value; `lint`
//! may, to measure one.
//!
//! The result is the document model (`model`). The per-workflow tool table
//! built from it lives in `catalog`, whose `catalog::load` runs this load and
//! then its own checks, so one run reports both.

mod connections;
mod credentials;
mod diag;
mod document;
mod gateway;
mod identities;
pub mod lint;
mod mcp;
mod mcp_model;
mod model;
pub mod production;
mod raw;
mod rotation;
mod rotation_model;
mod source_model;
mod sources;
mod sources_aws;
pub mod telemetry;
pub mod template;
mod tls;
mod tools;
mod ui;
mod ui_model;
mod workflows;
pub mod yaml;

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use connections::ConnectionsConfig;
pub use diag::{Diagnostic, Severity};
pub use document::{CONFIG_SCHEMA, TOOL_SCHEMA, compile_schema};
pub use gateway::{STORE_FILE_NAME, store_file};
pub use mcp_model::McpConfig;
pub use model::*;
pub use rotation_model::{RotationDef, RotationRequest};
pub(crate) use sources_aws::valid_region as valid_aws_region;
pub use tools::is_object_schema;
pub use ui_model::{OidcConfig, UiConfig};
pub(crate) use workflows::DEFAULT_DEAD_LETTER_RETENTION;

use document::{CONFIG_VALIDATOR, FileCtx, read_document, typed};
use raw::{RawConfig, RawToolsDir};

/// Load and validate the document. `Err` holds every error found; `Ok` may carry warnings.
///
/// This checks the document alone; serving also needs the tool table, so
/// callers that serve use `catalog::load`, which adds its checks.
pub fn load(path: &Path) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (config, diags) = read(path);
    match config {
        Some(c) if !has_errors(&diags) => Ok((c, diags)),
        _ => Err(diags),
    }
}

/// Whether any of these is an error (not a warning).
pub(crate) fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// Read everything and report every problem. The model comes back whenever
/// it could be built, errors or not, so later checks can add theirs; a model
/// that came with errors must never be served.
pub(crate) fn read(path: &Path) -> (Option<Config>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut hasher = Sha256::new();
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };

    let parsed = read_document(path, &CONFIG_VALIDATOR, &mut hasher, &mut diags);
    // Tools load even when toolgate.yaml has errors, so their problems show too.
    let tools_dir = parsed
        .as_ref()
        .and_then(|(v, _)| RawToolsDir::deserialize(v).ok())
        .and_then(|r| r.tools_dir)
        .unwrap_or_else(|| "tools".into());
    let tools = tools::load_tools(
        &base_dir,
        &base_dir.join(&tools_dir),
        &mut hasher,
        &mut diags,
    );

    let Some((value, spans)) = parsed else {
        return (None, diags);
    };
    let mut ctx = FileCtx {
        path: path.to_path_buf(),
        spans,
        diags: &mut diags,
    };
    let Some(raw) = typed::<RawConfig>(value, &mut ctx, "config") else {
        return (None, diags);
    };

    // One step per concern; each reports its own problems and keeps going.
    let env = raw.environment.clone();
    let settings = gateway::build(&raw, &base_dir, &mut ctx);
    let telemetry = telemetry::build(raw.telemetry.as_ref(), &base_dir, &mut ctx);
    let public_url = mcp::public_url(raw.public_url.as_deref(), &mut ctx);
    let mcp = mcp::build(raw.mcp.as_ref(), &mut ctx);
    let ui = ui::build(raw.ui.as_ref(), public_url.as_deref(), &base_dir, &mut ctx);
    let connections = mcp::connections(raw.connections.as_ref(), &mut ctx);
    let tls = tls::build(raw.tls.as_ref(), &base_dir, &mut ctx);
    let credentials = credentials::build(raw.credentials, &env, &base_dir, &mut ctx);
    gateway::check_store_key(&settings, &credentials, &mut ctx);
    let workflows = workflows::build(
        raw.workflows,
        &env,
        &base_dir,
        &tools,
        &credentials,
        &mut ctx,
    );
    let ids = identities::build(
        raw.agents,
        raw.approvers,
        raw.admins,
        &workflows,
        // Written, even if wrong: its own errors say what to fix.
        raw.ui.as_ref().is_some_and(|u| u.oidc.is_some()),
        &mut ctx,
    );
    let client_ca = tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    identities::check_pins(&ids, client_ca, &mut ctx);

    // Schema files are part of the configuration too.
    for (name, tool) in &tools {
        hasher.update(name.as_bytes());
        // A JSON value always serializes (its keys are strings).
        hasher.update(serde_json::to_vec(&tool.input_schema).expect("a JSON value serializes"));
        if let Some(out) = &tool.response.output_schema {
            hasher.update(serde_json::to_vec(&out.schema).expect("a JSON value serializes"));
        }
    }
    let config = Config {
        base_dir,
        environment: env,
        listen: settings.listen,
        tls,
        metrics_listen: settings.metrics_listen,
        limits: settings.limits,
        sessions_max_ttl: settings.sessions_max_ttl,
        vault: settings.vault,
        store: settings.store,
        store_redis: settings.store_redis,
        store_password: settings.store_password,
        store_encryption_key: settings.store_encryption_key,
        audit: settings.audit,
        telemetry,
        public_url,
        mcp,
        ui,
        connections,
        credentials,
        tools,
        workflows,
        agents: ids.agents,
        approvers: ids.approvers,
        admins: ids.admins,
        sha256: hex::encode(hasher.finalize()),
    };
    (Some(config), diags)
}

#[cfg(test)]
mod store_config_tests {
    use super::StoreConfig;
    use crate::store::RedisTarget;

    #[test]
    fn a_redis_password_is_never_printed() {
        let c = StoreConfig::Redis(RedisTarget::Node(
            "redis://:s3cr%2Bt-pass@redis.internal:6379/0".into(),
        ));
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("redis.internal"), "{shown}");
    }

    #[test]
    fn a_cluster_member_password_is_never_printed() {
        let c = StoreConfig::Redis(RedisTarget::Cluster(vec![
            "redis://:s3cr%2Bt-pass@a.internal:7000".into(),
            "redis://:s3cr%2Bt-pass@b.internal:7001".into(),
        ]));
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("b.internal:7001"), "{shown}");
    }
}
