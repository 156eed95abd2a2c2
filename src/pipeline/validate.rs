//! Stage 3 — validate: no secret toolgate holds may ride in the call
//! (`secret_in_arguments`), then the arguments against the tool schema and
//! the workflow overlay.
//!
//! Every violation is reported with the JSON pointer of the offending value
//! and a reason the model can act on; values themselves are not echoed.

use serde_json::{Value, json};

use super::call::CallRequest;
use crate::catalog::ToolBinding;
use crate::error::{ApiError, Code};
use crate::redact::Redactor;

/// At most this many violations are listed in one answer.
const MAX_DETAILS: usize = 50;

/// Refuse a call that carries a secret toolgate holds — in its arguments or
/// in what the caller says of it — in any form the redactor knows: a model
/// that has seen a credential must not pass it on to another upstream. The
/// answer does not name or echo the value; the log names the credential.
pub(crate) fn no_loaded_secret(redactor: &Redactor, call: &CallRequest) -> Result<(), ApiError> {
    match scan(call, |b| redactor.known_secret_in(b))? {
        None => Ok(()),
        Some(credential) => Err(refused(credential)),
    }
}

/// A canary's name, if the call holds its value in any field the caller
/// wrote. The caller is then refused as for any loaded secret
/// ([`no_loaded_secret`]): nothing tells it the value was a decoy.
pub(crate) fn canary_in<'r>(
    redactor: &'r Redactor,
    call: &CallRequest,
) -> Result<Option<&'r str>, ApiError> {
    if !redactor.has_canaries() {
        return Ok(None);
    }
    scan(call, |b| redactor.canary_in(b))
}

/// The first name `find` gives for the arguments or the caller's fields.
fn scan<'r>(
    call: &CallRequest,
    find: impl Fn(&[u8]) -> Option<&'r str>,
) -> Result<Option<&'r str>, ApiError> {
    // Unscanned arguments are never passed on.
    let bytes = serde_json::to_vec(&call.arguments)
        .map_err(|e| ApiError::internal(format!("cannot scan the arguments: {e}")))?;
    let fields = [
        Some(call.call_id.as_str()),
        call.idempotency_key.as_deref(),
        call.model.as_deref(),
        call.reason.as_deref(),
        Some(call.tool.as_str()),
    ];
    Ok(find(&bytes).or_else(|| {
        fields
            .into_iter()
            .flatten()
            .find_map(|f| find(f.as_bytes()))
    }))
}

/// With `inbound.refuse_token_shapes`, arguments holding text shaped like
/// a token (any detector) are refused as a loaded secret would be: a model
/// may have picked up a credential toolgate never loaded. The answer names
/// the detector, never the text.
pub(crate) fn no_token_shape(
    redactor: &Redactor,
    binding: &ToolBinding,
    args: &Value,
) -> Result<(), ApiError> {
    if !binding.tool.refuse_token_shapes {
        return Ok(());
    }
    let bytes = serde_json::to_vec(args)
        .map_err(|e| ApiError::internal(format!("cannot scan the arguments: {e}")))?;
    match redactor.token_shapes(&bytes).first() {
        None => Ok(()),
        Some(detector) => Err(ApiError::new(
            Code::SecretInArguments,
            format!(
                "the arguments hold text shaped like a token ({detector}); this tool refuses them. \
                 Do not pass credentials as arguments: toolgate attaches them itself"
            ),
        )),
    }
}

/// The same guard for arguments alone (an approver's edit).
pub(crate) fn no_loaded_secret_in(redactor: &Redactor, args: &Value) -> Result<(), ApiError> {
    // Unscanned arguments are never passed on.
    let bytes = serde_json::to_vec(args)
        .map_err(|e| ApiError::internal(format!("cannot scan the arguments: {e}")))?;
    match redactor.known_secret_in(&bytes) {
        None => Ok(()),
        Some(credential) => Err(refused(credential)),
    }
}

pub(crate) fn refused(credential: &str) -> ApiError {
    ApiError::new(
        Code::SecretInArguments,
        "the call holds a value this gateway keeps as a secret; nothing was sent. \
         Do not pass credentials as arguments: toolgate attaches them itself",
    )
    .with_internal(format!(
        "a loaded secret ({credential}) was found in the call"
    ))
}

pub(crate) fn arguments(binding: &ToolBinding, args: &Value) -> Result<(), ApiError> {
    if !args.is_object() {
        return Err(ApiError::bad_request("arguments must be a JSON object"));
    }
    let details: Vec<Value> = binding
        .validator
        .iter_errors(args)
        .take(MAX_DETAILS)
        .map(|e| {
            json!({
                "pointer": e.instance_path().as_str(),
                "reason": e.masked_with("the value").to_string(),
            })
        })
        .collect();
    if details.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        Code::SchemaViolation,
        format!(
            "the arguments do not match the schema of {} ({} problem(s))",
            binding.tool.name,
            details.len()
        ),
    )
    .with_details(details))
}
