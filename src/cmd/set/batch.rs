//! The batch flow of `set apply`, `set resume`, `set add --apply` and `set remove --apply`: plan,
//! print, confirm, run with progress on standard error, and report.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::batch::{
    BatchControl, BatchEvent, BatchOptions, BatchPlan, BatchStage, BatchSummary, Journal,
    JournalError, SetChange, StageOutcome, estimate_remaining, plan_batch_with, resume_plan_with,
    run_batch_with,
};
use crate::cli::Args;
use crate::core::cidr::parse_entry;
use crate::core::diff::DiffLine;
use crate::core::sets::{self, IpgateConfig, IpgateFile, Origin};
use crate::history::HistoryStore;
use crate::save::Step;

use super::files::{SetFiles, canonical, check_cidr, sets_error};
use super::{ApplySetArgs, BatchConfirmation, ResumeArgs, SetJson};
use crate::cmd::Context;
use crate::cmd::exit::{CommandError, PARTIAL_SAVE, SUCCESS};
use crate::cmd::output::{OutputFormat, print_json};
use crate::cmd::refuse_read_only;

/// A set file edit that a batch writes once it is confirmed.
pub struct FileUpdate {
    pub file: IpgateFile,
    pub config: IpgateConfig,
    pub personal: bool,
}

/// Runs `ipgate set apply NAME [--remove CIDR...]`.
pub async fn apply(args: &Args, apply: &ApplySetArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set apply")?;
    let files = SetFiles::load(args)?;
    let Some(set) = files.merged.config.set(&apply.name) else {
        return Err(files.unknown_set(&apply.name));
    };

    let mut removed = Vec::new();
    for cidr in &apply.remove {
        check_cidr(cidr)?;
        let network = network_of(cidr);
        if set
            .entries
            .iter()
            .any(|entry| network_of(&entry.cidr) == network)
        {
            return Err(CommandError::usage(format!(
                "{} is still in set {}, so apply keeps it on the stages. `ipgate set remove {} {} --apply` removes it from the set and the stages.",
                cidr.trim(),
                apply.name,
                apply.name,
                cidr.trim()
            )));
        }
        removed.push(canonical(cidr));
    }

    let change = SetChange {
        set: apply.name.clone(),
        added: set
            .entries
            .iter()
            .map(|entry| canonical(&entry.cidr))
            .collect(),
        removed,
    };
    apply_change(
        args,
        &files,
        change,
        None,
        &apply.confirmation,
        apply.output.output,
    )
    .await
}

/// Plans `change` on every stage that includes its set, as the set will be after `update`,
/// and runs the batch once confirmed. `update` is written after the confirmation.
pub async fn apply_change(
    args: &Args,
    files: &SetFiles,
    change: SetChange,
    update: Option<FileUpdate>,
    confirmation: &BatchConfirmation,
    output: OutputFormat,
) -> Result<u8, CommandError> {
    check_unrestricted(&change, confirmation)?;
    let context = Context::load(args).await?;

    let merged = merged_after(files, update.as_ref());
    let options = BatchOptions {
        allow_unrestricted: confirmation.allow_unrestricted,
        my_ip: context.my_ip(),
    };
    let root = files.project.as_ref().map(|project| project.root.clone());
    let plan = plan_batch_with(
        &context.inventory,
        &merged,
        &change,
        root.as_deref(),
        &options,
    )
    .map_err(CommandError::usage)?;
    if plan.stages.is_empty() {
        eprintln!(
            "No stage includes set {}; `ipgate set include STAGE {}` adds one.",
            change.set, change.set
        );
    }
    run_plan(&context, plan, update, confirmation, output).await
}

