//! YAML text to a JSON value, remembering the line where every node starts.
//!
//! Config problems are reported with file, line and key; serde's YAML path
//! stops at the first error and forgets positions. This reader builds a
//! `serde_json::Value` from the parser's marked events (iteratively, so deep
//! nesting cannot overflow the stack) and a map from JSON pointer to line.
//! Duplicate keys, non-scalar keys, several documents and non-finite numbers
//! are refused: in a security config an ambiguity is an error.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where each node of a parsed document starts (1-based lines).
#[derive(Debug, Default, Clone)]
pub struct Spans {
    lines: HashMap<String, usize>,
}

impl Spans {
    /// The line of the node at `pointer`, or of its nearest ancestor.
    pub(crate) fn line(&self, pointer: &str) -> usize {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines.get(p) {
                return *line;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return 1,
            }
        }
    }
}

/// A parse failure with its line.
#[derive(Debug)]
pub struct YamlError {
    pub line: usize,
    pub pointer: String,
    pub message: String,
}

pub fn parse(text: &str) -> Result<(Value, Spans), Vec<YamlError>> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(vec![YamlError {
            line: e.marker().line(),
            pointer: String::new(),
            message: format!("invalid YAML: {}", e.info()),
        }]);
    }
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    if builder.documents > 1 {
        return Err(vec![YamlError {
            line: 1,
            pointer: String::new(),
            message: "a config file holds exactly one YAML document".into(),
        }]);
    }
    let root = builder.root.take().unwrap_or(Value::Null);
    Ok((root, builder.spans))
}

/// Escape one JSON-pointer token (RFC 6901).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
    },
    Map {
        entries: Map<String, Value>,
        pointer: String,
        anchor: usize,
        pending_key: Option<String>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    spans: Spans,
    anchors: HashMap<usize, Value>,
    errors: Vec<YamlError>,
    documents: usize,
    /// Collections opened beyond `MAX_DEPTH`, being skipped.
    skipping: usize,
    /// Nodes copied by aliases so far (guards against alias bombs).
    alias_nodes: usize,
}

/// Deeper documents are refused: no config needs this, and deep values are costly to drop.
const MAX_DEPTH: usize = 64;
const MAX_ALIAS_NODES: usize = 100_000;

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

