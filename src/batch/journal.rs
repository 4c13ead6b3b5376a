//! The batch journal: one append-only JSON Lines file per batch, `batches/<id>.jsonl` under the
//! data directory.
//!
//! The first line records the plan: the change, and per stage its key, REST API, the deployment
//! it served and whether the plan redeploys it. Each run then appends a line when a stage
//! starts, when each of its steps finishes and when it ends. A resumed run appends a `resumed`
//! line and goes on in the same file. Lines are never rewritten, so the last line about a stage
//! is its state.
//!
//! While a run is going, it holds an exclusive lock on `batches/<id>.lock`, so two ipgate
//! processes cannot run the same batch at once.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::history::{HistoryError, HistoryStore};
use crate::save::Step;

use super::{BatchPlan, BatchSummary, SetChange, StageOutcome};

/// The directory of the journals, under the data directory.
const BATCHES_DIR: &str = "batches";

/// A failure to read or write a journal, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failed to {operation} {}: {source}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("failed to encode a line of {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("batch {id} is running in another ipgate process ({} is locked)", path.display())]
    Busy { id: String, path: PathBuf },
    #[error("no batch {id}: {} does not exist", path.display())]
    NotFound { id: String, path: PathBuf },
    #[error("{} does not start with the plan of a batch, so it cannot be resumed", path.display())]
    NoPlan { path: PathBuf },
    #[error(
        "invalid batch id '{id}': ids contain only letters, digits and '-', such as 20250304-121530-9f3a"
    )]
    InvalidId { id: String },
}

/// The journal of one batch. Opening it touches nothing on disk; [`super::run_batch`] writes it.
#[derive(Debug)]
pub struct Journal {
    batch_id: String,
    path: PathBuf,
    lock_path: PathBuf,
    /// The lock of a run in progress.
    lock: Option<File>,
    /// Appends that failed after the plan line, each with its error.
    write_errors: Vec<String>,
}

impl Journal {
    /// Opens the journal of `batch_id` under `data_dir`: `data_dir/batches/<batch_id>.jsonl`.
    pub fn open(data_dir: &Path, batch_id: &str) -> Journal {
        let dir = data_dir.join(BATCHES_DIR);
        Journal {
            batch_id: batch_id.to_string(),
            path: dir.join(format!("{batch_id}.jsonl")),
            lock_path: dir.join(format!("{batch_id}.lock")),
            lock: None,
            write_errors: Vec::new(),
        }
    }

    /// Opens the journal of `batch_id` in the data directory of the policy history:
    /// `IPGATE_DATA_DIR` when set, else the platform data directory.
    pub fn open_default(batch_id: &str) -> Result<Journal, HistoryError> {
        let store = HistoryStore::open_default()?;
        Ok(Journal::open(store.dir(), batch_id))
    }

    pub fn batch_id(&self) -> &str {
        &self.batch_id
    }

    /// Returns the journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends that failed during the run, after the plan line was written. The run goes on
    /// after such a failure, because a resume checks every stage's files and live policy anew.
    pub fn write_errors(&self) -> &[String] {
        &self.write_errors
    }

