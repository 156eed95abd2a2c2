//! The AWS credential chain, in the order the AWS SDKs follow: environment
//! variables, the shared `credentials` / `config` files (a profile's static
//! keys), a web identity token exchanged at STS, the container credentials
//! endpoint, the EC2 instance metadata service (IMDSv2). The first link that
//! has credentials answers; temporary ones are kept until five minutes
//! before they expire.
//!
//! The metadata addresses (169.254.169.254, 169.254.170.2) are reached by
//! this client's own HTTP client only; tools go through the egress check,
//! which refuses them.
//!
//! Owns the cached credentials; errors name the link and the status, never
//! a key, a token or a body.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde_json::Value;

use super::keys::AwsCredentials;
use super::profile::Profiles;
use crate::secrets::EnvSource;

/// Temporary credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
const IMDS: &str = "http://169.254.169.254";
const CONTAINER: &str = "http://169.254.170.2";

pub(crate) struct Chain {
    http: reqwest::Client,
    env: Arc<dyn EnvSource>,
    cached: tokio::sync::Mutex<Option<Arc<AwsCredentials>>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").finish_non_exhaustive()
    }
}

impl Chain {
    pub(crate) fn new(http: reqwest::Client, env: Arc<dyn EnvSource>) -> Chain {
        Chain {
            http,
            env,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).filter(|v| !v.is_empty())
    }

