//! The save flow of `add`, `remove` and `apply`: the same checks as the editor's save, the
//! exact steps, a confirmation, then the steps run with history and audit.

use std::io::IsTerminal;

use serde::Serialize;
use serde_json::Value;

use crate::cli::SaveOptions;
use crate::core::policy::POLICY_MAX_CHARS;
use crate::model::edit::{EditSession, SaveBlocker};
use crate::model::{OpenedStage, StageRow};
use crate::save::{
    HistoryRecorder, SavePlan, Step, StepError, StepStatus, execute_steps, outcome_summary,
};

use super::Context;
use super::exit::{CommandError, PARTIAL_SAVE, SUCCESS};
use super::output::{OutputFormat, StageJson, print_json};

/// The reason history gives for keeping the previous version, in the editor's words for a save.
const HISTORY_REASON: &str = "before save";

/// One save as `add`, `remove` and `apply` request it.
pub struct SaveRequest<'a> {
    pub context: &'a Context,
    pub row: &'a StageRow,
    pub options: &'a SaveOptions,
    /// Give the Chalice stage its own policy file instead of one it shares.
    pub own_file: bool,
    pub output: OutputFormat,
}

/// The JSON document of `add`, `remove` and `apply`, printed once a plan exists.
#[derive(Debug, Serialize)]
pub struct SaveJson {
    /// The stage as it was listed before the save.
    stage: StageJson,
    /// The change in short, such as "+203.0.113.7/32 -198.51.100.0/24".
    change: String,
    /// The deployment description the save sends.
    description: String,
    /// The allowlist after the save.
    entries: Vec<String>,
    /// A description of the callers allowed after the save.
    access_after: String,
    /// Every way the saved policy admits more or fewer callers than the allowlist lists.
    access_warnings: Vec<String>,
    /// Notes of the plan and project warnings, such as a shared policy file.
    notes: Vec<String>,
    /// Characters of the minified policy; API Gateway's limit is 8,192.
    policy_length: usize,
    /// The document the save writes.
    policy: Option<Value>,
    steps: Vec<StepJson>,
    /// `"nothing_to_do"`, `"not_confirmed"`, `"saved"`, `"failed"` (the first step failed, so
    /// nothing changed) or `"stopped_part_way"`.
    outcome: &'static str,
    /// The state the run left, such as "policy file written, live policy updated, not deployed".
    summary: Option<String>,
    /// The deployment the save created.
    deployment_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct StepJson {
    description: String,
    /// `"planned"` (not run because the save was not confirmed), `"done"`, `"failed"` or
    /// `"not_run"` (after a failed step).
    status: &'static str,
    /// The step's result, such as "deployment abc123".
    detail: Option<String>,
    error: Option<String>,
}

/// Runs the save of `opened`'s current edit: checks what blocks it, prints the plan, requests
/// confirmation and runs the steps. Returns the exit code, or the error to print.
pub async fn confirm_and_save(
    mut opened: OpenedStage,
    request: SaveRequest<'_>,
) -> Result<u8, CommandError> {
    let context = request.context;
    resolve_blockers(&mut opened.session, request.options)?;
    check_lockout(&opened.session, context, request.options)?;

    let mut plan = opened
        .plan(&context.inventory, request.own_file)
        .map_err(|error| CommandError::failure(format!("cannot save: {error}")))?;
    crate::model::deploy_shared_stages(&opened.session, &mut plan);
    let mut report = report(&opened, &plan, &request);
    if plan.is_empty() {
        eprintln!("Nothing to save: the policy file and the live policy already say the same.");
        report.outcome = "nothing_to_do";
        emit(&report, request.output)?;
        return Ok(SUCCESS);
    }

    print_plan(&opened, &plan, &report);
    if context.inventory.history.is_none() && plan.steps.iter().any(Step::is_remote) {
        return Err(CommandError::failure(
            "no data directory for the policy history, so nothing is written live. Set IPGATE_DATA_DIR to a writable directory.",
        ));
    }

    if let Err(error) = confirm(request.options.yes, plan.steps.len()).await {
        report.outcome = "not_confirmed";
        emit(&report, request.output)?;
        return Err(error);
    }

    let history = context
        .inventory
        .history
        .clone()
        .map(|store| HistoryRecorder {
            store,
            record: opened.save_record(HISTORY_REASON),
        });
    let root = opened.project_root.clone();
    let print_step = |index: usize, result: Result<Option<String>, StepError>| {
        let step = plan.steps[index].describe(root.as_deref());
        match result {
            Ok(Some(detail)) => eprintln!("  done: {step} ({detail})"),
            Ok(None) => eprintln!("  done: {step}"),
            Err(error) => eprintln!("  failed: {step}: {error}"),
        }
        true
    };
    let statuses = execute_steps(
        &plan.steps,
        0,
        context.gateway.as_ref(),
        history.as_ref(),
        print_step,
    )
    .await;

    finish(&plan, &statuses, report, request.output)
}

/// Returns the stage as the user names it: the Chalice stage, else the API Gateway stage.
pub fn stage_label(session: &EditSession) -> String {
    let target = &session.target;
    target
        .chalice_stage
        .clone()
        .unwrap_or_else(|| target.stage.clone())
}

/// Resolves what the editor would ask about with the flags given, or fails naming the flag.
fn resolve_blockers(session: &mut EditSession, options: &SaveOptions) -> Result<(), CommandError> {
    let stage = stage_label(session);
    loop {
        match session.save_blocker() {
            None => return Ok(()),
            Some(SaveBlocker::InvalidEntry { index, error }) => {
                return Err(CommandError::failure(format!(
                    "entry {} ({}) of the current allowlist of stage {stage} is invalid: {error}. Fix or remove it in the policy first.",
                    index + 1,
                    session
                        .entries
                        .get(index)
                        .map(String::as_str)
                        .unwrap_or("?"),
                )));
            }
            Some(SaveBlocker::EmptyChoiceNeeded) => {
                return Err(CommandError::usage(format!(
                    "the allowlist of stage {stage} would be empty. Pass --open to open the stage to everyone, or --closed to close it to everyone."
                )));
            }
            Some(SaveBlocker::UnrestrictedNotConfirmed { ipv6 }) if options.allow_unrestricted => {
                session.confirm_unrestricted(ipv6);
            }
            Some(SaveBlocker::UnrestrictedNotConfirmed { ipv6 }) => {
                let (entry, family) = if ipv6 {
                    ("::/0", "IPv6")
                } else {
                    ("0.0.0.0/0", "IPv4")
                };
                return Err(CommandError::usage(format!(
                    "the allowlist of stage {stage} contains {entry}, so the stage would have no {family} restriction. Pass --allow-unrestricted to save it anyway."
                )));
            }
            Some(SaveBlocker::Policy(error)) => {
                return Err(CommandError::failure(format!("cannot save: {error}")));
            }
            Some(SaveBlocker::TooLong { length, max }) => {
                return Err(CommandError::usage(format!(
                    "cannot save: the policy of stage {stage} would be {length} characters; API Gateway accepts at most {max}. Remove entries or merge networks."
                )));
            }
        }
    }
}

/// Fails when the save would take away the access of the address given with `--my-ip`,
/// unless `--allow-lockout` accepts that.
fn check_lockout(
    session: &EditSession,
    context: &Context,
    options: &SaveOptions,
) -> Result<(), CommandError> {
    let Some(address) = context.my_ip() else {
        return Ok(());
    };
    let Some((_, after)) = session.lockout(address) else {
        return Ok(());
    };
    let stage = stage_label(session);
    if options.allow_lockout {
        eprintln!(
            "! After this save {address} (--my-ip) may no longer call stage {stage}: {}.",
            after.reason
        );
        return Ok(());
    }
    Err(CommandError::usage(format!(
        "after this save your address {address} (--my-ip) could no longer call stage {stage}: {}. Pass --allow-lockout to save it anyway.",
        after.reason
    )))
}

fn report(opened: &OpenedStage, plan: &SavePlan, request: &SaveRequest<'_>) -> SaveJson {
    let session = &opened.session;
    let (access_after, access_warnings) = match session.access_after() {
        Ok((report, warnings)) => (
            report.summary(),
            warnings.iter().map(ToString::to_string).collect(),
        ),
        Err(error) => (format!("unknown: {error}"), Vec::new()),
    };
    let root = opened.project_root.as_deref();

    let mut notes = Vec::new();
    let shared_with = shared_policy_file(opened, request.context);
    if !shared_with.is_empty() && !request.own_file {
        notes.push(format!(
            "The policy file is shared with Chalice stage(s) {}, so they get this change at their next deploy. Pass --own-file to give this stage a file of its own.",
            shared_with.join(", ")
        ));
    }
    let shared_statement = session.shared_stages();
    if !shared_statement.is_empty() {
        notes.push(if session.apply_to_shared {
            format!("The allowlist's statement also covers stage(s) {}: the edit applies to them too.", shared_statement.join(", "))
        } else {
            format!(
                "The allowlist's statement also covers stage(s) {}: stage {} gets a statement of its own, so they keep their list.",
                shared_statement.join(", "),
                session.target.stage
            )
        });
    }
    notes.extend(plan.notes.iter().cloned());
    notes.extend(opened.warnings.iter().cloned());

    SaveJson {
        stage: StageJson::from_row(request.row),
        change: opened.save_record(HISTORY_REASON).change,
        description: session.deployment_description(),
        entries: session.entries.clone(),
        access_after,
        access_warnings,
        notes,
        policy_length: plan.policy_length,
        policy: session.proposed_document().ok().flatten(),
        steps: plan
            .steps
            .iter()
            .map(|step| StepJson {
                description: step.describe(root),
                status: "planned",
                detail: None,
                error: None,
            })
            .collect(),
        outcome: "not_confirmed",
        summary: None,
        deployment_id: None,
    }
}

/// Other Chalice stages that read the same policy file as this one.
fn shared_policy_file(opened: &OpenedStage, context: &Context) -> Vec<String> {
    match (
        &context.inventory.project,
        &opened.session.target.chalice_stage,
    ) {
        (Some(project), Some(stage)) => project.stages_sharing_policy_file(stage),
        _ => Vec::new(),
    }
}

/// Prints the stage, the change, who gets in after it, the notes and the exact steps.
fn print_plan(opened: &OpenedStage, plan: &SavePlan, report: &SaveJson) {
    eprintln!("Stage: {}", opened.session.target.title());
    eprintln!("Change: {}", report.change);
    eprintln!("After save: {}", report.access_after);
    for warning in &report.access_warnings {
        eprintln!("! {warning}");
    }
    eprintln!(
        "Policy length: {} / {POLICY_MAX_CHARS} characters.",
        plan.policy_length
    );
    for note in &report.notes {
        eprintln!("! {note}");
    }
    eprintln!("Save will run these steps, in order:");
    for (index, step) in report.steps.iter().enumerate() {
        eprintln!("  {}. {}", index + 1, step.description);
    }
}

/// Succeeds with `--yes`, or when the user types `y` on a terminal. Otherwise it fails with a
/// usage error stating that nothing was changed.
async fn confirm(yes: bool, count: usize) -> Result<(), CommandError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::usage(
            "nothing was changed; pass --yes to apply",
        ));
    }

    eprint!("Run these {count} steps? [y/N] ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    match answer {
        Ok(Ok(line)) if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") => Ok(()),
        Ok(Ok(_)) => Err(CommandError::usage("cancelled; nothing was changed")),
        Ok(Err(error)) => Err(CommandError::failure(format!(
            "reading the confirmation failed: {error}"
        ))),
        Err(error) => Err(CommandError::failure(format!(
            "reading the confirmation failed: {error}"
        ))),
    }
}

