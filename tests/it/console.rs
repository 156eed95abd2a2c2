//! The web console at `/ui/`, through a real browser-like client (a cookie
//! jar, no redirects followed): sign-in with approver and admin keys,
//! cookie attributes, the limit on attempts, sign-out and expiry ending a
//! session server-side, forged posts refused, the queue and action pages of
//! an approver's own workflows, and decisions that send the frozen request
//! exactly once — or never.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::approvals_config::{Approvers, approval_config};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, TestGateway, canary, leaks};

pub(crate) struct Console {
    pub(crate) gw: TestGateway,
    pub(crate) up: Upstream,
    pub(crate) k: Approvers,
    secret: String,
    pub(crate) dir: ConfigDir,
}

/// A gateway serving the console, `extra_yaml` after the approvers (so it
/// may add some, or start top-level keys).
pub(crate) async fn console(extra_yaml: &str) -> Console {
    console_env(extra_yaml, HashMap::new()).await
}

/// [`console`], with more variables in the gateway's environment.
pub(crate) async fn console_env(extra_yaml: &str, more_env: HashMap<String, String>) -> Console {
    let up = Upstream::start().await;
    let (config, tools, k) = approval_config(&up.base(), "");
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    dir.write("toolgate.yaml", &format!("{config}{extra_yaml}"));
    let secret = canary("crm-");
    let mut env = HashMap::from([("CRM_KEY".to_owned(), secret.clone())]);
    env.extend(more_env);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    Console {
        gw,
        up,
        k,
        secret,
        dir,
    }
}

impl Console {
    pub(crate) async fn pending(&self, tool: &str, args: Value) -> String {
        let (st, body, _) = self
            .gw
            .call(
                &self.k.agent,
                json!({"tool": tool, "arguments": args, "model": "gpt-test", "reason": "the customer asked"}),
            )
            .await;
        assert_eq!(st, 202, "{body}");
        body["action_id"].as_str().unwrap().to_owned()
    }

    pub(crate) fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.gw.url(""),
        }
    }

    async fn signed_in(&self, key: &str) -> Browser {
        let b = self.browser();
        let r = b.login(key).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed in");
        b
    }

    fn hits(&self, path: &str) -> usize {
        self.up.requests().iter().filter(|r| r.path == path).count()
    }

    pub(crate) fn trail(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("data/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub(crate) struct Browser {
    pub(crate) http: reqwest::Client,
    base: String,
}

impl Browser {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.trim_end_matches('/'))
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let (st, h) = (r.status(), r.headers().clone());
        (st, h, r.text().await.unwrap())
    }

    /// A form post as the console's own page sends it.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_from(path, form, Some("same-origin")).await
    }

    async fn post_from(
        &self,
        path: &str,
        form: &[(&str, &str)],
        site: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        req.send().await.unwrap()
    }

    pub(crate) async fn login(&self, key: &str) -> reqwest::Response {
        self.post("/ui/login", &[("key", key)]).await
    }

    /// Approve action `id` with `reason` through its page's own form (its
    /// form token and the request hash it shows).
    pub(crate) async fn approve(&self, id: &str, reason: &str) -> reqwest::Response {
        let (_, _, html) = self.get(&format!("/ui/actions/{id}")).await;
        self.post(
            &format!("/ui/actions/{id}/approve"),
            &[
                ("csrf", &field(&html, "csrf")),
                ("reason", reason),
                ("request_sha256", &field(&html, "request_sha256")),
            ],
        )
        .await
    }

    /// The form token of the signed-in session, from a page's hidden field.
    async fn csrf(&self) -> String {
        let (st, _, html) = self.get("/ui/").await;
        assert_eq!(st, StatusCode::OK, "{html}");
        field(&html, "csrf")
    }
}

/// The value of the hidden field `name` in a page.
pub(crate) fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()["location"].to_str().unwrap()
}

