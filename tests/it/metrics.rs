//! `/metrics`: the counts after a set of calls, read back with a Prometheus
//! text parser; unknown tool names add no series; no secret appears; the
//! gauges count what the store holds; `metrics.listen` moves the endpoint.

use std::net::SocketAddr;

use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

use crate::support::calls_config::{leaks, setup};
use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::{ConfigDir, Keys, TestGateway, bare_config, canary, process};

fn random_alphanumeric(n: usize) -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// `/metrics` of a gateway, parsed; also the text, to look for leaks.
async fn scrape(http: &reqwest::Client, url: &str) -> (Scrape, String) {
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = res.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    (parsed, text)
}

fn series(scrape: &Scrape, name: &str, want: &[(&str, &str)]) -> usize {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| want.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .count()
}

fn value(s: &Sample) -> f64 {
    match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        _ => f64::NAN,
    }
}

/// The sum of the samples named `name` whose labels include all of `want`.
fn total(scrape: &Scrape, name: &str, want: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| want.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(value)
        .sum()
}

#[tokio::test]
async fn calls_are_counted_by_configured_names_and_outcome() {
    let s = setup().await;
    let call = |body| {
        let api = s.gw.api.clone();
        let key = s.keys.agent.clone();
        async move { api.call(&key, body).await.0 }
    };
    assert_eq!(
        call(json!({"tool": "echo", "arguments": {"id": "1"}})).await,
        200
    );
    assert_eq!(call(json!({"tool": "echo", "arguments": {}})).await, 422);
    assert_eq!(
        call(json!({"tool": "status", "arguments": {"code": 401}})).await,
        502
    );
    for _ in 0..3 {
        call(json!({"tool": "limited"})).await;
    }
    // Names no workflow has: one series, whatever the names.
    for _ in 0..1000 {
        let name = format!("made_up_{}", random_alphanumeric(12));
        assert_eq!(call(json!({"tool": name})).await, 404);
    }
    let (st, _) =
        s.gw.post_raw("tg_agent_wrong", "application/json", b"{}".to_vec())
            .await;
    assert_eq!(st, 401);
    // Redactions of each kind a result can hold here.
    assert_eq!(call(json!({"tool": "leak"})).await, 200);
    assert_eq!(call(json!({"tool": "sensitive_result"})).await, 200);
    let token = crate::support::github_token();
    let echoed = json!({"tool": "echo", "arguments": {"id": "2", "nested": {"note": token}}});
    assert_eq!(call(echoed).await, 200);
    assert_eq!(call(json!({"tool": "missing_cred"})).await, 503);
    // An operator switches a credential off: its gauge says so.
    let (st, _) =
        s.gw.post_json(
            &s.keys.admin,
            "/v1/admin/credentials/query-key/disable",
            json!({"reason": "rotation drill"}),
        )
        .await;
    assert_eq!(st, 200);

    let (scrape, text) = scrape(&s.gw.http, &s.gw.url("/metrics")).await;
    for secret in [&s.secret, &s.basic_secret, &s.query_secret] {
        assert!(!leaks(&text, secret), "a secret reached /metrics");
    }
    assert!(
        !text.contains("made_up_"),
        "a caller's tool name became a label"
    );
    assert!(!text.contains(&s.keys.agent));

    let calls = "toolgate_calls_total";
    let main = ("workflow", "main");
    let succeeded = [
        main,
        ("tool", "echo"),
        ("outcome", "succeeded"),
        ("via", "rest"),
    ];
    assert_eq!(total(&scrape, calls, &succeeded), 2.0, "{text}");
    assert!(!text.contains(&token), "a token reached /metrics");
    let redactions = "toolgate_redactions_total";
    for kind in ["credential", "key", "pattern"] {
        assert!(
            total(&scrape, redactions, &[("kind", kind)]) >= 1.0,
            "no {kind} redaction counted: {text}"
        );
    }
    assert_eq!(total(&scrape, redactions, &[("kind", "pii")]), 0.0);
    let errors = "toolgate_credential_errors_total";
    let rejected_api = [("credential", "api-key"), ("code", "credential_rejected")];
    assert_eq!(total(&scrape, errors, &rejected_api), 1.0, "{text}");
    let unset = [
        ("credential", "unset-key"),
        ("code", "credential_unavailable"),
    ];
    assert_eq!(total(&scrape, errors, &unset), 1.0, "{text}");
    let enabled = "toolgate_credential_enabled";
    assert_eq!(total(&scrape, enabled, &[("credential", "query-key")]), 0.0);
    assert_eq!(total(&scrape, enabled, &[("credential", "api-key")]), 1.0);
    assert_eq!(series(&scrape, enabled, &[]), 4);
    // The two credential failures were kept for an operator.
    let letters = "toolgate_dead_letters";
    assert_eq!(
        total(&scrape, letters, &[("workflow", "main")]),
        2.0,
        "{text}"
    );
    assert_eq!(total(&scrape, letters, &[("workflow", "other")]), 0.0);
    assert_eq!(
        total(&scrape, "toolgate_pending_actions", &[("workflow", "main")]),
        0.0
    );
    // Env sources carry no age.
    assert_eq!(series(&scrape, "toolgate_credential_age_seconds", &[]), 0);
    assert_eq!(total(&scrape, "toolgate_store_errors_total", &[]), 0.0);
    let schema = [
        ("tool", "echo"),
        ("outcome", "refused"),
        ("code", "schema_violation"),
    ];
    assert_eq!(total(&scrape, calls, &schema), 1.0);
    let rejected = [
        ("tool", "status"),
        ("outcome", "failed"),
        ("code", "credential_rejected"),
    ];
    assert_eq!(total(&scrape, calls, &rejected), 1.0);
    let unknown = [("tool", "unknown"), ("code", "unknown_tool")];
    assert_eq!(total(&scrape, calls, &unknown), 1000.0);
    let unknown_series = scrape
        .samples
        .iter()
        .filter(|x| x.metric == calls && x.labels.get("tool") == Some("unknown"))
        .count();
    assert_eq!(unknown_series, 1);
    let limited = [("tool", "limited"), ("code", "rate_limited")];
    assert_eq!(total(&scrape, calls, &limited), 1.0, "{text}");
    assert_eq!(
        total(
            &scrape,
            "toolgate_rate_limited_total",
            &[("tool", "limited")]
        ),
        1.0
    );
    let up_2xx = [("tool", "echo"), ("status_class", "2xx")];
    assert_eq!(
        total(&scrape, "toolgate_upstream_requests_total", &up_2xx),
        2.0
    );
    let up_4xx = [("tool", "status"), ("status_class", "4xx")];
    assert_eq!(
        total(&scrape, "toolgate_upstream_requests_total", &up_4xx),
        1.0
    );
    let unauth = [("code", "unauthenticated")];
    assert_eq!(
        total(&scrape, "toolgate_unauthenticated_refusals_total", &unauth),
        1.0
    );
    assert!(total(&scrape, "toolgate_audit_records_total", &[]) >= 5.0);
    assert_eq!(total(&scrape, "toolgate_audit_low_space", &[]), 0.0);
    assert_eq!(total(&scrape, "toolgate_shed_total", &[]), 0.0);
    let gateway_time = [("tool", "echo"), ("part", "upstream")];
    assert_eq!(
        total(
            &scrape,
            "toolgate_call_duration_seconds_count",
            &gateway_time
        ),
        2.0
    );
    assert!(text.contains("toolgate_build_info{version=\""), "{text}");
}

