//! Loading the whole inventory at once, for callers without an event loop (the command line).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::{AwsError, Gateway, StageSummary};
use crate::core::chalice::Project;
use crate::history::HistoryStore;

use super::{Connection, Inventory, LiveApi, Load};

/// How many `GetStages` requests run at once, the same as the terminal UI's stage workers.
pub const STAGE_LISTING_CONCURRENCY: usize = 4;

/// Loads the project's policy files, every REST API of the account and region, and the stages
/// of each REST API, with at most [`STAGE_LISTING_CONCURRENCY`] stage listings at a time.
///
/// Without a `gateway` the inventory is local-only. A failed `GetRestApis` is returned as the
/// error; a failed `GetStages` marks only that REST API's stages as failed, as on the home
/// screen.
pub async fn load_inventory(
    project: Option<Project>,
    gateway: Option<&Gateway>,
) -> Result<Inventory, AwsError> {
    let region = gateway.and_then(|gateway| gateway.info.region.clone());
    let mut inventory = Inventory::new(project, region);
    inventory.history = open_history();

    let Some(gateway) = gateway else {
        inventory.connection = Connection::LocalOnly {
            reason: "not connected to AWS".to_string(),
        };
        return Ok(inventory);
    };

    let summaries = gateway.list_rest_apis().await?;
    inventory.connection = Connection::Online;
    inventory.apis = summaries
        .into_iter()
        .map(|summary| (summary.id.clone(), LiveApi::new(summary)))
        .collect();

    let rest_api_ids: Vec<String> = inventory.apis.keys().cloned().collect();
    for (rest_api_id, stages) in list_all_stages(gateway, rest_api_ids).await {
        if let Some(api) = inventory.apis.get_mut(&rest_api_id) {
            api.stages = stages;
        }
    }
    Ok(inventory)
}

fn open_history() -> Option<HistoryStore> {
    match HistoryStore::open_default() {
        Ok(store) => Some(store),
        Err(error) => {
            tracing::warn!(
                %error,
                "no history store: live saves are refused until IPGATE_DATA_DIR is set"
            );
            None
        }
    }
}

/// Lists the stages of every REST API, sorted by name; a failure stays with its REST API.
async fn list_all_stages(
    gateway: &Gateway,
    rest_api_ids: Vec<String>,
) -> Vec<(String, Load<Vec<StageSummary>>)> {
    let permits = Arc::new(Semaphore::new(STAGE_LISTING_CONCURRENCY));
    let mut tasks = JoinSet::new();
    let mut task_apis = HashMap::new();
    for rest_api_id in rest_api_ids {
        let gateway = gateway.clone();
        let permits = permits.clone();
        let id = rest_api_id.clone();
        let handle = tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits for a free permit.
            let _permit = permits.acquire_owned().await;
            gateway.get_stages(&id).await
        });
        task_apis.insert(handle.id(), rest_api_id);
    }

    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        let task = match &joined {
            Ok((task, _)) => *task,
            Err(error) => error.id(),
        };
        let Some(rest_api_id) = task_apis.remove(&task) else {
            continue;
        };
        let stages = match joined {
            Ok((_, Ok(mut stages))) => {
                stages.sort_by(|a, b| a.name.cmp(&b.name));
                Load::Ready(stages)
            }
            Ok((_, Err(error))) => {
                tracing::warn!(rest_api_id, error = %error, "listing stages failed");
                Load::Failed(error.summary())
            }
            Err(error) => {
                tracing::error!(rest_api_id, %error, "a stage listing task stopped");
                Load::Failed(format!("the listing stopped: {error}"))
            }
        };
        results.push((rest_api_id, stages));
    }
    results
}