fn assert_secured(h: &HeaderMap) {
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test]
async fn approver_and_admin_keys_sign_in_with_a_strict_cookie_and_other_keys_do_not() {
    let c = console("").await;
    let b = c.browser();

    let (st, h, html) = b.get("/ui/login").await;
    assert_eq!(st, StatusCode::OK);
    assert_secured(&h);
    assert!(html.contains("type=\"password\""));
    let (st, h, css) = b.get("/ui/static/console.css").await;
    assert_eq!(st, StatusCode::OK);
    assert_secured(&h);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.contains("body"));

    // Signed out, pages send to sign-in.
    let (st, h, _) = b.get("/ui/").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(h["location"], "/ui/login");

    // An agent key, a wrong key and no key are all refused alike.
    for key in [c.k.agent.as_str(), "tg_approver_wrong", ""] {
        let r = b.login(key).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert_secured(r.headers());
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("not an approver or admin key")
        );
    }

    let r = b.login(&c.k.alice).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let (pair, attrs) = cookie.split_once(';').unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "toolgate_session");
    assert!(value.len() >= 43, "random: {value}");
    for a in ["Path=/ui", "HttpOnly", "SameSite=Strict", "Max-Age=28800"] {
        assert!(attrs.split("; ").any(|x| x.trim() == a), "{a} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP without an https public_url"
    );
    assert!(!cookie.contains(&c.k.alice));
    // Only its hash is kept.
    let raw =
        c.gw.gw
            .store
            .list(toolgate::store::Ns::UiSessions, 10)
            .await
            .unwrap();
    assert_eq!(raw.len(), 1);
    assert_ne!(raw[0].0, value);
    assert!(!String::from_utf8_lossy(&raw[0].1.value).contains(value));

    let (st, h, html) = b.get("/ui/").await;
    assert_eq!(st, StatusCode::OK);
    assert_secured(&h);
    assert!(html.contains("alice"));
    assert!(html.contains("Nothing is waiting for you"));
}

