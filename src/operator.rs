//! What an admin does, through either front door (the admin API, the web
//! console): a credential's kill switch and a reload from its source, an
//! agent revoked or let back from quarantine — each announced to the other
//! replicas and recorded (with how the admin acted, `admin_via`); a step
//! that cannot be recorded is reported as failed. And what an admin reads:
//! the access review and the check of the gateway's own trail.

use crate::audit::{Entry, Event};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Acting;
use std::sync::Arc;
use std::time::SystemTime;

use crate::access_review::AccessReview;
use crate::approvals::revoked::{self, Withdrawn};
use crate::audit::checkpoint::Checkpoint;
use crate::audit::verify::{self, Report};
use crate::revocations::{self, switch};

/// Audit an admin's step; if it cannot be recorded it is not reported as done.
pub(crate) async fn record(
    gw: &Gateway,
    event: Event,
    admin: &Acting<'_>,
    target: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let mut entry = Entry::new(event);
    entry.environment = Some(gw.config.environment.clone());
    entry.admin = Some(admin.name.to_owned());
    (entry.admin_via, entry.admin_sign_in) = crate::identity::Via::fields(admin.via);
    entry.target = Some(target.to_owned());
    if !reason.is_empty() {
        entry.reason = Some(gw.redactor.load().redact_str(reason).0.into_owned());
    }
    gw.audit
        .append(entry)
        .await
        .map(|_| ())
        .map_err(ApiError::from)
}

pub(crate) fn unknown_credential() -> ApiError {
    ApiError::new(Code::NotFound, "no credential by that name")
}

/// The credential kill switch: on (`disable`) or off, here, in the store, in the trail.
pub(crate) async fn switch_credential(
    gw: &Gateway,
    admin: &Acting<'_>,
    name: &str,
    why: &str,
    disable: bool,
) -> Result<(), ApiError> {
    if !gw.credentials.exists(name) {
        return Err(unknown_credential());
    }
    let key = revocations::credential_key(name);
    let stored = if disable {
        gw.revocations
            .set(gw.store.as_ref(), &key, &switch(admin.name, why))
            .await
    } else {
        gw.revocations.clear(gw.store.as_ref(), &key).await
    };
    stored.map_err(ApiError::from)?;
    crate::events::publish(gw, &crate::bus::Signal::Switches).await;
    let event = if disable {
        Event::AdminDisable
    } else {
        Event::AdminEnable
    };
    record(gw, event, admin, &format!("credential/{name}"), why).await?;
    tracing::warn!(admin = %admin.name, credential = %name, reason = %why, disable, "credential kill switch");
    Ok(())
}

/// Read a credential again from its source, here and on every replica;
/// the version now in use.
pub(crate) async fn reload_credential(
    gw: &Gateway,
    admin: &Acting<'_>,
    name: &str,
    why: &str,
) -> Result<u64, ApiError> {
    if !gw.credentials.exists(name) {
        return Err(unknown_credential());
    }
    let asked = crate::store::now_ms();
    let version = gw
        .credentials
        .reload_since(name, asked)
        .await
        .map_err(|e| {
            ApiError::new(
                Code::CredentialUnavailable,
                "the credential's source cannot be read now",
            )
            .with_internal(e.to_string())
        })?;
    crate::events::reloaded(gw, name, asked)
        .await
        .map_err(ApiError::from)?;
    record(
        gw,
        Event::AdminReload,
        admin,
        &format!("credential/{name}"),
        why,
    )
    .await?;
    tracing::warn!(admin = %admin.name, credential = %name, version, "credential reloaded");
    Ok(version)
}

fn unknown_agent() -> ApiError {
    ApiError::new(Code::NotFound, "no agent by that name")
}

/// Revoke an agent's key and every session it minted, here and on every
/// replica; its pending actions are denied and its idempotency keys forgotten.
pub(crate) async fn revoke_agent(
    gw: &Gateway,
    admin: &Acting<'_>,
    name: &str,
    why: &str,
) -> Result<Withdrawn, ApiError> {
    let key = gw.identities.agent_key(name).ok_or_else(unknown_agent)?;
    gw.revocations
        .set(
            gw.store.as_ref(),
            &revocations::agent_key(name, &key),
            &switch(admin.name, why),
        )
        .await
        .map_err(ApiError::from)?;
    crate::events::publish(gw, &crate::bus::Signal::Switches).await;
    record(gw, Event::AdminRevoke, admin, &format!("agent/{name}"), why).await?;
    let withdrawn =
        revoked::withdraw(gw, name, revoked::By::Admin(admin.name), revoked::REASON).await?;
    tracing::warn!(
        admin = %admin.name,
        agent = %name,
        reason = %why,
        denied = withdrawn.denied,
        "agent revoked with all its sessions; its pending actions denied"
    );
    Ok(withdrawn)
}

