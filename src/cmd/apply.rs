//! `ipgate apply STAGE`: push a Chalice stage's policy file live and redeploy, the editor's
//! drift fix.

use crate::cli::{ApplyArgs, Args};
use crate::model::{StageRow, SyncStatus, open_stage};

use super::exit::CommandError;
use super::save::{SaveRequest, confirm_and_save};
use super::stage_name::resolve;
use super::{Context, refuse_read_only};

/// The deployment description's text, as the editor words the same fix.
const PUSH_FILE: &str = "push the policy file live";

pub async fn run(args: &Args, apply: &ApplyArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "apply")?;
    let context = Context::load(args).await?;
    context.require_online("apply")?;
    let rows = context.rows();
    let row = resolve(&apply.stage, &rows)?;
    check_live_chalice_stage(row)?;

    let mut opened = open_stage(row, &context.inventory).map_err(CommandError::failure)?;
    if opened.has_drift() {
        let document = opened
            .session
            .local
            .as_ref()
            .map(|file| file.document.clone());
        opened
            .session
            .reset_to(document, PUSH_FILE.to_string())
            .map_err(|error| CommandError::failure(format!("cannot {PUSH_FILE}: {error}")))?;
    }
    // Without drift the plan is empty, and the save reports that there is nothing to do.
    let request = SaveRequest {
        context: &context,
        row,
        options: &apply.save,
        own_file: false,
        output: apply.output.output,
    };
    confirm_and_save(opened, request).await
}

/// Fails unless `row` is a Chalice stage whose REST API stage is live.
fn check_live_chalice_stage(row: &StageRow) -> Result<(), CommandError> {
    let Some(chalice_stage) = &row.chalice_stage else {
        return Err(CommandError::usage(format!(
            "apply pushes a Chalice stage's policy file live, and stage {} of REST API {} belongs to no Chalice stage of the project.",
            row.stage,
            row.rest_api_id.as_deref().unwrap_or("?")
        )));
    };
    match &row.status {
        SyncStatus::NotDeployed | SyncStatus::LocalOnly => Err(CommandError::failure(format!(
            "Chalice stage {chalice_stage} has no live REST API stage to apply to. `chalice deploy --stage {chalice_stage}` creates it with the policy file."
        ))),
        SyncStatus::Error(error) => Err(CommandError::failure(format!(
            "stage {chalice_stage}: {error}"
        ))),
        _ => Ok(()),
    }
}
