//! Exact approvals and keyed hashes: the approver sees every byte that
//! will be sent (token shapes flagged, not hidden) and can check the hash
//! of what they saw; what is sent is exactly that; and no stored or shown
//! record lets a low-entropy argument be recovered by trying every value.

use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::canary::rig;
use crate::support::leaks;

fn random_alphanumeric(n: usize) -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// SHA-256 of the request as the view shows it: method, URL, sorted
/// headers, a blank line, the body.
fn shown_sha256(request: &Value, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(request["method"].as_str().unwrap());
    h.update("\n");
    h.update(request["url"].as_str().unwrap());
    h.update("\n");
    for pair in request["headers"].as_array().unwrap() {
        h.update(format!(
            "{}: {}\n",
            pair[0].as_str().unwrap(),
            pair[1].as_str().unwrap()
        ));
    }
    h.update("\n");
    h.update(body);
    hex::encode(h.finalize())
}

#[tokio::test]
async fn the_approver_sees_and_approves_every_byte_that_is_sent() {
    let r = rig().await;
    let token = crate::support::github_token();
    let note = format!(
        "rotate with token={token} and password: hunter2-{}",
        random_alphanumeric(6)
    );
    let (st, held, _) =
        r.gw.call(
            &r.agent,
            json!({"tool": "risky", "arguments": {"note": note}}),
        )
        .await;
    assert_eq!(st, 202, "{held}");
    let id = held["action_id"].as_str().unwrap();
    let (st, view) =
        r.gw.get(Some(&r.approver), &format!("/v1/pending-actions/{id}"))
            .await;
    assert_eq!(st, 200, "{view}");

    // Shown as written, and flagged.
    assert_eq!(view["arguments"]["note"], json!(note));
    let request = &view["request"];
    let body_text = request["body_text"].as_str().unwrap();
    assert!(body_text.contains(&token), "{body_text}");
    let flags = view["flags"].as_array().unwrap();
    for at in ["/arguments/note", "/request/body"] {
        assert!(
            flags.iter().any(|f| f["at"] == at
                && f["kind"] == "token_shape"
                && f["detector"] == "github_token"),
            "no github_token flag at {at}: {flags:?}"
        );
    }
    // The credential is the one thing not shown: named, never its value.
    assert_eq!(request["credential"], json!({"slot": "crm", "name": "crm"}));
    assert!(!leaks(&view.to_string(), &r.secret));
    assert!(
        request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| !h[0].as_str().unwrap().eq_ignore_ascii_case("authorization"))
    );
    // The hash is over exactly what was shown.
    assert_eq!(
        request["sha256"].as_str().unwrap(),
        shown_sha256(request, body_text.as_bytes())
    );
    assert!(
        request["digest"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );

    // The webhook's summary hides the token and carries no plain hash.
    let notice = r
        .hooks
        .lock()
        .unwrap()
        .iter()
        .find(|h| h["event"] == "action.pending")
        .cloned()
        .expect("the pending action was announced");
    assert!(!notice.to_string().contains(&token), "{notice}");
    assert!(notice["request"].get("sha256").is_none(), "{notice}");

    // Approved: the upstream receives exactly the bytes shown.
    let (st, done) =
        r.gw.post_json(
            &r.approver,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "read every byte"}),
        )
        .await;
    assert_eq!(st, 200, "{done}");
    let sent = r.sent.lock().unwrap().clone();
    let (path, body) = sent.last().expect("sent");
    assert_eq!(path, "/risky");
    assert_eq!(body.as_slice(), body_text.as_bytes());
}

