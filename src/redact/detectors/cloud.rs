//! Clouds and data platforms: AWS (incl. Bedrock), Google Cloud, Azure and
//! Entra ID, DigitalOcean, Linode, Vultr, Alibaba Cloud, Cloudflare,
//! Heroku, Kubernetes Secrets, Databricks, Supabase, Neon, PlanetScale,
//! ClickHouse Cloud.
//!
//! Formats without a prefix of their own are recognised only beside a name
//! that says what they are (`LINODE_TOKEN=…`); `ASSIGN` below is the
//! separator those patterns accept: `=` or `:`, optionally quoted (also as
//! `\"` inside a JSON string).

use super::kube;
use super::spec::{Spec, checked, mixed_case, re, scanned};

pub(crate) const SPECS: &[Spec] = &[
    // Key ids: a 4-letter kind, then 16 characters of base32 (A–Z, 2–7).
    re(
        "aws_access_key_id",
        &["AKIA", "ASIA", "ABIA", "ACCA"],
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    ),
    re(
        "aws_secret_access_key",
        &[
            "aws_secret",
            "secretaccesskey",
            "secret_access_key",
            "aws-secret",
        ],
        r#"(?i)(?:aws_?secret(?:_?access)?_?key|secret_?access_?key|aws-secret-access-key)\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    re(
        "aws_session_token",
        &[
            "aws_session_token",
            "sessiontoken",
            "session_token",
            "aws-session-token",
        ],
        r#"(?i)(?:aws_?session_?token|aws-session-token|sessiontoken)\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9/+=]{100,})"#,
    ),
    // Long-term Bedrock keys: `ABSK` + base64 of `BedrockAPIKey-…`;
    // short-term: `bedrock-api-key-` + base64 of a bedrock.amazonaws.com URL.
    re(
        "aws_bedrock_key",
        &[
            "ABSKQmVkcm9ja0FQSUtleS",
            "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t",
        ],
        r"\b(?:ABSKQmVkcm9ja0FQSUtleS|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t)[A-Za-z0-9+/]{20,}={0,2}",
    ),
    // Google API keys (Cloud, Maps, Gemini): `AIza` + 35.
    re(
        "google_api_key",
        &["AIza"],
        r"\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
    ),
    // OAuth access tokens (`ya29.`) and refresh tokens (`1//0…`).
    re(
        "google_oauth_token",
        &["ya29.", "1//0"],
        r"\b(?:ya29\.[0-9A-Za-z_-]{20,}|1//0[0-9A-Za-z_-]{40,})",
    ),
    re(
        "google_oauth_client_secret",
        &["GOCSPX-"],
        r"\bGOCSPX-[A-Za-z0-9_-]{28}",
    ),
    // Entra ID client secrets: 3 characters, a digit, `Q~`, 34 more.
    re(
        "azure_client_secret",
        &["Q~"],
        r"(?:^|[^A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{34})(?:[^A-Za-z0-9_~-]|$)",
    ),
    // Azure's annotated keys: 84 characters with the `JQQJ9` signature at 52.
    re(
        "azure_annotated_key",
        &["JQQJ9"],
        r"\b[A-Za-z0-9]{52}JQQJ9[A-Za-z0-9]{27}\b",
    ),
    re(
        "azure_storage_key",
        &["accountkey="],
        r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
    ),
    re(
        "azure_connection_secret",
        &["sharedaccesskey="],
        r"(?i)SharedAccessKey=([A-Za-z0-9+/=]{20,})",
    ),
    re(
        "digitalocean_token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"\bdo[por]_v1_[a-f0-9]{64}\b",
    ),
    re(
        "linode_token",
        &["linode"],
        r#"(?i)linode[a-z_-]*(?:token|key|pat)\\?["']?\s*[:=]\s*\\?["']?([a-f0-9]{64})\b"#,
    ),
    re(
        "vultr_key",
        &["vultr"],
        r#"(?i)vultr[a-z_-]*(?:token|key)\\?["']?\s*[:=]\s*\\?["']?([A-Z0-9]{36})\b"#,
    ),
    re(
        "alibaba_access_key_id",
        &["LTAI"],
        r"\bLTAI[A-Za-z0-9]{12,20}\b",
    ),
    re(
        "alibaba_access_key_secret",
        &["alibaba", "aliyun", "access_key_secret", "accesskeysecret"],
        r#"(?i)(?:alibaba|aliyun|access_?key_?secret)[a-z_-]*\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9]{30})\b"#,
    ),
    // Origin CA keys: `v1.0-`, 24 hex, `-`, 146 hex.
    re(
        "cloudflare_origin_ca_key",
        &["v1.0-"],
        r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b",
    ),
    // API tokens (40) and the global key (37 hex) under their names.
    re(
        "cloudflare_api_token",
        &[
            "cloudflare_api",
            "cloudflare-api",
            "cloudflareapi",
            "cf_api",
            "cf-api",
            "cfapi",
        ],
        r#"(?i)(?:cloudflare|cf)[_-]?api[_-]?(?:token|key)\\?["']?\s*[:=]\s*\\?["']?([A-Za-z0-9_-]{40}|[a-f0-9]{37})(?:[^A-Za-z0-9_-]|$)"#,
    ),
    re(
        "heroku_key",
        &["HRKU-", "heroku"],
        r#"(?i)(?-i:\b(HRKU-[A-Za-z0-9_-]{40,70}))|heroku[a-z_-]*(?:key|token)\\?["']?\s*[:=]\s*\\?["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"#,
    ),
    scanned(
        "kubernetes_secret",
        &[
            "kind: secret",
            "kind: \"secret\"",
            "kind: 'secret'",
            "\"kind\":\"secret\"",
            "\"kind\": \"secret\"",
            "kind\\\":\\\"secret",
            "kind\\\": \\\"secret",
        ],
        kube::scan,
    ),
    re(
        "databricks_token",
        &["dapi"],
        r"\bdapi[a-f0-9]{32}(?:-\d)?\b",
    ),
    re(
        "supabase_key",
        &["sbp_", "sb_secret_"],
        r"\b(?:sbp_[a-f0-9]{40}\b|sb_secret_[A-Za-z0-9_-]{31,})",
    ),
    re("neon_key", &["napi_"], r"\bnapi_[a-z0-9]{56,72}\b"),
    re(
        "planetscale_token",
        &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
        r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}",
    ),
    // Mapbox secret tokens: `sk.` + base64 of a JSON payload, `.`, a signature.
    re(
        "mapbox_secret_token",
        &["sk.eyJ"],
        r"\bsk\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}",
    ),
    // ClickHouse Cloud key secrets: `4b1d` + 38 base62.
    checked(
        "clickhouse_key",
        &["4b1d"],
        r"\b4b1d[A-Za-z0-9]{38}\b",
        mixed_case,
    ),
];
