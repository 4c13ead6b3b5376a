//! Running one step of a save.

use crate::aws::Gateway;
use crate::core::chalice::atomic_write;

use super::plan::Step;

/// Where one step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    Running,
    /// Done, with a detail to show (the new deployment id).
    Done(Option<String>),
    Failed(String),
}

/// Runs one step; returns a detail to show on success, or the error to show.
pub async fn run_step(step: &Step, gateway: Option<&Gateway>) -> Result<Option<String>, String> {
    match step {
        Step::WritePolicyFile { path, contents } => {
            write_file(path, contents).map_err(|error| format!("writing {} failed: {error}", path.display()))?;
            Ok(None)
        }
        Step::SetPolicyFileKey { config_path, new_text, .. } => {
            write_file(config_path, new_text)
                .map_err(|error| format!("writing {} failed: {error}", config_path.display()))?;
            Ok(None)
        }
        Step::UpdatePolicy { rest_api_id, policy } => {
            let gateway = gateway.ok_or("not connected to AWS")?;
            gateway.put_policy(rest_api_id, policy).await.map_err(|error| error.summary())?;
            Ok(None)
        }
        Step::CreateDeployment { rest_api_id, stage, description } => {
            let gateway = gateway.ok_or("not connected to AWS")?;
            let deployment_id = gateway
                .create_deployment(rest_api_id, stage, description)
                .await
                .map_err(|error| error.summary())?;
            Ok(Some(format!("deployment {deployment_id}")))
        }
    }
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
