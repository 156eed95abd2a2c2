//! A failure before anything is sent leaves the item retryable: an
//! idempotency key refused by the rate limit or the build step, a dead-letter
//! retry or an approval whose audit record cannot be written, an approved
//! action whose credential is missing, and items whose process died before
//! dispatch.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use toolgate::actions::{self, Action, Decision, State};
use toolgate::audit::MemorySink;
use toolgate::digest::DigestKey;
use toolgate::request::FrozenRequest;
use toolgate::secrets::MapEnv;
use toolgate::store::{MemoryStore, Store};

use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary, code};

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(since.unwrap().as_millis()).unwrap()
}

/// Serve `config` with its audit records in `sink`, which a test can make fail.
async fn serve_with_sink(
    config: &Path,
    env: HashMap<String, String>,
    sink: Arc<MemorySink>,
) -> TestGateway {
    let parts = toolgate::Parts {
        audit: Some(sink),
        ..Default::default()
    };
    TestGateway::start_with_parts(config, Arc::new(MapEnv::new(env)), parts).await
}

fn tool(name: &str, base: &str, extra: &str, approval: &str) -> String {
    format!(
        r#"name: {name}
description: d
scopes: [crm]
input_schema:
  type: object
  additionalProperties: false
  properties:
    name: {{ type: string }}
    tag: {{ type: string }}
upstream:
  method: POST
  url: {base}/echo/{name}
  body: {{ name: "{{args.name}}" }}
{extra}  credential: crm
  allow_private_network: true
approval: {approval}
"#
    )
}

#[tokio::test]
async fn an_idempotency_key_refused_by_the_rate_limit_is_served_on_retry() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write(
        "tools/limited.yaml",
        &tool("limited", &up.base(), "", "never"),
    );
    dir.write(
        "tools/tagged.yaml",
        &tool(
            "tagged",
            &up.base(),
            "  headers: { x-tag: \"{args.tag}\" }\n",
            "never",
        ),
    );
    write_crm_config(
        &dir,
        &keys,
        "{ env: CRM_KEY }",
        "      limited: { rate_limit: { per_minute: 60, burst: 1 } }\n",
    );
    let env = HashMap::from([("CRM_KEY".to_owned(), canary("crm-"))]);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    let call = |key: &str| json!({"tool": "limited", "arguments": {"name": "Ada"}, "idempotency_key": key});

    let (st, body, _) = gw.call(&keys.agent, call("first")).await;
    assert_eq!(st, 200, "{body}");
    let (st, body, headers) = gw.call(&keys.agent, call("k")).await;
    assert_eq!((st, code(&body)), (429, "rate_limited"), "{body}");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(up.count(), 1);

    // The client does what it was told: waits, then retries with the same key.
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    let (st, first, _) = gw.call(&keys.agent, call("k")).await;
    assert_eq!(st, 200, "the retry after Retry-After is served: {first}");
    assert_eq!(up.count(), 2);
    // And the key now holds that call: a repeat is its answer, not a new call.
    let (st, again, _) = gw.call(&keys.agent, call("k")).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["audit_id"], first["audit_id"]);
    assert_eq!(up.count(), 2, "a replayed key sends nothing");

    // A call that fails to build claims nothing either.
    let bad = json!({"tool": "tagged", "arguments": {"name": "B", "tag": "a\r\nx-evil: 1"}, "idempotency_key": "b"});
    let (st, body, _) = gw.call(&keys.agent, bad).await;
    assert_eq!((st, code(&body)), (400, "bad_request"), "{body}");
    let good = json!({"tool": "tagged", "arguments": {"name": "B", "tag": "fine"}, "idempotency_key": "b"});
    let (st, body, _) = gw.call(&keys.agent, good).await;
    assert_eq!(st, 200, "the corrected call with the same key runs: {body}");
    assert_eq!(up.count(), 3);
}

