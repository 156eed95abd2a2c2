//! Single sign-on to the console with OpenID Connect, against the
//! repository's OAuth2 server (tests/oauth2: a discovery document, RS256
//! and ES256 keys, ID tokens whose claims and signature each test sets),
//! driven as a browser would: the start, the provider's authorize
//! redirect, the callback — each redirect followed by hand, with a cookie
//! jar. A person matched by `oidc_subject` (or a verified `email`) gets a
//! session, and what they decide is recorded as signed in by `oidc`; every
//! token that fails a check, a state unknown or used, and anyone the
//! config does not know are refused with no session.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{Browser, Console, console_env, field};
use crate::oauth2::Provider;
use crate::support::canary;

/// The approvers and admin single sign-on knows, and `ui.oidc` at `p`.
fn sso_yaml(p: &Provider) -> String {
    sso_yaml_at(p, "http://console.test")
}

/// [`sso_yaml`], the gateway reached at `public_url`.
pub(crate) fn sso_yaml_at(p: &Provider, public_url: &str) -> String {
    format!(
        "  dana: {{ workflows: [sales], oidc_subject: dana-sub }}\n  \
           erin: {{ workflows: [sales], email: Erin@Example.com }}\n\
         admins:\n  ops: {{ oidc_subject: ops-sub }}\n\
         public_url: {public_url}\n\
         ui:\n  oidc: {{ issuer: \"{}\", client_id: toolgate, client_secret: {{ env: SSO_SECRET }} }}\n",
        p.url("")
    )
}

/// The provider and a console signing in there; `None` when the provider
/// cannot run here (the reason is printed).
async fn setup() -> Option<(Provider, Console)> {
    let secret = canary("sso-");
    let p = Provider::start(&secret, None, 3600)?;
    let c = console_env(
        &sso_yaml(&p),
        HashMap::from([("SSO_SECRET".to_owned(), secret)]),
    )
    .await;
    Some((p, c))
}

