//! The audit trail: written by real calls, verified, tampered with, starved
//! of disk, and killed mid-write. The sinks' shared contract is in
//! `conformance`, the canonical form's golden vector in `golden`, per-replica
//! chains on Redis in `chains`.

mod chains;
mod conformance;
mod golden;
mod sinks;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use toolgate::audit::verify::verify;

use crate::calls::{leaks, setup};
use crate::support::code;
use crate::support::process::toolgate;
use crate::support::tmpfs::Tmpfs;

fn trail(dir: &Path) -> PathBuf {
    dir.join("data/audit.jsonl")
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(p: &Path, lines: &[String]) {
    std::fs::write(p, lines.join("\n") + "\n").unwrap();
}

/// `toolgate audit verify` with these arguments: whether it exited 0, and its stdout.
fn audit_verify(args: &[&OsStr]) -> (bool, String) {
    let out = toolgate()
        .args(["audit", "verify"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn kind(p: &Path) -> Option<&'static str> {
    verify(&[p.to_path_buf()], None).problem.map(|p| p.kind)
}

#[tokio::test]
async fn real_calls_leave_a_verifiable_trail_without_secrets() {
    let s = setup().await;
    let (st, body, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "leak", "call_id": "c-audit"}))
            .await;
    assert_eq!(st, 200);
    let audit_id = body["audit_id"].as_str().unwrap().to_owned();
    s.gw.call(&s.keys.agent, json!({"tool": "echo_basic"}))
        .await;
    s.gw.call(&s.keys.agent, json!({"tool": "echo_query"}))
        .await;
    s.gw.call(
        &s.keys.agent,
        json!({"tool": "status", "arguments": {"code": 401}}),
    )
    .await;
    s.gw.call(&s.keys.agent, json!({"tool": "no_such_tool"}))
        .await;
    s.gw.call(
        "tg_agent_wrong",
        json!({"tool": "echo", "arguments": {"id": "1"}}),
    )
    .await;
    let path = trail(s.dir.path());
    let report = verify(std::slice::from_ref(&path), None);
    assert!(report.intact(), "{report:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [&s.secret, &s.basic_secret, &s.query_secret] {
        assert!(!leaks(&text, secret), "a secret reached the audit trail");
    }
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(events[0], "config_loaded");
    // executing is written before the upstream is called, executed after.
    let i = records
        .iter()
        .position(|r| r["call_id"] == "c-audit" && r["event"] == "executing")
        .unwrap();
    assert_eq!(records[i + 1]["event"], "executed");
    assert_eq!(records[i + 1]["upstream_status"], 200);
    assert_eq!(records[i]["credential"], "api-key");
    assert_eq!(
        records[i]["credential_fingerprint"].as_str().unwrap().len(),
        32
    );
    let seq = records[i + 1]["seq"].as_u64().unwrap();
    assert!(audit_id.starts_with(&format!("{seq}:")));
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "failed" && r["code"] == "credential_rejected")
    );
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "call_denied" && r["code"] == "unknown_tool")
    );
    // A wrong key is refused before its body is read, and counted, not
    // recorded one by one (see `limits::anonymous_refusals_are_counted…`).
    assert!(
        !records
            .iter()
            .any(|r| r["event"] == "call_denied" && r["code"] == "unauthenticated")
    );

    // The binary agrees.
    let (ok, text) = audit_verify(&[path.as_os_str()]);
    assert!(ok, "{text}");
    assert!(text.starts_with("intact:"));
}

#[tokio::test]
async fn numbers_that_parse_hard_still_verify() {
    // Floats whose shortest decimal form the default float parser reads
    // back one unit off: the trail keeps the caller's arguments, sealed,
    // and the seal must hold when the record is read back.
    let s = setup().await;
    let hard = [
        "2.2250738585072014e-308",
        "0.30000000000000004",
        "1.7976931348623157e308",
        "5e-324",
        "9007199254740993.0",
        "0.1000000000000000055511151231257827",
        "2.4703282292062328e-324",
        "123456789.12345679",
        "1.0000000000000002",
        "8.98846567431158e307",
        "4.9406564584124654e-324",
        "7.2057594037927933e16",
    ];
    for (i, h) in hard.iter().enumerate() {
        let body = format!(
            r#"{{"tool":"echo","arguments":{{"id":"{i}","nested":{{"f":{h},"list":[{h},-{h}]}}}}}}"#
        );
        let (st, _) =
            s.gw.post_raw(&s.keys.agent, "application/json", body.into_bytes())
                .await;
        assert_eq!(st, 200, "{h}");
    }
    let path = trail(s.dir.path());
    let report = verify(std::slice::from_ref(&path), None);
    assert!(report.intact(), "{report:?}");
    let (ok, text) = audit_verify(&[path.as_os_str()]);
    assert!(ok, "{text}");
}