#[tokio::test]
async fn a_dead_letter_retry_that_cannot_be_audited_stays_pending() {
    let good = canary("good-");
    let bad = canary("bad-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    let secret_file = dir.write("secrets/crm", &bad);
    crm.write_create_tool(&dir);
    write_crm_config(&dir, &keys, "{ file: secrets/crm }", "");
    let sink = Arc::new(MemorySink::new(None));
    let gw = serve_with_sink(&dir.config_path(), HashMap::new(), sink.clone()).await;
    let (st, body, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "create", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!((st, code(&body)), (502, "credential_rejected"), "{body}");
    let (_, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    let id = v["dead_letters"][0]["id"].as_str().unwrap().to_owned();
    std::fs::write(&secret_file, &good).unwrap();
    let accepted = || async { crm.accepted().await.len() };

    sink.set_failing(true);
    let retry = format!("/v1/admin/dead-letters/{id}/retry");
    let (st, body) = gw.post_json(&keys.admin, &retry, json!({})).await;
    assert_eq!((st, code(&body)), (503, "audit_unavailable"), "{body}");
    sink.set_failing(false);
    let (_, v) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    assert_eq!(v["dead_letters"][0]["state"], "pending", "{v}");
    assert_eq!(accepted().await, 0, "nothing was sent");

    let (st, v) = gw.post_json(&keys.admin, &retry, json!({})).await;
    assert_eq!(st, 200, "the letter is retried once the trail works: {v}");
    assert_eq!(v["state"], "retried");
    assert_eq!(accepted().await, 1);
    let (st, body) = gw.post_json(&keys.admin, &retry, json!({})).await;
    assert_eq!((st, code(&body)), (409, "conflict"), "{body}");
    assert_eq!(accepted().await, 1, "exactly once");

    // The failed attempt is not in the trail; the retry and its run are.
    let events: Vec<String> = sink
        .records()
        .await
        .iter()
        .map(|r| r.entry.event.map(|e| format!("{e:?}")).unwrap_or_default())
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "DeadLetterRetry").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "Executed").count(),
        1,
        "{events:?}"
    );
}

