//! The named-set screen: list sets, edit one, and apply a change to every stage that includes it.

use std::net::IpAddr;

use crossterm::event::{KeyCode, KeyEvent};

use crate::core::cidr::parse_entry;
use crate::core::sets::{self, Origin, SetEntry};
use crate::model::Inventory;

/// The app's next action after the set screen handled a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetsOutcome {
    None,
    Status {
        text: String,
        is_error: bool,
    },
    Close,
    /// The set was saved with this change; plan and confirm the batch that applies it.
    /// The set's networks changed and stages include it: plan the batch, and write the set with
    /// `editor`'s entries only when the batch is confirmed.
    Apply {
        set: String,
        added: Vec<String>,
        removed: Vec<String>,
        editor: Box<SetEditor>,
    },
    /// Resume the oldest interrupted batch.
    Resume,
}

impl SetsOutcome {
    fn info(text: impl Into<String>) -> SetsOutcome {
        SetsOutcome::Status {
            text: text.into(),
            is_error: false,
        }
    }

    fn error(text: impl Into<String>) -> SetsOutcome {
        SetsOutcome::Status {
            text: text.into(),
            is_error: true,
        }
    }
}

/// The purpose of the set screen's input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetInput {
    NewSet,
    AddEntry,
    Label(usize),
}

/// One set being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEditor {
    pub name: String,
    pub origin: Origin,
    pub entries: Vec<SetEntry>,
    pub original: Vec<SetEntry>,
    pub selected: usize,
    /// Stages that include the set.
    pub stages: Vec<String>,
}

impl SetEditor {
    pub fn is_dirty(&self) -> bool {
        self.entries != self.original
    }

    /// Added and removed networks, in canonical text, against the set as loaded.
    pub fn change(&self) -> (Vec<String>, Vec<String>) {
        let canonical = |entries: &[SetEntry]| -> Vec<String> {
            entries
                .iter()
                .filter_map(|entry| parse_entry(&entry.cidr).ok())
                .map(|entry| entry.canonical())
                .collect()
        };
        let (before, after) = (canonical(&self.original), canonical(&self.entries));
        let added = after
            .iter()
            .filter(|entry| !before.contains(entry))
            .cloned()
            .collect();
        let removed = before
            .iter()
            .filter(|entry| !after.contains(entry))
            .cloned()
            .collect();
        (added, removed)
    }
}

/// The set screen's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetsScreen {
    pub selected: usize,
    pub editor: Option<SetEditor>,
    pub input: Option<(SetInput, String)>,
}

