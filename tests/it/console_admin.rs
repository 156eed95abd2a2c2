//! The console's dead-letter page: admins only, the letters listed without
//! a credential, Retry sends once with the repaired credential, Discard
//! removes, each recorded as done in the console; forged posts refused.

use serde_json::{Value, json};

use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::{ConfigDir, Keys, TestGateway, canary, code, leaks};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(gw: &TestGateway, key: &str) -> reqwest::Client {
    let b = browser();
    let r = b
        .post(gw.url("/ui/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    b
}

async fn page(b: &reqwest::Client, gw: &TestGateway, path: &str) -> (u16, String) {
    let r = b.get(gw.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(b: &reqwest::Client, gw: &TestGateway, path: &str, csrf: Option<&str>) -> u16 {
    let form: Vec<(&str, &str)> = csrf.map(|t| ("csrf", t)).into_iter().collect();
    b.post(gw.url(path))
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a form token") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_retries_and_discards_dead_letters_in_the_console() {
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
    let (_, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    let id_of = |name: &str| {
        v["dead_letters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["request"]["body"]["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ada, grace) = (id_of("Ada"), id_of("Grace"));

    // Not an approver's page.
    let approver = sign_in(&gw, &keys.approver).await;
    assert_eq!(page(&approver, &gw, "/ui/dead-letters").await.0, 404);
    let (_, html) = page(&approver, &gw, "/ui/").await;
    let token = csrf(&html);
    let path = format!("/ui/dead-letters/{ada}/retry");
    assert_eq!(post(&approver, &gw, &path, Some(&token)).await, 404);

    let admin = sign_in(&gw, &keys.admin).await;
    let (st, html) = page(&admin, &gw, "/ui/dead-letters").await;
    assert_eq!(st, 200);
    assert!(html.contains(&ada) && html.contains(&grace));
    assert!(html.contains("credential_rejected") && html.contains("Retry once"));
    assert!(!leaks(&html, &bad) && !html.contains(bad.split('+').next().unwrap()));
    let token = csrf(&html);

    // Repair the source; a retry without the form token is refused.
    std::fs::write(&secret_file, &good).unwrap();
    assert_eq!(post(&admin, &gw, &path, None).await, 403);
    assert!(crm.accepted().await.is_empty());
    assert_eq!(post(&admin, &gw, &path, Some(&token)).await, 303);
    assert_eq!(post(&admin, &gw, &path, Some(&token)).await, 409);
    let accepted = crm.accepted().await;
    assert_eq!(accepted.len(), 1, "exactly one execution after repair");
    assert_eq!(accepted[0]["body"]["name"], "Ada");

    let discard = format!("/ui/dead-letters/{grace}/discard");
    assert_eq!(post(&admin, &gw, &discard, Some(&token)).await, 303);
    let (_, html) = page(&admin, &gw, "/ui/dead-letters").await;
    assert!(html.contains(&ada) && !html.contains(&grace));
    assert!(html.contains("retried"));

    let trail: Vec<Value> = std::fs::read_to_string(dir.path().join("data/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for event in ["dead_letter_retry", "dead_letter_discard"] {
        let r = trail.iter().find(|r| r["event"] == event).expect(event);
        assert_eq!(r["admin"], "secops");
        assert_eq!(r["admin_via"], "console");
    }
}

async fn post_reason(
    b: &reqwest::Client,
    gw: &TestGateway,
    path: &str,
    csrf: &str,
    reason: &str,
) -> u16 {
    b.post(gw.url(path))
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", csrf), ("reason", reason)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_admin_disables_enables_and_reloads_a_credential_in_the_console() {
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write("secrets/crm", &good);
    crm.write_create_tool(&dir);
    write_crm_config(&dir, &keys, "{ file: secrets/crm }", "");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let call = || {
        gw.call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
    };

    let approver = sign_in(&gw, &keys.approver).await;
    assert_eq!(page(&approver, &gw, "/ui/credentials").await.0, 404);
    let admin = sign_in(&gw, &keys.admin).await;
    let (st, html) = page(&admin, &gw, "/ui/credentials").await;
    assert_eq!(st, 200);
    assert!(html.contains("id=\"credential-crm\"") && html.contains("enabled"));
    assert!(!leaks(&html, &good) && !html.contains(good.split('+').next().unwrap()));
    let token = csrf(&html);

    // A reason is required; then the switch holds and the call fails closed.
    let disable = "/ui/credentials/crm/disable";
    assert_eq!(post_reason(&admin, &gw, disable, &token, " ").await, 400);
    assert_eq!(
        post_reason(&approver, &gw, disable, &token, "x").await,
        403,
        "another session's token"
    );
    assert_eq!(
        post_reason(&admin, &gw, disable, &token, "suspected leak").await,
        303
    );
    let (st, body, _) = call().await;
    assert_eq!((st, code(&body)), (503, "credential_unavailable"));
    assert!(crm.accepted().await.is_empty());
    let (_, html) = page(&admin, &gw, "/ui/credentials").await;
    assert!(html.contains("disabled") && html.contains("/ui/credentials/crm/enable"));

    assert_eq!(
        post_reason(&admin, &gw, "/ui/credentials/crm/enable", &token, "rotated").await,
        303
    );
    assert_eq!(
        post_reason(
            &admin,
            &gw,
            "/ui/credentials/crm/reload",
            &token,
            "new file"
        )
        .await,
        303
    );
    assert_eq!(
        post_reason(&admin, &gw, "/ui/credentials/nope/reload", &token, "x").await,
        404
    );
    let (st, body, _) = call().await;
    assert_eq!((st, &body["upstream_status"]), (200, &json!(201)), "{body}");
    assert_eq!(crm.accepted().await.len(), 1);

    let trail: Vec<Value> = std::fs::read_to_string(dir.path().join("data/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (event, reason) in [
        ("admin_disable", "suspected leak"),
        ("admin_enable", "rotated"),
        ("admin_reload", "new file"),
    ] {
        let r = trail.iter().find(|r| r["event"] == event).expect(event);
        assert_eq!(r["admin"], "secops");
        assert_eq!(r["admin_via"], "console");
        assert_eq!(r["reason"], reason);
        assert_eq!(r["target"], "credential/crm");
    }
}