#[tokio::test]
async fn an_admin_signs_in_and_is_shown_no_approver_pages() {
    let admin = toolgate::identity::generate_key(toolgate::identity::Role::Admin);
    let c = console(&format!(
        "admins:\n  ops: {{ key_sha256: \"{}\" }}\n",
        toolgate::identity::key_sha256(&admin)
    ))
    .await;
    let id = c.pending("risky", json!({"name": "Ada"})).await;
    let b = c.signed_in(&admin).await;
    let (st, _, html) = b.get("/ui/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("Signed in as ops"), "{html}");
    let (st, _, _) = b.get(&format!("/ui/actions/{id}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_address() {
    let c = console("").await;
    let b = c.browser();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(b.login("tg_approver_guess").await.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
    // Limited, even the right key waits.
    let r = b.login(&c.k.alice).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn signing_out_ends_the_session_in_the_store() {
    let c = console("").await;
    let b = c.browser();
    let r = b.login(&c.k.alice).await;
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let token = b.csrf().await;

    // Signing out without the form token is refused and ends nothing.
    let r = b.post("/ui/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b.post("/ui/logout", &[("csrf", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/login");
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );

    // The old cookie, replayed, no longer works.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = replay
        .get(c.gw.url("/ui/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/login");
    assert!(
        c.gw.gw
            .store
            .list(toolgate::store::Ns::UiSessions, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_session_expires_after_the_console_s_session_ttl() {
    let c = console("ui: { session_ttl_seconds: 1 }\n").await;
    let b = c.signed_in(&c.k.alice).await;
    let (st, _, _) = b.get("/ui/").await;
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (st, h, _) = b.get("/ui/").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(h["location"], "/ui/login");
}

#[tokio::test]
async fn forged_posts_are_refused_and_nothing_is_sent() {
    let c = console("").await;
    let id = c.pending("risky", json!({"name": "Ada"})).await;
    let b = c.signed_in(&c.k.alice).await;
    let (_, _, html) = b.get(&format!("/ui/actions/{id}")).await;
    let token = field(&html, "csrf");
    let sha = field(&html, "request_sha256");
    let path = format!("/ui/actions/{id}/approve");
    let good = [
        ("csrf", token.as_str()),
        ("reason", "ok"),
        ("request_sha256", sha.as_str()),
    ];

    let missing = [("reason", "ok"), ("request_sha256", sha.as_str())];
    let wrong_token = "A".repeat(token.len());
    let wrong = [
        ("csrf", wrong_token.as_str()),
        ("reason", "ok"),
        ("request_sha256", sha.as_str()),
    ];
    for (form, site) in [
        (&missing[..], Some("same-origin")),
        (&wrong[..], Some("same-origin")),
        (&good[..], Some("cross-site")),
        (&good[..], Some("same-site")),
        (&good[..], None),
    ] {
        let r = b.post_from(&path, form, site).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site:?}");
        assert_secured(r.headers());
        assert!(r.text().await.unwrap().contains("Form refused"));
    }
    // Without Sec-Fetch-Site, Origin decides; `null` is never the console's own.
    for origin in ["null", "http://evil.example"] {
        let r = b
            .http
            .post(b.url(&path))
            .header("origin", origin)
            .form(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    // A forged sign-in is refused too.
    let r = c
        .browser()
        .post_from("/ui/login", &[("key", &c.k.bob)], Some("cross-site"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.up.count(), 0);

    // The console's own origin, without Sec-Fetch-Site, is accepted.
    let r = b
        .http
        .post(b.url(&path))
        .header("origin", c.gw.url("").trim_end_matches('/'))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(c.hits("/echo/risky"), 1);
}

#[tokio::test]
async fn the_action_page_shows_the_frozen_request_and_its_hash_and_never_the_credential() {
    let c = console("").await;
    let id = c
        .pending(
            "risky",
            json!({"name": "<img src=x onload=1>", "value_usd": 5}),
        )
        .await;
    let b = c.signed_in(&c.k.alice).await;

    let (st, _, queue) = b.get("/ui/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(queue.contains(&format!("/ui/actions/{id}")));
    assert!(queue.contains("risky") && queue.contains("bot") && queue.contains("sales"));
    assert!(queue.contains("0/1"));

    let (st, h, html) = b.get(&format!("/ui/actions/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_secured(&h);
    let (_, api) =
        c.gw.get(Some(&c.k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
    let sha = api["request"]["sha256"].as_str().unwrap();
    assert!(html.contains(&format!("<code id=\"request-sha256\">{sha}</code>")));
    assert!(html.contains("<strong>POST</strong>"));
    assert!(html.contains("echo&#x2f;risky"), "the URL, escaped");
    assert!(
        html.contains("<strong>crm</strong>"),
        "the credential named"
    );
    assert!(html.contains("gpt-test") && html.contains("the customer asked"));
    assert!(html.contains("approval: always"));
    // Pretty-printed body, hostile text inert.
    assert!(html.contains("&quot;value_usd&quot;: 5"));
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;img src=x onload=1&gt;"));
    // Never the credential, in any encoding.
    let core = c.secret.split('+').next().unwrap();
    assert!(!leaks(&html, &c.secret) && !html.contains(core));
}

#[tokio::test]
async fn approving_sends_the_frozen_request_once_and_the_trail_says_the_console() {
    let c = console("").await;
    let id = c
        .pending("risky", json!({"name": "Ada", "value_usd": 5}))
        .await;
    let b = c.signed_in(&c.k.alice).await;
    let (_, _, html) = b.get(&format!("/ui/actions/{id}")).await;
    let token = field(&html, "csrf");
    let sha = field(&html, "request_sha256");
    let path = format!("/ui/actions/{id}/approve");

    // A reason is required; a stale hash is refused.
    let r = b
        .post(
            &path,
            &[("csrf", &token), ("reason", " "), ("request_sha256", &sha)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = b
        .post(
            &path,
            &[
                ("csrf", &token),
                ("reason", "ok"),
                ("request_sha256", &"0".repeat(64)),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(c.up.count(), 0);

    let r = b
        .post(
            &path,
            &[
                ("csrf", &token),
                ("reason", "checked with Ada"),
                ("request_sha256", &sha),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/ui/actions/{id}"));
    assert_eq!(c.hits("/echo/risky"), 1);
    let sent = c.up.last();
    assert_eq!(
        sent.headers["authorization"].to_str().unwrap(),
        format!("Bearer {}", c.secret)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        json!({"name": "Ada", "value_usd": 5})
    );
    // Approving again does not send again.
    let r = b
        .post(
            &path,
            &[
                ("csrf", &token),
                ("reason", "again"),
                ("request_sha256", &sha),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(c.hits("/echo/risky"), 1);

    let (_, _, page) = b.get(&format!("/ui/actions/{id}")).await;
    assert!(page.contains("succeeded") && page.contains("checked with Ada"));
    let (_, _, history) = b.get("/ui/history").await;
    assert!(history.contains(&format!("/ui/actions/{id}")) && history.contains("checked with Ada"));

    let approved: Vec<Value> = c
        .trail()
        .into_iter()
        .filter(|r| r["event"] == "approved")
        .collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["approver"], "alice");
    assert_eq!(approved[0]["approver_via"], "console");
    // Bound to the request shown: the keyed digest the API names it by.
    let (_, api) =
        c.gw.get(Some(&c.k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!(approved[0]["request_sha256"], api["request"]["digest"]);
}

#[tokio::test]
async fn denying_never_sends_and_two_person_actions_wait_for_a_second_approver() {
    let c = console("").await;
    let id = c.pending("risky", json!({"name": "Ada"})).await;
    let b = c.signed_in(&c.k.alice).await;
    let token = b.csrf().await;
    let r = b
        .post(
            &format!("/ui/actions/{id}/deny"),
            &[("csrf", &token), ("reason", "not a customer")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(c.up.count(), 0);
    let (_, v) = c.gw.get(Some(&c.k.agent), &format!("/v1/calls/{id}")).await;
    assert_eq!(v["status"], "denied");
    let denied: Vec<Value> = c
        .trail()
        .into_iter()
        .filter(|r| r["event"] == "denied")
        .collect();
    assert_eq!(denied[0]["approver_via"], "console");
    let (_, _, history) = b.get("/ui/history").await;
    assert!(history.contains("not a customer") && history.contains("denied"));

    let two = c.pending("two_person", json!({"name": "Bo"})).await;
    let (_, _, queue) = b.get("/ui/").await;
    assert!(queue.contains("needs 2"), "{queue}");
    for (key, sent) in [(&c.k.alice, 0), (&c.k.bob, 1)] {
        let who = c.signed_in(key).await;
        let r = who.approve(&two, "fine").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(c.hits("/echo/two"), sent);
    }
}

#[tokio::test]
async fn approvers_see_only_their_workflows_and_never_approve_their_own_action() {
    let c = console("").await;
    let id = c.pending("risky", json!({"name": "Ada"})).await;

    // carol approves another workflow: an empty queue, and a 404.
    let carol = c.signed_in(&c.k.carol_other).await;
    let (st, _, queue) = carol.get("/ui/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(!queue.contains(&id));
    let (st, h, page) = carol.get(&format!("/ui/actions/{id}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_secured(&h);
    assert!(!page.contains("Ada"));
    let token = carol.csrf().await;
    for verb in ["approve", "deny"] {
        let r = carol
            .post(
                &format!("/ui/actions/{id}/{verb}"),
                &[("csrf", &token), ("reason", "x")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let (_, _, history) = carol.get("/ui/history").await;
    assert!(!history.contains(&id));

    // The approver named like the requesting agent cannot approve it.
    let bot = c.signed_in(&c.k.namesake).await;
    let (_, _, html) = bot.get(&format!("/ui/actions/{id}")).await;
    assert!(html.contains("someone else must decide it"));
    let r = bot
        .post(
            &format!("/ui/actions/{id}/approve"),
            &[
                ("csrf", &field(&html, "csrf")),
                ("reason", "mine"),
                ("request_sha256", "x"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "the hash is checked first"
    );
    let (_, api) =
        c.gw.get(Some(&c.k.namesake), &format!("/v1/pending-actions/{id}"))
            .await;
    let sha = api["request"]["sha256"].as_str().unwrap();
    let r = bot
        .post(
            &format!("/ui/actions/{id}/approve"),
            &[
                ("csrf", &field(&html, "csrf")),
                ("reason", "mine"),
                ("request_sha256", sha),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.up.count(), 0);
}

#[tokio::test]
async fn unknown_console_paths_are_a_404_page_and_a_disabled_console_is_not_served() {
    let c = console("").await;
    let b = c.browser();
    let (st, h, html) = b.get("/ui/nothing/here").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_secured(&h);
    assert!(html.contains("Not found"));

    let off = console("ui: { enabled: false }\n").await;
    let b = off.browser();
    for path in ["/ui", "/ui/", "/ui/login", "/ui/static/console.css"] {
        let (st, _, _) = b.get(path).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
    }
    let r = b.login(&off.k.alice).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_outlives_a_restart_but_not_the_removal_of_its_key() {
    let Console {
        gw,
        up: _up,
        k,
        secret,
        dir,
    } = console("").await;
    let env = HashMap::from([("CRM_KEY".to_owned(), secret)]);
    let b = Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: gw.url(""),
    };
    let r = b.login(&k.alice).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pair = r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let replay = |gw: &TestGateway, pair: String| {
        let url = gw.url("/ui/");
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
    assert_eq!(replay(&gw, pair.clone()).await, StatusCode::OK);
    gw.stop().await;

    // Kept in the store: the same cookie works after a restart.
    let gw = TestGateway::start(&dir.config_path(), env.clone()).await;
    assert_eq!(replay(&gw, pair.clone()).await, StatusCode::OK);
    gw.stop().await;

    // alice gets a new key: sessions signed in with the old one end.
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    let new_key = toolgate::identity::generate_key(toolgate::identity::Role::Approver);
    let config = config.replace(
        &toolgate::identity::key_sha256(&k.alice),
        &toolgate::identity::key_sha256(&new_key),
    );
    dir.write("toolgate.yaml", &config);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    assert_eq!(replay(&gw, pair).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_edit_is_checked_and_shown_with_its_new_hash_before_it_is_approved() {
    let c = console("").await;
    let id = c
        .pending("risky", json!({"name": "Ada", "value_usd": 5}))
        .await;
    let b = c.signed_in(&c.k.alice).await;
    let (_, _, html) = b.get(&format!("/ui/actions/{id}")).await;
    let token = field(&html, "csrf");
    let original = field(&html, "request_sha256");
    let edit = format!("/ui/actions/{id}/edit");

    let r = b
        .post(&edit, &[("csrf", &token), ("arguments", "{not json")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("not valid JSON"));
    let r = b
        .post(
            &edit,
            &[
                ("csrf", &token),
                ("arguments", r#"{"name": "far too long a name for it"}"#),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("schema_violation") && page.contains("<code>&#x2f;name</code>"),
        "{page}"
    );
    let r = b
        .post(&edit, &[("arguments", r#"{"name": "Grace"}"#)])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the form token is required"
    );

    let r = b
        .post(
            &edit,
            &[
                ("csrf", &token),
                ("arguments", r#"{"name": "Grace", "value_usd": 7}"#),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("&quot;value_usd&quot;: 7"));
    assert!(page.contains("- ") && page.contains("+ "));
    let new_sha = field(&page, "request_sha256");
    assert_ne!(new_sha, original);
    assert!(page.contains(&format!("<code id=\"new-request-sha256\">{new_sha}</code>")));
    assert_eq!(field(&page, "original_sha256"), original);
    assert_eq!(c.up.count(), 0, "checking an edit sends nothing");

    // Arguments swapped under the hash shown are refused.
    let approve = format!("/ui/actions/{id}/approve-edited");
    let r = b
        .post(
            &approve,
            &[
                ("csrf", &token),
                ("arguments", r#"{"name": "Mallory", "value_usd": 7}"#),
                ("original_sha256", &original),
                ("request_sha256", &new_sha),
                ("reason", "fixed the name"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(c.up.count(), 0);

    let r = b
        .post(
            &approve,
            &[
                ("csrf", &token),
                (
                    "arguments",
                    &field(&page, "arguments").replace("&quot;", "\""),
                ),
                ("original_sha256", &original),
                ("request_sha256", &new_sha),
                ("reason", "fixed the name"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(c.hits("/echo/risky"), 1);
    assert_eq!(
        serde_json::from_slice::<Value>(&c.up.last().body).unwrap(),
        json!({"name": "Grace", "value_usd": 7})
    );
    let (_, api) =
        c.gw.get(Some(&c.k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!(api["request"]["sha256"], new_sha.as_str());
    let approved: Vec<Value> = c
        .trail()
        .into_iter()
        .filter(|r| r["event"] == "approved")
        .collect();
    assert_eq!(approved[0]["approver_via"], "console");
    assert!(approved[0]["previous_request_sha256"].is_string());
}

#[tokio::test]
async fn the_cookie_is_secure_when_clients_reach_the_gateway_over_https() {
    let c = console("public_url: https://toolgate.example.com\n").await;
    let b = c.browser();
    let r = b.login(&c.k.alice).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    // Without Sec-Fetch-Site, the Origin must be public_url's.
    let post = |origin: &'static str| {
        b.http
            .post(b.url("/ui/login"))
            .header("origin", origin)
            .form(&[("key", c.k.bob.as_str())])
            .send()
    };
    assert_eq!(
        post("http://toolgate.example.com").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post("https://toolgate.example.com").await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
}
