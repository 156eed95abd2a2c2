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
    no_loaded_secret_in(redactor, &call.arguments)?;
    let fields = [
        Some(call.call_id.as_str()),
        call.idempotency_key.as_deref(),
        call.model.as_deref(),
        call.reason.as_deref(),
    ];
    let found = fields
        .into_iter()
        .flatten()
        .find_map(|f| redactor.known_secret_in(f.as_bytes()));
    match found {
        None => Ok(()),
        Some(credential) => Err(refused(credential)),
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

fn refused(credential: &str) -> ApiError {
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
