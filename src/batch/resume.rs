//! Resuming an interrupted batch: plan again, from the current files and live policies, the
//! stages its journal does not record as done.

use std::path::Path;

use crate::model::Inventory;

use super::BatchPlan;
use super::journal::UnfinishedBatch;
use super::plan::{BatchOptions, Planner, StageBaseline};

/// Plans the stages of `batch` that are not done. See [`resume_plan_with`].
pub fn resume_plan(
    batch: &UnfinishedBatch,
    inventory: &Inventory,
    project_root: Option<&Path>,
) -> Result<BatchPlan, String> {
    resume_plan_with(batch, inventory, project_root, &BatchOptions::default())
}

/// Plans the stages of `batch` that are not done, with the batch's own change and id, so the
/// run appends to the same journal.
///
/// Each stage is planned from `inventory`, which the caller loads anew. A step whose result is
/// already in place, because the policy file or the live policy means what the plan would
/// write, is left out. A stage whose change is fully in place gets no steps and counts as done
/// when the run records it. A stage the first plan redeployed is redeployed again only while it
/// still serves the deployment it had when the batch was planned, so a deployment that ran
/// before an interruption is not repeated.
///
/// Fails when the batch was planned in another region than `inventory`'s, because its
/// `REST_API_ID/STAGE` keys would name other REST APIs.
pub fn resume_plan_with(
    batch: &UnfinishedBatch,
    inventory: &Inventory,
    project_root: Option<&Path>,
    options: &BatchOptions,
) -> Result<BatchPlan, String> {
    if batch.region.is_some() && inventory.region.is_some() && batch.region != inventory.region {
        return Err(format!(
            "batch {} was planned in region {}, but this session uses {}; resume it with --region {}",
            batch.id,
            batch.region.as_deref().unwrap_or("?"),
            inventory.region.as_deref().unwrap_or("?"),
            batch.region.as_deref().unwrap_or("?"),
        ));
    }

    let all_keys: Vec<String> = batch.stages.iter().map(|stage| stage.key.clone()).collect();
    let mut planner = Planner::new(inventory, &batch.change, &batch.id, &all_keys, options);
    let mut stages = Vec::new();
    for stage in batch.stages.iter().filter(|stage| !stage.state.is_done()) {
        let baseline = StageBaseline {
            deployment_before: stage.deployment_before.clone(),
            planned_deploy: stage.planned_deploy,
        };
        stages.push(planner.plan_stage(&stage.key, Some(&baseline)));
    }
    tracing::info!(
        batch_id = %batch.id,
        remaining = stages.len(),
        "batch resume planned"
    );

    Ok(BatchPlan {
        id: batch.id.clone(),
        change: batch.change.clone(),
        stages,
        project_root: project_root
            .map(Path::to_path_buf)
            .or_else(|| batch.project_root.clone()),
        region: batch.region.clone().or_else(|| inventory.region.clone()),
        resumed: true,
    })
}
