//! Redactor tests: encodings, detector vectors (built at run time, so no
//! real-looking token is committed), sensitive keys, streams, and properties.

use base64::Engine as _;
use proptest::prelude::*;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::*;

fn rand_str(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn hex_str(n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rand::rng().random_range(0..16)]))
        .collect()
}

#[test]
fn removes_value_and_encodings() {
    let secret = "s3cr+t/=&%\"\\ vålue";
    let r = RedactorBuilder::new().known_secret("crm", secret).build();
    for form in encodings(secret) {
        let text = format!("before {form} after");
        let (out, n) = r.redact_str(&text);
        assert!(n >= 1, "form {form:?} not caught");
        assert!(!out.contains(&form));
        assert!(out.contains("[REDACTED:credential:crm]"));
    }
}

#[test]
fn the_forms_url_encoders_write_are_caught() {
    // Written here independently of `encodings`: what common encoders produce.
    let secret = format!("Ab-{}._~/+= &%", rand_str(16));
    let r = RedactorBuilder::new().known_secret("crm", &secret).build();
    let hex = |b: u8, lower: bool| {
        if lower {
            format!("%{b:02x}")
        } else {
            format!("%{b:02X}")
        }
    };
    let encode = |keep: &str, lower: bool| -> String {
        secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
                    char::from(b).to_string()
                } else {
                    hex(b, lower)
                }
            })
            .collect()
    };
    let forms = [
        ("encodeURIComponent", encode("-_.!~*'()", false)),
        ("RFC 3986 unreserved", encode("-._~", false)),
        ("RFC 3986, lower-case hex", encode("-._~", true)),
        ("Python quote (keeps /)", encode("-._~/", false)),
        ("form encoding", encode("*-._", false).replace("%20", "+")),
    ];
    for (name, form) in &forms {
        if name.starts_with("encodeURIComponent") {
            // It also keeps `!*'()`, none of which this secret holds.
            assert!(!secret.contains(['!', '*', '\'', '(', ')']));
        }
        let text = format!("q={form}&x=1");
        let (out, n) = r.redact_str(&text);
        assert!(
            n >= 1 && !out.contains(form.as_str()),
            "{name}: {form} survived as {out}"
        );
    }
}

#[test]
fn base64_inside_a_larger_blob_at_every_alignment() {
    let secret = format!("k-{}", rand_str(30));
    let r = RedactorBuilder::new().known_secret("c", &secret).build();
    for prefix in ["", "a", "ab", "abc"] {
        let blob = base64::engine::general_purpose::STANDARD
            .encode(format!("{prefix}{{\"token\":\"{secret}\"}}trailing"));
        let (out, n) = r.redact_str(&blob);
        assert!(n >= 1, "alignment of {prefix:?} missed");
        let middle = &base64::engine::general_purpose::STANDARD.encode(secret.as_bytes())[4..20];
        let _ = middle;
        assert!(out.contains("[REDACTED:credential:c]"));
    }
}

