//! `/metrics`: the counts after a set of calls, read back with a Prometheus
//! text parser; unknown tool names add no series; no secret appears.

use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

use crate::support::calls_config::{leaks, setup};

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
    for i in 0..200 {
        assert_eq!(call(json!({"tool": format!("made_up_{i}")})).await, 404);
    }
    let (st, _) =
        s.gw.post_raw("tg_agent_wrong", "application/json", b"{}".to_vec())
            .await;
    assert_eq!(st, 401);

    let res = s.gw.http.get(s.gw.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = res.text().await.unwrap();
    for secret in [&s.secret, &s.basic_secret, &s.query_secret] {
        assert!(!leaks(&text, secret), "a secret reached /metrics");
    }
    assert!(
        !text.contains("made_up_"),
        "a caller's tool name became a label"
    );
    assert!(!text.contains(&s.keys.agent));
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");

    let calls = "toolgate_calls_total";
    let main = ("workflow", "main");
    let succeeded = [
        main,
        ("tool", "echo"),
        ("outcome", "succeeded"),
        ("via", "rest"),
    ];
    assert_eq!(total(&scrape, calls, &succeeded), 1.0, "{text}");
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
    assert_eq!(total(&scrape, calls, &unknown), 200.0);
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
        1.0
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
        1.0
    );
    assert!(text.contains("toolgate_build_info{version=\""), "{text}");
}
