//! The one family of request helpers: every test talks to a gateway (in
//! process or a child process) through an [`Api`] on its base URL.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// A client for one gateway's base URL (`http://127.0.0.1:port`).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// The body as JSON, or as a JSON string when it is not JSON.
fn body_value(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            base,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// `https://localhost:port`, trusting only `ca_pem`, presenting
    /// `identity_pem` (a certificate and its key) when given.
    pub fn https(port: u16, ca_pem: &str, identity_pem: Option<&str>) -> Api {
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("a CA"));
        if let Some(id) = identity_pem {
            b = b.identity(reqwest::Identity::from_pem(id.as_bytes()).expect("an identity"));
        }
        Api {
            base: format!("https://localhost:{port}"),
            http: b.build().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Any method, with `key` as bearer and an optional JSON body.
    pub async fn request(
        &self,
        method: &str,
        key: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let mut r = self
            .http
            .request(method.parse().expect("an HTTP method"), self.url(path));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("gateway reachable");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (
            status,
            body_value(r.text().await.unwrap_or_default()),
            headers,
        )
    }

    /// Any method with `key`; status and body.
    pub async fn send(
        &self,
        method: &str,
        key: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (st, v, _) = self.request(method, Some(key), path, body).await;
        (st, v)
    }

    /// POST a JSON body to `path` with `key`.
    pub async fn post_json(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", key, path, Some(body)).await
    }

    /// POST a native call to `/v1/calls` with `key`.
    pub async fn call(&self, key: &str, body: Value) -> (u16, Value, HeaderMap) {
        self.request("POST", Some(key), "/v1/calls", Some(body))
            .await
    }

    /// POST raw bytes with a content type to `/v1/calls`.
    pub async fn post_raw(&self, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/v1/calls"))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("gateway reachable");
        let status = r.status().as_u16();
        (status, body_value(r.text().await.unwrap_or_default()))
    }

    /// GET `path`, with `key` when given.
    pub async fn get(&self, key: Option<&str>, path: &str) -> (u16, Value) {
        let (st, v, _) = self.request("GET", key, path, None).await;
        (st, v)
    }

    /// An admin action (`POST` with a reason).
    pub async fn admin(&self, key: &str, path: &str) -> (u16, Value) {
        self.post_json(key, path, serde_json::json!({"reason": "incident 42"}))
            .await
    }

    /// Poll `path` until anything answers; false after `within`.
    pub async fn wait_until_up(&self, path: &str, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if self.http.get(self.url(path)).send().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }
}