#[tokio::test]
async fn each_kind_of_tampering_is_named() {
    let s = setup().await;
    for i in 0..6 {
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": format!("t{i}")}}),
        )
        .await;
    }
    let original = lines(&trail(s.dir.path()));
    assert!(original.len() >= 12);
    let copy = s.dir.path().join("copy.jsonl");

    // One byte of a middle record.
    let mut l = original.clone();
    l[5] = l[5].replacen("\"executing\"", "\"executinG\"", 1).replacen(
        "\"executed\"",
        "\"executeD\"",
        1,
    );
    assert_ne!(l[5], original[5]);
    write_lines(&copy, &l);
    let r = verify(std::slice::from_ref(&copy), None);
    assert_eq!(
        r.problem.as_ref().map(|p| (p.kind, p.line)),
        Some(("edited", 6))
    );

    // A deleted line.
    let mut l = original.clone();
    l.remove(4);
    write_lines(&copy, &l);
    assert_eq!(kind(&copy), Some("missing"));

    // Two swapped lines.
    let mut l = original.clone();
    l.swap(3, 4);
    write_lines(&copy, &l);
    assert_eq!(kind(&copy), Some("reordered"));

    // A torn last line.
    let mut text = original.join("\n") + "\n";
    text.push_str(&original[2][..original[2].len() / 2]);
    std::fs::write(&copy, text).unwrap();
    assert_eq!(kind(&copy), Some("torn_tail"));

    // The untouched trail is intact, and the CLI exits non-zero on a bad one.
    write_lines(&copy, &original);
    assert_eq!(kind(&copy), None);
    let mut l = original.clone();
    l.swap(7, 8);
    write_lines(&copy, &l);
    let (ok, text) = audit_verify(&[copy.as_os_str()]);
    assert!(!ok);
    assert!(text.starts_with("reordered:"));
}

#[tokio::test]
async fn a_full_disk_fails_calls_closed_and_service_returns_by_itself() {
    // A 256 KiB tmpfs for the audit trail, filled up mid-run.
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(dir.path()) else {
        return;
    };
    let audit_path = mnt.path().join("audit.jsonl");
    let s = crate::calls::setup_with(&format!(
        "audit: {{ kind: file, path: \"{}\" }}\n",
        audit_path.display()
    ))
    .await;
    let call = json!({"tool": "echo", "arguments": {"id": "1"}});
    assert_eq!(s.gw.call(&s.keys.agent, call.clone()).await.0, 200);

    mnt.fill();
    // The trail's last page may still hold a few records; then writes fail.
    let mut refused = false;
    for _ in 0..100 {
        let before = s.up.count();
        let (st, body, headers) = s.gw.call(&s.keys.agent, call.clone()).await;
        if st == 200 {
            continue;
        }
        assert_eq!((st, code(&body)), (503, "audit_unavailable"), "{body}");
        assert!(headers.contains_key("retry-after"));
        assert_eq!(
            s.up.count(),
            before,
            "the upstream was called without an audit record"
        );
        refused = true;
        break;
    }
    assert!(refused, "the full disk never refused a call");
    let (st, v) = s.gw.get(None, "/readyz").await;
    assert_eq!(
        (st, v["checks"]["audit"]["ok"].as_bool()),
        (503, Some(false))
    );
    assert_eq!(v["not_ready"], json!(["audit", "credentials:env"]), "{v}");

    // Free the disk: service returns by itself, and the chain is whole.
    mnt.free();
    let (st, body, _) = s.gw.call(&s.keys.agent, call.clone()).await;
    assert_eq!(st, 200, "{body}");
    assert!(s.gw.gw.audit.is_healthy());
    let report = verify(std::slice::from_ref(&audit_path), None);
    assert!(report.intact(), "{report:?}");
}

