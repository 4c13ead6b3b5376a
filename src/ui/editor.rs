//! The stage editor: entries, prompts, preview and the save flow of one stage.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent};

use crate::core::chalice::PolicyFile;
use crate::core::cidr::parse_entry;
use crate::core::policy::{parse_document, policy_length};
use crate::history::PolicyVersion;
use crate::model::edit::{AddOutcome, AddressDecision, EditSession, EmptyChoice, SaveBlocker};
use crate::model::{
    Inventory, StageRow, deploy_shared_stages, has_drift, open_stage, plan_stage_save, save_record,
};
use crate::save::{Conflict, SavePlan, SaveRecord, Step, StepError, StepStatus, outcome_summary};

/// The side that wins when the policy file and the live policy differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftSide {
    TakeLive,
    PushFile,
}

/// The app state the editor reads while it handles a key.
pub struct EditorContext<'a> {
    pub inventory: &'a Inventory,
    pub read_only: bool,
    /// The user's public address, when known, for the lockout guard.
    pub my_ip: Option<std::net::IpAddr>,
}

/// The app's next action after the editor handled a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorOutcome {
    None,
    Status {
        text: String,
        is_error: bool,
    },
    Help,
    Close,
    RunSave {
        steps: Vec<Step>,
        from: usize,
    },
    /// Store `label` for the network `cidr` covers in the label file.
    SaveLabel {
        cidr: String,
        label: String,
    },
}

impl EditorOutcome {
    fn info(text: impl Into<String>) -> EditorOutcome {
        EditorOutcome::Status {
            text: text.into(),
            is_error: false,
        }
    }

    fn error(text: impl Into<String>) -> EditorOutcome {
        EditorOutcome::Status {
            text: text.into(),
            is_error: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    Add,
    Edit(usize),
    /// The label of the entry at this index.
    Label(usize),
}

/// The line the user types an entry into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputState {
    pub mode: InputMode,
    pub text: String,
}

/// A question that must be answered before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// The last entry was removed: `o` open to everyone, `c` closed to everyone.
    EmptyChoice,
    ConfirmUnrestricted {
        ipv6: bool,
    },
    DiscardChanges,
    /// Merge overlapping and adjacent networks: `y` replaces the list with `after`.
    Aggregate {
        after: Vec<String>,
        merged: Vec<(Vec<String>, String)>,
        length_before: Option<usize>,
        length_after: Option<usize>,
    },
    /// The save would take away the user's own access: type the stage name to go on.
    ConfirmLockout {
        address: IpAddr,
        reason: String,
        typed: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewTab {
    Policy,
    DiffLive,
    DiffLocal,
}

impl PreviewTab {
    pub const ALL: [PreviewTab; 3] = [
        PreviewTab::Policy,
        PreviewTab::DiffLive,
        PreviewTab::DiffLocal,
    ];

    pub fn title(self) -> &'static str {
        match self {
            PreviewTab::Policy => "1 Policy",
            PreviewTab::DiffLive => "2 Diff vs live",
            PreviewTab::DiffLocal => "3 Diff vs local file",
        }
    }

    fn next(self) -> PreviewTab {
        match self {
            PreviewTab::Policy => PreviewTab::DiffLive,
            PreviewTab::DiffLive => PreviewTab::DiffLocal,
            PreviewTab::DiffLocal => PreviewTab::Policy,
        }
    }
}

/// The save confirmation: the plan and the choices that change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmState {
    pub plan: SavePlan,
    pub own_file: bool,
    /// Other Chalice stages that share this stage's policy file.
    pub shared_with: Vec<String>,
    pub warnings: Vec<String>,
}

/// A save being run or finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveRun {
    pub plan: SavePlan,
    pub statuses: Vec<StepStatus>,
    pub run_id: u64,
    /// The change made under ipgate, when a step stopped because of it.
    pub conflict: Option<Conflict>,
}

impl SaveRun {
    pub fn is_running(&self) -> bool {
        self.statuses.contains(&StepStatus::Running)
    }

    pub fn failed_step(&self) -> Option<usize> {
        self.statuses
            .iter()
            .position(|status| matches!(status, StepStatus::Failed(_)))
    }

    pub fn is_complete(&self) -> bool {
        self.statuses
            .iter()
            .all(|status| matches!(status, StepStatus::Done(_)))
    }

    pub fn summary(&self) -> String {
        outcome_summary(&self.plan.steps, &self.statuses)
    }
}

