//! Opening one stage for editing, planning its save and describing it for history, shared by
//! the editor screen and the command line.

use std::path::PathBuf;

use crate::core::live::same_meaning;
use crate::save::{PlanInput, SavePlan, SaveRecord, Step, plan_save};

use super::edit::{EditSession, EditTarget};
use super::{Connection, Inventory, StageRow};

/// An edit session on one stage and what the caller needs beside it to save.
#[derive(Debug, Clone)]
pub struct OpenedStage {
    pub session: EditSession,
    /// Online and the REST API is live, so a save updates the live policy.
    pub online: bool,
    /// Connected to AWS, whether or not this stage's REST API exists.
    pub connected: bool,
    /// Chalice project warnings about this stage, such as a policy file others share.
    pub warnings: Vec<String>,
    /// The stage's deployment when it was opened, kept with the history of a save.
    pub deployment_id: Option<String>,
    /// The Chalice project directory, so paths can be shown relative to it.
    pub project_root: Option<PathBuf>,
}

impl OpenedStage {
    /// Plans the save of the session's current edit. See [`plan_stage_save`].
    pub fn plan(&self, inventory: &Inventory, own_file: bool) -> Result<SavePlan, String> {
        plan_stage_save(
            &self.session,
            inventory,
            self.online,
            self.connected,
            own_file,
        )
    }

    /// Describes the save for history and the audit log. See [`save_record`].
    pub fn save_record(&self, reason: &str) -> SaveRecord {
        save_record(&self.session, self.deployment_id.clone(), reason)
    }

    /// True for a Chalice stage whose policy file and live policy differ in meaning.
    pub fn has_drift(&self) -> bool {
        has_drift(&self.session, self.online)
    }
}

/// Opens an edit session on a stage row. The local policy file is the base of the edit when
/// the row is a Chalice stage with a file, else the live policy.
///
/// Fails with a message for the user when the REST API's stages are still loading, or when the
/// live policy or the policy file cannot be read.
pub fn open_stage(row: &StageRow, inventory: &Inventory) -> Result<OpenedStage, String> {
    if row.stage.is_empty() {
        return Err(
            "The stages of this REST API are still loading; try again in a moment.".to_string(),
        );
    }

    let live_api = row
        .rest_api_id
        .as_ref()
        .and_then(|id| inventory.apis.get(id));
    let connected = matches!(inventory.connection, Connection::Online);
    let online = connected && live_api.is_some();
    let live = match live_api.map(|api| &api.policy) {
        Some(Ok(policy)) => policy.clone(),
        Some(Err(error)) => return Err(format!("The live policy cannot be read: {error}")),
        None => None,
    };

    let (local, local_path, warnings) = match (&inventory.project, &row.chalice_stage) {
        (Some(project), Some(chalice_stage)) => {
            let local = match inventory.local_policies.get(chalice_stage) {
                Some(Ok(file)) => file.clone(),
                Some(Err(error)) => return Err(error.clone()),
                None => None,
            };
            let path = project
                .stage(chalice_stage)
                .and_then(|stage| stage.policy_file.as_ref())
                .map(|setting| setting.path.clone());
            (local, path, project.warnings(chalice_stage))
        }
        _ => (None, None, Vec::new()),
    };

    let target = EditTarget {
        rest_api_id: row.rest_api_id.clone(),
        api_name: row.api_name.clone(),
        stage: row.stage.clone(),
        chalice_stage: row.chalice_stage.clone(),
        api: inventory.api_context(row.rest_api_id.as_deref()),
    };
    let mut session = EditSession::new(target, local, local_path, live, online)
        .map_err(|error| format!("The policy of stage {} cannot be read: {error}", row.stage))?;
    session.other_stages = match live_api.and_then(|api| api.stages.ready()) {
        Some(stages) => stages
            .iter()
            .map(|stage| stage.name.clone())
            .filter(|name| name != &row.stage)
            .collect(),
        None => Vec::new(),
    };

    Ok(OpenedStage {
        session,
        online,
        connected,
        warnings,
        deployment_id: row.deployment_id.clone(),
        project_root: inventory
            .project
            .as_ref()
            .map(|project| project.root.clone()),
    })
}

/// Plans the save of `session`'s proposed document. Live steps are planned only when `online`
/// (the REST API is live), and `connected` is whether AWS is reachable at all. `own_file` gives
/// a Chalice stage its own policy file instead of one it shares.
pub fn plan_stage_save(
    session: &EditSession,
    inventory: &Inventory,
    online: bool,
    connected: bool,
    own_file: bool,
) -> Result<SavePlan, String> {
    let proposed = session
        .proposed_document()
        .map_err(|error| error.to_string())?;
    let target = &session.target;
    let input = PlanInput {
        project: inventory.project.as_ref(),
        chalice_stage: target.chalice_stage.as_deref(),
        rest_api_id: if online {
            target.rest_api_id.as_deref()
        } else {
            None
        },
        stage: &target.stage,
        api: &target.api,
        proposed: proposed.as_ref(),
        local_text: session.local.as_ref().map(|file| file.text.as_str()),
        local: session.local.as_ref().map(|file| &file.document),
        live: session.live.as_ref(),
        online: connected,
        own_file,
        description: session.deployment_description(),
    };
    plan_save(&input)
}

/// Adds deployments of the other stages whose access the edit changes through a shared
/// statement, because a stage serves the policy of its last deployment until it is redeployed.
/// A batch plans those stages itself, so only single-stage saves call this.
pub fn deploy_shared_stages(session: &EditSession, plan: &mut SavePlan) {
    if !session.apply_to_shared {
        return;
    }
    let Some(Step::CreateDeployment {
        rest_api_id,
        description,
        ..
    }) = plan
        .steps
        .iter()
        .find(|step| matches!(step, Step::CreateDeployment { .. }))
        .cloned()
    else {
        return;
    };
    for stage in session.shared_stages() {
        plan.steps.push(Step::CreateDeployment {
            rest_api_id: rest_api_id.clone(),
            stage,
            description: description.clone(),
        });
    }
}

/// Builds the facts history and the audit log keep about a save of `session`. `reason` is why
/// the previous version is kept: "before save" or "before rollback".
pub fn save_record(
    session: &EditSession,
    deployment_id: Option<String>,
    reason: &str,
) -> SaveRecord {
    let (added, removed) = session.changes();
    let mut change: Vec<String> = added.iter().map(|entry| format!("+{entry}")).collect();
    change.extend(removed.iter().map(|entry| format!("-{entry}")));
    SaveRecord {
        region: session.target.api.region.clone(),
        rest_api_id: session.target.rest_api_id.clone(),
        stage: session.target.stage.clone(),
        chalice_stage: session.target.chalice_stage.clone(),
        deployment_id,
        change: if change.is_empty() {
            session.deployment_description()
        } else {
            change.join(" ")
        },
        reason: reason.to_string(),
        local_file: session.local.as_ref().map(|file| file.path.clone()),
        local_text: session.local.as_ref().map(|file| file.text.clone()),
    }
}

/// True for a Chalice stage whose policy file and live policy differ in meaning. A stage that
/// is not `online`, or whose live policy is unknown, has no drift to report.
pub fn has_drift(session: &EditSession, online: bool) -> bool {
    session.target.chalice_stage.is_some()
        && online
        && session.live_known
        && !same_meaning(
            session.local.as_ref().map(|file| &file.document),
            session.live.as_ref(),
            &session.target.api,
        )
}
