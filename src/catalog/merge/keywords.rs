//! The keyword-level pieces of the merge: bounds, counts, types, values
//! and what makes a merged schema admit nothing.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// `enum` and `const` are merged together, after `type` is known.
pub(super) const VALUES: [&str; 2] = ["enum", "const"];

/// The keywords of `m` in `group`.
pub(super) fn part(m: &Map<String, Value>, group: &[&str]) -> Map<String, Value> {
    group
        .iter()
        .filter_map(|k| m.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

/// The tighter of two bounds, each `minimum`/`exclusiveMinimum` (or the
/// `maximum` pair): `tighter` is `Greater` for lower bounds. `None` when a
/// value is not a number or two cannot be compared exactly.
pub(super) fn bound(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    group: &[&str],
    tighter: Ordering,
) -> Option<Map<String, Value>> {
    let mut best: Option<(&Number, bool)> = None;
    for side in [a, b] {
        for (i, k) in group.iter().enumerate() {
            let Some(v) = side.get(*k) else { continue };
            let n = v.as_number()?;
            let exclusive = i == 1;
            best = Some(match best {
                None => (n, exclusive),
                Some((m, ex)) => match cmp(n, m)? {
                    o if o == tighter => (n, exclusive),
                    Ordering::Equal => (m, ex || exclusive),
                    _ => (m, ex),
                },
            });
        }
    }
    let (n, exclusive) = best?;
    let k = group[usize::from(exclusive)];
    Some(Map::from_iter([(k.to_owned(), Value::Number(n.clone()))]))
}

/// Two numbers compared exactly (`None`: beyond what an `f64` holds exactly).
pub(super) fn cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    if a.is_u64() && b.as_i64().is_some() {
        return Some(Ordering::Greater);
    }
    if a.as_i64().is_some() && b.is_u64() {
        return Some(Ordering::Less);
    }
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let exact = |n: &Number| n.is_f64() || n.as_f64().is_some_and(|f| f.abs() <= EXACT);
    if !exact(a) || !exact(b) {
        return None;
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// JSON equality as JSON Schema has it (`1` and `1.0` are equal).
pub(super) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp(x, y).map_or(x == y, Ordering::is_eq),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The larger minimum or smaller maximum of two counts.
pub(super) fn count(a: &Value, b: &Value, tighter: Ordering) -> Option<Value> {
    let (x, y) = (a.as_u64()?, b.as_u64()?);
    Some(Value::from(if x.cmp(&y) == tighter { x } else { y }))
}

/// Of two `multipleOf`s, the one that is a multiple of the other.
pub(super) fn multiple(a: &Value, b: &Value) -> Option<Value> {
    let (x, y) = (a.as_u64()?, b.as_u64()?);
    if x == 0 || y == 0 {
        return None;
    }
    match (x % y, y % x) {
        (0, _) => Some(a.clone()),
        (_, 0) => Some(b.clone()),
        _ => None,
    }
}

/// Two lists of names united, the first's order kept.
pub(super) fn union(a: &Value, b: &Value) -> Option<Value> {
    let (Value::Array(x), Value::Array(y)) = (a, b) else {
        return None;
    };
    let mut out = x.clone();
    out.extend(y.iter().filter(|v| !x.contains(v)).cloned());
    Some(Value::Array(out))
}

/// A `type` value as a list of names.
pub(super) fn types(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// The types both lists allow (`integer` is a `number`).
pub(super) fn meet<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for x in a {
        for y in b {
            let m = match (*x, *y) {
                (x, y) if x == y => Some(x),
                ("integer", "number") | ("number", "integer") => Some("integer"),
                _ => None,
            };
            if let Some(m) = m
                && !out.contains(&m)
            {
                out.push(m);
            }
        }
    }
    if out.contains(&"number") {
        out.retain(|t| *t != "integer");
    }
    out
}

pub(super) fn type_value(t: &[&str]) -> Value {
    match t {
        [one] => Value::String((*one).to_owned()),
        many => Value::Array(
            many.iter()
                .map(|t| Value::String((*t).to_owned()))
                .collect(),
        ),
    }
}

/// Whether `v` is of one of `types`.
pub(super) fn of_type(v: &Value, types: &[&str]) -> bool {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Number(n) => {
            let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
            return types.contains(&"number") || (integral && types.contains(&"integer"));
        }
    };
    types.contains(&kind)
}

pub(super) enum Values {
    /// The merged `enum`/`const` (maybe none).
    Same(Map<String, Value>),
    /// No exact merge: each side's, apart.
    Apart(Map<String, Value>, Map<String, Value>),
    /// No value passes.
    None(String),
}

/// `enum` and `const` of both sides intersected, and with the merged
/// `type`: a `const` inside an `enum` is the `const` alone, an `enum`
/// keeps the values of the type.
pub(super) fn values(a: &Map<String, Value>, b: &Map<String, Value>, ty: Option<&Value>) -> Values {
    let (ga, gb) = (part(a, &VALUES), part(b, &VALUES));
    if ga.is_empty() && gb.is_empty() {
        return Values::Same(Map::new());
    }
    let lists = |m: &Map<String, Value>| -> Option<Vec<Vec<Value>>> {
        let mut out = Vec::new();
        if let Some(e) = m.get("enum") {
            out.push(e.as_array()?.clone());
        }
        if let Some(c) = m.get("const") {
            out.push(vec![c.clone()]);
        }
        Some(out)
    };
    let (Some(la), Some(lb)) = (lists(&ga), lists(&gb)) else {
        return Values::Apart(ga, gb);
    };
    let konst = ga.contains_key("const") || gb.contains_key("const");
    let mut all = la.into_iter().chain(lb);
    let mut kept = all.next().unwrap_or_default();
    for list in all {
        kept.retain(|v| list.iter().any(|w| same(v, w)));
    }
    let typed = ty.and_then(types);
    if let Some(t) = &typed {
        kept.retain(|v| of_type(v, t));
    }
    match (kept.as_slice(), konst) {
        ([], _) => Values::None(match typed {
            Some(_) => {
                "no value of the enum or const is of the allowed type, or in both enums".into()
            }
            None => "the enums and consts have no value in common".into(),
        }),
        ([one], true) => Values::Same(Map::from_iter([("const".to_owned(), one.clone())])),
        (_, _) => Values::Same(Map::from_iter([("enum".to_owned(), Value::Array(kept))])),
    }
}

/// Why no value passes a merged schema whose `type` limits it to the kind
/// its crossed bounds apply to (a string-only schema with `minLength` over
/// `maxLength`, …), or a required name it forbids.
pub(super) fn contradiction(s: &Map<String, Value>) -> Option<String> {
    let only = |kinds: &[&str]| {
        s.get("type")
            .and_then(types)
            .is_some_and(|t| t.iter().all(|t| kinds.contains(t)))
    };
    let num = |k: &str| s.get(k).and_then(Value::as_number);
    let low = num("minimum")
        .map(|n| (n, false))
        .or(num("exclusiveMinimum").map(|n| (n, true)));
    let high = num("maximum")
        .map(|n| (n, false))
        .or(num("exclusiveMaximum").map(|n| (n, true)));
    if let (Some((l, lx)), Some((h, hx))) = (low, high)
        && only(&["number", "integer"])
    {
        match cmp(l, h) {
            Some(Ordering::Greater) => {
                return Some(format!("the lower bound {l} is above the upper bound {h}"));
            }
            Some(Ordering::Equal) if lx || hx => {
                return Some(format!(
                    "the bounds {l} and {h} leave no number between them"
                ));
            }
            _ => {}
        }
    }
    for (min, max, kind) in [
        ("minLength", "maxLength", "string"),
        ("minItems", "maxItems", "array"),
        ("minProperties", "maxProperties", "object"),
    ] {
        let (Some(lo), Some(hi)) = (
            s.get(min).and_then(Value::as_u64),
            s.get(max).and_then(Value::as_u64),
        ) else {
            continue;
        };
        if lo > hi && only(&[kind]) {
            return Some(format!("{min} {lo} is above {max} {hi}"));
        }
    }
    if !only(&["object"]) || s.contains_key("patternProperties") {
        return None;
    }
    let closed = s.get("additionalProperties") == Some(&Value::Bool(false));
    let props = s.get("properties").and_then(Value::as_object);
    for name in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = name.as_str() else { continue };
        let schema = props.and_then(|p| p.get(name));
        let forbidden = match schema {
            Some(s) => s == &Value::Bool(false),
            None => closed,
        };
        if forbidden {
            return Some(format!("property \"{name}\" is required but not allowed"));
        }
    }
    None
}
