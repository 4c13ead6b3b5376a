//! The batch screen: confirm a set change on every including stage, follow it, read the summary.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};

use crate::batch::{BatchEvent, BatchPlan, BatchSummary, StageOutcome};
use crate::ui::sets::SetEditor;

/// A batch plan in an effect; plans compare by id, which is unique.
#[derive(Debug, Clone)]
pub struct PlannedBatch(pub Box<BatchPlan>);

impl PartialEq for PlannedBatch {
    fn eq(&self, other: &PlannedBatch) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for PlannedBatch {}

/// The state of one stage of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageState {
    Pending,
    Running,
    Finished(StageOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchPhase {
    /// Waiting for `y`; with a lockout, the set name must be typed first.
    Confirm {
        typed: String,
    },
    Running,
    Finished(BatchSummary),
}

/// The app's next action after the batch screen handled a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    None,
    Run,
    Stop,
    Close,
    Status(String),
}

#[derive(Debug, Clone)]
pub struct BatchView {
    pub plan: BatchPlan,
    pub phase: BatchPhase,
    pub stages: Vec<StageState>,
    pub selected: usize,
    pub done: usize,
    pub estimated_remaining: Option<Duration>,
    /// The user asked the batch to stop after the current stage.
    pub stop_requested: bool,
    /// A set edit written to its file only when this batch is confirmed; cancelling returns to it.
    pub pending_set: Option<Box<SetEditor>>,
}

impl BatchView {
    pub fn new(plan: BatchPlan) -> BatchView {
        let stages = vec![StageState::Pending; plan.stages.len()];
        BatchView {
            plan,
            phase: BatchPhase::Confirm {
                typed: String::new(),
            },
            stages,
            selected: 0,
            done: 0,
            estimated_remaining: None,
            stop_requested: false,
            pending_set: None,
        }
    }

    /// True when the change would take away the user's own access to some stage.
    pub fn has_lockout(&self) -> bool {
        self.plan.stages.iter().any(|stage| stage.lockout.is_some())
    }

    pub fn is_running(&self) -> bool {
        self.phase == BatchPhase::Running
    }

    pub fn on_key(&mut self, key: KeyEvent) -> BatchOutcome {
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.plan.stages.len().saturating_sub(1));
                return BatchOutcome::None;
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                return BatchOutcome::None;
            }
            _ => {}
        }

        match &mut self.phase {
            BatchPhase::Confirm { typed }
                if self.plan.stages.iter().any(|stage| stage.lockout.is_some()) =>
            {
                match key.code {
                    KeyCode::Esc => BatchOutcome::Close,
                    KeyCode::Backspace => {
                        typed.pop();
                        BatchOutcome::None
                    }
                    KeyCode::Enter if *typed == self.plan.change.set => self.start(),
                    KeyCode::Enter => BatchOutcome::Status(format!(
                        "Type the set name {} to accept losing your own access, or Esc to cancel.",
                        self.plan.change.set
                    )),
                    KeyCode::Char(character) => {
                        typed.push(character);
                        BatchOutcome::None
                    }
                    _ => BatchOutcome::None,
                }
            }
            BatchPhase::Confirm { .. } => match key.code {
                KeyCode::Char('y') => self.start(),
                _ => BatchOutcome::Close,
            },
            BatchPhase::Running => match key.code {
                KeyCode::Char('x') => {
                    self.stop_requested = true;
                    BatchOutcome::Stop
                }
                _ => BatchOutcome::Status(
                    "The batch is running; x stops it after the current stage.".to_string(),
                ),
            },
            BatchPhase::Finished(_) => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => BatchOutcome::Close,
                _ => BatchOutcome::None,
            },
        }
    }

    fn start(&mut self) -> BatchOutcome {
        if self.plan.is_empty() {
            return BatchOutcome::Status(
                "Every stage already has this change: nothing to apply.".to_string(),
            );
        }
        self.phase = BatchPhase::Running;
        BatchOutcome::Run
    }

    /// Records one event of the run.
    pub fn on_event(&mut self, event: BatchEvent) {
        match event {
            BatchEvent::StageStarted { index } => self.set_stage(index, StageState::Running),
            BatchEvent::StepFinished { .. } => {}
            BatchEvent::StageFinished { index, outcome } => {
                self.set_stage(index, StageState::Finished(outcome))
            }
            BatchEvent::Progress {
                done,
                estimated_remaining,
                ..
            } => {
                self.done = done;
                self.estimated_remaining = Some(estimated_remaining);
            }
            BatchEvent::Finished(summary) => {
                self.estimated_remaining = None;
                self.phase = BatchPhase::Finished(summary);
            }
        }
    }

    fn set_stage(&mut self, index: usize, state: StageState) {
        if let Some(stage) = self.stages.get_mut(index) {
            *stage = state;
            self.selected = index;
        }
    }
}
