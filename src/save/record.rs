//! The records a save keeps: the previous live policy before it is overwritten, and an audit
//! line for every run.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::Value;

use crate::history::{AuditRecord, HistoryStore, PolicyVersion};

use super::plan::Step;
use super::run::StepStatus;

/// The facts about a save that its history and audit records carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveRecord {
    pub region: Option<String>,
    pub rest_api_id: Option<String>,
    pub stage: String,
    pub chalice_stage: Option<String>,
    /// The stage's deployment before the save.
    pub deployment_id: Option<String>,
    /// The change in short, for example `+203.0.113.7/32 -198.51.100.0/24`.
    pub change: String,
    /// Why the previous version is kept: "before save" or "before rollback".
    pub reason: String,
    pub local_file: Option<PathBuf>,
    pub local_text: Option<String>,
}

/// A history store and the save it records for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecorder {
    pub store: HistoryStore,
    pub record: SaveRecord,
}

impl HistoryRecorder {
    /// Records the live policy that the next write replaces.
    pub fn record_previous(
        &self,
        rest_api_id: &str,
        previous: Option<&Value>,
    ) -> Result<(), String> {
        let version = PolicyVersion {
            recorded_at: SystemTime::now(),
            region: self.record.region.clone(),
            account: previous.and_then(account_in_resources),
            rest_api_id: rest_api_id.to_string(),
            stage: self.record.stage.clone(),
            chalice_stage: self.record.chalice_stage.clone(),
            deployment_id: self.record.deployment_id.clone(),
            policy: previous.map(crate::core::policy::to_minified),
            local_file: self.record.local_file.clone(),
            local_text: self.record.local_text.clone(),
            reason: self.record.reason.clone(),
        };
        self.store.record_before_write(&version).map_err(|error| {
            format!("recording the previous policy failed, so nothing was written live: {error}")
        })
    }

    /// Appends the audit line of a run that has stopped.
    pub fn audit(&self, steps: &[Step], statuses: &[StepStatus]) {
        let Some(rest_api_id) = self.record.rest_api_id.clone() else {
            return;
        };
        let deployment_id =
            statuses
                .iter()
                .zip(steps)
                .find_map(|(status, step)| match (status, step) {
                    (StepStatus::Done(Some(detail)), Step::CreateDeployment { .. }) => {
                        detail.strip_prefix("deployment ").map(str::to_string)
                    }
                    _ => None,
                });
        let outcome = match statuses.iter().find_map(|status| match status {
            StepStatus::Failed(error) => Some(error),
            _ => None,
        }) {
            Some(error) => format!(
                "failed: {}: {error}",
                super::outcome_summary(steps, statuses)
            ),
            None => "saved".to_string(),
        };

        let record = AuditRecord {
            at: SystemTime::now(),
            region: self.record.region.clone(),
            account: None,
            rest_api_id,
            stage: self.record.stage.clone(),
            chalice_stage: self.record.chalice_stage.clone(),
            change: self.record.change.clone(),
            steps: steps.iter().map(|step| step.describe(None)).collect(),
            deployment_id,
            outcome,
        };
        if let Err(error) = self.store.append_audit(&record) {
            tracing::error!(%error, "appending to the audit log failed");
        }
    }
}

/// Finds the AWS account id in the first full execute-api ARN of a policy. AWS writes such ARNs
/// when it stores a policy, so a policy with short resources only gives `None`.
fn account_in_resources(policy: &Value) -> Option<String> {
    let text = crate::core::policy::to_minified(policy);
    text.split("arn:").skip(1).find_map(|arn| {
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        let account = fields.get(3)?;
        let is_account = fields.get(1) == Some(&"execute-api")
            && account.len() == 12
            && account.chars().all(|character| character.is_ascii_digit());
        is_account.then(|| account.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::account_in_resources;

    #[test]
    fn account_from_expanded_arn() {
        let policy = serde_json::json!({"Statement": [{"Resource": "arn:aws:execute-api:eu-west-1:123456789012:abcde12345/*"}]});
        assert_eq!(
            account_in_resources(&policy).as_deref(),
            Some("123456789012")
        );
    }

    #[test]
    fn account_absent_in_short_form() {
        let policy = serde_json::json!({"Statement": [{"Resource": "execute-api:/*"}]});
        assert_eq!(account_in_resources(&policy), None);
    }
}
