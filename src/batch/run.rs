//! Running a batch: the stages one after another, each through the save pipeline, with the
//! journal, history and progress reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::aws::{DEPLOYMENT_INTERVAL, Gateway};
use crate::history::HistoryStore;
use crate::save::{HistoryRecorder, Step, StepError, StepStatus, execute_steps, outcome_summary};

use super::journal::Journal;
use super::{BatchEvent, BatchPlan, BatchStage, BatchSummary, StageOutcome};

/// The time assumed for a step other than CreateDeployment before any was measured. A guess:
/// local writes take milliseconds and an UpdateRestApi with its read-back about a second.
const ASSUMED_STEP_TIME: Duration = Duration::from_millis(500);

/// Asks a running batch to stop before its next stage. Clones share the request.
///
/// The stage in progress always finishes, so no stage is left with its policy updated but not
/// deployed because of the request. Dropping the run's future instead stops it at once, which
/// the journal and [`super::resume_plan`] also handle.
#[derive(Debug, Clone, Default)]
pub struct BatchControl {
    stop: Arc<AtomicBool>,
}

impl BatchControl {
    pub fn new() -> BatchControl {
        BatchControl::default()
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Runs every stage of `plan` in order. See [`run_batch_with`].
pub async fn run_batch(
    plan: &BatchPlan,
    gateway: Option<&Gateway>,
    history: Option<&HistoryStore>,
    journal: &mut Journal,
    on_event: impl FnMut(BatchEvent),
) -> BatchSummary {
    run_batch_with(
        plan,
        gateway,
        history,
        journal,
        &BatchControl::default(),
        on_event,
    )
    .await
}

/// Runs the stages of `plan` one after another and returns how each ended.
///
/// Each stage runs its steps through [`execute_steps`], so the previous live policy goes to
/// `history` before it is replaced and each stage appends one audit line. The journal records
/// the plan first; when that fails, nothing runs and every stage fails with the journal's
/// error. A stage whose steps fail is not retried in this run, and a later stage that writes the
/// same REST API, policy file or config.json fails without running, because its steps expect
/// what the failed stage would have written.
///
/// `on_event` receives every [`BatchEvent`] as it happens, ending with
/// [`BatchEvent::Finished`]. `control` can stop the run between stages.
///
/// CreateDeployment requests wait for the gateway's pacer, so this function does not sleep by
/// itself.
pub async fn run_batch_with(
    plan: &BatchPlan,
    gateway: Option<&Gateway>,
    history: Option<&HistoryStore>,
    journal: &mut Journal,
    control: &BatchControl,
    mut on_event: impl FnMut(BatchEvent),
) -> BatchSummary {
    let total = plan.stages.len();
    let mut summary = BatchSummary {
        batch_id: plan.id.clone(),
        change: Some(plan.change.clone()),
        ..BatchSummary::default()
    };
    tracing::info!(batch_id = %plan.id, change = %plan.change, stages = total, "batch started");

    if let Err(error) = journal.begin(plan) {
        tracing::error!(
            batch_id = %plan.id,
            %error,
            "the batch journal cannot be written; nothing runs"
        );
        let reason = format!("nothing was changed: {error}");
        for (index, stage) in plan.stages.iter().enumerate() {
            let outcome = StageOutcome::Failed(reason.clone());
            on_event(BatchEvent::StageFinished { index, outcome });
            summary.failed.push((stage.key.clone(), reason.clone()));
        }
        on_event(BatchEvent::Finished(summary.clone()));
        return summary;
    }

    let mut timer = StepTimer::default();
    let mut failed_targets: Vec<(Target, String)> = Vec::new();
    on_event(progress(plan, 0, &timer));

    for (index, stage) in plan.stages.iter().enumerate() {
        if control.stop_requested() {
            summary.not_run = plan.stages[index..]
                .iter()
                .map(|stage| stage.key.clone())
                .collect();
            tracing::info!(
                batch_id = %plan.id,
                not_run = ?summary.not_run,
                "batch stopped on request"
            );
            journal.stopped(&summary.not_run);
            break;
        }

        on_event(BatchEvent::StageStarted { index });
        let outcome = match blocked_by(stage, &failed_targets) {
            Some(reason) => StageOutcome::Failed(reason),
            None => {
                let run = StageRun {
                    plan,
                    index,
                    gateway,
                    history,
                };
                run.execute(journal, &mut timer, &mut on_event).await
            }
        };

        if matches!(outcome, StageOutcome::Failed(_)) {
            for target in targets(stage) {
                failed_targets.push((target, stage.key.clone()));
            }
        }
        log_outcome(&plan.id, stage, &outcome);
        journal.stage_finished(index, &stage.key, &outcome);
        record_outcome(&mut summary, stage, &outcome);
        on_event(BatchEvent::StageFinished { index, outcome });
        on_event(progress(plan, index + 1, &timer));
    }

    journal.run_finished(&summary);
    tracing::info!(
        batch_id = %plan.id,
        applied = summary.applied.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        not_run = summary.not_run.len(),
        "batch finished"
    );
    on_event(BatchEvent::Finished(summary.clone()));
    summary
}

/// One stage of a run and what it runs with.
struct StageRun<'a> {
    plan: &'a BatchPlan,
    index: usize,
    gateway: Option<&'a Gateway>,
    history: Option<&'a HistoryStore>,
}

impl StageRun<'_> {
    async fn execute(
        &self,
        journal: &mut Journal,
        timer: &mut StepTimer,
        on_event: &mut impl FnMut(BatchEvent),
    ) -> StageOutcome {
        let stage = &self.plan.stages[self.index];
        if let Some(reason) = &stage.blocked {
            return StageOutcome::Failed(format!("not applied: {reason}"));
        }
        if stage.steps.is_empty() {
            let reason = stage
                .note
                .clone()
                .unwrap_or_else(|| "nothing to change".to_string());
            return StageOutcome::Skipped(reason);
        }

        tracing::info!(
            batch_id = %self.plan.id,
            stage = %stage.key,
            steps = stage.steps.len(),
            "batch stage started"
        );
        journal.stage_started(self.index, &stage.key);
        let recorder = self.history.map(|store| HistoryRecorder {
            store: store.clone(),
            record: stage.record.clone(),
        });

        let mut step_started = Instant::now();
        let on_step = |step: usize, result: Result<Option<String>, StepError>| {
            timer.record(&stage.steps[step], step_started.elapsed());
            step_started = Instant::now();
            let result = result.map_err(|error| error.to_string());
            journal.step_finished(self.index, &stage.key, step, &stage.steps[step], &result);
            on_event(BatchEvent::StepFinished {
                index: self.index,
                step,
                result,
            });
            true
        };
        let statuses =
            execute_steps(&stage.steps, 0, self.gateway, recorder.as_ref(), on_step).await;
        stage_outcome(&stage.steps, &statuses)
    }
}

