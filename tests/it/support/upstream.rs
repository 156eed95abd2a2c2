//! A real upstream on 127.0.0.1:0 that records every request and misbehaves on demand.
//!
//! Routes (any method):
//! - `/echo/...`      JSON echo of method, raw path, query, headers and body
//! - `/echo-secret`   echoes the Authorization header in many encodings, JSON
//! - `/text-secret`   the same as text/plain
//! - `/status/{n}`    answers status n with a JSON body echoing the Authorization header
//! - `/redirect`      302 to `/redirect-target` on this server
//! - `/huge`          an endless chunked body; counts bytes actually sent
//! - `/slow`          answers after 3 s

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
pub struct Record {
    pub requests: Mutex<Vec<Received>>,
    pub huge_bytes_sent: AtomicU64,
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub record: Arc<Record>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let record = Arc::new(Record::default());
        let app = Router::new().fallback(handle).with_state(record.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { addr, record }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.record.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.record.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> Received {
        self.requests()
            .last()
            .cloned()
            .expect("the upstream received a request")
    }
}

fn encodings(s: &str) -> Value {
    let json_escaped: String = s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    json!({
        "raw": s,
        "b64": base64::engine::general_purpose::STANDARD.encode(s),
        "b64url": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s),
        "pct": percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string(),
        "hex": hex::encode(s),
        "u_escaped_literal": json_escaped,
        "nested": {"deeper": [{"auth": s}]},
    })
}

/// `s` with every character but letters and digits as an HTML character
/// reference, named, decimal and hexadecimal in turn.
fn html_refs(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| match (c, i % 3) {
            (c, _) if c.is_ascii_alphanumeric() => c.to_string(),
            ('&', 0) => "&amp;".into(),
            ('"', 0) => "&quot;".into(),
            (c, 1) => format!("&#{};", c as u32),
            (c, _) => format!("&#x{:x};", c as u32),
        })
        .collect()
}

/// `s` as a path encoder with lower-case hex writes it, every other letter
/// escaped too (a partial encoding).
fn pct_mixed(s: &str) -> String {
    s.bytes()
        .enumerate()
        .map(|(i, b)| {
            if b == b'/' || (b.is_ascii_alphanumeric() && i % 2 == 0) {
                char::from(b).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// `s` quoted-printable as a mail client writes it: every byte but letters
/// and digits as `=XX`, a soft line break before a line reaches 76.
fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for b in s.bytes() {
        let piece = if b.is_ascii_alphanumeric() {
            char::from(b).to_string()
        } else {
            format!("={b:02X}")
        };
        if line + piece.len() > 75 {
            out.push_str("=\r\n");
            line = 0;
        }
        line += piece.len();
        out.push_str(&piece);
    }
    out
}

/// `s` inside a larger binary blob (one byte before it, so at the second
/// alignment), base64-encoded and wrapped at 76 columns with CRLF, as a
/// MIME part.
fn mime_base64(s: &str) -> String {
    let mut data = vec![0x89u8];
    data.extend_from_slice(format!("auth seen: {s}\n").as_bytes());
    data.extend((0..=255u8).cycle().take(300));
    let enc = base64::engine::general_purpose::STANDARD.encode(&data);
    let lines: Vec<&str> = enc
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    )
}

/// A raw body holding `auth` in the encoding `kind` names, and its content type.
fn encoded_body(kind: &str, auth: &str) -> Option<(StatusCode, &'static str, Vec<u8>)> {
    let every_u: String = auth
        .chars()
        .map(|c| format!("\\u{:04X}", c as u32))
        .collect();
    Some(match kind {
        "html" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html",
            format!(
                "<!doctype html><html><body><h1>500</h1><p>bad header: {}</p></body></html>",
                html_refs(auth)
            ),
        ),
        "ndjson" => (
            StatusCode::OK,
            "application/x-ndjson",
            format!("{{\"n\":1}}\n{{\"seen\":\"{every_u}\"}}\n"),
        ),
        "sse" => (
            StatusCode::OK,
            "text/event-stream",
            format!("event: echo\ndata: {{\"seen\":\"{every_u}\",\"bad\":\"\\ud800\"}}\n\n"),
        ),
        "pct" => (
            StatusCode::OK,
            "text/plain",
            format!("GET /v1/echo/{}?x=1\n", pct_mixed(auth)),
        ),
        // UTF-16 (little-endian, no mark): told by the charset.
        "utf16" => {
            let text = json!({"seen": auth, "note": "échoed"}).to_string();
            let body = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            return Some((StatusCode::OK, "application/json; charset=utf-16", body));
        }
        "qp" => (
            StatusCode::OK,
            "message/rfc822",
            format!(
                "From: echo@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nYour header was: {}\r\n",
                quoted_printable(auth)
            ),
        ),
        "mime" => (StatusCode::OK, "multipart/mixed; boundary=b", mime_base64(auth)),
        _ => return None,
    })
    .map(|(st, ct, text)| (st, ct, text.into_bytes()))
}

async fn handle(State(rec): State<Arc<Record>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    rec.requests.lock().unwrap().push(Received {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if path.starts_with("/echo/") || path == "/echo" {
        let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        return axum::Json(json!({
            "method": parts.method.as_str(),
            "path": path,
            "query": parts.uri.query(),
            "headers": headers,
            "body": body_json,
        }))
        .into_response();
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(500);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            status,
            axum::Json(
                json!({"error": "upstream says no", "auth_seen": auth, "enc": encodings(&auth)}),
            ),
        )
            .into_response();
    }
    if let Some((status, ct, text)) = path
        .strip_prefix("/encoded/")
        .and_then(|k| encoded_body(k, &auth))
    {
        return (status, [("content-type", ct)], text).into_response();
    }
    match path.as_str() {
        "/echo-secret" => {
            let mut resp = axum::Json(json!({"ok": true, "auth": auth, "enc": encodings(&auth)}))
                .into_response();
            if let Ok(v) = auth.parse() {
                resp.headers_mut().insert("x-request-id", v);
            }
            resp
        }
        "/text-secret" => {
            let v = encodings(&auth);
            let text = format!(
                "debug dump: auth={} b64={} pct={} hex={}\n",
                auth,
                v["b64"].as_str().unwrap(),
                v["pct"].as_str().unwrap(),
                v["hex"].as_str().unwrap()
            );
            ([("content-type", "text/plain")], text).into_response()
        }
        "/redirect" => (StatusCode::FOUND, [("location", "/redirect-target")], "").into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            axum::Json(json!({"slow": true})).into_response()
        }
        "/huge" => {
            let rec = rec.clone();
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream = futures_util::stream::unfold(0u64, move |sent| {
                let rec = rec.clone();
                let chunk = chunk.clone();
                async move {
                    if sent >= 50 * 1024 * 1024 {
                        return None;
                    }
                    rec.huge_bytes_sent
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    Some((
                        Ok::<_, std::io::Error>(chunk.clone()),
                        sent + chunk.len() as u64,
                    ))
                }
            });
            (
                [("content-type", "application/octet-stream")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no route"})),
        )
            .into_response(),
    }
}
