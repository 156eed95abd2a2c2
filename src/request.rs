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
    /// SHA-256 over method, URL, headers and body bytes.
    pub sha256: String,
}

impl FrozenRequest {
    pub fn freeze(req: &UpstreamRequest) -> FrozenRequest {
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
        let mut h = Sha256::new();
        h.update(req.method.as_str().as_bytes());
        h.update(b"\n");
        h.update(req.url.as_str().as_bytes());
        h.update(b"\n");
        for (k, v) in &headers {
            h.update(k.as_bytes());
            h.update(b": ");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        h.update(b"\n");
        if let Some(b) = &req.body {
            h.update(b);
        }
        FrozenRequest {
            method: req.method.as_str().to_owned(),
            url: req.url.as_str().to_owned(),
            headers,
            body,
            sha256: hex::encode(h.finalize()),
        }
    }

    /// Back to a request, byte for byte; `None` if the record was damaged.
    pub(crate) fn thaw(&self) -> Option<UpstreamRequest> {
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
        (FrozenRequest::freeze(&req).sha256 == self.sha256).then_some(req)
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
        let f = FrozenRequest::freeze(&req);
        let back = f.thaw().unwrap();
        assert_eq!(back.url.as_str(), req.url.as_str());
        assert_eq!(back.body, req.body);
        assert_eq!(FrozenRequest::freeze(&back), f);
        assert_eq!(f.body_json(), json!({"name": "A"}));
        let damaged = FrozenRequest {
            url: "https://api.example.com/v1/leads/other".into(),
            ..f
        };
        assert!(damaged.thaw().is_none());
    }
}