async fn pending_action(gw: &TestGateway, keys: &Keys) -> String {
    let (st, body, _) = gw
        .call(
            &keys.agent,
            json!({"tool": "risky", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    body["action_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_approval_that_cannot_be_audited_is_withdrawn_and_can_be_given_again() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write("tools/risky.yaml", &tool("risky", &up.base(), "", "always"));
    write_crm_config(&dir, &keys, "{ env: CRM_KEY }", "");
    let env = HashMap::from([("CRM_KEY".to_owned(), canary("crm-"))]);
    let sink = Arc::new(MemorySink::new(None));
    let gw = serve_with_sink(&dir.config_path(), env, sink.clone()).await;
    let id = pending_action(&gw, &keys).await;

    sink.set_failing(true);
    let approve = format!("/v1/pending-actions/{id}/approve");
    let (st, body) = gw
        .post_json(&keys.approver, &approve, json!({"reason": "ok"}))
        .await;
    assert_eq!((st, code(&body)), (503, "audit_unavailable"), "{body}");
    sink.set_failing(false);
    let (st, v) = gw
        .get(Some(&keys.approver), &format!("/v1/pending-actions/{id}"))
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["status"], "pending_approval", "{v}");
    assert_eq!(
        v["approvals"],
        json!([]),
        "the unrecorded approval was withdrawn"
    );
    assert_eq!(up.count(), 0);

    let (st, v) = gw
        .post_json(&keys.approver, &approve, json!({"reason": "ok"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "succeeded");
    assert_eq!(up.count(), 1, "sent exactly once");
    // A denial that cannot be recorded does not stand either.
    let id = pending_action(&gw, &keys).await;
    sink.set_failing(true);
    let (st, body) = gw
        .post_json(
            &keys.approver,
            &format!("/v1/pending-actions/{id}/deny"),
            json!({"reason": "no"}),
        )
        .await;
    assert_eq!((st, code(&body)), (503, "audit_unavailable"), "{body}");
    sink.set_failing(false);
    let (_, v) = gw
        .get(Some(&keys.approver), &format!("/v1/pending-actions/{id}"))
        .await;
    assert_eq!(v["status"], "pending_approval", "{v}");
}

#[tokio::test]
async fn an_approved_action_whose_credential_is_missing_goes_back_to_the_queue() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write("tools/risky.yaml", &tool("risky", &up.base(), "", "always"));
    write_crm_config(&dir, &keys, "{ file: secrets/crm }", "");
    let secret = canary("crm-");
    let gw = TestGateway::start(&dir.config_path(), HashMap::new()).await;
    let id = pending_action(&gw, &keys).await;
    let approve = format!("/v1/pending-actions/{id}/approve");

    let (st, body) = gw
        .post_json(&keys.approver, &approve, json!({"reason": "ok"}))
        .await;
    assert_eq!((st, code(&body)), (503, "credential_unavailable"), "{body}");
    let (_, v) = gw
        .get(Some(&keys.approver), &format!("/v1/pending-actions/{id}"))
        .await;
    assert_eq!(
        v["status"], "pending_approval",
        "nothing was sent, so it waits again: {v}"
    );
    let (_, letters) = gw.get(Some(&keys.admin), "/v1/admin/dead-letters").await;
    assert_eq!(
        letters["dead_letters"],
        json!([]),
        "the action itself is kept, not a letter"
    );
    assert_eq!(up.count(), 0);

    dir.write("secrets/crm", &secret);
    let (st, v) = gw
        .post_json(&keys.approver, &approve, json!({"reason": "ok"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "succeeded");
    assert_eq!(up.count(), 1);
    assert_eq!(
        up.last().headers["authorization"],
        format!("Bearer {secret}")
    );
}

fn frozen() -> FrozenRequest {
    let req = toolgate::request::UpstreamRequest {
        method: http::Method::POST,
        url: url::Url::parse("https://api.example.com/v1/x").unwrap(),
        headers: http::HeaderMap::new(),
        body: None,
    };
    FrozenRequest::freeze(&req, &DigestKey::random())
}

fn executing(dispatched: bool) -> Action {
    let now = now_ms();
    Action {
        id: actions::new_id(),
        state: State::Executing,
        workflow: "main".into(),
        agent: "bot".into(),
        tool: "risky".into(),
        call_id: "c".into(),
        created_at_ms: now,
        expires_at_ms: now + 60_000,
        lease_until_ms: now - 1,
        arguments: json!({}),
        args_sha256: DigestKey::random().json(&json!({})),
        request: frozen(),
        approvals_required: 2,
        approvals: ["alice", "bob"]
            .iter()
            .map(|by| Decision {
                by: (*by).into(),
                reason: "ok".into(),
                at_ms: now,
            })
            .collect(),
        denial: None,
        edits: Vec::new(),
        outcome: None,
        idempotency_key: None,
        subject: None,
        dispatched,
        via: None,
        mcp_session_sha256: None,
        model: None,
        orchestrator_reason: None,
    }
}

#[tokio::test]
async fn an_approved_action_abandoned_before_dispatch_is_requeued_and_after_it_is_unknown() {
    let store = MemoryStore::new();
    let before = executing(false);
    let after = executing(true);
    actions::create(&store, &before).await.unwrap();
    actions::create(&store, &after).await.unwrap();
    let swept = actions::sweep(&store).await.unwrap();
    assert_eq!(swept.requeued.len(), 1);
    assert_eq!(swept.settled.len(), 1);
    let back = actions::load(&store, &before.id).await.unwrap().unwrap();
    assert_eq!(back.state, State::PendingApproval);
    assert_eq!(
        back.approvals.len(),
        1,
        "the approval that could not be carried out is withdrawn"
    );
    assert_eq!(back.approvals[0].by, "alice");
    let open: Vec<String> = actions::open(&store)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(open, vec![before.id.clone()], "back in the open index");
    let gone = actions::load(&store, &after.id).await.unwrap().unwrap();
    assert_eq!(
        gone.state,
        State::Unknown,
        "it may have been sent: never re-sent"
    );
    // A record written before `dispatched` existed reads as dispatched.
    let mut old = serde_json::to_value(executing(false)).unwrap();
    old.as_object_mut().unwrap().remove("dispatched");
    let old: Action = serde_json::from_value(old).unwrap();
    assert!(old.dispatched);
    let _: &dyn Store = &store;
}

#[tokio::test]
async fn a_dead_letter_retry_abandoned_before_dispatch_is_pending_again() {
    use toolgate::dead_letters::record::{self, LetterState};
    let store = MemoryStore::new();
    let letter = |id: &str| record::DeadLetter {
        id: id.into(),
        state: LetterState::Pending,
        agent: Some("bot".into()),
        workflow: "main".into(),
        tool: "create".into(),
        call_id: None,
        code: "credential_rejected".into(),
        arguments: None,
        request: frozen(),
        created_at_ms: now_ms(),
        outcome: None,
        retried_by: None,
        subject: None,
        lease_until_ms: 0,
        dispatched: false,
        retain_until_ms: 0,
    };
    for id in ["dl_a", "dl_b"] {
        let bytes = serde_json::to_vec(&letter(id)).unwrap();
        store
            .insert_new(toolgate::store::Ns::DeadLetters, id, &bytes, None)
            .await
            .unwrap();
        let claimed = record::claim(&store, id, LetterState::Retrying, "secops")
            .await
            .unwrap();
        assert!(claimed.is_some());
    }
    assert!(record::mark_dispatched(&store, "dl_b").await.unwrap());
    // Leases still running: a periodic sweep leaves both alone.
    assert!(record::sweep(&store, false).await.unwrap().is_empty());
    // At start on a store no one else uses, both were abandoned.
    let mut swept = record::sweep(&store, true).await.unwrap();
    swept.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        swept.iter().map(|d| d.state).collect::<Vec<_>>(),
        vec![LetterState::Pending, LetterState::Unknown]
    );
    assert!(
        record::claim(&store, "dl_a", LetterState::Retrying, "secops")
            .await
            .unwrap()
            .is_some(),
        "pending again: it can be retried"
    );
}

/// A claim left with no action behind it (its process died, or the store
/// failed before the action was made and the claim could not be let go) is
/// taken over by the same call once older than the request timeout; a
/// recent one still answers "retry shortly".
#[tokio::test]
async fn an_abandoned_idempotency_claim_is_taken_over_by_the_same_call() {
    let s = crate::support::calls_config::setup().await;
    let args = json!({"id": "1"});
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // The deployment's digest key, as the gateway will read it from its store.
    let digest = DigestKey::kept_in(s.gw.gw.store.as_ref()).await.unwrap();
    for (key, at) in [("stale", now - 600_000), ("recent", now)] {
        let record = json!({"tool": "echo", "args_sha256": digest.json(&args),
                            "action_id": format!("act_gone_{key}"), "claimed_at_ms": at});
        s.gw.gw
            .store
            .insert_new(
                toolgate::store::Ns::Idempotency,
                &format!("test-agent\u{1f}{key}"),
                record.to_string().as_bytes(),
                None,
            )
            .await
            .unwrap();
    }
    let call = |key: &str, args: serde_json::Value| json!({"tool": "echo", "arguments": args, "idempotency_key": key});
    let (st, body, _) = s.gw.call(&s.keys.agent, call("recent", args.clone())).await;
    assert_eq!((st, code(&body)), (409, "conflict"), "{body}");
    assert_eq!(s.up.count(), 0);
    let (st, body, _) = s.gw.call(&s.keys.agent, call("stale", args.clone())).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(s.up.count(), 1);
    // Now the key holds this call's answer.
    let (st, again, _) = s.gw.call(&s.keys.agent, call("stale", args.clone())).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["audit_id"], body["audit_id"]);
    assert_eq!(s.up.count(), 1);
    let (st, body, _) =
        s.gw.call(&s.keys.agent, call("stale", json!({"id": "2"})))
            .await;
    assert_eq!((st, code(&body)), (409, "conflict"), "{body}");
}
