//! The event loop: input on a thread, AWS work on tokio tasks, drawing after each batch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

use crate::aws::Gateway;
use crate::batch::{BatchControl, Journal, run_batch_with};
use crate::myip::find_my_ip;
use crate::save::{HistoryRecorder, Step, execute_steps};

use super::app::App;
use super::message::{Effect, Message};
use super::terminal::TerminalGuard;
use super::view;

/// How many stage listings run at once.
const STAGE_WORKERS: usize = 4;
const TICK: Duration = Duration::from_millis(120);
/// How long the public address lookup may take before the lockout guard goes without it.
const MY_IP_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the UI until the user quits; returns the errors shown during the session. The terminal
/// is restored before this returns.
pub async fn run(mut app: App, gateway: Option<Gateway>) -> anyhow::Result<Vec<String>> {
    let mut guard = TerminalGuard::enter()?;
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let stop_input = Arc::new(AtomicBool::new(false));
    let input_thread = spawn_input_thread(sender.clone(), stop_input.clone());
    let ticker = tokio::spawn(send_ticks(sender.clone()));
    let mut executor = Executor::new(gateway, sender);

    for effect in app.start() {
        executor.run(effect);
    }

    let result = loop {
        if let Err(error) = guard.terminal.draw(|frame| view::draw(frame, &app)) {
            break Err(error.into());
        }
        panic_if_requested();

        let Some(first) = receiver.recv().await else {
            break Ok(());
        };
        let mut redraw = handle(&mut app, &mut executor, first);
        // Apply everything already queued before drawing again, so bursts cost one draw.
        while let Ok(message) = receiver.try_recv() {
            redraw |= handle(&mut app, &mut executor, message);
        }
        if app.should_quit {
            break Ok(());
        }
        if !redraw {
            // Only idle ticks arrived: wait for the next message without drawing.
            continue;
        }
    };

    stop_input.store(true, Ordering::Relaxed);
    ticker.abort();
    executor.shutdown();
    drop(guard);
    let _ = input_thread.join();
    result.map(|()| app.error_history)
}

/// Debug builds panic after the first draw when `IPGATE_DEBUG_PANIC` is set, so the end-to-end
/// tests can check that a panic restores the terminal.
fn panic_if_requested() {
    if cfg!(debug_assertions) && std::env::var_os("IPGATE_DEBUG_PANIC").is_some() {
        panic!("IPGATE_DEBUG_PANIC is set: panicking on purpose after the first draw");
    }
}

/// Applies one message; returns whether the screen may have changed.
fn handle(app: &mut App, executor: &mut Executor, message: Message) -> bool {
    let is_tick = matches!(message, Message::Tick);
    if let Message::Reconnected(gateway) = &message {
        executor.replace_gateway(gateway.clone());
    }
    for effect in app.update(message) {
        executor.run(effect);
    }
    !is_tick || app.is_busy()
}

fn spawn_input_thread(
    sender: mpsc::UnboundedSender<Message>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match crossterm::event::poll(Duration::from_millis(100)) {
                Ok(true) => match crossterm::event::read() {
                    Ok(event) => {
                        if sender.send(Message::Input(event)).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "reading terminal input failed");
                        return;
                    }
                },
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, "polling terminal input failed");
                    return;
                }
            }
        }
    })
}

/// Forwards the gateway's retry and pacing waits to the app, so they show as waiting.
fn observe_waits(gateway: Gateway, sender: mpsc::UnboundedSender<Message>) -> Gateway {
    let (wait_sender, mut waits) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(wait) = waits.recv().await {
            if sender.send(Message::AwsWaiting(wait)).is_err() {
                return;
            }
        }
    });
    gateway.with_wait_observer(wait_sender)
}

async fn send_ticks(sender: mpsc::UnboundedSender<Message>) {
    let mut interval = tokio::time::interval(TICK);
    loop {
        interval.tick().await;
        if sender.send(Message::Tick).is_err() {
            return;
        }
    }
}