/// Prints how the run ended and returns its exit code: success, a failure that changed nothing,
/// or a save that stopped part-way.
fn finish(
    plan: &SavePlan,
    statuses: &[StepStatus],
    mut report: SaveJson,
    output: OutputFormat,
) -> Result<u8, CommandError> {
    let summary = outcome_summary(&plan.steps, statuses);
    for (step, status) in report.steps.iter_mut().zip(statuses) {
        (step.status, step.detail, step.error) = match status {
            StepStatus::Done(detail) => ("done", detail.clone(), None),
            StepStatus::Failed(error) => ("failed", None, Some(error.clone())),
            StepStatus::Pending | StepStatus::Running => ("not_run", None, None),
        };
    }
    report.deployment_id =
        statuses
            .iter()
            .zip(&plan.steps)
            .find_map(|(status, step)| match (status, step) {
                (StepStatus::Done(Some(detail)), Step::CreateDeployment { .. }) => {
                    detail.strip_prefix("deployment ").map(str::to_string)
                }
                _ => None,
            });
    report.summary = Some(summary.clone());

    let failed = statuses.iter().find_map(|status| match status {
        StepStatus::Failed(error) => Some(error.clone()),
        _ => None,
    });
    let ran = statuses
        .iter()
        .filter(|status| matches!(status, StepStatus::Done(_)))
        .count();
    report.outcome = match (&failed, ran) {
        (None, _) => "saved",
        (Some(_), 0) => "failed",
        (Some(_), _) => "stopped_part_way",
    };
    emit(&report, output)?;

    let Some(error) = failed else {
        eprintln!("Saved: {summary}.");
        return Ok(SUCCESS);
    };
    if ran == 0 {
        return Err(CommandError::failure(format!(
            "save failed, nothing was changed: {error}"
        )));
    }
    Err(CommandError {
        code: PARTIAL_SAVE,
        message: partial_message(plan, statuses, &report, &summary),
    })
}

