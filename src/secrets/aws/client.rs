//! The AWS Secrets Manager client: `GetSecretValue` over the JSON 1.1
//! protocol, signed with SigV4 ([`super::sigv4`]) by credentials from the
//! chain ([`super::chain`]), on a client of its own (rustls, no proxy, no
//! redirects, 10 s timeout).
//!
//! Owns the HTTP client and the chain, shared by every AWS credential of
//! the process. Errors name the secret id, the status and AWS's error type,
//! never a key, a value or a message body.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::chain::Chain;
use super::sigv4;
use crate::config::AwsSecretDef;
use crate::secrets::EnvSource;

/// One version of a secret as Secrets Manager gave it.
pub(super) struct Fetched {
    pub(super) version_id: String,
    /// `SecretString`, or `SecretBinary` when it is UTF-8 text.
    pub(super) text: SecretString,
}

/// Why a read gave no value.
#[derive(Debug)]
pub(super) enum FetchError {
    /// No such secret, or no version with that stage.
    NotFound(String),
    Other(String),
}

impl FetchError {
    pub(super) fn reason(self) -> String {
        match self {
            FetchError::NotFound(r) | FetchError::Other(r) => r,
        }
    }
}

pub(crate) struct Client {
    http: reqwest::Client,
    chain: Chain,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClient").finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(env: Arc<dyn EnvSource>) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Client {
            chain: Chain::new(http.clone(), env),
            http,
        })
    }

    fn endpoint(&self, def: &AwsSecretDef, region: &str) -> Result<url::Url, String> {
        if let Some(u) = &def.endpoint_url {
            return Ok(u.clone());
        }
        match self.chain.endpoint_for("SECRETS_MANAGER") {
            Some(e) => url::Url::parse(&e)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    "AWS_ENDPOINT_URL(_SECRETS_MANAGER) is not an http(s) URL".to_owned()
                }),
            None => url::Url::parse(&format!("https://secretsmanager.{region}.amazonaws.com/"))
                .map_err(|_| format!("no Secrets Manager endpoint for region {region}")),
        }
    }

    /// The version of `secret_id` labelled `stage`.
    pub(super) async fn get(
        &self,
        def: &AwsSecretDef,
        secret_id: &str,
        stage: &str,
    ) -> Result<Fetched, FetchError> {
        let other = FetchError::Other;
        let region = def
            .region
            .clone()
            .or_else(|| self.chain.region())
            .ok_or_else(|| {
                other(
                    "no AWS region (region:, AWS_REGION, AWS_DEFAULT_REGION or the profile's)"
                        .into(),
                )
            })?;
        if !crate::config::valid_aws_region(&region) {
            return Err(other(format!("{region:?} is not an AWS region name")));
        }
        let url = self.endpoint(def, &region).map_err(other)?;
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let body =
            serde_json::to_vec(&serde_json::json!({"SecretId": secret_id, "VersionStage": stage}))
                .map_err(|_| other("cannot encode the request".into()))?;
        let creds = self.chain.credentials().await.map_err(other)?;
        let target = "secretsmanager.GetSecretValue";
        let signed = sigv4::sign(
            &sigv4::Request {
                host: &host,
                region: &region,
                service: "secretsmanager",
                target,
                body: &body,
            },
            &creds,
            SystemTime::now(),
        );
        let mut req = self
            .http
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, sigv4::CONTENT_TYPE)
            .header("x-amz-target", target);
        for (name, value) in &signed {
            let mut v = reqwest::header::HeaderValue::from_str(value.expose_secret())
                .map_err(|_| other("AWS credentials hold characters a header cannot".into()))?;
            v.set_sensitive(true);
            req = req.header(*name, v);
        }
        let r = req
            .body(body)
            .send()
            .await
            .map_err(|e| other(format!("Secrets Manager unreachable: {}", e.without_url())))?;
        let status = r.status();
        let text = super::chain::read_capped(r)
            .await
            .map_err(|e| other(format!("Secrets Manager: {e}")))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let kind = v["__type"]
                .as_str()
                .map(|t| t.rsplit('#').next().unwrap_or(t))
                .filter(|t| t.bytes().all(|b| b.is_ascii_alphanumeric()))
                .unwrap_or("an error");
            if matches!(
                kind,
                "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "ExpiredTokenException"
                    | "IncompleteSignature"
            ) {
                self.chain.forget().await;
            }
            let reason = format!(
                "Secrets Manager answered {} ({kind}) for {secret_id} at stage {stage}",
                status.as_u16()
            );
            return Err(if kind == "ResourceNotFoundException" {
                FetchError::NotFound(reason)
            } else {
                other(reason)
            });
        }
        let version_id = v["VersionId"].as_str().unwrap_or_default().to_owned();
        let text = match (v["SecretString"].as_str(), v["SecretBinary"].as_str()) {
            (Some(s), _) => SecretString::from(s.to_owned()),
            (None, Some(b)) => {
                let bytes = zeroize::Zeroizing::new(
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|_| other(format!("{secret_id}: SecretBinary is not base64")))?,
                );
                let s = std::str::from_utf8(&bytes)
                    .map_err(|_| other(format!("{secret_id}: SecretBinary is not UTF-8 text")))?;
                SecretString::from(s.to_owned())
            }
            (None, None) => return Err(other(format!("{secret_id} has no value"))),
        };
        Ok(Fetched { version_id, text })
    }
}
