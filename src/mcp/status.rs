//! `toolgate_action_status`: the one tool `/mcp` adds of its own, listed
//! to workflows where a call can be held for approval. It reads an action
//! the way `GET /v1/calls/{id}` does for the same agent: its status and,
//! once final, its result or error. It sees only the caller's own actions;
//! another agent's and an unknown id answer alike.
//!
//! No manifest may use the name (a config error), so the name always
//! means this tool.

use serde_json::{Value, json};

use super::result::{failed_with, redacted};
use crate::actions::{self, State};
use crate::approvals::views::{agent_view, call_answer};
use crate::config::{ApprovalWhen, RESERVED_TOOL_NAME};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::pipeline::authenticate::Agent;

/// The longest action id taken (toolgate's own are 36 characters).
const MAX_ACTION_ID: usize = 128;

/// Whether the caller's workflow lists the tool: some tool of it can be
/// held for approval.
pub(crate) fn listed(agent: &Agent<'_>) -> bool {
    agent
        .tools
        .values()
        .any(|b| !matches!(b.approval.when, ApprovalWhen::Never))
}

/// The tool as `tools/list` shows it.
pub(crate) fn tool() -> Value {
    json!({
        "name": RESERVED_TOOL_NAME,
        "title": "Action status",
        "description": "The status of a call held for a person's approval, by the action_id its \
                        pending_approval result gave, and, once decided, its result or error. \
                        Only your own calls are found.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "action_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_ACTION_ID,
                    "description": "The action_id of a held call's pending_approval result",
                },
            },
            "required": ["action_id"],
            "additionalProperties": false,
        },
        "annotations": {"readOnlyHint": true, "openWorldHint": false},
    })
}

/// A call of the tool by `agent` with `arguments` (an object).
pub(crate) async fn call(gw: &Gateway, agent: &Agent<'_>, arguments: &Value) -> Value {
    let id = match action_id(arguments) {
        Ok(id) => id,
        Err(details) => {
            return failed_with(
                "schema_violation",
                "the arguments do not fit toolgate_action_status's input schema: {\"action_id\": \"act_…\"}",
                &details,
                None,
            );
        }
    };
    let found = match actions::load(gw.store.as_ref(), id).await {
        Ok(found) => found,
        Err(e) => {
            let e = ApiError::from(e);
            return failed_with(e.code.as_str(), &e.message, &e.details, e.retry_after_secs);
        }
    };
    let Some(a) = found.filter(|a| a.agent == agent.name) else {
        return failed_with(
            "not_found",
            "no such action; use the action_id a held call of yours returned",
            &[],
            None,
        );
    };
    let view = serde_json::to_value(agent_view(&a)).unwrap_or(Value::Null);
    let view = redacted(gw, view);
    let text = view.to_string();
    match a.state {
        State::PendingApproval | State::Executing | State::Succeeded => json!({
            "content": [{"type": "text", "text": text}],
            "structuredContent": view,
            "isError": false,
        }),
        State::Failed | State::Denied | State::Expired | State::Unknown => {
            // The same code and message the call itself would have ended with.
            let (_, body) = call_answer(&a);
            let body = redacted(gw, body);
            let error = &body["error"];
            let field = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or_default();
            let details = error
                .get("details")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut result = failed_with(field("code"), field("message"), &details, None);
            result["structuredContent"] = view;
            result
        }
    }
}

/// `arguments.action_id`, or what is wrong with the arguments (JSON
/// pointers and reasons, as a schema violation's details).
fn action_id(arguments: &Value) -> Result<&str, Vec<Value>> {
    let detail = |pointer: &str, reason: &str| json!({"pointer": pointer, "reason": reason});
    let Some(args) = arguments.as_object() else {
        return Err(vec![detail("", "the arguments must be an object")]);
    };
    // A pointer token escapes `~` and `/`.
    let mut wrong: Vec<Value> = args
        .keys()
        .filter(|k| *k != "action_id")
        .map(|k| {
            let token = k.replace('~', "~0").replace('/', "~1");
            detail(&format!("/{token}"), "not an argument of this tool")
        })
        .collect();
    let id = match args.get("action_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ACTION_ID => Some(s.as_str()),
        Some(Value::String(_)) => {
            wrong.push(detail(
                "/action_id",
                "must be 1 to 128 characters, as a held call returned it",
            ));
            None
        }
        Some(_) => {
            wrong.push(detail("/action_id", "must be a string"));
            None
        }
        None => {
            wrong.push(detail("", "action_id is required"));
            None
        }
    };
    match id {
        Some(id) if wrong.is_empty() => Ok(id),
        _ => Err(wrong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_are_one_action_id() {
        assert_eq!(action_id(&json!({"action_id": "act_1"})), Ok("act_1"));
        let wrong = action_id(&json!({"action_id": 5, "x": 1})).unwrap_err();
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        assert!(action_id(&json!({})).is_err());
        assert!(action_id(&json!({"action_id": ""})).is_err());
        assert!(action_id(&json!({"action_id": "a".repeat(129)})).is_err());
        assert!(action_id(&json!([1])).is_err());
    }

    #[test]
    fn the_listed_schema_is_closed() {
        let t = tool();
        assert_eq!(t["name"], RESERVED_TOOL_NAME);
        assert_eq!(t["inputSchema"]["additionalProperties"], false);
        assert_eq!(t["inputSchema"]["required"], json!(["action_id"]));
    }
}
