//! Redacting the text of a JSON document leaves a JSON document: no
//! detector swallows half of an escape (`\"`, `\\`, `\uXXXX`) or a quote.

use proptest::prelude::*;

use super::formats::formats;
use crate::redact::Redactor;

/// A token of format `which`, or for odd `which` a value around one with
/// the characters that JSON escapes next to it.
fn token(which: usize, around: &str) -> String {
    let fs = formats();
    let s = (fs[which % fs.len()].make)().text;
    match which % 4 {
        0 => s,
        1 => format!("{around}{s}{around}"),
        2 => format!("Authorization: Bearer {s}\"{around}"),
        _ => format!("password={s}\\{around}"),
    }
}

fn assert_still_json(v: &serde_json::Value) {
    let r = Redactor::empty();
    for text in [
        v.to_string(),
        serde_json::to_string_pretty(v).expect("serializes"),
    ] {
        let (out, _) = r.redact_bytes(text.as_bytes());
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out);
        assert!(
            parsed.is_ok(),
            "{text}\n-> {}",
            String::from_utf8_lossy(&out)
        );
    }
}

#[test]
fn values_ending_in_an_escape_keep_the_document_json() {
    let cases = [
        r#"{"h":"Authorization: Bearer abcdef123456\" tail"}"#,
        r#"{"h":"authorization=abcdef123456\\"}"#,
        r#"{"q":"password=hunter2hunter2\"x"}"#,
        r#"{"q":"password=hunter2\\\\"}"#,
        r#"{"u":"postgres://u:pa55word\"@h/db"}"#,
        r#"{"k":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\""}"#,
        r#"{"k":"-----BEGIN PRIVATE KEY-----\nMIIE\\u00e9"}"#,
        r#"{"a":"-----BEGIN PRIVATE KEY-----","b":"x","c":"-----END PRIVATE KEY-----"}"#,
        r#"{"a":"x://u:p","b":"c@d"}"#,
    ];
    for c in cases {
        let v: serde_json::Value = serde_json::from_str(c).expect("valid case");
        assert_still_json(&v);
        let (out, _) = Redactor::empty().redact_bytes(c.as_bytes());
        assert!(
            serde_json::from_slice::<serde_json::Value>(&out).is_ok(),
            "{c} -> {}",
            String::from_utf8_lossy(&out)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn redacting_json_text_leaves_json(
        entries in prop::collection::vec(
            (0usize..400, 0usize..400, "[a-z\"\\\\/\u{e9}\u{1}\n =:@&]{0,6}", any::<bool>()),
            1..8,
        ),
        nested in any::<bool>(),
    ) {
        let mut map = serde_json::Map::new();
        for (k, v, around, in_key) in entries {
            let key = if in_key { token(k, &around) } else { format!("k{k}{around}") };
            map.insert(key, serde_json::Value::String(token(v, &around)));
        }
        let mut v = serde_json::Value::Object(map);
        if nested {
            v = serde_json::json!({"data": [v, {"kind": "Secret"}], "n": 1});
        }
        assert_still_json(&v);
    }
}
