//! A driver that runs the real [`App`] against a moto server. It executes every [`Effect`] the
//! app returns the way `ui::runtime` does, but one at a time and awaited in the test. The
//! resulting messages go back into the app until no effect is left.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tempfile::TempDir;
use tokio::sync::mpsc;

use ipgate::aws::{AwsWait, ConnectionInfo, Gateway};
use ipgate::core::chalice::load_project;
use ipgate::emulator::{MotoServer, REGION};
use ipgate::history::HistoryStore;
use ipgate::model::StageRow;
use ipgate::myip::find_my_ip;
use ipgate::save::{HistoryRecorder, Step, StepStatus, run_step_checked};
use ipgate::ui::app::App;
use ipgate::ui::editor::EditorState;
use ipgate::ui::message::{Effect, Message};

/// The same bound the runtime puts on the public address lookup.
const MY_IP_TIMEOUT: Duration = Duration::from_secs(5);

/// More effects than any test needs; reaching it means the app requests work in a loop.
const MAX_EFFECTS: usize = 500;

/// The app, the gateway its effects run against, and the history store in a temporary directory.
pub struct Driver {
    pub app: App,
    pub gateway: Gateway,
    pub history: HistoryStore,
    /// Every save step the driver ran, in order, whatever its result.
    pub steps_run: Vec<Step>,
    /// Retry and pacing waits the gateway reported, delivered to the app after each call.
    waits: mpsc::UnboundedReceiver<AwsWait>,
    _history_dir: TempDir,
}

impl Driver {
    /// Builds the app on the Chalice project in `project_dir`, connected to `server`, with its
    /// history in a new temporary directory. The app is not started yet, so a test can set
    /// `my_ip_source` or `read_only` first.
    pub fn new(project_dir: &Path, server: &MotoServer) -> Driver {
        let project = load_project(project_dir).unwrap();
        assert!(
            project.is_some(),
            "{} has no .chalice/config.json",
            project_dir.display()
        );
        let info = ConnectionInfo {
            profile: None,
            region: Some(REGION.to_string()),
            endpoint: Some(server.endpoint()),
        };
        let mut app = App::new(project, info, None);

        let history_dir = tempfile::tempdir().unwrap();
        let history = HistoryStore::at(history_dir.path());
        app.inventory.history = Some(history.clone());

        let (wait_sender, waits) = mpsc::unbounded_channel();
        Driver {
            app,
            gateway: server.gateway().with_wait_observer(wait_sender),
            history,
            steps_run: Vec::new(),
            waits,
            _history_dir: history_dir,
        }
    }

    /// Runs the start-up effects: the REST API listing, every stage listing, the address lookup.
    pub async fn start(&mut self) {
        let effects = self.app.start();
        self.run(effects).await;
    }

    /// Applies one message and runs every effect that follows from it.
    pub async fn send(&mut self, message: Message) {
        let effects = self.app.update(message);
        self.run(effects).await;
    }

    pub async fn press(&mut self, code: KeyCode) {
        self.send(key(code)).await;
    }

    pub async fn type_text(&mut self, text: &str) {
        for character in text.chars() {
            self.press(KeyCode::Char(character)).await;
        }
    }

    /// Runs `effects` and everything they lead to, in order, until none is left.
    pub async fn run(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        let mut executed = 0;
        while let Some(effect) = queue.pop_front() {
            executed += 1;
            assert!(
                executed <= MAX_EFFECTS,
                "the app keeps asking for work; last effect: {effect:?}"
            );
            let more = self.execute(effect).await;
            queue.extend(more);
        }
    }

