//! The repair loop: the upstream starts rejecting the key → calls become dead
//! letters → the source is updated → an admin retries → each executes exactly once.

use serde_json::json;

use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::{ConfigDir, Keys, TestGateway, canary, code, leaks};

#[tokio::test]
async fn rejected_calls_are_kept_repaired_and_retried_once() {
    let good = canary("good-");
    let bad = canary("bad-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    let secret_file = dir.write("secrets/crm", &bad);
    crm.write_create_tool(&dir);
    write_crm_config(&dir, &keys, "{ file: secrets/crm }", "");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    for name in ["Ada", "Grace"] {
        let (st, body, _) = gw
            .call(
                &keys.agent,
                json!({"tool": "create", "arguments": {"name": name}}),
            )
            .await;
        assert_eq!((st, code(&body)), (502, "credential_rejected"));
    }
    let (st, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    assert_eq!(st, 200);
    let letters = v["dead_letters"].as_array().unwrap().clone();
    assert_eq!(letters.len(), 2);
    assert!(
        letters
            .iter()
            .all(|d| d["state"] == "pending" && d["code"] == "credential_rejected")
    );
    assert!(
        !leaks(&v.to_string(), &bad),
        "a credential reached the dead-letter list"
    );
    let (st, _) = gw.get(Some(&keys.agent), "/v1/admin/dead-letters").await;
    assert_eq!(st, 403);

    // Repair the source, then retry each once.
    std::fs::write(&secret_file, &good).unwrap();
    let ada = letters
        .iter()
        .find(|d| d["request"]["body"]["name"] == "Ada")
        .unwrap();
    let id = ada["id"].as_str().unwrap();
    let (st, v) = gw
        .api
        .send(
            "POST",
            &keys.admin,
            &format!("/v1/admin/dead-letters/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "retried");
    assert_eq!(v["outcome"]["upstream_status"], 201);
    let (st, v) = gw
        .api
        .send(
            "POST",
            &keys.admin,
            &format!("/v1/admin/dead-letters/{id}/retry"),
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (409, "conflict"));
    let accepted = crm.accepted().await;
    assert_eq!(accepted.len(), 1, "exactly one execution after repair");
    assert_eq!(accepted[0]["body"]["name"], "Ada");

    // The other is discarded.
    let grace = letters
        .iter()
        .find(|d| d["request"]["body"]["name"] == "Grace")
        .unwrap();
    let (st, v) = gw
        .api
        .send(
            "DELETE",
            &keys.admin,
            &format!("/v1/admin/dead-letters/{}", grace["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    assert_eq!(v["dead_letters"].as_array().unwrap().len(), 1);

    // Every step is in the audit trail.
    let trail = std::fs::read_to_string(dir.path().join("data/audit.jsonl")).unwrap();
    assert!(
        trail.contains("\"event\":\"dead_letter_retry\"")
            && trail.contains("\"event\":\"dead_letter_discard\"")
    );
    assert!(!leaks(&trail, &good) && !leaks(&trail, &bad));
}