/// The files and REST API a finished run changed, so the app can reload them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRun {
    pub failed: bool,
    /// The run stopped because something changed under ipgate.
    pub conflict: bool,
    pub summary: String,
    pub touched_files: bool,
    pub touched_rest_api: Option<String>,
    pub error: Option<String>,
}

impl FinishedRun {
    pub fn status_line(&self) -> (String, bool) {
        match &self.error {
            Some(error) if self.conflict => (
                format!("Save stopped: {error}. Press a to apply your edit on top, Esc to cancel."),
                true,
            ),
            Some(error) => (
                format!("Save stopped: {}. {error}. Press r to retry.", self.summary),
                true,
            ),
            None => (format!("Saved: {}.", self.summary), false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Preview {
        tab: PreviewTab,
        scroll: u16,
    },
    Confirm(ConfirmState),
    Progress(SaveRun),
    /// "Test an address": decisions for one address on every stage of the REST API.
    TestAddress {
        input: String,
        results: Option<Result<Vec<AddressDecision>, String>>,
    },
    /// Earlier live policies of this stage, newest first.
    History {
        versions: Vec<PolicyVersion>,
        selected: usize,
    },
}

/// The editor screen's state.
#[derive(Debug, Clone)]
pub struct EditorState {
    pub session: EditSession,
    pub selected: usize,
    pub input: Option<InputState>,
    pub prompt: Option<Prompt>,
    pub overlay: Overlay,
    /// Every change of this session has been saved.
    pub saved: bool,
    /// Online and the REST API is live, so save updates the live policy.
    pub online: bool,
    /// Connected to AWS, whether or not this stage's REST API exists.
    pub connected: bool,
    pub warnings: Vec<String>,
    /// The Chalice project directory, so paths show relative to it.
    pub project_root: Option<PathBuf>,
    /// The stage's deployment when the editor opened, kept with the history of a save.
    pub deployment_id: Option<String>,
    /// Why history keeps the previous version: "before save" or "before rollback".
    pub history_reason: &'static str,
    /// The user typed the stage name to accept losing their own access.
    lockout_confirmed: bool,
    /// The session before a rollback or a drift fix replaced its document, restored when the
    /// user cancels that save.
    session_before_reset: Option<EditSession>,
}

impl EditorState {
    /// Opens the editor on a home screen row; [`crate::model::open_stage`] opens the session.
    pub fn open(row: &StageRow, inventory: &Inventory) -> Result<EditorState, String> {
        let opened = open_stage(row, inventory)?;
        Ok(EditorState {
            session: opened.session,
            selected: 0,
            input: None,
            prompt: None,
            overlay: Overlay::None,
            saved: false,
            online: opened.online,
            connected: opened.connected,
            warnings: opened.warnings,
            project_root: opened.project_root,
            deployment_id: opened.deployment_id,
            history_reason: "before save",
            lockout_confirmed: false,
            session_before_reset: None,
        })
    }

    /// `path` relative to the project directory when it is inside it.
    pub fn display_path(&self, path: &Path) -> String {
        match self
            .project_root
            .as_deref()
            .and_then(|root| path.strip_prefix(root).ok())
        {
            Some(relative) => relative.display().to_string(),
            None => path.display().to_string(),
        }
    }

    /// The facts history and the audit log keep about this save.
    pub fn save_record(&self) -> SaveRecord {
        save_record(
            &self.session,
            self.deployment_id.clone(),
            self.history_reason,
        )
    }

    pub fn is_saving(&self) -> bool {
        matches!(&self.overlay, Overlay::Progress(run) if run.is_running())
    }

    /// Handles one key in whatever part of the editor has the focus.
    pub fn on_key(&mut self, key: KeyEvent, context: &EditorContext) -> EditorOutcome {
        if let Some(prompt) = self.prompt.clone() {
            return self.on_prompt_key(prompt, key, context);
        }
        if self.input.is_some() {
            return self.on_input_key(key);
        }
        match self.overlay.clone() {
            Overlay::None => self.on_list_key(key, context),
            Overlay::Preview { tab, scroll } => self.on_preview_key(key, tab, scroll, context),
            Overlay::Confirm(confirm) => self.on_confirm_key(key, confirm, context),
            Overlay::Progress(run) => self.on_progress_key(key, &run, context),
            Overlay::TestAddress { input, .. } => self.on_test_address_key(key, input),
            Overlay::History { versions, selected } => {
                self.on_history_key(key, versions, selected, context)
            }
        }
    }

    fn on_list_key(&mut self, key: KeyEvent, context: &EditorContext) -> EditorOutcome {
        let count = self.session.entries.len();
        match key.code {
            KeyCode::Char('?') => EditorOutcome::Help,
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('h') | KeyCode::Left => self.leave(),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
                EditorOutcome::None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                EditorOutcome::None
            }
            KeyCode::Char('a') | KeyCode::Char('i') | KeyCode::Char('o') => {
                self.input = Some(InputState {
                    mode: InputMode::Add,
                    text: String::new(),
                });
                EditorOutcome::None
            }
            KeyCode::Enter | KeyCode::Char('e') if count > 0 => {
                let text = self.session.entries[self.selected].clone();
                self.input = Some(InputState {
                    mode: InputMode::Edit(self.selected),
                    text,
                });
                EditorOutcome::None
            }
            KeyCode::Char('d') | KeyCode::Char('x') | KeyCode::Delete if count > 0 => {
                self.delete_selected()
            }
            KeyCode::Char('u') => match self.session.undo() {
                true => {
                    self.clamp_selection();
                    EditorOutcome::info("Undone.")
                }
                false => EditorOutcome::info("Nothing to undo."),
            },
            KeyCode::Char('n') if count > 0 => match self.session.normalize(self.selected) {
                Some(network) => EditorOutcome::info(format!("Entry normalised to {network}.")),
                None => EditorOutcome::info("This entry has no host bits set."),
            },
            KeyCode::Char('p') => {
                self.overlay = Overlay::Preview {
                    tab: PreviewTab::Policy,
                    scroll: 0,
                };
                EditorOutcome::None
            }
            KeyCode::Char('t') => self.toggle_shared(),
            KeyCode::Char('m') => self.add_my_address(context.my_ip),
            KeyCode::Char('A') => self.offer_aggregation(),
            KeyCode::Char('l') if count > 0 => {
                let cidr = &self.session.entries[self.selected];
                let text = context
                    .inventory
                    .sets
                    .label_for(cidr)
                    .unwrap_or_default()
                    .to_string();
                self.input = Some(InputState {
                    mode: InputMode::Label(self.selected),
                    text,
                });
                EditorOutcome::None
            }
            KeyCode::Char('T') => {
                self.overlay = Overlay::TestAddress {
                    input: String::new(),
                    results: None,
                };
                EditorOutcome::None
            }
            KeyCode::Char('H') => self.open_history(context),
            KeyCode::Char('L') => self.resolve_drift(DriftSide::TakeLive, context),
            KeyCode::Char('F') => self.resolve_drift(DriftSide::PushFile, context),
            KeyCode::Char('s') | KeyCode::Char('w') => self.begin_save(context),
            _ => EditorOutcome::None,
        }
    }

    /// Computes the merged list and prompts before replacing the entries with it.
    fn offer_aggregation(&mut self) -> EditorOutcome {
        let aggregation = match crate::core::aggregate::aggregate(&self.session.entries) {
            Ok(aggregation) => aggregation,
            Err(error) => {
                return EditorOutcome::error(format!("Fix the invalid entry first: {error}"));
            }
        };
        if aggregation.merged.is_empty() && aggregation.removed_count == 0 {
            return EditorOutcome::info("No networks overlap or touch: nothing to merge.");
        }

        let length_of = |session: &crate::model::edit::EditSession| {
            session
                .proposed_document()
                .ok()
                .flatten()
                .map(|document| policy_length(&document))
        };
        let length_before = length_of(&self.session);
        let mut merged_session = self.session.clone();
        merged_session.replace_all(aggregation.after.clone());
        let length_after = length_of(&merged_session);

        self.prompt = Some(Prompt::Aggregate {
            after: aggregation.after,
            merged: aggregation.merged,
            length_before,
            length_after,
        });
        EditorOutcome::None
    }

    /// Adds the user's public address; when it is unknown, opens the input so it can be typed.
    fn add_my_address(&mut self, my_ip: Option<IpAddr>) -> EditorOutcome {
        let Some(address) = my_ip else {
            self.input = Some(InputState {
                mode: InputMode::Add,
                text: String::new(),
            });
            return EditorOutcome::info(
                "Your public address is unknown (see the header); type it.",
            );
        };
        match self.session.add(&address.to_string()) {
            Ok(AddOutcome::Added(entry)) => {
                self.selected = self.session.entries.len() - 1;
                EditorOutcome::info(format!("Added your address {entry}."))
            }
            Ok(AddOutcome::AlreadyPresent(entry)) => {
                EditorOutcome::info(format!("Your address {entry} is already listed."))
            }
            Err(error) => EditorOutcome::error(error.to_string()),
        }
    }

    fn toggle_shared(&mut self) -> EditorOutcome {
        let shared = self.session.shared_stages();
        if shared.is_empty() {
            return EditorOutcome::info("The allowlist's statement covers no other stage.");
        }
        self.session.apply_to_shared = !self.session.apply_to_shared;
        if self.session.apply_to_shared {
            EditorOutcome::info(format!(
                "The edit applies to stage(s) {} as well.",
                shared.join(", ")
            ))
        } else {
            EditorOutcome::info(format!(
                "Stage {} gets its own statement.",
                self.session.target.stage
            ))
        }
    }

    fn leave(&mut self) -> EditorOutcome {
        if self.session.is_dirty() && !self.saved {
            self.prompt = Some(Prompt::DiscardChanges);
            return EditorOutcome::None;
        }
        EditorOutcome::Close
    }

    fn delete_selected(&mut self) -> EditorOutcome {
        let Some(removed) = self.session.delete(self.selected) else {
            return EditorOutcome::None;
        };
        self.clamp_selection();
        if self.session.entries.is_empty()
            && self.session.save_blocker() == Some(SaveBlocker::EmptyChoiceNeeded)
        {
            self.prompt = Some(Prompt::EmptyChoice);
        }
        EditorOutcome::info(format!("Removed {removed}. Press u to undo."))
    }

    fn clamp_selection(&mut self) {
        self.selected = self
            .selected
            .min(self.session.entries.len().saturating_sub(1));
    }

    fn on_input_key(&mut self, key: KeyEvent) -> EditorOutcome {
        let Some(input) = self.input.as_mut() else {
            return EditorOutcome::None;
        };
        match key.code {
            KeyCode::Esc => {
                self.input = None;
                EditorOutcome::None
            }
            KeyCode::Backspace => {
                input.text.pop();
                EditorOutcome::None
            }
            KeyCode::Char(character) => {
                input.text.push(character);
                EditorOutcome::None
            }
            KeyCode::Enter => self.submit_input(),
            _ => EditorOutcome::None,
        }
    }

    fn submit_input(&mut self) -> EditorOutcome {
        let Some(input) = self.input.clone() else {
            return EditorOutcome::None;
        };
        let result = match input.mode {
            InputMode::Label(index) => {
                let Some(cidr) = self.session.entries.get(index).cloned() else {
                    self.input = None;
                    return EditorOutcome::None;
                };
                self.input = None;
                return EditorOutcome::SaveLabel {
                    cidr,
                    label: input.text.trim().to_string(),
                };
            }
            InputMode::Add => self.session.add(&input.text).map(|outcome| match outcome {
                AddOutcome::Added(entry) => {
                    self.selected = self.session.entries.len() - 1;
                    format!("Added {entry}.")
                }
                AddOutcome::AlreadyPresent(entry) => format!("{entry} is already in the list."),
            }),
            InputMode::Edit(index) => self
                .session
                .replace(index, &input.text)
                .map(|entry| format!("Entry changed to {entry}.")),
        };

        match result {
            Ok(message) => {
                self.input = None;
                let hint = self.host_bits_hint();
                EditorOutcome::info(format!("{message}{hint}"))
            }
            // Keep the input open so the user can fix the text.
            Err(error) => EditorOutcome::error(error.to_string()),
        }
    }

    fn host_bits_hint(&self) -> String {
        match self
            .session
            .entries
            .get(self.selected)
            .and_then(|text| parse_entry(text).ok())
        {
            Some(entry) if entry.has_host_bits() => format!(
                " It really covers {}; press n to normalise it.",
                entry.covered_network()
            ),
            _ => String::new(),
        }
    }

    fn on_prompt_key(
        &mut self,
        prompt: Prompt,
        key: KeyEvent,
        context: &EditorContext,
    ) -> EditorOutcome {
        self.prompt = None;
        match (prompt, key.code) {
            (Prompt::EmptyChoice, KeyCode::Char('o')) => {
                self.session.set_empty_choice(EmptyChoice::Open);
                EditorOutcome::info(format!(
                    "Stage {} will be open to everyone.",
                    self.session.target.stage
                ))
            }
            (Prompt::EmptyChoice, KeyCode::Char('c')) => {
                self.session.set_empty_choice(EmptyChoice::Closed);
                EditorOutcome::info(format!(
                    "Stage {} will be closed to everyone.",
                    self.session.target.stage
                ))
            }
            (Prompt::EmptyChoice, _) => {
                self.session.undo();
                EditorOutcome::info("Removal undone: the list keeps its last entry.")
            }
            (Prompt::ConfirmUnrestricted { ipv6 }, KeyCode::Char('y')) => {
                self.session.confirm_unrestricted(ipv6);
                self.begin_save(context)
            }
            (Prompt::DiscardChanges, KeyCode::Char('y')) => EditorOutcome::Close,
            (Prompt::Aggregate { after, .. }, KeyCode::Char('y')) => {
                let count = after.len();
                self.session.replace_all(after);
                self.clamp_selection();
                EditorOutcome::info(format!("Merged into {count} entries; u undoes it."))
            }
            (
                Prompt::ConfirmLockout {
                    address,
                    reason,
                    mut typed,
                },
                code,
            ) => match code {
                KeyCode::Enter if typed.trim() == self.lockout_names()[0] => {
                    self.lockout_confirmed = true;
                    self.begin_save(context)
                }
                KeyCode::Enter => {
                    self.prompt = Some(Prompt::ConfirmLockout {
                        address,
                        reason,
                        typed,
                    });
                    EditorOutcome::error(format!(
                        "Type {} exactly, or Esc to cancel.",
                        self.lockout_names()[0]
                    ))
                }
                KeyCode::Esc => EditorOutcome::info("Save cancelled; nothing was written."),
                KeyCode::Backspace => {
                    typed.pop();
                    self.prompt = Some(Prompt::ConfirmLockout {
                        address,
                        reason,
                        typed,
                    });
                    EditorOutcome::None
                }
                KeyCode::Char(character) => {
                    typed.push(character);
                    self.prompt = Some(Prompt::ConfirmLockout {
                        address,
                        reason,
                        typed,
                    });
                    EditorOutcome::None
                }
                _ => {
                    self.prompt = Some(Prompt::ConfirmLockout {
                        address,
                        reason,
                        typed,
                    });
                    EditorOutcome::None
                }
            },
            _ => EditorOutcome::info("Cancelled."),
        }
    }

    /// The key of this stage in `ipgate.json`: the Chalice stage, else `REST_API_ID/STAGE`.
    pub fn sets_stage_key(&self) -> Option<String> {
        let target = &self.session.target;
        match (&target.chalice_stage, &target.rest_api_id) {
            (Some(chalice_stage), _) => Some(chalice_stage.clone()),
            (None, Some(rest_api_id)) => Some(crate::core::sets::live_stage_key(
                rest_api_id,
                &target.stage,
            )),
            (None, None) => None,
        }
    }

    /// Names that confirm a lockout: the Chalice stage name first, then the API Gateway stage.
    pub fn lockout_names(&self) -> Vec<&str> {
        let target = &self.session.target;
        target
            .chalice_stage
            .iter()
            .map(String::as_str)
            .chain([target.stage.as_str()])
            .collect()
    }

    fn on_test_address_key(&mut self, key: KeyEvent, mut input: String) -> EditorOutcome {
        match key.code {
            KeyCode::Esc => {
                self.overlay = Overlay::None;
                return EditorOutcome::None;
            }
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char(character) => input.push(character),
            KeyCode::Enter => {
                let results = match input.trim().parse::<IpAddr>() {
                    Ok(address) => Ok(self.session.test_address(address)),
                    Err(_) => Err(format!("'{}' is not an IPv4 or IPv6 address", input.trim())),
                };
                self.overlay = Overlay::TestAddress {
                    input,
                    results: Some(results),
                };
                return EditorOutcome::None;
            }
            _ => {}
        }
        self.overlay = Overlay::TestAddress {
            input,
            results: None,
        };
        EditorOutcome::None
    }

    fn open_history(&mut self, context: &EditorContext) -> EditorOutcome {
        let Some(store) = &context.inventory.history else {
            return EditorOutcome::error(
                "No data directory, so there is no history. Set IPGATE_DATA_DIR.",
            );
        };
        let Some(rest_api_id) = &self.session.target.rest_api_id else {
            return EditorOutcome::info(
                "This stage has no REST API yet, so it has no live history.",
            );
        };
        match store.versions(
            self.session.target.api.region.as_deref(),
            rest_api_id,
            &self.session.target.stage,
        ) {
            Ok(versions) if versions.is_empty() => EditorOutcome::info(
                "No earlier versions yet: ipgate records one before each live write.",
            ),
            Ok(versions) => {
                self.overlay = Overlay::History {
                    versions,
                    selected: 0,
                };
                EditorOutcome::None
            }
            Err(error) => EditorOutcome::error(format!("Reading the history failed: {error}")),
        }
    }

    fn on_history_key(
        &mut self,
        key: KeyEvent,
        versions: Vec<PolicyVersion>,
        selected: usize,
        context: &EditorContext,
    ) -> EditorOutcome {
        let last = versions.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('?') => return EditorOutcome::Help,
            KeyCode::Esc | KeyCode::Char('q') => self.overlay = Overlay::None,
            KeyCode::Down | KeyCode::Char('j') => {
                self.overlay = Overlay::History {
                    versions,
                    selected: (selected + 1).min(last),
                }
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.overlay = Overlay::History {
                    versions,
                    selected: selected.saturating_sub(1),
                }
            }
            KeyCode::Enter | KeyCode::Char('r') => {
                let Some(version) = versions.get(selected) else {
                    return EditorOutcome::None;
                };
                return self.roll_back(version, context);
            }
            _ => {}
        }
        EditorOutcome::None
    }

    /// Restores an earlier version to the file and live, through the usual confirmation.
    fn roll_back(&mut self, version: &PolicyVersion, context: &EditorContext) -> EditorOutcome {
        let document = match version.policy.as_deref().map(parse_document).transpose() {
            Ok(document) => document,
            Err(error) => {
                return EditorOutcome::error(format!("That version cannot be read: {error}"));
            }
        };
        let when = crate::ui::view::format_time(version.recorded_at);
        self.session_before_reset = Some(self.session.clone());
        if let Err(error) = self
            .session
            .reset_to(document, format!("rollback to the version of {when} UTC"))
        {
            return EditorOutcome::error(format!("Cannot roll back: {error}"));
        }
        self.history_reason = "before rollback";
        self.overlay = Overlay::None;
        self.clamp_selection();
        self.begin_save(context)
    }

    /// Makes the file and the live policy agree, in the direction the user chose.
    fn resolve_drift(&mut self, side: DriftSide, context: &EditorContext) -> EditorOutcome {
        if !self.has_drift() {
            return EditorOutcome::info("The policy file and the live policy already agree.");
        }
        let (document, description) = match side {
            DriftSide::TakeLive => (
                self.session.live.clone(),
                "take the live policy into the file",
            ),
            DriftSide::PushFile => (
                self.session
                    .local
                    .as_ref()
                    .map(|file| file.document.clone()),
                "push the policy file live",
            ),
        };
        self.session_before_reset = Some(self.session.clone());
        if let Err(error) = self.session.reset_to(document, description.to_string()) {
            return EditorOutcome::error(format!("Cannot {description}: {error}"));
        }
        self.clamp_selection();
        self.begin_save(context)
    }

    /// True for a Chalice stage whose policy file and live policy differ in meaning.
    pub fn has_drift(&self) -> bool {
        has_drift(&self.session, self.online)
    }

    fn on_preview_key(
        &mut self,
        key: KeyEvent,
        tab: PreviewTab,
        scroll: u16,
        context: &EditorContext,
    ) -> EditorOutcome {
        let mut set = |tab, scroll| self.overlay = Overlay::Preview { tab, scroll };
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('p') => self.overlay = Overlay::None,
            KeyCode::Tab | KeyCode::Right | KeyCode::Char('l') => set(tab.next(), 0),
            KeyCode::Char('1') => set(PreviewTab::Policy, 0),
            KeyCode::Char('2') => set(PreviewTab::DiffLive, 0),
            KeyCode::Char('3') => set(PreviewTab::DiffLocal, 0),
            KeyCode::Down | KeyCode::Char('j') => set(tab, scroll.saturating_add(1)),
            KeyCode::Up | KeyCode::Char('k') => set(tab, scroll.saturating_sub(1)),
            KeyCode::PageDown => set(tab, scroll.saturating_add(10)),
            KeyCode::PageUp => set(tab, scroll.saturating_sub(10)),
            KeyCode::Char('s') | KeyCode::Char('w') => return self.begin_save(context),
            KeyCode::Char('?') => return EditorOutcome::Help,
            _ => {}
        }
        EditorOutcome::None
    }