/// (detector id, positive samples, negative samples)
fn vectors() -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let a36 = rand_str(36);
    vec![
        (
            "github_token",
            vec![format!("ghp_{a36}"), format!("ghs_{a36}")],
            vec!["ghp_short".into(), format!("xghp_{}", &a36[..10])],
        ),
        (
            "github_fine_grained_token",
            vec![format!("github_pat_{}_{}", rand_str(22), rand_str(59))],
            vec!["github_pat_".into()],
        ),
        (
            "gitlab_token",
            vec![format!("glpat-{}", rand_str(20))],
            vec!["glpat-abc".into()],
        ),
        (
            "slack_token",
            vec![format!(
                "xoxb-{}-{}-{}",
                rand_str(10),
                rand_str(12),
                rand_str(24)
            )],
            vec!["xoxb-".into()],
        ),
        (
            "slack_webhook",
            vec![format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                rand_str(8),
                rand_str(8),
                rand_str(24)
            )],
            vec!["https://hooks.slack.com/".into()],
        ),
        (
            "stripe_secret_key",
            vec![format!("sk_live_{}", rand_str(24))],
            vec!["sk_live_".into()],
        ),
        (
            "stripe_restricted_key",
            vec![format!("rk_live_{}", rand_str(24))],
            vec!["rk_live_x".into()],
        ),
        (
            "anthropic_key",
            vec![format!("sk-ant-api03-{}", rand_str(90))],
            vec!["sk-ant-".into()],
        ),
        (
            "openai_key",
            vec![
                format!("sk-proj-{}", rand_str(48)),
                format!("sk-{}", rand_str(48)),
            ],
            vec!["sk-learn".into(), "task-force".into()],
        ),
        (
            "aws_access_key_id",
            vec![format!("AKIA{}", rand_str(16).to_uppercase())],
            vec!["AKIA1234".into(), "AKIAPLAIN".into()],
        ),
        (
            "aws_secret_access_key",
            vec![format!("aws_secret_access_key = {}", rand_str(40))],
            vec![format!("sha = {}", hex_str(40))],
        ),
        (
            "google_api_key",
            vec![format!("AIza{}", rand_str(35))],
            vec!["AIzaShort".into()],
        ),
        (
            "sendgrid_key",
            vec![format!("SG.{}.{}", rand_str(22), rand_str(43))],
            vec!["SG.short.x".into()],
        ),
        (
            "npm_token",
            vec![format!("npm_{}", rand_str(36))],
            vec!["npm_install".into()],
        ),
        (
            "pypi_token",
            vec![format!("pypi-AgEIcHlwaS5vcmc{}", rand_str(60))],
            vec!["pypi-package".into()],
        ),
        (
            "azure_storage_key",
            vec![format!(
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={}==",
                rand_str(86)
            )],
            vec!["AccountKey=short".into()],
        ),
        (
            "telegram_bot_token",
            vec![format!("123456789:AA{}", rand_str(33))],
            vec!["12:AA".into()],
        ),
        (
            "jwt",
            vec![format!(
                "eyJ{}.eyJ{}.{}",
                rand_str(20),
                rand_str(40),
                rand_str(43)
            )],
            vec!["eyJhbGci".into()],
        ),
        (
            "pem_private_key",
            vec![format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
                rand_str(64),
                rand_str(64)
            )],
            vec!["-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----".into()],
        ),
        (
            "url_password",
            vec![format!(
                "postgres://admin:{}@db.internal:5432/app",
                rand_str(16)
            )],
            vec!["https://example.com/path".into()],
        ),
        (
            "authorization_header",
            vec![format!("Authorization: Bearer {}", rand_str(30))],
            vec!["authorization required".into()],
        ),
        (
            "aws_signature",
            vec![format!(
                "https://b.s3.amazonaws.com/o?X-Amz-Signature={}",
                hex_str(64)
            )],
            vec!["X-Amz-Signature=".into()],
        ),
        (
            "gcs_signature",
            vec![format!("?X-Goog-Signature={}", hex_str(128))],
            vec![],
        ),
        (
            "sas_signature",
            vec![format!(
                "https://a.blob.core.windows.net/c?sv=2022&sig={}%3D",
                rand_str(40)
            )],
            vec!["?sig=".into()],
        ),
        (
            "password_pair",
            vec![
                format!("user=ada&password={}", rand_str(12)),
                format!("access_token={}", rand_str(20)),
            ],
            vec!["password=".into()],
        ),
        (
            "huggingface_token",
            vec![format!("hf_{}", rand_str(34))],
            vec!["hf_hub".into()],
        ),
        (
            "digitalocean_token",
            vec![format!("dop_v1_{}", hex_str(64))],
            vec![],
        ),
        (
            "linear_key",
            vec![format!("lin_api_{}", rand_str(40))],
            vec![],
        ),
        (
            "postman_key",
            vec![format!("PMAK-{}-{}", hex_str(24), hex_str(34))],
            vec![],
        ),
        (
            "vault_token",
            vec![format!("hvs.{}", rand_str(90))],
            vec!["hvs.x".into()],
        ),
        (
            "toolgate_key",
            vec![format!("tg_agent_{}", rand_str(43))],
            vec!["tg_agent_".into()],
        ),
        (
            "shopify_token",
            vec![format!("shpat_{}", hex_str(32))],
            vec![],
        ),
        (
            "databricks_token",
            vec![format!("dapi{}", hex_str(32))],
            vec![],
        ),
        (
            "newrelic_key",
            vec![format!("NRAK-{}", rand_str(27).to_uppercase())],
            vec![],
        ),
        (
            "mailgun_key",
            vec![format!("key-{}", hex_str(32))],
            vec!["key-value".into()],
        ),
        (
            "stripe_webhook_secret",
            vec![format!("whsec_{}", rand_str(32))],
            vec![],
        ),
        (
            "google_oauth_token",
            vec![format!("ya29.{}", rand_str(60))],
            vec![],
        ),
        (
            "twilio_api_key",
            vec![format!("SK{}", hex_str(32))],
            vec![format!("ASK{}", hex_str(32))],
        ),
        (
            "discord_webhook",
            vec![format!(
                "https://discord.com/api/webhooks/123456789012345678/{}",
                rand_str(68)
            )],
            vec![],
        ),
        (
            "age_secret_key",
            vec![format!(
                "AGE-SECRET-KEY-1{}",
                "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE"
            )],
            vec![],
        ),
    ]
}

