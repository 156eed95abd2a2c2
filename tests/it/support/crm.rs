//! The smallest gateway around one credential `crm`: a GET tool that uses
//! it, and a toolgate.yaml with that credential from a given source, workflow
//! `main` granting it, `other` without it, and the [`Keys`] identities.

use super::{ConfigDir, Keys};

/// `tools/{name}.yaml`: no arguments, `GET url` with credential `crm`.
pub fn write_tool(dir: &ConfigDir, name: &str, url: &str) {
    dir.write(
        &format!("tools/{name}.yaml"),
        &format!(
            "name: {name}\ndescription: d\nscopes: [crm]\ninput_schema: {{ type: object, additionalProperties: false }}\n\
             upstream: {{ method: GET, url: \"{url}\", credential: crm, allow_private_network: true }}\n"
        ),
    );
}

/// `toolgate.yaml` in environment `env`: `top` (more top-level keys, each
/// line ending in a newline), and credential `crm` read from `source` and
/// sent as `Authorization: {scheme} {secret}`.
pub fn write_config(
    dir: &ConfigDir,
    keys: &Keys,
    env: &str,
    top: &str,
    source: &str,
    scheme: &str,
) {
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: {env}\n{top}credentials:\n  crm:\n    environment: {env}\n    source: {source}\n    inject: {{ header: Authorization, format: \"{scheme} {{secret}}\" }}\n\
             workflows:\n  main: {{ environment: {env}, scopes: [crm], credentials: {{ crm: crm }} }}\n  other: {{ environment: {env} }}\n{}",
            keys.yaml()
        ),
    );
}