    /// Checks what blocks a save, prompts for the answers a save needs, then shows the plan.
    pub fn begin_save(&mut self, context: &EditorContext) -> EditorOutcome {
        if context.read_only {
            return EditorOutcome::error(
                "Read-only mode (--read-only): nothing is written. Restart without it to save.",
            );
        }
        match self.session.save_blocker() {
            Some(SaveBlocker::InvalidEntry { index, error }) => {
                self.selected = index;
                return EditorOutcome::error(format!(
                    "Entry {} is invalid: {error}. Edit it (e) or delete it (d) before saving.",
                    index + 1
                ));
            }
            Some(SaveBlocker::EmptyChoiceNeeded) => {
                self.prompt = Some(Prompt::EmptyChoice);
                return EditorOutcome::None;
            }
            Some(SaveBlocker::UnrestrictedNotConfirmed { ipv6 }) => {
                self.prompt = Some(Prompt::ConfirmUnrestricted { ipv6 });
                return EditorOutcome::None;
            }
            Some(SaveBlocker::TooLong { length, max }) => {
                let error = format!(
                    "Cannot save: the policy is {length} characters; API Gateway accepts at most {max}."
                );
                // Over the size quota, merging networks is the first thing to try.
                if self.offer_aggregation() == EditorOutcome::None {
                    return EditorOutcome::error(format!("{error} Merging networks may help:"));
                }
                return EditorOutcome::error(format!("{error} Remove entries to save."));
            }
            Some(SaveBlocker::Policy(error)) => {
                return EditorOutcome::error(format!("Cannot save: {error}"));
            }
            None => {}
        }

        if let Some(address) = context.my_ip
            && !self.lockout_confirmed
            && let Some((_, after)) = self.session.lockout(address)
        {
            self.prompt = Some(Prompt::ConfirmLockout {
                address,
                reason: after.reason,
                typed: String::new(),
            });
            return EditorOutcome::None;
        }

        let shared_with = self.shared_with(context.inventory);
        let own_file = false;
        match self.plan(context.inventory, own_file) {
            Ok(plan) if plan.is_empty() => EditorOutcome::info(
                "Nothing to save: the policy file and the live policy already say the same.",
            ),
            Ok(plan) => {
                let warnings = self.warnings.clone();
                self.overlay = Overlay::Confirm(ConfirmState {
                    plan,
                    own_file,
                    shared_with,
                    warnings,
                });
                EditorOutcome::None
            }
            Err(error) => EditorOutcome::error(format!("Cannot save: {error}")),
        }
    }

