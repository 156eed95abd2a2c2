//! Each decoder: what it decodes, and that every span of a view maps back
//! to the whole escapes it came from.

use super::{View, Views, html, json, percent};

/// The view's text, and the source of each of its bytes as text.
fn pieces(src: &str, v: &View) -> (String, Vec<String>) {
    let text = String::from_utf8(v.text.clone()).expect("utf-8 view");
    let mut each = Vec::new();
    let mut at = 0;
    for c in text.chars() {
        let (a, b) = v.source(at, at + c.len_utf8());
        each.push(src[a..b].to_owned());
        at += c.len_utf8();
    }
    (text, each)
}

#[test]
fn percent_escapes_in_any_mix_and_case() {
    let src = "a%2Bb%2fc/%zz%4";
    let v = percent::decode(src.as_bytes(), false).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "a+b/c/%zz%4");
    assert_eq!(each[1], "%2B");
    assert_eq!(each[3], "%2f");
    assert_eq!(each[4], "c");
    assert_eq!(v.source(1, 4), (1, 8));
    assert!(percent::decode(b"no escapes here", false).is_none());
    let v = percent::decode(b"a+b%20c", true).expect("decodes");
    assert_eq!(v.text, b"a b c");
    assert_eq!(percent::decode(b"a+b", false).map(|v| v.text), None);
}

#[test]
fn json_escapes_surrogates_and_lone_ones() {
    let src = r#"x\"\\\/\u00e9\uD83D\uDE00\ud800y\n\q"#;
    let v = json::decode(src.as_bytes()).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "x\"\\/é😀\\ud800y\n\\q");
    assert_eq!(each[1], "\\\"");
    assert_eq!(each[2], "\\\\");
    assert_eq!(each[3], "\\/");
    assert_eq!(each[4], "\\u00e9");
    assert_eq!(each[5], "\\uD83D\\uDE00");
    // The lone surrogate stays as written, byte for byte.
    assert_eq!(each[6], "\\");
    assert_eq!(each[7], "u");
    // `\\u0041` is a backslash and `u0041`, not an `A`.
    let v = json::decode(br"\\u0041").expect("decodes");
    assert_eq!(v.text, br"\u0041");
}

#[test]
fn html_references_named_decimal_hex() {
    let src =
        "&amp;&quot;&lt;&gt;&apos;&#43;&#x2B;&#X2b&#0043;&sol;&eacute;&ampx&bogus;&#;&#x110000;";
    let v = html::decode(src.as_bytes()).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "&\"<>'++++/é&x&bogus;&#;&#x110000;");
    assert_eq!(each[0], "&amp;");
    assert_eq!(each[5], "&#43;");
    assert_eq!(each[6], "&#x2B;");
    assert_eq!(each[7], "&#X2b");
    assert_eq!(each[8], "&#0043;");
    assert_eq!(each[10], "&eacute;");
    assert_eq!(each[11], "&amp");
    // Eight digits are not decoded (the expansion stays bounded).
    assert!(html::decode(b"&#00000043;").is_none());
}

#[test]
fn nested_views_map_to_the_original() {
    // `+` percent-encoded, then the `%` of that HTML-referenced.
    let src = "k=ab&#37;2Bcd";
    let views = Views::of(src.as_bytes(), false);
    let (i, _) = views
        .texts()
        .find(|(_, t)| *t == b"k=ab+cd")
        .expect("two decodings deep");
    assert_eq!(views.source(i, 2, 7), (2, src.len()));
    // Not three deep.
    let src = "%25252B";
    let views = Views::of(src.as_bytes(), false);
    assert!(views.texts().any(|(_, t)| t == b"%2B"));
    assert!(!views.texts().any(|(_, t)| t == b"+"));
    assert!(Views::of(b"plain text, nothing to decode", true).is_empty());
}
