//! The console's audit trail page, admins only: the head and the last
//! signed checkpoint; Verify now, checked like every form post, finds a
//! file trail intact and then names the first record tampered with on
//! disk (its seq and the kind of problem, not its contents), and checks a
//! Redis trail with its signed checkpoints.

use serde_json::{Value, json};

use crate::console_admin::{aged_crm, by_id, csrf, page, post_form, section, sign_in, trail};
use crate::support::sample_crm::SampleCrm;
use crate::support::{Keys, TestGateway, canary};

#[tokio::test]
async fn verify_now_finds_the_trail_intact_then_names_the_first_tampered_record() {
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = aged_crm(&crm, &keys, &good);
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    for name in ["Ada", "Grace"] {
        let (st, _, _) = gw
            .call(
                &keys.agent,
                json!({"tool": "create", "arguments": {"name": name}}),
            )
            .await;
        assert_eq!(st, 200);
    }
    let approver = sign_in(&gw, &keys.approver).await;
    assert_eq!(page(&approver, &gw, "/ui/audit").await.0, 404);
    let (_, html) = page(&approver, &gw, "/ui/").await;
    let form = [("csrf", csrf(&html))];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let verify = "/ui/audit/verify";
    assert_eq!(
        post_form(&approver, &gw, verify, "same-origin", &form)
            .await
            .0,
        404
    );

    let admin = sign_in(&gw, &keys.admin).await;
    let (st, html) = page(&admin, &gw, "/ui/audit").await;
    assert_eq!(st, 200);
    let records = trail(&dir);
    let head = records.last().unwrap();
    assert_eq!(by_id(&html, "head-seq"), head["seq"].to_string());
    assert_eq!(by_id(&html, "head-hash"), head["hash"].as_str().unwrap());
    assert!(
        by_id(&html, "checkpoint").starts_with("none: no"),
        "no signing key"
    );
    let token = csrf(&html);
    let form = [("csrf", token.as_str())];
    assert_eq!(
        post_form(&admin, &gw, verify, "same-origin", &[]).await.0,
        403
    );
    assert_eq!(
        post_form(&admin, &gw, verify, "cross-site", &form).await.0,
        403
    );

    let (st, html) = post_form(&admin, &gw, verify, "same-origin", &form).await;
    assert_eq!(st, 200);
    let result = section(&html, "verified");
    assert!(result.contains(">intact</span>"), "{result}");
    assert!(
        result.contains(&format!("{} records verified", records.len())),
        "{result}"
    );

    // Change one record on disk: the first executed call's tool.
    let path = dir.path().join("data/audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut bad_seq = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if bad_seq == 0 && v["event"] == "executed" {
                bad_seq = v["seq"].as_u64().unwrap();
                v["tool"] = json!("tampered-tool");
                return serde_json::to_string(&v).unwrap();
            }
            l.to_owned()
        })
        .collect();
    assert!(bad_seq > 0);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (st, html) = post_form(&admin, &gw, verify, "same-origin", &form).await;
    assert_eq!(st, 200);
    let result = section(&html, "verified");
    assert!(
        result.contains(r#"problem-kind">edited</span>"#),
        "{result}"
    );
    assert_eq!(by_id(result, "bad-seq"), bad_seq.to_string());
    assert!(
        !result.contains("tampered-tool"),
        "no record contents: {result}"
    );
}

#[tokio::test]
async fn verify_now_checks_a_redis_trail_and_its_signed_checkpoints() {
    let Some(redis) = crate::support::redis::TestRedis::own().await else {
        return;
    };
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = aged_crm(&crm, &keys, &good);
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    dir.write(
        "toolgate.yaml",
        &format!(
            "{config}store: {{ kind: redis, url: \"{}\" }}\n\
             audit: {{ kind: redis, signing_key: {{ env: SIGNING_KEY }}, checkpoint_interval_seconds: 1 }}\n",
            redis.url
        ),
    );
    let env = [("SIGNING_KEY".to_owned(), canary("signing-"))].into();
    let gw = TestGateway::start(&dir.config_path(), env).await;
    let (st, _, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(st, 200);
    let admin = sign_in(&gw, &keys.admin).await;
    let mut html = String::new();
    for _ in 0..50 {
        html = page(&admin, &gw, "/ui/audit").await.1;
        if by_id(&html, "checkpoint").starts_with("record ") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let kept = gw.gw.audit.checkpoints().await.unwrap();
    let last = kept.last().expect("a checkpoint kept");
    let shown = section(&html, "checkpoint");
    assert!(
        shown.contains(&last.hash) && shown.contains(&last.key),
        "{shown}"
    );
    assert!(html.contains("Redis stream of environment test"));
    let form = [("csrf", csrf(&html))];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (st, html) = post_form(&admin, &gw, "/ui/audit/verify", "same-origin", &form).await;
    assert_eq!(st, 200);
    let result = section(&html, "verified");
    assert!(result.contains(">intact</span>"), "{result}");
    let head = gw.gw.audit.head().await.unwrap();
    assert!(
        result.contains(&format!(
            "Up to record {}, hash <code>{}</code>",
            head.seq, head.hash
        )),
        "{result}"
    );
}
