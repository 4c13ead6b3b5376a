//! Planning a batch: every stage that includes the set, the change applied to its allowlist,
//! and the save steps of each, in the order they will run.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use time::OffsetDateTime;

use crate::core::access::{Outcome, evaluate_address};
use crate::core::chalice::{KeyLevel, PolicyFile, PolicyFileSetting};
use crate::core::cidr::parse_entry;
use crate::core::diff::diff_lines;
use crate::core::live::same_meaning;
use crate::core::policy::{StageAccess, to_pretty};
use crate::core::sets::{IpgateConfig, live_stage_key};
use crate::model::edit::{EditSession, SaveBlocker};
use crate::model::{Connection, Inventory, Load, OpenedStage, StageRow, open_stage, save_record};
use crate::save::{SaveRecord, Step};

use super::{BatchPlan, BatchStage, SetChange};

/// Choices a save would otherwise ask about, given up front for every stage of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOptions {
    /// Accept a `0.0.0.0/0` or `::/0` entry. Without it a stage that would get one is blocked.
    pub allow_unrestricted: bool,
    /// The caller's own address. A stage whose change would deny it gets
    /// [`BatchStage::lockout`]; the batch does not refuse it by itself.
    pub my_ip: Option<IpAddr>,
}

/// Plans `change` on every stage that includes its set in `sets` (the merged project and
/// personal configuration). See [`plan_batch_with`].
pub fn plan_batch(
    inventory: &Inventory,
    sets: &IpgateConfig,
    change: &SetChange,
    project_root: Option<&Path>,
) -> Result<BatchPlan, String> {
    plan_batch_with(
        inventory,
        sets,
        change,
        project_root,
        &BatchOptions::default(),
    )
}

/// Plans `change` on every stage that includes its set, in the order `sets` lists the stages.
///
/// Each stage is opened as the editor opens it, gets each added CIDR it lacks and loses each
/// removed CIDR (matched by the network they cover), and is planned with
/// [`crate::model::plan_stage_save`]. A stage with nothing to do, or one the change cannot
/// reach, stays in the plan without steps and with a note or a blocked reason.
///
/// Fails when the set is not defined in `sets` or a CIDR of the change is invalid.
pub fn plan_batch_with(
    inventory: &Inventory,
    sets: &IpgateConfig,
    change: &SetChange,
    project_root: Option<&Path>,
    options: &BatchOptions,
) -> Result<BatchPlan, String> {
    if sets.set(&change.set).is_none() {
        return Err(unknown_set_message(sets, &change.set));
    }
    let change = canonical_change(change)?;
    let keys = sets.stages_including(&change.set);
    let id = new_batch_id();

    let mut planner = Planner::new(inventory, &change, &id, &keys, options);
    let stages = keys
        .iter()
        .map(|key| planner.plan_stage(key, None))
        .collect();
    tracing::info!(
        batch_id = %id,
        change = %change,
        stages = keys.len(),
        "batch planned"
    );

    Ok(BatchPlan {
        id,
        change,
        stages,
        project_root: project_root.map(Path::to_path_buf).or_else(|| {
            inventory
                .project
                .as_ref()
                .map(|project| project.root.clone())
        }),
        region: inventory.region.clone(),
        resumed: false,
    })
}

/// Returns the error for a set that `sets` does not define, with the closest name when there
/// is one: "set 'ofice' is not defined; did you mean 'office'?".
pub(crate) fn unknown_set_message(sets: &IpgateConfig, name: &str) -> String {
    // The configuration computes the suggestion only inside its own errors, and removing from
    // a set that does not exist returns that error without changing anything.
    match sets.clone().remove_from_set(name, "") {
        Err(error) => error.to_string(),
        Ok(_) => format!("set '{name}' is not defined"),
    }
}

/// Returns the change with every CIDR in canonical text, or the error for the first invalid
/// one.
fn canonical_change(change: &SetChange) -> Result<SetChange, String> {
    let canonical = |cidrs: &[String]| -> Result<Vec<String>, String> {
        let mut result: Vec<String> = Vec::new();
        for cidr in cidrs {
            let entry = parse_entry(cidr)
                .map_err(|error| format!("set {}: invalid CIDR: {error}", change.set))?;
            let text = entry.canonical();
            if !result.contains(&text) {
                result.push(text);
            }
        }
        Ok(result)
    };
    Ok(SetChange {
        set: change.set.clone(),
        added: canonical(&change.added)?,
        removed: canonical(&change.removed)?,
    })
}

