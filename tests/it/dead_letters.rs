//! The repair loop: the upstream starts rejecting the key → calls become dead
//! letters → the source is updated → an admin retries → each executes exactly once.
//! Letters are purged, with a record, once their workflow's retention has
//! passed, and each environment's admins see their own environment's only.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::redis::{TestRedis, unique_env};
use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::tmpfs::Tmpfs;
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

/// The CRM config with a rejected key, `dead_letters` set on the workflow,
/// in `environment`, with the top-level keys `top` (a store, an audit trail) added.
fn rejecting_crm(
    crm: &SampleCrm,
    keys: &Keys,
    dead_letters: &str,
    env: &str,
    top: &str,
) -> ConfigDir {
    let dir = ConfigDir::new();
    dir.write("secrets/crm", &canary("bad-"));
    crm.write_create_tool(&dir);
    write_crm_config(&dir, keys, "{ file: secrets/crm }", "");
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    let bound = "    credentials: { crm: crm }\n";
    assert!(config.contains(bound));
    let config = config
        .replace(bound, &format!("{bound}    dead_letters: {dead_letters}\n"))
        .replace("environment: test", &format!("environment: {env}"));
    dir.write("toolgate.yaml", &format!("{top}{config}"));
    dir
}

async fn letters(gw: &TestGateway, admin: &str) -> Vec<Value> {
    let (st, v) = gw.get(Some(admin), "/v1/admin/dead-letters").await;
    assert_eq!(st, 200, "{v}");
    v["dead_letters"].as_array().unwrap().clone()
}

async fn reject_one(gw: &TestGateway, keys: &Keys) {
    let (st, body, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!((st, code(&body)), (502, "credential_rejected"));
}

fn ms(rfc3339: &Value) -> i64 {
    let t = humantime::parse_rfc3339(rfc3339.as_str().unwrap()).unwrap();
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

#[tokio::test]
async fn a_letter_past_its_workflow_s_retention_is_purged_with_a_record() {
    let crm = SampleCrm::start(&canary("good-")).await;
    let keys = Keys::new();
    let dir = rejecting_crm(&crm, &keys, "{ retention: 2s }", "test", "");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    reject_one(&gw, &keys).await;
    let kept = letters(&gw, &keys.admin).await;
    assert_eq!(kept.len(), 1);
    let id = kept[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ms(&kept[0]["purge_at"]) - ms(&kept[0]["created_at"]),
        2000,
        "{kept:?}"
    );

    // Still there before its retention; gone soon after, never before.
    let start = Instant::now();
    while !letters(&gw, &keys.admin).await.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        Instant::now() >= start + Duration::from_millis(1000),
        "purged before its retention"
    );
    let trail = std::fs::read_to_string(dir.path().join("data/audit.jsonl")).unwrap();
    let purged: Vec<Value> = trail
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "dead_letter_purged")
        .collect();
    assert_eq!(purged.len(), 1, "{trail}");
    assert_eq!(purged[0]["target"], format!("dead_letter/{id}"));
    assert_eq!(purged[0]["workflow"], "main");
    assert_eq!(purged[0]["decision"], "retention passed: kept 2s");
    assert_eq!(purged[0]["code"], "credential_rejected");
    // A letter with the default retention stays 7 days.
    let dir = rejecting_crm(&crm, &keys, "{}", "test", "");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    reject_one(&gw, &keys).await;
    let kept = letters(&gw, &keys.admin).await;
    assert_eq!(
        ms(&kept[0]["purge_at"]) - ms(&kept[0]["created_at"]),
        7 * 86_400_000
    );
}

#[test]
fn a_retention_out_of_range_is_a_config_error() {
    let keys = Keys::new();
    for bad in ["0s", "366d", "7 days", "-1d"] {
        let dir = ConfigDir::new();
        write_crm_config(&dir, &keys, "{ env: CRM }", "");
        let config = std::fs::read_to_string(dir.config_path()).unwrap().replace(
            "    credentials: { crm: crm }\n",
            &format!(
                "    credentials: {{ crm: crm }}\n    dead_letters: {{ retention: \"{bad}\" }}\n"
            ),
        );
        dir.write("toolgate.yaml", &config);
        dir.write("tools/.keep", "");
        let Err(diags) = toolgate::catalog::load(&dir.config_path()) else {
            panic!("retention {bad} was accepted");
        };
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            text.len() == 1 && text[0].contains("workflows.main.dead_letters.retention"),
            "{bad}: {text:?}"
        );
    }
}

#[tokio::test]
async fn an_admin_sees_the_letters_of_their_own_environment_only() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let crm = SampleCrm::start(&canary("good-")).await;
    let store = format!("store: {{ kind: redis, url: \"{}\" }}\n", redis.url);
    let (prod_keys, staging_keys) = (Keys::new(), Keys::new());
    let prod = rejecting_crm(&crm, &prod_keys, "{}", &unique_env("prod"), &store);
    let staging = rejecting_crm(&crm, &staging_keys, "{}", &unique_env("staging"), &store);
    let prod = TestGateway::start(&prod.config_path(), Default::default()).await;
    let staging = TestGateway::start(&staging.config_path(), Default::default()).await;
    reject_one(&prod, &prod_keys).await;
    assert_eq!(letters(&prod, &prod_keys.admin).await.len(), 1);
    assert!(letters(&staging, &staging_keys.admin).await.is_empty());
    // Another environment's admin key is no key here.
    let (st, _) = staging
        .get(Some(&prod_keys.admin), "/v1/admin/dead-letters")
        .await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn a_purge_that_cannot_be_recorded_keeps_the_letter_until_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(dir.path()) else {
        return;
    };
    let audit = mnt.path().join("audit.jsonl");
    let crm = SampleCrm::start(&canary("good-")).await;
    let keys = Keys::new();
    let top = format!("audit: {{ kind: file, path: \"{}\" }}\n", audit.display());
    let config = rejecting_crm(&crm, &keys, "{ retention: 2s }", "test", &top);
    let gw = TestGateway::start(&config.config_path(), Default::default()).await;
    reject_one(&gw, &keys).await;
    mnt.fill();
    // The trail's last page may take a few more records (each a letter) before it refuses.
    let call = json!({"tool": "create", "arguments": {"name": "Ada"}});
    let mut refused = false;
    for _ in 0..100 {
        let (st, body, _) = gw.call(&keys.agent, call.clone()).await;
        if st == 503 {
            assert_eq!(code(&body), "audit_unavailable", "{body}");
            refused = true;
            break;
        }
    }
    assert!(refused, "the full disk never refused a call");
    let kept = letters(&gw, &keys.admin).await.len();
    // Well past their retention, with the trail full: still kept.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(letters(&gw, &keys.admin).await.len(), kept);
    // The trail writable again: purged, each with its one record.
    mnt.free();
    let start = Instant::now();
    while !letters(&gw, &keys.admin).await.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trail = std::fs::read_to_string(&audit).unwrap();
    let purged = trail.matches(r#""event":"dead_letter_purged""#).count();
    assert_eq!(purged, kept, "{trail}");
}
