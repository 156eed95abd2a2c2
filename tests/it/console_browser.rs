//! The web console in a real browser: tests/ui/console.mjs drives Debian's
//! Chromium (headless, through playwright-core) against a real toolgate
//! and upstream — sign-in, the cookie hidden from scripts, markup in the
//! arguments inert, a post without its token and a cross-site post
//! refused, an approval that sends the request once, an edit approved
//! (the upstream receives the edited arguments), a two-person approval by
//! two approvers in two browser contexts (the same one cannot approve
//! twice), a denial, an admin disabling a credential (the next call fails
//! closed), sign-out; and (tests/ui/sso.mjs) single sign-on through the
//! repository's OAuth2 server, every redirect followed by the browser.

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;
use toolgate::identity::{Role, generate_key, key_sha256};

use crate::support::approvals_config::approval_config;
use crate::support::process::{Proc, free_port};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, TestGateway, canary, repo_root, skip};

const CHROMIUM: &str = "/usr/bin/chromium";

/// tests/ui, when node, playwright-core and Chromium are all here (else
/// the reason is printed).
fn browser_tests() -> Option<std::path::PathBuf> {
    let ui = repo_root().join("tests/ui");
    if !skip::on_path("node") {
        skip::unavailable("node is not on PATH");
        return None;
    }
    if !ui.join("node_modules/playwright-core").is_dir() {
        skip::unavailable("playwright-core is not installed (npm ci --prefix tests/ui)");
        return None;
    }
    if !Path::new(CHROMIUM).exists() {
        skip::unavailable("Chromium is not installed (apt-get install chromium)");
        return None;
    }
    Some(ui)
}

#[tokio::test]
async fn a_person_signs_in_reads_and_approves_in_chromium() {
    let Some(ui) = browser_tests() else { return };
    let up = Upstream::start().await;
    let (config, tools, k) = approval_config(&up.base(), "");
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    let admin = generate_key(Role::Admin);
    dir.write(
        "toolgate.yaml",
        &format!(
            "{config}admins:\n  secops: {{ key_sha256: \"{}\" }}\n",
            key_sha256(&admin)
        ),
    );
    let env = HashMap::from([("CRM_KEY".to_owned(), canary("crm-"))]);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    let hold = |tool: &'static str, args| {
        let gw = &gw;
        let agent = k.agent.clone();
        async move {
            let (st, body, _) = gw
                .call(&agent, json!({"tool": tool, "arguments": args}))
                .await;
            assert_eq!(st, 202, "{body}");
            body["action_id"].as_str().unwrap().to_owned()
        }
    };
    let id = hold("risky", json!({"name": "<img src=x onload=1>"})).await;
    let forged = hold("risky", json!({"name": "Bo"})).await;
    let edit = hold("big_deals", json!({"name": "Edtied", "value_usd": 20000})).await;
    let two = hold("two_person", json!({"name": "Pair"})).await;
    let deny = hold("risky", json!({"name": "Nope"})).await;

    let out = tokio::process::Command::new("node")
        .arg(ui.join("console.mjs"))
        .env("TOOLGATE_URL", gw.url("").trim_end_matches('/'))
        .env("APPROVER_KEY", &k.alice)
        .env("SECOND_APPROVER_KEY", &k.bob)
        .env("EDIT_ID", &edit)
        .env("TWO_ID", &two)
        .env("DENY_ID", &deny)
        .env("ADMIN_KEY", &admin)
        .env("AGENT_KEY", &k.agent)
        .env("ACTION_ID", &id)
        .env("FORGED_ID", &forged)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Each sent once, the edit as edited; the forged denial did nothing;
    // the session is gone.
    let sent = |path: &str| -> Vec<serde_json::Value> {
        up.requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    };
    assert_eq!(sent("/echo/risky").len(), 1);
    let edited = sent("/echo/deals");
    assert_eq!(edited.len(), 1);
    assert_eq!(
        edited[0]["name"], "Edited",
        "the upstream got the edited arguments"
    );
    assert_eq!(edited[0]["value_usd"], 20000);
    assert_eq!(sent("/echo/two").len(), 1, "two approvals, one execution");
    for (action, expected) in [(&edit, 1), (&two, 2)] {
        let (_, v) = gw.get(Some(&k.agent), &format!("/v1/calls/{action}")).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        assert_eq!(v["approvals"], expected, "{v}");
    }
    let (_, v) = gw.get(Some(&k.agent), &format!("/v1/calls/{forged}")).await;
    assert_eq!(v["status"], "pending_approval");
    let (_, v) = gw.get(Some(&k.agent), &format!("/v1/calls/{deny}")).await;
    assert_eq!(v["status"], "denied", "{v}");
    // The credential the admin disabled in the browser: the next call
    // fails closed, and nothing reaches the upstream.
    let before = up.count();
    let (st, v, _) = gw
        .call(
            &k.agent,
            json!({"tool": "plain", "arguments": {"name": "x"}}),
        )
        .await;
    assert_eq!(
        (st, crate::support::code(&v)),
        (503, "credential_unavailable"),
        "{v}"
    );
    assert_eq!(up.count(), before);
    let (_, v) = gw.get(Some(&k.agent), &format!("/v1/calls/{id}")).await;
    assert_eq!(v["status"], "succeeded");
    let left = gw
        .gw
        .store
        .list(toolgate::store::Ns::UiSessions, 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "signed out server-side");
}

#[tokio::test]
async fn a_person_signs_in_by_sso_in_chromium() {
    let Some(ui) = browser_tests() else { return };
    let secret = canary("sso-");
    let Some(p) = crate::oauth2::Provider::start(&secret, None, 3600) else {
        return;
    };
    let up = Upstream::start().await;
    let (config, tools, _) = approval_config(&up.base(), "");
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    dir.write(
        "toolgate.yaml",
        &format!("{config}{}", crate::console_oidc::sso_yaml_at(&p, &base)),
    );
    let crm = canary("crm-");
    let gw = Proc::start(
        &dir.config_path(),
        port,
        &[("CRM_KEY", &crm), ("SSO_SECRET", &secret)],
    )
    .await;
    let r = reqwest::Client::new()
        .post(p.url("/oidc/next"))
        .json(&json!({"claims": {"sub": "dana-sub"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let out = tokio::process::Command::new("node")
        .arg(ui.join("sso.mjs"))
        .env("TOOLGATE_URL", &gw.base)
        .env("NAME", "dana")
        .env("CHROMIUM", CHROMIUM)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(p.stats()["id_tokens"], 1);
}
