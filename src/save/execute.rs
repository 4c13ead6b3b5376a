//! Running the steps of a planned save in order, with history and audit, for every front end.

use crate::aws::Gateway;

use super::plan::Step;
use super::record::HistoryRecorder;
use super::run::{StepError, StepStatus, run_step_checked};

/// Runs `steps[from..]` in order and returns the status of every step.
///
/// Steps before `from` count as done, because they succeeded in an earlier run of the same
/// save. The run stops at the first failed step. Before a live policy is replaced, `history`
/// records it. Once the run stops, `history` appends one audit line. `on_step` receives each
/// step's index and result as it finishes. It returns false when its receiver is gone, which
/// stops the run after that step, and the audit line still records where it stopped.
pub async fn execute_steps<F>(
    steps: &[Step],
    from: usize,
    gateway: Option<&Gateway>,
    history: Option<&HistoryRecorder>,
    mut on_step: F,
) -> Vec<StepStatus>
where
    F: FnMut(usize, Result<Option<String>, StepError>) -> bool,
{
    let mut statuses: Vec<StepStatus> = (0..steps.len())
        .map(|index| {
            if index < from {
                StepStatus::Done(None)
            } else {
                StepStatus::Pending
            }
        })
        .collect();

    for (index, step) in steps.iter().enumerate().skip(from) {
        tracing::info!(index, step = %step.describe(None), "save step started");
        let result = run_step_checked(step, gateway, history).await;
        match &result {
            Ok(detail) => tracing::info!(index, ?detail, "save step done"),
            Err(error) => tracing::warn!(index, %error, "save step failed"),
        }

        let failed = result.is_err();
        statuses[index] = match &result {
            Ok(detail) => StepStatus::Done(detail.clone()),
            Err(error) => StepStatus::Failed(error.to_string()),
        };
        let keep_going = on_step(index, result);
        if !keep_going || failed {
            break;
        }
    }

    if let Some(history) = history {
        history.audit(steps, &statuses);
    }
    statuses
}
