//! Planning a save: which files and which AWS calls, decided before anything is written.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::core::chalice::{
    KeyLevel, Project, default_policy_file_name, detect_line_ending, format_policy_file,
};
use crate::core::jsontext::set_string_key;
use crate::core::live::same_meaning;
use crate::core::policy::{check_length, to_minified};
use crate::core::resource::ApiContext;

/// One step of a save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Writes the policy file, unless its text is no longer `expected` (`None`: no file).
    WritePolicyFile {
        path: PathBuf,
        contents: String,
        expected: Option<String>,
    },
    /// Writes config.json with `api_gateway_policy_file` set for one Chalice stage, unless
    /// config.json is no longer `expected`.
    SetPolicyFileKey {
        config_path: PathBuf,
        chalice_stage: String,
        value: String,
        new_text: String,
        expected: String,
    },
    /// `UpdateRestApi` replace `/policy`; an empty policy removes it. The live policy is read
    /// first and must still mean `expected_live`.
    UpdatePolicy {
        rest_api_id: String,
        policy: String,
        expected_live: Option<Value>,
        api: ApiContext,
    },
    CreateDeployment {
        rest_api_id: String,
        stage: String,
        description: String,
    },
}

impl Step {
    /// The line the confirmation and progress views show.
    pub fn describe(&self, root: Option<&Path>) -> String {
        match self {
            Step::WritePolicyFile { path, .. } => format!("write {}", display_path(path, root)),
            Step::SetPolicyFileKey {
                config_path,
                chalice_stage,
                value,
                ..
            } => format!(
                "set stages.{chalice_stage}.api_gateway_policy_file = \"{value}\" in {}",
                display_path(config_path, root)
            ),
            Step::UpdatePolicy {
                rest_api_id,
                policy,
                ..
            } if policy.is_empty() => {
                format!("remove the resource policy of REST API {rest_api_id}")
            }
            Step::UpdatePolicy { rest_api_id, .. } => {
                format!("update the resource policy of REST API {rest_api_id}")
            }
            Step::CreateDeployment {
                rest_api_id, stage, ..
            } => {
                format!("deploy stage {stage} of REST API {rest_api_id}")
            }
        }
    }

    /// The short past-tense state shown after this step: "policy file written".
    pub fn done_label(&self) -> &'static str {
        match self {
            Step::WritePolicyFile { .. } => "policy file written",
            Step::SetPolicyFileKey { .. } => "config.json updated",
            Step::UpdatePolicy { .. } => "live policy updated",
            Step::CreateDeployment { .. } => "stage deployed",
        }
    }

    /// The state named when this step did not run: "not deployed".
    pub fn missing_label(&self) -> &'static str {
        match self {
            Step::WritePolicyFile { .. } => "policy file not written",
            Step::SetPolicyFileKey { .. } => "config.json not updated",
            Step::UpdatePolicy { .. } => "live policy not updated",
            Step::CreateDeployment { .. } => "not deployed",
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(
            self,
            Step::UpdatePolicy { .. } | Step::CreateDeployment { .. }
        )
    }
}

fn display_path(path: &Path, root: Option<&Path>) -> String {
    match root.and_then(|root| path.strip_prefix(root).ok()) {
        Some(relative) => relative.display().to_string(),
        None => path.display().to_string(),
    }
}

/// Everything a save is planned from.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub project: Option<&'a Project>,
    pub chalice_stage: Option<&'a str>,
    pub rest_api_id: Option<&'a str>,
    /// The API Gateway stage name.
    pub stage: &'a str,
    pub api: &'a ApiContext,
    /// The document to save; `None` means no policy.
    pub proposed: Option<&'a Value>,
    /// The local policy file's text and document, when it exists.
    pub local_text: Option<&'a str>,
    pub local: Option<&'a Value>,
    /// The live policy; meaningful only when `online`.
    pub live: Option<&'a Value>,
    pub online: bool,
    /// Give this Chalice stage its own policy file instead of a shared one.
    pub own_file: bool,
    pub description: String,
}

/// The steps of a save and what the user must know before confirming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePlan {
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
    /// Characters of the minified policy.
    pub policy_length: usize,
}

impl SavePlan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Plans a save; fails without planning anything when the policy is over the size quota or the
/// config edit is impossible.
pub fn plan_save(input: &PlanInput) -> Result<SavePlan, String> {
    let policy_length = match input.proposed {
        Some(document) => check_length(document).map_err(|error| error.to_string())?,
        None => 0,
    };
    let mut plan = SavePlan {
        steps: Vec::new(),
        notes: Vec::new(),
        policy_length,
    };

    if let (Some(project), Some(chalice_stage)) = (input.project, input.chalice_stage) {
        plan_local_steps(input, project, chalice_stage, &mut plan)?;
    }
    if let Some(rest_api_id) = input.rest_api_id {
        plan_live_steps(input, rest_api_id, &mut plan);
    }
    Ok(plan)
}

