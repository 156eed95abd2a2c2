//! Upstream request templates from a tool manifest, compiled once at load.
//!
//! The URL's scheme, host and port are fixed text of the manifest; arguments
//! only ever fill whole path segments (percent-encoded, never `.`/`..`/empty)
//! and structural JSON leaves. A string leaf is either exactly `"{args}"`,
//! exactly `"{args.field}"`, or a literal — never a mix, so no argument can
//! be spliced into text.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};
use url::Url;

/// Everything but RFC 3986 unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A JSON value with argument placeholders.
#[derive(Debug, Clone)]
pub enum ValueTemplate {
    Literal(Value),
    AllArgs,
    Arg(Vec<String>),
    Object(Vec<(String, ValueTemplate)>),
    Array(Vec<ValueTemplate>),
}

impl ValueTemplate {
    pub(crate) fn compile(v: &Value) -> Result<Self, String> {
        Ok(match v {
            Value::String(s) => Self::compile_str(s)?,
            Value::Object(map) => ValueTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::compile(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Array(items) => {
                ValueTemplate::Array(items.iter().map(Self::compile).collect::<Result<_, _>>()?)
            }
            other => ValueTemplate::Literal(other.clone()),
        })
    }

    fn compile_str(s: &str) -> Result<Self, String> {
        if s == "{args}" {
            return Ok(ValueTemplate::AllArgs);
        }
        if let Some(path) = s.strip_prefix("{args.").and_then(|r| r.strip_suffix('}')) {
            let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
            if parts.iter().any(|p| p.is_empty() || p.contains(['{', '}'])) {
                return Err(format!(
                    "\"{s}\" is not a valid placeholder; write \"{{args.field}}\""
                ));
            }
            return Ok(ValueTemplate::Arg(parts));
        }
        if s.contains("{args") {
            return Err(format!(
                "\"{s}\" mixes a placeholder with text; a value is exactly \"{{args.field}}\" or a literal"
            ));
        }
        Ok(ValueTemplate::Literal(Value::String(s.to_owned())))
    }

    /// Fill in the arguments. `None` means a referenced argument is absent:
    /// an object key or array item built from it is left out.
    pub(crate) fn render(&self, args: &Value) -> Option<Value> {
        match self {
            ValueTemplate::Literal(v) => Some(v.clone()),
            ValueTemplate::AllArgs => Some(args.clone()),
            ValueTemplate::Arg(path) => lookup(args, path).cloned(),
            ValueTemplate::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, t) in entries {
                    if let Some(v) = t.render(args) {
                        map.insert(k.clone(), v);
                    }
                }
                Some(Value::Object(map))
            }
            ValueTemplate::Array(items) => Some(Value::Array(
                items.iter().filter_map(|t| t.render(args)).collect(),
            )),
        }
    }
}

pub(crate) fn lookup<'a>(args: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = args;
    for p in path {
        v = v.as_object()?.get(p)?;
        if v.is_null() {
            return None;
        }
    }
    Some(v)
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Param(Vec<String>),
}

/// The upstream URL: a fixed origin and a path whose placeholders each take one segment.
#[derive(Debug, Clone)]
pub struct UrlTemplate {
    /// `scheme://host[:port]` exactly as the manifest fixes it.
    pub origin: Url,
    segments: Vec<Vec<Part>>,
    query: Option<String>,
}

/// Why a path could not be built from the arguments (the model can fix it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathError {
    pub pointer: String,
    pub reason: String,
}

impl UrlTemplate {
    pub(crate) fn compile(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| "the URL needs a scheme (https:// or http://)".to_string())?;
        if scheme != "https" && scheme != "http" {
            return Err(format!(
                "scheme \"{scheme}\" is not supported; use https or http"
            ));
        }
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(auth_end);
        if authority.contains(['{', '}']) {
            return Err("placeholders are not allowed in the host or port".into());
        }
        if authority.contains('@') {
            return Err(
                "credentials do not belong in the URL; bind a credential slot instead".into(),
            );
        }
        if tail.contains('#') {
            return Err("a URL fragment is never sent; remove it".into());
        }
        let origin = Url::parse(&format!("{scheme}://{authority}/"))
            .map_err(|e| format!("invalid URL: {e}"))?;
        if origin.host_str().is_none_or(str::is_empty) {
            return Err("the URL needs a host".into());
        }
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (tail, None),
        };
        if query.as_deref().is_some_and(|q| q.contains(['{', '}'])) {
            return Err(
                "placeholders are not allowed in the URL's query; use upstream.query".into(),
            );
        }
        let mut segments = Vec::new();
        for seg in path.split('/').skip(1) {
            segments.push(compile_segment(seg)?);
        }
        Ok(UrlTemplate {
            origin,
            segments,
            query,
        })
    }

    /// Argument names used in the path.
    pub(crate) fn params(&self) -> Vec<String> {
        self.segments
            .iter()
            .flatten()
            .filter_map(|p| match p {
                Part::Param(path) => Some(path[0].clone()),
                Part::Lit(_) => None,
            })
            .collect()
    }

    /// Build the URL for these arguments. Only path segments vary.
    pub(crate) fn render(&self, args: &Value) -> Result<Url, PathError> {
        let mut s = String::with_capacity(64);
        s.push_str(self.origin.as_str().trim_end_matches('/'));
        for seg in &self.segments {
            s.push('/');
            for part in seg {
                match part {
                    Part::Lit(l) => s.push_str(l),
                    Part::Param(path) => s.push_str(&segment_value(args, path)?),
                }
            }
        }
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        let url = Url::parse(&s).map_err(|_| PathError {
            pointer: String::new(),
            reason: "the arguments do not form a valid URL path".into(),
        })?;
        // Defence in depth: the origin can never move.
        if url.origin() != self.origin.origin() {
            return Err(PathError {
                pointer: String::new(),
                reason: "the arguments would change the upstream host".into(),
            });
        }
        Ok(url)
    }
}

