//! The merge keyword by keyword, its fallbacks and empty intersections; and
//! the proof that matters: random instances are accepted by the merged
//! schema exactly when `allOf` of the two accepts them.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Empty, merge};
use crate::config::compile_schema;

/// Values the hand-written cases are checked on.
fn corpus() -> Vec<Value> {
    let mut out = vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1),
        json!(1.5),
        json!(5),
        json!(10),
        json!(50000),
        json!(50001),
        json!(""),
        json!("a"),
        json!("ab"),
        json!("abc"),
        json!("web_form"),
        json!("import"),
        json!([]),
        json!([1]),
        json!([1, 2, 3]),
        json!(["a", "b"]),
        json!({}),
    ];
    for (k, v) in [
        ("name", json!("Ann")),
        ("name", json!(1)),
        ("source", json!("chat")),
        ("source", json!("import")),
        ("value_usd", json!(40000)),
        ("value_usd", json!(60000)),
        ("extra", json!(1)),
        ("a", json!("x")),
        ("b", json!(2)),
    ] {
        out.push(json!({ k: v }));
        out.push(json!({ k: v, "name": "Ann", "source": "web_form" }));
    }
    out
}

/// The merged schema of `tool` and `overlay`, checked against their `allOf` on the corpus.
fn merged(tool: Value, overlay: Value) -> Value {
    let m = merge(&tool, &overlay).expect("a non-empty merge").schema;
    let both = compile_schema(&json!({ "allOf": Value::Array(vec![tool, overlay]) }))
        .expect("allOf compiles");
    let one = compile_schema(&m).expect("the merged schema compiles");
    for v in corpus() {
        assert_eq!(
            one.is_valid(&v),
            both.is_valid(&v),
            "{v} judged differently by {m}"
        );
    }
    m
}

fn empty(tool: &Value, overlay: &Value) -> Empty {
    merge(tool, overlay).expect_err("no value passes both")
}

#[test]
fn enums_are_intersected() {
    let m = merged(
        json!({"enum": ["web_form", "chat", "import"]}),
        json!({"enum": ["chat", "web_form", "fax"]}),
    );
    assert_eq!(m, json!({"enum": ["web_form", "chat"]}));
}

#[test]
fn an_enum_narrowed_by_a_const_is_the_const() {
    let m = merged(json!({"enum": ["a", "b"]}), json!({"const": "b"}));
    assert_eq!(m, json!({"const": "b"}));
    // 1 and 1.0 are the same value.
    let m = merged(json!({"enum": [1, 2]}), json!({"const": 1.0}));
    assert_eq!(m, json!({"const": 1}));
}

#[test]
fn an_enum_keeps_only_values_of_the_type() {
    let m = merged(json!({"enum": ["a", 1, 1.5]}), json!({"type": "integer"}));
    assert_eq!(m, json!({"type": "integer", "enum": [1]}));
}

#[test]
fn types_are_intersected() {
    let m = merged(
        json!({"type": ["number", "string"]}),
        json!({"type": "integer"}),
    );
    assert_eq!(m, json!({"type": "integer"}));
    let m = merged(
        json!({"type": ["string", "null", "array"]}),
        json!({"type": ["null", "string"]}),
    );
    assert_eq!(m, json!({"type": ["string", "null"]}));
}

#[test]
fn the_tighter_bound_is_kept() {
    let m = merged(
        json!({"type": "number", "minimum": 0, "maximum": 10000000}),
        json!({"maximum": 50000, "minimum": -5}),
    );
    assert_eq!(m, json!({"type": "number", "minimum": 0, "maximum": 50000}));
    // An exclusive bound at the same value is the tighter one; a further
    // inclusive one is looser.
    let m = merged(
        json!({"exclusiveMaximum": 10, "minimum": 1}),
        json!({"maximum": 10, "exclusiveMinimum": 0.5}),
    );
    assert_eq!(m, json!({"exclusiveMaximum": 10, "minimum": 1}));
    let m = merged(json!({"exclusiveMinimum": 1}), json!({"minimum": 1.5}));
    assert_eq!(m, json!({"minimum": 1.5}));
}

#[test]
fn the_tighter_count_is_kept() {
    let m = merged(
        json!({"minLength": 1, "maxLength": 200}),
        json!({"minLength": 2, "maxLength": 80}),
    );
    assert_eq!(m, json!({"minLength": 2, "maxLength": 80}));
    let m = merged(
        json!({"minItems": 1, "maxItems": 10}),
        json!({"maxItems": 2, "uniqueItems": true}),
    );
    assert_eq!(
        m,
        json!({"minItems": 1, "maxItems": 2, "uniqueItems": true})
    );
    let m = merged(json!({"maxProperties": 3}), json!({"maxProperties": 2}));
    assert_eq!(m, json!({"maxProperties": 2}));
}

