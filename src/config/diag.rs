//! Config problems as users read them: `file:line: severity: key: message`.

use std::fmt;
use std::path::Path;

use jsonschema::error::ValidationErrorKind;

use super::model::Loc;
use super::yaml::{Spans, escape_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Loc,
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn error(loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            loc,
            message: message.into(),
        }
    }

    pub(crate) fn warning(loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            loc,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {sev}: ", self.loc.file.display(), self.loc.line)?;
        if !self.loc.key.is_empty() {
            write!(f, "{}: ", self.loc.key)?;
        }
        f.write_str(&self.message)
    }
}

/// A JSON pointer as a dotted key path: `/workflows/a/tools/0` → `workflows.a.tools[0]`.
pub(crate) fn key_of(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// One schema violation as diagnostics (an unknown-keys error names each key on its own line).
pub(crate) fn from_schema_error(
    file: &Path,
    spans: &Spans,
    e: &jsonschema::ValidationError<'_>,
) -> Vec<Diagnostic> {
    let pointer = e.instance_path().as_str().to_owned();
    let loc = |p: &str| Loc {
        file: file.to_path_buf(),
        line: spans.line(p),
        key: key_of(p),
    };
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|k| {
                let p = format!("{pointer}/{}", escape_token(k));
                Diagnostic::error(loc(&p), format!("unknown key \"{k}\""))
            })
            .collect(),
        ValidationErrorKind::Required { property } => vec![Diagnostic::error(
            loc(&pointer),
            format!("missing required key {property}"),
        )],
        ValidationErrorKind::Type { kind } => vec![Diagnostic::error(
            loc(&pointer),
            format!("wrong type: expected {}", type_name(kind)),
        )],
        ValidationErrorKind::Enum { options } => vec![Diagnostic::error(
            loc(&pointer),
            format!("must be one of {options}"),
        )],
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            vec![Diagnostic::error(
                loc(&pointer),
                "value has none of the accepted forms (see schemas/)",
            )]
        }
        ValidationErrorKind::Pattern { pattern } => vec![Diagnostic::error(
            loc(&pointer),
            format!("does not match the expected form {pattern}"),
        )],
        ValidationErrorKind::PropertyNames { .. } => vec![Diagnostic::error(
            loc(&pointer),
            "names may use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)",
        )],
        ValidationErrorKind::MaxProperties { .. } => vec![Diagnostic::error(
            loc(&pointer),
            "give exactly one of the alternatives, not several",
        )],
        ValidationErrorKind::FalseSchema => vec![Diagnostic::error(
            loc(&pointer),
            "this key does not apply here (see schemas/)",
        )],
        _ => vec![Diagnostic::error(loc(&pointer), e.masked().to_string())],
    }
}

fn type_name(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(ts) => {
            let names: Vec<String> = (*ts).into_iter().map(|t| t.to_string()).collect();
            names.join(" or ")
        }
    }
}