/// What the provider's next ID tokens say and how they are signed.
async fn next(p: &Provider, shape: Value) {
    let r = reqwest::Client::new()
        .post(p.url("/oidc/next"))
        .json(&shape)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// `/ui/oidc/start`, then the provider: the callback URL it sends the
/// browser to, as a path of the gateway (its origin is `public_url`'s).
async fn to_provider(b: &Browser) -> String {
    let r = b.http.get(b.url("/ui/oidc/start")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let r = b.http.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let back = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(back.origin().ascii_serialization(), "http://console.test");
    assert_eq!(back.path(), "/ui/oidc/callback");
    format!("{}?{}", back.path(), back.query().unwrap())
}

/// A whole sign-in: the callback's status, `Set-Cookie` values and page.
async fn sso(b: &Browser) -> (StatusCode, Vec<String>, String) {
    let callback = to_provider(b).await;
    arrive(b, &callback).await
}

async fn arrive(b: &Browser, callback: &str) -> (StatusCode, Vec<String>, String) {
    let r = b.http.get(b.url(callback)).send().await.unwrap();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (r.status(), cookies, r.text().await.unwrap())
}

fn has_session(cookies: &[String]) -> bool {
    cookies
        .iter()
        .any(|c| c.starts_with("toolgate_session=") && !c.starts_with("toolgate_session=;"))
}

/// Whether the browser is signed in: `/ui/` is a page, not a redirect.
async fn signed_in_as(b: &Browser) -> Option<String> {
    let (st, _, html) = b.get("/ui/").await;
    (st == StatusCode::OK).then_some(html)
}

#[tokio::test]
async fn a_person_signs_in_by_sso_and_their_console_approval_is_recorded_as_oidc() {
    let Some((p, c)) = setup().await else { return };
    next(&p, json!({"claims": {"sub": "dana-sub"}})).await;
    let id = c
        .pending("risky", json!({"name": "Ada", "value_usd": 5}))
        .await;

    // The login page offers it beside the key form.
    let b = c.browser();
    let (_, _, login) = b.get("/ui/login").await;
    assert!(login.contains("href=\"/ui/oidc/start\""), "{login}");
    assert!(login.contains("Sign in with SSO"), "{login}");
    assert!(login.contains("name=\"key\""), "{login}");

    let (st, cookies, page) = sso(&b).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(has_session(&cookies), "{cookies:?}");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("toolgate_session="))
        .unwrap();
    assert!(session.contains("HttpOnly; SameSite=Strict"), "{session}");
    // The cookie binding the attempt to this browser is cleared.
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("toolgate_sso=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    assert!(page.contains("url=/ui/"), "{page}");
    let home = signed_in_as(&b).await.expect("signed in");
    assert!(home.contains("dana"), "{home}");

    // What the provider was asked: the code flow with PKCE S256, a nonce,
    // openid and email, the redirect URI under public_url, the client
    // authenticated with client_secret_basic.
    let stats = p.stats();
    let asked = &stats["authorize"][0];
    assert_eq!(asked["client_id"], "toolgate");
    assert_eq!(asked["scope"], "openid email");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["has_challenge"], true);
    assert_eq!(
        asked["redirect_uri"],
        "http://console.test/ui/oidc/callback"
    );
    assert_eq!(stats["client_auth"], json!(["basic"]));

    // An approval in the console: recorded as via the console, signed in by oidc.
    let r = b.approve(&id, "checked").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let approved: Vec<Value> = c
        .trail()
        .into_iter()
        .filter(|r| r["event"] == "approved")
        .collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["approver"], "dana");
    assert_eq!(approved[0]["approver_via"], "console");
    assert_eq!(approved[0]["approver_sign_in"], "oidc");

    // A key sign-in's decisions say so too.
    let id = c
        .pending("risky", json!({"name": "Bo", "value_usd": 5}))
        .await;
    let k = c.browser();
    assert_eq!(k.login(&c.k.alice).await.status(), StatusCode::SEE_OTHER);
    let (_, _, html) = k.get(&format!("/ui/actions/{id}")).await;
    k.post(
        &format!("/ui/actions/{id}/deny"),
        &[("csrf", &field(&html, "csrf")), ("reason", "no")],
    )
    .await;
    let denied: Vec<Value> = c
        .trail()
        .into_iter()
        .filter(|r| r["event"] == "denied")
        .collect();
    assert_eq!(denied[0]["approver_sign_in"], "key");

    // Neither the code exchange's ID token nor anything else of it is in the trail.
    let trail = std::fs::read_to_string(c.dir.path().join("data/audit.jsonl")).unwrap();
    for issued in p.issued() {
        assert!(!trail.contains(&issued));
    }
}

#[tokio::test]
async fn an_admin_signs_in_by_sso_and_an_admin_step_is_recorded_as_oidc() {
    let Some((p, c)) = setup().await else { return };
    next(&p, json!({"claims": {"sub": "ops-sub"}, "alg": "ES256"})).await;
    let b = c.browser();
    let (st, cookies, page) = sso(&b).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(has_session(&cookies));
    let (st, _, html) = b.get("/ui/credentials").await;
    assert_eq!(st, StatusCode::OK, "{html}");
    let r = b
        .post(
            "/ui/credentials/crm/disable",
            &[("csrf", &field(&html, "csrf")), ("reason", "leaked")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let disabled: Vec<Value> = c
        .trail()
        .into_iter()
        .filter(|r| r["admin"] == "ops")
        .collect();
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0]["admin_via"], "console");
    assert_eq!(disabled[0]["admin_sign_in"], "oidc");
}

