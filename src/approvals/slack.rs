//! The Slack messages of `notify.slack_webhook`, in Block Kit: who asks for
//! what, where it goes, and a link to the console — never an argument's value
//! (the approver reads those in the console, where they are flagged).

use serde_json::{Value, json};

use crate::actions::Action;

/// `text` as Slack's `mrkdwn` reads it literally (`&`, `<`, `>` escaped).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", escape(value))})
}

/// An action of `a.workflow` is waiting; `link` opens it in the console.
pub(super) fn pending(a: &Action, expires_at: Option<&str>, link: Option<&str>) -> Value {
    // The host comes from the manifest alone; the path and query may hold arguments.
    let host = url::Url::parse(&a.request.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "its upstream".to_owned());
    let mut summary = format!(
        "{} asks to run {}: {} to {}, held for approval",
        escape(&a.agent),
        escape(&a.tool),
        escape(&a.request.method),
        escape(&host),
    );
    if let Some(at) = expires_at {
        summary.push_str(&format!(" until {}", escape(at)));
    }
    summary.push('.');
    let mut fields = vec![
        field("Tool", &a.tool),
        field("Agent", &a.agent),
        field("Workflow", &a.workflow),
    ];
    if a.approvals_required >= 2 {
        fields.push(field(
            "Approvals",
            &format!("needs {} approvals", a.approvals_required),
        ));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("Approval needed: {}", a.tool)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": summary}, "fields": fields}),
    ];
    let mut text = format!(
        "Approval needed: {} by {} ({})",
        escape(&a.tool),
        escape(&a.agent),
        escape(&a.workflow)
    );
    if a.approvals_required >= 2 {
        text.push_str(&format!(", needs {} approvals", a.approvals_required));
    }
    if let Some(link) = link {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Review in the console"},
            "url": link,
            "style": "primary",
        }]}));
        text.push_str(&format!(": <{link}|review in the console>"));
    }
    json!({"text": text, "blocks": blocks})
}

/// An agent of the workflow was quarantined: `credential`, a canary, was seen in `seen_in`.
pub(crate) fn quarantined(agent: &str, workflow: &str, credential: &str, seen_in: &str) -> Value {
    let text = format!(
        "Agent {} of {} quarantined: canary credential {} seen in {}. An admin lets it back in.",
        escape(agent),
        escape(workflow),
        escape(credential),
        escape(seen_in),
    );
    json!({
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": format!("Agent quarantined: {agent}")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}, "fields": [
                field("Agent", agent),
                field("Workflow", workflow),
                field("Canary", credential),
            ]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::{escape, quarantined};

    #[test]
    fn mrkdwn_control_characters_are_escaped() {
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }

    #[test]
    fn a_quarantine_names_the_agent_the_workflow_and_the_canary() {
        let m = quarantined("bot", "sales", "decoy", "arguments");
        let text = m["text"].as_str().unwrap();
        assert!(
            text.contains(
                "Agent bot of sales quarantined: canary credential decoy seen in arguments"
            )
        );
        assert_eq!(m["blocks"][0]["text"]["text"], "Agent quarantined: bot");
        assert_eq!(m["blocks"][1]["fields"].as_array().unwrap().len(), 3);
    }
}
