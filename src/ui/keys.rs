//! Key help for each view: the footer line and the `?` overlay come from the same tables.

use super::app::{App, Screen};
use super::batch::BatchPhase;
use super::editor::{Overlay, Prompt};

/// One key and what it does.
pub type KeyHelp = (&'static str, &'static str);

const HOME: &[KeyHelp] = &[
    ("Enter/e", "edit stage"),
    ("/", "filter"),
    ("r", "reload"),
    ("q", "quit"),
    ("S", "named sets"),
    ("P", "switch profile and region"),
    ("j/k ↑/↓", "move"),
    ("g/G", "first/last"),
    ("?", "help"),
];

const SWITCH: &[KeyHelp] = &[
    ("Tab", "profile or region"),
    ("Enter", "connect"),
    ("Esc", "cancel"),
];

const FILTER: &[KeyHelp] = &[
    ("type", "filter rows"),
    ("Enter", "keep filter"),
    ("Esc", "clear filter"),
];

const EDITOR: &[KeyHelp] = &[
    ("a", "add"),
    ("e", "edit"),
    ("d", "delete"),
    ("u", "undo"),
    ("p", "preview"),
    ("s", "save"),
    ("Esc", "back"),
    ("n", "normalise host bits"),
    ("m", "add my public address"),
    ("l", "label the entry"),
    ("A", "merge overlapping and adjacent networks"),
    ("t", "shared statement: this stage only, or all"),
    ("T", "test an address against every stage"),
    ("H", "history of live policies; Enter rolls back"),
    ("L", "drift: take the live policy into the file"),
    ("F", "drift: push the file live and redeploy"),
    ("j/k ↑/↓", "move"),
    ("?", "help"),
];

const INPUT: &[KeyHelp] = &[
    ("Enter", "accept"),
    ("Esc", "cancel"),
    ("Backspace", "delete character"),
];

const PREVIEW: &[KeyHelp] = &[
    ("1/2/3 Tab", "switch tab"),
    ("j/k PgUp/PgDn", "scroll"),
    ("s", "save"),
    ("Esc/p", "back to editor"),
];

const CONFIRM: &[KeyHelp] = &[
    ("y", "run these steps"),
    ("o", "own file on/off (shared files)"),
    ("any other key", "cancel"),
];

const PROGRESS_RUNNING: &[KeyHelp] = &[("Ctrl-C", "quit after asking")];
const PROGRESS_FAILED: &[KeyHelp] = &[
    ("r", "retry from the failed step"),
    ("Esc", "back to the editor"),
];
const PROGRESS_CONFLICT: &[KeyHelp] = &[
    ("a", "apply your edit on top of the current version"),
    ("Esc", "back to the editor"),
];
const PROGRESS_DONE: &[KeyHelp] = &[("Enter/Esc", "back to the stage list")];

const EMPTY_CHOICE: &[KeyHelp] = &[
    ("o", "open to everyone"),
    ("c", "closed to everyone"),
    ("Esc", "undo the removal"),
];

const CONFIRM_PROMPT: &[KeyHelp] = &[("y", "yes"), ("any other key", "no")];

const TEST_ADDRESS: &[KeyHelp] = &[
    ("type", "an IPv4 or IPv6 address"),
    ("Enter", "test it"),
    ("Esc", "back"),
];

const HISTORY: &[KeyHelp] = &[
    ("j/k ↑/↓", "choose a version"),
    ("Enter", "roll back to it (asks first)"),
    ("Esc", "back"),
];

const LOCKOUT: &[KeyHelp] = &[
    ("type", "the stage name"),
    ("Enter", "save anyway"),
    ("Esc", "cancel"),
];

const GLOBAL: &[KeyHelp] = &[
    ("Ctrl-C", "quit (asks first when edits are unsaved)"),
    ("?", "help for this view"),
];

const SETS_LIST: &[KeyHelp] = &[
    ("Enter", "edit set"),
    ("n", "new set"),
    ("R", "resume an interrupted batch"),
    ("Esc", "back"),
    ("j/k ↑/↓", "move"),
];

const BATCH_CONFIRM: &[KeyHelp] = &[
    ("y", "apply to every stage listed"),
    ("j/k", "see a stage's diff"),
    ("any other key", "cancel"),
];
const BATCH_LOCKOUT: &[KeyHelp] = &[
    ("type", "the set name"),
    ("Enter", "apply anyway"),
    ("Esc", "cancel"),
];
const BATCH_RUNNING: &[KeyHelp] = &[
    ("x", "stop after the current stage"),
    ("j/k", "see a stage's diff"),
];
const BATCH_DONE: &[KeyHelp] = &[
    ("Enter/Esc", "back to the sets"),
    ("j/k", "see a stage's diff"),
];

const SET_EDITOR: &[KeyHelp] = &[
    ("a", "add network"),
    ("m", "add my public address"),
    ("d", "delete"),
    ("l", "label"),
    ("s", "save and apply to its stages"),
    ("Esc", "back (drops edits)"),
];

/// The keys of the view that has the focus, most used first: the footer shows those that fit.
pub fn current_keys(app: &App) -> &'static [KeyHelp] {
    match &app.screen {
        Screen::Home if app.home.filtering => FILTER,
        Screen::Home if app.home.switch.is_some() => SWITCH,
        Screen::Home => HOME,
        Screen::Sets(screen) if screen.input.is_some() => INPUT,
        Screen::Sets(screen) if screen.editor.is_some() => SET_EDITOR,
        Screen::Sets(_) => SETS_LIST,
        Screen::Batch(view) => match &view.phase {
            BatchPhase::Confirm { .. } if view.has_lockout() => BATCH_LOCKOUT,
            BatchPhase::Confirm { .. } => BATCH_CONFIRM,
            BatchPhase::Running => BATCH_RUNNING,
            BatchPhase::Finished(_) => BATCH_DONE,
        },
        Screen::Editor(editor) => match (&editor.prompt, &editor.input, &editor.overlay) {
            (Some(Prompt::EmptyChoice), _, _) => EMPTY_CHOICE,
            (Some(Prompt::ConfirmLockout { .. }), _, _) => LOCKOUT,
            (Some(_), _, _) => CONFIRM_PROMPT,
            (None, Some(_), _) => INPUT,
            (None, None, Overlay::Preview { .. }) => PREVIEW,
            (None, None, Overlay::Confirm(_)) => CONFIRM,
            (None, None, Overlay::Progress(run)) if run.is_running() => PROGRESS_RUNNING,
            (None, None, Overlay::Progress(run)) if run.conflict.is_some() => PROGRESS_CONFLICT,
            (None, None, Overlay::Progress(run)) if run.failed_step().is_some() => PROGRESS_FAILED,
            (None, None, Overlay::Progress(_)) => PROGRESS_DONE,
            (None, None, Overlay::TestAddress { .. }) => TEST_ADDRESS,
            (None, None, Overlay::History { .. }) => HISTORY,
            (None, None, Overlay::None) => EDITOR,
        },
    }
}

/// The `?` overlay's lines: the current view's keys, then the global ones.
pub fn help_lines(app: &App) -> Vec<KeyHelp> {
    let mut lines: Vec<KeyHelp> = current_keys(app)
        .iter()
        .filter(|(key, _)| *key != "?")
        .copied()
        .collect();
    lines.extend_from_slice(GLOBAL);
    lines
}
