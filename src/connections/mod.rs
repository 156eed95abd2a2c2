//! Per-user OAuth connections: an end user connects their own account at a
//! provider (authorization code with PKCE), and toolgate then calls with
//! that subject's token for sessions carrying that subject.
//!
//! 1. [`start`]: an agent (key or session) or an admin asks for a connect
//!    URL for `(credential, subject)`; toolgate keeps a fresh `state` bound
//!    to them and a PKCE verifier ([`state`]) and answers the provider's
//!    authorize URL with the state and the S256 challenge.
//! 2. The end user consents; the provider sends the browser to
//!    `<public_url>/v1/oauth/callback`, where [`callback`] takes the state
//!    (single use), exchanges the code with the verifier, and the source
//!    keeps the subject's tokens sealed in the store.
//! 3. [`list`] and [`disconnect`] show and end a subject's connections.
//!
//! Who may: an agent for the credentials its workflow binds (a session only
//! for its own subject), an admin for all; anyone else is answered as if
//! the credential did not exist. Every step is audited with the subject;
//! no token, code, state or verifier is ever in a record, a log line or an
//! answer.

pub(crate) mod state;

use secrecy::ExposeSecret;

use crate::audit::{Entry, Event};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::secrets::{ConnectedSecret, ConnectionInfo, ExchangeError};
use crate::sessions::valid_label;

/// Who asks, as far as connections care.
pub(crate) enum Asker {
    /// An agent; `subject` is its session's (`None` with its own key).
    Agent {
        name: String,
        workflow: String,
        session: bool,
        subject: Option<String>,
    },
    Admin(String),
}

impl Asker {
    /// Whether this asker may act on `credential` for `subject`.
    fn check(&self, gw: &Gateway, credential: &str, subject: &str) -> Result<(), ApiError> {
        if let Asker::Agent {
            workflow,
            session,
            subject: own,
            ..
        } = self
        {
            let bound = gw
                .config
                .workflows
                .get(workflow)
                .is_some_and(|w| w.credentials.values().any(|c| c == credential));
            if !bound {
                return Err(no_such_credential());
            }
            if *session && own.as_deref() != Some(subject) {
                return Err(ApiError::forbidden(
                    "a session acts only for its own subject; use the agent's key, or a session minted for this subject",
                ));
            }
        }
        Ok(())
    }

    fn mark(&self, entry: &mut Entry) {
        match self {
            Asker::Agent { name, workflow, .. } => {
                entry.agent = Some(name.clone());
                entry.workflow = Some(workflow.clone());
            }
            Asker::Admin(name) => entry.admin = Some(name.clone()),
        }
    }
}

fn no_such_credential() -> ApiError {
    ApiError::new(
        Code::NotFound,
        "no per-user connection credential by that name is available to this caller",
    )
}

fn valid_subject(subject: &str) -> Result<(), ApiError> {
    if valid_label(subject) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "subject must be 1 to 128 characters of letters, digits and . _ @ + - :",
        ))
    }
}

/// The connection credential `name`, for `asker` acting for `subject`.
fn source<'g>(
    gw: &'g Gateway,
    asker: &Asker,
    name: &str,
    subject: &str,
) -> Result<&'g ConnectedSecret, ApiError> {
    valid_subject(subject)?;
    asker.check(gw, name, subject)?;
    gw.credentials
        .connection(name)
        .ok_or_else(no_such_credential)
}

async fn record(gw: &Gateway, mut entry: Entry) -> Result<(), ApiError> {
    entry.environment = Some(gw.config.environment.clone());
    gw.audit
        .append(entry)
        .await
        .map(|_| ())
        .map_err(ApiError::from)
}

fn entry(event: Event, credential: &str, subject: &str) -> Entry {
    let mut e = Entry::new(event);
    e.credential = Some(credential.to_owned());
    e.subject = Some(subject.to_owned());
    e
}

/// A connect URL handed out.
pub(crate) struct Started {
    pub connect_url: String,
    pub expires_ms: u64,
}