    /// Executes one effect as `ui::runtime` does; returns the effects its messages led to.
    async fn execute(&mut self, effect: Effect) -> Vec<Effect> {
        match effect {
            // Stage listings run in order here, so there is no queue to reorder.
            Effect::Quit | Effect::PrioritizeStages(_) => Vec::new(),
            Effect::RunSave { .. } => self.run_save(SaveExecution::new(effect)).await,
            Effect::StopBatch => Vec::new(),
            Effect::RunBatch { batch, history } => {
                let plan = batch.0;
                let mut journal = ipgate::batch::Journal::open(history.dir(), &plan.id);
                let mut events = Vec::new();
                ipgate::batch::run_batch(
                    &plan,
                    Some(&self.gateway),
                    Some(&history),
                    &mut journal,
                    |event| events.push(event),
                )
                .await;
                let mut effects = Vec::new();
                for event in events {
                    effects.extend(self.deliver(Message::Batch(event)));
                }
                effects
            }
            Effect::Reconnect(options) => {
                self.gateway = ipgate::aws::Gateway::connect(&options).await;
                let gateway = self.gateway.clone();
                self.deliver(Message::Reconnected(gateway))
            }
            Effect::ListStages(rest_api_ids) => {
                let mut effects = Vec::new();
                for rest_api_id in rest_api_ids {
                    let result = self.gateway.get_stages(&rest_api_id).await;
                    effects.extend(self.deliver(Message::StagesListed {
                        rest_api_id,
                        result,
                    }));
                }
                effects
            }
            Effect::ListRestApis => {
                let result = self.gateway.list_rest_apis().await;
                self.deliver(Message::RestApisListed(result))
            }
            Effect::RefreshRestApi(rest_api_id) => {
                let result = self.gateway.get_rest_api(&rest_api_id).await;
                self.deliver(Message::RestApiRefreshed {
                    rest_api_id,
                    result,
                })
            }
            Effect::FindMyIp(source) => {
                let result = find_my_ip(&source, MY_IP_TIMEOUT).await;
                self.deliver(Message::MyIpFound(
                    result.map_err(|error| error.to_string()),
                ))
            }
        }
    }

    /// Applies the waits the gateway reported during the last call, then `message`, in the
    /// order the runtime's channel delivers them. Returns the effects the app requested.
    fn deliver(&mut self, message: Message) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Ok(wait) = self.waits.try_recv() {
            effects.extend(self.app.update(Message::AwsWaiting(wait)));
        }
        effects.extend(self.app.update(message));
        effects
    }

    /// Runs every remaining step of `save`, stopping at the first failure, then appends its
    /// audit line; returns the effects the step results led to.
    pub async fn run_save(&mut self, mut save: SaveExecution) -> Vec<Effect> {
        let mut effects = Vec::new();
        while !save.is_stopped() {
            effects.extend(self.save_step(&mut save).await);
        }
        save.audit();
        effects
    }

    /// Runs the next step of `save` with the history recorder and reports it to the app as
    /// `SaveStepFinished`. Returns the effects the app requested in reply.
    pub async fn save_step(&mut self, save: &mut SaveExecution) -> Vec<Effect> {
        let index = save.next;
        assert!(
            !save.is_stopped(),
            "the save of run {} has stopped already",
            save.run_id
        );
        let step = save.steps[index].clone();

        let result = run_step_checked(&step, Some(&self.gateway), save.history.as_ref()).await;
        self.steps_run.push(step);
        save.statuses[index] = match &result {
            Ok(detail) => StepStatus::Done(detail.clone()),
            Err(error) => StepStatus::Failed(error.to_string()),
        };
        save.failed = result.is_err();
        save.next += 1;

        let run_id = save.run_id;
        self.deliver(Message::SaveStepFinished {
            run_id,
            index,
            result,
        })
    }

    /// Renders the whole screen on a `width` x `height` TestBackend, one text line per row.
    pub fn render(&self, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| ipgate::ui::view::draw(frame, &self.app))
            .unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    /// Returns the home screen row of a Chalice stage.
    pub fn row(&self, chalice_stage: &str) -> &StageRow {
        self.app
            .rows
            .iter()
            .find(|row| row.chalice_stage.as_deref() == Some(chalice_stage))
            .unwrap_or_else(|| {
                panic!(
                    "no row for Chalice stage {chalice_stage}: {:?}",
                    self.app.rows
                )
            })
    }

    /// Selects a Chalice stage's row on the home screen and opens the editor on it.
    pub async fn open_editor(&mut self, chalice_stage: &str) {
        let index = self
            .app
            .rows
            .iter()
            .position(|row| row.chalice_stage.as_deref() == Some(chalice_stage))
            .unwrap_or_else(|| {
                panic!(
                    "no row for Chalice stage {chalice_stage}: {:?}",
                    self.app.rows
                )
            });
        self.app.home.selected = index;
        self.press(KeyCode::Enter).await;
        assert!(
            self.app.editor().is_some(),
            "the editor did not open: {:?}",
            self.app.status
        );
    }

    pub fn editor(&self) -> &EditorState {
        self.app.editor().expect("the editor is open")
    }

    /// Moves the editor's selection to `entry`; fails when the list does not contain it.
    pub async fn select_entry(&mut self, entry: &str) {
        let entries = self.editor().session.entries.clone();
        let index = entries
            .iter()
            .position(|listed| listed == entry)
            .unwrap_or_else(|| panic!("{entry} is not in the list: {entries:?}"));
        for _ in 0..entries.len() {
            self.press(KeyCode::Up).await;
        }
        for _ in 0..index {
            self.press(KeyCode::Down).await;
        }
        assert_eq!(self.editor().selected, index);
    }

    /// Adds `entry` through the `a` prompt.
    pub async fn add_entry(&mut self, entry: &str) {
        self.press(KeyCode::Char('a')).await;
        self.type_text(entry).await;
        self.press(KeyCode::Enter).await;
        assert!(
            self.editor().input.is_none(),
            "the entry {entry} was rejected: {:?}",
            self.app.status
        );
    }

    /// Returns the status line's text, or "" when there is none.
    pub fn status_text(&self) -> String {
        self.app
            .status
            .as_ref()
            .map(|status| status.text.clone())
            .unwrap_or_default()
    }
}