#[test]
fn every_detector_catches_its_positives_and_leaves_negatives() {
    assert!(detectors::DETECTORS.count() >= 40 && detectors::DETECTORS.count() <= 64);
    let r = Redactor::empty();
    let mut covered = std::collections::BTreeSet::new();
    for (id, pos, neg) in vectors() {
        covered.insert(id);
        for p in pos {
            let text = format!("some text {p} more");
            let (out, n) = r.redact_str(&text);
            assert!(n >= 1, "{id} missed a positive");
            assert!(out.contains("[REDACTED:pattern:"), "{id}: {out}");
            // The longest alphanumeric run of a sample is its random (secret) part.
            let secret_part = p
                .split(|c: char| !c.is_ascii_alphanumeric())
                .max_by_key(|s| s.len())
                .unwrap_or(&p)
                .to_owned();
            assert!(
                !out.contains(&secret_part),
                "{id} left part of a positive in {out}"
            );
        }
        for n_ in neg {
            let (out, _) = r.redact_str(&n_);
            assert_eq!(out, n_, "{id} changed a negative");
        }
    }
    assert!(
        covered.len() >= 40,
        "{} detectors have vectors",
        covered.len()
    );
}

#[test]
fn ordinary_text_passes_unchanged() {
    let r = Redactor::empty();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"hello"));
    let samples = [
        format!(
            "{{\"id\":\"550e8400-e29b-41d4-a716-446655440000\",\"sha256\":\"{sha}\",\"name\":\"Ada\"}}"
        ),
        "The quick brown fox jumps over the lazy dog; task-force meeting at 10:00.".to_owned(),
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 300])
        ),
        "{\"status\":\"ok\",\"count\":42,\"items\":[1,2,3],\"url\":\"https://example.com/a?b=c\"}"
            .to_owned(),
    ];
    for s in samples {
        assert_eq!(r.redact_str(&s).0, s);
    }
}

#[test]
fn sensitive_keys_and_pointers() {
    let r = Redactor::empty();
    let mut v = serde_json::json!({
        "name": "A", "password": "hunter22", "nested": {"API_KEY": "k", "client-secret": {"a": 1}},
        "token_type": "bearer", "ssn": "123-45-6789", "list": [{"card": "x"}], "cookie": null
    });
    let opts = JsonOptions {
        sensitive_pointers: vec!["/ssn".into(), "/list/*/card".into()],
        pii: false,
    };
    let n = r.redact_json(&mut v, &opts);
    assert_eq!(n, 5);
    assert_eq!(v["password"], "[REDACTED:key]");
    assert_eq!(v["nested"]["API_KEY"], "[REDACTED:key]");
    assert_eq!(v["nested"]["client-secret"], "[REDACTED:key]");
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["ssn"], "[REDACTED:key]");
    assert_eq!(v["list"][0]["card"], "[REDACTED:key]");
    assert!(v["cookie"].is_null());
    let mut p = serde_json::json!({"note": "mail ada@example.com or call 415-555-0100"});
    r.redact_json(
        &mut p,
        &JsonOptions {
            sensitive_pointers: vec![],
            pii: true,
        },
    );
    assert_eq!(
        p["note"],
        "mail [REDACTED:pii:email] or call [REDACTED:pii:phone]"
    );
}