#[tokio::test]
async fn signed_checkpoints_catch_truncation_and_rewrites() {
    use toolgate::audit::chain::hash_value;
    use toolgate::audit::checkpoint::{self, Checkpoint};
    use toolgate::audit::verify::verify_with;

    let s = crate::calls::setup_with(
        "audit: { kind: file, signing_key: { env: TEST_API_KEY }, checkpoint_interval_seconds: 1 }\n",
    )
    .await;
    for i in 0..3 {
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": format!("c{i}")}}),
        )
        .await;
    }
    let (st, head) = s.gw.get(Some(&s.keys.admin), "/v1/admin/audit/head").await;
    assert_eq!(st, 200, "{head}");
    let (st, _) = s.gw.get(Some(&s.keys.agent), "/v1/admin/audit/head").await;
    assert_eq!(st, 403);
    let cp: Checkpoint = serde_json::from_value(head).unwrap();
    assert!(checkpoint::check_signature(&cp, &cp.key));
    for i in 0..3 {
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": format!("d{i}")}}),
        )
        .await;
    }
    let path = trail(s.dir.path());
    let cps = vec![cp.clone()];
    assert!(verify_with(std::slice::from_ref(&path), None, &cps, Some(&cp.key)).intact());

    // The background checkpointer has written the head to <trail>.checkpoints.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let written = checkpoint::read(&checkpoint::file_for(&path)).unwrap();
    assert!(!written.is_empty());
    assert_eq!(written, s.gw.gw.audit.checkpoints().await.unwrap());
    assert!(
        written
            .iter()
            .all(|c| checkpoint::check_signature(c, &cp.key))
    );

    let original = lines(&path);
    let copy = s.dir.path().join("copy.jsonl");
    // Cut the trail short of the checkpoint: verify alone cannot tell, the checkpoint can.
    write_lines(&copy, &original[..(cp.seq as usize - 2)]);
    assert!(verify(std::slice::from_ref(&copy), None).intact());
    let r = verify_with(std::slice::from_ref(&copy), None, &cps, Some(&cp.key));
    assert_eq!(r.problem.map(|p| p.kind), Some("truncated"));

    // Rewrite a record and re-hash everything after it (possible without an HMAC key).
    let mut recs: Vec<Value> = original
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    recs[2]["call_id"] = json!("forged");
    for i in 2..recs.len() {
        if i > 2 {
            recs[i]["prev"] = recs[i - 1]["hash"].clone();
        }
        let h = hash_value(&recs[i], None);
        recs[i]["hash"] = json!(h);
    }
    write_lines(
        &copy,
        &recs.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    );
    assert!(
        verify(std::slice::from_ref(&copy), None).intact(),
        "a full rewrite fools the chain alone"
    );
    let r = verify_with(std::slice::from_ref(&copy), None, &cps, Some(&cp.key));
    assert_eq!(r.problem.map(|p| p.kind), Some("checkpoint_mismatch"));

    // A checkpoint signed by someone else is refused.
    let other = hex::encode(
        checkpoint::signing_key(b"not the gateway")
            .verifying_key()
            .to_bytes(),
    );
    let r = verify_with(std::slice::from_ref(&path), None, &cps, Some(&other));
    assert_eq!(r.problem.map(|p| p.kind), Some("bad_checkpoint"));

    // The CLI, with the checkpoints file and the public key.
    let checkpoints = checkpoint::file_for(&path);
    let (ok, text) = audit_verify(&[
        path.as_os_str(),
        "--checkpoint".as_ref(),
        checkpoints.as_os_str(),
        "--public-key".as_ref(),
        cp.key.as_ref(),
    ]);
    assert!(ok, "{text}");
}

#[tokio::test]
async fn access_review_compares_granted_with_used() {
    let s = setup().await;
    for _ in 0..2 {
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "r"}}),
        )
        .await;
    }
    s.gw.call(&s.keys.agent, json!({"tool": "echo_basic"}))
        .await;
    let (st, v) =
        s.gw.get(Some(&s.keys.admin), "/v1/admin/access-review?since=1d")
            .await;
    assert_eq!(st, 200, "{v}");
    let agent = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "test-agent")
        .unwrap();
    assert_eq!(agent["tools_used"]["echo"]["calls"], 2);
    assert_eq!(agent["tools_used"]["echo_basic"]["calls"], 1);
    assert!(
        agent["tools_unused"]
            .as_array()
            .unwrap()
            .contains(&json!("leak"))
    );
    assert_eq!(agent["scopes_unused"], json!([]));
    let other = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "other-agent")
        .unwrap();
    assert!(other["last_used"].is_null());
    assert_eq!(other["scopes_unused"], json!(["t:admin", "t:read"]));
    let api = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["credential"] == "api-key")
        .unwrap();
    assert_eq!(api["calls"], 2);
    assert_eq!(api["over_privileged"], json!([]));
    let (st, _) =
        s.gw.get(Some(&s.keys.approver), "/v1/admin/access-review")
            .await;
    assert_eq!(st, 403);

    let out = toolgate()
        .args(["access-review", "--since", "1d", "--config"])
        .arg(s.dir.config_path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("test-agent (workflow main)") && text.contains("used echo: 2 call(s)"),
        "{text}"
    );
}