/// Runs `ipgate set resume [ID]`.
pub async fn resume(args: &Args, resume: &ResumeArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set resume")?;
    let store =
        HistoryStore::open_default().map_err(|error| CommandError::failure(error.to_string()))?;

    if let (true, Some(id)) = (resume.abandon, &resume.id) {
        return abandon(store.dir(), id, resume.output.output);
    }

    let batch = match &resume.id {
        Some(id) => Journal::load(store.dir(), id).map_err(journal_error)?,
        None => {
            let mut unfinished = Journal::unfinished(store.dir()).map_err(journal_error)?;
            match unfinished.len() {
                0 => {
                    eprintln!(
                        "No unfinished batch in {}.",
                        store.dir().join("batches").display()
                    );
                    if resume.output.output == OutputFormat::Json {
                        print_json(&BatchDocument::default())?;
                    }
                    return Ok(SUCCESS);
                }
                1 => unfinished.remove(0),
                _ => {
                    let lines: Vec<String> = unfinished
                        .iter()
                        .map(|batch| {
                            format!(
                                "  {}  {}  ({} of {} stages left)",
                                batch.id,
                                batch.change,
                                batch.remaining().len(),
                                batch.stages.len()
                            )
                        })
                        .collect();
                    return Err(CommandError::usage(format!(
                        "{} batches are unfinished; name one with `ipgate set resume ID`:\n{}",
                        unfinished.len(),
                        lines.join("\n")
                    )));
                }
            }
        }
    };

    if batch.is_finished() {
        eprintln!(
            "Batch {} is finished: every stage is applied or needed nothing.",
            batch.id
        );
        if resume.output.output == OutputFormat::Json {
            print_json(&BatchDocument::default())?;
        }
        return Ok(SUCCESS);
    }
    if batch.running {
        return Err(CommandError::failure(format!(
            "batch {} is running in another ipgate process; wait for it to finish",
            batch.id
        )));
    }
    eprintln!(
        "Resuming batch {} ({}); stages left: {}.",
        batch.id,
        batch.change,
        batch.remaining().join(", ")
    );

    let context = Context::load(args).await?;
    let options = BatchOptions {
        allow_unrestricted: resume.confirmation.allow_unrestricted,
        my_ip: context.my_ip(),
    };
    let root = context
        .inventory
        .project
        .as_ref()
        .map(|project| project.root.clone());
    let plan = resume_plan_with(&batch, &context.inventory, root.as_deref(), &options)
        .map_err(CommandError::usage)?;
    run_plan(
        &context,
        plan,
        None,
        &resume.confirmation,
        resume.output.output,
    )
    .await
}

/// Runs `ipgate set resume ID --abandon`.
fn abandon(data_dir: &Path, id: &str, output: OutputFormat) -> Result<u8, CommandError> {
    let batch = Journal::abandon(data_dir, id).map_err(journal_error)?;
    eprintln!(
        "Batch {id} abandoned; {} stayed as they were. Its journal stays at {}.",
        stage_count(batch.remaining().len()),
        batch.path.display()
    );
    if output == OutputFormat::Json {
        #[derive(Serialize)]
        struct AbandonJson {
            abandoned: String,
            journal: String,
            /// The stages the batch did not change.
            remaining: Vec<String>,
        }
        print_json(&AbandonJson {
            abandoned: id.to_string(),
            journal: batch.path.display().to_string(),
            remaining: batch.remaining(),
        })?;
    }
    Ok(SUCCESS)
}

/// Fails, naming the flag, when the change adds a `/0` entry without `--allow-unrestricted`.
fn check_unrestricted(
    change: &SetChange,
    confirmation: &BatchConfirmation,
) -> Result<(), CommandError> {
    let unrestricted = change
        .added
        .iter()
        .filter_map(|cidr| parse_entry(cidr).ok())
        .find(|entry| entry.is_unrestricted());
    match unrestricted {
        Some(entry) if !confirmation.allow_unrestricted => Err(CommandError::usage(format!(
            "set {} would add {} to its stages, which removes their {} restriction. Pass --allow-unrestricted to apply it anyway.",
            change.set,
            entry.canonical(),
            if entry.network.is_ipv6() {
                "IPv6"
            } else {
                "IPv4"
            }
        ))),
        _ => Ok(()),
    }
}

