//! Stage 8, run — credential: resolve the credential bound to the tool's
//! slot and attach it.
//!
//! The value is read from its source (re-read when it changed) and attached
//! in the manifest's form: a header with a format, Basic auth, or a query
//! parameter. Header values are marked sensitive so no HTTP layer logs them.

use std::sync::Arc;

use http::HeaderValue;
use secrecy::ExposeSecret;

use crate::catalog::ToolBinding;
use crate::config::{CredentialDef, Inject};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::request::UpstreamRequest;
use crate::secrets::{CredentialError, Loaded, basic_header};

pub(crate) async fn attach(
    gw: &Gateway,
    binding: &ToolBinding,
    req: &mut UpstreamRequest,
    trail: &mut super::audit::Trail<'_>,
) -> Result<(), ApiError> {
    let Some(def) = &binding.credential else {
        return Ok(());
    };
    if gw
        .revocations
        .is_active(&crate::revocations::credential_key(&def.name))
    {
        return Err(ApiError::new(
            Code::CredentialUnavailable,
            "the credential for this tool has been disabled by an operator; the call was not made",
        ));
    }
    let loaded = gw
        .credentials
        .current_for(&def.name, trail.agent_name(), trail.subject.as_deref())
        .await?;
    trail.credential(&def.name, &loaded);
    inject(def, &loaded, req)?;
    Ok(())
}

pub(crate) fn inject(
    def: &Arc<CredentialDef>,
    loaded: &Loaded,
    req: &mut UpstreamRequest,
) -> Result<(), ApiError> {
    let bad_value = || {
        ApiError::from(CredentialError::Unavailable {
            name: def.name.clone(),
            reason: "its value cannot be sent in a header (control characters)".into(),
        })
    };
    match &def.inject {
        Inject::Header {
            name,
            prefix,
            suffix,
        } => {
            let text = format!("{prefix}{}{suffix}", loaded.value.expose_secret());
            let mut value = HeaderValue::from_str(&text).map_err(|_| bad_value())?;
            value.set_sensitive(true);
            req.headers.insert(name.clone(), value);
        }
        Inject::Basic { username } => {
            let secret = basic_header(username, &loaded.value);
            let mut value =
                HeaderValue::from_str(secret.expose_secret()).map_err(|_| bad_value())?;
            value.set_sensitive(true);
            req.headers.insert(http::header::AUTHORIZATION, value);
        }
        Inject::Query { param } => {
            req.url
                .query_pairs_mut()
                .append_pair(param, loaded.value.expose_secret());
        }
        // Config lets no workflow bind a canary; were one bound, it still
        // would not leave.
        Inject::Never => {
            return Err(ApiError::internal(format!(
                "canary {} is bound to a tool; it is never sent",
                def.name
            )));
        }
    }
    Ok(())
}
