//! Stage 3 — validate the arguments against the tool schema and the
//! workflow overlay.
//!
//! Every violation is reported with the JSON pointer of the offending value
//! and a reason the model can act on; values themselves are not echoed.

use serde_json::{Value, json};

use crate::catalog::ToolBinding;
use crate::error::{ApiError, Code};

/// At most this many violations are listed in one answer.
const MAX_DETAILS: usize = 50;

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