/// Applied when every step is done, else failed with the error and the state left behind.
fn stage_outcome(steps: &[Step], statuses: &[StepStatus]) -> StageOutcome {
    let failure = statuses.iter().find_map(|status| match status {
        StepStatus::Failed(error) => Some(error.clone()),
        _ => None,
    });
    if let Some(error) = failure {
        return StageOutcome::Failed(format!("{error} ({})", outcome_summary(steps, statuses)));
    }
    if statuses
        .iter()
        .any(|status| !matches!(status, StepStatus::Done(_)))
    {
        return StageOutcome::Failed(format!(
            "the run stopped part-way ({})",
            outcome_summary(steps, statuses)
        ));
    }

    let deployment_id =
        steps
            .iter()
            .zip(statuses)
            .find_map(|(step, status)| match (step, status) {
                (Step::CreateDeployment { .. }, StepStatus::Done(Some(detail))) => Some(
                    detail
                        .strip_prefix("deployment ")
                        .unwrap_or(detail)
                        .to_string(),
                ),
                _ => None,
            });
    StageOutcome::Applied { deployment_id }
}

/// A REST API or file a stage writes, so that a failure can hold back later stages writing the
/// same one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    RestApi(String),
    File(PathBuf),
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::RestApi(rest_api_id) => format!("REST API {rest_api_id}"),
            Target::File(path) => path.display().to_string(),
        }
    }
}

fn targets(stage: &BatchStage) -> Vec<Target> {
    stage
        .steps
        .iter()
        .map(|step| match step {
            Step::WritePolicyFile { path, .. } => Target::File(path.clone()),
            Step::SetPolicyFileKey { config_path, .. } => Target::File(config_path.clone()),
            Step::UpdatePolicy { rest_api_id, .. } | Step::CreateDeployment { rest_api_id, .. } => {
                Target::RestApi(rest_api_id.clone())
            }
        })
        .collect()
}

/// The reason `stage` must not run after the failures so far, if any.
fn blocked_by(stage: &BatchStage, failed: &[(Target, String)]) -> Option<String> {
    let mine = targets(stage);
    let (target, key) = failed.iter().find(|(target, _)| mine.contains(target))?;
    Some(format!(
        "not run: stage {key} failed on {}, which this stage writes too; fix that and resume the batch",
        target.describe()
    ))
}