/// One `Effect::RunSave` being run step by step, with the statuses the audit line needs.
pub struct SaveExecution {
    pub run_id: u64,
    pub steps: Vec<Step>,
    history: Option<HistoryRecorder>,
    statuses: Vec<StepStatus>,
    /// The index of the next step to run.
    next: usize,
    failed: bool,
}

impl SaveExecution {
    /// Takes over a `RunSave` effect; panics on any other effect.
    pub fn new(effect: Effect) -> SaveExecution {
        let Effect::RunSave {
            run_id,
            steps,
            from,
            history,
        } = effect
        else {
            panic!("expected a save run, got {effect:?}");
        };
        // Steps before `from` succeeded in an earlier run of the same save.
        let statuses = (0..steps.len())
            .map(|index| {
                if index < from {
                    StepStatus::Done(None)
                } else {
                    StepStatus::Pending
                }
            })
            .collect();
        SaveExecution {
            run_id,
            steps,
            history,
            statuses,
            next: from,
            failed: false,
        }
    }

    /// True after a failed step or once every step has run.
    pub fn is_stopped(&self) -> bool {
        self.failed || self.next >= self.steps.len()
    }

    /// Appends the run's audit line, as the runtime does when a run stops.
    pub fn audit(&self) {
        if let Some(history) = &self.history {
            history.audit(&self.steps, &self.statuses);
        }
    }
}

pub fn key(code: KeyCode) -> Message {
    Message::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// A plain-text address lookup service on 127.0.0.1. It returns HTTP 200 with a fixed body for
/// at most `max_requests` connections and stops after 30 s at the latest.
pub struct LookupServer {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

impl LookupServer {
    pub fn start(body: &'static str, max_requests: usize) -> LookupServer {
        const PATIENCE: Duration = Duration::from_secs(30);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();

        std::thread::spawn(move || {
            let deadline = Instant::now() + PATIENCE;
            while counter.load(Ordering::SeqCst) < max_requests && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        serve_one(stream, body);
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(error) => panic!("accepting a lookup connection failed: {error}"),
                }
            }
        });
        LookupServer { url, requests }
    }

    /// Returns how many requests the server has served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads the request head, so closing the socket does not reset it, then sends the reply.
fn serve_one(mut stream: TcpStream, body: &str) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(count) => head.extend_from_slice(&buffer[..count]),
        }
    }
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
}
