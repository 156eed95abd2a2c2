//! What a workflow offers the model: tools with their effective schemas, in
//! the shapes the model APIs accept (OpenAI, Anthropic, toolgate's own) and
//! as MCP's `tools/list` describes them.
//!
//! The effective schema shown is the tool schema and the workflow's overlay
//! merged (`merge`), which accepts exactly what validation enforces: both
//! schemas in full.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

use super::{ToolBinding, WorkflowTools, strict};

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
    /// Whether `parameters` fits OpenAI's strict mode (structured outputs):
    /// every object closed with all its properties required, and only the
    /// keywords strict mode supports. Always written, `false` when not.
    pub strict: bool,
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
                .map(|b| {
                    let parameters = for_model(&b.effective_schema);
                    OpenAiTool {
                        kind: "function",
                        function: OpenAiFunction {
                            name: b.tool.name.clone(),
                            description: b.tool.description.clone(),
                            strict: strict::openai_strict(&parameters),
                            parameters,
                        },
                    }
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

/// One tool as MCP's `tools/list` shows it: `inputSchema` is the effective
/// schema as it is, `$schema` and `$id` included (MCP takes JSON Schema
/// 2020-12 and its dialect marker; only the model-API exports drop them);
/// `annotations` carry `readOnlyHint` (the manifest's `read_only`, else
/// whether the method is GET) and the hints the manifest sets;
/// `outputSchema` is `response.output_schema`, as it describes the call's
/// `structuredContent` (see [`mcp_output_schema`]).
pub(crate) fn mcp_tool(b: &ToolBinding, title: &str) -> Value {
    let hints = &b.tool.annotations;
    let read_only = hints
        .read_only
        .unwrap_or(b.tool.upstream.method == http::Method::GET);
    let mut annotations = Map::new();
    annotations.insert("readOnlyHint".into(), Value::Bool(read_only));
    for (key, hint) in [
        ("destructiveHint", hints.destructive),
        ("idempotentHint", hints.idempotent),
        ("openWorldHint", hints.open_world),
    ] {
        if let Some(v) = hint {
            annotations.insert(key.into(), Value::Bool(v));
        }
    }
    let mut tool = json!({
        "name": b.tool.name,
        "title": title,
        "description": b.tool.description,
        "inputSchema": b.effective_schema,
        "annotations": annotations,
    });
    if let Some(out) = &b.tool.response.output_schema {
        tool["outputSchema"] = mcp_output_schema(&out.schema);
    }
    tool
}

/// A declared output schema as MCP takes it: of type object. A result that
/// is an object is a call's `structuredContent` as it is, so an
/// object-typed schema is shown as declared; any other result is carried
/// as `{"result": <value>}`, so a schema of other types is shown wrapped
/// the same way. (A schema whose types mix object and others is refused at
/// load, since the two cases could not be told apart.)
pub(crate) fn mcp_output_schema(schema: &Value) -> Value {
    if crate::config::is_object_schema(schema) {
        return schema.clone();
    }
    let schema = for_model(schema);
    json!({
        "type": "object",
        "properties": { "result": schema },
        "required": ["result"],
        "additionalProperties": false,
    })
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