impl SetsScreen {
    /// Handles one key; `my_ip` is the user's public address for `m`, when known.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        inventory: &mut Inventory,
        my_ip: Option<IpAddr>,
    ) -> SetsOutcome {
        if let Some((mode, text)) = self.input.take() {
            return self.on_input_key(key, mode, text, inventory);
        }
        match self.editor.take() {
            Some(editor) => self.on_editor_key(key, editor, inventory, my_ip),
            None => self.on_list_key(key, inventory),
        }
    }

    fn on_list_key(&mut self, key: KeyEvent, inventory: &Inventory) -> SetsOutcome {
        let names = inventory.sets.merged.config.set_names();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => SetsOutcome::Close,
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(names.len().saturating_sub(1));
                SetsOutcome::None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                SetsOutcome::None
            }
            KeyCode::Char('n') => {
                self.input = Some((SetInput::NewSet, String::new()));
                SetsOutcome::None
            }
            KeyCode::Char('R') => SetsOutcome::Resume,
            KeyCode::Enter | KeyCode::Char('e') => match names.get(self.selected) {
                Some(name) => {
                    self.editor = Some(open_set(name, inventory));
                    SetsOutcome::None
                }
                None => SetsOutcome::info("No sets yet: press n to create one."),
            },
            _ => SetsOutcome::None,
        }
    }

    fn on_editor_key(
        &mut self,
        key: KeyEvent,
        mut editor: SetEditor,
        inventory: &mut Inventory,
        my_ip: Option<IpAddr>,
    ) -> SetsOutcome {
        let count = editor.entries.len();
        let outcome = match key.code {
            KeyCode::Esc | KeyCode::Char('q') if editor.is_dirty() => {
                // Leaving drops the edits; a second Esc on the list is needed to leave the screen.
                return SetsOutcome::info(format!("Edits of set {} discarded.", editor.name));
            }
            KeyCode::Esc | KeyCode::Char('q') => return SetsOutcome::None,
            KeyCode::Down | KeyCode::Char('j') => {
                editor.selected = (editor.selected + 1).min(count.saturating_sub(1));
                SetsOutcome::None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                editor.selected = editor.selected.saturating_sub(1);
                SetsOutcome::None
            }
            KeyCode::Char('a') => {
                self.input = Some((SetInput::AddEntry, String::new()));
                SetsOutcome::None
            }
            KeyCode::Char('m') => {
                // The address goes through the same input, prefilled, so the user sees it first.
                let text = my_ip.map(|address| address.to_string()).unwrap_or_default();
                self.input = Some((SetInput::AddEntry, text));
                match my_ip {
                    Some(_) => {
                        SetsOutcome::info("Your public address: Enter adds it, then l labels it.")
                    }
                    None => SetsOutcome::info(
                        "Your public address is unknown (see the header); type it.",
                    ),
                }
            }
            KeyCode::Char('l') if count > 0 => {
                let label = editor.entries[editor.selected]
                    .label
                    .clone()
                    .unwrap_or_default();
                self.input = Some((SetInput::Label(editor.selected), label));
                SetsOutcome::None
            }
            KeyCode::Char('d') if count > 0 => {
                let removed = editor.entries.remove(editor.selected);
                editor.selected = editor.selected.min(editor.entries.len().saturating_sub(1));
                SetsOutcome::info(format!(
                    "Removed {} from set {}.",
                    removed.cidr, editor.name
                ))
            }
            KeyCode::Char('s') => return self.save_set(editor, inventory),
            _ => SetsOutcome::None,
        };
        self.editor = Some(editor);
        outcome
    }

    fn on_input_key(
        &mut self,
        key: KeyEvent,
        mode: SetInput,
        mut text: String,
        inventory: &mut Inventory,
    ) -> SetsOutcome {
        match key.code {
            KeyCode::Esc => return SetsOutcome::None,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(character) => text.push(character),
            KeyCode::Enter => return self.submit_input(mode, text, inventory),
            _ => {}
        }
        self.input = Some((mode, text));
        SetsOutcome::None
    }

    fn submit_input(
        &mut self,
        mode: SetInput,
        text: String,
        inventory: &mut Inventory,
    ) -> SetsOutcome {
        let text = text.trim().to_string();
        match mode {
            SetInput::NewSet => {
                if inventory.sets.merged.config.set(&text).is_some() {
                    self.input = Some((mode, text.clone()));
                    return SetsOutcome::error(format!("A set named {text} exists already."));
                }
                let origin = if inventory.sets.project.is_some() {
                    Origin::Project
                } else {
                    Origin::Personal
                };
                self.editor = Some(SetEditor {
                    name: text,
                    origin,
                    entries: Vec::new(),
                    original: Vec::new(),
                    selected: 0,
                    stages: Vec::new(),
                });
                SetsOutcome::info("New set: press a to add networks, s to save it.")
            }
            SetInput::AddEntry => {
                let Some(editor) = self.editor.as_mut() else {
                    return SetsOutcome::None;
                };
                match parse_entry(&text) {
                    Ok(entry) => {
                        let network = entry.covered_network().to_string();
                        if editor
                            .entries
                            .iter()
                            .any(|existing| existing.cidr == network)
                        {
                            return SetsOutcome::info(format!(
                                "{network} is already in set {}.",
                                editor.name
                            ));
                        }
                        editor.entries.push(SetEntry {
                            cidr: network.clone(),
                            label: None,
                        });
                        editor.selected = editor.entries.len() - 1;
                        SetsOutcome::info(format!("Added {network}; press l to label it."))
                    }
                    Err(error) => {
                        self.input = Some((mode, text));
                        SetsOutcome::error(error.to_string())
                    }
                }
            }
            SetInput::Label(index) => {
                if let Some(entry) = self
                    .editor
                    .as_mut()
                    .and_then(|editor| editor.entries.get_mut(index))
                {
                    entry.label = Some(text).filter(|label| !label.is_empty());
                }
                SetsOutcome::None
            }
        }
    }

    /// Writes the set to its file; a change of networks then goes to every including stage.
    /// Saves a set whose change reaches no stage at once. A change that reaches stages goes to
    /// the batch screen first, and the file is written only when that batch is confirmed.
    fn save_set(&mut self, editor: SetEditor, inventory: &mut Inventory) -> SetsOutcome {
        let (added, removed) = editor.change();
        let networks_changed = !added.is_empty() || !removed.is_empty();
        let reaches_stages = networks_changed && !editor.stages.is_empty();
        if reaches_stages {
            let outcome = SetsOutcome::Apply {
                set: editor.name.clone(),
                added,
                removed,
                editor: Box::new(editor),
            };
            return outcome;
        }

        let name = editor.name.clone();
        match write_set(&editor, inventory) {
            Ok(()) => {
                self.editor = Some(open_set(&name, inventory));
                SetsOutcome::info(format!("Set {name} saved."))
            }
            Err(error) => {
                self.editor = Some(editor);
                SetsOutcome::error(format!("Set not saved: {error}"))
            }
        }
    }
}

/// Writes the set's entries to its file, the project's or the user's, and reloads the merge.
pub fn write_set(editor: &SetEditor, inventory: &mut Inventory) -> Result<(), String> {
    let file = match editor.origin {
        Origin::Project => inventory.sets.project.clone(),
        Origin::Personal => inventory.sets.personal.clone(),
    };
    let file =
        file.ok_or("there is no file for this set: no project and no user config directory")?;

    let mut config = file.model.clone();
    config
        .upsert_set(&editor.name, editor.entries.clone())
        .map_err(|error| error.to_string())?;
    let saved = sets::save(&file, &config).map_err(|error| error.to_string())?;
    match editor.origin {
        Origin::Project => inventory.sets.project = Some(saved.file),
        Origin::Personal => inventory.sets.personal = Some(saved.file),
    }
    inventory.sets.remerge();
    Ok(())
}

/// The merged configuration as it would be with the editor's entries saved.
pub fn config_with(
    editor: &SetEditor,
    inventory: &Inventory,
) -> Result<sets::IpgateConfig, String> {
    let mut config = inventory.sets.merged.config.clone();
    config
        .upsert_set(&editor.name, editor.entries.clone())
        .map_err(|error| error.to_string())?;
    Ok(config)
}

fn open_set(name: &str, inventory: &Inventory) -> SetEditor {
    let merged = &inventory.sets.merged;
    let entries = merged
        .config
        .set(name)
        .map(|set| set.entries.clone())
        .unwrap_or_default();
    SetEditor {
        name: name.to_string(),
        origin: merged.origin_of(name).unwrap_or(Origin::Project),
        original: entries.clone(),
        entries,
        selected: 0,
        stages: merged.config.stages_including(name),
    }
}