#[tokio::test]
async fn sensitive_arguments_are_hmacs_in_the_trail() {
    let s = setup().await;
    let tag = crate::support::canary("tag-");
    let (st, _, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "x1", "tag": tag}, "call_id": "c-sens"}),
        )
        .await;
    assert_eq!(st, 200);
    let text = std::fs::read_to_string(trail(s.dir.path())).unwrap();
    assert!(
        !leaks(&text, &tag),
        "an x-sensitive argument reached the trail"
    );
    let rec: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["call_id"] == "c-sens" && r["event"] == "executed")
        .unwrap();
    assert!(
        rec["arguments"]["tag"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    assert_eq!(rec["arguments"]["id"], "x1");
}

#[tokio::test]
async fn rotation_keeps_one_chain_across_files() {
    let s = crate::calls::setup_with("audit: { kind: file, max_file_bytes: 2048 }\n").await;
    for i in 0..10 {
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": format!("r{i}")}}),
        )
        .await;
    }
    let path = trail(s.dir.path());
    let rotated: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("audit.jsonl.") && n[12..].bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(rotated.len() >= 2, "{rotated:?}");
    // The last write may have rotated the live file away: then the next
    // record begins a new one (one record never fills a file).
    let mut written = 21;
    for _ in 0..2 {
        if !lines(&path).is_empty() {
            break;
        }
        s.gw.gw
            .audit
            .append(toolgate::audit::Entry::new(
                toolgate::audit::Event::AdminReload,
            ))
            .await
            .unwrap();
        written += 1;
    }
    let report = verify(std::slice::from_ref(&path), None);
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.records, written, "{report:?}");
    // Without its predecessors the live file does not start the chain.
    let alone = s.dir.path().join("alone.jsonl");
    std::fs::copy(&path, &alone).unwrap();
    assert!(!lines(&alone).is_empty());
    assert_eq!(kind(&alone), Some("missing"));
}

#[tokio::test]
async fn the_serve_loop_keeps_signed_checkpoints_beside_a_redis_trail() {
    let Some(redis) = crate::support::redis::TestRedis::own().await else {
        return;
    };
    let s = crate::calls::setup_with(&format!(
        "store: {{ kind: redis, url: \"{}\" }}\n\
         audit: {{ kind: redis, signing_key: {{ env: TEST_API_KEY }}, checkpoint_interval_seconds: 1 }}\n",
        redis.url
    ))
    .await;
    for i in 0..3 {
        let call = json!({"tool": "echo", "arguments": {"id": format!("k{i}")}});
        assert_eq!(s.gw.call(&s.keys.agent, call).await.0, 200);
    }
    let head = s.gw.gw.audit.head().await.unwrap();
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept = s.gw.gw.audit.checkpoints().await.unwrap();
        if kept.iter().any(|c| c.seq == head.seq) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (st, signed) = s.gw.get(Some(&s.keys.admin), "/v1/admin/audit/head").await;
    assert_eq!(st, 200, "{signed}");
    let public_key = signed["key"].as_str().unwrap();
    let at_head: Vec<_> = kept.iter().filter(|c| c.seq == head.seq).collect();
    assert_eq!(at_head.len(), 1, "one checkpoint of the head: {kept:?}");
    assert_eq!(at_head[0].hash, head.hash);
    assert!(
        kept.iter()
            .all(|c| toolgate::audit::checkpoint::check_signature(c, public_key))
    );
    // Nothing went to a file beside the configured path.
    let side = toolgate::audit::checkpoint::file_for(&s.gw.gw.config.audit.path);
    assert!(!side.exists(), "{} was written", side.display());
    // The CLI reads the stream with the checkpoints beside it.
    let (ok, text) = audit_verify(&[
        redis.url.as_ref(),
        "--environment".as_ref(),
        "test".as_ref(),
        "--public-key".as_ref(),
        public_key.as_ref(),
    ]);
    assert!(ok, "{text}");
    assert!(text.starts_with("intact:"), "{text}");
}
