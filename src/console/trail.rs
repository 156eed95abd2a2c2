//! The audit trail page (admins only): the trail's head (seq, hash), the
//! last signed checkpoint, and **Verify now**, which checks the gateway's
//! own trail (file or Redis) with the chain check of `toolgate audit
//! verify` ([`operator::verify_trail`]) and shows it intact, or the first
//! bad record: its seq, where it is, and the kind of problem — never a
//! record's contents.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::admin::{admin, signed_in_admin};
use super::csrf;
use super::pages::page;
use super::session::Person;
use super::templates::Page;
use crate::audit::checkpoint::Checkpoint;
use crate::gateway::Gateway;
use crate::operator;

/// The page's facts: the head, the last checkpoint, how the trail is kept.
async fn facts(
    gw: &Gateway,
    p: &Person,
    checkpoints: Option<Vec<Checkpoint>>,
) -> Result<Value, Page> {
    let head = gw
        .audit
        .head()
        .await
        .map_err(|e| Page::from_error(&e.into(), Some(p.name())))?;
    let checkpoints = match checkpoints {
        Some(c) => c,
        None => gw
            .audit
            .checkpoints()
            .await
            .map_err(|e| Page::from_error(&e.into(), Some(p.name())))?,
    };
    let kept = if gw.config.audit.redis {
        format!("Redis stream of environment {}", gw.config.environment)
    } else {
        gw.config.audit.path.display().to_string()
    };
    Ok(json!({
        "head": { "seq": head.seq, "hash": head.hash },
        "checkpoint": checkpoints.last(),
        "checkpoints": checkpoints.len(),
        "signing": gw.audit_signer.is_some(),
        "keyed": gw.config.audit.hmac_key.is_some(),
        "kept": kept,
    }))
}

pub(super) async fn trail(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match signed_in_admin(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match facts(&gw, &p, None).await {
        Ok(ctx) => page(StatusCode::OK, "audit.html", &p, ctx).into_response(),
        Err(page) => page.into_response(),
    }
}

/// `POST /ui/audit/verify`: check the trail now and show the result.
pub(super) async fn verify(State(gw): State<Arc<Gateway>>, parts: Parts, body: Bytes) -> Response {
    let (p, _) = match csrf::posted(&gw, &parts, &body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    if admin(&p).is_none() {
        return Page::not_found(Some(p.name())).into_response();
    }
    let (report, checkpoints) = match operator::verify_trail(&gw).await {
        Ok(done) => done,
        Err(e) => return Page::from_error(&e, Some(p.name())).into_response(),
    };
    let mut ctx = match facts(&gw, &p, Some(checkpoints)).await {
        Ok(ctx) => ctx,
        Err(page) => return page.into_response(),
    };
    // What the report says: counts, seqs, where and the kind of problem;
    // its message names records by number only.
    ctx["verified"] = json!({
        "intact": report.intact(),
        "records": report.records,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "problem": report.problem.as_ref().map(|pr| json!({
            "kind": pr.kind,
            "seq": pr.seq,
            "file": pr.file.display().to_string(),
            "line": pr.line,
            "message": pr.message,
        })),
    });
    tracing::info!(admin = %p.name(), intact = report.intact(), records = report.records, "audit trail verified from the console");
    page(StatusCode::OK, "audit.html", &p, ctx).into_response()
}