/// Every check of the ID token, each in a gateway of its own (a failed
/// sign-in costs two attempts of the address's five).
#[tokio::test]
async fn an_id_token_that_fails_a_check_starts_no_session() {
    let Some((p, c)) = setup().await else { return };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases = [
        (
            "a wrong nonce",
            json!({"claims": {"sub": "dana-sub", "nonce": "another"}}),
        ),
        (
            "no nonce",
            json!({"claims": {"sub": "dana-sub", "nonce": null}}),
        ),
        (
            "another audience",
            json!({"claims": {"sub": "dana-sub", "aud": "someone-else"}}),
        ),
        (
            "several audiences without azp",
            json!({"claims": {"sub": "dana-sub", "aud": ["toolgate", "someone-else"]}}),
        ),
        (
            "another authorized party",
            json!({"claims": {"sub": "dana-sub", "azp": "someone-else"}}),
        ),
        (
            "another issuer",
            json!({"claims": {"sub": "dana-sub", "iss": "http://127.0.0.1:1"}}),
        ),
        (
            "an expired token",
            json!({"claims": {"sub": "dana-sub", "exp": now - 300, "iat": now}}),
        ),
        (
            "a token issued long before the sign-in",
            json!({"claims": {"sub": "dana-sub", "iat": now - 3600}}),
        ),
        (
            "a bad signature",
            json!({"claims": {"sub": "dana-sub"}, "bad_signature": true}),
        ),
    ];
    drop(c);
    for (what, shape) in cases {
        let c = console_env(
            &sso_yaml(&p),
            HashMap::from([("SSO_SECRET".to_owned(), sso_secret(&p))]),
        )
        .await;
        next(&p, shape).await;
        let b = c.browser();
        let (st, cookies, page) = sso(&b).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}: {page}");
        assert!(page.contains("Sign-in was refused"), "{what}: {page}");
        assert!(page.contains("(unauthenticated)"), "{what}: {page}");
        assert!(!has_session(&cookies), "{what}: {cookies:?}");
        assert!(signed_in_as(&b).await.is_none(), "{what}");
    }
    // The same token, well made, signs in.
    let c = console_env(
        &sso_yaml(&p),
        HashMap::from([("SSO_SECRET".to_owned(), sso_secret(&p))]),
    )
    .await;
    next(&p, json!({"claims": {"sub": "dana-sub"}})).await;
    let b = c.browser();
    assert_eq!(sso(&b).await.0, StatusCode::OK);
}

/// The client secret the provider was started with.
fn sso_secret(p: &Provider) -> String {
    p.client_secret().to_owned()
}

#[tokio::test]
async fn an_unverified_email_is_not_matched_and_a_stranger_learns_nothing() {
    let Some((p, c)) = setup().await else { return };
    next(
        &p,
        json!({"claims": {"sub": "x-1", "email": "erin@example.com", "email_verified": false}}),
    )
    .await;
    let b = c.browser();
    let (st, cookies, page) = sso(&b).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{page}");
    assert!(!has_session(&cookies));

    // Someone the config does not know: the same page, naming nobody.
    next(
        &p,
        json!({"claims": {"sub": "stranger", "email": "who@example.com", "email_verified": true}}),
    )
    .await;
    let (st, cookies, page) = sso(&b).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{page}");
    assert!(!has_session(&cookies));
    for name in [
        "dana", "erin", "ops", "approver", "admin", "stranger", "who@",
    ] {
        assert!(!page.contains(name), "{name} in {page}");
    }
    assert!(signed_in_as(&b).await.is_none());

    // A verified address matches, whatever its case.
    let c = console_env(
        &sso_yaml(&p),
        HashMap::from([("SSO_SECRET".to_owned(), sso_secret(&p))]),
    )
    .await;
    next(
        &p,
        json!({"claims": {"sub": "x-1", "email": "ERIN@example.com", "email_verified": true}}),
    )
    .await;
    let b = c.browser();
    let (st, _, page) = sso(&b).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(signed_in_as(&b).await.unwrap().contains("erin"));
}

