//! The API's OpenAPI 3.1 document, and the one table of routes that both the
//! router and the document are built from.
//!
//! Each handler carries its path, parameters, bodies and the statuses it
//! answers with (`#[utoipa::path]`); [`routes()`] registers the handlers by
//! those attributes, so a route cannot be served without being documented,
//! nor documented at a path or method it is not served at. What the layers
//! in front of a group of routes add — the bearer credential, `401`, and for
//! routes that take a slot `408` and `503 overloaded` — is added to every
//! operation of the group by [`Group::document`].

use std::sync::{Arc, OnceLock};

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{self, Ref, RefOr, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{admin, approvals, calls, connections, health, metrics, rotate, sessions, tools};
use crate::catalog::Format;
use crate::error::{Code, ErrorBody};
use crate::gateway::Gateway;

/// The security scheme's name in the document.
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "toolgate",
        description = "A credential-brokering gateway between LLM orchestrators and the APIs their agents act on. \
Agent keys, session tokens, approver keys and admin keys are all sent as `Authorization: Bearer`; \
every error is `{\"error\": {\"code\", \"message\", \"details\"?}}` with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody, Code, Format)),
    tags(
        (name = "agents", description = "Tool calls, for agent keys and their session tokens"),
        (name = "approvers", description = "The approval queue, for approver keys"),
        (name = "admin", description = "Kill switches, dead letters and reviews, for admin keys"),
        (name = "connections", description = "The provider's redirect back to toolgate when an end user connects their account; no credential"),
        (name = "health", description = "Liveness, readiness, metrics and this document; no credential"),
    ),
)]
struct Base;

/// The routes of one audience, and the answers the layers in front of them add.
pub(super) struct Group {
    pub routes: OpenApiRouter<Arc<Gateway>>,
    /// Behind the gate: a bearer credential, or `401`.
    pub gated: bool,
    /// Takes a concurrency slot, within the request timeout: `503 overloaded`, `408`.
    pub slotted: bool,
}

impl Group {
    fn new(routes: OpenApiRouter<Arc<Gateway>>, gated: bool, slotted: bool) -> Group {
        Group {
            routes,
            gated,
            slotted,
        }
    }

    /// The group's operations, with what its layers add.
    fn document(mut self) -> openapi::OpenApi {
        let mut doc = self.routes.to_openapi();
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                if self.gated {
                    op.security =
                        Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                    layer_response(op, 401, "Unauthenticated");
                }
                if self.slotted {
                    layer_response(op, 408, "RequestTimeout");
                    layer_response(op, 503, "Unavailable");
                }
            }
        }
        doc
    }
}

/// Every operation of a path.
fn operations(item: &mut openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// A status added by a layer, unless the handler documents it already.
fn layer_response(op: &mut Operation, status: u16, name: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
}

/// The shared answers the layers give, each an error body.
fn layer_responses() -> [(&'static str, openapi::Response); 3] {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                openapi::content::ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            )
            .build()
    };
    [
        (
            "Unauthenticated",
            error("`unauthenticated`: no key, an unknown or revoked key, not `Bearer`"),
        ),
        (
            "RequestTimeout",
            error(
                "`request_timeout`: the request took longer than `limits.request_timeout_ms`, \
                 or its body arrived too slowly",
            ),
        ),
        (
            "Unavailable",
            error(
                "`overloaded` (beyond `limits.max_concurrency`, with `Retry-After: 1`), \
                 or the store, audit trail or a credential is unavailable",
            ),
        ),
    ]
}

/// Every route the gateway serves, by audience. The router adds the layers.
pub(super) struct Routes {
    /// Agent keys and session tokens: tool calls and what goes with them.
    pub agents: Group,
    /// Approvers and operators, with slots of their own.
    pub people: Group,
    /// No credential, a slot: where an end user's browser arrives.
    pub browser: Group,
    /// No credential and no slot: they answer even when every slot is taken.
    pub open: Group,
}

pub(super) fn routes() -> Routes {
    let agents = OpenApiRouter::new()
        .routes(routes!(tools::list))
        .routes(routes!(calls::create))
        .routes(routes!(calls::status))
        .routes(routes!(sessions::mint))
        .routes(routes!(connections::create, connections::list))
        .routes(routes!(connections::delete));
    let browser = OpenApiRouter::new().routes(routes!(connections::callback));
    let people = OpenApiRouter::new()
        .routes(routes!(admin::disable_credential))
        .routes(routes!(admin::enable_credential))
        .routes(routes!(admin::reload_credential))
        .routes(routes!(rotate::rotate_credential))
        .routes(routes!(admin::revoke_agent))
        .routes(routes!(admin::release_agent))
        .routes(routes!(admin::audit_head))
        .routes(routes!(admin::dead_letters))
        .routes(routes!(admin::retry_dead_letter))
        .routes(routes!(admin::discard_dead_letter))
        .routes(routes!(admin::access_review))
        .routes(routes!(approvals::list))
        .routes(routes!(approvals::show))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::deny));
    let open = OpenApiRouter::new()
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::metrics))
        .routes(routes!(document_json));
    Routes {
        agents: Group::new(agents, true, true),
        people: Group::new(people, true, true),
        browser: Group::new(browser, false, true),
        open: Group::new(open, false, false),
    }
}