fn record_outcome(summary: &mut BatchSummary, stage: &BatchStage, outcome: &StageOutcome) {
    let key = stage.key.clone();
    match outcome {
        StageOutcome::Applied { deployment_id } => {
            summary.applied.push((key, deployment_id.clone()))
        }
        StageOutcome::Skipped(reason) => summary.skipped.push((key, reason.clone())),
        StageOutcome::Failed(error) => summary.failed.push((key, error.clone())),
    }
}

fn log_outcome(batch_id: &str, stage: &BatchStage, outcome: &StageOutcome) {
    match outcome {
        StageOutcome::Applied { deployment_id } => tracing::info!(
            batch_id,
            stage = %stage.key,
            deployment_id = deployment_id.as_deref().unwrap_or("-"),
            "batch stage applied"
        ),
        StageOutcome::Skipped(reason) => {
            tracing::info!(batch_id, stage = %stage.key, reason = %reason, "batch stage skipped")
        }
        StageOutcome::Failed(error) => {
            tracing::warn!(batch_id, stage = %stage.key, error = %error, "batch stage failed")
        }
    }
}

/// Average time of the steps other than CreateDeployment, measured as they finish.
#[derive(Debug, Default)]
struct StepTimer {
    total: Duration,
    count: u32,
}

impl StepTimer {
    fn record(&mut self, step: &Step, elapsed: Duration) {
        if !matches!(step, Step::CreateDeployment { .. }) {
            self.total += elapsed;
            self.count += 1;
        }
    }

    fn average(&self) -> Option<Duration> {
        (self.count > 0).then(|| self.total / self.count)
    }
}

fn progress(plan: &BatchPlan, done: usize, timer: &StepTimer) -> BatchEvent {
    BatchEvent::Progress {
        done,
        total: plan.stages.len(),
        estimated_remaining: estimate_remaining(&plan.stages[done..], timer.average()),
    }
}

/// Estimates how long `stages` take to run: each CreateDeployment waits up to
/// [`DEPLOYMENT_INTERVAL`] for the pacer, and every other step takes `average_step`, or
/// half a second when nothing was measured yet.
///
/// An estimate only: the first deployment of a run often need not wait, retries add time, and
/// the pacer is shared with other saves of the same gateway.
pub fn estimate_remaining(stages: &[BatchStage], average_step: Option<Duration>) -> Duration {
    let steps = stages.iter().flat_map(|stage| &stage.steps);
    let (deployments, others) = steps.fold((0u32, 0u32), |(deployments, others), step| {
        if matches!(step, Step::CreateDeployment { .. }) {
            (deployments + 1, others)
        } else {
            (deployments, others + 1)
        }
    });
    DEPLOYMENT_INTERVAL * deployments + average_step.unwrap_or(ASSUMED_STEP_TIME) * others
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The terminal UI runs a batch on a tokio task, so the future must be `Send` when the
    /// event callback is.
    #[allow(dead_code)]
    fn run_future_is_send(
        plan: &'static BatchPlan,
        gateway: &'static Gateway,
        history: &'static HistoryStore,
        journal: &'static mut Journal,
    ) {
        fn assert_send<T: Send>(_: &T) {}
        let future = run_batch(plan, Some(gateway), Some(history), journal, |_event| {});
        assert_send(&future);
    }

    #[test]
    fn estimate_counts_deployments_and_steps() {
        let step = |deploy: bool| {
            if deploy {
                Step::CreateDeployment {
                    rest_api_id: "a".to_string(),
                    stage: "s".to_string(),
                    description: String::new(),
                }
            } else {
                Step::WritePolicyFile {
                    path: PathBuf::from("p"),
                    contents: String::new(),
                    expected: None,
                }
            }
        };
        let stage = |steps: Vec<Step>| BatchStage {
            key: "k".to_string(),
            title: "k".to_string(),
            steps,
            diff: Vec::new(),
            note: None,
            blocked: None,
            warnings: Vec::new(),
            lockout: None,
            rest_api_id: None,
            stage: String::new(),
            chalice_stage: None,
            deployment_before: None,
            record: crate::save::SaveRecord {
                region: None,
                rest_api_id: None,
                stage: String::new(),
                chalice_stage: None,
                deployment_id: None,
                change: String::new(),
                reason: String::new(),
                local_file: None,
                local_text: None,
            },
            entries_after: Vec::new(),
        };
        let stages = [
            stage(vec![step(false), step(true)]),
            stage(vec![step(true)]),
            stage(Vec::new()),
        ];

        let cases = [
            (None, Duration::from_millis(10_500)),
            (Some(Duration::from_secs(2)), Duration::from_secs(12)),
        ];
        for (average, expected) in cases {
            assert_eq!(
                estimate_remaining(&stages, average),
                expected,
                "{average:?}"
            );
        }
        assert_eq!(estimate_remaining(&stages[2..], None), Duration::ZERO);
    }
}