    fn profiles(&self) -> Profiles {
        let home = self.var("HOME").map(PathBuf::from);
        let file = |var: &str, name: &str| {
            self.var(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
        };
        Profiles::read(
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials").as_deref(),
            file("AWS_CONFIG_FILE", "config").as_deref(),
            self.var("AWS_PROFILE").as_deref().unwrap_or("default"),
        )
    }

    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
    pub(crate) fn region(&self) -> Option<String> {
        self.var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
            .or_else(|| self.profiles().get("region"))
    }

    /// An endpoint given for `service` (`AWS_ENDPOINT_URL_<SERVICE>`, then
    /// `AWS_ENDPOINT_URL`), as the SDKs read them.
    pub(crate) fn endpoint_for(&self, service_env: &str) -> Option<String> {
        self.var(&format!("AWS_ENDPOINT_URL_{service_env}"))
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
    }

    /// Forget cached temporary credentials (AWS refused them).
    pub(crate) async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// The credentials to sign with now.
    pub(crate) async fn credentials(&self) -> Result<Arc<AwsCredentials>, String> {
        // Static keys (environment, files) are read each time, so a change
        // is used at once; nothing is cached for them.
        if let Some(c) = self.env_keys()? {
            return Ok(Arc::new(c));
        }
        let profiles = self.profiles();
        if let Some(c) = profiles.credentials()? {
            return Ok(Arc::new(c));
        }
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.expires
                .is_none_or(|e| SystemTime::now() + RENEW_BEFORE < e)
        {
            return Ok(c.clone());
        }
        let c = Arc::new(self.temporary().await?);
        *cached = Some(c.clone());
        Ok(c)
    }

    fn env_keys(&self) -> Result<Option<AwsCredentials>, String> {
        match (
            self.var("AWS_ACCESS_KEY_ID"),
            self.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Ok(Some(AwsCredentials {
                access_key_id: id,
                secret_access_key: SecretString::from(secret),
                session_token: self.var("AWS_SESSION_TOKEN").map(SecretString::from),
                expires: None,
            })),
            (None, None) => Ok(None),
            _ => Err("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together".into()),
        }
    }

    /// The links that hand out temporary credentials.
    async fn temporary(&self) -> Result<AwsCredentials, String> {
        if let Some(token_file) = self.var("AWS_WEB_IDENTITY_TOKEN_FILE") {
            return self.web_identity(&token_file).await;
        }
        if self.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
            || self.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
        {
            return self.container().await;
        }
        if self
            .var("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err("no AWS credentials (environment, shared files, web identity, container; instance metadata is disabled)".into());
        }
        self.imds().await.map_err(|e| {
            format!(
                "no AWS credentials (environment, shared files, web identity, container) and {e}"
            )
        })
    }

    /// `AssumeRoleWithWebIdentity` at STS with the token file's content.
    async fn web_identity(&self, token_file: &str) -> Result<AwsCredentials, String> {
        let role = self
            .var("AWS_ROLE_ARN")
            .ok_or("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")?;
        let token = std::fs::read_to_string(token_file)
            .map_err(|_| "cannot read the web identity token file".to_owned())?;
        let token = SecretString::from(token.trim().to_owned());
        let session = self
            .var("AWS_ROLE_SESSION_NAME")
            .unwrap_or_else(|| format!("toolgate-{}", crate::store::now_ms() / 1000));
        let url = match self.endpoint_for("STS") {
            Some(e) => e,
            None => match self.region() {
                Some(r) => format!("https://sts.{r}.amazonaws.com/"),
                None => "https://sts.amazonaws.com/".to_owned(),
            },
        };
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role.as_str()),
            ("RoleSessionName", session.as_str()),
            (
                "WebIdentityToken",
                secrecy::ExposeSecret::expose_secret(&token),
            ),
        ];
        let r = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("STS unreachable: {}", e.without_url()))?;
        let status = r.status();
        if !status.is_success() {
            return Err(format!(
                "STS refused AssumeRoleWithWebIdentity ({})",
                status.as_u16()
            ));
        }
        let body = read_capped(r).await.map_err(|e| format!("STS: {e}"))?;
        let creds = xml_text(&body, "Credentials").ok_or("STS gave no credentials")?;
        let field = |name| xml_text(creds, name).map(unescape);
        Ok(AwsCredentials {
            access_key_id: field("AccessKeyId").ok_or("STS gave no AccessKeyId")?,
            secret_access_key: SecretString::from(
                field("SecretAccessKey").ok_or("STS gave no SecretAccessKey")?,
            ),
            session_token: Some(SecretString::from(
                field("SessionToken").ok_or("STS gave no SessionToken")?,
            )),
            expires: field("Expiration").as_deref().and_then(parse_time),
        })
    }

    /// The container credentials endpoint (ECS, EKS Pod Identity).
    async fn container(&self) -> Result<AwsCredentials, String> {
        let url = match self.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            Some(rel) if rel.starts_with('/') => format!("{CONTAINER}{rel}"),
            Some(_) => {
                return Err("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /".into());
            }
            None => {
                let full = self
                    .var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
                    .unwrap_or_default();
                check_container_uri(&full)?;
                full
            }
        };
        let token = match self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|_| "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".to_owned())?
                    .trim()
                    .to_owned(),
            ),
            None => self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        };
        let mut req = self.http.get(url).timeout(Duration::from_secs(5));
        if let Some(t) = &token {
            if t.contains(['\r', '\n']) {
                return Err("the container authorization token holds a line break".into());
            }
            req = req.header(reqwest::header::AUTHORIZATION, t);
        }
        let r = req
            .send()
            .await
            .map_err(|e| format!("container credentials unreachable: {}", e.without_url()))?;
        if !r.status().is_success() {
            return Err(format!(
                "container credentials endpoint answered {}",
                r.status().as_u16()
            ));
        }
        let from = "container credentials endpoint";
        let text = read_capped(r).await.map_err(|e| format!("{from}: {e}"))?;
        from_json(&json(&text, from)?, from)
    }

    /// IMDSv2: a session token (PUT), the instance role's name, its credentials.
    async fn imds(&self) -> Result<AwsCredentials, String> {
        let base = self
            .var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or_else(|| IMDS.to_owned());
        let base = base.trim_end_matches('/');
        let unreachable =
            |e: reqwest::Error| format!("instance metadata unreachable: {}", e.without_url());
        let quick = Duration::from_secs(2);
        let r = self
            .http
            .put(format!("{base}/latest/api/token"))
            .header("x-aws-ec2-metadata-token-ttl-seconds", "300")
            .timeout(quick)
            .send()
            .await
            .map_err(unreachable)?;
        if !r.status().is_success() {
            return Err(format!(
                "instance metadata refused a token ({})",
                r.status().as_u16()
            ));
        }
        let from = "instance metadata";
        let text = read_capped(r).await.map_err(|e| format!("{from}: {e}"))?;
        let token = SecretString::from(text.trim().to_owned());
        let get = |path: String| {
            self.http
                .get(format!(
                    "{base}/latest/meta-data/iam/security-credentials/{path}"
                ))
                .header(
                    "x-aws-ec2-metadata-token",
                    secrecy::ExposeSecret::expose_secret(&token),
                )
                .timeout(quick)
                .send()
        };
        let r = get(String::new()).await.map_err(unreachable)?;
        if !r.status().is_success() {
            return Err(format!(
                "the instance has no role ({})",
                r.status().as_u16()
            ));
        }
        let names = read_capped(r).await.map_err(|e| format!("{from}: {e}"))?;
        let role = names.lines().next().map(str::trim).unwrap_or_default();
        if role.is_empty()
            || !role
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        {
            return Err("the instance metadata names no usable role".into());
        }
        let r = get(role.to_owned()).await.map_err(unreachable)?;
        if !r.status().is_success() {
            return Err(format!(
                "instance role credentials answered {}",
                r.status().as_u16()
            ));
        }
        let text = read_capped(r).await.map_err(|e| format!("{from}: {e}"))?;
        let v = json(&text, from)?;
        if v["Code"].as_str().is_some_and(|c| c != "Success") {
            return Err("instance metadata has no credentials for the role".into());
        }
        from_json(&v, "instance metadata")
    }
}