#[test]
fn a_multiple_of_a_multiple_is_kept() {
    assert_eq!(
        merged(json!({"multipleOf": 2}), json!({"multipleOf": 6})),
        json!({"multipleOf": 6})
    );
    assert_eq!(
        merged(json!({"multipleOf": 2}), json!({"multipleOf": 3})),
        json!({"multipleOf": 2, "allOf": [{"multipleOf": 3}]})
    );
}

#[test]
fn a_pattern_is_kept_from_the_side_that_has_one() {
    let m = merged(json!({"type": "string"}), json!({"pattern": "^a"}));
    assert_eq!(m, json!({"type": "string", "pattern": "^a"}));
    // Two patterns have no exact merge: both apply.
    let m = merged(json!({"pattern": "^a"}), json!({"pattern": "c$"}));
    assert_eq!(m, json!({"pattern": "^a", "allOf": [{"pattern": "c$"}]}));
}

#[test]
fn required_is_united_and_properties_merge_recursively() {
    let m = merged(
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 200},
            "source": {"enum": ["web_form", "chat", "import"]}}}),
        json!({"required": ["source", "name"], "properties": {
            "name": {"maxLength": 80, "description": "Contact"},
            "source": {"enum": ["web_form", "chat"]}}}),
    );
    assert_eq!(
        m,
        json!({"type": "object", "required": ["name", "source"], "properties": {
            "name": {"type": "string", "maxLength": 80, "description": "Contact"},
            "source": {"enum": ["web_form", "chat"]}}})
    );
}

#[test]
fn a_closed_tool_schema_stays_closed() {
    let tool = json!({"type": "object", "additionalProperties": false,
        "properties": {"name": {"type": "string"}}});
    // The overlay cannot open it: its extra property is left out, with a note.
    let out = merge(
        &tool,
        &json!({"properties": {"extra": {"type": "integer"}}}),
    )
    .unwrap();
    assert_eq!(out.schema, tool);
    assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
    assert!(
        out.notes[0].contains("/properties/extra"),
        "{:?}",
        out.notes
    );
    merged(tool, json!({"properties": {"extra": {"type": "integer"}}}));
    // An overlay's own `additionalProperties` applies to the tool's names it does not list.
    let m = merged(
        json!({"type": "object", "properties": {"name": {"type": "string"}, "a": {}}}),
        json!({"additionalProperties": false, "properties": {"name": {"maxLength": 3}}}),
    );
    assert_eq!(
        m,
        json!({"type": "object", "additionalProperties": false,
               "properties": {"name": {"type": "string", "maxLength": 3}}})
    );
    // Both open with schemas: each side's rule for names the other does not list.
    let m = merged(
        json!({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}),
        json!({"properties": {"b": {"minimum": 1}}}),
    );
    assert_eq!(
        m,
        json!({"properties": {"a": {"type": "string"}, "b": {"type": "integer", "minimum": 1}},
               "additionalProperties": {"type": "integer"}})
    );
}

#[test]
fn items_merge_position_by_position() {
    let m = merged(
        json!({"type": "array", "items": {"type": "integer"}}),
        json!({"prefixItems": [{"minimum": 1}], "items": {"maximum": 2}}),
    );
    assert_eq!(
        m,
        json!({"type": "array", "prefixItems": [{"type": "integer", "minimum": 1}],
               "items": {"type": "integer", "maximum": 2}})
    );
}

#[test]
fn what_has_no_exact_merge_stays_apart() {
    // patternProperties: the overlay's whole object group goes apart.
    let m = merged(
        json!({"type": "object", "patternProperties": {"^a": {"type": "string"}}}),
        json!({"properties": {"a": {"maxLength": 1}}, "additionalProperties": false}),
    );
    assert_eq!(
        m,
        json!({"type": "object", "patternProperties": {"^a": {"type": "string"}},
               "allOf": [{"properties": {"a": {"maxLength": 1}}, "additionalProperties": false}]})
    );
    // A format, anyOf, not: each side's applies.
    let m = merged(
        json!({"format": "email", "anyOf": [{"type": "string"}, {"type": "null"}]}),
        json!({"format": "date", "anyOf": [{"const": "a"}], "not": {"const": "b"}}),
    );
    assert_eq!(
        m,
        json!({"format": "email", "anyOf": [{"type": "string"}, {"type": "null"}],
               "not": {"const": "b"}, "allOf": [{"format": "date", "anyOf": [{"const": "a"}]}]})
    );
}