fn compile_segment(seg: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = seg;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Lit(literal(&rest[..open])?));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed placeholder in path segment \"{seg}\""))?
            + open;
        let name = &rest[open + 1..close];
        let name = name.strip_prefix("args.").unwrap_or(name);
        if name.is_empty() || name.contains(['{', '/']) {
            return Err(format!("invalid placeholder in path segment \"{seg}\""));
        }
        parts.push(Part::Param(name.split('.').map(str::to_owned).collect()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(literal(rest)?));
    }
    Ok(parts)
}

fn literal(s: &str) -> Result<String, String> {
    if s.contains('}') {
        return Err(format!("stray '}}' in path \"{s}\""));
    }
    Ok(s.to_owned())
}

fn segment_value(args: &Value, path: &[String]) -> Result<String, PathError> {
    let pointer = format!("/{}", path.join("/"));
    let err = |reason: &str| PathError {
        pointer: pointer.clone(),
        reason: reason.to_owned(),
    };
    let text = match lookup(args, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(_) => {
            return Err(err(
                "must be a string or number: it fills one URL path segment",
            ));
        }
        None => return Err(err("is required: it fills a URL path segment")),
    };
    if text.is_empty() || text == "." || text == ".." {
        return Err(err(
            "must not be empty, \".\" or \"..\": it fills one URL path segment",
        ));
    }
    Ok(utf8_percent_encode(&text, SEGMENT).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_values_are_single_segments() {
        let t =
            UrlTemplate::compile("https://crm.example.com:8443/api/v2/leads/{id}/notes").unwrap();
        for (id, expect) in [
            ("42", "/api/v2/leads/42/notes"),
            ("../admin", "/api/v2/leads/..%2Fadmin/notes"),
            ("a/b", "/api/v2/leads/a%2Fb/notes"),
            ("%2F..%2F", "/api/v2/leads/%252F..%252F/notes"),
            ("x?y#z", "/api/v2/leads/x%3Fy%23z/notes"),
            ("...", "/api/v2/leads/.../notes"),
        ] {
            let url = t.render(&json!({ "id": id })).unwrap();
            assert_eq!(url.path(), expect, "for {id}");
            assert_eq!(url.host_str(), Some("crm.example.com"));
            assert_eq!(url.port(), Some(8443));
            assert_eq!(url.query(), None);
        }
        for bad in ["..", ".", ""] {
            assert!(t.render(&json!({ "id": bad })).is_err());
        }
        assert!(t.render(&json!({})).is_err());
        assert!(t.render(&json!({ "id": {"a": 1} })).is_err());
        assert_eq!(
            t.render(&json!({ "id": 7 })).unwrap().path(),
            "/api/v2/leads/7/notes"
        );
    }

    #[test]
    fn host_is_fixed() {
        assert!(UrlTemplate::compile("https://{host}/x").is_err());
        assert!(UrlTemplate::compile("https://user:pw@h/x").is_err());
        assert!(UrlTemplate::compile("ftp://h/x").is_err());
        assert!(UrlTemplate::compile("https://h/x?a={b}").is_err());
        assert!(UrlTemplate::compile("https://h/x#frag").is_err());
    }

    #[test]
    fn value_templates() {
        let t = ValueTemplate::compile(&json!({
            "name": "{args.name}", "n": "{args.count}", "src": "agent",
            "nested": {"city": "{args.addr.city}"}, "opt": "{args.missing}"
        }))
        .unwrap();
        let out = t
            .render(&json!({"name": "A \"quoted\" name", "count": 3, "addr": {"city": "Oslo"}}))
            .unwrap();
        assert_eq!(
            out,
            json!({"name": "A \"quoted\" name", "n": 3, "src": "agent", "nested": {"city": "Oslo"}})
        );
        assert!(ValueTemplate::compile(&json!("Bearer {args.x}")).is_err());
        assert!(matches!(
            ValueTemplate::compile(&json!("{args}")).unwrap(),
            ValueTemplate::AllArgs
        ));
    }
}