#[tokio::test]
async fn held_actions_and_decisions_are_counted_by_workflow() {
    let s = crate::approvals::setup_notify("", &[]).await;
    let risky = json!({"name": "Ada"});
    let approved = s.pending("risky", risky.clone()).await;
    let denied = s.pending("risky", risky.clone()).await;
    let _waiting = s.pending("risky", risky.clone()).await;
    let expiring = s.pending("quick_expiry", risky.clone()).await;
    let decide = |id: &str, what: &str| {
        let path = format!("/v1/pending-actions/{id}/{what}");
        let key = s.k.alice.clone();
        let s = &s;
        async move { s.post(&key, &path, json!({"reason": "checked"})).await.0 }
    };
    assert_eq!(decide(&approved, "approve").await, 200);
    assert_eq!(decide(&denied, "deny").await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(decide(&expiring, "approve").await, 410);

    let (scrape, text) = scrape(&s.gw.http, &s.gw.url("/metrics")).await;
    assert!(!leaks(&text, &s.secret));
    let pending = "toolgate_pending_actions";
    assert_eq!(
        total(&scrape, pending, &[("workflow", "sales")]),
        1.0,
        "{text}"
    );
    assert_eq!(total(&scrape, pending, &[("workflow", "other")]), 0.0);
    let decisions = "toolgate_approvals_total";
    for (decision, n) in [("approved", 1.0), ("denied", 1.0), ("expired", 1.0)] {
        let want = [("workflow", "sales"), ("decision", decision)];
        assert_eq!(total(&scrape, decisions, &want), n, "{decision}: {text}");
    }
    let held = [("workflow", "sales"), ("outcome", "pending")];
    assert_eq!(total(&scrape, "toolgate_calls_total", &held), 4.0);
}

#[tokio::test]
async fn a_file_credential_shows_its_age_and_its_rejections() {
    let good = canary("good-");
    let bad = canary("bad-");
    let crm = SampleCrm::start(&good).await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    dir.write("secrets/crm", &bad);
    crm.write_create_tool(&dir);
    write_crm_config(&dir, &keys, "{ file: secrets/crm }", "");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let create = json!({"tool": "create", "arguments": {"name": "Ada"}});
    assert_eq!(gw.call(&keys.agent, create).await.0, 502);

    let (scrape, text) = scrape(&gw.http, &gw.url("/metrics")).await;
    assert!(!leaks(&text, &bad) && !leaks(&text, &good));
    assert!(
        !text.contains("secrets/crm"),
        "a source's path reached /metrics"
    );
    let age = scrape
        .samples
        .iter()
        .find(|s| s.metric == "toolgate_credential_age_seconds")
        .expect("the file's age is shown");
    assert_eq!(age.labels.get("credential"), Some("crm"));
    assert!((0.0..600.0).contains(&value(age)), "{text}");
    let rejected = [("credential", "crm"), ("code", "credential_rejected")];
    assert_eq!(
        total(&scrape, "toolgate_credential_errors_total", &rejected),
        1.0
    );
    assert_eq!(
        total(&scrape, "toolgate_dead_letters", &[("workflow", "main")]),
        1.0
    );
}

#[tokio::test]
async fn metrics_listen_serves_metrics_alone_on_its_own_address() {
    let (keys, dir) = bare_config("");
    let metrics_port = process::free_port();
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    dir.write(
        "toolgate.yaml",
        &format!("{config}metrics: {{ listen: \"127.0.0.1:{metrics_port}\" }}\n"),
    );
    let port = process::free_port();
    let proc = process::Proc::start(&dir.config_path(), port, &[]).await;
    let http = reqwest::Client::new();
    let main = SocketAddr::from(([127, 0, 0, 1], port));
    let own = SocketAddr::from(([127, 0, 0, 1], metrics_port));

    let res = http
        .get(format!("http://{main}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "the main listener still serves /metrics");
    let (scrape, text) = scrape(&http, &format!("http://{own}/metrics")).await;
    assert!(text.contains("toolgate_build_info{version=\""), "{text}");
    assert!(series(&scrape, "toolgate_pending_actions", &[("workflow", "main")]) == 1);
    // Nothing but /metrics there.
    for path in ["/v1/tools", "/healthz", "/openapi.json"] {
        let res = http
            .get(format!("http://{own}{path}"))
            .bearer_auth(&keys.agent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let (st, _) = proc.api.get(None, "/healthz").await;
    assert_eq!(st, 200);
}
