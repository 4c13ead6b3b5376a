//! One stage's allowlist while the user edits it: entries, undo, flags and the resulting policy.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;

use crate::core::access::{
    AccessReport, AccessWarning, Decision, Outcome, compare_with_allowlist, effective_access,
    evaluate_address,
};
use crate::core::chalice::PolicyFile;
use crate::core::cidr::{CidrEntry, CidrError, EntryFlag, flag_entries, parse_entry};
use crate::core::policy::{
    AllowlistEdit, PolicyError, StageAccess, apply_edit, apply_edit_split, check_length,
    stage_access, statement_covers_other_stages,
};
use crate::core::resource::ApiContext;

/// The stage being edited and where its policy lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditTarget {
    pub rest_api_id: Option<String>,
    pub api_name: Option<String>,
    /// The API Gateway stage name.
    pub stage: String,
    pub chalice_stage: Option<String>,
    pub api: ApiContext,
}

impl EditTarget {
    /// "dev (REST API abc123)" or "dev" for a Chalice stage that is not deployed.
    pub fn title(&self) -> String {
        let stage = match &self.chalice_stage {
            Some(chalice) if chalice != &self.stage => {
                format!("{} (Chalice stage {chalice})", self.stage)
            }
            _ => self.stage.clone(),
        };
        match (&self.api_name, &self.rest_api_id) {
            (Some(name), Some(id)) => format!("{name} ({id}) / {stage}"),
            (None, Some(id)) => format!("{id} / {stage}"),
            _ => stage,
        }
    }
}

/// The stage's access once its list is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyChoice {
    Open,
    Closed,
}

/// A reason the edit cannot be saved yet, in the order the UI resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveBlocker {
    /// An entry is not a valid CIDR.
    InvalidEntry {
        index: usize,
        error: String,
    },
    /// The last entry was removed: open to everyone or closed to everyone?
    EmptyChoiceNeeded,
    /// A `/0` entry: the stage would have no IPv4 (or IPv6) restriction.
    UnrestrictedNotConfirmed {
        ipv6: bool,
    },
    Policy(String),
    /// Over API Gateway's size quota for a resource policy, in characters.
    TooLong {
        length: usize,
        max: usize,
    },
}

/// One stage's decisions for one caller address, now and after the save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressDecision {
    pub stage: String,
    pub now: Decision,
    pub after: Decision,
}

/// The outcome of adding an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    Added(String),
    /// The same network is already listed; nothing changed.
    AlreadyPresent(String),
}

/// Edit state of one stage's allowlist.
#[derive(Debug, Clone)]
pub struct EditSession {
    pub target: EditTarget,
    /// The local policy file when the session started (Chalice stages only).
    pub local: Option<PolicyFile>,
    /// The configured policy file path, even when the file does not exist yet.
    pub local_path: Option<PathBuf>,
    /// The live policy when the session started; `None` when unknown or absent.
    pub live: Option<Value>,
    pub live_known: bool,
    /// The document edits apply to: the local file, else the live policy.
    pub base: Option<Value>,
    pub original_access: StageAccess,
    pub original_entries: Vec<String>,
    pub entries: Vec<String>,
    pub empty_choice: Option<EmptyChoice>,
    /// Replaces the generated deployment description (rollbacks and drift fixes).
    pub description_override: Option<String>,
    /// The REST API's other stages, which an edit must leave alone.
    pub other_stages: Vec<String>,
    /// Apply the edit to every stage the allowlist's statement covers, instead of giving this
    /// stage a statement of its own.
    pub apply_to_shared: bool,
    confirmed_unrestricted: BTreeSet<bool>,
    undo_stack: Vec<Vec<String>>,
}

impl EditSession {
    /// Starts a session on `base`, which the caller picked (the local file when there is one).
    pub fn new(
        target: EditTarget,
        local: Option<PolicyFile>,
        local_path: Option<PathBuf>,
        live: Option<Value>,
        live_known: bool,
    ) -> Result<EditSession, PolicyError> {
        let base = match &local {
            Some(file) => Some(file.document.clone()),
            None => live.clone(),
        };
        let original_access = stage_access(base.as_ref(), &target.stage, &target.api)?;
        let original_entries = match &original_access {
            StageAccess::Allowlist(allowlist) => allowlist.cidrs.clone(),
            StageAccess::Unrestricted | StageAccess::Closed => Vec::new(),
        };

        Ok(EditSession {
            target,
            local,
            local_path,
            live,
            live_known,
            base,
            entries: original_entries.clone(),
            original_entries,
            original_access,
            empty_choice: None,
            description_override: None,
            other_stages: Vec::new(),
            apply_to_shared: false,
            confirmed_unrestricted: BTreeSet::new(),
            undo_stack: Vec::new(),
        })
    }