/// Returns a new batch id: the UTC time to the second and 16 random bits, such as
/// `20250304-121530-9f3a`, so ids sort by time and two batches started in the same second differ.
pub(crate) fn new_batch_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = OffsetDateTime::now_utc();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random =
        RandomState::new().hash_one((now.unix_timestamp_nanos(), count, std::process::id()));
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        random & 0xffff
    )
}

/// The facts a resumed batch kept about a stage from its first plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StageBaseline {
    pub deployment_before: Option<String>,
    /// The first plan redeployed the stage.
    pub planned_deploy: bool,
}

/// Plans stages one after another on a copy of the inventory that each planned stage updates,
/// so a later stage sharing a REST API, a policy file or config.json expects what the earlier
/// one writes.
pub(super) struct Planner<'a> {
    real: &'a Inventory,
    simulated: Inventory,
    change: &'a SetChange,
    batch_id: &'a str,
    /// Every stage key of the batch, to decide whether a shared statement may be edited for all
    /// the stages it covers.
    batch_keys: &'a [String],
    options: &'a BatchOptions,
    /// REST APIs whose live policy an earlier stage of this plan updates, with that stage's key.
    changed_apis: HashMap<String, String>,
    /// The stages planned so far, by (REST API id, API Gateway stage, Chalice stage).
    planned_rows: HashMap<(Option<String>, String, Option<String>), String>,
}