#[tokio::test]
async fn an_unknown_used_or_foreign_state_is_refused() {
    let Some((p, c)) = setup().await else { return };
    next(&p, json!({"claims": {"sub": "dana-sub"}})).await;
    let b = c.browser();

    let (st, cookies, page) = arrive(&b, "/ui/oidc/callback?code=x&state=forged").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("(oauth_state_invalid)"), "{page}");
    assert!(!has_session(&cookies));

    // A callback in another browser than the one that began the sign-in.
    let callback = to_provider(&b).await;
    let other = c.browser();
    let (st, cookies, page) = arrive(&other, &callback).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{page}");
    assert!(!has_session(&cookies));
    // The state was taken by that try: gone for its own browser too.
    let (st, _, _) = arrive(&b, &callback).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // A state works once.
    let c = console_env(
        &sso_yaml(&p),
        HashMap::from([("SSO_SECRET".to_owned(), sso_secret(&p))]),
    )
    .await;
    let b = c.browser();
    let callback = to_provider(&b).await;
    // What the store keeps of a sign-in under way: the nonce and hashes,
    // never the state in clear, the browser's cookie or a PKCE verifier.
    let kept =
        c.gw.gw
            .store
            .list(toolgate::store::Ns::UiSignIns, 10)
            .await
            .unwrap();
    assert_eq!(kept.len(), 1);
    let state = url::Url::parse(&format!("http://x{callback}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_ne!(kept[0].0, state);
    let record: Value = serde_json::from_slice(&kept[0].1.value).unwrap();
    let mut fields: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["browser_sha256", "expires_ms", "nonce", "started_ms"]
    );
    assert!(!String::from_utf8_lossy(&kept[0].1.value).contains(&state));
    let (st, cookies, _) = arrive(&b, &callback).await;
    assert_eq!(st, StatusCode::OK);
    assert!(has_session(&cookies));
    let again = c.browser();
    let (st, cookies, page) = arrive(&again, &callback).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("(oauth_state_invalid)"), "{page}");
    assert!(!has_session(&cookies));
    // Nothing of a sign-in under way is left in the store.
    assert!(
        c.gw.gw
            .store
            .list(toolgate::store::Ns::UiSignIns, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_key_the_provider_rotated_in_is_fetched_once_and_discovery_is_kept() {
    let Some((p, c)) = setup().await else { return };
    next(&p, json!({"claims": {"sub": "dana-sub"}})).await;
    let b = c.browser();
    assert_eq!(sso(&b).await.0, StatusCode::OK);
    let before = p.stats();
    assert_eq!(before["discovery"], 1);
    assert_eq!(before["jwks"], 1);

    next(&p, json!({"claims": {"sub": "dana-sub"}, "kid": "rotated"})).await;
    let b = c.browser();
    let (st, _, page) = sso(&b).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let after = p.stats();
    assert_eq!(after["discovery"], 1, "the discovery document is kept");
    assert_eq!(after["jwks"], 2, "the keys are fetched again once");
}

#[tokio::test]
async fn a_provider_that_takes_only_client_secret_post_gets_it_in_the_form() {
    let secret = canary("sso-");
    let Some(p) = Provider::start(&secret, None, 3600) else {
        return;
    };
    next(
        &p,
        json!({"claims": {"sub": "dana-sub"}, "auth_methods": ["client_secret_post"]}),
    )
    .await;
    let c = console_env(
        &sso_yaml(&p),
        HashMap::from([("SSO_SECRET".to_owned(), secret)]),
    )
    .await;
    let b = c.browser();
    let (st, _, page) = sso(&b).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(p.stats()["client_auth"], json!(["post"]));
}

/// A single sign-on session is named in the store by the issuer and the
/// name that matched: it outlives a restart, and ends when the config no
/// longer knows the person by that name.
#[tokio::test]
async fn a_sso_session_ends_when_its_oidc_subject_is_changed() {
    let Some((p, c)) = setup().await else { return };
    next(&p, json!({"claims": {"sub": "dana-sub"}})).await;
    let b = c.browser();
    let (st, cookies, _) = sso(&b).await;
    assert_eq!(st, StatusCode::OK);
    let pair = cookies
        .iter()
        .find(|c| c.starts_with("toolgate_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let replay = |gw: &crate::support::TestGateway| {
        let (url, pair) = (gw.url("/ui/"), pair.clone());
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(url)
                .header("cookie", pair)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let Console { gw, dir, .. } = c;
    assert_eq!(replay(&gw).await, StatusCode::OK);
    gw.stop().await;
    let env = HashMap::from([
        ("CRM_KEY".to_owned(), canary("crm-")),
        ("SSO_SECRET".to_owned(), sso_secret(&p)),
    ]);
    let gw = crate::support::TestGateway::start(&dir.config_path(), env.clone()).await;
    assert_eq!(replay(&gw).await, StatusCode::OK, "kept across a restart");
    gw.stop().await;

    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    dir.write(
        "toolgate.yaml",
        &config.replace("oidc_subject: dana-sub", "oidc_subject: dana-new"),
    );
    let gw = crate::support::TestGateway::start(&dir.config_path(), env).await;
    assert_eq!(replay(&gw).await, StatusCode::SEE_OTHER, "ended");
}