#[tokio::test]
async fn a_low_entropy_argument_cannot_be_recovered_from_any_record() {
    let r = rig().await;
    let pin = format!("{:04}", rand::rng().random_range(0..10_000));
    let args = json!({"note": pin});
    let (st, held, _) =
        r.gw.call(
            &r.agent,
            json!({"tool": "risky", "arguments": args, "idempotency_key": "pin-1"}),
        )
        .await;
    assert_eq!(st, 202, "{held}");
    let id = held["action_id"].as_str().unwrap().to_owned();
    let (_, view) =
        r.gw.get(Some(&r.approver), &format!("/v1/pending-actions/{id}"))
            .await;
    let (st, _) =
        r.gw.post_json(
            &r.approver,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "ok"}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, agent_view) = r.gw.get(Some(&r.agent), &format!("/v1/calls/{id}")).await;

    // Everything kept or shown to anyone but the approver.
    let trail = std::fs::read_to_string(r.dir.path().join("data/audit.jsonl")).unwrap();
    let store = std::fs::read(r.dir.path().join("data/toolgate.redb")).unwrap();
    let hooks = serde_json::to_string(&*r.hooks.lock().unwrap()).unwrap();
    let kept = [
        trail,
        String::from_utf8_lossy(&store).into_owned(),
        hooks,
        agent_view.to_string(),
    ];
    let request = &view["request"];
    let mut tried = 0;
    for guess in 0..10_000 {
        let guess = json!({"note": format!("{guess:04}")});
        let body = serde_json::to_vec(&guess).unwrap();
        let bare = [
            hex::encode(Sha256::digest(serde_json::to_string(&guess).unwrap())),
            shown_sha256(request, &body),
        ];
        for text in &kept {
            for h in &bare {
                assert!(
                    !text.contains(h.as_str()),
                    "a bare hash of the arguments or request is kept"
                );
            }
        }
        tried += 1;
    }
    assert_eq!(tried, 10_000);
    // The guess that is right does match the approver's own check.
    let body = serde_json::to_vec(&args).unwrap();
    assert_eq!(
        request["sha256"].as_str().unwrap(),
        shown_sha256(request, &body)
    );
}

#[tokio::test]
async fn a_tool_may_refuse_token_shapes_in_its_arguments() {
    let r = rig().await;
    let token = crate::support::github_token();
    let call = |tool: &str, note: &str| json!({"tool": tool, "arguments": {"note": note}});
    let before = r.sent();
    let (st, v, _) =
        r.gw.call(&r.agent, call("guarded", &format!("use {token}")))
            .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("secret_in_arguments")),
        "{v}"
    );
    assert!(v.to_string().contains("github_token"), "{v}");
    assert!(!v.to_string().contains(&token), "the token was echoed");
    assert_eq!(r.sent(), before, "the upstream was called");
    let trail = r.trail();
    let text = serde_json::to_string(&trail).unwrap();
    assert!(!text.contains(&token), "the token reached the trail");
    // Ordinary text passes; other tools take shapes (flagged if held).
    assert_eq!(r.gw.call(&r.agent, call("guarded", "hello")).await.0, 200);
    assert_eq!(
        r.gw.call(&r.agent, call("plain", &format!("use {token}")))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_token_in_a_caller_field_is_redacted_wherever_it_is_kept_or_shown() {
    let r = rig().await;
    let token = crate::support::github_token();
    let (st, held, _) =
        r.gw.call(
            &r.agent,
            json!({"tool": "risky", "arguments": {"note": "n"}, "call_id": format!("run-{token}"),
                   "model": format!("m {token}"), "reason": format!("because {token}")}),
        )
        .await;
    assert_eq!(st, 202, "{held}");
    let id = held["action_id"].as_str().unwrap();
    let (_, view) =
        r.gw.get(Some(&r.approver), &format!("/v1/pending-actions/{id}"))
            .await;
    assert!(
        view["call_id"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:pattern:github_token]"),
        "{view}"
    );
    let notice = loop {
        let found = r
            .hooks
            .lock()
            .unwrap()
            .iter()
            .find(|h| h["event"] == "action.pending")
            .cloned();
        if let Some(n) = found {
            break n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let trail = serde_json::to_string(&r.trail()).unwrap();
    for (what, text) in [
        ("the approver's view", view.to_string()),
        ("the webhook", notice.to_string()),
        ("the trail", trail),
    ] {
        assert!(!text.contains(&token), "the token reached {what}");
    }
}