impl<'a> Planner<'a> {
    pub fn new(
        inventory: &'a Inventory,
        change: &'a SetChange,
        batch_id: &'a str,
        batch_keys: &'a [String],
        options: &'a BatchOptions,
    ) -> Planner<'a> {
        Planner {
            real: inventory,
            simulated: inventory.clone(),
            change,
            batch_id,
            batch_keys,
            options,
            changed_apis: HashMap::new(),
            planned_rows: HashMap::new(),
        }
    }

    /// Plans one stage. `baseline` is set when resuming: a stage the first plan redeployed is
    /// redeployed again only when it still serves the deployment it had then.
    pub fn plan_stage(&mut self, key: &str, baseline: Option<&StageBaseline>) -> BatchStage {
        let rows = self.simulated.rows();
        let Some(row) = find_row(key, &rows) else {
            return self.unmatched_stage(key);
        };
        let mut stage = empty_stage(key, row, self.change, self.batch_id);

        let identity = (
            row.rest_api_id.clone(),
            row.stage.clone(),
            row.chalice_stage.clone(),
        );
        if let Some(first) = self.planned_rows.get(&identity) {
            stage.note = Some(format!("the same stage as {first}, planned there"));
            return stage;
        }
        self.planned_rows.insert(identity, key.to_string());

        let mut opened = match open_stage(row, &self.simulated) {
            Ok(opened) => opened,
            Err(error) => {
                stage.blocked = Some(error);
                return stage;
            }
        };
        stage.title = opened.session.target.title();
        let before = self.original_document(row);

        let was_open = matches!(opened.session.original_access, StageAccess::Unrestricted);
        apply_change(&mut opened.session, self.change);
        opened.session.description_override = Some(format!(
            "set {}: {}",
            self.change.set,
            stage_change_summary(&opened.session)
        ));
        self.choose_shared_statement_edit(&mut opened, &mut stage);
        if let Err(reason) = self.resolve_blockers(&mut opened.session) {
            stage.blocked = Some(reason);
            return stage;
        }

        let proposed = match opened.session.proposed_document() {
            Ok(proposed) => proposed,
            Err(error) => {
                stage.blocked = Some(format!("cannot write the policy: {error}"));
                return stage;
            }
        };
        if proposed.is_none() && !opened.session.is_dirty() {
            // No policy anywhere and nothing to remove: the stage has the change already.
            stage.note = Some("already up to date: the stage has no policy".to_string());
            return stage;
        }
        let plan = match opened.plan(&self.simulated, false) {
            Ok(plan) => plan,
            Err(error) => {
                stage.blocked = Some(format!("cannot plan the save: {error}"));
                return stage;
            }
        };
        if !plan.steps.is_empty() && differs_beyond_change(&opened, proposed.as_ref(), self.change)
        {
            stage.warnings.push(format!(
                "The policy file and the live policy of stage {key} differ beyond this change; the batch writes the policy file's version, with the change, live."
            ));
        }

        stage.steps = plan.steps;
        stage.warnings.extend(plan.notes);
        stage.warnings.extend(opened.warnings.iter().cloned());
        if was_open && opened.session.is_dirty() && !opened.session.entries.is_empty() {
            stage.warnings.push(format!(
                "Stage {key} is open to everyone now; after this batch only its allowlist can call it."
            ));
        }
        self.add_redeployment(&opened, row, baseline, &mut stage);
        stage.note = stage_note(&opened, &stage, baseline.is_some());
        stage.lockout = self.lockout(row, &opened.session, proposed.as_ref());
        stage.entries_after = opened.session.entries.clone();
        stage.diff = diff_lines(
            &policy_text(before.as_ref()),
            &policy_text(proposed.as_ref()),
        );
        stage.record = self.record(&opened, row);

        self.update_simulation(&stage.steps, proposed.as_ref(), key);
        stage
    }

    /// Builds the stage of a key that matches no row: skipped when the stage does not exist,
    /// blocked when it may exist but cannot be reached.
    fn unmatched_stage(&self, key: &str) -> BatchStage {
        let mut stage = BatchStage {
            key: key.to_string(),
            title: key.to_string(),
            steps: Vec::new(),
            diff: Vec::new(),
            note: None,
            blocked: None,
            warnings: Vec::new(),
            lockout: None,
            rest_api_id: None,
            stage: String::new(),
            chalice_stage: None,
            deployment_before: None,
            record: empty_record(key),
            entries_after: Vec::new(),
        };

        let connected = matches!(self.real.connection, Connection::Online);
        let region = self.real.region.as_deref().unwrap_or("(no region)");
        match key.split_once('/') {
            Some((rest_api_id, stage_name)) if !connected => {
                stage.rest_api_id = Some(rest_api_id.to_string());
                stage.stage = stage_name.to_string();
                stage.blocked = Some(format!(
                    "not connected to AWS, so stage {stage_name} of REST API {rest_api_id} cannot be changed"
                ));
            }
            Some((rest_api_id, stage_name)) => {
                match self.real.apis.get(rest_api_id).map(|api| &api.stages) {
                    None => {
                        stage.note =
                            Some(format!("not found: no REST API {rest_api_id} in {region}"));
                    }
                    Some(Load::Ready(_)) => {
                        stage.note = Some(format!(
                            "not found: REST API {rest_api_id} has no stage {stage_name}"
                        ));
                    }
                    Some(Load::Loading | Load::Failed(_)) => {
                        stage.blocked = Some(format!(
                            "the stages of REST API {rest_api_id} could not be listed"
                        ));
                    }
                }
            }
            None if self.real.project.is_none() => {
                stage.note = Some(format!(
                    "not found: no Chalice project is loaded, so Chalice stage {key} is unknown"
                ));
            }
            None => {
                stage.note = Some(format!("not found: the project has no Chalice stage {key}"));
            }
        }
        stage
    }

    /// Returns the document the stage has at the start of the batch: the policy file of a
    /// Chalice stage when it has one, else the live policy.
    fn original_document(&self, row: &StageRow) -> Option<Value> {
        if let Some(chalice_stage) = &row.chalice_stage
            && let Some(Ok(Some(file))) = self.real.local_policies.get(chalice_stage)
        {
            return Some(file.document.clone());
        }
        let api = self.real.apis.get(row.rest_api_id.as_deref()?)?;
        api.policy.clone().ok().flatten()
    }

    /// Edits a statement shared with other stages of the REST API in place when all of those
    /// stages are in the batch too, so they keep one statement. Otherwise this stage gets a
    /// statement of its own and the others keep their list.
    fn choose_shared_statement_edit(&self, opened: &mut OpenedStage, stage: &mut BatchStage) {
        let shared = opened.session.shared_stages();
        if shared.is_empty() {
            return;
        }
        let rest_api_id = opened
            .session
            .target
            .rest_api_id
            .clone()
            .unwrap_or_default();
        let in_batch = |other: &String| {
            let live_key = live_stage_key(&rest_api_id, other);
            let chalice = self.simulated.chalice_stage_for(&rest_api_id, other);
            self.batch_keys.contains(&live_key)
                || chalice.is_some_and(|name| self.batch_keys.contains(&name))
        };

        opened.session.apply_to_shared = shared.iter().all(in_batch);
        if opened.session.apply_to_shared {
            stage.warnings.push(format!(
                "The allowlist's statement also covers stage(s) {}, which include set {} too: the statement is edited once for all of them.",
                shared.join(", "),
                self.change.set
            ));
        } else {
            stage.warnings.push(format!(
                "The allowlist's statement also covers stage(s) {}, and not all of them include set {}: stage {} gets a statement of its own.",
                shared.join(", "),
                self.change.set,
                opened.session.target.stage
            ));
        }
    }

    /// Accepts what the options allow and returns the reason the stage cannot be saved
    /// otherwise.
    fn resolve_blockers(&self, session: &mut EditSession) -> Result<(), String> {
        loop {
            let Some(blocker) = session.save_blocker() else {
                return Ok(());
            };
            let reason = match blocker {
                SaveBlocker::UnrestrictedNotConfirmed { ipv6 }
                    if self.options.allow_unrestricted =>
                {
                    session.confirm_unrestricted(ipv6);
                    continue;
                }
                SaveBlocker::UnrestrictedNotConfirmed { ipv6 } => {
                    let entry = if ipv6 { "::/0" } else { "0.0.0.0/0" };
                    format!(
                        "the allowlist would contain {entry}, which removes the restriction; allow unrestricted entries to apply it"
                    )
                }
                SaveBlocker::InvalidEntry { index, error } => format!(
                    "entry {} of the current allowlist is invalid ({error}); fix it in the policy first",
                    index + 1
                ),
                SaveBlocker::EmptyChoiceNeeded => format!(
                    "removing {} leaves the allowlist empty; edit the stage on its own to open or close it",
                    self.change.removed.join(", ")
                ),
                SaveBlocker::Policy(error) => format!("cannot write the policy: {error}"),
                SaveBlocker::TooLong { length, max } => format!(
                    "the policy would be {length} characters; API Gateway accepts at most {max}. Remove entries or merge networks"
                ),
            };
            return Err(reason);
        }
    }

    /// Adds a CreateDeployment to a live stage whose plan has none although it must serve a new
    /// policy: an earlier stage of the batch updates the REST API's policy, or, when resuming,
    /// the policy was updated but the stage was not redeployed since the batch started.
    fn add_redeployment(
        &self,
        opened: &OpenedStage,
        row: &StageRow,
        baseline: Option<&StageBaseline>,
        stage: &mut BatchStage,
    ) {
        let has_deployment = stage
            .steps
            .iter()
            .any(|step| matches!(step, Step::CreateDeployment { .. }));
        let Some(rest_api_id) = row.rest_api_id.clone() else {
            return;
        };
        if has_deployment || !opened.online {
            return;
        }

        let changed_by = self.changed_apis.get(&rest_api_id);
        let not_redeployed = baseline.is_some_and(|baseline| {
            baseline.planned_deploy && baseline.deployment_before == row.deployment_id
        });
        if changed_by.is_none() && !not_redeployed {
            return;
        }

        stage.steps.push(Step::CreateDeployment {
            rest_api_id: rest_api_id.clone(),
            stage: row.stage.clone(),
            description: opened.session.deployment_description(),
        });
        let reason = match changed_by {
            Some(key) => format!(
                "the policy of REST API {rest_api_id} is updated with stage {key} of this batch; this stage is redeployed to serve it"
            ),
            None => "the live policy already has the change, but the stage was not redeployed since the batch started".to_string(),
        };
        stage.warnings.push(reason);
    }

    /// Returns the reason the `my_ip` address would be denied after this stage's steps, when it
    /// is allowed now. "Now" is what the stage serves at the start of the batch, because the
    /// session of a stage planned after another on the same REST API already has that change.
    fn lockout(
        &self,
        row: &StageRow,
        session: &EditSession,
        proposed: Option<&Value>,
    ) -> Option<String> {
        let address = self.options.my_ip?;
        let api = &session.target.api;
        let now = self.serving_document(row);
        let before = evaluate_address(now.as_ref(), &row.stage, address, false, api);
        if before.outcome != Outcome::Allowed {
            return None;
        }
        let after = evaluate_address(proposed, &row.stage, address, false, api);
        if after.outcome == Outcome::Allowed {
            return None;
        }
        Some(format!(
            "{address} could no longer call the stage: {}",
            after.reason
        ))
    }

    /// Returns the document the stage serves at the start of the batch: the live policy of its
    /// REST API, else the policy file of a stage that is not deployed.
    fn serving_document(&self, row: &StageRow) -> Option<Value> {
        let live = row
            .rest_api_id
            .as_ref()
            .and_then(|id| self.real.apis.get(id))
            .map(|api| &api.policy);
        match live {
            Some(Ok(policy)) => policy.clone(),
            Some(Err(_)) | None => self.original_document(row),
        }
    }

    fn record(&self, opened: &OpenedStage, row: &StageRow) -> SaveRecord {
        let reason = format!("before batch {}", self.batch_id);
        let mut record = save_record(&opened.session, row.deployment_id.clone(), &reason);
        record.change = format!(
            "set {}: {}",
            self.change.set,
            stage_change_summary(&opened.session)
        );
        record
    }

    /// Records in the simulated inventory what `steps` leave behind, for the stages after this
    /// one.
    fn update_simulation(&mut self, steps: &[Step], proposed: Option<&Value>, key: &str) {
        for step in steps {
            if let Step::SetPolicyFileKey {
                chalice_stage,
                value,
                new_text,
                config_path,
                ..
            } = step
                && let Some(project) = self.simulated.project.as_mut()
            {
                let chalice_dir = config_path.parent().unwrap_or(&project.root).to_path_buf();
                project.config_text = new_text.clone();
                if let Some(stage) = project
                    .stages
                    .iter_mut()
                    .find(|stage| &stage.name == chalice_stage)
                {
                    stage.policy_file = Some(PolicyFileSetting {
                        value: value.clone(),
                        path: chalice_dir.join(value),
                        level: KeyLevel::Stage,
                    });
                }
            }
        }

        for step in steps {
            match step {
                Step::WritePolicyFile { path, contents, .. } => {
                    self.simulate_file(path, contents, proposed);
                }
                Step::UpdatePolicy {
                    rest_api_id,
                    policy,
                    ..
                } => {
                    if let Some(api) = self.simulated.apis.get_mut(rest_api_id) {
                        api.policy = Ok(proposed.cloned());
                        api.summary.policy = Some(policy.clone()).filter(|text| !text.is_empty());
                    }
                    self.changed_apis
                        .insert(rest_api_id.clone(), key.to_string());
                }
                Step::SetPolicyFileKey { .. } | Step::CreateDeployment { .. } => {}
            }
        }
    }

    /// Gives every Chalice stage whose policy file is `path` the text `contents`.
    fn simulate_file(&mut self, path: &Path, contents: &str, proposed: Option<&Value>) {
        let Some(project) = &self.simulated.project else {
            return;
        };
        let Some(document) = proposed else {
            return;
        };
        let readers: Vec<String> = project
            .stages
            .iter()
            .filter(|stage| {
                stage
                    .policy_file
                    .as_ref()
                    .is_some_and(|setting| setting.path == path)
            })
            .map(|stage| stage.name.clone())
            .collect();
        for name in readers {
            let file = PolicyFile {
                path: path.to_path_buf(),
                text: contents.to_string(),
                document: document.clone(),
            };
            self.simulated.local_policies.insert(name, Ok(Some(file)));
        }
    }
}

