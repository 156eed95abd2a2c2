//! The API document: what the real binary serves at `/openapi.json` is what
//! `toolgate openapi` prints, it is OpenAPI 3.1, and the router serves
//! exactly the operations it lists.

use serde_json::Value;

use crate::support::bare_gateway;
use crate::support::process::toolgate;

/// What `toolgate openapi` prints, run where there is no config at all.
fn printed() -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = toolgate()
        .arg("openapi")
        .current_dir(dir.path())
        .env("TOOLGATE_CONFIG", dir.path().join("absent.yaml"))
        .output()
        .expect("run toolgate openapi");
    assert!(out.status.success(), "toolgate openapi failed: {out:?}");
    serde_json::from_slice(&out.stdout).expect("the printed document is JSON")
}

#[tokio::test]
async fn the_served_document_is_the_printed_one_and_is_openapi_3_1() {
    let (gw, _keys, _dir) = bare_gateway("").await;
    // No credential needed.
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(gw.proc.api.url("/openapi.json"))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let served: Value = r.json().await.expect("served document is JSON");
    assert_eq!(served, printed());
    assert_eq!(served["openapi"], "3.1.0");
    assert!(served["paths"]["/openapi.json"]["get"].is_object());
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "no-such-thing"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

const NO_ROUTE: &str = "no such endpoint";
const NO_METHOD: &str = "this endpoint does not accept that method";

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_router_serves_each_documented_operation_and_no_other_method() {
    let (gw, keys, _dir) = bare_gateway("").await;
    let doc = printed();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let methods = ["get", "post", "put", "patch", "delete"];
    for (path, item) in paths {
        let url = concrete(path);
        let item = item.as_object().unwrap();
        for method in methods {
            // An admin key reaches every handler: the others refuse it there.
            let (status, body, _) = gw
                .proc
                .api
                .request(
                    &method.to_uppercase(),
                    Some(&keys.admin),
                    &url,
                    (method != "get").then(|| serde_json::json!({"reason": "routing test"})),
                )
                .await;
            if item.contains_key(method) {
                assert!(
                    message(&body) != NO_ROUTE && message(&body) != NO_METHOD,
                    "{method} {path} is documented but not routed: {status} {body}"
                );
                assert!(
                    item[method]["responses"]
                        .as_object()
                        .unwrap()
                        .contains_key(&status.to_string()),
                    "{method} {path} answered {status}, which it does not document: {body}"
                );
            } else {
                assert_eq!(
                    (status, message(&body)),
                    (400, NO_METHOD),
                    "{method} {path} is routed but not documented"
                );
            }
        }
    }
    let (status, body) = gw.get(Some(&keys.admin), "/v1/no-such-endpoint").await;
    assert_eq!((status, message(&body)), (404, NO_ROUTE));
}
