//! Batch apply: change a named set once, then apply the change to every stage that includes it.
//!
//! A stage includes a set through `ipgate.json` (see [`crate::core::sets`]): Chalice stages by
//! name, stages of REST APIs without a project by `REST_API_ID/STAGE`. The engine has three
//! parts, used in this order:
//!
//! 1. [`plan_batch`] opens every including stage, applies the [`SetChange`] to its allowlist and
//!    plans its save with the same pipeline as the editor ([`crate::save`]). Nothing is written.
//!    Stages that share a REST API policy or a policy file are planned one after another on the
//!    state the earlier ones leave, so each stage's steps expect what the stage before wrote.
//! 2. [`run_batch`] runs the stages one after another and reports [`BatchEvent`]s. Each stage
//!    writes its policy file, updates the live policy and redeploys, as a save does.
//!    CreateDeployment is paced by the [`crate::aws::Gateway`]'s own pacer, one request every
//!    [`crate::aws::DEPLOYMENT_INTERVAL`] per account, so a batch of `n` deployments takes at
//!    least `(n - 1) * 5` seconds.
//! 3. A [`Journal`] under the data directory records the plan, then each stage's start, steps
//!    and outcome. [`Journal::unfinished`] lists batches with stages that are not done, and
//!    [`resume_plan`] plans the rest. Before a stage runs again, its current policy file, live
//!    policy and deployment are read anew, so a stage whose change is already in place is
//!    recorded as done without a second write or deployment.
//!
//! The terminal UI and the `ipgate set` subcommands both drive this module:
//!
//! ```text
//! let plan = plan_batch(&inventory, &merged.config, &change, project_root)?;
//! let mut journal = Journal::open(history.dir(), &plan.id);
//! let summary = run_batch(&plan, Some(&gateway), Some(&history), &mut journal, |event| ...).await;
//! ```

mod journal;
mod plan;
mod resume;
mod run;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::diff::DiffLine;
use crate::save::{SaveRecord, Step};

pub use journal::{Journal, JournalError, StageState, UnfinishedBatch};
pub use plan::{BatchOptions, plan_batch, plan_batch_with};
pub use resume::{resume_plan, resume_plan_with};
pub use run::{BatchControl, estimate_remaining, run_batch, run_batch_with};

/// A change to one named set: the CIDRs added to it and removed from it, in canonical text
/// (`192.0.2.44/32`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChange {
    pub set: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl SetChange {
    /// True when the change adds and removes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Returns the change in short, such as `+192.0.2.44/32 -203.0.113.0/24`.
    pub fn summary(&self) -> String {
        let added = self.added.iter().map(|cidr| format!("+{cidr}"));
        let removed = self.removed.iter().map(|cidr| format!("-{cidr}"));
        let parts: Vec<String> = added.chain(removed).collect();
        if parts.is_empty() {
            "no change".to_string()
        } else {
            parts.join(" ")
        }
    }
}

impl fmt::Display for SetChange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "set {}: {}", self.set, self.summary())
    }
}

/// Every stage a set change reaches, with the exact steps of each, decided before anything is
/// written.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// Unique and sortable by time, such as `20250304-121530-9f3a`; names the journal file.
    pub id: String,
    pub change: SetChange,
    /// In the order they run: the order of the stages in `ipgate.json`.
    pub stages: Vec<BatchStage>,
    /// The Chalice project directory, so step descriptions can show relative paths.
    pub project_root: Option<PathBuf>,
    /// The region of the live REST APIs the plan was made from.
    pub region: Option<String>,
    /// True when the plan continues an interrupted batch with the same id.
    pub resumed: bool,
}

impl BatchPlan {
    /// Counts the stages with steps to run.
    pub fn stages_to_change(&self) -> usize {
        self.stages
            .iter()
            .filter(|stage| !stage.steps.is_empty())
            .count()
    }

    /// Counts the CreateDeployment steps of the plan.
    pub fn deployments(&self) -> usize {
        self.stages.iter().map(BatchStage::deployments).sum()
    }

    /// True when no stage has a step to run.
    pub fn is_empty(&self) -> bool {
        self.stages_to_change() == 0
    }
}

