//! Messages into the app and effects out of it; each carries owned data.

use crossterm::event::Event;

use crate::aws::{AwsError, RestApiSummary, StageSummary};
use crate::save::{HistoryRecorder, Step, StepError};

#[derive(Debug)]
pub enum Message {
    Input(Event),
    /// Animation tick for the spinner.
    Tick,
    RestApisListed(Result<Vec<RestApiSummary>, AwsError>),
    StagesListed {
        rest_api_id: String,
        result: Result<Vec<StageSummary>, AwsError>,
    },
    RestApiRefreshed {
        rest_api_id: String,
        result: Result<RestApiSummary, AwsError>,
    },
    MyIpFound(Result<std::net::IpAddr, String>),
    /// Progress of a running set batch.
    Batch(crate::batch::BatchEvent),
    /// A new gateway for the profile and region the user switched to.
    Reconnected(crate::aws::Gateway),
    /// An AWS call waits before its next attempt (throttling, a passing fault, or pacing).
    AwsWaiting(crate::aws::AwsWait),
    SaveStepFinished {
        run_id: u64,
        index: usize,
        result: Result<Option<String>, StepError>,
    },
}

/// Work the app requests from the runtime. Few effects exist at a time, so the size of the
/// save variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    ListRestApis,
    /// Queue stage listings in this order.
    ListStages(Vec<String>),
    /// Move a queued stage listing to the front.
    PrioritizeStages(String),
    RefreshRestApi(String),
    FindMyIp(crate::myip::MyIpSource),
    /// Run a set batch, journaled in the history store's directory.
    RunBatch {
        batch: super::batch::PlannedBatch,
        history: crate::history::HistoryStore,
    },
    /// Ask the running batch to stop after its current stage.
    StopBatch,
    /// Connect again with another profile or region.
    Reconnect(crate::aws::AwsOptions),
    /// Run `steps[from..]` in order, stopping at the first failure, recording history before a
    /// live write and an audit line at the end.
    RunSave {
        run_id: u64,
        steps: Vec<Step>,
        from: usize,
        history: Option<HistoryRecorder>,
    },
    Quit,
}