    /// Returns every batch under `data_dir` with a stage that is not done, oldest first, except
    /// abandoned ones. Journals that cannot be read are skipped with a warning in the log.
    pub fn unfinished(data_dir: &Path) -> Result<Vec<UnfinishedBatch>, JournalError> {
        let dir = data_dir.join(BATCHES_DIR);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(JournalError::Io {
                    operation: "list",
                    path: dir,
                    source,
                });
            }
        };

        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().to_string();
                name.strip_suffix(".jsonl").map(str::to_string)
            })
            .filter(|id| valid_id(id))
            .collect();
        ids.sort();

        let mut batches = Vec::new();
        for id in ids {
            match Journal::load(data_dir, &id) {
                Ok(batch) if !batch.is_finished() && !batch.abandoned => batches.push(batch),
                Ok(_) => {}
                Err(error) => tracing::warn!(batch_id = %id, %error, "skipping a batch journal"),
            }
        }
        Ok(batches)
    }

    /// Reads the state of one batch, finished or not.
    pub fn load(data_dir: &Path, batch_id: &str) -> Result<UnfinishedBatch, JournalError> {
        if !valid_id(batch_id) {
            return Err(JournalError::InvalidId {
                id: batch_id.to_string(),
            });
        }
        let journal = Journal::open(data_dir, batch_id);
        let lines = read_lines(&journal.path).map_err(|error| match error {
            JournalError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                JournalError::NotFound {
                    id: batch_id.to_string(),
                    path: journal.path.clone(),
                }
            }
            other => other,
        })?;
        let running = is_locked(&journal.lock_path);
        UnfinishedBatch::from_lines(batch_id, &journal.path, lines, running)
    }

    /// Marks a batch as abandoned, so [`Journal::unfinished`] no longer lists it. Its journal
    /// stays, and resuming it by id still works and clears the mark.
    pub fn abandon(data_dir: &Path, batch_id: &str) -> Result<UnfinishedBatch, JournalError> {
        let mut batch = Journal::load(data_dir, batch_id)?;
        if batch.running {
            return Err(JournalError::Busy {
                id: batch_id.to_string(),
                path: Journal::open(data_dir, batch_id).lock_path,
            });
        }
        append_line(&batch.path, &Line::Abandoned { at: now() })?;
        tracing::info!(batch_id, "batch abandoned");
        batch.abandoned = true;
        Ok(batch)
    }

    /// Takes the run lock and records the plan, or for a resumed plan the stages this run
    /// covers. Nothing may run when this fails.
    pub(super) fn begin(&mut self, plan: &BatchPlan) -> Result<(), JournalError> {
        let parent = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;

        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(io_error("open", &self.lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Busy {
                    id: self.batch_id.clone(),
                    path: self.lock_path.clone(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(JournalError::Io {
                    operation: "lock",
                    path: self.lock_path.clone(),
                    source,
                });
            }
        }
        self.lock = Some(lock);

        let line = if plan.resumed && self.path.exists() {
            Line::Resumed {
                at: now(),
                stages: plan.stages.iter().map(|stage| stage.key.clone()).collect(),
            }
        } else {
            Line::Planned(PlannedLine::from_plan(plan))
        };
        append_line(&self.path, &line)
    }

    pub(super) fn stage_started(&mut self, index: usize, key: &str) {
        self.append(&Line::StageStarted {
            at: now(),
            index,
            key: key.to_string(),
        });
    }

    pub(super) fn step_finished(
        &mut self,
        index: usize,
        key: &str,
        step: usize,
        described: &Step,
        result: &Result<Option<String>, String>,
    ) {
        let (detail, error) = match result {
            Ok(detail) => (detail.clone(), None),
            Err(error) => (None, Some(error.clone())),
        };
        self.append(&Line::StepFinished {
            at: now(),
            index,
            key: key.to_string(),
            step,
            kind: step_kind(described).to_string(),
            description: described.describe(None),
            ok: error.is_none(),
            detail,
            error,
        });
    }

    pub(super) fn stage_finished(&mut self, index: usize, key: &str, outcome: &StageOutcome) {
        self.append(&Line::StageFinished {
            at: now(),
            index,
            key: key.to_string(),
            outcome: outcome.clone(),
        });
    }

    pub(super) fn stopped(&mut self, not_run: &[String]) {
        self.append(&Line::Stopped {
            at: now(),
            not_run: not_run.to_vec(),
        });
    }

    /// Records the summary and releases the run lock.
    pub(super) fn run_finished(&mut self, summary: &BatchSummary) {
        self.append(&Line::RunFinished {
            at: now(),
            summary: summary.clone(),
        });
        self.lock = None;
    }

    fn append(&mut self, line: &Line) {
        if let Err(error) = append_line(&self.path, line) {
            tracing::error!(
                batch_id = %self.batch_id,
                %error,
                "appending to the batch journal failed"
            );
            self.write_errors.push(error.to_string());
        }
    }
}

/// The state of one batch as its journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedBatch {
    pub id: String,
    /// The journal file.
    pub path: PathBuf,
    /// When the batch was planned, as RFC 3339 in UTC.
    pub planned_at: String,
    pub change: SetChange,
    pub region: Option<String>,
    pub project_root: Option<PathBuf>,
    /// Every stage of the first plan, in plan order.
    pub stages: Vec<JournalStage>,
    /// Another process holds the run lock now.
    pub running: bool,
    /// The batch was abandoned after its last run.
    pub abandoned: bool,
}