#[test]
fn references_and_other_drafts_are_not_merged() {
    let tool =
        json!({"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}});
    let overlay = json!({"properties": {"a": {"maxLength": 2}}});
    let out = merge(&tool, &overlay).unwrap();
    assert_eq!(out.schema, json!({"allOf": [tool, overlay]}));
    let tool = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"});
    let out = merge(&tool, &overlay).unwrap();
    assert_eq!(out.schema, json!({"allOf": [tool, overlay]}));
    let m = merged(
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}),
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "required": ["a"]}),
    );
    assert_eq!(m["required"], json!(["a"]));
}

#[test]
fn annotations_are_the_overlays() {
    let m = merged(
        json!({"type": "string", "description": "any name", "title": "Name"}),
        json!({"description": "a short name"}),
    );
    assert_eq!(
        m,
        json!({"type": "string", "description": "a short name", "title": "Name"})
    );
}

#[test]
fn an_empty_intersection_says_where() {
    let e = empty(
        &json!({"properties": {"source": {"enum": ["a", "b"]}}}),
        &json!({"properties": {"source": {"enum": ["c"]}}}),
    );
    assert_eq!(e.pointer, "/properties/source");
    assert!(e.reason.contains("no value in common"), "{}", e.reason);
    let e = empty(
        &json!({"properties": {"n": {"type": "integer", "minimum": 10}}}),
        &json!({"properties": {"n": {"maximum": 5}}}),
    );
    assert_eq!(e.pointer, "/properties/n");
    assert!(e.reason.contains("above the upper bound"), "{}", e.reason);
    let e = empty(
        &json!({"properties": {"n": {"type": "number", "minimum": 5}}}),
        &json!({"properties": {"n": {"exclusiveMaximum": 5}}}),
    );
    assert!(e.reason.contains("no number between"), "{}", e.reason);
    let e = empty(&json!({"type": "string"}), &json!({"type": "integer"}));
    assert_eq!(e.pointer, "");
    let e = empty(&json!({"const": "a"}), &json!({"const": "b"}));
    assert!(e.reason.contains("no value in common"), "{}", e.reason);
    let e = empty(
        &json!({"type": "string", "minLength": 5}),
        &json!({"maxLength": 4}),
    );
    assert!(e.reason.contains("minLength 5"), "{}", e.reason);
    // The overlay requires a property the closed tool schema forbids.
    let e = empty(
        &json!({"type": "object", "additionalProperties": false, "properties": {"a": {}}}),
        &json!({"required": ["b"]}),
    );
    assert!(e.reason.contains("\"b\" is required"), "{}", e.reason);
    // Crossed bounds on a schema that also admits strings are not empty.
    merged(
        json!({"type": ["string", "integer"], "minimum": 5}),
        json!({"maximum": 1}),
    );
}

#[test]
fn the_shipped_overlay_merges_into_one_schema() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(p)).unwrap()).unwrap()
    };
    let m = merged(
        read("schemas/create_lead.json"),
        read("schemas/lead-routing/create_lead.json"),
    );
    assert!(!m.to_string().contains("allOf"), "{m}");
    assert_eq!(m["required"], json!(["name", "email", "source"]));
    assert_eq!(
        m["properties"]["source"],
        json!({"enum": ["web_form", "chat"]})
    );
    assert_eq!(m["properties"]["value_usd"]["maximum"], json!(50000));
}

// --- the equivalence, on random schemas and instances ---

const NAMES: [&str; 4] = ["a", "b", "c", "aa"];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..6).prop_map(Value::from),
        prop::sample::select(vec![0.5f64, 2.5, -1.5, 3.0]).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "aaaa",
            "x@y.io",
            "2024-01-02"
        ])
        .prop_map(Value::from),
    ]
}

fn instance() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), inner, 0..4)
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-2i64..5).prop_map(Value::from),
        Just(json!(0.5)),
        Just(json!(2.5))
    ]
}

fn names() -> impl Strategy<Value = Value> {
    prop::sample::subsequence(NAMES.to_vec(), 0..3).prop_map(|n| json!(n))
}

