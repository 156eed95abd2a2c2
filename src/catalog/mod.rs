//! Tools and workflows resolved once: for every workflow, each callable tool
//! as a `ToolBinding` — the compiled schema (the tool's and the workflow's
//! overlay, both enforced), what the model is shown, the merged approval
//! policy, the bound credential and the rate limit.
//!
//! The catalog is built from the validated document (`config`), never the
//! other way round; `load` reads the document and builds the catalog, with
//! the problems of both in one list, file and line included.

mod export;
mod merge;
mod strict;
pub(crate) use export::mcp_tool;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::{
    self, ApprovalPolicy, ApprovalSpec, ApprovalWhen, Config, CredentialDef, Diagnostic, RateLimit,
    ToolDef, WorkflowDef,
};

pub use export::{
    AnthropicTool, Exported, Format, NativeList, NativeTool, OpenAiFunction, OpenAiTool, export,
};
pub use merge::{Empty, Merged, merge};
pub use strict::openai_strict;

/// A tool as callable in one workflow.
#[derive(Debug)]
pub struct ToolBinding {
    pub tool: Arc<ToolDef>,
    /// The tool's schema and the workflow's overlay, both enforced.
    pub validator: jsonschema::Validator,
    /// What the model is shown: the tool schema and the overlay merged into
    /// one schema that accepts exactly what `validator` accepts.
    pub effective_schema: Value,
    /// The credential bound to the tool's slot in this workflow.
    pub credential: Option<Arc<CredentialDef>>,
    pub rate_limit: Option<RateLimit>,
    pub approval: ApprovalPolicy,
}

/// One workflow's callable tools, by name.
pub(crate) type WorkflowTools = BTreeMap<String, Arc<ToolBinding>>;

/// Every workflow's callable tools.
#[derive(Debug, Default)]
pub struct Catalog {
    workflows: BTreeMap<String, WorkflowTools>,
}

/// A configuration ready to serve: the document and its catalog.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub catalog: Catalog,
}

/// Load the document and build the catalog. `Err` holds every error of
/// both; `Ok` may carry warnings.
pub fn load(path: &Path) -> Result<(Loaded, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (config, mut diags) = config::read(path);
    let Some(config) = config else {
        return Err(diags);
    };
    let catalog = Catalog::build(&config, &mut diags);
    if config::has_errors(&diags) {
        return Err(diags);
    }
    Ok((Loaded { config, catalog }, diags))
}

impl Catalog {
    /// Bind every workflow's tools; problems go to `diags`, and a tool that
    /// cannot be bound is left out.
    pub(crate) fn build(config: &Config, diags: &mut Vec<Diagnostic>) -> Catalog {
        let workflows = config
            .workflows
            .values()
            .map(|w| (w.name.clone(), bind_workflow(config, w, diags)))
            .collect();
        let catalog = Catalog { workflows };
        catalog.check_approvers(config, diags);
        catalog
    }

    /// The callable tools of a workflow (`None`: no such workflow).
    pub fn tools(&self, workflow: &str) -> Option<&WorkflowTools> {
        self.workflows.get(workflow)
    }

    /// One tool as bound in one workflow.
    pub fn binding(&self, workflow: &str, tool: &str) -> Option<&Arc<ToolBinding>> {
        self.workflows.get(workflow)?.get(tool)
    }

    /// How many (workflow, tool) bindings there are.
    pub fn len(&self) -> usize {
        self.workflows.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An approval policy nobody can satisfy is a configuration error.
    fn check_approvers(&self, config: &Config, diags: &mut Vec<Diagnostic>) {
        for w in config.workflows.values() {
            let approvers_here = config
                .approvers
                .values()
                .filter(|a| a.workflows.contains(&w.name))
                .count();
            for (tname, b) in self.workflows.get(&w.name).into_iter().flatten() {
                if matches!(b.approval.when, ApprovalWhen::Never) {
                    continue;
                }
                let needed = b.approval.approvals_required as usize;
                if approvers_here < needed {
                    diags.push(Diagnostic::error(
                        w.loc.clone(),
                        format!(
                            "tool \"{tname}\" needs {needed} approver(s) but only {approvers_here} approver(s) list workflow {}",
                            w.name
                        ),
                    ));
                }
            }
        }
    }
}

fn bind_workflow(config: &Config, w: &WorkflowDef, diags: &mut Vec<Diagnostic>) -> WorkflowTools {
    let mut bound = BTreeMap::new();
    for (tname, tool) in config.tools.iter().filter(|(_, t)| w.grants(t)) {
        let credential = match &tool.upstream.credential_slot {
            None => None,
            Some(slot) => match w.credential_for(tool) {
                None => {
                    diags.push(Diagnostic::error(
                        w.credentials_loc.clone(),
                        format!("tool \"{tname}\" needs credential slot \"{slot}\", which this workflow does not bind"),
                    ));
                    continue;
                }
                // An unknown or invalid credential was reported with the document.
                Some(cname) => match config.credentials.get(cname) {
                    Some(c) => Some(c.clone()),
                    None => continue,
                },
            },
        };
        let ov = w.overrides.get(tname);
        let overlay = ov.and_then(|o| o.schema.as_ref());
        let combined = match overlay {
            None => tool.input_schema.clone(),
            Some(o) => json!({ "allOf": [tool.input_schema, o] }),
        };
        let validator = match config::compile_schema(&combined) {
            Ok(v) => v,
            Err(e) => {
                if let Some(o) = ov {
                    diags.push(Diagnostic::error(
                        o.schema_loc.clone(),
                        format!("the combined schema does not compile: {}", e.masked()),
                    ));
                }
                continue;
            }
        };
        let effective_schema = match overlay {
            None => tool.input_schema.clone(),
            Some(o) => match merge(&tool.input_schema, o) {
                Ok(m) => {
                    for note in m.notes {
                        diags.push(Diagnostic::warning(
                            ov.map_or(w.loc.clone(), |ov| ov.schema_loc.clone()),
                            format!("workflow {}, tool \"{tname}\": {note}", w.name),
                        ));
                    }
                    m.schema
                }
                Err(e) => {
                    let at = if e.pointer.is_empty() {
                        "the arguments".to_owned()
                    } else {
                        e.pointer
                    };
                    diags.push(Diagnostic::error(
                        ov.map_or(w.loc.clone(), |ov| ov.schema_loc.clone()),
                        format!(
                            "workflow {}, tool \"{tname}\": no call could pass both the tool's schema and this overlay: at {at}, {}",
                            w.name, e.reason
                        ),
                    ));
                    continue;
                }
            },
        };
        let default = ApprovalSpec::default();
        let approval = ApprovalPolicy::merge(&tool.approval, ov.map_or(&default, |o| &o.approval));
        bound.insert(
            tname.clone(),
            Arc::new(ToolBinding {
                tool: tool.clone(),
                validator,
                effective_schema,
                credential,
                rate_limit: ov.and_then(|o| o.rate_limit).or(w.rate_limit),
                approval,
            }),
        );
    }
    bound
}
