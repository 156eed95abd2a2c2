//! Per-user OAuth connections: `POST /v1/connections` (a connect URL),
//! `GET /v1/connections?subject=` (a subject's connections),
//! `DELETE /v1/connections/{credential}/{subject}` (disconnect), and the
//! provider's redirect back, `GET /v1/oauth/callback` (no credential: the
//! end user's browser arrives there). The logic is [`crate::connections`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::gate::WholeBody;
use crate::approvals::views::rfc3339;
use crate::connections::{self, Asker, Returned, Revoked};
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;
use crate::identity::Caller;
use crate::pipeline::authenticate::{self, Presented};

/// An agent (key or session) or an admin; nobody else.
fn asker(gw: &Gateway, who: &Presented) -> Result<Asker, ApiError> {
    if let Caller::Admin { name } = who.caller() {
        return Ok(Asker::Admin(name.clone()));
    }
    if !matches!(who.caller(), Caller::Agent { .. }) {
        return Err(ApiError::forbidden(
            "only agent keys, their session tokens and admin keys may manage connections",
        ));
    }
    let agent = authenticate::agent(gw, who)?;
    Ok(Asker::Agent {
        name: agent.name.clone(),
        workflow: agent.workflow.name.clone(),
        session: agent.via_session,
        subject: agent.subject,
    })
}

/// `{credential, subject, return_to?}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"credential": "calendar", "subject": "user-42", "return_to": "https://app.example.com/settings"}))]
pub(super) struct ConnectRequest {
    /// A credential with `grant: authorization_code` that the caller's workflow binds.
    credential: String,
    /// The end user whose account is connected (a session: its own subject).
    #[schema(pattern = r"^(?!\.)(?!.*\.\.)[A-Za-z0-9._@+:-]{1,128}$")]
    subject: String,
    /// Where the browser goes once connected: a URL at one of
    /// `connections.return_to_origins`.
    return_to: Option<String>,
}

/// `201`: the URL to send the end user to.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConnectUrl {
    /// The provider's authorization URL, with `state` and the PKCE challenge.
    connect_url: String,
    /// RFC 3339; after this the link is refused.
    expires_at: String,
}

#[utoipa::path(
    post,
    path = "/v1/connections",
    operation_id = "create_connection",
    tag = "agents",
    request_body = ConnectRequest,
    responses(
        (status = 201, description = "A connect URL for the end user, single use", body = ConnectUrl),
        (status = 400, description = "`bad_request`: not `{credential, subject, return_to?}`, a bad subject, or a `return_to` at no allowed origin", body = ErrorBody),
        (status = 403, description = "`forbidden`: an approver key, or a session for another subject", body = ErrorBody),
        (status = 404, description = "`not_found`: no connection credential by that name for this caller", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    headers: HeaderMap,
    WholeBody(body): WholeBody,
) -> Result<(StatusCode, Json<ConnectUrl>), ApiError> {
    let asker = asker(&gw, &who)?;
    let req: ConnectRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{credential, subject, return_to?}} ({e})"
        ))
    })?;
    let base = super::mcp::base_url(&gw, &headers);
    let started = connections::start(
        &gw,
        &asker,
        &req.credential,
        &req.subject,
        req.return_to.as_deref(),
        &base,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectUrl {
            connect_url: started.connect_url,
            expires_at: rfc3339(started.expires_ms),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// The end user (a session: its own subject, the default).
    subject: Option<String>,
}

/// One connection, without token material.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConnectionView {
    credential: String,
    subject: String,
    /// RFC 3339.
    connected_at: String,
    /// The scopes granted.
    scopes: Vec<String>,
    /// RFC 3339: when the current access token expires (it is refreshed before).
    expires_at: String,
}

/// `200`: a subject's connections.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConnectionList {
    connections: Vec<ConnectionView>,
}