/// Whether an agent's configured key is revoked.
pub(crate) fn agent_revoked(gw: &Gateway, name: &str) -> bool {
    gw.identities.agent_key(name).is_some_and(|key| {
        gw.revocations
            .is_active(&revocations::agent_key(name, &key))
    })
}

/// Let an agent quarantined by a canary sighting call again (a revoked
/// key stays revoked).
pub(crate) async fn release_agent(
    gw: &Gateway,
    admin: &Acting<'_>,
    name: &str,
    why: &str,
) -> Result<(), ApiError> {
    if gw.identities.agent_key(name).is_none() {
        return Err(unknown_agent());
    }
    if !gw.agent_quarantined(name) {
        return Err(ApiError::new(
            Code::Conflict,
            "this agent is not quarantined",
        ));
    }
    gw.revocations
        .clear(gw.store.as_ref(), &revocations::quarantine_key(name))
        .await
        .map_err(ApiError::from)?;
    crate::events::publish(gw, &crate::bus::Signal::Switches).await;
    record(
        gw,
        Event::AdminRelease,
        admin,
        &format!("agent/{name}"),
        why,
    )
    .await?;
    tracing::warn!(admin = %admin.name, agent = %name, reason = %why, "quarantined agent released");
    Ok(())
}

/// The access review of the gateway's own trail over the last `since`
/// (a duration such as `90d`; default `90d`), what
/// `GET /v1/admin/access-review` answers.
pub(crate) async fn access_review(
    gw: &Arc<Gateway>,
    since: Option<&str>,
) -> Result<AccessReview, ApiError> {
    let since = humantime::parse_duration(since.unwrap_or("90d"))
        .map_err(|_| ApiError::bad_request("since takes a duration such as 90d or 12h"))?;
    let g = gw.clone();
    tokio::task::spawn_blocking(move || {
        crate::access_review::review_configured(&g.config, &g.catalog, since, SystemTime::now())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| {
        ApiError::new(Code::AuditUnavailable, "the audit trail cannot be read now").with_internal(e)
    })
}

/// The gateway's own trail (with per-replica chains, this replica's chain)
/// checked as `toolgate audit verify` checks it —
/// under the chain's key when `audit.hmac_key` is set, against every
/// checkpoint kept and, with a signing key, their signatures — with the
/// checkpoints it was checked against.
pub(crate) async fn verify_trail(gw: &Arc<Gateway>) -> Result<(Report, Vec<Checkpoint>), ApiError> {
    let checkpoints = gw.audit.checkpoints().await.map_err(ApiError::from)?;
    let g = gw.clone();
    let marks = checkpoints.clone();
    let report = tokio::task::spawn_blocking(move || {
        let key = g
            .config
            .audit
            .hmac_key
            .as_ref()
            .map(|_| g.audit_key.clone());
        let key = key.as_deref();
        let public = g
            .audit_signer
            .as_ref()
            .map(|k| hex::encode(k.verifying_key().to_bytes()));
        let public = public.as_deref().filter(|_| !marks.is_empty());
        if !g.config.audit.redis {
            let trail = std::slice::from_ref(&g.config.audit.path);
            return Ok(verify::verify_with(trail, key, &marks, public));
        }
        // This replica's chain: the one whose head and checkpoints it keeps.
        let trail = crate::access_review::open_redis_trail(&g.config)?;
        let env = &g.config.environment;
        Ok(match &g.audit_chain {
            None => {
                let label = std::path::PathBuf::from(format!("redis:{env}"));
                verify::verify_reader(&label, trail.reader(None), key, &marks, public)
            }
            Some(name) => {
                let label = std::path::PathBuf::from(format!("redis:{env}/{name}"));
                let reader = trail.reader(Some(name));
                verify::verify_chain(&label, reader, name, key, &marks, public)
            }
        })
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e: String| {
        ApiError::new(Code::AuditUnavailable, "the audit trail cannot be read now").with_internal(e)
    })?;
    Ok((report, checkpoints))
}