/// True for a Chalice stage whose live policy, with the change applied, would still differ from
/// the policy file with the change applied: the save then also pushes the file's other
/// differences live.
fn differs_beyond_change(
    opened: &OpenedStage,
    proposed: Option<&Value>,
    change: &SetChange,
) -> bool {
    if !opened.has_drift() {
        return false;
    }
    let mut on_live = opened.session.clone();
    if on_live
        .reset_to(opened.session.live.clone(), String::new())
        .is_err()
    {
        return true;
    }
    apply_change(&mut on_live, change);
    match on_live.proposed_document() {
        Ok(live_after) => !same_meaning(live_after.as_ref(), proposed, &opened.session.target.api),
        Err(_) => true,
    }
}

/// Finds the row of a stage key: a Chalice stage name, or `REST_API_ID/STAGE`.
fn find_row<'r>(key: &str, rows: &'r [StageRow]) -> Option<&'r StageRow> {
    match key.split_once('/') {
        Some((rest_api_id, stage)) => rows
            .iter()
            .find(|row| row.stage == stage && row.rest_api_id.as_deref() == Some(rest_api_id)),
        None => rows
            .iter()
            .find(|row| row.chalice_stage.as_deref() == Some(key) && !row.stage.is_empty()),
    }
}

/// Removes every entry that covers a removed network, then adds every added network the
/// allowlist does not cover with an entry of its own.
fn apply_change(session: &mut EditSession, change: &SetChange) {
    let removed: HashSet<String> = change.removed.iter().map(|cidr| network_of(cidr)).collect();
    let doomed: Vec<usize> = session
        .entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| removed.contains(&network_of(entry)))
        .map(|(index, _)| index)
        .collect();
    for index in doomed.into_iter().rev() {
        session.delete(index);
    }

    for cidr in &change.added {
        let network = network_of(cidr);
        if session
            .entries
            .iter()
            .any(|entry| network_of(entry) == network)
        {
            continue;
        }
        // The change was checked to parse, so adding cannot fail. An error would leave the entry
        // out, and the plan would show the list without it.
        if let Err(error) = session.add(cidr) {
            tracing::warn!(cidr, %error, "a CIDR of the batch was rejected");
        }
    }
}