impl UnfinishedBatch {
    /// True when every stage is applied or needed nothing.
    pub fn is_finished(&self) -> bool {
        self.stages.iter().all(|stage| stage.state.is_done())
    }

    /// Returns the keys of the stages that are not done, in plan order.
    pub fn remaining(&self) -> Vec<String> {
        self.stages
            .iter()
            .filter(|stage| !stage.state.is_done())
            .map(|stage| stage.key.clone())
            .collect()
    }

    fn from_lines(
        id: &str,
        path: &Path,
        lines: Vec<Line>,
        running: bool,
    ) -> Result<UnfinishedBatch, JournalError> {
        let mut lines = lines.into_iter();
        let Some(Line::Planned(planned)) = lines.next() else {
            return Err(JournalError::NoPlan {
                path: path.to_path_buf(),
            });
        };

        let mut batch = UnfinishedBatch {
            id: id.to_string(),
            path: path.to_path_buf(),
            planned_at: planned.at,
            change: planned.change,
            region: planned.region,
            project_root: planned.project_root,
            stages: planned
                .stages
                .into_iter()
                .map(|stage| JournalStage {
                    key: stage.key,
                    title: stage.title,
                    rest_api_id: stage.rest_api_id,
                    stage: stage.stage,
                    chalice_stage: stage.chalice_stage,
                    deployment_before: stage.deployment_before,
                    planned_deploy: stage.planned_deploy,
                    state: StageState::Pending,
                })
                .collect(),
            running,
            abandoned: false,
        };

        for line in lines {
            let (key, state) = match line {
                Line::Abandoned { .. } => {
                    batch.abandoned = true;
                    continue;
                }
                Line::Resumed { .. } => {
                    batch.abandoned = false;
                    continue;
                }
                Line::StageStarted { key, .. } => (key, StageState::Started),
                Line::StageFinished { key, outcome, .. } => (key, StageState::from(outcome)),
                _ => continue,
            };
            if let Some(stage) = batch.stages.iter_mut().find(|stage| stage.key == key) {
                stage.state = state;
            }
        }
        Ok(batch)
    }
}

/// One stage of a batch as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalStage {
    pub key: String,
    pub title: String,
    pub rest_api_id: Option<String>,
    /// The API Gateway stage name.
    pub stage: String,
    pub chalice_stage: Option<String>,
    /// The deployment the stage served when the batch was first planned.
    pub deployment_before: Option<String>,
    /// The first plan redeployed the stage.
    pub planned_deploy: bool,
    pub state: StageState,
}

/// The state of one stage of a batch, from the last journal line about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageState {
    /// No run has started the stage.
    Pending,
    /// A run started the stage and stopped before recording its outcome, for example in a
    /// crash. Its steps may or may not have run.
    Started,
    Applied {
        deployment_id: Option<String>,
    },
    Skipped(String),
    Failed(String),
}

impl StageState {
    /// True when the change is in place: applied, or nothing was needed.
    pub fn is_done(&self) -> bool {
        matches!(self, StageState::Applied { .. } | StageState::Skipped(_))
    }
}

impl From<StageOutcome> for StageState {
    fn from(outcome: StageOutcome) -> StageState {
        match outcome {
            StageOutcome::Applied { deployment_id } => StageState::Applied { deployment_id },
            StageOutcome::Skipped(reason) => StageState::Skipped(reason),
            StageOutcome::Failed(error) => StageState::Failed(error),
        }
    }
}