    fn shared_with(&self, inventory: &Inventory) -> Vec<String> {
        match (&inventory.project, &self.session.target.chalice_stage) {
            (Some(project), Some(stage)) => project.stages_sharing_policy_file(stage),
            _ => Vec::new(),
        }
    }

    fn plan(&self, inventory: &Inventory, own_file: bool) -> Result<SavePlan, String> {
        let mut plan = plan_stage_save(
            &self.session,
            inventory,
            self.online,
            self.connected,
            own_file,
        )?;
        deploy_shared_stages(&self.session, &mut plan);
        Ok(plan)
    }

    fn on_confirm_key(
        &mut self,
        key: KeyEvent,
        confirm: ConfirmState,
        context: &EditorContext,
    ) -> EditorOutcome {
        match key.code {
            KeyCode::Char('y') => {
                let steps = confirm.plan.steps.clone();
                let statuses = vec![StepStatus::Pending; steps.len()];
                self.overlay = Overlay::Progress(SaveRun {
                    plan: confirm.plan,
                    statuses,
                    run_id: 0,
                    conflict: None,
                });
                EditorOutcome::RunSave { steps, from: 0 }
            }
            KeyCode::Char('o') if !confirm.shared_with.is_empty() => {
                let own_file = !confirm.own_file;
                match self.plan(context.inventory, own_file) {
                    Ok(plan) => {
                        self.overlay = Overlay::Confirm(ConfirmState {
                            plan,
                            own_file,
                            ..confirm
                        });
                        EditorOutcome::None
                    }
                    Err(error) => {
                        EditorOutcome::error(format!("Cannot plan a separate file: {error}"))
                    }
                }
            }
            _ => {
                self.overlay = Overlay::None;
                self.lockout_confirmed = false;
                if let Some(session) = self.session_before_reset.take() {
                    self.session = session;
                    self.history_reason = "before save";
                    self.clamp_selection();
                }
                EditorOutcome::info("Save cancelled; nothing was written.")
            }
        }
    }

