//! The audit trail of one call: what it did, written durably before anyone
//! hears of it (by stages 7, 8 and 9).
//!
//! A `Trail` follows one call (or one action) and collects what is known as
//! the stages run — agent, workflow, tool, the arguments' hash and masked
//! arguments, the credential's name and fingerprint. `executing` is written
//! before the upstream is contacted and `executed`/`failed` before the caller
//! is answered; a refusal before anything was sent is `call_denied`. If a
//! record cannot be written the caller gets `503 audit_unavailable`, and when
//! that happens before `executing`, nothing is sent upstream.

use std::sync::Arc;

use serde_json::Value;

use crate::audit::{Entry, Event, Receipt, chain};
use crate::catalog::ToolBinding;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::redact::JsonOptions;
use crate::secrets::Loaded;

/// The longest texts a caller may send with a call, in bytes. A longer one
/// is refused (`bad_request`); what the trail records of them is redacted
/// and never longer.
pub(crate) const MAX_TOOL_NAME: usize = 128;
pub(crate) const MAX_CALL_ID: usize = 128;
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 200;
pub(crate) const MAX_MODEL: usize = 200;
pub(crate) const MAX_REASON: usize = 2000;

/// How far a failed run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reached {
    /// Refused before `executing` was recorded: a `call_denied` record.
    Nothing,
    /// `executing` recorded, but nothing left toolgate: a `failed` record,
    /// and the item can be tried again.
    Executing,
    /// The request may have reached the upstream: a `failed` record, and the
    /// item is never sent again.
    Upstream,
}

pub(crate) struct Trail<'g> {
    gw: &'g Gateway,
    base: Entry,
    /// The end user a session acts for (selects per-subject credentials).
    pub subject: Option<String>,
}

