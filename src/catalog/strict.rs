//! Whether a schema qualifies for OpenAI's strict mode (structured outputs),
//! so the OpenAI export can say `strict: true`.
//!
//! OpenAI's documented subset: the root is an object schema (not `anyOf`);
//! every object sets `additionalProperties: false` and writes out
//! `properties` and `required`, listing every property in `required`; types are string, number, integer, boolean, object, array
//! and null; the keywords are `type`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `anyOf`, `$defs` and
//! `$ref` (internal), `title` and `description`, and the supported
//! constraints — `pattern` and `format` (date-time, time, date, duration,
//! email, hostname, ipv4, ipv6, uuid) for strings, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` and `multipleOf` for numbers,
//! `minItems` and `maxItems` for arrays. Size limits: at most 5000 object
//! properties in all, 10 levels of nesting, 1000 enum values in all, and
//! 120,000 characters of property names, definition names, enum and const
//! values; an enum of more than 250 strings at most 15,000 characters.
//!
//! Anything else (`minLength`, `default`, `allOf`, `not`, an optional
//! property, an open object, an extension keyword such as `x-sensitive`)
//! makes the answer `false`: strict mode would refuse the schema, and
//! toolgate never rewrites a schema so that it would pass.

use serde_json::{Map, Value};

const KEYWORDS: [&str; 21] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "anyOf",
    "$defs",
    "$ref",
    "title",
    "description",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
];

const TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "object", "array", "null",
];

const FORMATS: [&str; 9] = [
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

const MAX_PROPERTIES: usize = 5000;
const MAX_DEPTH: usize = 10;
const MAX_ENUM_VALUES: usize = 1000;
const MAX_STRING_CHARS: usize = 120_000;
const LARGE_ENUM: usize = 250;
const LARGE_ENUM_CHARS: usize = 15_000;

#[derive(Default)]
struct Tally {
    properties: usize,
    enum_values: usize,
    chars: usize,
}

/// Whether OpenAI's strict mode accepts `schema` as a function's parameters.
pub fn openai_strict(schema: &Value) -> bool {
    let Some(root) = schema.as_object() else {
        return false;
    };
    if root.get("type").and_then(Value::as_str) != Some("object") || root.contains_key("anyOf") {
        return false;
    }
    let mut tally = Tally::default();
    fits(schema, 1, &mut tally)
        && tally.properties <= MAX_PROPERTIES
        && tally.enum_values <= MAX_ENUM_VALUES
        && tally.chars <= MAX_STRING_CHARS
}

/// Whether `schema` (at object nesting `depth`) is in the subset.
fn fits(schema: &Value, depth: usize, tally: &mut Tally) -> bool {
    let Some(s) = schema.as_object() else {
        return false;
    };
    if !s.keys().all(|k| KEYWORDS.contains(&k.as_str())) {
        return false;
    }
    let types: Vec<&str> = match s.get("type") {
        None => Vec::new(),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => match ts.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(ts) => ts,
            None => return false,
        },
        Some(_) => return false,
    };
    if !types.iter().all(|t| TYPES.contains(t)) {
        return false;
    }
    if let Some(f) = s.get("format")
        && !f.as_str().is_some_and(|f| FORMATS.contains(&f))
    {
        return false;
    }
    if let Some(r) = s.get("$ref")
        && !r
            .as_str()
            .is_some_and(|r| r == "#" || r.starts_with("#/$defs/"))
    {
        return false;
    }
    let object = types.contains(&"object") || s.contains_key("properties");
    if object && !closed_and_required(s, depth, tally) {
        return false;
    }
    if !object && (s.contains_key("additionalProperties") || s.contains_key("required")) {
        return false;
    }
    if let Some(items) = s.get("items")
        && !fits(items, depth, tally)
    {
        return false;
    }
    if let Some(any) = s.get("anyOf") {
        let Some(any) = any.as_array() else {
            return false;
        };
        if !any.iter().all(|b| fits(b, depth, tally)) {
            return false;
        }
    }
    if let Some(defs) = s.get("$defs") {
        let Some(defs) = defs.as_object() else {
            return false;
        };
        for (name, d) in defs {
            tally.chars += name.chars().count();
            if !fits(d, depth, tally) {
                return false;
            }
        }
    }
    if let Some(e) = s.get("enum") {
        let Some(values) = e.as_array() else {
            return false;
        };
        tally.enum_values += values.len();
        let chars: usize = values.iter().map(value_chars).sum();
        tally.chars += chars;
        let strings = values.iter().filter(|v| v.is_string()).count();
        if strings > LARGE_ENUM && chars > LARGE_ENUM_CHARS {
            return false;
        }
    }
    if let Some(c) = s.get("const") {
        tally.chars += value_chars(c);
    }
    true
}

