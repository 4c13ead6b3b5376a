//! Running one step of a save.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::aws::Gateway;
use crate::core::chalice::atomic_write;
use crate::core::live::{decode_live_policy, same_meaning};
use crate::core::resource::ApiContext;

use super::record::HistoryRecorder;

use super::plan::Step;

/// The state of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    Running,
    /// Done, with a detail to show (the new deployment id).
    Done(Option<String>),
    Failed(String),
}

/// Something changed under ipgate between loading and writing; nothing was written by the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The policy file's text changed on disk; `current` is `None` when it was deleted.
    LocalFile {
        path: PathBuf,
        current: Option<String>,
    },
    /// The new policy file of this stage exists already.
    LocalFileExists {
        path: PathBuf,
        current: String,
    },
    ConfigFile {
        path: PathBuf,
    },
    /// Someone else changed the live policy.
    LivePolicy {
        rest_api_id: String,
        current: Option<Value>,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::LocalFile {
                path,
                current: Some(_),
            } => {
                write!(
                    formatter,
                    "{} changed on disk since ipgate read it",
                    path.display()
                )
            }
            Conflict::LocalFile {
                path,
                current: None,
            } => {
                write!(
                    formatter,
                    "{} was deleted since ipgate read it",
                    path.display()
                )
            }
            Conflict::LocalFileExists { path, .. } => {
                write!(
                    formatter,
                    "{} exists already and ipgate did not write it",
                    path.display()
                )
            }
            Conflict::ConfigFile { path } => {
                write!(
                    formatter,
                    "{} changed on disk since ipgate read it",
                    path.display()
                )
            }
            Conflict::LivePolicy { rest_api_id, .. } => {
                write!(
                    formatter,
                    "the live policy of REST API {rest_api_id} changed since ipgate loaded it"
                )
            }
        }
    }
}

/// The reason a step did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    Failed(String),
    Conflict(Conflict),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Failed(message) => formatter.write_str(message),
            StepError::Conflict(conflict) => {
                write!(formatter, "{conflict}; nothing was overwritten")
            }
        }
    }
}

impl From<String> for StepError {
    fn from(message: String) -> StepError {
        StepError::Failed(message)
    }
}

/// Runs one step without recording history; returns a detail to show on success, or the error.
pub async fn run_step(step: &Step, gateway: Option<&Gateway>) -> Result<Option<String>, String> {
    run_step_checked(step, gateway, None)
        .await
        .map_err(|error| error.to_string())
}

/// Runs one step after checking that what it overwrites is what ipgate loaded. Before a live
/// policy is replaced, `history` records it; a failure to record stops the step.
pub async fn run_step_checked(
    step: &Step,
    gateway: Option<&Gateway>,
    history: Option<&HistoryRecorder>,
) -> Result<Option<String>, StepError> {
    match step {
        Step::WritePolicyFile {
            path,
            contents,
            expected,
        } => {
            check_file_unchanged(path, expected.as_deref())?;
            write_file(path, contents)
                .map_err(|error| format!("writing {} failed: {error}", path.display()))?;
            Ok(None)
        }
        Step::SetPolicyFileKey {
            config_path,
            new_text,
            expected,
            ..
        } => {
            let current = read_optional(config_path)?;
            if current.as_deref() != Some(expected.as_str()) {
                return Err(StepError::Conflict(Conflict::ConfigFile {
                    path: config_path.clone(),
                }));
            }
            write_file(config_path, new_text)
                .map_err(|error| format!("writing {} failed: {error}", config_path.display()))?;
            Ok(None)
        }
        Step::UpdatePolicy {
            rest_api_id,
            policy,
            expected_live,
            api,
        } => {
            let gateway = gateway.ok_or_else(|| "not connected to AWS".to_string())?;
            let previous =
                check_live_unchanged(gateway, rest_api_id, expected_live.as_ref(), api).await?;
            if let Some(history) = history {
                history.record_previous(rest_api_id, previous.as_ref())?;
            }
            gateway
                .put_policy(rest_api_id, policy)
                .await
                .map_err(|error| error.describe())?;
            Ok(None)
        }
        Step::CreateDeployment {
            rest_api_id,
            stage,
            description,
        } => {
            let gateway = gateway.ok_or_else(|| "not connected to AWS".to_string())?;
            let deployment_id = gateway
                .create_deployment(rest_api_id, stage, description)
                .await
                .map_err(|error| error.describe())?;
            Ok(Some(format!("deployment {deployment_id}")))
        }
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, StepError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(StepError::Failed(format!(
            "reading {} failed: {error}",
            path.display()
        ))),
    }
}

fn check_file_unchanged(path: &Path, expected: Option<&str>) -> Result<(), StepError> {
    let current = read_optional(path)?;
    if current.as_deref() == expected {
        return Ok(());
    }
    let conflict = match (expected, current) {
        (None, Some(current)) => Conflict::LocalFileExists {
            path: path.to_path_buf(),
            current,
        },
        (_, current) => Conflict::LocalFile {
            path: path.to_path_buf(),
            current,
        },
    };
    Err(StepError::Conflict(conflict))
}

async fn check_live_unchanged(
    gateway: &Gateway,
    rest_api_id: &str,
    expected: Option<&Value>,
    api: &ApiContext,
) -> Result<Option<Value>, StepError> {
    let summary = gateway
        .get_rest_api(rest_api_id)
        .await
        .map_err(|error| error.describe())?;
    let current = decode_live_policy(summary.policy.as_deref()).map_err(|error| {
        format!("the live policy of REST API {rest_api_id} cannot be read: {error}")
    })?;
    if same_meaning(current.as_ref(), expected, api) {
        return Ok(current);
    }
    Err(StepError::Conflict(Conflict::LivePolicy {
        rest_api_id: rest_api_id.to_string(),
        current,
    }))
}

fn write_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    atomic_write(path, contents.as_bytes())
}

/// Names the state a save left, for example "policy file written, live policy updated, not
/// deployed".
pub fn outcome_summary(steps: &[Step], statuses: &[StepStatus]) -> String {
    let parts: Vec<&str> = steps
        .iter()
        .zip(statuses)
        .map(|(step, status)| match status {
            StepStatus::Done(_) => step.done_label(),
            _ => step.missing_label(),
        })
        .collect();
    parts.join(", ")
}
