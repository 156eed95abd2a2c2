//! AWS Signature Version 4 for the one request shape this client sends: a
//! `POST /` with a JSON body to an AWS JSON 1.1 API (Secrets Manager's
//! `GetSecretValue`). No query string, no path, a fixed set of headers; so
//! the canonical request is short and spelt out here, on the HMAC-SHA256
//! toolgate already links. Checked against botocore's signer (test vectors
//! below) and against a Secrets Manager API that verifies signatures (moto,
//! in the integration tests).
//!
//! Returns the headers to send; never logs a key.

use std::time::SystemTime;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::keys::AwsCredentials;

/// What one signed request says about itself.
pub(super) struct Request<'a> {
    /// `host` or `host:port`, exactly as the HTTP client sends it.
    pub host: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `X-Amz-Target`, e.g. `secretsmanager.GetSecretValue`.
    pub target: &'a str,
    pub body: &'a [u8],
}

pub(super) const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The headers to add (besides `Host`, which the client sends itself):
/// `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials) and
/// `Authorization`, the last one a secret.
pub(super) fn sign(
    req: &Request<'_>,
    creds: &AwsCredentials,
    at: SystemTime,
) -> Vec<(&'static str, SecretString)> {
    let amz_date = amz_date(at);
    let day = &amz_date[..8];
    let token = creds.session_token.as_ref();
    let mut canonical_headers = format!(
        "content-type:{CONTENT_TYPE}\nhost:{}\nx-amz-date:{amz_date}\n",
        req.host
    );
    let mut signed = String::from("content-type;host;x-amz-date");
    if let Some(t) = token {
        canonical_headers.push_str(&format!("x-amz-security-token:{}\n", t.expose_secret()));
        signed.push_str(";x-amz-security-token");
    }
    canonical_headers.push_str(&format!("x-amz-target:{}\n", req.target));
    signed.push_str(";x-amz-target");
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        hex::encode(Sha256::digest(req.body))
    );
    let scope = format!("{day}/{}/{}/aws4_request", req.region, req.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let secret =
        zeroize::Zeroizing::new(format!("AWS4{}", creds.secret_access_key.expose_secret()));
    let mut key = hmac(secret.as_bytes(), day.as_bytes());
    for part in [req.region, req.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    );
    let mut out = vec![("x-amz-date", SecretString::from(amz_date.clone()))];
    if let Some(t) = token {
        out.push(("x-amz-security-token", t.clone()));
    }
    out.push(("authorization", SecretString::from(authorization)));
    out
}

fn hmac(key: &[u8], data: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    zeroize::Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// `20260102T030405Z`.
fn amz_date(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Signatures botocore's `SigV4Auth` computes for the same request, key
    /// and time (2026-01-02T03:04:05Z).
    #[test]
    fn matches_botocore() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045);
        assert_eq!(amz_date(at), "20260102T030405Z");
        let body = br#"{"SecretId":"prod/crm","VersionStage":"AWSCURRENT"}"#;
        let cases = [
            (
                "secretsmanager.us-east-1.amazonaws.com",
                true,
                "645b0fc4d2de45507cce27c9e65bc05debb2d8aacbc9189d317c20c1b6dce8db",
            ),
            (
                "secretsmanager.us-east-1.amazonaws.com",
                false,
                "09c3c441aa7207de2c201e5f5c0a366f13d7f6c9a93b1170f4e1543c1dffa954",
            ),
            (
                "127.0.0.1:4566",
                true,
                "ec76ae51efea6f91710814c741cbeda6758f1d4b098cff18785fb1c21918fdf9",
            ),
            (
                "127.0.0.1:4566",
                false,
                "dfb4bfa801076eabf98b34ee8f726d160b4dab34ccb95b832196a95376dfdb6d",
            ),
        ];
        for (host, with_token, want) in cases {
            let creds = AwsCredentials {
                access_key_id: "AKIDTEST".into(),
                secret_access_key: SecretString::from("test-secret-not-real"),
                session_token: with_token.then(|| SecretString::from("test-session-token")),
                expires: None,
            };
            let req = Request {
                host,
                region: "us-east-1",
                service: "secretsmanager",
                target: "secretsmanager.GetSecretValue",
                body,
            };
            let headers = sign(&req, &creds, at);
            let auth = headers
                .iter()
                .find(|(n, _)| *n == "authorization")
                .unwrap()
                .1
                .expose_secret()
                .to_owned();
            assert!(
                auth.ends_with(&format!("Signature={want}")),
                "{host} {with_token}: {auth}"
            );
            assert_eq!(
                headers.iter().any(|(n, _)| *n == "x-amz-security-token"),
                with_token
            );
        }
    }
}