    pub fn is_dirty(&self) -> bool {
        self.entries != self.original_entries || self.empty_choice_changes_access()
    }

    fn empty_choice_changes_access(&self) -> bool {
        if !self.entries.is_empty() {
            return false;
        }
        match (self.empty_choice, &self.original_access) {
            (Some(EmptyChoice::Open), StageAccess::Unrestricted) => false,
            (Some(EmptyChoice::Closed), StageAccess::Closed) => false,
            (Some(_), _) => true,
            (None, _) => false,
        }
    }

    /// Adds an entry typed by the user, in canonical form, unless it is already listed.
    pub fn add(&mut self, text: &str) -> Result<AddOutcome, CidrError> {
        let entry = parse_entry(text)?;
        let canonical = entry.canonical();
        if self.position_of(&entry).is_some() {
            return Ok(AddOutcome::AlreadyPresent(canonical));
        }

        self.push_undo();
        self.entries.push(canonical.clone());
        Ok(AddOutcome::Added(canonical))
    }

    /// Replaces the entry at `index` with `text`, in canonical form.
    pub fn replace(&mut self, index: usize, text: &str) -> Result<String, CidrError> {
        let entry = parse_entry(text)?;
        let canonical = entry.canonical();
        if index >= self.entries.len() || self.entries[index] == canonical {
            return Ok(canonical);
        }

        self.push_undo();
        self.entries[index] = canonical.clone();
        Ok(canonical)
    }

    /// Removes the entry at `index`; returns it.
    pub fn delete(&mut self, index: usize) -> Option<String> {
        if index >= self.entries.len() {
            return None;
        }
        self.push_undo();
        Some(self.entries.remove(index))
    }

    /// Replaces an entry with host bits set by the network it really covers.
    pub fn normalize(&mut self, index: usize) -> Option<String> {
        let entry = parse_entry(self.entries.get(index)?).ok()?;
        if !entry.has_host_bits() {
            return None;
        }
        let network = entry.covered_network().to_string();
        self.push_undo();
        self.entries[index] = network.clone();
        Some(network)
    }

    /// Replaces every entry at once, as merging networks does; undo restores the old list.
    pub fn replace_all(&mut self, entries: Vec<String>) {
        self.push_undo();
        self.entries = entries;
    }

    /// Restores the entries before the last change; false when there is nothing to undo.
    pub fn undo(&mut self) -> bool {
        match self.undo_stack.pop() {
            Some(entries) => {
                self.entries = entries;
                true
            }
            None => false,
        }
    }

    fn push_undo(&mut self) {
        self.undo_stack.push(self.entries.clone());
        self.confirmed_unrestricted.clear();
    }

    fn position_of(&self, entry: &CidrEntry) -> Option<usize> {
        let canonical = entry.canonical();
        self.entries
            .iter()
            .position(|existing| match parse_entry(existing) {
                Ok(parsed) => parsed.canonical() == canonical,
                Err(_) => existing == &canonical,
            })
    }

    /// Parsed entries, or the error for each invalid one.
    pub fn parsed(&self) -> Vec<Result<CidrEntry, CidrError>> {
        self.entries.iter().map(|text| parse_entry(text)).collect()
    }

    /// Flags for each entry; invalid entries get none here (see [`Self::parsed`]).
    pub fn flags(&self) -> Vec<Vec<EntryFlag>> {
        let parsed = self.parsed();
        let valid: Vec<CidrEntry> = parsed
            .iter()
            .filter_map(|entry| entry.clone().ok())
            .collect();
        let mut valid_flags = flag_entries(&valid).into_iter();
        let valid_indexes: Vec<usize> = parsed
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.is_ok())
            .map(|(index, _)| index)
            .collect();

