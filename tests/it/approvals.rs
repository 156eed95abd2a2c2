//! Approvals through the HTTP API: frozen requests, exactly-once execution,
//! the two-person rule, edits, expiry, denial, idempotency, long-poll, webhook.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use crate::support::approvals_config::{Approvers, approval_config};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, TestGateway, canary, code, golden, leaks};

pub struct Setup {
    pub gw: TestGateway,
    pub up: Upstream,
    pub k: Approvers,
    pub secret: String,
    pub dir: ConfigDir,
}

pub async fn setup_notify(notify: &str, extra_env: &[(&str, &str)]) -> Setup {
    let up = Upstream::start().await;
    let (config, tools, k) = approval_config(&up.base(), notify);
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    dir.write("toolgate.yaml", &config);
    let secret = canary("crm-");
    let mut env = HashMap::from([("CRM_KEY".to_owned(), secret.clone())]);
    for (k, v) in extra_env {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let gw = TestGateway::start(&dir.config_path(), env).await;
    Setup {
        gw,
        up,
        k,
        secret,
        dir,
    }
}

async fn setup() -> Setup {
    setup_notify("", &[]).await
}

impl Setup {
    pub async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.gw.post_json(key, path, body).await
    }

    pub async fn pending(&self, tool: &str, args: Value) -> String {
        let (st, body, _) = self
            .gw
            .call(&self.k.agent, json!({"tool": tool, "arguments": args}))
            .await;
        assert_eq!(st, 202, "{body}");
        assert_eq!(body["status"], "pending_approval");
        assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
        body["action_id"].as_str().unwrap().to_owned()
    }

    fn hits(&self, path: &str) -> usize {
        self.up.requests().iter().filter(|r| r.path == path).count()
    }
}

#[tokio::test]
async fn an_approved_action_sends_exactly_the_frozen_request_once() {
    let s = setup().await;
    let id = s
        .pending("risky", json!({"name": "Ada", "value_usd": 5}))
        .await;
    assert_eq!(s.up.count(), 0, "nothing is sent before approval");

    // The approver sees the frozen request, without any credential.
    let (st, list) = s.gw.get(Some(&s.k.alice), "/v1/pending-actions").await;
    assert_eq!(st, 200);
    let item = &list["actions"][0];
    assert_eq!(item["action_id"], id);
    assert_eq!(item["request"]["method"], "POST");
    assert_eq!(
        item["request"]["body"],
        json!({"name": "Ada", "value_usd": 5})
    );
    assert!(
        item["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/echo/risky")
    );
    assert!(!leaks(&list.to_string(), &s.secret));
    let frozen_sha = item["request"]["sha256"].as_str().unwrap().to_owned();

    let (st, done) = s
        .post(
            &s.k.alice,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "looks right"}),
        )
        .await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["request"]["sha256"], frozen_sha);
    assert_eq!(s.hits("/echo/risky"), 1);
    let sent = s.up.last();
    assert_eq!(
        sent.headers["authorization"].to_str().unwrap(),
        format!("Bearer {}", s.secret)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        json!({"name": "Ada", "value_usd": 5})
    );

    let (st, v) = s.gw.get(Some(&s.k.agent), &format!("/v1/calls/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["upstream_status"], 200);
    assert_eq!(v["result"]["path"], "/echo/risky");
    assert!(!leaks(&v.to_string(), &s.secret));
    // Approving again changes nothing.
    let (st, v) = s
        .post(
            &s.k.bob,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "late"}),
        )
        .await;
    assert_eq!((st, code(&v)), (409, "conflict"));
    assert_eq!(s.hits("/echo/risky"), 1);
}

#[tokio::test]
async fn twenty_racing_approvals_send_one_request() {
    let s = Arc::new(setup().await);
    let id = s.pending("risky", json!({"name": "Race"})).await;
    let keys: Vec<String> = [s.k.alice.clone(), s.k.bob.clone()]
        .into_iter()
        .chain(s.k.more.iter().cloned())
        .collect();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let key = keys[i % keys.len()].clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            s.post(
                &key,
                &format!("/v1/pending-actions/{id}/approve"),
                json!({"reason": "go"}),
            )
            .await
            .0
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let st = t.await.unwrap();
        assert!(st == 200 || st == 409, "status {st}");
        if st == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one approval is accepted");
    assert_eq!(s.hits("/echo/risky"), 1, "exactly one upstream request");
}