/// `return_to`, if given: an absolute URL at one of `connections.return_to_origins`.
fn return_to(gw: &Gateway, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let refused = || {
        ApiError::bad_request(
            "return_to must be an absolute URL at one of connections.return_to_origins",
        )
    };
    let url = url::Url::parse(raw).map_err(|_| refused())?;
    let origin = match url.origin() {
        o @ url::Origin::Tuple(..) => o.ascii_serialization(),
        url::Origin::Opaque(_) => return Err(refused()),
    };
    if !url.username().is_empty()
        || url.password().is_some()
        || !gw.config.connections.return_to_origins.contains(&origin)
    {
        return Err(refused());
    }
    Ok(Some(url.to_string()))
}

/// Step 1: a connect URL for `(credential, subject)`. `base` is the
/// gateway's public address (the callback is `<base>/v1/oauth/callback`).
pub(crate) async fn start(
    gw: &Gateway,
    asker: &Asker,
    credential: &str,
    subject: &str,
    return_to_raw: Option<&str>,
    base: &str,
) -> Result<Started, ApiError> {
    let source = source(gw, asker, credential, subject)?;
    let return_to = return_to(gw, return_to_raw)?;
    let states = states(gw)?;
    let redirect_uri = format!("{base}/v1/oauth/callback");
    let (agent, admin) = match asker {
        Asker::Agent { name, .. } => (Some(name.clone()), None),
        Asker::Admin(name) => (None, Some(name.clone())),
    };
    let fresh = state::fresh();
    let pending = state::pending(credential, subject, &redirect_uri, return_to, agent, admin);
    let mut e = entry(Event::ConnectionStarted, credential, subject);
    asker.mark(&mut e);
    record(gw, e).await?;
    let expires_ms = states
        .put(
            &fresh.state,
            pending,
            &fresh.verifier,
            gw.config.connections.state_ttl,
        )
        .await?;
    let def = source.oauth2();
    let mut url = def
        .authorize_url
        .clone()
        .ok_or_else(|| ApiError::internal("a connection credential without authorize_url"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &def.client_id)
            .append_pair("redirect_uri", &redirect_uri);
        if !def.scopes.is_empty() {
            q.append_pair("scope", &def.scopes.join(" "));
        }
        q.append_pair("state", fresh.state.expose_secret())
            .append_pair("code_challenge", &fresh.challenge)
            .append_pair("code_challenge_method", "S256");
    }
    Ok(Started {
        connect_url: url.to_string(),
        expires_ms,
    })
}

fn states(gw: &Gateway) -> Result<state::States<'_>, ApiError> {
    let sealer = gw.connect_sealer.as_ref().ok_or_else(|| {
        ApiError::new(
            Code::CredentialUnavailable,
            "per-user connections need store.encryption_key",
        )
    })?;
    Ok(state::States {
        store: gw.store.as_ref(),
        sealer,
        environment: &gw.config.environment,
    })
}

/// What the provider sent the browser back with.
pub(crate) struct Returned<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// A connection made: where to send the browser, if anywhere.
pub(crate) struct Connected {
    pub credential: String,
    pub subject: String,
    pub return_to: Option<String>,
}

fn state_refused() -> ApiError {
    ApiError::new(
        Code::OauthStateInvalid,
        "this connect link is not valid: it was already used, has expired, or was not issued here; ask for a new one",
    )
}

/// The provider's error code, as far as it is a code (no text of theirs echoed).
fn provider_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}