        parsed
            .iter()
            .map(|entry| match entry {
                Ok(_) => remap_flag_indexes(valid_flags.next().unwrap_or_default(), &valid_indexes),
                Err(_) => Vec::new(),
            })
            .collect()
    }

    pub fn set_empty_choice(&mut self, choice: EmptyChoice) {
        self.empty_choice = Some(choice);
    }

    pub fn confirm_unrestricted(&mut self, ipv6: bool) {
        self.confirmed_unrestricted.insert(ipv6);
    }

    /// Returns the first thing that stops a save, if any.
    pub fn save_blocker(&self) -> Option<SaveBlocker> {
        for (index, entry) in self.parsed().iter().enumerate() {
            if let Err(error) = entry {
                return Some(SaveBlocker::InvalidEntry {
                    index,
                    error: error.to_string(),
                });
            }
        }
        if self.entries.is_empty()
            && self.original_access_is_restricted()
            && self.empty_choice.is_none()
        {
            return Some(SaveBlocker::EmptyChoiceNeeded);
        }
        for entry in self.parsed().into_iter().flatten() {
            let ipv6 = entry.network.is_ipv6();
            if entry.is_unrestricted() && !self.confirmed_unrestricted.contains(&ipv6) {
                return Some(SaveBlocker::UnrestrictedNotConfirmed { ipv6 });
            }
        }
        match self.proposed_document() {
            Err(error) => Some(SaveBlocker::Policy(error.to_string())),
            Ok(Some(document)) => match check_length(&document) {
                Err(PolicyError::TooLong { length, max }) => {
                    Some(SaveBlocker::TooLong { length, max })
                }
                _ => None,
            },
            Ok(None) => None,
        }
    }

    fn original_access_is_restricted(&self) -> bool {
        !matches!(self.original_access, StageAccess::Unrestricted)
    }

    /// Returns the change to apply, or `None` when the allowlist is unchanged.
    pub fn allowlist_edit(&self) -> Option<AllowlistEdit> {
        if !self.is_dirty() {
            return None;
        }
        if !self.entries.is_empty() {
            return Some(AllowlistEdit::Set(self.entries.clone()));
        }
        match self.empty_choice {
            Some(EmptyChoice::Open) => Some(AllowlistEdit::Open),
            Some(EmptyChoice::Closed) => Some(AllowlistEdit::Closed),
            None => None,
        }
    }

    /// Other stages of the REST API that the statement holding this stage's allowlist covers.
    pub fn shared_stages(&self) -> Vec<String> {
        let (Some(base), StageAccess::Allowlist(allowlist)) = (&self.base, &self.original_access)
        else {
            return Vec::new();
        };
        statement_covers_other_stages(
            base,
            allowlist.statement_index,
            &self.target.stage,
            &self.other_stages,
            &self.target.api,
        )
    }

    /// The document save would write: the base with this stage's edit applied. A statement
    /// shared with other stages is split unless [`Self::apply_to_shared`] is set, so that only
    /// this stage changes.
    pub fn proposed_document(&self) -> Result<Option<Value>, PolicyError> {
        let Some(edit) = self.allowlist_edit() else {
            return Ok(self.base.clone());
        };
        let (base, stage, api) = (self.base.as_ref(), &self.target.stage, &self.target.api);
        if self.apply_to_shared || self.shared_stages().is_empty() {
            apply_edit(base, stage, api, &edit)
        } else {
            apply_edit_split(base, stage, api, &edit, &self.other_stages)
        }
    }

    /// Re-applies this session's change on top of `base`, a newer version of the document
    /// that someone else changed: entries the user added are added to its list, entries the
    /// user removed are removed, and everything else comes from `base`.
    pub fn rebase(&mut self, base: Option<Value>) -> Result<(), PolicyError> {
        let (added, removed) = self.changes();
        let access = stage_access(base.as_ref(), &self.target.stage, &self.target.api)?;
        let original_entries = match &access {
            StageAccess::Allowlist(allowlist) => allowlist.cidrs.clone(),
            StageAccess::Unrestricted | StageAccess::Closed => Vec::new(),
        };

        let mut entries: Vec<String> = original_entries
            .iter()
            .filter(|entry| !removed.contains(entry))
            .cloned()
            .collect();
        for entry in added {
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }

        self.base = base;
        self.original_access = access;
        self.original_entries = original_entries;
        self.entries = entries;
        self.undo_stack.clear();
        Ok(())
    }

    /// Returns the document in force now: the live policy when it is known, else the base.
    pub fn current_document(&self) -> Option<&Value> {
        if self.live_known {
            self.live.as_ref()
        } else {
            self.base.as_ref()
        }
    }

    /// Evaluates who can call the stage now.
    pub fn access_now(&self) -> AccessReport {
        effective_access(
            self.current_document(),
            &self.target.stage,
            &self.target.api,
        )
    }

    /// Evaluates who could call the stage after the save, and every way that differs from the
    /// list shown.
    pub fn access_after(&self) -> Result<(AccessReport, Vec<AccessWarning>), PolicyError> {
        let proposed = self.proposed_document()?;
        let report = effective_access(proposed.as_ref(), &self.target.stage, &self.target.api);
        let warnings = if self.entries.is_empty() {
            Vec::new()
        } else {
            compare_with_allowlist(&report, &self.entries)
        };
        Ok((report, warnings))
    }

    /// Decisions for `address` now and after the save, when the save would take away access
    /// the address has now.
    pub fn lockout(&self, address: IpAddr) -> Option<(Decision, Decision)> {
        let (stage, api) = (&self.target.stage, &self.target.api);
        let before = evaluate_address(self.current_document(), stage, address, false, api);
        if before.outcome != Outcome::Allowed {
            return None;
        }
        let proposed = self.proposed_document().ok()?;
        let after = evaluate_address(proposed.as_ref(), stage, address, false, api);
        (after.outcome != Outcome::Allowed).then_some((before, after))
    }

    /// Decisions for `address` on every stage of the REST API, now and after the save.
    pub fn test_address(&self, address: IpAddr) -> Vec<AddressDecision> {
        let proposed = self.proposed_document().ok().flatten();
        let api = &self.target.api;
        std::iter::once(&self.target.stage)
            .chain(&self.other_stages)
            .map(|stage| {
                let now = evaluate_address(self.current_document(), stage, address, false, api);
                let after = evaluate_address(proposed.as_ref(), stage, address, false, api);
                AddressDecision {
                    stage: stage.clone(),
                    now,
                    after,
                }
            })
            .collect()
    }

    /// Replaces the whole document with `document` (a rollback, or one side of a drift), keeping
    /// no entry edits; save then writes it to the file and live. For a Chalice stage, "no
    /// policy" becomes a policy that allows everyone, because Chalice needs a file to embed.
    pub fn reset_to(
        &mut self,
        document: Option<Value>,
        description: String,
    ) -> Result<(), PolicyError> {
        let document = match (document, &self.target.chalice_stage) {
            (None, Some(_)) => Some(allow_everyone_document()),
            (document, _) => document,
        };
        let access = stage_access(document.as_ref(), &self.target.stage, &self.target.api)?;
        self.original_entries = match &access {
            StageAccess::Allowlist(allowlist) => allowlist.cidrs.clone(),
            StageAccess::Unrestricted | StageAccess::Closed => Vec::new(),
        };
        self.entries = self.original_entries.clone();
        self.original_access = access;
        self.base = document;
        self.empty_choice = None;
        self.undo_stack.clear();
        self.description_override = Some(description);
        Ok(())
    }

    /// Added and removed entries against the start of the session, by covered network text.
    pub fn changes(&self) -> (Vec<String>, Vec<String>) {
        let added = self
            .entries
            .iter()
            .filter(|entry| !self.original_entries.contains(entry))
            .cloned()
            .collect();
        let removed = self
            .original_entries
            .iter()
            .filter(|entry| !self.entries.contains(entry))
            .cloned()
            .collect();
        (added, removed)
    }

    /// The deployment description, for example `ipgate: dev +203.0.113.7/32 -198.51.100.0/24`,
    /// named after the Chalice stage when there is one.
    pub fn deployment_description(&self) -> String {
        let stage = self
            .target
            .chalice_stage
            .as_ref()
            .unwrap_or(&self.target.stage);
        if let Some(description) = &self.description_override {
            return truncate_description(&format!("ipgate: {stage} {description}"));
        }
        let (added, removed) = self.changes();
        let mut parts: Vec<String> = added.iter().map(|entry| format!("+{entry}")).collect();
        parts.extend(removed.iter().map(|entry| format!("-{entry}")));
        if self.entries.is_empty() {
            match self.empty_choice {
                Some(EmptyChoice::Open) => parts.push("open to everyone".to_string()),
                Some(EmptyChoice::Closed) => parts.push("closed to everyone".to_string()),
                None => {}
            }
        }
        if parts.is_empty() {
            parts.push("policy update".to_string());
        }
        truncate_description(&format!("ipgate: {stage} {}", parts.join(" ")))
    }
}

/// A policy that lets every caller invoke every stage.
fn allow_everyone_document() -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*"
        }]
    })
}

/// Keeps a deployment description short enough to read in the console and in lists.
fn truncate_description(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_CHARS - 3).collect();
    format!("{kept}...")
}

/// Maps indexes in flags computed over valid entries back to indexes in the full list.
fn remap_flag_indexes(flags: Vec<EntryFlag>, valid_indexes: &[usize]) -> Vec<EntryFlag> {
    let map = |index: usize| valid_indexes.get(index).copied().unwrap_or(index);
    flags
        .into_iter()
        .map(|flag| match flag {
            EntryFlag::Duplicate { of } => EntryFlag::Duplicate { of: map(of) },
            EntryFlag::CoveredBy { index } => EntryFlag::CoveredBy { index: map(index) },
            other => other,
        })
        .collect()
}
