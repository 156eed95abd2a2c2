//! `toolgate mcp stdio`: a local bridge for MCP clients that only launch
//! stdio servers (desktop apps). It reads newline-delimited JSON-RPC from
//! stdin, POSTs each message to a toolgate's `/mcp` with the agent key from
//! the environment, and writes every JSON-RPC message of each answer to
//! stdout, one per line.
//!
//! - The key is the only secret it holds (an agent key, never an upstream
//!   credential); it goes in the `Authorization` header only, and no message
//!   the bridge writes or logs contains it.
//! - `initialize` is sent alone (later messages wait for it) and its
//!   `Mcp-Session-Id` and negotiated revision go on every later request.
//!   Other messages run concurrently: a call held for approval does not
//!   block a `ping`. Each output line is written whole.
//! - An answer is a JSON body or an event stream (each `data:` event a
//!   message: progress notifications, then the response); `202` writes
//!   nothing; an error status whose body is JSON-RPC is forwarded. Anything
//!   else (no connection, not JSON-RPC) becomes a JSON-RPC error answer to
//!   that request, saying what went wrong.
//! - A request of the stateless `2026-07-28` revision (its version in
//!   `params._meta`) goes alone, outside the session, with the headers it
//!   must mirror (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`).
//! - When toolgate has ended the session (idle past its lifetime, or ended
//!   elsewhere), the bridge opens a new one with the client's own
//!   `initialize` and sends the request again, once: a stdio client never
//!   expects to initialize twice.
//! - When stdin closes (or on SIGTERM / SIGINT) it lets requests in flight
//!   finish for up to [`DRAIN`], ends the session with `DELETE`, and exits 0.
//!   Logs go to stderr only.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinSet;

mod events;
mod messages;
use events::{Events, MAX_MESSAGE_BYTES};
use messages::{error_answer, is_message, refusal, request_id, stateless_headers};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// JSON-RPC "parse error".
const PARSE_ERROR: i64 = -32700;
/// The implementation-defined server error range's first code: the bridge
/// could not get an answer from toolgate.
const BRIDGE_ERROR: i64 = -32000;
/// How long requests in flight may finish once stdin has closed.
pub const DRAIN: Duration = Duration::from_secs(1);

/// `toolgate mcp …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Bridge a stdio MCP client to a toolgate's /mcp (the agent key from the environment).
    Stdio {
        /// The /mcp endpoint, e.g. `https://toolgate.example/mcp`.
        #[arg(long)]
        url: String,
        /// The environment variable holding the agent key.
        #[arg(long, default_value = "TOOLGATE_KEY")]
        key_env: String,
    },
}

impl Command {
    /// Run it; the process's exit code.
    pub fn run(self) -> ExitCode {
        match self {
            Command::Stdio { url, key_env } => main(&url, &key_env),
        }
    }
}

