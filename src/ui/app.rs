//! Application state and the handlers that change it.

use std::net::IpAddr;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::aws::{
    AwsError, AwsErrorKind, AwsOptions, AwsWait, ConnectionInfo, RestApiSummary, StageSummary,
    WaitReason,
};
use crate::core::chalice::Project;
use crate::history::HistoryStore;
use crate::model::{Connection, Inventory, LiveApi, Load, StageRow};
use crate::myip::MyIpSource;
use crate::save::{HistoryRecorder, Step, StepError};

use super::batch::{BatchOutcome, BatchPhase, BatchView, PlannedBatch};
use super::editor::{EditorContext, EditorOutcome, EditorState};
use super::message::{Effect, Message};
use super::sets::{SetEditor, SetsOutcome, SetsScreen, config_with, write_set};
use crate::batch::{
    BatchEvent, BatchOptions, Journal, SetChange, plan_batch_with, resume_plan_with,
};

/// A line under the main view: progress, a result or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub text: String,
    pub is_error: bool,
}

/// Formats the status line for a wait before the next attempt of an AWS call.
fn wait_text(wait: &AwsWait) -> String {
    let seconds = wait.delay.as_secs_f64();
    match wait.reason {
        WaitReason::Throttled => format!(
            "API Gateway is throttling: {} retries in {seconds:.0} s (attempt {}).",
            wait.operation, wait.attempt
        ),
        WaitReason::Transient => format!(
            "{} failed for a moment: retrying in {seconds:.0} s (attempt {}).",
            wait.operation, wait.attempt
        ),
        WaitReason::Pacing => format!(
            "Waiting {seconds:.0} s: API Gateway allows one deployment every 5 s per account."
        ),
    }
}

/// The user's public address, for the lockout guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MyIp {
    Looking,
    Known(IpAddr),
    /// The reason it is unknown; saves go on without the guard.
    Unknown(String),
}

impl MyIp {
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            MyIp::Known(address) => Some(*address),
            _ => None,
        }
    }
}

/// The home screen's selection and filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeState {
    pub selected: usize,
    pub filter: String,
    /// True while the user types a filter after `/`.
    pub filtering: bool,
    /// The profile and region form, while it is open.
    pub switch: Option<SwitchForm>,
}

/// The form that switches profile and region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchForm {
    pub profile: String,
    pub region: String,
    /// False: the profile field has the focus; true: the region field.
    pub region_focused: bool,
}

#[derive(Debug, Clone)]
pub enum Screen {
    Home,
    Editor(Box<EditorState>),
    Sets(Box<SetsScreen>),
    Batch(Box<BatchView>),
}

/// The whole UI state.
#[derive(Debug, Clone)]
pub struct App {
    pub inventory: Inventory,
    pub connection_info: ConnectionInfo,
    pub screen: Screen,
    pub home: HomeState,
    pub status: Option<StatusLine>,
    pub help_open: bool,
    /// Ctrl-C with unsaved edits: waiting for `y`.
    pub quit_prompt: bool,
    pub spinner_frame: usize,
    /// Background requests in flight, for the spinner.
    pub pending_requests: usize,
    pub should_quit: bool,
    /// Filtered rows, recomputed when data or the filter change.
    pub rows: Vec<StageRow>,
    /// Every error shown on the status line, printed again after the UI closes.
    pub error_history: Vec<String>,
    /// `--read-only`: saves are refused.
    pub read_only: bool,
    pub my_ip_source: MyIpSource,
    pub my_ip: MyIp,
    next_run_id: u64,
}

impl App {
    /// Builds the app; `online` false starts in local-only mode with `offline_reason`.
    pub fn new(
        project: Option<Project>,
        connection_info: ConnectionInfo,
        offline_reason: Option<String>,
    ) -> App {
        let mut inventory = Inventory::new(project, connection_info.region.clone());
        if let Some(reason) = offline_reason {
            inventory.connection = Connection::LocalOnly { reason };
        }
        let history = HistoryStore::open_default();
        if let Err(error) = &history {
            tracing::warn!(%error, "no history store, so live saves are rejected; set IPGATE_DATA_DIR to a writable directory");
        }
        inventory.history = history.ok();
        let sets_error = inventory.sets.errors.first().cloned();
        let mut app = App {
            inventory,
            connection_info,
            screen: Screen::Home,
            home: HomeState::default(),
            status: None,
            help_open: false,
            quit_prompt: false,
            spinner_frame: 0,
            pending_requests: 0,
            should_quit: false,
            rows: Vec::new(),
            error_history: Vec::new(),
            read_only: false,
            my_ip_source: MyIpSource::Disabled,
            my_ip: MyIp::Unknown("lookup off (--no-my-ip)".to_string()),
            next_run_id: 1,
        };
        app.refresh_rows();
        if let Some(error) = sets_error {
            app.set_status(format!("Labels and sets not loaded: {error}"), true);
        }
        app
    }