/// Runs effects on tokio tasks and sends their results back as messages.
struct Executor {
    gateway: Option<Gateway>,
    sender: mpsc::UnboundedSender<Message>,
    stage_queue: Arc<Mutex<VecDeque<String>>>,
    stage_ready: Arc<Notify>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Stops the running set batch after its current stage.
    batch_control: BatchControl,
    /// Listing tasks of the current gateway, aborted when the user switches profile or region
    /// so that no stale reply arrives afterwards.
    listing_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Executor {
    fn new(gateway: Option<Gateway>, sender: mpsc::UnboundedSender<Message>) -> Executor {
        let mut executor = Executor {
            gateway: None,
            sender,
            stage_queue: Arc::new(Mutex::new(VecDeque::new())),
            stage_ready: Arc::new(Notify::new()),
            workers: Vec::new(),
            batch_control: BatchControl::new(),
            listing_tasks: Vec::new(),
        };
        if let Some(gateway) = gateway {
            executor.replace_gateway(gateway);
        }
        executor
    }

    /// Switches to a new gateway: in-flight listings stop and the stage workers restart on it.
    fn replace_gateway(&mut self, gateway: Gateway) {
        self.shutdown();
        self.listing_tasks.clear();
        self.lock_queue().clear();
        let gateway = observe_waits(gateway, self.sender.clone());
        self.workers = (0..STAGE_WORKERS)
            .map(|_| {
                tokio::spawn(list_stages_worker(
                    gateway.clone(),
                    self.sender.clone(),
                    self.stage_queue.clone(),
                    self.stage_ready.clone(),
                ))
            })
            .collect();
        self.gateway = Some(gateway);
    }

    fn run(&mut self, effect: Effect) {
        match effect {
            Effect::Quit => {}
            Effect::StopBatch => self.batch_control.request_stop(),
            Effect::RunBatch { batch, history } => {
                self.batch_control = BatchControl::new();
                let control = self.batch_control.clone();
                let gateway = self.gateway.clone();
                let sender = self.sender.clone();
                tokio::spawn(async move {
                    let plan = batch.0;
                    let mut journal = Journal::open(history.dir(), &plan.id);
                    let summary = run_batch_with(
                        &plan,
                        gateway.as_ref(),
                        Some(&history),
                        &mut journal,
                        &control,
                        |event| {
                            let _ = sender.send(Message::Batch(event));
                        },
                    )
                    .await;
                    tracing::info!(batch = %plan.id, complete = summary.is_complete(), "batch finished");
                });
            }
            Effect::Reconnect(options) => {
                let sender = self.sender.clone();
                tokio::spawn(async move {
                    let gateway = Gateway::connect(&options).await;
                    let _ = sender.send(Message::Reconnected(gateway));
                });
            }
            Effect::RunSave {
                run_id,
                steps,
                from,
                history,
            } => {
                tokio::spawn(run_save(
                    self.gateway.clone(),
                    self.sender.clone(),
                    run_id,
                    steps,
                    from,
                    history,
                ));
            }
            Effect::ListRestApis => self.spawn_aws(|gateway| async move {
                Message::RestApisListed(gateway.list_rest_apis().await)
            }),
            Effect::FindMyIp(source) => {
                let sender = self.sender.clone();
                tokio::spawn(async move {
                    let result = find_my_ip(&source, MY_IP_TIMEOUT)
                        .await
                        .map_err(|error| error.to_string());
                    let _ = sender.send(Message::MyIpFound(result));
                });
            }
            Effect::RefreshRestApi(rest_api_id) => self.spawn_aws(|gateway| async move {
                let result = gateway.get_rest_api(&rest_api_id).await;
                Message::RestApiRefreshed {
                    rest_api_id,
                    result,
                }
            }),
            Effect::ListStages(rest_api_ids) => {
                self.lock_queue().extend(rest_api_ids);
                self.stage_ready.notify_waiters();
                for _ in 0..STAGE_WORKERS {
                    self.stage_ready.notify_one();
                }
            }
            Effect::PrioritizeStages(rest_api_id) => {
                let mut queue = self.lock_queue();
                if let Some(position) = queue.iter().position(|id| id == &rest_api_id) {
                    queue.remove(position);
                    queue.push_front(rest_api_id);
                }
            }
        }
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A worker never panics while holding the lock, so a poisoned lock still has valid data.
        self.stage_queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn spawn_aws<F, Fut>(&mut self, work: F)
    where
        F: FnOnce(Gateway) -> Fut,
        Fut: Future<Output = Message> + Send + 'static,
    {
        let Some(gateway) = self.gateway.clone() else {
            tracing::warn!("an AWS request was made without a connection");
            return;
        };
        let sender = self.sender.clone();
        let future = work(gateway);
        self.listing_tasks.retain(|task| !task.is_finished());
        self.listing_tasks.push(tokio::spawn(async move {
            let _ = sender.send(future.await);
        }));
    }

    fn shutdown(&self) {
        for task in self.workers.iter().chain(&self.listing_tasks) {
            task.abort();
        }
    }
}

async fn list_stages_worker(
    gateway: Gateway,
    sender: mpsc::UnboundedSender<Message>,
    queue: Arc<Mutex<VecDeque<String>>>,
    ready: Arc<Notify>,
) {
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop_front();
        let Some(rest_api_id) = next else {
            ready.notified().await;
            continue;
        };
        let result = gateway.get_stages(&rest_api_id).await;
        if sender
            .send(Message::StagesListed {
                rest_api_id,
                result,
            })
            .is_err()
        {
            return;
        }
    }
}

async fn run_save(
    gateway: Option<Gateway>,
    sender: mpsc::UnboundedSender<Message>,
    run_id: u64,
    steps: Vec<Step>,
    from: usize,
    history: Option<HistoryRecorder>,
) {
    let on_step = |index, result| {
        let message = Message::SaveStepFinished {
            run_id,
            index,
            result,
        };
        sender.send(message).is_ok()
    };
    execute_steps(&steps, from, gateway.as_ref(), history.as_ref(), on_step)
        .instrument(tracing::info_span!("save", run_id))
        .await;
}