/// The merged configuration as it will be once `update` is written.
fn merged_after(files: &SetFiles, update: Option<&FileUpdate>) -> IpgateConfig {
    let Some(update) = update else {
        return files.merged.config.clone();
    };
    let empty = IpgateConfig::default();
    let project = files
        .project_file
        .as_ref()
        .map_or(&empty, |file| &file.model);
    let personal = files
        .personal_file
        .as_ref()
        .map_or(&empty, |file| &file.model);
    let merged = if update.personal {
        sets::merge(project, &update.config)
    } else {
        sets::merge(&update.config, personal)
    };
    merged.config
}

fn journal_error(error: JournalError) -> CommandError {
    match error {
        JournalError::NotFound { .. } | JournalError::InvalidId { .. } => CommandError::usage(
            format!("{error}; `ipgate set resume` without an id resumes the only unfinished batch"),
        ),
        other => CommandError::failure(other.to_string()),
    }
}

/// Prints the plan, requests confirmation, writes `update`, runs the batch and reports.
async fn run_plan(
    context: &Context,
    plan: BatchPlan,
    update: Option<FileUpdate>,
    confirmation: &BatchConfirmation,
    output: OutputFormat,
) -> Result<u8, CommandError> {
    let root = plan.project_root.clone();
    let mut document = BatchDocument {
        batch: Some(BatchJson::from_plan(&plan)),
        ..BatchDocument::default()
    };
    print_plan(&plan);

    if plan.is_empty() {
        write_update(update, &mut document)?;
        set_outcome(&mut document, "nothing_to_do");
        emit(&document, output)?;
        let blocked: Vec<String> = plan
            .stages
            .iter()
            .filter_map(|stage| {
                let reason = stage.blocked.as_ref()?;
                Some(format!("  {}: {reason}", stage.key))
            })
            .collect();
        if !blocked.is_empty() {
            return Err(CommandError {
                code: PARTIAL_SAVE,
                message: format!(
                    "the change cannot be applied to {}:\n{}",
                    stage_count(blocked.len()),
                    blocked.join("\n")
                ),
            });
        }
        if !plan.stages.is_empty() {
            eprintln!(
                "Nothing to change: every stage that includes set {} has the change.",
                plan.change.set
            );
        }
        return Ok(SUCCESS);
    }

    if let Err(error) = check_lockouts(&plan, confirmation) {
        set_outcome(&mut document, "not_confirmed");
        emit(&document, output)?;
        return Err(error);
    }
    let Some(history) = context.inventory.history.clone() else {
        return Err(CommandError::failure(
            "no data directory for the batch journal and the policy history, so nothing is changed. Set IPGATE_DATA_DIR to a writable directory.",
        ));
    };
    if let Err(error) = confirm(confirmation.yes, &plan).await {
        set_outcome(&mut document, "not_confirmed");
        emit(&document, output)?;
        return Err(error);
    }
    write_update(update, &mut document)?;

    let mut journal = Journal::open(history.dir(), &plan.id);
    if let Some(batch) = document.batch.as_mut() {
        batch.journal = Some(journal.path().display().to_string());
    }
    let control = BatchControl::new();
    let watcher = watch_ctrl_c(control.clone(), plan.id.clone());

    let mut printer = ProgressPrinter::new(&plan, root.as_deref());
    let summary = {
        let batch = document.batch.as_mut();
        let mut batch = batch;
        run_batch_with(
            &plan,
            context.gateway.as_ref(),
            Some(&history),
            &mut journal,
            &control,
            |event| {
                if let Some(batch) = batch.as_deref_mut() {
                    batch.record(&event);
                }
                printer.show(&event);
            },
        )
        .await
    };
    watcher.abort();
    printer.finish();

    for error in journal.write_errors() {
        eprintln!("! Appending to the batch journal failed: {error}");
    }
    eprint!("{summary}");
    if let Some(batch) = document.batch.as_mut() {
        batch.finish(&summary);
    }
    emit(&document, output)?;

    if summary.is_complete() {
        return Ok(SUCCESS);
    }
    Err(CommandError {
        code: PARTIAL_SAVE,
        message: format!(
            "batch {} is not complete: {} failed, {} not run. The journal is {}; `ipgate set resume {}` retries the rest once the cause is fixed.",
            plan.id,
            stage_count(summary.failed.len()),
            stage_count(summary.not_run.len()),
            journal.path().display(),
            plan.id
        ),
    })
}

