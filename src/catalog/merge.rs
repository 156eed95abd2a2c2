//! The effective schema as one simple schema: a tool's input schema and a
//! workflow's overlay merged keyword by keyword, wherever the merge accepts
//! exactly the values that `allOf: [tool, overlay]` accepts.
//!
//! A JSON Schema object is the conjunction of its keywords, and most
//! keywords act alone. Those are merged by kind: `type` and `enum`/`const`
//! intersected, the tighter of two bounds kept, `required` united, subschemas
//! (`properties`, `items`, `propertyNames`, …) merged recursively. Keywords
//! that act together (`properties` with `additionalProperties`, `prefixItems`
//! with `items`, `contains` with its counts, `if` with `then`/`else`) move as
//! one group. What has no exact merge (two different `pattern`s, two
//! `anyOf`s, a group with `patternProperties`) keeps the tool's keyword in
//! place and the overlay's in an `allOf` beside it. Schemas that reference
//! (`$ref`), collect annotations (`unevaluated*`) or name another draft are
//! not merged at all: the result is the plain `allOf` of the two.
//!
//! A merge that finds no value could pass (enums without a common value,
//! bounds that cross, types with nothing in common) reports where, so the
//! configuration can be refused at load.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::config::yaml;

mod keywords;
use keywords::{
    VALUES, Values, bound, contradiction, count, meet, multiple, part, type_value, types, union,
    values,
};

/// Why no value at `pointer` (of the merged schema) could pass both schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Empty {
    pub pointer: String,
    pub reason: String,
}

/// The merged schema, and what the operator should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub schema: Value,
    /// Parts of the overlay that cannot take effect (say, a property the
    /// tool's schema does not allow), one sentence each.
    pub notes: Vec<String>,
}

/// Keywords after which no merge is attempted anywhere.
const NOT_MERGED: [&str; 6] = [
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "$dynamicAnchor",
    "unevaluatedProperties",
    "unevaluatedItems",
];

/// Keywords that only annotate: the overlay's wins.
const ANNOTATIONS: [&str; 8] = [
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
];

/// Keywords inert without references: the tool's is kept.
const INERT: [&str; 5] = ["$schema", "$id", "$anchor", "$defs", "definitions"];

/// Keywords that act together, merged (or kept apart) as one.
const GROUPS: [&[&str]; 6] = [
    &["properties", "patternProperties", "additionalProperties"],
    &["prefixItems", "items", "additionalItems"],
    &["contains", "minContains", "maxContains"],
    &["if", "then", "else"],
    &["minimum", "exclusiveMinimum"],
    &["maximum", "exclusiveMaximum"],
];

static TRUE: Value = Value::Bool(true);

/// `tool` narrowed by `overlay`, as one schema accepting exactly what both accept.
pub fn merge(tool: &Value, overlay: &Value) -> Result<Merged, Empty> {
    if !mergeable(tool, true) || !mergeable(overlay, true) {
        return Ok(Merged {
            schema: json!({ "allOf": [tool, overlay] }),
            notes: Vec::new(),
        });
    }
    let mut m = Merger { notes: Vec::new() };
    let schema = m.schema(tool, overlay, "")?;
    Ok(Merged {
        schema,
        notes: m.notes,
    })
}

/// Whether `v` can be merged keyword by keyword: no references, no
/// annotation-collecting keywords, and no draft but 2020-12 (the default).
/// Every object inside is looked at, data included: a false alarm only
/// means the two are shown as `allOf`.
fn mergeable(v: &Value, root: bool) -> bool {
    match v {
        Value::Object(m) => m.iter().all(|(k, v)| {
            if NOT_MERGED.contains(&k.as_str()) {
                return false;
            }
            if k == "$schema" {
                let draft = v.as_str().map(|s| s.trim_end_matches('#'));
                if !root || draft != Some("https://json-schema.org/draft/2020-12/schema") {
                    return false;
                }
            }
            mergeable(v, false)
        }),
        Value::Array(items) => items.iter().all(|v| mergeable(v, false)),
        _ => true,
    }
}

struct Merger {
    notes: Vec<String>,
}

fn pointer(at: &str, token: &str) -> String {
    format!("{at}/{}", yaml::escape_token(token))
}

impl Merger {
    /// Two schemas (objects or booleans) merged.
    fn schema(&mut self, a: &Value, b: &Value, at: &str) -> Result<Value, Empty> {
        match (a, b) {
            (Value::Bool(true), x) | (x, Value::Bool(true)) => Ok(x.clone()),
            (Value::Bool(false), _) | (_, Value::Bool(false)) => Ok(Value::Bool(false)),
            (Value::Object(a), Value::Object(b)) => self.object(a, b, at).map(Value::Object),
            _ => Ok(json!({ "allOf": [a, b] })),
        }
    }

