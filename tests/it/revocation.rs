//! Revoking an agent reaches the work it left behind: its pending actions
//! are denied ("agent revoked") and cannot be approved, its idempotency keys
//! are forgotten, and its dead letters are refused a retry.

use std::collections::HashMap;

use serde_json::json;
use toolgate::identity::{Role, generate_key, key_sha256};
use toolgate::store::Ns;

use crate::support::approvals_config::approval_config;
use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code};

#[tokio::test]
async fn a_revoked_agent_s_pending_actions_are_denied_and_its_keys_forgotten() {
    let up = Upstream::start().await;
    let (config, tools, k) = approval_config(&up.base(), "");
    let admin = generate_key(Role::Admin);
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    dir.write(
        "toolgate.yaml",
        &format!(
            "{config}admins:\n  root: {{ key_sha256: \"{}\" }}\n",
            key_sha256(&admin)
        ),
    );
    let env = HashMap::from([("CRM_KEY".to_owned(), canary("crm-"))]);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    let mut pending = Vec::new();
    for name in ["a", "b"] {
        let (st, body, _) = gw
            .call(
                &k.agent,
                json!({"tool": "risky", "arguments": {"name": name}}),
            )
            .await;
        assert_eq!(st, 202, "{body}");
        pending.push(body["action_id"].as_str().unwrap().to_owned());
    }
    let (st, body, _) = gw
        .call(
            &k.agent,
            json!({"tool": "plain", "arguments": {"name": "c"}, "idempotency_key": "k-1"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");

    let (st, v) = gw
        .api
        .send(
            "POST",
            &admin,
            "/v1/admin/agents/bot/revoke",
            Some(json!({"reason": "leaked"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["denied_actions"], 2, "{v}");
    assert_eq!(v["forgotten_idempotency_keys"], 1, "{v}");

    for id in &pending {
        let (st, v) = gw
            .get(Some(&k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["status"], "denied", "{v}");
        assert_eq!(v["denial"]["reason"], "agent revoked", "{v}");
        let (st, v) = gw
            .post_json(
                &k.alice,
                &format!("/v1/pending-actions/{id}/approve"),
                json!({"reason": "looks fine"}),
            )
            .await;
        assert_eq!((st, code(&v)), (409, "conflict"), "{v}");
    }
    assert_eq!(up.count(), 1, "only the plain call reached the upstream");
    let left = gw.gw.store.list(Ns::Idempotency, 100).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    let trail = std::fs::read_to_string(dir.path().join("data/audit.jsonl")).unwrap();
    let denials = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| {
            r["event"] == "denied" && r["admin"] == "root" && r["reason"] == "agent revoked"
        })
        .count();
    assert_eq!(denials, 2);
}

#[tokio::test]
async fn a_revoked_agent_s_dead_letters_are_not_retried() {
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write("secrets/crm", &canary("bad-"));
    crm.write_create_tool(&dir);
    write_crm_config(&dir, &keys, "{ file: secrets/crm }", "");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let (st, body, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!((st, code(&body)), (502, "credential_rejected"), "{body}");
    let (_, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    let id = v["dead_letters"][0]["id"].as_str().unwrap().to_owned();
    let (st, _) = gw
        .api
        .send(
            "POST",
            &keys.admin,
            "/v1/admin/agents/test-agent/revoke",
            None,
        )
        .await;
    assert_eq!(st, 200);
    std::fs::write(dir.path().join("secrets/crm"), &good).unwrap();
    let (st, v) = gw
        .api
        .send(
            "POST",
            &keys.admin,
            &format!("/v1/admin/dead-letters/{id}/retry"),
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (409, "conflict"), "{v}");
    // Still there, still pending.
    let (_, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    assert_eq!(v["dead_letters"][0]["state"], "pending", "{v}");
}