    fn on_progress_key(
        &mut self,
        key: KeyEvent,
        run: &SaveRun,
        context: &EditorContext,
    ) -> EditorOutcome {
        if run.is_running() {
            return EditorOutcome::info("A save is running; wait for it to finish.");
        }
        if let Some(conflict) = &run.conflict {
            return match key.code {
                KeyCode::Char('a') => self.apply_on_top(conflict, context),
                KeyCode::Esc | KeyCode::Char('q') => {
                    self.overlay = Overlay::None;
                    EditorOutcome::info("Save cancelled at the conflict; your edit is still here.")
                }
                _ => EditorOutcome::None,
            };
        }
        if let Some(failed) = run.failed_step()
            && key.code == KeyCode::Char('r')
        {
            return EditorOutcome::RunSave {
                steps: run.plan.steps.clone(),
                from: failed,
            };
        }
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') if run.is_complete() => {
                EditorOutcome::Close
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                self.overlay = Overlay::None;
                EditorOutcome::None
            }
            _ => EditorOutcome::None,
        }
    }

    /// Rebases the edit on the version that changed under ipgate, then shows the plan again.
    fn apply_on_top(&mut self, conflict: &Conflict, context: &EditorContext) -> EditorOutcome {
        let rebased = match conflict {
            Conflict::LivePolicy { current, .. } => {
                self.session.live = current.clone();
                self.session
                    .rebase(current.clone())
                    .map_err(|error| error.to_string())
            }
            Conflict::LocalFile { path, current } => {
                let file = match current {
                    Some(text) => match parse_document(text) {
                        Ok(document) => Some(PolicyFile {
                            path: path.clone(),
                            text: text.clone(),
                            document,
                        }),
                        Err(error) => {
                            return EditorOutcome::error(format!(
                                "{} on disk is not a valid policy: {error}. Fix it, then edit again.",
                                self.display_path(path)
                            ));
                        }
                    },
                    None => None,
                };
                let base = file
                    .as_ref()
                    .map(|file| file.document.clone())
                    .or_else(|| self.session.live.clone());
                self.session.local = file;
                self.session.rebase(base).map_err(|error| error.to_string())
            }
            Conflict::LocalFileExists { path, .. } => {
                return EditorOutcome::error(format!(
                    "{} exists already. Rename it, or set api_gateway_policy_file to it, then reload (r).",
                    self.display_path(path)
                ));
            }
            Conflict::ConfigFile { path } => {
                return EditorOutcome::error(format!(
                    "{} changed on disk. Go back, reload (r) and edit again.",
                    self.display_path(path)
                ));
            }
        };

        if let Err(error) = rebased {
            return EditorOutcome::error(format!("Cannot apply the edit on top: {error}"));
        }
        self.overlay = Overlay::None;
        self.clamp_selection();
        self.begin_save(context)
    }

    /// Marks the steps from `from` as pending and the first as running.
    pub fn start_run(&mut self, run_id: u64, from: usize) {
        if let Overlay::Progress(run) = &mut self.overlay {
            run.run_id = run_id;
            for status in run.statuses.iter_mut().skip(from) {
                *status = StepStatus::Pending;
            }
            if let Some(status) = run.statuses.get_mut(from) {
                *status = StepStatus::Running;
            }
        }
    }

    /// Records a step's result; returns what the run changed once it has stopped.
    pub fn on_step_finished(
        &mut self,
        run_id: u64,
        index: usize,
        result: Result<Option<String>, StepError>,
    ) -> Option<FinishedRun> {
        let Overlay::Progress(run) = &mut self.overlay else {
            return None;
        };
        if run.run_id != run_id || index >= run.statuses.len() {
            tracing::info!(run_id, index, "dropping a result of an earlier save run");
            return None;
        }

        let error = result.as_ref().err().map(ToString::to_string);
        run.conflict = match &result {
            Err(StepError::Conflict(conflict)) => Some(conflict.clone()),
            _ => None,
        };
        // The file this run wrote is the one later plans must expect on disk.
        if result.is_ok()
            && let Some(Step::WritePolicyFile { path, contents, .. }) = run.plan.steps.get(index)
            && let Ok(document) = parse_document(contents)
        {
            self.session.local = Some(PolicyFile {
                path: path.clone(),
                text: contents.clone(),
                document,
            });
            self.session.local_path = Some(path.clone());
        }
        run.statuses[index] = match result {
            Ok(detail) => StepStatus::Done(detail),
            Err(error) => StepStatus::Failed(error.to_string()),
        };
        let next = index + 1;
        if error.is_none() && next < run.statuses.len() {
            run.statuses[next] = StepStatus::Running;
            return None;
        }

        let touched_files = run
            .plan
            .steps
            .iter()
            .zip(&run.statuses)
            .any(|(step, status)| !step.is_remote() && matches!(status, StepStatus::Done(_)));
        let touched_rest_api =
            run.plan
                .steps
                .iter()
                .zip(&run.statuses)
                .find_map(|(step, status)| match step {
                    Step::UpdatePolicy { rest_api_id, .. }
                    | Step::CreateDeployment { rest_api_id, .. }
                        if matches!(status, StepStatus::Done(_)) =>
                    {
                        Some(rest_api_id.clone())
                    }
                    _ => None,
                });

        if error.is_none() {
            self.saved = true;
        }
        Some(FinishedRun {
            failed: error.is_some(),
            conflict: run.conflict.is_some(),
            summary: run.summary(),
            touched_files,
            touched_rest_api,
            error,
        })
    }
}