#[test]
fn a_stream_catches_values_split_at_every_boundary() {
    let secret = format!("s-{}+/=&%", rand_str(40));
    let r = Arc::new(RedactorBuilder::new().known_secret("c", &secret).build());
    let text = format!("{}{secret}{}", "x".repeat(5000), "y".repeat(5000));
    for cut in (4990..5050).chain([1, 100, 9000]) {
        let mut s = r.stream();
        let mut out = s.push(&text.as_bytes()[..cut]);
        for chunk in text.as_bytes()[cut..].chunks(7) {
            out.extend(s.push(chunk));
        }
        let (rest, n) = s.finish();
        out.extend(rest);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(n, 1);
        assert!(!out.contains(&secret));
        assert_eq!(
            out.len(),
            text.len() - secret.len() + "[REDACTED:credential:c]".len()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_encoding_of_a_secret_survives(
        secret in "[a-zA-Z0-9+/=&%\"\\\\é ]{10,40}",
        filler in "[a-z ]{0,40}",
        depth in 0usize..6,
        which in 0usize..20,
    ) {
        let r = RedactorBuilder::new().known_secret("c", &secret).build();
        let forms = encodings(&secret);
        let form = forms[which % forms.len()].clone();
        let mut v = serde_json::Value::String(format!("{filler}{form}{filler}"));
        for i in 0..depth {
            v = if i % 2 == 0 { serde_json::json!({"k": v}) } else { serde_json::json!([v]) };
        }
        let text = v.to_string();
        let (out, _) = r.redact_str(&text);
        prop_assert!(!out.contains(&secret));
        prop_assert!(!out.contains(&form));
        let mut parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        r.redact_json(&mut parsed, &JsonOptions::default());
        prop_assert!(!parsed.to_string().contains(&secret));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// With many secrets the sampling filter goes first: it must not let any
    /// encoding of any of them through, wherever it sits.
    #[test]
    fn with_many_secrets_no_encoding_survives_the_sampler(
        secrets in prop::collection::vec("[a-zA-Z0-9+/=&%\"\\\\é ]{10,48}", 8..16),
        pick in 0usize..16,
        which in 0usize..20,
        before in "[a-z {}\":,]{0,300}",
        after in "[a-z {}\":,]{0,300}",
    ) {
        let mut b = RedactorBuilder::new();
        for (i, s) in secrets.iter().enumerate() {
            b.known_secret(&format!("c{i}"), s);
        }
        let r = Arc::new(b.build());
        prop_assume!(r.long.is_some());
        let secret = &secrets[pick % secrets.len()];
        let forms = encodings(secret);
        let form = &forms[which % forms.len()];
        let text = format!("{before}{form}{after}");
        let (out, n) = r.redact_str(&text);
        prop_assert!(n >= 1);
        prop_assert!(!out.contains(form.as_str()), "{form} in {out}");
        // The same text through a stream, in chunks of a random-ish size.
        let mut st = r.stream();
        let mut streamed = Vec::new();
        for chunk in text.as_bytes().chunks(1 + which * 3) {
            streamed.extend(st.push(chunk));
        }
        streamed.extend(st.finish().0);
        prop_assert_eq!(String::from_utf8_lossy(&streamed), out.clone());
    }
}

#[test]
fn overlapping_values_are_all_removed() {
    // The end of one secret is the start of another: both go.
    let a = "AAAAAAAAAAAA-overlap-1234567";
    let b = "overlap-1234567-BBBBBBBBBBBB";
    let r = RedactorBuilder::new()
        .known_secret("a", a)
        .known_secret("b", b)
        .build();
    let text = "x AAAAAAAAAAAA-overlap-1234567-BBBBBBBBBBBB y";
    let (out, _) = r.redact_str(text);
    assert!(!out.contains("BBBB") && !out.contains("AAAA"), "{out}");
}

#[test]
fn removals_are_counted_by_kind() {
    let secret = format!("{}+/=&%\"\\", rand_str(24));
    let r = RedactorBuilder::new().known_secret("crm", &secret).build();
    let token = format!("ghp_{}", rand_str(36));
    let mut v = serde_json::json!({
        "a": format!("value {secret} and again {secret}"),
        "b": format!("a token {token}"),
        "password": "hunter22",
        "c": "mail ada@example.com or call 415-555-0100",
    });
    let opts = JsonOptions {
        sensitive_pointers: vec!["/d".into()],
        pii: true,
    };
    v["d"] = serde_json::json!("kept out by pointer");
    let mut again = v.clone();
    let n = r.redact_json_counted(&mut v, &opts);
    assert_eq!(
        n,
        Redactions {
            credential: 2,
            pattern: 1,
            key: 2,
            pii: 2,
            canary: 0,
        }
    );
    assert_eq!(n.total(), r.redact_json(&mut again, &opts));
    assert_eq!(again, v);
    let (_, text) = r.redact_str_counted(&format!("{secret} {token}"));
    assert_eq!((text.credential, text.pattern, text.total()), (1, 1, 2));
}

#[test]
fn a_canary_is_redacted_like_any_value_and_found_apart() {
    let (real, decoy) = (rand_str(24), rand_str(24));
    let mut b = RedactorBuilder::new();
    b.known_secret("crm", &real).known_secret("decoy", &decoy);
    let plain = b.build();
    assert!(!plain.has_canaries());
    assert_eq!(plain.canary_in(decoy.as_bytes()), None);
    let r = b.canary("decoy").build();
    assert!(r.has_canaries());
    // Found in any known form, even after a real secret in the same text.
    let hex = hex::encode(&decoy);
    let text = format!("{real} then {hex}");
    assert_eq!(r.canary_in(text.as_bytes()), Some("decoy"));
    assert_eq!(r.canary_in(real.as_bytes()), None);
    let (out, n) = r.redact_str_counted(&text);
    assert_eq!((n.credential, n.canary, n.total()), (2, 1, 2));
    assert!(out.contains("[REDACTED:credential:decoy]"));
}