/// Most of an answer read: Secrets Manager values are at most 64 KiB,
/// credentials a few; more is refused rather than held.
const MAX_ANSWER: usize = 1 << 20;

/// The body of `r` as text, at most [`MAX_ANSWER`] bytes, kept zeroized.
pub(super) async fn read_capped(
    mut r: reqwest::Response,
) -> Result<zeroize::Zeroizing<String>, String> {
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    while let Some(chunk) = r
        .chunk()
        .await
        .map_err(|e| format!("the answer broke off: {}", e.without_url()))?
    {
        if buf.len() + chunk.len() > MAX_ANSWER {
            return Err("the answer is too large".into());
        }
        buf.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&buf).map_err(|_| "the answer is not UTF-8".to_owned())?;
    Ok(zeroize::Zeroizing::new(text.to_owned()))
}

fn json(text: &str, from: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|_| format!("{from} answered garbage"))
}

/// A full container URI: https, or http to loopback or the container
/// endpoints, as the SDKs allow.
fn check_container_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri)
        .map_err(|_| "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL".to_owned())?;
    let host_ok = match u.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip == std::net::Ipv4Addr::new(169, 254, 170, 2)
                || ip == std::net::Ipv4Addr::new(169, 254, 170, 23)
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip
                    == "fd00:ec2::23"
                        .parse::<std::net::Ipv6Addr>()
                        .expect("an address")
        }
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if u.scheme() == "https" || (u.scheme() == "http" && host_ok) {
        Ok(())
    } else {
        Err("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to loopback or the container endpoint".into())
    }
}

/// `{AccessKeyId, SecretAccessKey, Token, Expiration}` (container, IMDS).
fn from_json(v: &Value, from: &str) -> Result<AwsCredentials, String> {
    let s = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(AwsCredentials {
        access_key_id: s("AccessKeyId").ok_or_else(|| format!("{from} gave no AccessKeyId"))?,
        secret_access_key: SecretString::from(
            s("SecretAccessKey").ok_or_else(|| format!("{from} gave no SecretAccessKey"))?,
        ),
        session_token: s("Token").map(SecretString::from),
        expires: s("Expiration").as_deref().and_then(parse_time),
    })
}

/// The text between `<tag>` and `</tag>`.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `2026-01-02T03:04:05Z` (fractions and a `+00:00` offset allowed).
fn parse_time(s: &str) -> Option<SystemTime> {
    let s = s
        .strip_suffix("+00:00")
        .map(|b| format!("{b}Z"))
        .unwrap_or_else(|| s.to_owned());
    humantime::parse_rfc3339(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_uris() {
        for ok in [
            "https://creds.example.com/x",
            "http://127.0.0.1:9000/creds",
            "http://169.254.170.2/v2/credentials/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://localhost:80/x",
        ] {
            assert!(check_container_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.254/",
            "http://10.0.0.1/",
            "http://example.com/",
            "x",
        ] {
            assert!(check_container_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sts_answers_and_times() {
        let xml = "<R><Result><Credentials><AccessKeyId>ASIAX</AccessKeyId>\
                   <SecretAccessKey>s&amp;k</SecretAccessKey><SessionToken>t</SessionToken>\
                   <Expiration>2026-01-02T03:04:05.000Z</Expiration></Credentials></Result></R>";
        let c = xml_text(xml, "Credentials").unwrap();
        assert_eq!(xml_text(c, "AccessKeyId"), Some("ASIAX"));
        assert_eq!(unescape(xml_text(c, "SecretAccessKey").unwrap()), "s&k");
        let t = parse_time(xml_text(c, "Expiration").unwrap()).unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_767_323_045
        );
        assert!(parse_time("2026-01-02T03:04:05+00:00").is_some());
        assert!(parse_time("soon").is_none());
    }
}