/// `toolgate mcp stdio --url URL --key-env VAR`: the agent key from `VAR`;
/// exit 1 with a message when it is missing or empty, else bridge until
/// stdin closes and exit 0.
pub fn main(url: &str, key_env: &str) -> ExitCode {
    let key = match std::env::var(key_env) {
        Ok(k) if !k.trim().is_empty() => SecretString::from(k),
        Ok(_) => {
            return fail(&format!(
                "environment variable {key_env} is empty; set it to the agent key"
            ));
        }
        Err(_) => {
            return fail(&format!(
                "environment variable {key_env} is not set; set it to the agent key (or name another with --key-env)"
            ));
        }
    };
    let bridge = match Bridge::new(url, key) {
        Ok(b) => Arc::new(b),
        Err(e) => return fail(&e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    rt.block_on(bridge.run());
    ExitCode::SUCCESS
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("toolgate mcp stdio: {msg}");
    ExitCode::FAILURE
}

/// What the bridge knows; shared by the tasks answering messages.
struct Bridge {
    http: reqwest::Client,
    url: reqwest::Url,
    key: SecretString,
    auth: HeaderValue,
    /// `Mcp-Session-Id` and the negotiated revision, once `initialize` answered.
    session: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
    /// The client's `initialize`, to open a new session when toolgate has
    /// ended the old one (idle past `mcp.session_ttl_seconds`, or ended
    /// elsewhere): a stdio client never expects to initialize twice.
    init: Mutex<Option<Value>>,
    /// One renewal at a time, for all the requests that found the session gone.
    renewing: tokio::sync::Mutex<()>,
    out: tokio::sync::Mutex<tokio::io::Stdout>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl Bridge {
    fn new(url: &str, key: SecretString) -> Result<Bridge, String> {
        let url = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                format!("--url {url:?} is not an http(s) URL (e.g. https://toolgate.example/mcp)")
            })?;
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
            return Err("--url must carry no credentials and no query string; the key comes from the environment".into());
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
            .map_err(|_| "the agent key holds characters an HTTP header cannot carry".to_owned())?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Bridge {
            http,
            url,
            key,
            auth,
            session: Mutex::new(None),
            version: Mutex::new(None),
            init: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
            out: tokio::sync::Mutex::new(tokio::io::stdout()),
        })
    }

    async fn run(self: Arc<Self>) {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut tasks = JoinSet::new();
        let stop = stop_signal();
        tokio::pin!(stop);
        let mut signalled = false;
        loop {
            let line = tokio::select! {
                line = lines.next_line() => line,
                () = &mut stop => { signalled = true; break; }
            };
            let line = match line {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    log(&format!("cannot read stdin: {e}"));
                    break;
                }
            };
            // Reap what has finished.
            while tasks.try_join_next().is_some() {}
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let message: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    self.write(&error_answer(
                        &Value::Null,
                        PARSE_ERROR,
                        &format!("not JSON: {e}"),
                        None,
                    ))
                    .await;
                    continue;
                }
            };
            if message.get("method").and_then(Value::as_str) == Some("initialize") {
                // Alone: what follows needs its session.
                self.forward(message).await;
            } else {
                let me = self.clone();
                tasks.spawn(async move { me.forward(message).await });
            }
        }
        if !signalled {
            let _ =
                tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} })
                    .await;
        }
        tasks.abort_all();
        self.end_session().await;
    }

    /// Send one message and write what comes back.
    async fn forward(&self, message: Value) {
        let id = request_id(&message);
        let is_initialize = message.get("method").and_then(Value::as_str) == Some("initialize");
        if is_initialize {
            *lock(&self.init) = Some(message.clone());
        }
        let sent_in = lock(&self.session).clone();
        let mut response = match self.post(&message).await {
            Ok(r) => r,
            Err(e) => return self.unreachable(id.as_ref(), &e).await,
        };
        // The session is gone: once more in a new one.
        if response.status() == StatusCode::NOT_FOUND
            && !is_initialize
            && stateless_headers(&message).is_none()
            && sent_in.is_some()
            && self.renew(sent_in.as_deref()).await
        {
            response = match self.post(&message).await {
                Ok(r) => r,
                Err(e) => return self.unreachable(id.as_ref(), &e).await,
            };
        }
        let status = response.status();
        if is_initialize && status.is_success() {
            let sid = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            *lock(&self.session) = sid;
        }
        if status == StatusCode::ACCEPTED {
            return;
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            return self.stream(response, id.as_ref(), is_initialize).await;
        }
        let body = match read_capped(response).await {
            Ok(b) => b,
            Err(e) => {
                let msg = format!("toolgate's answer (HTTP {status}) broke off: {e}");
                return self.fail(id.as_ref(), &msg, Some(status)).await;
            }
        };
        match serde_json::from_slice::<Value>(&body) {
            // A notification gets no answer, even an error.
            Ok(v) if id.is_none() => {
                let why = v["error"]["message"].as_str().unwrap_or("no reason given");
                log(&self.scrub(&format!(
                    "toolgate refused a notification (HTTP {status}): {why}"
                )));
            }
            Ok(v) if is_message(&v) => {
                if is_initialize {
                    self.agreed(&v);
                }
                self.write(&v).await;
            }
            Ok(v) => {
                let msg = refusal(status, &v);
                self.fail(id.as_ref(), &msg, Some(status)).await;
            }
            Err(_) => {
                let kind = if content_type.is_empty() {
                    "no content type"
                } else {
                    content_type.as_str()
                };
                let msg = format!(
                    "toolgate answered HTTP {status} with a body that is not JSON-RPC ({kind})"
                );
                self.fail(id.as_ref(), &msg, Some(status)).await;
            }
        }
    }

    async fn post(&self, message: &Value) -> Result<reqwest::Response, reqwest::Error> {
        let body = serde_json::to_vec(message).unwrap_or_default();
        self.http
            .post(self.url.clone())
            .headers(self.headers_for(message))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(body)
            .send()
            .await
    }

    /// A request of the stateless revision mirrors its body; any other
    /// goes in the session.
    fn headers_for(&self, message: &Value) -> HeaderMap {
        let Some(mirrored) = stateless_headers(message) else {
            return self.headers();
        };
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, self.auth.clone());
        for (name, value) in mirrored {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        h
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, self.auth.clone());
        let pairs = [
            (SESSION_HEADER, lock(&self.session).clone()),
            (VERSION_HEADER, lock(&self.version).clone()),
        ];
        for (name, value) in pairs {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        h
    }

    async fn unreachable(&self, id: Option<&Value>, e: &reqwest::Error) {
        let msg = format!("cannot reach toolgate at {}: {}", self.url, causes(e));
        self.fail(id, &msg, None).await;
    }

    /// Open a new session in place of `old`, with the client's own
    /// `initialize` (its answer is not written: the client has had one).
    /// True when there is a new session to retry in.
    async fn renew(&self, old: Option<&str>) -> bool {
        let _one = self.renewing.lock().await;
        if lock(&self.session).as_deref() != old {
            return true; // renewed meanwhile
        }
        let Some(mut init) = lock(&self.init).clone() else {
            return false;
        };
        init["id"] = json!("toolgate-mcp-stdio-renew");
        let answer = match self.post(&init).await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                log(&format!("cannot open a new session: HTTP {}", r.status()));
                return false;
            }
            Err(e) => {
                log(&format!("cannot open a new session: {}", causes(&e)));
                return false;
            }
        };
        let Some(sid) = answer
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            log("cannot open a new session: no Mcp-Session-Id in the answer");
            return false;
        };
        *lock(&self.session) = Some(sid);
        if let Ok(body) = read_capped(answer).await
            && let Ok(v) = serde_json::from_slice::<Value>(&body)
        {
            self.agreed(&v);
        }
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        if let Err(e) = self.post(&initialized).await {
            log(&format!("cannot confirm the new session: {}", causes(&e)));
        }
        log("toolgate had ended the session; continuing in a new one");
        true
    }

    /// The revision an `initialize` answer agreed on.
    fn agreed(&self, answer: &Value) {
        if let Some(v) = answer["result"]["protocolVersion"].as_str() {
            *lock(&self.version) = Some(v.to_owned());
        }
    }

    /// An event stream: each `data:` event is one message, written as it comes.
    async fn stream(
        &self,
        mut response: reqwest::Response,
        id: Option<&Value>,
        is_initialize: bool,
    ) {
        let mut events = Events::default();
        let mut answered = false;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    log(&format!("the event stream broke off: {}", causes(&e)));
                    break;
                }
            };
            let Ok(done) = events.push(&chunk) else {
                log("an event over 16 MiB; the stream is dropped");
                break;
            };
            for data in done {
                answered |= self.event(&data, id, is_initialize).await;
            }
        }
        for data in events.finish() {
            answered |= self.event(&data, id, is_initialize).await;
        }
        if !answered {
            self.fail(
                id,
                "toolgate's event stream ended before it answered this request",
                None,
            )
            .await;
        }
    }

    /// Write one event's message; true when it answers request `id`.
    async fn event(&self, data: &str, id: Option<&Value>, is_initialize: bool) -> bool {
        match serde_json::from_str::<Value>(data) {
            Ok(v) if is_message(&v) => {
                let answers =
                    id.is_some_and(|id| v.get("id") == Some(id)) && v.get("method").is_none();
                if answers && is_initialize {
                    self.agreed(&v);
                }
                self.write(&v).await;
                answers
            }
            _ => {
                log("an event that is not a JSON-RPC message was dropped");
                false
            }
        }
    }

    /// Answer request `id` with a bridge error; a notification's failure is logged.
    async fn fail(&self, id: Option<&Value>, message: &str, status: Option<StatusCode>) {
        let message = self.scrub(message);
        match id {
            Some(id) => {
                let data = status.map(|s| json!({"http_status": s.as_u16()}));
                self.write(&error_answer(id, BRIDGE_ERROR, &message, data))
                    .await;
            }
            None => log(&message),
        }
    }

    /// Never repeat the key, whatever an error message quoted.
    fn scrub(&self, text: &str) -> String {
        text.replace(self.key.expose_secret(), "[REDACTED]")
    }

    /// One message, one whole line.
    async fn write(&self, message: &Value) {
        let mut line = serde_json::to_vec(message).unwrap_or_default();
        line.push(b'\n');
        let mut out = self.out.lock().await;
        if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
            log("cannot write to stdout");
        }
    }

    async fn end_session(&self) {
        if lock(&self.session).is_none() {
            return;
        }
        let ended = self
            .http
            .delete(self.url.clone())
            .headers(self.headers())
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        match ended {
            Ok(r) if r.status().is_success() || r.status() == StatusCode::NOT_FOUND => {}
            Ok(r) => log(&format!("ending the session: HTTP {}", r.status())),
            Err(e) => log(&format!("cannot end the session: {}", causes(&e))),
        }
    }
}

/// A poisoned lock still holds a usable value here (an id or a version).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn log(msg: &str) {
    eprintln!("toolgate mcp stdio: {msg}");
}

/// An error and its causes, innermost last ("connection refused", …).
fn causes(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| causes(&e))? {
        if body.len() + chunk.len() > MAX_MESSAGE_BYTES {
            return Err("the answer is over 16 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Resolves on SIGTERM or SIGINT (a client stopping the bridge).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_or_key_is_refused_before_anything_is_sent() {
        let key = || SecretString::from("tg_agent_x".to_owned());
        for url in [
            "ftp://h/mcp",
            "not a url",
            "http://u:p@h/mcp",
            "http://h/mcp?k=1",
        ] {
            assert!(Bridge::new(url, key()).is_err(), "{url}");
        }
        assert!(Bridge::new("http://h/mcp", SecretString::from("a\nb".to_owned())).is_err());
        let b = Bridge::new("https://h.example/mcp", key()).unwrap();
        assert_eq!(b.scrub("key tg_agent_x seen"), "key [REDACTED] seen");
        assert!(!format!("{b:?}").contains("tg_agent_x"));
    }
}