/// One stage of a batch: what it is, what the change does to its policy and the steps to run.
#[derive(Debug, Clone)]
pub struct BatchStage {
    /// The key of the stage in `ipgate.json`: a Chalice stage name or `REST_API_ID/STAGE`.
    pub key: String,
    /// The stage as the editor titles it, such as `ipgate-sample (abc123) / api`.
    pub title: String,
    /// Empty when there is nothing to do, and then `note` or `blocked` gives the reason.
    pub steps: Vec<Step>,
    /// The policy text at the start of the batch against the text after this stage's steps.
    pub diff: Vec<DiffLine>,
    /// Why the stage needs no steps or fewer than a save, such as "already up to date" or
    /// "not deployed: local file only".
    pub note: Option<String>,
    /// The reason the change cannot be applied to this stage. A blocked stage has no steps and
    /// counts as failed when the batch runs, so it can be resumed once the cause is fixed.
    pub blocked: Option<String>,
    /// Further facts to show before confirming: plan notes, project warnings, access changes.
    pub warnings: Vec<String>,
    /// Set when [`BatchOptions::my_ip`] would lose access to the stage: the reason it would be
    /// denied.
    pub lockout: Option<String>,
    pub rest_api_id: Option<String>,
    /// The API Gateway stage name; empty when the key matches no stage.
    pub stage: String,
    pub chalice_stage: Option<String>,
    /// The deployment the stage served when the plan was made.
    pub deployment_before: Option<String>,
    /// The facts history and the audit log keep about this stage's save.
    pub record: SaveRecord,
    /// The allowlist after the change.
    pub entries_after: Vec<String>,
}

impl BatchStage {
    /// Counts the CreateDeployment steps of this stage: 0 or 1.
    pub fn deployments(&self) -> usize {
        self.steps
            .iter()
            .filter(|step| matches!(step, Step::CreateDeployment { .. }))
            .count()
    }
}

/// The end of one stage of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// Every step ran. `deployment_id` is the new deployment, `None` for a local-only stage.
    Applied { deployment_id: Option<String> },
    /// No step was needed: the stage already had the change, or nothing matched its key.
    Skipped(String),
    /// The change is not (fully) applied: a step failed, the stage was blocked, or an earlier
    /// stage it depends on failed. Resuming the batch tries it again.
    Failed(String),
}

/// A report from [`run_batch`], in the order things happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchEvent {
    /// Stage `index` of the plan starts.
    StageStarted {
        index: usize,
    },
    /// Step `step` of stage `index` finished: the detail to show (the new deployment id), or
    /// the error.
    StepFinished {
        index: usize,
        step: usize,
        result: Result<Option<String>, String>,
    },
    StageFinished {
        index: usize,
        outcome: StageOutcome,
    },
    /// Stages finished so far, all stages, and an estimate of the time the rest take.
    Progress {
        done: usize,
        total: usize,
        estimated_remaining: Duration,
    },
    /// The run ended, completely or because it was asked to stop.
    Finished(BatchSummary),
}

/// The result of a run, stage by stage, with stage keys as in `ipgate.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    pub batch_id: String,
    pub change: Option<SetChange>,
    /// Stages whose steps all ran, with the new deployment when there was one.
    pub applied: Vec<(String, Option<String>)>,
    /// Stages that needed no step, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Stages where the change is not applied, with the error.
    pub failed: Vec<(String, String)>,
    /// Stages not started because the run was asked to stop.
    pub not_run: Vec<String>,
}

impl BatchSummary {
    /// True when every stage is applied or needed nothing.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.not_run.is_empty()
    }
}

impl fmt::Display for BatchSummary {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.change {
            Some(change) => writeln!(formatter, "Batch {}: {change}", self.batch_id)?,
            None => writeln!(formatter, "Batch {}", self.batch_id)?,
        }

        writeln!(formatter, "Applied: {}", stage_count(self.applied.len()))?;
        for (key, deployment_id) in &self.applied {
            match deployment_id {
                Some(id) => writeln!(formatter, "  {key}: deployment {id}")?,
                None => writeln!(formatter, "  {key}: local files only")?,
            }
        }
        if !self.skipped.is_empty() {
            writeln!(formatter, "Unchanged: {}", stage_count(self.skipped.len()))?;
            for (key, reason) in &self.skipped {
                writeln!(formatter, "  {key}: {reason}")?;
            }
        }
        if !self.failed.is_empty() {
            writeln!(formatter, "Failed: {}", stage_count(self.failed.len()))?;
            for (key, error) in &self.failed {
                writeln!(formatter, "  {key}: {error}")?;
            }
        }
        if !self.not_run.is_empty() {
            writeln!(
                formatter,
                "Not run (stopped): {}",
                stage_count(self.not_run.len())
            )?;
            for key in &self.not_run {
                writeln!(formatter, "  {key}")?;
            }
        }
        Ok(())
    }
}

fn stage_count(count: usize) -> String {
    if count == 1 {
        "1 stage".to_string()
    } else {
        format!("{count} stages")
    }
}