/// The whole document.
pub(crate) fn document() -> openapi::OpenApi {
    let Routes {
        agents,
        people,
        browser,
        open,
    } = routes();
    let mut doc = Base::openapi();
    for group in [agents, people, browser, open] {
        doc.merge(group.document());
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An agent key, a session token (`tg_session_…`), an approver key or an admin key",
                ))
                .build(),
        ),
    );
    for (name, response) in layer_responses() {
        components
            .responses
            .insert(name.to_owned(), response.into());
    }
    doc
}

/// The document as pretty JSON, as `GET /openapi.json` serves it and `toolgate openapi` prints it.
pub fn document_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        // The document is plain data; encoding it cannot fail.
        document()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    responses((status = 200, description = "The API's OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub(super) async fn document_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_text(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn doc() -> Value {
        serde_json::from_str(document_text()).expect("the document is JSON")
    }

    /// Every variant, listed once more; the test below fails when the
    /// derived enum and this list disagree, so a new code is noticed.
    const ALL: [Code; 25] = [
        Code::Unauthenticated,
        Code::Forbidden,
        Code::UnknownTool,
        Code::SchemaViolation,
        Code::RateLimited,
        Code::ApprovalDenied,
        Code::ApprovalExpired,
        Code::CredentialUnavailable,
        Code::CredentialRejected,
        Code::EgressDenied,
        Code::UpstreamError,
        Code::UpstreamTimeout,
        Code::PayloadTooLarge,
        Code::BadRequest,
        Code::NotFound,
        Code::Conflict,
        Code::AuditUnavailable,
        Code::StoreUnavailable,
        Code::Overloaded,
        Code::RequestTimeout,
        Code::SecretInArguments,
        Code::RotationInProgress,
        Code::OauthStateInvalid,
        Code::OauthDenied,
        Code::Internal,
    ];

    #[test]
    fn every_error_code_is_in_the_document_s_enum_under_its_wire_name() {
        let doc = doc();
        let listed: Vec<&str> = doc["components"]["schemas"]["Code"]["enum"]
            .as_array()
            .expect("Code is an enum")
            .iter()
            .map(|v| v.as_str().expect("a string"))
            .collect();
        for c in ALL {
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                Value::from(c.as_str()),
                "{c:?} serializes as its code"
            );
            assert!(listed.contains(&c.as_str()), "{c:?} missing from the enum");
        }
        assert_eq!(
            listed.len(),
            ALL.len(),
            "the enum has a code not listed here"
        );
        let error = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["$ref"];
        assert_eq!(error, "#/components/schemas/Code");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_a_bearer_scheme() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        let scheme = &doc["components"]["securitySchemes"][BEARER];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
    }

    #[test]
    fn gated_operations_need_the_bearer_credential_and_open_ones_do_not() {
        let Routes {
            agents,
            people,
            browser,
            open,
        } = routes();
        for (group, gated) in [
            (agents, true),
            (people, true),
            (browser, false),
            (open, false),
        ] {
            let doc = serde_json::to_value(group.document()).unwrap();
            let paths = doc["paths"].as_object().unwrap();
            assert!(!paths.is_empty());
            for (path, item) in paths {
                for (method, op) in item.as_object().unwrap() {
                    let responses = op["responses"].as_object().unwrap();
                    assert!(
                        responses.keys().any(|s| s.starts_with('2')),
                        "{method} {path} documents no success"
                    );
                    assert_eq!(
                        op.get("security").is_some(),
                        gated,
                        "{method} {path} security"
                    );
                    assert_eq!(responses.contains_key("401"), gated, "{method} {path} 401");
                    if gated {
                        for status in ["408", "503"] {
                            assert!(responses.contains_key(status), "{method} {path} {status}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_error_status_documented_answers_with_the_error_body() {
        let doc = doc();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    if status.starts_with('2') || status.starts_with('3') || path == "/readyz" {
                        continue;
                    }
                    let schema = match r.get("$ref") {
                        Some(_) => continue, // a shared layer response, checked below
                        None => &r["content"]["application/json"]["schema"]["$ref"],
                    };
                    assert_eq!(
                        schema, "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
        }
        for (name, r) in doc["components"]["responses"].as_object().unwrap() {
            assert_eq!(
                r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                "{name}"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = doc();
        let mut seen = std::collections::BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().expect("an operation id");
                assert!(seen.insert(id.to_owned()), "{id} twice");
            }
        }
    }

    #[test]
    fn the_call_body_s_limits_are_the_pipeline_s() {
        use crate::pipeline::call::{MAX_MODEL, MAX_REASON, MAX_TOOL_NAME};
        let doc = doc();
        let native = &doc["components"]["schemas"]["NativeCall"]["properties"];
        assert_eq!(native["tool"]["maxLength"], MAX_TOOL_NAME);
        assert_eq!(native["model"]["maxLength"], MAX_MODEL);
        assert_eq!(native["reason"]["maxLength"], MAX_REASON);
        let pattern = |n: usize| format!("^[!-~]{{1,{n}}}$");
        assert_eq!(
            native["call_id"]["pattern"],
            pattern(crate::pipeline::call::MAX_CALL_ID)
        );
        assert_eq!(
            native["idempotency_key"]["pattern"],
            pattern(crate::pipeline::call::MAX_IDEMPOTENCY_KEY)
        );
    }
}
