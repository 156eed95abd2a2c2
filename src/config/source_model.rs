//! Where a secret lives, as the config says it (`<source>`): an
//! environment variable, a file, Vault / OpenBao, an OAuth2 token endpoint,
//! AWS Secrets Manager, or toolgate's own store. Values only say where;
//! nothing here reads a secret.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceDef {
    Env(String),
    File(PathBuf),
    /// A field of a Vault / OpenBao KV v2 secret; `path` is the API path
    /// (`secret/data/…`).
    Vault {
        path: String,
        field: String,
    },
    /// Access tokens from an OAuth2 token endpoint.
    OAuth2(Box<OAuth2Def>),
    /// A secret (or a field of its JSON) in AWS Secrets Manager.
    AwsSecretsManager(Box<AwsSecretDef>),
    /// Versions sealed in toolgate's store; the first read from `initial`.
    Store {
        initial: Box<SourceDef>,
    },
}

/// `{aws_secrets_manager: {…}}`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSecretDef {
    /// A name or ARN; may hold `{agent}` and `{subject}`.
    pub secret_id: String,
    /// A key of the JSON `SecretString`; `None`: the whole string.
    pub field: Option<String>,
    /// `None`: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's.
    pub region: Option<String>,
    pub version_stage: String,
    /// In place of `https://secretsmanager.<region>.amazonaws.com/`.
    pub endpoint_url: Option<url::Url>,
    pub cache: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    RefreshToken,
    /// Per-user connections: each session subject's tokens, obtained by the
    /// authorization code grant with PKCE (`POST /v1/connections`).
    AuthorizationCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Def {
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: SourceDef,
    pub grant: Grant,
    /// The first refresh token (`grant: refresh_token`); rotated ones are
    /// kept, sealed, in the store.
    pub refresh_token: Option<SourceDef>,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    /// `grant: authorization_code`: where the end user consents.
    pub authorize_url: Option<url::Url>,
    /// `grant: authorization_code`: the RFC 7009 endpoint called on disconnect.
    pub revocation_url: Option<url::Url>,
    /// Each session subject has its own tokens (`grant: authorization_code`).
    pub per_subject: bool,
}

impl SourceDef {
    /// The kind of source, as `/readyz` names it (never where it points).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            SourceDef::Env(_) => "env",
            SourceDef::File(_) => "file",
            SourceDef::Vault { .. } => "vault",
            SourceDef::OAuth2(_) => "oauth2",
            SourceDef::AwsSecretsManager(_) => "aws_secrets_manager",
            SourceDef::Store { .. } => "store",
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            SourceDef::Env(var) => format!("environment variable {var}"),
            SourceDef::File(path) => format!("file {}", path.display()),
            SourceDef::Vault { path, field } => format!("vault {path}#{field}"),
            SourceDef::OAuth2(o) => format!(
                "OAuth2 token endpoint at {}",
                o.token_url.host_str().unwrap_or("?")
            ),
            SourceDef::AwsSecretsManager(a) => match &a.field {
                Some(f) => format!("AWS Secrets Manager secret {}#{f}", a.secret_id),
                None => format!("AWS Secrets Manager secret {}", a.secret_id),
            },
            SourceDef::Store { initial } => {
                format!(
                    "toolgate's store (sealed; first from {})",
                    initial.describe()
                )
            }
        }
    }
}
