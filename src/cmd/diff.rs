//! `ipgate diff [STAGE]`: each Chalice stage's policy file against its live policy, by meaning.

use serde::Serialize;
use serde_json::Value;

use crate::cli::{Args, DiffArgs};
use crate::core::policy::to_pretty;
use crate::model::{OpenedStage, StageRow, SyncStatus, open_stage};

use super::Context;
use super::exit::{CommandError, DRIFT, SUCCESS};
use super::output::{OutputFormat, StageJson, print_json};
use super::stage_name::resolve;

/// Lines of context around each change in the text diff.
const DIFF_CONTEXT_LINES: usize = 3;

/// The JSON document of `diff`.
#[derive(Debug, Serialize)]
struct DiffJson {
    /// True when any stage's status is `"differ"`.
    drift: bool,
    stages: Vec<StageDiffJson>,
}

#[derive(Debug, Serialize)]
struct StageDiffJson {
    stage: StageJson,
    /// `"in_sync"`, `"differ"`, `"not_live"` (the Chalice stage has no live REST API stage to
    /// compare with) or `"error"`.
    status: &'static str,
    policy_file: Option<String>,
    local_policy: Option<Value>,
    live_policy: Option<Value>,
    /// A unified diff of the pretty-printed documents, `-` the policy file and `+` the live
    /// policy. Empty unless `status` is `"differ"`.
    diff: String,
    error: Option<String>,
}

pub async fn run(args: &Args, diff: &DiffArgs) -> Result<u8, CommandError> {
    let context = Context::load(args).await?;
    if context.inventory.project.is_none() {
        return Err(CommandError::usage(
            "diff compares Chalice policy files with live policies, and no Chalice project was found. Run it in the project directory or pass --project.",
        ));
    }
    context.require_online("diff")?;

    let rows = context.rows();
    let selected: Vec<&StageRow> = match &diff.stage {
        Some(name) => {
            let row = resolve(name, &rows)?;
            if row.chalice_stage.is_none() {
                return Err(CommandError::usage(format!(
                    "diff compares a Chalice stage's policy file with its live policy, and {name} belongs to no Chalice stage."
                )));
            }
            vec![row]
        }
        None => rows
            .iter()
            .filter(|row| row.chalice_stage.is_some())
            .collect(),
    };

    let stages: Vec<StageDiffJson> = selected.iter().map(|row| compare(row, &context)).collect();
    let report = DiffJson {
        drift: stages.iter().any(|stage| stage.status == "differ"),
        stages,
    };
    match diff.output.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => print!("{}", text(&report)),
    }

    let errors = report
        .stages
        .iter()
        .filter(|stage| stage.status == "error")
        .count();
    if errors > 0 {
        return Err(CommandError::failure(format!(
            "{errors} stage(s) could not be compared"
        )));
    }
    if report.drift {
        let names: Vec<&str> = report
            .stages
            .iter()
            .filter(|stage| stage.status == "differ")
            .filter_map(|stage| stage.stage.name.as_deref())
            .collect();
        eprintln!("Drift found in stage(s) {}.", names.join(", "));
        return Ok(DRIFT);
    }
    Ok(SUCCESS)
}

fn compare(row: &StageRow, context: &Context) -> StageDiffJson {
    let mut result = StageDiffJson {
        stage: StageJson::from_row(row),
        status: "error",
        policy_file: None,
        local_policy: None,
        live_policy: None,
        diff: String::new(),
        error: None,
    };
    match &row.status {
        SyncStatus::NotDeployed | SyncStatus::LocalOnly => {
            result.status = "not_live";
            return result;
        }
        SyncStatus::Error(error) => {
            result.error = Some(error.clone());
            return result;
        }
        _ => {}
    }

    let opened = match open_stage(row, &context.inventory) {
        Ok(opened) => opened,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let session = &opened.session;
    result.policy_file = session
        .local
        .as_ref()
        .map(|file| file.path.display().to_string());
    result.local_policy = session.local.as_ref().map(|file| file.document.clone());
    result.live_policy = session.live.clone();
    if !opened.online {
        result.status = "not_live";
        return result;
    }
    if !opened.has_drift() {
        result.status = "in_sync";
        return result;
    }

    result.status = "differ";
    result.diff = unified_diff(
        &opened,
        result.local_policy.as_ref(),
        result.live_policy.as_ref(),
    );
    result
}

fn unified_diff(opened: &OpenedStage, local: Option<&Value>, live: Option<&Value>) -> String {
    let local_text = local.map(to_pretty).unwrap_or_default();
    let live_text = live.map(to_pretty).unwrap_or_default();
    let local_name = match &opened.session.local {
        Some(file) => format!("policy file {}", relative(opened, &file.path)),
        None => "no policy file".to_string(),
    };
    let live_name = format!(
        "live policy of REST API {}",
        opened.session.target.rest_api_id.as_deref().unwrap_or("?")
    );
    similar::TextDiff::from_lines(&local_text, &live_text)
        .unified_diff()
        .context_radius(DIFF_CONTEXT_LINES)
        .header(&local_name, &live_name)
        .to_string()
}

fn relative(opened: &OpenedStage, path: &std::path::Path) -> String {
    match opened
        .project_root
        .as_deref()
        .and_then(|root| path.strip_prefix(root).ok())
    {
        Some(relative) => relative.display().to_string(),
        None => path.display().to_string(),
    }
}

fn text(report: &DiffJson) -> String {
    if report.stages.is_empty() {
        return "The project has no Chalice stages.\n".to_string();
    }
    let mut text = String::new();
    for stage in &report.stages {
        let name = stage.stage.name.as_deref().unwrap_or("?");
        let line = match (stage.status, &stage.error) {
            ("in_sync", _) => format!("{name}: in sync\n"),
            ("differ", _) => format!("{name}: differs\n{}", stage.diff),
            ("not_live", _) => format!("{name}: not compared, no live REST API stage\n"),
            (_, Some(error)) => format!("{name}: error: {error}\n"),
            (status, None) => format!("{name}: {status}\n"),
        };
        text.push_str(&line);
    }
    text
}
