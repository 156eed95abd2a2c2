//! Rotation under load: a credential file replaced while calls are in
//! flight fails none of them; and nothing toolgate stores holds a secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::support::{ConfigDir, Keys, TestGateway, canary, leaks};

#[tokio::test]
async fn a_rotation_under_load_fails_no_call_and_the_store_holds_no_secret() {
    let (v1, v2) = (canary("v1-"), canary("v2-"));
    // The vendor accepts both keys during the rotation window, and counts each.
    let accepted: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let app = {
        let (v1, v2, accepted) = (v1.clone(), v2.clone(), accepted.clone());
        axum::Router::new().fallback(move |h: HeaderMap| {
            let (v1, v2, accepted) = (v1.clone(), v2.clone(), accepted.clone());
            async move {
                let auth = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let which = if auth == format!("Bearer {v1}") {
                    0
                } else if auth == format!("Bearer {v2}") {
                    1
                } else {
                    return (StatusCode::UNAUTHORIZED, "no").into_response();
                };
                accepted[which].fetch_add(1, Ordering::Relaxed);
                axum::Json(json!({"ok": true, "echo": auth})).into_response()
            }
        })
    };
    use axum::response::IntoResponse;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });

    let keys = Keys::new();
    let dir = ConfigDir::new();
    let secret_file = dir.write("secrets/crm", &format!("{v1}\n"));
    dir.write(
        "tools/t.yaml",
        &format!(
            "name: t\ndescription: d\nscopes: [crm]\ninput_schema: {{ type: object, properties: {{ name: {{ type: string }} }} }}\n\
             upstream: {{ method: POST, url: \"http://{up}/x\", body: \"{{args}}\", credential: crm, allow_private_network: true }}\n"
        ),
    );
    dir.write(
        "tools/held.yaml",
        &format!(
            "name: held\ndescription: d\nscopes: [crm]\ninput_schema: {{ type: object }}\napproval: always\n\
             upstream: {{ method: POST, url: \"http://{up}/x\", body: \"{{args}}\", credential: crm, allow_private_network: true }}\n"
        ),
    );
    dir.write(
        "toolgate.yaml",
        &format!(
            "environment: test\ncredentials:\n  crm:\n    environment: test\n    source: {{ file: secrets/crm }}\n    inject: {{ header: Authorization, format: \"Bearer {{secret}}\" }}\n\
             workflows:\n  main: {{ environment: test, scopes: [crm], credentials: {{ crm: crm }} }}\n  other: {{ environment: test }}\n{}",
            keys.yaml()
        ),
    );
    let gw = Arc::new(TestGateway::start(&dir.config_path(), Default::default()).await);
    let failed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for i in 0..16 {
        let (gw, key, failed, done) =
            (gw.clone(), keys.agent.clone(), failed.clone(), done.clone());
        load.push(tokio::spawn(async move {
            for j in 0..40 {
                let (st, body, _) = gw
                    .call(&key, json!({"tool": "t", "arguments": {"name": format!("n{i}-{j}")}, "idempotency_key": format!("k{i}-{j}")}))
                    .await;
                if st != 200 {
                    eprintln!("failed call: {st} {body}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Rotate once the load is under way.
    while done.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tmp = dir.write("secrets/crm.next", &format!("{v2}\n"));
    std::fs::rename(&tmp, &secret_file).unwrap();
    for t in load {
        t.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls failed during the rotation"
    );
    assert!(accepted[0].load(Ordering::Relaxed) > 0 && accepted[1].load(Ordering::Relaxed) > 0);

    // Leave more state behind: a pending action, a session, a dead letter.
    gw.call(
        &keys.agent,
        json!({"tool": "held", "arguments": {"note": "pending"}}),
    )
    .await;
    let (st, v) = gw
        .post_json(
            &keys.agent,
            "/v1/sessions",
            json!({"ttl_seconds": 60, "subject": "user-1"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    std::fs::write(&secret_file, format!("{}\n", canary("rejected-"))).unwrap();
    let rejected = std::fs::read_to_string(&secret_file)
        .unwrap()
        .trim_end()
        .to_owned();
    gw.call(
        &keys.agent,
        json!({"tool": "t", "arguments": {"name": "dl"}}),
    )
    .await;

    // Nothing toolgate keeps on disk holds any secret it used.
    for file in ["data/toolgate.redb", "data/audit.jsonl"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [&v1, &v2, &rejected, &keys.agent] {
            assert!(!leaks(&text, secret), "{file} holds a secret");
        }
    }
}