/// Names the steps that ran, the one that failed and the ones that did not run, and how to
/// finish the save.
fn partial_message(
    plan: &SavePlan,
    statuses: &[StepStatus],
    report: &SaveJson,
    summary: &str,
) -> String {
    let mut lines = vec![format!("save stopped part-way: {summary}.")];
    for step in &report.steps {
        let line = match (step.status, &step.error) {
            ("failed", Some(error)) => format!("  failed: {}: {error}", step.description),
            ("done", _) => format!("  ran: {}", step.description),
            _ => format!("  not run: {}", step.description),
        };
        lines.push(line);
    }

    let done = |wanted: fn(&Step) -> bool| {
        plan.steps
            .iter()
            .zip(statuses)
            .any(|(step, status)| wanted(step) && matches!(status, StepStatus::Done(_)))
    };
    let policy_updated = done(|step| matches!(step, Step::UpdatePolicy { .. }));
    let file_written = done(|step| !step.is_remote());
    let name = report.stage.name.as_deref().unwrap_or("STAGE");
    let deployment = plan.steps.iter().find_map(|step| match step {
        Step::CreateDeployment {
            rest_api_id, stage, ..
        } => Some((rest_api_id, stage)),
        _ => None,
    });
    match deployment {
        Some((rest_api_id, stage)) if policy_updated => lines.push(format!(
            "The live policy is updated, but stage {stage} serves it only after a new deployment, for example `aws apigateway create-deployment --rest-api-id {rest_api_id} --stage-name {stage}`."
        )),
        _ if file_written && report.stage.chalice_stage.is_some() => lines.push(format!(
            "The policy file is saved. `ipgate apply {name}` pushes it live and redeploys once the cause is fixed."
        )),
        _ => {}
    }
    lines.join("\n")
}

fn emit(report: &SaveJson, output: OutputFormat) -> Result<(), CommandError> {
    match output {
        OutputFormat::Json => print_json(report),
        OutputFormat::Text => Ok(()),
    }
}
