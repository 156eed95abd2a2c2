//! What an admin does to a credential, through either front door (the
//! admin API, the web console): the kill switch and a reload from its
//! source, each announced to the other replicas and recorded (with how the
//! admin acted, `admin_via`); a step that cannot be recorded is reported
//! as failed.

use crate::audit::{Entry, Event};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Acting;
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