fn plan_local_steps(
    input: &PlanInput,
    project: &Project,
    chalice_stage: &str,
    plan: &mut SavePlan,
) -> Result<(), String> {
    let stage = project.stage(chalice_stage).ok_or_else(|| {
        format!(
            "Chalice stage {chalice_stage} is not in {}",
            project.config_path.display()
        )
    })?;
    let chalice_dir = project
        .config_path
        .parent()
        .unwrap_or(&project.root)
        .to_path_buf();

    let lambda_name = stage
        .policy_file
        .as_ref()
        .filter(|setting| is_lambda_policy_path(project, &setting.path));
    let needs_own_key = stage.policy_file.is_none() || input.own_file || lambda_name.is_some();
    let path = match (&stage.policy_file, needs_own_key) {
        (Some(setting), false) => setting.path.clone(),
        _ => chalice_dir.join(default_policy_file_name(chalice_stage)),
    };

    let Some(document) = input.proposed else {
        // Chalice embeds the file verbatim, so "no policy" is written as a document whose
        // statements are gone: an allow-all document keeps the file valid for the next deploy.
        return Err(
            "the edit removes the whole policy; give the stage an allowlist or open it instead"
                .to_string(),
        );
    };

    let file_matches = !needs_own_key && same_meaning(input.local, Some(document), input.api);
    if !file_matches {
        let line_ending = input.local_text.map(detect_line_ending).unwrap_or("\n");
        let contents = format_policy_file(document, line_ending);
        // A new file of this stage's own must not exist yet; an existing one must be unchanged.
        let expected = if needs_own_key {
            None
        } else {
            input.local_text.map(str::to_string)
        };
        plan.steps.push(Step::WritePolicyFile {
            path: path.clone(),
            contents,
            expected,
        });
    }

    if needs_own_key {
        let value = default_policy_file_name(chalice_stage);
        let new_text = set_string_key(
            &project.config_text,
            &["stages", chalice_stage],
            "api_gateway_policy_file",
            &value,
        )
        .map_err(|error| format!("{}: {error}", project.config_path.display()))?;
        plan.steps.push(Step::SetPolicyFileKey {
            config_path: project.config_path.clone(),
            chalice_stage: chalice_stage.to_string(),
            value,
            new_text,
            expected: project.config_text.clone(),
        });
    }

    if let Some(setting) = &stage.policy_file
        && input.own_file
        && setting.level == KeyLevel::TopLevel
    {
        plan.notes.push(format!(
            "Stage {chalice_stage} gets its own policy file; other stages keep {}.",
            setting.value
        ));
    }
    if let Some(setting) = lambda_name {
        plan.notes.push(format!(
            "{} is the name Chalice gives a Lambda role policy, so this save writes {} and points api_gateway_policy_file at it.",
            setting.value,
            default_policy_file_name(chalice_stage)
        ));
    }
    if !input.online {
        plan.notes.push(format!(
            "Not connected to AWS, so only local files are written. `chalice deploy --stage {chalice_stage}` applies them."
        ));
    } else if input.rest_api_id.is_none() {
        plan.notes.push(format!(
            "Stage {chalice_stage} has no deployed REST API yet. `chalice deploy --stage {chalice_stage}` creates it with this policy."
        ));
    }
    Ok(())
}

/// True for `.chalice/policy-<stage>.json` of any Chalice stage: Chalice reads that file as the
/// stage's Lambda role policy when `autogen_policy` is false, so a resource policy never goes there.
fn is_lambda_policy_path(project: &Project, path: &Path) -> bool {
    let chalice_dir = project.config_path.parent().unwrap_or(&project.root);
    project
        .stages
        .iter()
        .any(|stage| path == chalice_dir.join(format!("policy-{}.json", stage.name)))
}

fn plan_live_steps(input: &PlanInput, rest_api_id: &str, plan: &mut SavePlan) {
    if !input.online {
        return;
    }
    if same_meaning(input.live, input.proposed, input.api) {
        return;
    }

    let policy = input.proposed.map(to_minified).unwrap_or_default();
    plan.steps.push(Step::UpdatePolicy {
        rest_api_id: rest_api_id.to_string(),
        policy,
        expected_live: input.live.cloned(),
        api: input.api.clone(),
    });
    plan.steps.push(Step::CreateDeployment {
        rest_api_id: rest_api_id.to_string(),
        stage: input.stage.to_string(),
        description: input.description.clone(),
    });
}