#[tokio::test]
async fn two_person_rule_needs_two_distinct_approvers() {
    let s = setup().await;
    let id = s.pending("two_person", json!({"name": "Two"})).await;
    let path = format!("/v1/pending-actions/{id}/approve");
    let (st, v) = s.post(&s.k.alice, &path, json!({"reason": "one"})).await;
    assert_eq!(st, 200);
    assert_eq!(v["status"], "pending_approval");
    assert_eq!(v["approvals"].as_array().unwrap().len(), 1);
    let (st, v) = s
        .post(&s.k.alice, &path, json!({"reason": "me again"}))
        .await;
    assert_eq!((st, code(&v)), (409, "conflict"));
    assert_eq!(s.hits("/echo/two"), 0);
    let (st, v) = s.post(&s.k.bob, &path, json!({"reason": "two"})).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("succeeded")));
    assert_eq!(s.hits("/echo/two"), 1);
}

#[tokio::test]
async fn an_edit_is_validated_frozen_and_hashed_again() {
    let s = setup().await;
    let id = s
        .pending("risky", json!({"name": "Original", "value_usd": 100}))
        .await;
    let path = format!("/v1/pending-actions/{id}/approve");
    let (_, before) =
        s.gw.get(Some(&s.k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
    let (st, v) = s
        .post(
            &s.k.alice,
            &path,
            json!({"reason": "fix", "arguments": {"name": "x".repeat(50)}}),
        )
        .await;
    assert_eq!((st, code(&v)), (422, "schema_violation"));
    let (st, v) = s
        .post(
            &s.k.alice,
            &path,
            json!({"reason": "fix", "arguments": {"name": "Edited", "extra": 1}}),
        )
        .await;
    assert_eq!((st, code(&v)), (422, "schema_violation"));
    assert_eq!(s.up.count(), 0);
    let (st, v) = s
        .post(&s.k.alice, &path, json!({"reason": "corrected the name", "arguments": {"name": "Edited", "value_usd": 90}}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "succeeded");
    let edit = &v["edits"][0];
    // Edits and records keep keyed digests; the approver's view also has
    // the plain SHA-256 of what it shows.
    assert_eq!(edit["previous_request_sha256"], before["request"]["digest"]);
    assert_eq!(edit["previous_args_sha256"], before["args_sha256"]);
    assert_ne!(edit["request_sha256"], edit["previous_request_sha256"]);
    assert_eq!(edit["request_sha256"], v["request"]["digest"]);
    for d in [&edit["request_sha256"], &edit["args_sha256"]] {
        assert!(d.as_str().unwrap().starts_with("hmac-sha256:"), "{d}");
    }
    assert_ne!(v["request"]["sha256"], before["request"]["sha256"]);
    // The audit trail holds both requests: the one held, and the edited one approved and sent.
    let trail = std::fs::read_to_string(s.dir.path().join("data/audit.jsonl")).unwrap();
    let records: Vec<Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mine: Vec<&Value> = records
        .iter()
        .filter(|r| r["action_id"] == id.as_str())
        .collect();
    let pending = mine.iter().find(|r| r["event"] == "pending").unwrap();
    let approved = mine.iter().find(|r| r["event"] == "approved").unwrap();
    let executed = mine.iter().find(|r| r["event"] == "executed").unwrap();
    assert_eq!(pending["request_sha256"], edit["previous_request_sha256"]);
    assert_eq!(
        approved["previous_request_sha256"],
        edit["previous_request_sha256"]
    );
    assert_eq!(approved["request_sha256"], edit["request_sha256"]);
    assert_eq!(executed["request_sha256"], edit["request_sha256"]);
    assert_eq!(approved["approver"], "alice");
    assert!(
        toolgate::audit::verify::verify(&[s.dir.path().join("data/audit.jsonl")], None).intact()
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&s.up.last().body).unwrap(),
        json!({"name": "Edited", "value_usd": 90})
    );
}

#[tokio::test]
async fn expiry_is_reported_as_expired_not_denied() {
    let s = setup().await;
    let id = s.pending("quick_expiry", json!({"name": "Late"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (st, v) = s
        .post(
            &s.k.alice,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!((st, code(&v)), (410, "approval_expired"));
    let (_, v) = s.gw.get(Some(&s.k.agent), &format!("/v1/calls/{id}")).await;
    assert_eq!(v["status"], "expired");
    assert_eq!(v["error"]["code"], "approval_expired");
    assert_eq!(s.up.count(), 0);
}

#[tokio::test]
async fn denial_reaches_the_agent_with_its_reason() {
    let s = setup().await;
    let id = s.pending("risky", json!({"name": "No"})).await;
    let (st, v) = s
        .post(
            &s.k.bob,
            &format!("/v1/pending-actions/{id}/deny"),
            json!({"reason": "not this customer"}),
        )
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("denied")));
    let (_, v) = s.gw.get(Some(&s.k.agent), &format!("/v1/calls/{id}")).await;
    assert_eq!(v["status"], "denied");
    assert_eq!(v["error"]["code"], "approval_denied");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not this customer")
    );
    let (st, v) = s
        .post(
            &s.k.alice,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "override"}),
        )
        .await;
    assert_eq!((st, code(&v)), (409, "conflict"));
    assert_eq!(s.up.count(), 0);
}

#[tokio::test]
async fn only_approvers_of_the_workflow_may_see_or_decide() {
    let s = setup().await;
    let id = s.pending("risky", json!({"name": "Mine"})).await;
    let path = format!("/v1/pending-actions/{id}/approve");
    // An agent key is not an approver key; neither can an approver of another workflow decide.
    let (st, v) = s.post(&s.k.agent, &path, json!({"reason": "self"})).await;
    assert_eq!((st, code(&v)), (403, "forbidden"));
    let (st, v) = s
        .post(&s.k.carol_other, &path, json!({"reason": "outsider"}))
        .await;
    assert_eq!((st, code(&v)), (404, "not_found"));
    let (st, v) =
        s.gw.get(Some(&s.k.carol_other), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!((st, code(&v)), (404, "not_found"));
    let (_, v) =
        s.gw.get(Some(&s.k.carol_other), "/v1/pending-actions")
            .await;
    assert_eq!(v["actions"], json!([]));
    // Decisions need a reason.
    let (st, v) = s.post(&s.k.alice, &path, json!({})).await;
    assert_eq!((st, code(&v)), (400, "bad_request"));
    // Agents see only their own actions.
    let (st, _) = s.gw.get(Some(&s.k.alice), &format!("/v1/calls/{id}")).await;
    assert_eq!(st, 403);
    assert_eq!(s.up.count(), 0);
}

#[tokio::test]
async fn an_approver_named_like_the_requesting_agent_cannot_approve_its_action() {
    let s = setup().await;
    let id = s.pending("risky", json!({"name": "Self"})).await;
    let path = format!("/v1/pending-actions/{id}/approve");
    // Approver `bot` may see the action (it is listed for `sales`)...
    let (st, v) =
        s.gw.get(Some(&s.k.namesake), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!((st, v["agent"].as_str()), (200, Some("bot")), "{v}");
    // ...but the action names `bot` as its requester: no self-approval.
    let (st, v) = s
        .post(&s.k.namesake, &path, json!({"reason": "mine"}))
        .await;
    assert_eq!((st, code(&v)), (403, "forbidden"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requested an action cannot approve it"),
        "{v}"
    );
    let (_, v) =
        s.gw.get(Some(&s.k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!(v["status"], "pending_approval");
    assert_eq!(v["approvals"], json!([]));
    assert_eq!(s.up.count(), 0);
    // Anyone else of the workflow still can.
    let (st, v) = s.post(&s.k.alice, &path, json!({"reason": "ok"})).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("succeeded")), "{v}");
    assert_eq!(s.hits("/echo/risky"), 1);
}

#[tokio::test]
async fn the_approver_view_of_a_pending_action_matches_its_golden_file() {
    let s = setup().await;
    let id = s
        .pending("two_person", json!({"name": "Golden", "value_usd": 12.5}))
        .await;
    let (st, v) =
        s.gw.get(Some(&s.k.alice), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!(st, 200, "{v}");
    assert!(!leaks(&v.to_string(), &s.secret));
    // The request hash covers the upstream URL, whose port is random.
    let text = golden::normalise_json(
        &v,
        &[(&s.up.base(), "http://UPSTREAM")],
        &["sha256", "digest", "args_sha256"],
    );
    golden::check("approver_view.json", &text);
}

#[tokio::test]
async fn when_matches_holds_only_matching_calls() {
    let s = setup().await;
    let (st, body, _) =
        s.gw.call(
            &s.k.agent,
            json!({"tool": "big_deals", "arguments": {"name": "Small", "value_usd": 500}}),
        )
        .await;
    assert_eq!((st, body["status"].as_str()), (200, Some("succeeded")));
    s.pending("big_deals", json!({"name": "Big", "value_usd": 25000}))
        .await;
    assert_eq!(s.hits("/echo/deals"), 1);
}

#[tokio::test]
async fn idempotent_retries_return_the_same_action_and_result() {
    let s = setup().await;
    let call =
        json!({"tool": "plain", "arguments": {"name": "Once"}, "idempotency_key": "retry-1"});
    let (st1, b1, _) = s.gw.call(&s.k.agent, call.clone()).await;
    let (st2, b2, _) = s.gw.call(&s.k.agent, call.clone()).await;
    assert_eq!((st1, st2), (200, 200), "{b1} {b2}");
    assert_eq!(b1["result"], b2["result"]);
    assert!(b2["action_id"].is_string());
    assert_eq!(s.hits("/echo/plain"), 1, "the retry was not sent again");
    let (st, v, _) =
        s.gw.call(
            &s.k.agent,
            json!({"tool": "plain", "arguments": {"name": "Other"}, "idempotency_key": "retry-1"}),
        )
        .await;
    assert_eq!((st, code(&v)), (409, "conflict"));

    // With approval: the retry finds the same pending action.
    let held =
        json!({"tool": "risky", "arguments": {"name": "Held"}, "idempotency_key": "retry-2"});
    let (st1, b1, _) = s.gw.call(&s.k.agent, held.clone()).await;
    let (st2, b2, _) = s.gw.call(&s.k.agent, held.clone()).await;
    assert_eq!((st1, st2), (202, 202));
    assert_eq!(b1["action_id"], b2["action_id"]);
    let id = b1["action_id"].as_str().unwrap();
    s.post(
        &s.k.alice,
        &format!("/v1/pending-actions/{id}/approve"),
        json!({"reason": "ok"}),
    )
    .await;
    let (st3, b3, _) = s.gw.call(&s.k.agent, held).await;
    assert_eq!((st3, b3["status"].as_str()), (200, Some("succeeded")));
    assert_eq!(s.hits("/echo/risky"), 1);
}

#[tokio::test]
async fn long_poll_returns_when_the_action_completes() {
    let s = Arc::new(setup().await);
    let id = s.pending("risky", json!({"name": "Wait"})).await;
    let approver = {
        let s = s.clone();
        let id = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            s.post(
                &s.k.alice,
                &format!("/v1/pending-actions/{id}/approve"),
                json!({"reason": "ok"}),
            )
            .await
        })
    };
    let started = Instant::now();
    let (st, v) =
        s.gw.get(Some(&s.k.agent), &format!("/v1/calls/{id}?wait=20"))
            .await;
    let waited = started.elapsed();
    assert_eq!(st, 200);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    approver.await.unwrap();
    // Without wait, the current state at once.
    let id2 = s.pending("risky", json!({"name": "Now"})).await;
    let (_, v) =
        s.gw.get(Some(&s.k.agent), &format!("/v1/calls/{id2}"))
            .await;
    assert_eq!(v["status"], "pending_approval");
}

#[tokio::test]
async fn the_webhook_is_signed_and_holds_no_secret() {
    use hmac::{Hmac, Mac};
    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Received = Arc::default();
    let hook = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let received = received.clone();
                    async move {
                        let sig = headers["x-toolgate-signature"].to_str().unwrap().to_owned();
                        received.lock().unwrap().push((sig, body.to_vec()));
                        "ok"
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hook).await });
    let hook_secret = canary("hook-");
    let notify = format!(
        "    notify: {{ webhook: \"http://{addr}/hook\", secret: {{ env: HOOK_SECRET }} }}\n"
    );
    let s = setup_notify(&notify, &[("HOOK_SECRET", &hook_secret)]).await;
    let id = s.pending("risky", json!({"name": "Ping"})).await;
    let mut got = None;
    for _ in 0..50 {
        if let Some(x) = received.lock().unwrap().first().cloned() {
            got = Some(x);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sig, body) = got.expect("the webhook was called");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["event"], "action.pending");
    assert_eq!(v["action_id"], id);
    assert_eq!(v["tool"], "risky");
    assert_eq!(v["workflow"], "sales");
    let text = String::from_utf8_lossy(&body);
    assert!(!leaks(&text, &s.secret) && !leaks(&text, &hook_secret));
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(hook_secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("valid signature");
}
