//! The mint and revoke requests: filled in, a credential attached, sent
//! through the egress rules like any upstream call, and mint's answer read.
//!
//! `{old_id}` and `{old_secret}` fill the URL (percent-encoded), header
//! values and body strings of a revoke. The answer is read with a size cap
//! into memory that is zeroized; errors name the step and the status, never
//! a body, a header or a value.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{CredentialDef, RotationDef, RotationRequest};
use crate::gateway::Gateway;
use crate::request::UpstreamRequest;

/// The largest answer read from a mint or revoke.
const MAX_ANSWER: usize = 1 << 20;

/// Unreserved characters stay as they are in a URL; the rest is encoded.
const URL_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A minted key: its secret and the vendor's id for it.
pub(crate) struct Minted {
    pub secret: SecretString,
    pub id: Option<String>,
}

/// What fills a revoke's placeholders.
#[derive(Default)]
pub(crate) struct Fill {
    pub old_id: Option<String>,
    pub old_secret: Option<SecretString>,
}

impl Fill {
    fn text(&self, s: &str, encode: bool) -> String {
        let mut out = s.to_owned();
        let put = |out: &mut String, name: &str, v: &str| {
            let v = if encode {
                utf8_percent_encode(v, URL_PART).to_string()
            } else {
                v.to_owned()
            };
            *out = out.replace(name, &v);
        };
        if let Some(id) = &self.old_id {
            put(&mut out, "{old_id}", id);
        }
        if let Some(secret) = &self.old_secret {
            put(&mut out, "{old_secret}", secret.expose_secret());
        }
        out
    }

    fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s, false)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.value(v)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), self.value(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// Build, attach the credential, send; the answer's body when it is 2xx
/// (`gone_ok`: a 404 or 410 counts as done, for a revoke of a key already
/// gone).
async fn send(
    gw: &Gateway,
    own: &CredentialDef,
    r: &RotationRequest,
    fill: &Fill,
    step: &str,
    gone_ok: bool,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let url = url::Url::parse(&fill.text(&r.url, true))
        .map_err(|_| format!("{step}: the URL is not valid once filled in"))?;
    crate::pipeline::egress::check_url(&url, r.allow_private_network)
        .map_err(|_| format!("{step}: egress to this address is not allowed"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &r.headers {
        let mut v = HeaderValue::from_str(&fill.text(value, false))
            .map_err(|_| format!("{step}: header {name} is not valid once filled in"))?;
        v.set_sensitive(true);
        headers.insert(name.clone(), v);
    }
    let body = match &r.body {
        None => None,
        Some(b) => {
            if !headers.contains_key(http::header::CONTENT_TYPE) {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            let filled = Zeroizing::new(
                serde_json::to_vec(&fill.value(b)).map_err(|e| format!("{step}: {e}"))?,
            );
            Some(Bytes::copy_from_slice(&filled))
        }
    };
    let mut req = UpstreamRequest {
        method: r.method.clone(),
        url,
        headers,
        body,
    };
    let cred = r.credential.as_deref().unwrap_or(&own.name);
    let def = gw
        .config
        .credentials
        .get(cred)
        .ok_or_else(|| format!("{step}: credential {cred} is not configured"))?;
    if gw
        .revocations
        .is_active(&crate::revocations::credential_key(cred))
    {
        return Err(format!(
            "{step}: credential {cred} is disabled by an operator"
        ));
    }
    let loaded = gw
        .credentials
        .current(cred, None)
        .await
        .map_err(|e| format!("{step}: {e}"))?;
    crate::pipeline::credential::inject(def, &loaded, &mut req)
        .map_err(|e| format!("{step}: {}", e.message))?;
    let mut builder = gw
        .egress
        .client(r.allow_private_network)
        .request(req.method, req.url)
        .headers(req.headers)
        .timeout(r.timeout);
    if let Some(b) = req.body {
        builder = builder.body(b);
    }
    let mut answer = builder.send().await.map_err(|e| {
        if crate::pipeline::egress::is_egress_denied(&e) {
            format!("{step}: egress to this address is not allowed")
        } else if e.is_timeout() {
            format!("{step}: the upstream did not answer in time")
        } else {
            format!("{step}: the upstream cannot be reached")
        }
    })?;
    let status = answer.status().as_u16();
    let ok = (200..300).contains(&status) || (gone_ok && matches!(status, 404 | 410));
    if !ok {
        return Err(format!("{step}: the upstream answered {status}"));
    }
    let mut buf = Zeroizing::new(Vec::new());
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|_| format!("{step}: the answer broke off"))?
    {
        if buf.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("{step}: the answer is too large"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Ask the vendor for a new key.
pub(crate) async fn mint(
    gw: &Gateway,
    own: &CredentialDef,
    rot: &RotationDef,
) -> Result<Minted, String> {
    let body = send(gw, own, &rot.mint, &Fill::default(), "mint", false).await?;
    let v: Value =
        serde_json::from_slice(&body).map_err(|_| "mint: the answer is not JSON".to_owned())?;
    let secret = v
        .pointer(&rot.secret_at)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| SecretString::from(s.to_owned()))
        .ok_or_else(|| {
            format!(
                "mint: the answer has no string at secret_at ({})",
                rot.secret_at
            )
        })?;
    let id = match &rot.id_at {
        None => None,
        Some(at) => Some(match v.pointer(at) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(format!("mint: the answer has no id at id_at ({at})")),
        }),
    };
    drop(v);
    Ok(Minted { secret, id })
}

/// Ask the vendor to revoke the old key.
pub(crate) async fn revoke(
    gw: &Gateway,
    own: &CredentialDef,
    r: &RotationRequest,
    fill: &Fill,
) -> Result<(), String> {
    send(gw, own, r, fill, "revoke", true).await.map(|_| ())
}