/// An object schema: closed, every property required, each one in the subset.
fn closed_and_required(s: &Map<String, Value>, depth: usize, tally: &mut Tally) -> bool {
    if depth > MAX_DEPTH || s.get("additionalProperties") != Some(&Value::Bool(false)) {
        return false;
    }
    // Both written out, even when empty: strict mode refuses an object
    // schema without `properties` or `required`.
    let Some(Value::Object(props)) = s.get("properties") else {
        return false;
    };
    let required: Vec<&str> = match s.get("required") {
        Some(Value::Array(r)) => match r.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(r) => r,
            None => return false,
        },
        _ => return false,
    };
    if required.len() != props.len() || !props.keys().all(|k| required.contains(&k.as_str())) {
        return false;
    }
    tally.properties += props.len();
    props.iter().all(|(name, p)| {
        tally.chars += name.chars().count();
        fits(p, depth + 1, tally)
    })
}

fn value_chars(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        other => other.to_string().chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::openai_strict;

    #[test]
    fn a_closed_fully_required_schema_qualifies() {
        assert!(openai_strict(&json!({
            "type": "object", "additionalProperties": false, "required": ["id", "tags"],
            "properties": {
                "id": {"type": "string", "pattern": "^L-[0-9]+$", "description": "The id"},
                "tags": {"type": "array", "maxItems": 3, "items": {
                    "type": "object", "additionalProperties": false, "required": ["k"],
                    "properties": {"k": {"type": ["string", "null"], "enum": ["a", "b", null]}}}}
            }
        })));
        assert!(openai_strict(&json!({
            "type": "object", "additionalProperties": false, "properties": {}, "required": []
        })));
        // Without `properties` and `required` written out, strict mode refuses it.
        assert!(!openai_strict(
            &json!({"type": "object", "additionalProperties": false})
        ));
    }

    #[test]
    fn anything_outside_the_subset_does_not() {
        let ok = json!({"type": "object", "additionalProperties": false, "required": ["a"],
                        "properties": {"a": {"type": "string"}}});
        assert!(openai_strict(&ok));
        let with = |pointer: &str, v: serde_json::Value| {
            let mut s = ok.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            s.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert(key.to_owned(), v);
            s
        };
        for bad in [
            with("/properties/b", json!({"type": "string"})), // optional
            with("/additionalProperties", json!(true)),
            with("/properties/a/minLength", json!(1)),
            with("/properties/a/default", json!("x")),
            with("/properties/a/format", json!("uri")),
            with("/properties/a/x-sensitive", json!(true)),
            with("/allOf", json!([{"required": ["a"]}])),
            with("/properties/a", json!({"type": "object", "properties": {}})),
        ] {
            assert!(!openai_strict(&bad), "{bad}");
        }
        assert!(!openai_strict(&json!({"anyOf": [{"type": "object"}]})));
        assert!(!openai_strict(&json!({"type": "string"})));
        let mut deep = json!({"type": "string"});
        for _ in 0..11 {
            deep = json!({"type": "object", "additionalProperties": false, "required": ["x"],
                          "properties": {"x": deep}});
        }
        assert!(!openai_strict(&deep), "11 levels of objects");
    }
}
