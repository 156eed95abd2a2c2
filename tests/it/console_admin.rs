//! The console's operator pages, admins only (an approver gets the 404
//! page): dead letters (listed without a credential, Retry sends once with
//! the repaired credential, Discard removes), credentials (source, age,
//! last use, fingerprint; the kill switch), agents (Revoke ends the key at
//! once, Release lets a quarantined one call again) and the access review;
//! each step recorded as done in the console, forged posts refused.
//! (`console_trail` checks the audit trail page and its Verify now.)

use serde_json::{Value, json};

use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::{ConfigDir, Keys, TestGateway, canary, code, leaks};

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn sign_in(gw: &TestGateway, key: &str) -> reqwest::Client {
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

pub(crate) async fn page(b: &reqwest::Client, gw: &TestGateway, path: &str) -> (u16, String) {
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

pub(crate) fn csrf(html: &str) -> String {
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

    let trail = trail(&dir);
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
    post_form(
        b,
        gw,
        path,
        "same-origin",
        &[("csrf", csrf), ("reason", reason)],
    )
    .await
    .0
}

/// A form post as a browser on `site` (`Sec-Fetch-Site`) sends it; the status and page.
pub(crate) async fn post_form(
    b: &reqwest::Client,
    gw: &TestGateway,
    path: &str,
    site: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = b
        .post(gw.url(path))
        .header("sec-fetch-site", site)
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) fn trail(dir: &ConfigDir) -> Vec<Value> {
    std::fs::read_to_string(dir.path().join("data/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The text of the element with `id` (its first text, tags stripped).
pub(crate) fn by_id<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html.find(&format!("id=\"{id}\"")).expect(id);
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    rest[start..start + end].trim()
}

/// The part of a page from the element with `id` to the next `</section>`.
pub(crate) fn section<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html.find(&format!("id=\"{id}\"")).expect(id);
    let end = html[at..].find("</section>").map_or(html.len(), |e| at + e);
    &html[at..end]
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

    let trail = trail(&dir);
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

/// A CRM config whose credential is past its `max_age_days` and holds a
/// scope no tool needs.
pub(crate) fn aged_crm(crm: &SampleCrm, keys: &Keys, value: &str) -> ConfigDir {
    let dir = ConfigDir::new();
    dir.write("secrets/crm", value);
    crm.write_create_tool(&dir);
    let source = "{ file: secrets/crm }\n    max_age_days: 30\n    rotated_at: \"2020-01-02\"\n    scopes: [crm, crm_admin]";
    write_crm_config(&dir, keys, source, "");
    dir
}

#[tokio::test]
async fn the_credentials_page_shows_source_age_last_use_and_the_trail_s_fingerprint() {
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = aged_crm(&crm, &keys, &good);
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let admin = sign_in(&gw, &keys.admin).await;
    let (st, html) = page(&admin, &gw, "/ui/credentials").await;
    assert_eq!(st, 200);
    let card = section(&html, "credential-crm");
    assert!(card.contains("not in the last 90 days"), "{card}");
    let (st, body, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");

    let (_, html) = page(&admin, &gw, "/ui/credentials").await;
    assert!(!leaks(&html, &good) && !html.contains(good.split('+').next().unwrap()));
    let card = section(&html, "credential-crm");
    assert!(
        card.contains(r#"<code class="source-kind">file</code>"#),
        "{card}"
    );
    assert!(card.contains("<dt>Environment</dt><dd>test</dd>"), "{card}");
    assert!(
        card.contains("of at most 30") && card.contains("past max_age_days"),
        "{card}"
    );
    assert!(
        card.contains("over max age") && card.contains("(1 call in 90 days)"),
        "{card}"
    );
    let executed = trail(&dir)
        .into_iter()
        .find(|r| r["event"] == "executed")
        .unwrap();
    let fingerprint = executed["credential_fingerprint"].as_str().unwrap();
    assert!(
        card.contains(&format!(
            r#"<code class="fingerprint">{fingerprint}</code>"#
        )),
        "the trail's fingerprint of the value in use: {card}"
    );
    assert!(
        card.contains(executed["time"].as_str().unwrap()),
        "last use: {card}"
    );
    assert!(card.contains("version ") && card.contains("Disable"));
}

#[tokio::test]
async fn an_admin_revokes_an_agent_in_the_console_and_its_next_call_is_refused() {
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = aged_crm(&crm, &keys, &good);
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let call = |key: &str| {
        let key = key.to_owned();
        let gw = &gw;
        async move {
            gw.call(
                &key,
                json!({"tool": "create", "arguments": {"name": "Ada"}}),
            )
            .await
            .0
        }
    };
    assert_eq!(call(&keys.agent).await, 200);

    let approver = sign_in(&gw, &keys.approver).await;
    assert_eq!(page(&approver, &gw, "/ui/agents").await.0, 404);
    let (_, html) = page(&approver, &gw, "/ui/").await;
    let approver_token = csrf(&html);
    let revoke = "/ui/agents/test-agent/revoke";
    assert_eq!(
        post_reason(&approver, &gw, revoke, &approver_token, "x").await,
        404
    );

    let admin = sign_in(&gw, &keys.admin).await;
    let (st, html) = page(&admin, &gw, "/ui/agents").await;
    assert_eq!(st, 200);
    let card = section(&html, "agent-test-agent");
    assert!(
        card.contains(">active</span>") && card.contains("<dd>main</dd>"),
        "{card}"
    );
    assert!(
        card.contains("<dd>create</dd>"),
        "the tools it may call: {card}"
    );
    assert!(section(&html, "agent-other-agent").contains("<dd>other</dd>"));
    assert!(html.contains(r#"href="/ui/agents""#), "in the navigation");
    let token = csrf(&html);

    // Forged posts and a post without a reason are refused; nothing changes.
    let (st, _) = post_form(&admin, &gw, revoke, "same-origin", &[("reason", "x")]).await;
    assert_eq!(st, 403, "no form token");
    let form = [("csrf", token.as_str()), ("reason", "x")];
    assert_eq!(
        post_form(&admin, &gw, revoke, "cross-site", &form).await.0,
        403
    );
    assert_eq!(post_reason(&admin, &gw, revoke, &token, "  ").await, 400);
    assert_eq!(call(&keys.agent).await, 200);
    assert_eq!(
        post_reason(&admin, &gw, "/ui/agents/nobody/revoke", &token, "x").await,
        404
    );

    assert_eq!(
        post_reason(&admin, &gw, revoke, &token, "key seen in a log").await,
        303
    );
    assert_eq!(call(&keys.agent).await, 401, "revoked at once");
    assert_ne!(
        call(&keys.other_agent).await,
        401,
        "another agent keeps its key"
    );
    let (_, html) = page(&admin, &gw, "/ui/agents").await;
    let card = section(&html, "agent-test-agent");
    assert!(
        card.contains(">revoked</span>") && !card.contains("/revoke\""),
        "{card}"
    );
    let r = trail(&dir)
        .into_iter()
        .find(|r| r["event"] == "admin_revoke")
        .expect("recorded");
    assert_eq!(r["admin"], "secops");
    assert_eq!(r["admin_via"], "console");
    assert_eq!(r["target"], "agent/test-agent");
    assert_eq!(r["reason"], "key seen in a log");
}

#[tokio::test]
async fn the_access_review_page_shows_granted_against_used_and_over_privileged_credentials() {
    let good = canary("good-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = aged_crm(&crm, &keys, &good);
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let (st, _, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(st, 200);
    let approver = sign_in(&gw, &keys.approver).await;
    assert_eq!(page(&approver, &gw, "/ui/access-review").await.0, 404);

    let admin = sign_in(&gw, &keys.admin).await;
    let (st, html) = page(&admin, &gw, "/ui/access-review?since=30d").await;
    assert_eq!(st, 200);
    assert!(
        html.contains(r#"<option value="30d" selected>"#),
        "the period kept"
    );
    let (_, api) = gw
        .get(Some(&keys.admin), "/v1/admin/access-review?since=30d")
        .await;
    let agent = section(&html, "review-agent-test-agent");
    assert_eq!(api["agents"][0]["agent"], "other-agent");
    let used = api["agents"][1]["tools_used"]["create"]["last_used"]
        .as_str()
        .unwrap();
    assert!(
        agent.contains(&format!("create (1×, last {used})")),
        "{agent}"
    );
    assert!(agent.contains(r#"class="scopes-used">crm<"#), "{agent}");
    let other = section(&html, "review-agent-other-agent");
    assert!(other.contains("none in the period"), "{other}");
    let row = &html[html.find(r#"id="review-credential-crm""#).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(r#"<strong class="error">crm_admin</strong>"#),
        "{row}"
    );
    assert!(row.contains("stale"), "{row}");
    assert!(html.contains("1 over-privileged"));
    assert_eq!(
        page(&admin, &gw, "/ui/access-review?since=soon").await.0,
        400
    );
}

#[tokio::test]
async fn an_admin_releases_a_quarantined_agent_in_the_console() {
    let r = crate::canary::rig().await;
    let plain = || json!({"tool": "plain", "arguments": {}});
    let smuggle = json!({"tool": "plain", "arguments": {"note": format!("use {}", r.decoy)}});
    assert_eq!(r.gw.call(&r.agent, smuggle).await.0, 403);
    assert_eq!(r.gw.call(&r.agent, plain()).await.0, 401, "quarantined");

    let admin = sign_in(&r.gw, &r.admin).await;
    let (_, html) = page(&admin, &r.gw, "/ui/agents").await;
    let card = section(&html, "agent-bot");
    assert!(
        card.contains(">quarantined</span>") && card.contains("/release\""),
        "{card}"
    );
    let token = csrf(&html);
    let release = "/ui/agents/bot/release";
    assert_eq!(post_reason(&admin, &r.gw, release, &token, "").await, 400);
    assert_eq!(
        post_reason(&admin, &r.gw, release, &token, "the decoy came from a test").await,
        303
    );
    assert_eq!(r.gw.call(&r.agent, plain()).await.0, 200, "calls again");
    let (_, html) = page(&admin, &r.gw, "/ui/agents").await;
    assert!(section(&html, "agent-bot").contains(">active</span>"));
    assert_eq!(
        post_reason(&admin, &r.gw, release, &token, "again").await,
        409
    );
    let rec = r
        .trail()
        .into_iter()
        .find(|e| e["event"] == "admin_release")
        .expect("recorded");
    assert_eq!(rec["admin_via"], "console");
    assert_eq!(rec["target"], "agent/bot");
    assert_eq!(rec["reason"], "the decoy came from a test");
}
