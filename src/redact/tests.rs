//! Redactor tests: encodings, detector vectors (built at run time, so no
//! real-looking token is committed), sensitive keys, streams, and properties.

use base64::Engine as _;
use proptest::prelude::*;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::*;

mod corpus;
mod decoding;
mod formats;
mod json;
mod make;
mod platforms;
mod services;
mod vectors;
mod wide;

fn rand_str(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
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

#[test]
fn every_detector_catches_its_positives_and_leaves_negatives() {
    let count = detectors::DETECTORS.count();
    assert!((100..=160).contains(&count), "{count} detectors");
    let r = Redactor::empty();
    let mut covered = std::collections::BTreeSet::new();
    for (id, pos, neg) in vectors::vectors() {
        covered.insert(id);
        for (p, secrets) in pos {
            let text = format!("some text {p} more");
            let mut found = Vec::new();
            detectors::DETECTORS.find(text.as_bytes(), &mut found);
            assert!(
                found
                    .iter()
                    .any(|&(_, _, d)| detectors::DETECTORS.list[d].id == id),
                "{id} missed a positive: {text}"
            );
            let (out, n) = r.redact_str(&text);
            assert!(n >= 1 && out.contains("[REDACTED:pattern:"), "{id}: {out}");
            for s in secrets {
                assert!(!out.contains(&s), "{id} left {s} in {out}");
            }
        }
        for n_ in neg {
            let (out, _) = r.redact_str(&n_);
            assert_eq!(out, n_, "{id} changed a negative");
        }
    }
    let ids: std::collections::BTreeSet<&str> =
        detectors::DETECTORS.list.iter().map(|d| d.id).collect();
    let without: Vec<&&str> = ids.difference(&covered).collect();
    assert!(without.is_empty(), "detectors without vectors: {without:?}");
}

#[test]
fn every_match_holds_one_of_its_detector_s_keywords() {
    for (_, pos, neg) in vectors::vectors() {
        for text in pos.into_iter().map(|(p, _)| p).chain(neg) {
            let text = format!("x {text} y");
            let without = detectors::DETECTORS.matches_without_keyword(text.as_bytes());
            assert!(
                without.is_empty(),
                "{without:?} matched {text} without a keyword"
            );
        }
    }
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
        prop_assume!(r.known.sampled());
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
    let token = make::crc_token("ghp_");
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
