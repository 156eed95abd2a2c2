//! The access review page (admins only): what `GET
//! /v1/admin/access-review` answers ([`operator::access_review`]) — per
//! agent the scopes and tools granted against those used, per credential
//! its age, use and the scopes no bound tool needs — over a period chosen
//! with a plain GET form (`?since=90d`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::admin::signed_in_admin;
use super::pages::page;
use super::templates::Page;
use crate::gateway::Gateway;
use crate::operator;

/// The periods the form offers; any other duration works in the URL too.
const PERIODS: [&str; 4] = ["7d", "30d", "90d", "365d"];

pub(super) async fn review(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match signed_in_admin(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let since = parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "since")
            .map(|(_, v)| v.trim().to_owned())
    });
    let since = since.filter(|s| !s.is_empty());
    let review = match operator::access_review(&gw, since.as_deref()).await {
        Ok(r) => r,
        Err(e) => return Page::from_error(&e, Some(p.name())).into_response(),
    };
    let over_privileged = review
        .credentials
        .iter()
        .filter(|c| !c.over_privileged.is_empty())
        .count();
    let ctx = json!({
        "review": review,
        "since": since.as_deref().unwrap_or("90d"),
        "periods": PERIODS,
        "over_privileged": over_privileged,
    });
    page(StatusCode::OK, "access_review.html", &p, ctx).into_response()
}
