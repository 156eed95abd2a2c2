//! A workflow's notifications from the real binary: the signed webhook
//! carries the console link when `public_url` is set (and not otherwise),
//! `slack_webhook` posts a Block Kit message with the link and no argument
//! value, a failed Slack post is logged without its URL, and a `notify` of
//! the wrong shape does not load.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::approvals_config::{Approvers, approval_config};
use crate::support::process::{Proc, Serve, free_port};
use crate::support::upstream::{Received, Upstream};
use crate::support::{ConfigDir, canary, leaks};

/// A URL path segment no log line or payload could hold by chance.
fn token() -> String {
    canary("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

struct Rig {
    gw: Proc,
    up: Upstream,
    k: Approvers,
    dir: ConfigDir,
}

impl Rig {
    /// The approvals config (workflow `sales`, agent `bot`) with `top` keys
    /// before it and, in the workflow, the `notify` that `notify(base)`
    /// gives for the upstream at `base`, with the variables its sources
    /// read; served by the binary with trace logs.
    async fn start(top: &str, notify: impl FnOnce(&str) -> (String, Vec<(String, String)>)) -> Rig {
        let up = Upstream::start().await;
        let (notify, env) = notify(&up.base());
        let (config, tools, k) = approval_config(&up.base(), &notify);
        let dir = ConfigDir::new();
        for (rel, text) in tools {
            dir.write(&rel, &text);
        }
        dir.write("toolgate.yaml", &format!("{top}{config}"));
        let crm = canary("crm-");
        let mut serve = Serve::new(&dir.config_path(), free_port())
            .env("CRM_KEY", &crm)
            .rust_log("trace")
            .stderr_to(&dir.path().join("toolgate.log"));
        for (k, v) in &env {
            serve = serve.env(k, v);
        }
        let gw = serve.start().await;
        Rig { gw, up, k, dir }
    }

    /// Hold a `two_person` call named `name`; its action id.
    async fn hold(&self, name: &str) -> String {
        let (st, body) = self
            .gw
            .api
            .post_json(
                &self.k.agent,
                "/v1/calls",
                json!({"tool": "two_person", "arguments": {"name": name, "value_usd": 31337}}),
            )
            .await;
        assert_eq!(st, 202, "{body}");
        body["action_id"].as_str().unwrap().to_owned()
    }

    /// The first request the upstream received on `path`, waiting for it.
    async fn received(&self, path: &str) -> Received {
        for _ in 0..100 {
            if let Some(r) = self.up.requests().into_iter().find(|r| r.path == path) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nothing was posted to {path}");
    }

    /// The binary's log, once `line` is in it.
    async fn log_with(&self, line: &str) -> String {
        let path = self.dir.path().join("toolgate.log");
        for _ in 0..100 {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            if log.contains(line) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the log never said {line:?}");
    }
}

fn json_of(r: &Received) -> Value {
    assert_eq!(r.method, "POST");
    assert_eq!(r.headers["content-type"], "application/json");
    serde_json::from_slice(&r.body).unwrap()
}

const BOTH: &str = "    notify: { webhook: \"{hook}\", secret: { env: HOOK_SECRET }, slack_webhook: { env: SLACK_WEBHOOK } }\n";

fn both(hook: &str, slack: &str) -> (String, Vec<(String, String)>) {
    (
        BOTH.replace("{hook}", hook),
        vec![
            ("HOOK_SECRET".to_owned(), canary("hook-")),
            ("SLACK_WEBHOOK".to_owned(), slack.to_owned()),
        ],
    )
}

#[tokio::test]
async fn a_pending_action_reaches_slack_and_the_webhook_with_its_console_link() {
    let secret_part = token();
    let slack_path = format!("/echo/services/T0/B0/{secret_part}");
    let mut slack_url = String::new();
    let rig = Rig::start(
        "public_url: https://toolgate.example.test/gate/\n",
        |base| {
            slack_url = format!("{base}{slack_path}");
            both(&format!("{base}/echo/hook"), &slack_url)
        },
    )
    .await;
    let name = format!("n{}", &token()[..12]);
    let id = rig.hold(&name).await;
    let link = format!("https://toolgate.example.test/gate/ui/actions/{id}");

    let hook = rig.received("/echo/hook").await;
    let payload = json_of(&hook);
    assert_eq!(payload["event"], "action.pending");
    assert_eq!(payload["action_id"], id.as_str());
    assert_eq!(payload["console_url"], link.as_str());

    let slack = rig.received(&slack_path).await;
    assert!(slack.headers.get("x-toolgate-signature").is_none());
    let message = json_of(&slack);
    let text = message["text"].as_str().unwrap();
    for part in [
        "two_person",
        "bot",
        "sales",
        "needs 2 approvals",
        link.as_str(),
    ] {
        assert!(text.contains(part), "{part} missing from {text}");
    }
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let fields = blocks[1]["fields"].to_string();
    for part in [
        "*Tool*",
        "two_person",
        "*Agent*",
        "bot",
        "*Workflow*",
        "sales",
        "needs 2 approvals",
    ] {
        assert!(fields.contains(part), "{part} missing from {fields}");
    }
    let summary = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(summary.contains("POST to 127.0.0.1"), "{summary}");
    let button = &blocks.last().unwrap()["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["url"], link.as_str());
    // No argument value reaches Slack: not the name, not the amount.
    let raw = String::from_utf8_lossy(&slack.body);
    assert!(!raw.contains(&name) && !raw.contains("31337"), "{raw}");

    // The Slack URL is a secret: in no payload and no log line.
    assert!(!leaks(&String::from_utf8_lossy(&hook.body), &secret_part));
    let log = rig.log_with(&id).await;
    assert!(!leaks(&log, &secret_part), "the Slack URL reached the log");
    assert!(!leaks(&log, &slack_url));
}

#[tokio::test]
async fn without_public_url_no_link_and_a_failed_slack_post_logs_no_url() {
    let secret_part = token();
    // Nothing listens here: the post fails, and says so without its URL.
    let slack_url = format!(
        "http://127.0.0.1:{}/services/T0/B0/{secret_part}",
        free_port()
    );
    let rig = Rig::start("", |base| both(&format!("{base}/echo/hook"), &slack_url)).await;
    let id = rig.hold("Ping").await;
    let payload = json_of(&rig.received("/echo/hook").await);
    assert_eq!(payload["action_id"], id.as_str());
    assert!(payload.get("console_url").is_none(), "{payload}");
    let log = rig.log_with("notification failed").await;
    assert!(log.contains("slack"), "{log}");
    assert!(!leaks(&log, &secret_part), "the Slack URL reached the log");
}

#[tokio::test]
async fn a_console_turned_off_is_not_linked() {
    let rig = Rig::start(
        "public_url: https://toolgate.example.test\nui: { enabled: false }\n",
        |base| both(&format!("{base}/echo/hook"), &format!("{base}/echo/slack")),
    )
    .await;
    rig.hold("Ping").await;
    let payload = json_of(&rig.received("/echo/hook").await);
    assert!(payload.get("console_url").is_none(), "{payload}");
    let message = json_of(&rig.received("/echo/slack").await);
    assert!(!message.to_string().contains("/ui/actions/"), "{message}");
}

#[test]
fn notify_of_the_wrong_shape_does_not_load() {
    let dir = ConfigDir::new();
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    let problems = |notify: &str| {
        dir.write(
            "toolgate.yaml",
            &format!("environment: test\nworkflows:\n  main:\n    environment: test\n    notify: {notify}\n"),
        );
        crate::config::messages(&dir).join("\n")
    };
    for (notify, says) in [
        (
            "{ webhook: \"https://hooks.example.com/x\" }",
            "notify: missing required key \"secret\"",
        ),
        (
            "{ secret: { env: HOOK_SECRET } }",
            "notify: missing required key \"webhook\"",
        ),
        ("{}", "notify needs webhook (with secret), slack_webhook"),
        (
            "{ slack_webhook: \"https://hooks.example.com/x\" }",
            "notify.slack_webhook: wrong type: expected object",
        ),
        (
            "{ slack_webhook: { vault: { path: kv/slack, field: url } } }",
            "a vault source outside credentials",
        ),
        (
            "{ slack_webhook: { env: SLACK }, slack: true }",
            "unknown key \"slack\"",
        ),
    ] {
        let msgs = problems(notify);
        assert!(msgs.contains(says), "{notify}: {msgs}");
    }
    // Every problem at once.
    let msgs = problems(
        "{ webhook: \"ftp://hooks.example.com/x\", secret: { env: S }, slack_webhook: { vault: { path: kv/slack, field: url } } }",
    );
    assert!(
        msgs.contains("notify.webhook: the webhook must be an http(s) URL")
            && msgs.contains("notify.slack_webhook.vault: a vault source outside credentials"),
        "{msgs}"
    );
    assert_eq!(problems("{ slack_webhook: { env: SLACK } }"), "");
    assert_eq!(
        problems(
            "{ webhook: \"https://hooks.example.com/x\", secret: { env: S }, slack_webhook: { file: slack.url } }"
        ),
        ""
    );
}