    fn object(
        &mut self,
        a: &Map<String, Value>,
        b: &Map<String, Value>,
        at: &str,
    ) -> Result<Map<String, Value>, Empty> {
        let mut out = Map::new();
        // The overlay's keywords without an exact merge, kept in an `allOf`.
        let mut apart = Map::new();
        for group in GROUPS {
            let (ga, gb) = (part(a, group), part(b, group));
            let merged = if gb.is_empty() || ga == gb {
                Some(ga.clone())
            } else if ga.is_empty() {
                Some(gb.clone())
            } else {
                match group[0] {
                    "properties" => self.properties(&ga, &gb, at)?,
                    "prefixItems" => self.items(&ga, &gb, at)?,
                    "minimum" => bound(&ga, &gb, group, Ordering::Greater),
                    "maximum" => bound(&ga, &gb, group, Ordering::Less),
                    _ => None,
                }
            };
            match merged {
                Some(m) => out.extend(m),
                None => {
                    out.extend(ga);
                    apart.extend(gb);
                }
            }
        }
        let grouped = |k: &str| GROUPS.iter().any(|g| g.contains(&k)) || VALUES.contains(&k);
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).filter(|k| !grouped(k)).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (va, vb) = (a.get(k), b.get(k));
            let (va, vb) = match (va, vb) {
                (Some(v), None) | (None, Some(v)) => {
                    out.insert(k.clone(), v.clone());
                    continue;
                }
                (Some(va), Some(vb)) => (va, vb),
                (None, None) => continue,
            };
            if va == vb {
                out.insert(k.clone(), va.clone());
                continue;
            }
            if ANNOTATIONS.contains(&k.as_str()) {
                out.insert(k.clone(), vb.clone());
                continue;
            }
            if INERT.contains(&k.as_str()) {
                out.insert(k.clone(), va.clone());
                continue;
            }
            match self.keyword(k, va, vb, at)? {
                Some(v) => {
                    out.insert(k.clone(), v);
                }
                None => {
                    out.insert(k.clone(), va.clone());
                    apart.insert(k.clone(), vb.clone());
                }
            }
        }
        match values(a, b, out.get("type")) {
            Values::Same(m) => out.extend(m),
            Values::Apart(ma, mb) => {
                out.extend(ma);
                apart.extend(mb);
            }
            Values::None(reason) => {
                return Err(Empty {
                    pointer: at.to_owned(),
                    reason,
                });
            }
        }
        if let Some(reason) = contradiction(&out) {
            return Err(Empty {
                pointer: at.to_owned(),
                reason,
            });
        }
        if !apart.is_empty() {
            let mut all = match out.remove("allOf") {
                Some(Value::Array(all)) => all,
                Some(other) => vec![json!({ "allOf": other })],
                None => Vec::new(),
            };
            all.push(Value::Object(apart));
            out.insert("allOf".into(), Value::Array(all));
        }
        Ok(out)
    }

    /// One keyword both sides have, with different values: the merged
    /// value, or `None` when no merge is exact.
    fn keyword(&mut self, k: &str, a: &Value, b: &Value, at: &str) -> Result<Option<Value>, Empty> {
        Ok(match k {
            "type" => match (types(a), types(b)) {
                (Some(ta), Some(tb)) => {
                    let t = meet(&ta, &tb);
                    if t.is_empty() {
                        return Err(Empty {
                            pointer: at.to_owned(),
                            reason: format!("the types have nothing in common ({a} and {b})"),
                        });
                    }
                    Some(type_value(&t))
                }
                _ => None,
            },
            "required" => union(a, b),
            "minLength" | "minItems" | "minProperties" => count(a, b, Ordering::Greater),
            "maxLength" | "maxItems" | "maxProperties" => count(a, b, Ordering::Less),
            "multipleOf" => multiple(a, b),
            "uniqueItems" => match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => Some(Value::Bool(*x || *y)),
                _ => None,
            },
            "allOf" => match (a, b) {
                (Value::Array(x), Value::Array(y)) => {
                    let mut all = x.clone();
                    all.extend(y.iter().filter(|v| !x.contains(v)).cloned());
                    Some(Value::Array(all))
                }
                _ => None,
            },
            "propertyNames" => Some(self.schema(a, b, &pointer(at, k))?),
            "dependentRequired" => match (a, b) {
                (Value::Object(x), Value::Object(y)) => {
                    let mut out = x.clone();
                    for (name, req) in y {
                        let merged = match x.get(name) {
                            Some(prev) => union(prev, req),
                            None => Some(req.clone()),
                        };
                        let Some(merged) = merged else {
                            return Ok(None);
                        };
                        out.insert(name.clone(), merged);
                    }
                    Some(Value::Object(out))
                }
                _ => None,
            },
            "dependentSchemas" => match (a, b) {
                (Value::Object(x), Value::Object(y)) => {
                    let mut out = x.clone();
                    for (name, s) in y {
                        let merged = match x.get(name) {
                            Some(prev) => {
                                let p = pointer(&pointer(at, k), name);
                                self.schema(prev, s, &p)?
                            }
                            None => s.clone(),
                        };
                        out.insert(name.clone(), merged);
                    }
                    Some(Value::Object(out))
                }
                _ => None,
            },
            _ => None,
        })
    }

    /// `properties` and `additionalProperties` of both sides as one
    /// (`None` with `patternProperties`, whose interplay is not merged).
    ///
    /// A name either side lists gets both sides' schema for it, where a
    /// side that does not list it contributes its `additionalProperties`;
    /// any other name gets both `additionalProperties`.
    fn properties(
        &mut self,
        a: &Map<String, Value>,
        b: &Map<String, Value>,
        at: &str,
    ) -> Result<Option<Map<String, Value>>, Empty> {
        if a.contains_key("patternProperties") || b.contains_key("patternProperties") {
            return Ok(None);
        }
        let empty = Map::new();
        let props = |m: &Map<String, Value>| match m.get("properties") {
            None => Some(empty.clone()),
            Some(Value::Object(p)) => Some(p.clone()),
            Some(_) => None,
        };
        let (Some(pa), Some(pb)) = (props(a), props(b)) else {
            return Ok(None);
        };
        let (xa, xb) = (a.get("additionalProperties"), b.get("additionalProperties"));
        let extra = match (xa, xb) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (Some(x), Some(y)) => Some(self.schema(x, y, &pointer(at, "additionalProperties"))?),
        };
        let mut names: Vec<&String> = pa.keys().chain(pb.keys()).collect();
        names.sort();
        names.dedup();
        let mut merged = Map::new();
        let at_props = pointer(at, "properties");
        for name in names {
            let sa = pa.get(name).or(xa).unwrap_or(&TRUE);
            let sb = pb.get(name).or(xb).unwrap_or(&TRUE);
            let s = self.schema(sa, sb, &pointer(&at_props, name))?;
            // A name no value may take, where no other name may either,
            // needs no entry of its own.
            if s == Value::Bool(false) && extra == Some(Value::Bool(false)) {
                if !pa.contains_key(name) && xa == Some(&Value::Bool(false)) {
                    self.notes.push(format!(
                        "the overlay describes property {}, which the tool's schema does not allow; it cannot be given",
                        pointer(&at_props, name)
                    ));
                }
                continue;
            }
            merged.insert(name.clone(), s);
        }
        let mut out = Map::new();
        if !merged.is_empty() || a.contains_key("properties") {
            out.insert("properties".into(), Value::Object(merged));
        }
        if let Some(x) = extra {
            out.insert("additionalProperties".into(), x);
        }
        Ok(Some(out))
    }

    /// `prefixItems` and `items` of both sides as one: position by
    /// position, a side without a prefix entry there contributing `items`.
    fn items(
        &mut self,
        a: &Map<String, Value>,
        b: &Map<String, Value>,
        at: &str,
    ) -> Result<Option<Map<String, Value>>, Empty> {
        let prefix = |m: &Map<String, Value>| match m.get("prefixItems") {
            None => Some(Vec::new()),
            Some(Value::Array(p)) => Some(p.clone()),
            Some(_) => None,
        };
        let (Some(pa), Some(pb)) = (prefix(a), prefix(b)) else {
            return Ok(None);
        };
        let (ia, ib) = (a.get("items"), b.get("items"));
        // Items as a list (and `additionalItems` after it) are an older
        // draft's form: not merged.
        let older = |m: &Map<String, Value>| {
            m.contains_key("additionalItems") || m.get("items").is_some_and(Value::is_array)
        };
        if older(a) || older(b) {
            return Ok(None);
        }
        let mut out = Map::new();
        let len = pa.len().max(pb.len());
        if len > 0 {
            let at_prefix = pointer(at, "prefixItems");
            let mut merged = Vec::with_capacity(len);
            for i in 0..len {
                let sa = pa.get(i).or(ia).unwrap_or(&TRUE);
                let sb = pb.get(i).or(ib).unwrap_or(&TRUE);
                merged.push(self.schema(sa, sb, &format!("{at_prefix}/{i}"))?);
            }
            out.insert("prefixItems".into(), Value::Array(merged));
        }
        match (ia, ib) {
            (None, None) => {}
            (Some(x), None) | (None, Some(x)) => {
                out.insert("items".into(), x.clone());
            }
            (Some(x), Some(y)) => {
                let s = self.schema(x, y, &pointer(at, "items"))?;
                out.insert("items".into(), s);
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests;
