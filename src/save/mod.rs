//! The save pipeline: the exact steps of a save, run in order, retryable from a failed step.
//!
//! Local files come first because the policy file is what the next `chalice deploy` applies.
//! The live policy comes next, and the deployment last, because a policy change takes effect
//! only when the stage is redeployed.

mod execute;
mod plan;
mod record;
mod run;

pub use execute::execute_steps;
pub use plan::{PlanInput, SavePlan, Step, plan_save};
pub use record::{HistoryRecorder, SaveRecord};
pub use run::{Conflict, StepError, StepStatus, outcome_summary, run_step, run_step_checked};