/// Step 2: the callback. The state is taken first, so whatever follows, it
/// is never used again.
pub(crate) async fn callback(gw: &Gateway, got: Returned<'_>) -> Result<Connected, ApiError> {
    // Without the key no state was ever issued.
    let states = states(gw).map_err(|_| state_refused())?;
    let Some(pending) = states.take(got.state.unwrap_or("")).await? else {
        tracing::info!("a connect callback with a state that is unknown, used or expired; refused");
        return Err(state_refused());
    };
    let (credential, subject) = (pending.credential.clone(), pending.subject.clone());
    let mut e = entry(Event::ConnectionDenied, &credential, &subject);
    e.agent = pending.agent.clone();
    e.admin = pending.admin.clone();
    if let Some(error) = got.error {
        e.reason = Some(provider_code(error));
        record(gw, e).await?;
        return Err(ApiError::new(
            Code::OauthDenied,
            "the connection was not made: consent was refused at the provider",
        ));
    }
    let source = gw
        .credentials
        .connection(&credential)
        .ok_or_else(state_refused)?;
    let code = got
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| ApiError::bad_request("the provider sent neither code nor error"))?;
    let code = secrecy::SecretString::from(code.to_owned());
    let made = source
        .exchange(&subject, &code, &pending.verifier(), &pending.redirect_uri)
        .await;
    match made {
        Ok(_) => {
            e.event = Some(Event::Connected);
            if let Err(err) = record(gw, e).await {
                // Not recorded: not kept.
                let _ = source.disconnect(&subject).await;
                return Err(err);
            }
            Ok(Connected {
                credential,
                subject,
                return_to: pending.return_to.clone(),
            })
        }
        Err(failure) => {
            e.event = Some(Event::ConnectionFailed);
            let (reason, answer) = match failure {
                ExchangeError::Refused(r) => (
                    r,
                    ApiError::new(
                        Code::CredentialRejected,
                        "the provider refused to complete the connection; ask for a new connect link",
                    ),
                ),
                ExchangeError::Unavailable(r) => (
                    r,
                    ApiError::new(
                        Code::CredentialUnavailable,
                        "the provider or toolgate's store could not be reached; ask for a new connect link",
                    )
                    .with_retry_after(1),
                ),
            };
            e.reason = Some(gw.redactor.load().redact_str(&reason).0.into_owned());
            record(gw, e).await?;
            Err(answer.with_internal(reason))
        }
    }
}

/// Step 3: a subject's connections this asker may see (no token material).
pub(crate) async fn list(
    gw: &Gateway,
    asker: &Asker,
    subject: &str,
) -> Result<Vec<ConnectionInfo>, ApiError> {
    valid_subject(subject)?;
    let mut out = Vec::new();
    for source in gw.credentials.connections() {
        match asker.check(gw, source.name(), subject) {
            Ok(()) => {}
            Err(e) if e.code == Code::NotFound => continue,
            Err(e) => return Err(e),
        }
        let found = source.connection(subject).await.map_err(|e| {
            ApiError::new(
                Code::StoreUnavailable,
                "toolgate's state store is unavailable",
            )
            .with_retry_after(1)
            .with_internal(e)
        })?;
        out.extend(found);
    }
    Ok(out)
}

/// Whether the provider revoked an ended connection.
pub(crate) enum Revoked {
    Yes,
    Failed,
    /// No `revocation_url` configured.
    NotConfigured,
}

/// End a subject's connection, and revoke it at the provider.
pub(crate) async fn disconnect(
    gw: &Gateway,
    asker: &Asker,
    credential: &str,
    subject: &str,
) -> Result<Revoked, ApiError> {
    let source = source(gw, asker, credential, subject)?;
    let ended = source.disconnect(subject).await.map_err(|e| {
        ApiError::new(
            Code::StoreUnavailable,
            "toolgate's state store is unavailable; nothing was changed",
        )
        .with_retry_after(1)
        .with_internal(e)
    })?;
    let Some(revoked) = ended else {
        return Err(ApiError::new(
            Code::NotFound,
            "this subject has no connection for that credential",
        ));
    };
    let revoked = match revoked {
        None => Revoked::NotConfigured,
        Some(true) => Revoked::Yes,
        Some(false) => Revoked::Failed,
    };
    let mut e = entry(Event::Disconnected, credential, subject);
    asker.mark(&mut e);
    e.decision = Some(
        match revoked {
            Revoked::Yes => "revoked at the provider",
            Revoked::Failed => {
                "the provider's revocation endpoint failed; toolgate no longer holds the tokens"
            }
            Revoked::NotConfigured => "no revocation_url; toolgate no longer holds the tokens",
        }
        .to_owned(),
    );
    record(gw, e).await?;
    Ok(revoked)
}
