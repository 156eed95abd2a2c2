//! A real Secrets Manager / IAM / STS API: `moto_server` on a free port
//! (or `TOOLGATE_TEST_MOTO_URL`), and the loopback container-credentials
//! and instance-metadata endpoints a test plays.
//!
//! moto checks SigV4 signatures (and IAM policies) once its auth is on;
//! the test's own setup calls (IAM users and roles, secrets, rotations)
//! are made with auth off, then it is switched on again, so every request
//! toolgate makes is verified.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::process::free_port;
use crate::support::skip::unavailable;

pub struct Moto {
    child: Option<Child>,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Keys of an IAM user moto made.
pub struct Keys {
    pub id: String,
    pub secret: String,
}

pub async fn moto_or_skip() -> Option<Moto> {
    let m = Moto::start().await;
    if m.is_none() {
        unavailable(
            "no moto (set TOOLGATE_TEST_MOTO_URL or put `moto_server` on PATH: pip install 'moto[server]')",
        );
    }
    m
}

fn fake_auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIASETUP/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

fn xml<'a>(text: &'a str, tag: &str) -> &'a str {
    let start = text.find(&format!("<{tag}>")).expect(tag) + tag.len() + 2;
    let end = start + text[start..].find(&format!("</{tag}>")).unwrap();
    &text[start..end]
}

impl Moto {
    async fn start() -> Option<Moto> {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        if let Ok(url) = std::env::var("TOOLGATE_TEST_MOTO_URL") {
            return Some(Moto {
                child: None,
                url: url.trim_end_matches('/').to_owned(),
                http,
            });
        }
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let moto = Moto {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            http,
        };
        for _ in 0..300 {
            if let Ok(r) = moto
                .http
                .get(format!("{}/moto-api/", moto.url))
                .send()
                .await
                && r.status().is_success()
            {
                return Some(moto);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// From now on every request must be signed by known keys (`true`),
    /// or none is checked (`false`).
    pub async fn auth(&self, on: bool) {
        let r = self
            .http
            .post(format!("{}/moto-api/reset-auth", self.url))
            .body(if on { "0" } else { "inf" })
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// A Secrets Manager call, made with auth off.
    pub async fn sm(&self, action: &str, body: Value) -> Value {
        self.auth(false).await;
        let r = self
            .http
            .post(format!("{}/", self.url))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("secretsmanager.{action}"))
            .header("authorization", fake_auth("secretsmanager"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        self.auth(true).await;
        assert!(status.is_success(), "{action}: {status} {v}");
        v
    }

    pub async fn create_secret(&self, name: &str, value: &str) {
        self.sm("CreateSecret", json!({"Name": name, "SecretString": value}))
            .await;
    }

    /// A new `AWSCURRENT` version; the one before becomes `AWSPREVIOUS`.
    pub async fn rotate(&self, name: &str, value: &str) {
        self.sm(
            "PutSecretValue",
            json!({"SecretId": name, "SecretString": value}),
        )
        .await;
    }

    /// An IAM or STS query call, made with auth off; the XML answer.
    async fn query(&self, service: &str, params: &[(&str, &str)]) -> String {
        self.auth(false).await;
        let r = self
            .http
            .post(format!("{}/", self.url))
            .header("authorization", fake_auth(service))
            .form(params)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        self.auth(true).await;
        assert!(status.is_success(), "{params:?}: {status} {text}");
        text
    }

    /// An IAM user allowed `GetSecretValue` (or nothing, `allowed: false`), and its keys.
    pub async fn user(&self, allowed: bool) -> Keys {
        let name = format!("tg{}", rand::random::<u32>());
        self.query(
            "iam",
            &[
                ("Action", "CreateUser"),
                ("Version", "2010-05-08"),
                ("UserName", &name),
            ],
        )
        .await;
        let k = self
            .query(
                "iam",
                &[
                    ("Action", "CreateAccessKey"),
                    ("Version", "2010-05-08"),
                    ("UserName", &name),
                ],
            )
            .await;
        if allowed {
            self.query(
                "iam",
                &[
                    ("Action", "PutUserPolicy"),
                    ("Version", "2010-05-08"),
                    ("UserName", &name),
                    ("PolicyName", "read"),
                    ("PolicyDocument", &read_policy()),
                ],
            )
            .await;
        }
        Keys {
            id: xml(&k, "AccessKeyId").to_owned(),
            secret: xml(&k, "SecretAccessKey").to_owned(),
        }
    }

    /// A role allowed `GetSecretValue`; its ARN.
    pub async fn role(&self) -> String {
        let name = format!("tg{}", rand::random::<u32>());
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "accounts.example.test"}, "Action": "sts:AssumeRoleWithWebIdentity"}]});
        let r = self
            .query(
                "iam",
                &[
                    ("Action", "CreateRole"),
                    ("Version", "2010-05-08"),
                    ("RoleName", &name),
                    ("AssumeRolePolicyDocument", &trust.to_string()),
                ],
            )
            .await;
        self.query(
            "iam",
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", &name),
                ("PolicyName", "read"),
                ("PolicyDocument", &read_policy()),
            ],
        )
        .await;
        xml(&r, "Arn").to_owned()
    }
}

fn read_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    .to_string()
}

/// A loopback server playing the container credentials endpoint
/// (`GET /creds` with `Authorization: <token>`) and IMDSv2 (`PUT
/// /latest/api/token`, then the role and its credentials with the token),
/// handing out `keys`. Counts the credential requests it answered.
pub struct Metadata {
    pub base: String,
    pub served: Arc<AtomicUsize>,
}

impl Metadata {
    pub async fn start(keys: &Keys, container_token: &str) -> Metadata {
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use axum::response::IntoResponse;
        let served = Arc::new(AtomicUsize::new(0));
        let imds_token = format!("imds-{}", rand::random::<u64>());
        let creds = json!({
            "Code": "Success",
            "AccessKeyId": keys.id,
            "SecretAccessKey": keys.secret,
            "Expiration": humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(3600)).to_string(),
        });
        let (count, container_token) = (served.clone(), container_token.to_owned());
        let handler = move |method: Method, uri: Uri, headers: HeaderMap| {
            let (creds, count, ct, it) = (
                creds.clone(),
                count.clone(),
                container_token.clone(),
                imds_token.clone(),
            );
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let imds_ok = header("x-aws-ec2-metadata-token") == it;
                match (method.as_str(), uri.path()) {
                    ("GET", "/creds") if header("authorization") == ct => {
                        count.fetch_add(1, Ordering::SeqCst);
                        axum::Json(creds).into_response()
                    }
                    ("PUT", "/latest/api/token")
                        if !header("x-aws-ec2-metadata-token-ttl-seconds").is_empty() =>
                    {
                        it.into_response()
                    }
                    ("GET", "/latest/meta-data/iam/security-credentials/") if imds_ok => {
                        "toolgate-role\n".into_response()
                    }
                    ("GET", "/latest/meta-data/iam/security-credentials/toolgate-role")
                        if imds_ok =>
                    {
                        count.fetch_add(1, Ordering::SeqCst);
                        axum::Json(creds).into_response()
                    }
                    _ => StatusCode::UNAUTHORIZED.into_response(),
                }
            }
        };
        let app = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Metadata { base, served }
    }

    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}
