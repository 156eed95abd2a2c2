//! File credentials rotate without restart; earlier values stay redacted.

use serde_json::json;

use crate::calls::leaks;
use crate::support::crm;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, canary};

#[tokio::test]
async fn a_rewritten_secret_file_is_used_at_once_and_the_old_value_stays_redacted() {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    let secret_file = dir.write("secrets/crm", &format!("{}\n", canary("v1-")));
    let v1 = std::fs::read_to_string(&secret_file)
        .unwrap()
        .trim_end()
        .to_owned();
    crm::write_tool(&dir, "leak", &format!("{}/echo-secret", up.base()));
    crm::write_config(&dir, &keys, "test", "", "{ file: secrets/crm }", "Token");
    let gw = TestGateway::start(&dir.config_path(), Default::default()).await;
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        up.last().headers["authorization"].to_str().unwrap(),
        format!("Token {v1}")
    );
    assert!(!leaks(&body.to_string(), &v1));

    // Rotate: a new file replaces the old one (as a Kubernetes secret volume does).
    let v2 = canary("v2-");
    let tmp = dir.write("secrets/crm.new", &format!("{v2}\n"));
    std::fs::rename(&tmp, &secret_file).unwrap();
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        up.last().headers["authorization"].to_str().unwrap(),
        format!("Token {v2}")
    );
    assert!(!leaks(&body.to_string(), &v2));

    // The previous value is still known to the redactor.
    let r = gw.gw.redactor.load();
    let old = format!("old={v1}");
    let (out, n) = r.redact_str(&old);
    assert_eq!(n, 1);
    assert!(!out.contains(&v1));

    // A deleted secret file fails closed: no call without the credential.
    std::fs::remove_file(&secret_file).unwrap();
    let before = up.count();
    let (st, body, _) = gw.call(&keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(
        (st, crate::support::code(&body)),
        (503, "credential_unavailable")
    );
    assert_eq!(up.count(), before);
}