/// Fails when a stage would lock out the `--my-ip` address, unless `--allow-lockout`.
fn check_lockouts(plan: &BatchPlan, confirmation: &BatchConfirmation) -> Result<(), CommandError> {
    let lockouts: Vec<String> = plan
        .stages
        .iter()
        .filter(|stage| !stage.steps.is_empty())
        .filter_map(|stage| Some(format!("  {}: {}", stage.key, stage.lockout.as_ref()?)))
        .collect();
    if lockouts.is_empty() {
        return Ok(());
    }
    if confirmation.allow_lockout {
        for line in &lockouts {
            eprintln!("!{line}");
        }
        return Ok(());
    }
    Err(CommandError::usage(format!(
        "after this batch your address (--my-ip) could no longer call {}:\n{}\nPass --allow-lockout to run it anyway.",
        stage_count(lockouts.len()),
        lockouts.join("\n")
    )))
}

/// Writes the set file edit, failing with nothing else changed.
fn write_update(
    update: Option<FileUpdate>,
    document: &mut BatchDocument,
) -> Result<(), CommandError> {
    let Some(update) = update else {
        return Ok(());
    };
    let saved = sets::save(&update.file, &update.config).map_err(sets_error)?;
    let origin = if update.personal {
        Origin::Personal
    } else {
        Origin::Project
    };
    let name = document
        .batch
        .as_ref()
        .map(|batch| batch.change.set.clone())
        .unwrap_or_default();
    eprintln!("Set {name} saved in {}.", saved.file.path.display());
    document.file = Some(saved.file.path.display().to_string());
    document.written = Some(saved.written);
    document.set = SetJson::new(&saved.file.model, &name, origin);
    Ok(())
}

/// Prints the change, each stage with its diff, steps and notes, and the time it should take.
fn print_plan(plan: &BatchPlan) {
    let root = plan.project_root.as_deref();
    let verb = if plan.resumed { "Resuming" } else { "Batch" };
    eprintln!("{verb} {}: {}", plan.id, plan.change);
    eprintln!(
        "Stages that include set {} ({}):",
        plan.change.set,
        plan.stages.len()
    );
    for (index, stage) in plan.stages.iter().enumerate() {
        eprintln!("  {}. {}: {}", index + 1, stage.key, stage.title);
        print_stage(stage, root);
    }

    let deployments = plan.deployments();
    if deployments > 0 {
        let estimate = estimate_remaining(&plan.stages, None);
        eprintln!(
            "{} with {}; API Gateway accepts one CreateDeployment every 5 s per account, so this takes about {} (an estimate).",
            stage_count(plan.stages_to_change()),
            deployment_count(deployments),
            seconds(estimate)
        );
    }
}

fn print_stage(stage: &BatchStage, root: Option<&Path>) {
    if let Some(reason) = &stage.blocked {
        eprintln!("       cannot apply: {reason}");
    }
    if let Some(note) = &stage.note {
        eprintln!("       {note}");
    }
    for line in &stage.diff {
        match line {
            DiffLine::Added(text) => eprintln!("       + {text}"),
            DiffLine::Removed(text) => eprintln!("       - {text}"),
            DiffLine::Same(_) => {}
        }
    }
    for (number, step) in stage.steps.iter().enumerate() {
        eprintln!("       step {}: {}", number + 1, step.describe(root));
    }
    for warning in &stage.warnings {
        eprintln!("       ! {warning}");
    }
    if let Some(lockout) = &stage.lockout {
        eprintln!("       ! lockout: {lockout}");
    }
}

