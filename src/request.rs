//! The upstream request as toolgate builds it, and its frozen form.
//!
//! [`UpstreamRequest`] is what the build stage makes from the manifest's
//! template and the validated arguments: method, URL, headers and body —
//! never a credential, which is attached just before sending.
//! [`FrozenRequest`] is that request kept byte for byte in the store (for an
//! approver to see and approve, or for a dead letter to be retried), with a
//! SHA-256 over all of it so that exactly the approved bytes are sent.
//!
//! Nothing in here sees a secret value.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::digest::{self, DigestKey};
use url::Url;

/// A request to an upstream, as built from a tool's template, without its
/// credential (a clone taken before the credential is attached holds none).
#[derive(Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

impl std::fmt::Debug for UpstreamRequest {
    /// Method, origin and path, and header names only: once attached, a
    /// credential sits in a header or the query, and Debug must not show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRequest")
            .field("method", &self.method)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("path", &self.url.path())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .finish()
    }
}

/// The upstream request exactly as it will be sent, minus its credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body bytes, base64 (standard).
    pub body: Option<String>,
    /// The keyed digest (`hmac-sha256:…`) over method, URL, headers and
    /// body bytes (the field keeps its name from when it was a bare SHA-256).
    pub sha256: String,
}

impl FrozenRequest {
    /// The request as it will be sent, minus its credential, with its keyed
    /// digest (see [`crate::digest`]).
    pub fn freeze(req: &UpstreamRequest, key: &DigestKey) -> FrozenRequest {
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        headers.sort();
        let body = req
            .body
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
        let mut frozen = FrozenRequest {
            method: req.method.as_str().to_owned(),
            url: req.url.as_str().to_owned(),
            headers,
            body,
            sha256: String::new(),
        };
        let mut mac = key.mac();
        frozen.feed(&mut mac, req.body.as_deref());
        frozen.sha256 = digest::finish(mac);
        frozen
    }

    /// Method, URL, headers (sorted) and body bytes, in the order every
    /// digest of a request reads them.
    fn feed(&self, h: &mut impl Update, body: Option<&[u8]>) {
        h.update(self.method.as_bytes());
        h.update(b"\n");
        h.update(self.url.as_bytes());
        h.update(b"\n");
        for (k, v) in &self.headers {
            h.update(k.as_bytes());
            h.update(b": ");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        h.update(b"\n");
        if let Some(b) = body {
            h.update(b);
        }
    }

    /// The plain SHA-256 over exactly the bytes an approver is shown
    /// (method, URL, sorted headers, a blank line, the body): theirs to
    /// check; it is never stored.
    pub(crate) fn shown_sha256(&self) -> String {
        let mut h = Sha256::new();
        self.feed(&mut h, self.body_bytes().as_deref());
        hex::encode(h.finalize())
    }

    /// The body's bytes, if it has one.
    pub(crate) fn body_bytes(&self) -> Option<Vec<u8>> {
        let b = self.body.as_ref()?;
        base64::engine::general_purpose::STANDARD.decode(b).ok()
    }

    /// Back to a request, byte for byte; `None` if the record was damaged.
    /// A record written before digests were keyed carries a bare SHA-256,
    /// which is checked as such.
    pub(crate) fn thaw(&self, key: &DigestKey) -> Option<UpstreamRequest> {
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            );
        }
        let body = match &self.body {
            Some(b) => Some(Bytes::from(
                base64::engine::general_purpose::STANDARD.decode(b).ok()?,
            )),
            None => None,
        };
        let req = UpstreamRequest {
            method: Method::from_bytes(self.method.as_bytes()).ok()?,
            url: url::Url::parse(&self.url).ok()?,
            headers,
            body,
        };
        let again = FrozenRequest::freeze(&req, key);
        let intact = if self.sha256.starts_with(digest::PREFIX) {
            again.sha256 == self.sha256
        } else {
            again.shown_sha256() == self.sha256
        };
        intact.then_some(req)
    }

    /// The body as JSON, for people to read.
    pub(crate) fn body_json(&self) -> Value {
        let Some(b) = &self.body else {
            return Value::Null;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .unwrap_or_default();
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

/// What both digests of a request are fed with.
trait Update {
    fn update(&mut self, data: &[u8]);
}

impl Update for Sha256 {
    fn update(&mut self, data: &[u8]) {
        Digest::update(self, data);
    }
}

impl Update for hmac::Hmac<Sha256> {
    fn update(&mut self, data: &[u8]) {
        hmac::Mac::update(self, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_never_shows_a_credential_in_a_header_or_the_query() {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_static("Bearer in-header-credential");
        auth.set_sensitive(true);
        headers.insert("authorization", auth);
        let req = UpstreamRequest {
            method: Method::GET,
            url: url::Url::parse("https://api.example.com/v1/x?api_key=in-query-credential")
                .unwrap(),
            headers,
            body: None,
        };
        let text = format!("{req:?}");
        assert!(
            !text.contains("in-header-credential") && !text.contains("in-query-credential"),
            "{text}"
        );
        assert!(
            text.contains("api.example.com") && text.contains("authorization"),
            "{text}"
        );
    }

    #[test]
    fn frozen_requests_round_trip_and_detect_damage() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-tag", HeaderValue::from_static("t"));
        let req = UpstreamRequest {
            method: Method::POST,
            url: url::Url::parse("https://api.example.com/v1/leads/a%2Fb?x=1").unwrap(),
            headers,
            body: Some(Bytes::from_static(br#"{"name":"A"}"#)),
        };
        let key = DigestKey::derive(b"test");
        let f = FrozenRequest::freeze(&req, &key);
        assert!(f.sha256.starts_with(digest::PREFIX));
        let back = f.thaw(&key).unwrap();
        assert_eq!(back.url.as_str(), req.url.as_str());
        assert_eq!(back.body, req.body);
        assert_eq!(FrozenRequest::freeze(&back, &key), f);
        assert_eq!(f.body_json(), json!({"name": "A"}));
        // Another key cannot vouch for it.
        assert!(f.thaw(&DigestKey::derive(b"other")).is_none());
        // A record from before keyed digests carries the bare SHA-256.
        let legacy = FrozenRequest {
            sha256: f.shown_sha256(),
            ..f.clone()
        };
        assert!(legacy.thaw(&key).is_some());
        // The approver's hash is over exactly what they are shown.
        let mut shown = Sha256::new();
        Digest::update(
            &mut shown,
            b"POST\nhttps://api.example.com/v1/leads/a%2Fb?x=1\ncontent-type: application/json\nx-tag: t\n\n{\"name\":\"A\"}",
        );
        assert_eq!(f.shown_sha256(), hex::encode(shown.finalize()));
        let damaged = FrozenRequest {
            url: "https://api.example.com/v1/leads/other".into(),
            ..f
        };
        assert!(damaged.thaw(&key).is_none());
    }
}