/// Returns the network an entry covers in canonical text, or the trimmed text of an invalid
/// entry.
fn network_of(entry: &str) -> String {
    match parse_entry(entry) {
        Ok(parsed) => parsed.covered_network().to_string(),
        Err(_) => entry.trim().to_string(),
    }
}

/// Returns the stage's own change in short, such as `+192.0.2.44/32 -203.0.113.0/24`.
fn stage_change_summary(session: &EditSession) -> String {
    let (added, removed) = session.changes();
    let mut parts: Vec<String> = added.iter().map(|cidr| format!("+{cidr}")).collect();
    parts.extend(removed.iter().map(|cidr| format!("-{cidr}")));
    if parts.is_empty() {
        "no change".to_string()
    } else {
        parts.join(" ")
    }
}

/// Returns the note on a stage with no steps or only local ones: nothing to do, or local files
/// only.
fn stage_note(opened: &OpenedStage, stage: &BatchStage, resuming: bool) -> Option<String> {
    let session = &opened.session;
    if stage.steps.is_empty() {
        let places = match (&session.target.chalice_stage, opened.online) {
            (Some(_), true) => "the policy file and the live policy have",
            (Some(_), false) => "the policy file has",
            (None, _) => "the live policy has",
        };
        let note = if resuming {
            format!("already applied: {places} the change")
        } else if session.is_dirty() {
            format!("already up to date: {places} this allowlist")
        } else {
            "already up to date".to_string()
        };
        return Some(note);
    }
    if stage.steps.iter().any(Step::is_remote) {
        return None;
    }
    if session.target.rest_api_id.is_none() {
        return Some("not deployed: local file only".to_string());
    }
    if !opened.connected {
        return Some("not connected to AWS: local file only".to_string());
    }
    Some("not deployed: local file only".to_string())
}