    /// The effects to run at start-up.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.inventory.connection == Connection::Connecting {
            self.pending_requests += 1;
            effects.push(Effect::ListRestApis);
        }
        match &self.my_ip_source {
            MyIpSource::Disabled => {}
            MyIpSource::Given(address) => self.my_ip = MyIp::Known(*address),
            MyIpSource::Lookup(_) => {
                self.my_ip = MyIp::Looking;
                effects.push(Effect::FindMyIp(self.my_ip_source.clone()));
            }
        }
        effects
    }

    pub fn is_busy(&self) -> bool {
        self.pending_requests > 0
            || self.editor().is_some_and(EditorState::is_saving)
            || self.batch_running()
    }

    pub fn batch_running(&self) -> bool {
        matches!(&self.screen, Screen::Batch(view) if view.is_running())
    }

    pub fn editor(&self) -> Option<&EditorState> {
        match &self.screen {
            Screen::Editor(editor) => Some(editor),
            Screen::Home | Screen::Sets(_) | Screen::Batch(_) => None,
        }
    }

    /// Edits that quitting would lose, or a batch that quitting would interrupt.
    pub fn has_unsaved_edits(&self) -> bool {
        let dirty = self
            .editor()
            .is_some_and(|editor| editor.session.is_dirty() && !editor.saved);
        dirty || self.batch_running()
    }

    pub fn set_status(&mut self, text: impl Into<String>, is_error: bool) {
        let text = text.into();
        if is_error {
            self.record_error(&text);
        }
        self.status = Some(StatusLine { text, is_error });
    }

    fn record_error(&mut self, text: &str) {
        const MAX_KEPT: usize = 20;
        if self.error_history.last().map(String::as_str) == Some(text) {
            return;
        }
        if self.error_history.len() == MAX_KEPT {
            self.error_history.remove(0);
        }
        self.error_history.push(text.to_string());
    }

    /// Applies one message and returns the effects it requests.
    pub fn update(&mut self, message: Message) -> Vec<Effect> {
        match message {
            Message::Input(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                self.on_key(key)
            }
            Message::Input(_) => Vec::new(),
            Message::Tick => {
                self.spinner_frame = self.spinner_frame.wrapping_add(1);
                Vec::new()
            }
            Message::RestApisListed(result) => self.on_rest_apis_listed(result),
            Message::StagesListed {
                rest_api_id,
                result,
            } => self.on_stages_listed(rest_api_id, result),
            Message::RestApiRefreshed {
                rest_api_id,
                result,
            } => self.on_rest_api_refreshed(rest_api_id, result),
            Message::Batch(event) => self.on_batch_event(event),
            Message::Reconnected(gateway) => self.on_reconnected(gateway.info.clone()),
            Message::AwsWaiting(wait) => {
                self.set_status(wait_text(&wait), false);
                Vec::new()
            }
            Message::MyIpFound(result) => {
                self.my_ip = match result {
                    Ok(address) => MyIp::Known(address),
                    Err(error) => {
                        tracing::warn!(%error, "public address lookup failed");
                        MyIp::Unknown(error)
                    }
                };
                Vec::new()
            }
            Message::SaveStepFinished {
                run_id,
                index,
                result,
            } => self.on_save_step(run_id, index, result),
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.on_ctrl_c();
        }
        if self.quit_prompt {
            self.quit_prompt = false;
            if key.code == KeyCode::Char('y') {
                return self.quit();
            }
            self.set_status("Quit cancelled.", false);
            return Vec::new();
        }
        if self.help_open {
            self.help_open = false;
            return Vec::new();
        }

        if key.code == KeyCode::Char('?') && self.screen_takes_help_key() {
            self.help_open = true;
            return Vec::new();
        }

        match &mut self.screen {
            Screen::Home => self.on_home_key(key),
            Screen::Sets(screen) => {
                let outcome = screen.on_key(key, &mut self.inventory, self.my_ip.address());
                self.on_sets_outcome(outcome)
            }
            Screen::Batch(view) => {
                let outcome = view.on_key(key);
                self.on_batch_outcome(outcome)
            }
            Screen::Editor(editor) => {
                let context = EditorContext {
                    inventory: &self.inventory,
                    read_only: self.read_only,
                    my_ip: self.my_ip.address(),
                };
                let outcome = editor.on_key(key, &context);
                self.on_editor_outcome(outcome)
            }
        }
    }

    /// True where `?` opens the help instead of being typed into an input.
    fn screen_takes_help_key(&self) -> bool {
        match &self.screen {
            Screen::Sets(screen) => screen.input.is_none(),
            Screen::Batch(view) => {
                !(matches!(view.phase, BatchPhase::Confirm { .. }) && view.has_lockout())
            }
            Screen::Home | Screen::Editor(_) => false,
        }
    }

    /// Shows a message about the user's own input; unlike [`Self::set_status`], it is not kept
    /// for the list of errors printed after the UI closes.
    fn show_input_status(&mut self, text: String, is_error: bool) {
        self.status = Some(StatusLine { text, is_error });
    }

    fn on_ctrl_c(&mut self) -> Vec<Effect> {
        if self.has_unsaved_edits() && !self.quit_prompt {
            self.quit_prompt = true;
            return Vec::new();
        }
        self.quit()
    }

    fn quit(&mut self) -> Vec<Effect> {
        self.should_quit = true;
        vec![Effect::Quit]
    }

    fn on_home_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if self.home.filtering {
            return self.on_filter_key(key);
        }
        if let Some(form) = self.home.switch.take() {
            return self.on_switch_key(key, form);
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => {
                if !self.home.filter.is_empty() {
                    self.home.filter.clear();
                    self.refresh_rows();
                    return Vec::new();
                }
                self.quit()
            }
            KeyCode::Char('?') => {
                self.help_open = true;
                Vec::new()
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(10),
            KeyCode::PageUp => self.move_selection(-10),
            KeyCode::Home | KeyCode::Char('g') => self.move_selection(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_selection(isize::MAX / 2),
            KeyCode::Char('/') => {
                self.home.filtering = true;
                Vec::new()
            }
            KeyCode::Char('r') => self.reload(),
            KeyCode::Char('S') => {
                self.screen = Screen::Sets(Box::default());
                Vec::new()
            }
            KeyCode::Char('P') => {
                self.home.switch = Some(SwitchForm {
                    profile: self.connection_info.profile.clone().unwrap_or_default(),
                    region: self.connection_info.region.clone().unwrap_or_default(),
                    region_focused: false,
                });
                Vec::new()
            }
            KeyCode::Enter | KeyCode::Char('e') | KeyCode::Char('l') | KeyCode::Right => {
                self.open_editor()
            }
            _ => Vec::new(),
        }
    }

    fn on_switch_key(&mut self, key: KeyEvent, mut form: SwitchForm) -> Vec<Effect> {
        let field = if form.region_focused {
            &mut form.region
        } else {
            &mut form.profile
        };
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => return self.switch_to(form),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                form.region_focused = !form.region_focused;
            }
            KeyCode::Backspace => {
                field.pop();
            }
            KeyCode::Char(character) => field.push(character),
            _ => {}
        }
        self.home.switch = Some(form);
        Vec::new()
    }

    /// Connects again with the form's profile and region; the listing starts over.
    fn switch_to(&mut self, form: SwitchForm) -> Vec<Effect> {
        if self.has_unsaved_edits() {
            self.set_status("Save or discard your edits before switching.", true);
            return Vec::new();
        }
        let non_empty = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
        let options = AwsOptions {
            profile: non_empty(&form.profile),
            region: non_empty(&form.region),
            endpoint_url: self.connection_info.endpoint.clone(),
        };
        tracing::info!(profile = ?options.profile, region = ?options.region, "switching profile and region");
        self.inventory.apis.clear();
        self.inventory.connection = Connection::Connecting;
        self.pending_requests = 1;
        self.refresh_rows();
        self.set_status("Connecting...", false);
        vec![Effect::Reconnect(options)]
    }

    fn on_reconnected(&mut self, info: ConnectionInfo) -> Vec<Effect> {
        self.pending_requests = 0;
        self.inventory.region = info.region.clone();
        let has_region = info.region.is_some();
        self.connection_info = info;
        if !has_region {
            let reason = "no AWS region set; enter one with P".to_string();
            self.inventory.connection = Connection::LocalOnly {
                reason: reason.clone(),
            };
            self.set_status(format!("Local-only mode: {reason}."), true);
            self.refresh_rows();
            return Vec::new();
        }
        self.pending_requests = 1;
        vec![Effect::ListRestApis]
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Enter => self.home.filtering = false,
            KeyCode::Esc => {
                self.home.filtering = false;
                self.home.filter.clear();
            }
            KeyCode::Backspace => {
                self.home.filter.pop();
            }
            KeyCode::Char(character) => self.home.filter.push(character),
            _ => {}
        }
        self.home.selected = 0;
        self.refresh_rows();
        Vec::new()
    }

    fn move_selection(&mut self, delta: isize) -> Vec<Effect> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        let last = self.rows.len() as isize - 1;
        let selected = (self.home.selected as isize)
            .saturating_add(delta)
            .clamp(0, last);
        self.home.selected = selected as usize;
        self.prioritize_selected()
    }

    /// Asks for the selected API's stages first when they are still loading.
    fn prioritize_selected(&self) -> Vec<Effect> {
        let Some(row) = self.rows.get(self.home.selected) else {
            return Vec::new();
        };
        let Some(rest_api_id) = &row.rest_api_id else {
            return Vec::new();
        };
        match self.inventory.apis.get(rest_api_id).map(|api| &api.stages) {
            Some(Load::Loading) => vec![Effect::PrioritizeStages(rest_api_id.clone())],
            _ => Vec::new(),
        }
    }

    fn reload(&mut self) -> Vec<Effect> {
        if let Some(project) = &self.inventory.project {
            match crate::core::chalice::load_project(&project.root) {
                Ok(project) => self.inventory.project = project,
                Err(error) => self.set_status(error.to_string(), true),
            }
        }
        self.inventory.reload_local_policies();
        self.refresh_rows();

        if matches!(self.inventory.connection, Connection::LocalOnly { .. }) {
            return Vec::new();
        }
        self.pending_requests += 1;
        self.set_status("Reloading REST APIs...", false);
        vec![Effect::ListRestApis]
    }

    fn open_editor(&mut self) -> Vec<Effect> {
        let Some(row) = self.rows.get(self.home.selected).cloned() else {
            return Vec::new();
        };
        match EditorState::open(&row, &self.inventory) {
            Ok(editor) => {
                self.screen = Screen::Editor(Box::new(editor));
                self.status = None;
            }
            Err(error) => self.set_status(error, true),
        }
        Vec::new()
    }

    fn on_sets_outcome(&mut self, outcome: SetsOutcome) -> Vec<Effect> {
        match outcome {
            SetsOutcome::None => Vec::new(),
            SetsOutcome::Status { text, is_error } => {
                self.show_input_status(text, is_error);
                Vec::new()
            }
            SetsOutcome::Close => {
                self.screen = Screen::Home;
                self.refresh_rows();
                Vec::new()
            }
            SetsOutcome::Apply {
                set,
                added,
                removed,
                editor,
            } => self.plan_set_batch(
                SetChange {
                    set,
                    added,
                    removed,
                },
                editor,
            ),
            SetsOutcome::Resume => self.resume_batch(),
        }
    }

    fn batch_options(&self) -> BatchOptions {
        BatchOptions {
            allow_unrestricted: false,
            my_ip: self.my_ip.address(),
        }
    }

    /// Plans applying a set change to every stage that includes the set, then shows it for confirmation.
    fn plan_set_batch(&mut self, change: SetChange, editor: Box<SetEditor>) -> Vec<Effect> {
        let root = self
            .inventory
            .project
            .as_ref()
            .map(|project| project.root.clone());
        let planned = config_with(&editor, &self.inventory).and_then(|config| {
            plan_batch_with(
                &self.inventory,
                &config,
                &change,
                root.as_deref(),
                &self.batch_options(),
            )
        });
        match planned {
            Ok(plan) => {
                self.set_status(
                    format!(
                        "Confirm applying {} to the stages of set {}; the set is saved with the batch.",
                        change.summary(),
                        change.set
                    ),
                    false,
                );
                let mut view = BatchView::new(plan);
                view.pending_set = Some(editor);
                self.screen = Screen::Batch(Box::new(view));
            }
            Err(error) => {
                self.set_status(
                    format!(
                        "The batch cannot be planned, so set {} was not saved: {error}",
                        change.set
                    ),
                    true,
                );
                self.screen = Screen::Sets(Box::new(SetsScreen {
                    editor: Some(*editor),
                    ..SetsScreen::default()
                }));
            }
        }
        Vec::new()
    }

    /// Plans the remaining stages of the oldest interrupted batch.
    fn resume_batch(&mut self) -> Vec<Effect> {
        let Some(history) = &self.inventory.history else {
            self.set_status(
                "No data directory, so there are no batch journals. Set IPGATE_DATA_DIR.",
                true,
            );
            return Vec::new();
        };
        let unfinished = match Journal::unfinished(history.dir()) {
            Ok(unfinished) => unfinished,
            Err(error) => {
                self.set_status(format!("Reading the batch journals failed: {error}"), true);
                return Vec::new();
            }
        };
        let Some(batch) = unfinished.into_iter().find(|batch| !batch.running) else {
            self.set_status("No interrupted batch to resume.", false);
            return Vec::new();
        };
        let root = self
            .inventory
            .project
            .as_ref()
            .map(|project| project.root.clone());
        match resume_plan_with(
            &batch,
            &self.inventory,
            root.as_deref(),
            &self.batch_options(),
        ) {
            Ok(plan) => self.screen = Screen::Batch(Box::new(BatchView::new(plan))),
            Err(error) => {
                self.set_status(format!("Cannot resume batch {}: {error}", batch.id), true)
            }
        }
        Vec::new()
    }

    fn on_batch_outcome(&mut self, outcome: BatchOutcome) -> Vec<Effect> {
        match outcome {
            BatchOutcome::None => Vec::new(),
            BatchOutcome::Status(text) => {
                self.set_status(text, false);
                Vec::new()
            }
            BatchOutcome::Stop => {
                self.set_status(
                    "Stopping after the current stage; resume later with R on the sets screen.",
                    false,
                );
                vec![Effect::StopBatch]
            }
            BatchOutcome::Close => {
                let mut sets_screen = SetsScreen::default();
                if let Screen::Batch(view) = &mut self.screen
                    && matches!(view.phase, BatchPhase::Confirm { .. })
                    && let Some(editor) = view.pending_set.take()
                {
                    self.set_status(
                        format!(
                            "Batch cancelled; set {} was not saved and no stage changed.",
                            editor.name
                        ),
                        false,
                    );
                    sets_screen.editor = Some(*editor);
                }
                self.screen = Screen::Sets(Box::new(sets_screen));
                self.inventory.reload_local_policies();
                self.refresh_rows();
                Vec::new()
            }
            BatchOutcome::Run => {
                let (Screen::Batch(view), Some(history)) = (&self.screen, &self.inventory.history)
                else {
                    self.set_status(
                        "No data directory for the history and the batch journal, so nothing is written. Set IPGATE_DATA_DIR.",
                        true,
                    );
                    return Vec::new();
                };
                let batch = PlannedBatch(Box::new(view.plan.clone()));
                let history = history.clone();
                if let Screen::Batch(view) = &mut self.screen
                    && let Some(editor) = view.pending_set.take()
                    && let Err(error) = write_set(&editor, &mut self.inventory)
                {
                    let message = format!(
                        "Set {} not saved, so the batch did not run: {error}",
                        editor.name
                    );
                    view.pending_set = Some(editor);
                    view.phase = BatchPhase::Confirm {
                        typed: String::new(),
                    };
                    self.set_status(message, true);
                    return Vec::new();
                }
                vec![Effect::RunBatch { batch, history }]
            }
        }
    }

    fn on_batch_event(&mut self, event: BatchEvent) -> Vec<Effect> {
        let Screen::Batch(view) = &mut self.screen else {
            tracing::info!(?event, "batch event with the batch screen closed");
            return Vec::new();
        };
        let finished = match &event {
            BatchEvent::Finished(summary) => Some(summary.clone()),
            _ => None,
        };
        view.on_event(event);
        let Some(summary) = finished else {
            return Vec::new();
        };

        let text = format!(
            "Batch {}: {} applied, {} skipped, {} failed, {} not run.",
            summary.batch_id,
            summary.applied.len(),
            summary.skipped.len(),
            summary.failed.len(),
            summary.not_run.len()
        );
        self.set_status(text, !summary.is_complete());
        self.inventory.reload_local_policies();
        self.refresh_rows();
        if self.inventory.connection == Connection::Online {
            self.pending_requests += 1;
            return vec![Effect::ListRestApis];
        }
        Vec::new()
    }

    fn on_editor_outcome(&mut self, outcome: EditorOutcome) -> Vec<Effect> {
        match outcome {
            EditorOutcome::None => Vec::new(),
            EditorOutcome::Status { text, is_error } => {
                self.show_input_status(text, is_error);
                Vec::new()
            }
            EditorOutcome::Help => {
                self.help_open = true;
                Vec::new()
            }
            EditorOutcome::SaveLabel { cidr, label } => {
                match self.inventory.sets.save_label(&cidr, &label) {
                    Ok(path) if label.is_empty() => self.set_status(
                        format!("Label of {cidr} removed in {}.", path.display()),
                        false,
                    ),
                    Ok(path) => self.set_status(
                        format!("{cidr} labeled \"{label}\" in {}.", path.display()),
                        false,
                    ),
                    Err(error) => {
                        self.set_status(format!("Saving the label failed: {error}"), true)
                    }
                }
                Vec::new()
            }
            EditorOutcome::Close => {
                self.screen = Screen::Home;
                self.refresh_rows();
                Vec::new()
            }
            EditorOutcome::RunSave { steps, from } => {
                if self.inventory.history.is_none() && steps.iter().any(Step::is_remote) {
                    self.set_status(
                        "No data directory for the policy history, so nothing is written live. Set IPGATE_DATA_DIR to a writable directory.",
                        true,
                    );
                    return Vec::new();
                }
                let run_id = self.next_run_id;
                self.next_run_id += 1;
                let mut history = None;
                if let Screen::Editor(editor) = &mut self.screen {
                    editor.start_run(run_id, from);
                    history = self.inventory.history.clone().map(|store| HistoryRecorder {
                        store,
                        record: editor.save_record(),
                    });
                }
                vec![Effect::RunSave {
                    run_id,
                    steps,
                    from,
                    history,
                }]
            }
        }
    }

    fn on_rest_apis_listed(
        &mut self,
        result: Result<Vec<RestApiSummary>, AwsError>,
    ) -> Vec<Effect> {
        self.pending_requests = self.pending_requests.saturating_sub(1);
        let summaries = match result {
            Ok(summaries) => summaries,
            Err(error) => return self.on_listing_failed(error),
        };

        self.inventory.connection = Connection::Online;
        self.inventory.apis = summaries
            .into_iter()
            .map(|summary| (summary.id.clone(), LiveApi::new(summary)))
            .collect();
        self.refresh_rows();
        self.set_status(
            format!("{} REST APIs found.", self.inventory.apis.len()),
            false,
        );

        let order = self.stage_load_order();
        self.pending_requests += order.len();
        if order.is_empty() {
            Vec::new()
        } else {
            vec![Effect::ListStages(order)]
        }
    }

    /// APIs of the project first, then the rest by name, so the first screen fills quickly
    /// where the user is most likely to look.
    fn stage_load_order(&self) -> Vec<String> {
        let mut apis: Vec<&LiveApi> = self.inventory.apis.values().collect();
        let linked = |api: &LiveApi| {
            self.inventory.project.as_ref().is_some_and(|project| {
                project.stages.iter().any(|stage| {
                    stage
                        .deployed
                        .as_ref()
                        .is_some_and(|deployed| deployed.rest_api_id == api.summary.id)
                })
            })
        };
        apis.sort_by_key(|api| (!linked(api), api.summary.name.clone()));
        apis.iter().map(|api| api.summary.id.clone()).collect()
    }

    fn on_listing_failed(&mut self, error: AwsError) -> Vec<Effect> {
        tracing::warn!(error = %error, detail = %error.detail, "listing REST APIs failed");
        let reason = match error.kind {
            AwsErrorKind::Credentials => format!("no usable AWS credentials ({})", error.summary()),
            AwsErrorKind::Unreachable | AwsErrorKind::TimedOut => {
                format!("AWS is unreachable ({})", error.summary())
            }
            _ => error.to_string(),
        };

        let first_listing = matches!(self.inventory.connection, Connection::Connecting);
        let offline = matches!(
            error.kind,
            AwsErrorKind::Credentials | AwsErrorKind::Unreachable | AwsErrorKind::TimedOut
        );
        if first_listing && offline {
            self.inventory.connection = Connection::LocalOnly {
                reason: reason.clone(),
            };
            self.set_status(
                format!("Local-only mode: {reason}. Saves write local files only."),
                true,
            );
        } else {
            if first_listing {
                self.inventory.connection = Connection::LocalOnly {
                    reason: reason.clone(),
                };
            }
            self.set_status(format!("Listing REST APIs failed: {reason}"), true);
        }
        self.refresh_rows();
        Vec::new()
    }

    fn on_stages_listed(
        &mut self,
        rest_api_id: String,
        result: Result<Vec<StageSummary>, AwsError>,
    ) -> Vec<Effect> {
        self.pending_requests = self.pending_requests.saturating_sub(1);
        if !self.inventory.apis.contains_key(&rest_api_id) {
            tracing::info!(
                rest_api_id,
                "dropping stages of a REST API no longer listed"
            );
            return Vec::new();
        }

        let stages = match result {
            Ok(mut stages) => {
                stages.sort_by(|a, b| a.name.cmp(&b.name));
                Load::Ready(stages)
            }
            Err(error) => {
                tracing::warn!(rest_api_id, error = %error, "listing stages failed");
                self.set_status(error.describe(), true);
                Load::Failed(error.summary())
            }
        };
        if let Some(api) = self.inventory.apis.get_mut(&rest_api_id) {
            api.stages = stages;
        }
        self.refresh_rows();
        Vec::new()
    }

    fn on_rest_api_refreshed(
        &mut self,
        rest_api_id: String,
        result: Result<RestApiSummary, AwsError>,
    ) -> Vec<Effect> {
        self.pending_requests = self.pending_requests.saturating_sub(1);
        match result {
            Ok(summary) => {
                let stages = self
                    .inventory
                    .apis
                    .get(&rest_api_id)
                    .map(|api| api.stages.clone());
                let mut api = LiveApi::new(summary);
                if let Some(stages) = stages {
                    api.stages = stages;
                }
                self.inventory.apis.insert(rest_api_id.clone(), api);
                self.pending_requests += 1;
                self.refresh_rows();
                vec![Effect::ListStages(vec![rest_api_id])]
            }
            Err(error) => {
                self.set_status(error.describe(), true);
                Vec::new()
            }
        }
    }

    fn on_save_step(
        &mut self,
        run_id: u64,
        index: usize,
        result: Result<Option<String>, StepError>,
    ) -> Vec<Effect> {
        let Screen::Editor(editor) = &mut self.screen else {
            tracing::info!(
                run_id,
                index,
                "dropping a save result: the editor is closed"
            );
            return Vec::new();
        };
        let Some(finished) = editor.on_step_finished(run_id, index, result) else {
            return Vec::new();
        };

        let (text, is_error) = finished.status_line();
        self.set_status(text, is_error);
        self.after_save(finished.touched_files, finished.touched_rest_api)
    }

    /// Reloads what a save changed, so the home screen shows the new state.
    fn after_save(&mut self, touched_files: bool, touched_rest_api: Option<String>) -> Vec<Effect> {
        if touched_files {
            if let Some(project) = &self.inventory.project {
                match crate::core::chalice::load_project(&project.root) {
                    Ok(project) => self.inventory.project = project,
                    Err(error) => self.set_status(error.to_string(), true),
                }
            }
            self.inventory.reload_local_policies();
        }
        self.refresh_rows();

        match touched_rest_api {
            Some(rest_api_id) => {
                self.pending_requests += 1;
                vec![Effect::RefreshRestApi(rest_api_id)]
            }
            None => Vec::new(),
        }
    }

    /// Recomputes the visible rows from the inventory and the filter.
    pub fn refresh_rows(&mut self) {
        let filter = self.home.filter.to_lowercase();
        self.rows = self
            .inventory
            .rows()
            .into_iter()
            .filter(|row| filter.is_empty() || row.search_text().contains(&filter))
            .collect();
        if self.home.selected >= self.rows.len() {
            self.home.selected = self.rows.len().saturating_sub(1);
        }
    }
}