/// One line of a journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Planned(PlannedLine),
    Resumed {
        at: String,
        stages: Vec<String>,
    },
    StageStarted {
        at: String,
        index: usize,
        key: String,
    },
    StepFinished {
        at: String,
        index: usize,
        key: String,
        step: usize,
        /// `write_policy_file`, `set_policy_file_key`, `update_policy` or `create_deployment`.
        kind: String,
        description: String,
        ok: bool,
        detail: Option<String>,
        error: Option<String>,
    },
    StageFinished {
        at: String,
        index: usize,
        key: String,
        outcome: StageOutcome,
    },
    Stopped {
        at: String,
        not_run: Vec<String>,
    },
    RunFinished {
        at: String,
        summary: BatchSummary,
    },
    Abandoned {
        at: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlannedLine {
    at: String,
    batch_id: String,
    change: SetChange,
    region: Option<String>,
    project_root: Option<PathBuf>,
    stages: Vec<PlannedStage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlannedStage {
    key: String,
    title: String,
    rest_api_id: Option<String>,
    stage: String,
    chalice_stage: Option<String>,
    deployment_before: Option<String>,
    planned_deploy: bool,
    /// The steps as the confirmation showed them.
    steps: Vec<String>,
    blocked: Option<String>,
    note: Option<String>,
}

impl PlannedLine {
    fn from_plan(plan: &BatchPlan) -> PlannedLine {
        let root = plan.project_root.as_deref();
        PlannedLine {
            at: now(),
            batch_id: plan.id.clone(),
            change: plan.change.clone(),
            region: plan.region.clone(),
            project_root: plan.project_root.clone(),
            stages: plan
                .stages
                .iter()
                .map(|stage| PlannedStage {
                    key: stage.key.clone(),
                    title: stage.title.clone(),
                    rest_api_id: stage.rest_api_id.clone(),
                    stage: stage.stage.clone(),
                    chalice_stage: stage.chalice_stage.clone(),
                    deployment_before: stage.deployment_before.clone(),
                    planned_deploy: stage.deployments() > 0,
                    steps: stage.steps.iter().map(|step| step.describe(root)).collect(),
                    blocked: stage.blocked.clone(),
                    note: stage.note.clone(),
                })
                .collect(),
        }
    }
}

fn step_kind(step: &Step) -> &'static str {
    match step {
        Step::WritePolicyFile { .. } => "write_policy_file",
        Step::SetPolicyFileKey { .. } => "set_policy_file_key",
        Step::UpdatePolicy { .. } => "update_policy",
        Step::CreateDeployment { .. } => "create_deployment",
    }
}

/// Ids are file names, so only letters, digits, '-' and '_' are accepted.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().all(|character| {
            character.is_ascii_alphanumeric() || character == '-' || character == '_'
        })
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io {
        operation,
        path,
        source,
    }
}

/// True when another process holds the run lock of the batch.
fn is_locked(lock_path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().write(true).open(lock_path) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Appends `line` as one JSON line with a single write under an exclusive lock, then syncs the
/// data, so a crash leaves whole lines and at most one cut-off last line.
fn append_line(path: &Path, line: &Line) -> Result<(), JournalError> {
    let mut bytes = serde_json::to_vec(line).map_err(|source| JournalError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');

    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_error("open", path))?;
    file.lock().map_err(io_error("lock", path))?;

    // A crash mid-write can leave a last line without its newline; this line starts anew.
    if !ends_with_newline(&mut file).map_err(io_error("read the end of", path))? {
        bytes.insert(0, b'\n');
    }
    file.write_all(&bytes)
        .map_err(io_error("append to", path))?;
    file.sync_data().map_err(io_error("sync", path))
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Reads every line of a journal under a shared lock, skipping corrupt lines with a warning.
fn read_lines(path: &Path) -> Result<Vec<Line>, JournalError> {
    crate::history::read_json_lines(path)
        .map_err(|(operation, error)| io_error(operation, path)(error))
}