#[utoipa::path(
    get,
    path = "/v1/connections",
    operation_id = "list_connections",
    tag = "agents",
    params(ListQuery),
    responses(
        (status = 200, description = "The subject's connections among the credentials the caller may see", body = ConnectionList),
        (status = 400, description = "`bad_request`: no or a bad subject", body = ErrorBody),
        (status = 403, description = "`forbidden`: an approver key, or a session for another subject", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConnectionList>, ApiError> {
    let asker = asker(&gw, &who)?;
    let Ok(Query(q)) = query else {
        return Err(ApiError::bad_request("invalid query string"));
    };
    let own = match &asker {
        Asker::Agent { subject, .. } => subject.clone(),
        Asker::Admin(_) => None,
    };
    let subject = q
        .subject
        .or(own)
        .ok_or_else(|| ApiError::bad_request("name the end user: ?subject="))?;
    let found = connections::list(&gw, &asker, &subject).await?;
    Ok(Json(ConnectionList {
        connections: found
            .into_iter()
            .map(|c| ConnectionView {
                credential: c.credential,
                subject: c.subject,
                connected_at: rfc3339(c.connected_ms),
                scopes: c.scopes,
                expires_at: rfc3339(c.expires_ms),
            })
            .collect(),
    }))
}

/// `200`: the connection was ended.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Disconnected {
    credential: String,
    subject: String,
    /// `revoked` (at the provider's `revocation_url`), `revocation_failed`
    /// (toolgate no longer holds the tokens, the provider may), or
    /// `not_configured` (no `revocation_url`).
    revocation: String,
}

#[utoipa::path(
    delete,
    path = "/v1/connections/{credential}/{subject}",
    operation_id = "delete_connection",
    tag = "agents",
    params(
        ("credential" = String, Path, description = "The connection credential"),
        ("subject" = String, Path, description = "The end user"),
    ),
    responses(
        (status = 200, description = "Disconnected: the tokens are forgotten, and revoked at the provider when configured", body = Disconnected),
        (status = 400, description = "`bad_request`: a bad subject", body = ErrorBody),
        (status = 403, description = "`forbidden`: an approver key, or a session for another subject", body = ErrorBody),
        (status = 404, description = "`not_found`: no such connection credential for this caller, or no connection for this subject", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn delete(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path((credential, subject)): Path<(String, String)>,
) -> Result<Json<Disconnected>, ApiError> {
    let asker = asker(&gw, &who)?;
    let revoked = connections::disconnect(&gw, &asker, &credential, &subject).await?;
    Ok(Json(Disconnected {
        credential,
        subject,
        revocation: match revoked {
            Revoked::Yes => "revoked",
            Revoked::Failed => "revocation_failed",
            Revoked::NotConfigured => "not_configured",
        }
        .to_owned(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CallbackQuery {
    state: Option<String>,
    /// The authorization code, on consent.
    code: Option<String>,
    /// The provider's error code (`access_denied`), on refusal.
    error: Option<String>,
}

/// The page a browser sees once connected (without `return_to`).
const CONNECTED_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connected</title></head>\
<body><p>Your account is connected. You may close this window.</p></body></html>";

#[utoipa::path(
    get,
    path = "/v1/oauth/callback",
    operation_id = "oauth_callback",
    tag = "connections",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Connected; a page saying so (no `return_to`)", content_type = "text/html", body = String),
        (status = 303, description = "Connected; the browser is sent to the connection's `return_to`"),
        (status = 400, description = "`oauth_state_invalid`: the state is unknown, already used or expired; or `bad_request`: neither code nor error", body = ErrorBody),
        (status = 403, description = "`oauth_denied`: consent was refused at the provider", body = ErrorBody),
        (status = 502, description = "`credential_rejected`: the provider refused the code", body = ErrorBody),
        (status = 503, description = "`credential_unavailable` (the provider cannot be reached), `store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn callback(
    State(gw): State<Arc<Gateway>>,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let mut response = match query {
        Err(_) => ApiError::bad_request("invalid query string").into_response(),
        Ok(Query(q)) => {
            let got = Returned {
                state: q.state.as_deref(),
                code: q.code.as_deref(),
                error: q.error.as_deref(),
            };
            match connections::callback(&gw, got).await {
                Ok(done) => {
                    tracing::info!(credential = %done.credential, subject = %done.subject, "connected");
                    match done
                        .return_to
                        .as_deref()
                        .and_then(|r| HeaderValue::from_str(r).ok())
                    {
                        Some(to) => {
                            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
                        }
                        None => (
                            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                            CONNECTED_PAGE,
                        )
                            .into_response(),
                    }
                }
                Err(e) => e.into_response(),
            }
        }
    };
    // The URL held a code: keep it out of caches and of the next page's Referer.
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