impl Builder {
    /// The pointer the next value will have, or `None` when the next scalar is a map key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Seq { items, pointer, .. }) => Some(format!("{pointer}/{}", items.len())),
            Some(Frame::Map {
                pointer,
                pending_key: Some(key),
                ..
            }) => Some(format!("{pointer}/{}", escape_token(key))),
            Some(Frame::Map {
                pending_key: None, ..
            }) => None,
        }
    }

    fn error(&mut self, mark: Marker, pointer: String, message: String) {
        self.errors.push(YamlError {
            line: mark.line(),
            pointer,
            message,
        });
    }

    fn push_value(&mut self, value: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => {
                if let Some(key) = pending_key.take() {
                    entries.insert(key, value);
                }
            }
        }
    }

    /// A scalar or alias arriving where a map key is expected.
    fn take_key(&mut self, key: String, mark: Marker) {
        let Some(Frame::Map {
            entries,
            pointer,
            pending_key,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        let child = format!("{pointer}/{}", escape_token(&key));
        if entries.contains_key(&key) {
            let msg = format!("duplicate key \"{key}\"");
            self.error(mark, child, msg);
            // Keep parsing; the later value is dropped.
            if let Some(Frame::Map { pending_key, .. }) = self.stack.last_mut() {
                *pending_key = Some(format!("\u{0}dup{}", mark.index()));
            }
            return;
        }
        *pending_key = Some(key);
        self.spans.lines.insert(child, mark.line());
    }
}

fn scalar_value(text: &str, style: TScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    if style != TScalarStyle::Plain || tag == Some("str") {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(match Yaml::from_str(text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(r) => {
            let f: f64 = r
                .parse()
                .map_err(|_| format!("\"{text}\" is not a number"))?;
            Value::Number(
                Number::from_f64(f).ok_or_else(|| format!("\"{text}\" is not a finite number"))?,
            )
        }
        _ => Value::String(text.to_owned()),
    })
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.skipping > 0 {
            match ev {
                Event::SequenceStart(..) | Event::MappingStart(..) => self.skipping += 1,
                Event::SequenceEnd | Event::MappingEnd => {
                    self.skipping -= 1;
                    if self.skipping == 0 {
                        self.push_value(Value::Null, 0);
                    }
                }
                _ => {}
            }
            return;
        }
        match ev {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(text, style, anchor, tag) => match self.next_pointer() {
                None => {
                    if anchor > 0 {
                        self.anchors.insert(anchor, Value::String(text.clone()));
                    }
                    self.take_key(text, mark);
                }
                Some(pointer) => {
                    self.spans
                        .lines
                        .entry(pointer.clone())
                        .or_insert(mark.line());
                    let tag = tag.as_ref().map(|t| t.suffix.as_str());
                    match scalar_value(&text, style, tag) {
                        Ok(v) => self.push_value(v, anchor),
                        Err(msg) => {
                            self.error(mark, pointer, msg);
                            self.push_value(Value::Null, anchor);
                        }
                    }
                }
            },
            Event::Alias(id) => {
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.alias_nodes += node_count(&value);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    let p = self.stack_pointer();
                    if !self
                        .errors
                        .iter()
                        .any(|e| e.message.starts_with("aliases expand"))
                    {
                        self.error(mark, p, "aliases expand to too many nodes".into());
                    }
                    return;
                }
                match self.next_pointer() {
                    None => match value {
                        Value::String(s) => self.take_key(s, mark),
                        _ => {
                            let p = self.stack_pointer();
                            self.error(mark, p, "a map key must be a plain string".into());
                        }
                    },
                    Some(pointer) => {
                        self.spans.lines.entry(pointer).or_insert(mark.line());
                        self.push_value(value, 0);
                    }
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    let p = self.stack_pointer();
                    self.error(mark, p, format!("nesting deeper than {MAX_DEPTH} levels"));
                    self.skipping = 1;
                    return;
                }
                let is_map = matches!(ev, Event::MappingStart(..));
                let pointer = match self.next_pointer() {
                    Some(p) => p,
                    None => {
                        let p = self.stack_pointer();
                        self.error(mark, p.clone(), "a map key must be a plain string".into());
                        format!("{p}/\u{0}complex{}", mark.index())
                    }
                };
                self.spans
                    .lines
                    .entry(pointer.clone())
                    .or_insert(mark.line());
                self.stack.push(if is_map {
                    Frame::Map {
                        entries: Map::new(),
                        pointer,
                        anchor,
                        pending_key: None,
                    }
                } else {
                    Frame::Seq {
                        items: Vec::new(),
                        pointer,
                        anchor,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, pointer) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        pointer,
                    }) => (Value::Array(items), anchor, pointer),
                    Some(Frame::Map {
                        entries,
                        anchor,
                        pointer,
                        ..
                    }) => (Value::Object(entries), anchor, pointer),
                    None => return,
                };
                if pointer.contains('\u{0}') {
                    // A complex key: already reported; drop the pending slot.
                    if let Some(Frame::Map { pending_key, .. }) = self.stack.last_mut() {
                        *pending_key = None;
                    }
                    return;
                }
                self.push_value(value, anchor);
            }
            _ => {}
        }
    }
}

impl Builder {
    fn stack_pointer(&self) -> String {
        match self.stack.last() {
            Some(Frame::Seq { pointer, .. }) | Some(Frame::Map { pointer, .. }) => pointer.clone(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_lines() {
        let text = "a: 1\nb:\n  c: [x, 2.5, true]\n  d: \"007\"\ne: ~\n";
        let (v, spans) = parse(text).unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(v["b"]["c"][1], 2.5);
        assert_eq!(v["b"]["c"][2], true);
        assert_eq!(v["b"]["d"], "007");
        assert!(v["e"].is_null());
        assert_eq!(spans.line("/b/c"), 3);
        assert_eq!(spans.line("/b/d"), 4);
        assert_eq!(spans.line("/b/d/nothing/here"), 4);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let errs = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3);
        assert!(errs[0].message.contains("duplicate key \"a\""));
    }

    #[test]
    fn anchors_resolve() {
        let (v, _) = parse("x: &s [1, 2]\ny: *s\n").unwrap();
        assert_eq!(v["y"], serde_json::json!([1, 2]));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let errs = parse(&text).unwrap_err();
        assert!(!errs.is_empty());
        // Within the parser's own limit, our depth limit applies.
        let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let errs = parse(&text).unwrap_err();
        assert!(
            errs[0].message.contains("nesting deeper"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn syntax_errors_have_lines() {
        let errs = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(errs[0].line >= 2);
    }
}