/// Succeeds with `--yes`, or when the user types `y` on a terminal; otherwise fails with a
/// usage error stating that nothing was changed.
async fn confirm(yes: bool, plan: &BatchPlan) -> Result<(), CommandError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::usage(
            "nothing was changed; pass --yes to apply",
        ));
    }

    eprint!(
        "Apply to {} with {}? [y/N] ",
        stage_count(plan.stages_to_change()),
        deployment_count(plan.deployments())
    );
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

/// Stops the batch after its current stage on the first Ctrl-C, and the process at once on the
/// second.
fn watch_ctrl_c(control: BatchControl, batch_id: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        control.request_stop();
        eprintln!(
            "\nStopping after the current stage. Ctrl-C again stops at once; `ipgate set resume {batch_id}` continues the batch."
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nStopped. `ipgate set resume {batch_id}` continues the batch.");
            std::process::exit(130);
        }
    })
}

/// Progress on standard error: a line per step and per stage, and on a terminal a bar with the
/// stages done and the estimated time left, redrawn in place.
struct ProgressPrinter<'a> {
    plan: &'a BatchPlan,
    root: Option<&'a Path>,
    terminal: bool,
    bar: Option<String>,
}

impl<'a> ProgressPrinter<'a> {
    fn new(plan: &'a BatchPlan, root: Option<&'a Path>) -> ProgressPrinter<'a> {
        ProgressPrinter {
            plan,
            root,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    fn show(&mut self, event: &BatchEvent) {
        match event {
            BatchEvent::StageStarted { index } => {
                let stage = &self.plan.stages[*index];
                if !stage.steps.is_empty() {
                    self.line(&format!("{}: started", stage.key));
                }
            }
            BatchEvent::StepFinished {
                index,
                step,
                result,
            } => {
                let stage = &self.plan.stages[*index];
                let described = stage.steps[*step].describe(self.root);
                let line = match result {
                    Ok(Some(detail)) => format!("  done: {described} ({detail})"),
                    Ok(None) => format!("  done: {described}"),
                    Err(error) => format!("  failed: {described}: {error}"),
                };
                self.line(&line);
            }
            BatchEvent::StageFinished { index, outcome } => {
                let key = &self.plan.stages[*index].key;
                let line = match outcome {
                    StageOutcome::Applied {
                        deployment_id: Some(id),
                    } => format!("{key}: applied, deployment {id}"),
                    StageOutcome::Applied {
                        deployment_id: None,
                    } => {
                        format!("{key}: applied to the local files")
                    }
                    StageOutcome::Skipped(reason) => format!("{key}: unchanged, {reason}"),
                    StageOutcome::Failed(error) => format!("{key}: FAILED: {error}"),
                };
                self.line(&line);
            }
            BatchEvent::Progress {
                done,
                total,
                estimated_remaining,
            } => self.progress(*done, *total, *estimated_remaining),
            BatchEvent::Finished(_) => {}
        }
    }

    fn progress(&mut self, done: usize, total: usize, remaining: Duration) {
        const WIDTH: usize = 20;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let bar = format!(
            "[{}{}] {done}/{total} stages, about {} left (estimate)",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            seconds(remaining)
        );
        if self.terminal {
            self.bar = Some(bar);
            self.draw_bar();
        } else {
            eprintln!("{bar}");
        }
    }

    /// Prints a whole line above the bar.
    fn line(&mut self, text: &str) {
        if self.terminal && self.bar.is_some() {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{text}");
        self.draw_bar();
    }

    fn draw_bar(&self) {
        if let (true, Some(bar)) = (self.terminal, &self.bar) {
            eprint!("\r\x1b[2K{bar}");
            let _ = std::io::stderr().flush();
        }
    }

    /// Ends the bar's line, so later output starts on a line of its own.
    fn finish(&mut self) {
        if self.terminal && self.bar.take().is_some() {
            eprintln!();
        }
    }
}

/// The JSON document of the batch subcommands. `file`, `written` and `set` appear only for
/// `set add --apply` and `set remove --apply`; `batch` is `null` when there was nothing to
/// resume.
#[derive(Debug, Default, Serialize)]
struct BatchDocument {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set: Option<SetJson>,
    batch: Option<BatchJson>,
}

/// One batch: its plan, and once run, how each stage ended.
#[derive(Debug, Serialize)]
struct BatchJson {
    id: String,
    change: SetChange,
    /// True when the batch continues an earlier run.
    resumed: bool,
    /// The journal file, once the batch ran.
    journal: Option<String>,
    stages: Vec<BatchStageJson>,
    /// CreateDeployment steps in the plan.
    deployments: usize,
    /// An estimate of the run time in seconds, from the deployment pacing.
    estimated_seconds: u64,
    /// `"nothing_to_do"`, `"not_confirmed"`, `"applied"` (every stage done), `"failed"` (some
    /// stages failed) or `"stopped"` (stopped before some stages).
    outcome: &'static str,
    summary: Option<SummaryJson>,
}

#[derive(Debug, Serialize)]
struct BatchStageJson {
    /// The stage key of `ipgate.json`.
    key: String,
    title: String,
    rest_api_id: Option<String>,
    stage: Option<String>,
    chalice_stage: Option<String>,
    note: Option<String>,
    /// The reason the change cannot be applied to this stage.
    blocked: Option<String>,
    lockout: Option<String>,
    warnings: Vec<String>,
    /// The allowlist after the change.
    entries: Vec<String>,
    /// Changed lines of the policy text, each starting with `+` or `-`.
    diff: Vec<String>,
    steps: Vec<StepJson>,
    /// `"planned"`, `"applied"`, `"skipped"`, `"failed"` or `"not_run"`.
    outcome: &'static str,
    deployment_id: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct StepJson {
    description: String,
    /// `"planned"` (before the run), `"done"`, `"failed"` or `"not_run"` (after a failed step, or
    /// in a stage the run did not reach).
    status: &'static str,
    detail: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SummaryJson {
    applied: Vec<AppliedJson>,
    skipped: Vec<ReasonJson>,
    failed: Vec<ReasonJson>,
    not_run: Vec<String>,
}

#[derive(Debug, Serialize)]
struct AppliedJson {
    stage: String,
    deployment_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReasonJson {
    stage: String,
    reason: String,
}

impl BatchJson {
    fn from_plan(plan: &BatchPlan) -> BatchJson {
        let root = plan.project_root.as_deref();
        BatchJson {
            id: plan.id.clone(),
            change: plan.change.clone(),
            resumed: plan.resumed,
            journal: None,
            stages: plan
                .stages
                .iter()
                .map(|stage| BatchStageJson::from_stage(stage, root))
                .collect(),
            deployments: plan.deployments(),
            estimated_seconds: estimate_remaining(&plan.stages, None).as_secs(),
            outcome: "not_confirmed",
            summary: None,
        }
    }

    fn record(&mut self, event: &BatchEvent) {
        match event {
            BatchEvent::StepFinished {
                index,
                step,
                result,
            } => {
                let Some(step) = self
                    .stages
                    .get_mut(*index)
                    .and_then(|stage| stage.steps.get_mut(*step))
                else {
                    return;
                };
                (step.status, step.detail, step.error) = match result {
                    Ok(detail) => ("done", detail.clone(), None),
                    Err(error) => ("failed", None, Some(error.clone())),
                };
            }
            BatchEvent::StageFinished { index, outcome } => {
                let Some(stage) = self.stages.get_mut(*index) else {
                    return;
                };
                (stage.outcome, stage.deployment_id, stage.error) = match outcome {
                    StageOutcome::Applied { deployment_id } => {
                        ("applied", deployment_id.clone(), None)
                    }
                    StageOutcome::Skipped(_) => ("skipped", None, None),
                    StageOutcome::Failed(error) => ("failed", None, Some(error.clone())),
                };
            }
            _ => {}
        }
    }

    fn finish(&mut self, summary: &BatchSummary) {
        for stage in &mut self.stages {
            if summary.not_run.contains(&stage.key) && stage.outcome == "planned" {
                stage.outcome = "not_run";
            }
            for step in &mut stage.steps {
                if step.status == "planned" {
                    step.status = "not_run";
                }
            }
        }
        self.outcome = if !summary.failed.is_empty() {
            "failed"
        } else if !summary.not_run.is_empty() {
            "stopped"
        } else {
            "applied"
        };
        self.summary = Some(SummaryJson {
            applied: summary
                .applied
                .iter()
                .map(|(stage, deployment_id)| AppliedJson {
                    stage: stage.clone(),
                    deployment_id: deployment_id.clone(),
                })
                .collect(),
            skipped: reasons(&summary.skipped),
            failed: reasons(&summary.failed),
            not_run: summary.not_run.clone(),
        });
    }
}

impl BatchStageJson {
    fn from_stage(stage: &BatchStage, root: Option<&Path>) -> BatchStageJson {
        BatchStageJson {
            key: stage.key.clone(),
            title: stage.title.clone(),
            rest_api_id: stage.rest_api_id.clone(),
            stage: Some(stage.stage.clone()).filter(|name| !name.is_empty()),
            chalice_stage: stage.chalice_stage.clone(),
            note: stage.note.clone(),
            blocked: stage.blocked.clone(),
            lockout: stage.lockout.clone(),
            warnings: stage.warnings.clone(),
            entries: stage.entries_after.clone(),
            diff: stage
                .diff
                .iter()
                .filter_map(|line| match line {
                    DiffLine::Added(text) => Some(format!("+{text}")),
                    DiffLine::Removed(text) => Some(format!("-{text}")),
                    DiffLine::Same(_) => None,
                })
                .collect(),
            steps: stage
                .steps
                .iter()
                .map(|step: &Step| StepJson {
                    description: step.describe(root),
                    status: "planned",
                    detail: None,
                    error: None,
                })
                .collect(),
            outcome: "planned",
            deployment_id: None,
            error: None,
        }
    }
}

fn reasons(pairs: &[(String, String)]) -> Vec<ReasonJson> {
    pairs
        .iter()
        .map(|(stage, reason)| ReasonJson {
            stage: stage.clone(),
            reason: reason.clone(),
        })
        .collect()
}

fn set_outcome(document: &mut BatchDocument, outcome: &'static str) {
    if let Some(batch) = document.batch.as_mut() {
        batch.outcome = outcome;
    }
}

fn emit(document: &BatchDocument, output: OutputFormat) -> Result<(), CommandError> {
    match output {
        OutputFormat::Json => print_json(document),
        OutputFormat::Text => Ok(()),
    }
}

fn network_of(cidr: &str) -> String {
    match parse_entry(cidr) {
        Ok(entry) => entry.covered_network().to_string(),
        Err(_) => cidr.trim().to_string(),
    }
}

fn stage_count(count: usize) -> String {
    if count == 1 {
        "1 stage".to_string()
    } else {
        format!("{count} stages")
    }
}

fn deployment_count(count: usize) -> String {
    if count == 1 {
        "1 deployment".to_string()
    } else {
        format!("{count} deployments")
    }
}

/// Whole seconds, rounded up: "15 s".
fn seconds(duration: Duration) -> String {
    let mut whole = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        whole += 1;
    }
    format!("{whole} s")
}