fn policy_text(document: Option<&Value>) -> String {
    match document {
        Some(document) => {
            let mut text = to_pretty(document);
            text.push('\n');
            text
        }
        None => String::new(),
    }
}

fn empty_stage(key: &str, row: &StageRow, change: &SetChange, batch_id: &str) -> BatchStage {
    let mut record = empty_record(key);
    record.rest_api_id = row.rest_api_id.clone();
    record.stage = row.stage.clone();
    record.chalice_stage = row.chalice_stage.clone();
    record.deployment_id = row.deployment_id.clone();
    record.change = change.to_string();
    record.reason = format!("before batch {batch_id}");
    BatchStage {
        key: key.to_string(),
        title: key.to_string(),
        steps: Vec::new(),
        diff: Vec::new(),
        note: None,
        blocked: None,
        warnings: Vec::new(),
        lockout: None,
        rest_api_id: row.rest_api_id.clone(),
        stage: row.stage.clone(),
        chalice_stage: row.chalice_stage.clone(),
        deployment_before: row.deployment_id.clone(),
        record,
        entries_after: Vec::new(),
    }
}

fn empty_record(key: &str) -> SaveRecord {
    SaveRecord {
        region: None,
        rest_api_id: None,
        stage: key.to_string(),
        chalice_stage: None,
        deployment_id: None,
        change: String::new(),
        reason: String::new(),
        local_file: None,
        local_text: None,
    }
}