impl std::fmt::Debug for Trail<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl<'g> Trail<'g> {
    pub(crate) fn new(gw: &'g Gateway) -> Trail<'g> {
        Trail {
            gw,
            base: Entry {
                environment: Some(gw.config.environment.clone()),
                ..Entry::default()
            },
            subject: None,
        }
    }

    /// What is known about the call so far.
    pub(crate) fn entry(&self) -> &Entry {
        &self.base
    }

    /// A trail for a kept action (approvals, sweeps).
    pub(crate) fn for_action(gw: &'g Gateway, a: &crate::actions::Action) -> Trail<'g> {
        let mut t = Trail::new(gw);
        t.call(&a.call_id, None, None);
        t.agent(&a.agent, &a.workflow);
        t.tool(&a.tool);
        t.action(&a.id);
        t.request(&a.request.sha256);
        t.subject = a.subject.clone();
        if let Some(via) = &a.via {
            t.via(via, a.mcp_session_sha256.as_deref());
        }
        match gw.binding(&a.workflow, &a.tool) {
            Some(b) => t.arguments(b, &a.arguments, &a.args_sha256),
            None => t.base.args_sha256 = Some(a.args_sha256.clone()),
        }
        t
    }

    /// What the caller said of the call, redacted and capped (the parsers
    /// refuse longer texts; this holds for every way into the trail).
    pub(crate) fn call(&mut self, call_id: &str, model: Option<&str>, reason: Option<&str>) {
        self.base.call_id = Some(self.caller_text(call_id, MAX_CALL_ID));
        self.base.model = model.map(|m| self.caller_text(m, MAX_MODEL));
        self.base.orchestrator_reason = reason.map(|r| self.caller_text(r, MAX_REASON));
    }

    /// A text a caller chose, as the trail keeps it: redacted, then cut to
    /// `max` bytes (at a character boundary).
    fn caller_text(&self, text: &str, max: usize) -> String {
        let redacted = self.gw.redactor.load().redact_str(text).0.into_owned();
        truncated(redacted, max)
    }

    /// The agent the records name, once known.
    pub(crate) fn agent_name(&self) -> Option<&str> {
        self.base.agent.as_deref()
    }

    pub(crate) fn agent(&mut self, agent: &str, workflow: &str) {
        self.base.agent = Some(agent.to_owned());
        self.base.workflow = Some(workflow.to_owned());
    }

    /// The tool's name as the caller gave it (redacted and capped: an
    /// unknown name is the caller's text).
    pub(crate) fn tool(&mut self, tool: &str) {
        self.base.tool = Some(self.caller_text(tool, MAX_TOOL_NAME));
    }

    pub(crate) fn action(&mut self, action_id: &str) {
        self.base.action_id = Some(action_id.to_owned());
    }

    /// The arguments: their hash, and a copy with sensitive fields as keyed
    /// HMACs and any loaded secret redacted.
    pub(crate) fn arguments(&mut self, binding: &ToolBinding, args: &Value, args_sha256: &str) {
        let mut masked = chain::mask(args, &binding.tool.sensitive_args, &self.gw.audit_key);
        self.gw
            .redactor
            .load()
            .redact_json(&mut masked, &JsonOptions::default());
        self.base.arguments = Some(masked);
        self.base.args_sha256 = Some(args_sha256.to_owned());
    }

    /// The front door, for a call that did not come over REST, and the
    /// hashed id of the MCP session it came in.
    pub(crate) fn via(&mut self, via: &str, mcp_session_sha256: Option<&str>) {
        self.base.via = Some(via.to_owned());
        self.base.mcp_session_sha256 = mcp_session_sha256.map(str::to_owned);
    }

    pub(crate) fn request(&mut self, request_sha256: &str) {
        self.base.request_sha256 = Some(request_sha256.to_owned());
    }

    /// How long the upstream took (on the outcome record).
    pub(crate) fn latency(&mut self, ms: f64) {
        self.base.latency_ms = Some(ms);
    }

    pub(crate) fn credential(&mut self, name: &str, loaded: &Arc<Loaded>) {
        self.base.credential = Some(name.to_owned());
        self.base.credential_fingerprint =
            Some(self.gw.fingerprints.of(name, loaded, &self.gw.audit_key));
    }

    /// Write one record: the collected fields plus what `fill` adds.
    pub(crate) async fn record(
        &self,
        event: Event,
        fill: impl FnOnce(&mut Entry),
    ) -> Result<Receipt, ApiError> {
        let mut entry = self.base.clone();
        entry.event = Some(event);
        fill(&mut entry);
        if let Some(r) = entry.reason.take() {
            entry.reason = Some(self.gw.redactor.load().redact_str(&r).0.into_owned());
        }
        let decided = match event {
            Event::Approved => Some("approved"),
            Event::Denied => Some("denied"),
            Event::Expired => Some("expired"),
            _ => None,
        }
        .zip(entry.workflow.clone());
        let receipt = self.gw.audit.append(entry).await?;
        // A decision counts once it is in the trail (`toolgate_approvals_total`).
        if let Some((decision, workflow)) = decided
            && self.gw.config.workflows.contains_key(&workflow)
        {
            self.gw.metrics.approval(&workflow, decision);
        }
        Ok(receipt)
    }

    /// The record of a call that did not succeed: `call_denied` when it
    /// stopped before `executing` was recorded, else `failed`.
    pub(crate) async fn outcome(
        &self,
        e: &ApiError,
        reached: Reached,
    ) -> Result<Receipt, ApiError> {
        let (event, decision) = match reached {
            Reached::Nothing => (Event::CallDenied, "refused"),
            Reached::Executing | Reached::Upstream => (Event::Failed, "failed"),
        };
        let status = e.upstream_status();
        self.record(event, |en| {
            en.decision = Some(decision.into());
            en.code = Some(e.code.as_str().to_owned());
            en.upstream_status = status;
        })
        .await
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncated(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_text_is_cut_at_a_character_boundary() {
        assert_eq!(truncated("abcdef".into(), 4), "abcd");
        assert_eq!(truncated("ab".into(), 4), "ab");
        // "é" is two bytes: cutting inside it keeps the whole character out.
        assert_eq!(truncated("aéb".into(), 2), "a");
    }
}
