//! What a workflow offers the model: tools with their effective schemas, in
//! the shapes the model APIs accept (OpenAI, Anthropic, toolgate's own), and
//! how the effective schema is drawn from a tool's schema and an overlay.
//!
//! The effective schema shown is the tool schema narrowed by the workflow's
//! overlay; validation always enforces both schemas in full (`allOf`), so the
//! picture shown can never be looser than what is enforced.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

use super::{ToolBinding, WorkflowTools};

/// The shape tools are listed in: for OpenAI's or Anthropic's API, or toolgate's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase", as = ToolFormat)]
pub enum Format {
    OpenAi,
    Anthropic,
    Native,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "openai" => Some(Format::OpenAi),
            "anthropic" => Some(Format::Anthropic),
            "native" => Some(Format::Native),
            _ => None,
        }
    }
}

// The fields of the shapes below are in alphabetical order, as the
// exported files have always been written.

/// The workflow's tools, in the shape `format` asks for.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Exported {
    /// `native`: the workflow and its tools with scopes and upstream.
    Native(NativeList),
    /// `openai`: `tools` items for the Chat Completions API.
    OpenAi(Vec<OpenAiTool>),
    /// `anthropic`: `tools` items for the Messages API.
    Anthropic(Vec<AnthropicTool>),
}

/// Any of the three shapes (`anyOf`: an empty list fits both list shapes).
impl utoipa::PartialSchema for Exported {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Ref};
        let list = |of: &str, description: &str| {
            ArrayBuilder::new()
                .items(Ref::from_schema_name(of))
                .description(Some(description))
        };
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(NativeList::name()))
            .item(list(
                &OpenAiTool::name(),
                "`openai`: `tools` items for the Chat Completions API",
            ))
            .item(list(
                &AnthropicTool::name(),
                "`anthropic`: `tools` items for the Messages API",
            ))
            .into()
    }
}

impl ToSchema for Exported {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((NativeList::name().into(), NativeList::schema()));
        NativeList::schemas(schemas);
        schemas.push((OpenAiTool::name().into(), OpenAiTool::schema()));
        OpenAiTool::schemas(schemas);
        schemas.push((AnthropicTool::name().into(), AnthropicTool::schema()));
        AnthropicTool::schemas(schemas);
    }
}

/// `format=native`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NativeList {
    pub tools: Vec<NativeTool>,
    pub workflow: String,
}

/// A tool in toolgate's own terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct NativeTool {
    pub description: String,
    /// The upstream host.
    pub host: Option<String>,
    /// The effective JSON Schema of its arguments.
    #[schema(value_type = Object)]
    pub input_schema: Value,
    /// The upstream method.
    pub method: String,
    pub name: String,
    pub scopes: BTreeSet<String>,
}

/// A tool as OpenAI's `tools` list takes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiTool {
    pub function: OpenAiFunction,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^function$")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiFunction {
    pub description: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub parameters: Value,
}

/// A tool as Anthropic's `tools` list takes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnthropicTool {
    pub description: String,
    #[schema(value_type = Object)]
    pub input_schema: Value,
    pub name: String,
}

/// The workflow's callable tools in `format`, sorted by name.
pub fn export(
    workflow: &str,
    tools: &WorkflowTools,
    format: Format,
    offered: impl Fn(&ToolBinding) -> bool,
) -> Exported {
    let offered = tools.values().filter(|b| offered(b));
    match format {
        Format::Native => Exported::Native(NativeList {
            workflow: workflow.to_owned(),
            tools: offered
                .map(|b| NativeTool {
                    name: b.tool.name.clone(),
                    description: b.tool.description.clone(),
                    input_schema: for_model(&b.effective_schema),
                    scopes: b.tool.scopes.clone(),
                    method: b.tool.upstream.method.as_str().to_owned(),
                    host: b.tool.upstream.url.origin.host_str().map(str::to_owned),
                })
                .collect(),
        }),
        Format::OpenAi => Exported::OpenAi(
            offered
                .map(|b| OpenAiTool {
                    kind: "function",
                    function: OpenAiFunction {
                        name: b.tool.name.clone(),
                        description: b.tool.description.clone(),
                        parameters: for_model(&b.effective_schema),
                    },
                })
                .collect(),
        ),
        Format::Anthropic => Exported::Anthropic(
            offered
                .map(|b| AnthropicTool {
                    name: b.tool.name.clone(),
                    description: b.tool.description.clone(),
                    input_schema: for_model(&b.effective_schema),
                })
                .collect(),
        ),
    }
}

/// A schema as handed to a model: without the meta keys some model APIs refuse.
pub(crate) fn for_model(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove("$schema");
        m.remove("$id");
    }
    s
}

/// The tool schema narrowed by an overlay, for display.
///
/// Properties present in both are merged keyword by keyword when no keyword
/// conflicts, otherwise shown as `allOf` of the two; `required` is the union;
/// any other overlay keyword is kept through a top-level `allOf`.
pub fn narrow(tool: &Value, overlay: &Value) -> Value {
    let (Some(base), Some(over)) = (tool.as_object(), overlay.as_object()) else {
        return json!({ "allOf": [tool, overlay] });
    };
    let mut out = base.clone();
    let mut rest = Map::new();
    for (k, v) in over {
        match k.as_str() {
            "properties" => {
                let props = out
                    .entry("properties")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Some(props), Some(over_props)) = (props.as_object_mut(), v.as_object()) {
                    for (name, o) in over_props {
                        let merged = match props.get(name) {
                            Some(b) => merge_property(b, o),
                            None => o.clone(),
                        };
                        props.insert(name.clone(), merged);
                    }
                }
            }
            "required" => {
                let mut req: Vec<Value> = out
                    .get("required")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for r in v.as_array().into_iter().flatten() {
                    if !req.contains(r) {
                        req.push(r.clone());
                    }
                }
                out.insert("required".into(), Value::Array(req));
            }
            "$schema" | "$id" | "title" | "description" => {}
            "type" if out.get("type") == Some(v) => {}
            "additionalProperties" if v == &Value::Bool(false) => {
                out.insert(k.clone(), v.clone());
            }
            _ => {
                rest.insert(k.clone(), v.clone());
            }
        }
    }
    if !rest.is_empty() {
        let mut all = out
            .get("allOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        all.push(Value::Object(rest));
        out.insert("allOf".into(), Value::Array(all));
    }
    Value::Object(out)
}

fn merge_property(base: &Value, over: &Value) -> Value {
    if let (Some(b), Some(o)) = (base.as_object(), over.as_object()) {
        let conflict = o.iter().any(|(k, v)| b.get(k).is_some_and(|bv| bv != v));
        if !conflict {
            let mut m = b.clone();
            m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            return Value::Object(m);
        }
    }
    json!({ "allOf": [base, over] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_merges_and_keeps_conflicts() {
        let tool = json!({
            "type": "object", "additionalProperties": false, "required": ["name"],
            "properties": {"name": {"type": "string"}, "value_usd": {"type": "number", "maximum": 1000000}}
        });
        let overlay = json!({
            "type": "object", "required": ["value_usd"],
            "properties": {"name": {"maxLength": 80}, "value_usd": {"maximum": 50000}}
        });
        let n = narrow(&tool, &overlay);
        assert_eq!(n["required"], json!(["name", "value_usd"]));
        assert_eq!(
            n["properties"]["name"],
            json!({"type": "string", "maxLength": 80})
        );
        assert_eq!(
            n["properties"]["value_usd"],
            json!({"allOf": [{"type": "number", "maximum": 1000000}, {"maximum": 50000}]})
        );
        assert_eq!(n["additionalProperties"], false);
    }
}