/// One keyword (or a group's keywords) of a schema whose subschemas come from `sub`.
fn keywords(sub: BoxedStrategy<Value>) -> impl Strategy<Value = Vec<(String, Value)>> {
    let one =
        |k: &'static str, s: BoxedStrategy<Value>| s.prop_map(move |v| vec![(k.to_owned(), v)]);
    let types = prop::sample::subsequence(
        vec![
            "null", "boolean", "integer", "number", "string", "array", "object",
        ],
        1..3,
    )
    .prop_map(|t| if t.len() == 1 { json!(t[0]) } else { json!(t) });
    let props =
        prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), sub.clone(), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    let counts = prop::sample::select(vec![
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    ]);
    let bounds = prop::sample::select(vec![
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ]);
    let subs = prop::sample::select(vec![
        "items",
        "propertyNames",
        "not",
        "additionalProperties",
        "contains",
        "additionalItems",
    ]);
    let lists = prop::sample::select(vec!["prefixItems", "anyOf", "oneOf", "allOf"]);
    prop_oneof![
        4 => one("type", types.boxed()),
        3 => one("enum", prop::collection::vec(leaf(), 1..4).prop_map(Value::Array).boxed()),
        1 => one("const", leaf().boxed()),
        3 => (bounds, number()).prop_map(|(k, v)| vec![(k.to_owned(), v)]),
        3 => (counts, 0u64..4).prop_map(|(k, v)| vec![(k.to_owned(), json!(v))]),
        1 => one("multipleOf", prop::sample::select(vec![json!(1), json!(2), json!(3), json!(0.5)]).boxed()),
        2 => one("pattern", prop::sample::select(vec!["^a", "b$", "^[ab]*$", "a"]).prop_map(Value::from).boxed()),
        1 => one("format", prop::sample::select(vec!["email", "date"]).prop_map(Value::from).boxed()),
        1 => one("uniqueItems", any::<bool>().prop_map(Value::Bool).boxed()),
        4 => one("properties", props.boxed()),
        3 => one("required", names().boxed()),
        3 => one("additionalProperties", prop_oneof![Just(json!(false)), sub.clone()].boxed()),
        3 => (subs, sub.clone()).prop_map(|(k, v)| vec![(k.to_owned(), v)]),
        2 => (lists, prop::collection::vec(sub.clone(), 1..3))
            .prop_map(|(k, v)| vec![(k.to_owned(), Value::Array(v))]),
        1 => one("patternProperties", sub.clone().prop_map(|s| json!({"^a": s})).boxed()),
        1 => (sub.clone(), sub.clone(), sub.clone()).prop_map(|(i, t, e)| vec![
            ("if".to_owned(), i), ("then".to_owned(), t), ("else".to_owned(), e)
        ]),
        1 => (0u64..3, 0u64..3).prop_map(|(lo, hi)| vec![
            ("minContains".to_owned(), json!(lo)), ("maxContains".to_owned(), json!(hi))
        ]),
        1 => one("dependentRequired", names().prop_map(|n| json!({"a": n})).boxed()),
        1 => one("dependentSchemas", sub.prop_map(|s| json!({"b": s})).boxed()),
        1 => one("description", prop::sample::select(vec!["x", "y"]).prop_map(Value::from).boxed()),
        1 => one("x-sensitive", any::<bool>().prop_map(Value::Bool).boxed()),
    ]
}

fn schema() -> BoxedStrategy<Value> {
    let object = |sub: BoxedStrategy<Value>| {
        prop::collection::vec(keywords(sub), 0..5)
            .prop_map(|ks| Value::Object(ks.into_iter().flatten().collect()))
    };
    let leaf = prop_oneof![
        1 => Just(json!(true)),
        1 => Just(json!(false)),
        6 => object(Just(json!({})).boxed()),
    ];
    leaf.prop_recursive(2, 24, 4, move |inner| object(inner.boxed()).boxed())
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn the_merged_schema_accepts_exactly_what_the_all_of_accepts(
        tool in schema(),
        overlay in schema(),
        instances in prop::collection::vec(instance(), 24),
    ) {
        let both = compile_schema(&json!({ "allOf": [tool, overlay] })).expect("allOf compiles");
        match merge(&tool, &overlay) {
            Ok(m) => {
                let one = compile_schema(&m.schema).expect("the merged schema compiles");
                for v in &instances {
                    prop_assert_eq!(one.is_valid(v), both.is_valid(v), "{} judged differently by {}", v, m.schema);
                }
            }
            // An empty intersection at the top means nothing at all passes.
            Err(e) if e.pointer.is_empty() => {
                for v in &instances {
                    prop_assert!(!both.is_valid(v), "{} passes although the merge said {}", v, e.reason);
                }
            }
            Err(_) => {}
        }
    }
}
