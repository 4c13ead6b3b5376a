//! Labels and named sets of CIDRs, kept in `ipgate.json`, and the stages that include them.
//!
//! A project keeps its file at `.chalice/ipgate.json`, meant to be committed. The user file,
//! `ipgate.json` in the user config directory, contains personal sets and the stages of REST APIs
//! that have no project. Stages are keyed by Chalice stage name, or by `REST_API_ID/STAGE`
//! (see [`live_stage_key`]) for an API that exists only live.
//!
//! Parsing, rendering and every operation work on text and values. Only [`load`] and [`save`]
//! touch the disk, and [`user_file_path`] reads the environment.
//!
//! CIDRs are matched by the network they cover, in canonical text: `2001:DB8::1` and
//! `2001:db8::1/128` name the same network. CIDRs in the file must not have host bits set,
//! because `192.0.2.77/24` could mean the network or a mistyped single address.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::chalice::{atomic_write, detect_line_ending};
use super::cidr::{CidrEntry, CidrError, parse_entry};
use super::jsontext::{SyntaxError, parse_strict};

/// The format version this ipgate reads and writes, stored as `"version"`.
pub const FORMAT_VERSION: u64 = 1;

/// The file name, in `.chalice/` for a project and in the user config directory.
pub const FILE_NAME: &str = "ipgate.json";

/// The environment variable that overrides the user config directory.
pub const CONFIG_DIR_VAR: &str = "IPGATE_CONFIG_DIR";

/// The contents of one `ipgate.json`. Every list keeps file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpgateConfig {
    pub labels: Vec<Label>,
    pub sets: Vec<NamedSet>,
    pub stages: Vec<StageSets>,
}

/// A name for one network, shown next to entries that cover the same network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The CIDR as written in the file.
    pub cidr: String,
    pub label: String,
}

/// A named list of CIDRs that stages can include, such as `office` or `vpn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSet {
    pub name: String,
    pub description: Option<String>,
    pub entries: Vec<SetEntry>,
}

/// One CIDR of a named set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEntry {
    /// The CIDR as written in the file.
    pub cidr: String,
    pub label: Option<String>,
}

/// The sets one stage includes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSets {
    /// A Chalice stage name, or `REST_API_ID/STAGE` for an API without a project.
    pub stage: String,
    pub sets: Vec<String>,
}

/// One `ipgate.json`: its path, its text as read and its parsed contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpgateFile {
    pub path: PathBuf,
    /// The text as read, or `None` when the file did not exist.
    pub text: Option<String>,
    pub model: IpgateConfig,
}

/// The origin of an entry in a resolved allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    /// The stage's own allowlist.
    Own,
    /// The named set included by the stage.
    Set(String),
}

/// One entry of a stage's allowlist after its sets are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEntry {
    /// The stage's own entry as given, or the canonical text of a set entry.
    pub cidr: String,
    pub label: Option<String>,
    /// Every place that lists this network, in resolution order, without repeats.
    pub sources: Vec<EntrySource>,
}

/// The file a set of a merged configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Project,
    Personal,
}

/// The project and personal files seen as one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedConfig {
    pub config: IpgateConfig,
    /// The origin of each set of `config`, in the same order.
    pub set_origins: Vec<(String, Origin)>,
    pub warnings: Vec<MergeWarning>,
}

/// A definition of the personal file that the project file overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeWarning {
    /// Both files define a set of this name, and the project's set is used.
    SetShadowed { name: String },
    /// Both files label the same network differently, and the project's label is used.
    LabelConflict {
        cidr: String,
        project: String,
        personal: String,
    },
}

impl fmt::Display for MergeWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeWarning::SetShadowed { name } => write!(
                formatter,
                "set '{name}' is defined in both the project file and the personal file; \
                 the project's set is used, so rename the personal one to use both"
            ),
            MergeWarning::LabelConflict {
                cidr,
                project,
                personal,
            } => write!(
                formatter,
                "{cidr} is labeled '{project}' in the project file and '{personal}' in the \
                 personal file; the project's label is used"
            ),
        }
    }
}

/// An error reading, writing, parsing or changing an `ipgate.json`.
#[derive(Debug, thiserror::Error)]
pub enum SetsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },

    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },

    #[error(
        "{path} changed on disk since ipgate read it; reload it and make the change again. \
         Nothing was written."
    )]
    ChangedOnDisk { path: PathBuf },

    #[error("{path}: {error}")]
    Syntax { path: PathBuf, error: SyntaxError },

    /// Valid JSON that does not fit the format. `key_path` is empty for the top level.
    #[error("{}", schema_message(.path, *.line, .key_path, .reason))]
    Schema {
        path: PathBuf,
        line: Option<usize>,
        /// The key path in the file, such as `sets.office.entries[2].cidr`.
        key_path: String,
        reason: String,
    },

    /// A stage, or an operation, names a set that is not defined. `path` and `line` are set
    /// when the name was read from a file.
    #[error(
        "{}",
        unknown_set_message(.path.as_deref(), *.line, .stage.as_deref(), .set, .suggestion.as_deref())
    )]
    UnknownSet {
        path: Option<PathBuf>,
        line: Option<usize>,
        stage: Option<String>,
        set: String,
        /// A defined set with a close name.
        suggestion: Option<String>,
    },

    /// A CIDR given to an operation was rejected. `reason` names the value.
    #[error("{reason}")]
    InvalidCidr { value: String, reason: String },

    /// A set name, stage key or label given to an operation was rejected.
    #[error("{reason}")]
    InvalidName { name: String, reason: String },

    #[error(
        "no user config directory was found for ipgate.json; set {CONFIG_DIR_VAR} to a \
         writable directory"
    )]
    NoConfigDir,
}

fn schema_message(path: &Path, line: Option<usize>, key_path: &str, reason: &str) -> String {
    let location = match line {
        Some(line) => format!("{}, line {line}", path.display()),
        None => path.display().to_string(),
    };
    if key_path.is_empty() {
        format!("{location}: {reason}")
    } else {
        format!("{location}: {key_path}: {reason}")
    }
}

fn unknown_set_message(
    path: Option<&Path>,
    line: Option<usize>,
    stage: Option<&str>,
    set: &str,
    suggestion: Option<&str>,
) -> String {
    let mut message = match (path, line) {
        (Some(path), Some(line)) => format!("{}, line {line}: ", path.display()),
        (Some(path), None) => format!("{}: ", path.display()),
        (None, _) => String::new(),
    };

    let defined_where = if path.is_some() { " in this file" } else { "" };
    match stage {
        Some(stage) => message.push_str(&format!(
            "stage '{stage}' includes set '{set}', which is not defined{defined_where}"
        )),
        None => message.push_str(&format!("set '{set}' is not defined{defined_where}")),
    }

    match (suggestion, stage) {
        (Some(suggestion), _) => message.push_str(&format!("; did you mean '{suggestion}'?")),
        (None, Some(_)) => {
            message.push_str("; define it under \"sets\" or remove it from the stage's sets");
        }
        (None, None) => message.push_str("; create the set first"),
    }
    message
}

// ---------------------------------------------------------------------------------------------
// Paths and files
// ---------------------------------------------------------------------------------------------

/// Returns the project file of the Chalice project at `project_root`: `.chalice/ipgate.json`.
pub fn project_file_path(project_root: &Path) -> PathBuf {
    project_root.join(".chalice").join(FILE_NAME)
}

/// Returns the user file: `ipgate.json` in `IPGATE_CONFIG_DIR` when that is set and not empty,
/// else in the platform config directory.
pub fn user_file_path() -> Result<PathBuf, SetsError> {
    let override_dir = std::env::var_os(CONFIG_DIR_VAR);
    let platform_dir = directories::ProjectDirs::from("", "", "ipgate")
        .map(|dirs| dirs.config_dir().to_path_buf());
    user_file_path_in(override_dir.as_deref(), platform_dir).ok_or(SetsError::NoConfigDir)
}

fn user_file_path_in(
    override_dir: Option<&OsStr>,
    platform_dir: Option<PathBuf>,
) -> Option<PathBuf> {
    let dir = match override_dir.filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => platform_dir?,
    };
    Some(dir.join(FILE_NAME))
}

/// Returns the key of a stage of an API that has no Chalice project: `REST_API_ID/STAGE`.
pub fn live_stage_key(rest_api_id: &str, stage: &str) -> String {
    format!("{rest_api_id}/{stage}")
}

/// Reads and parses `path`. A missing file gives an empty configuration and `text: None`.
pub fn load(path: &Path) -> Result<IpgateFile, SetsError> {
    let text = read_optional(path)?;
    let model = match &text {
        Some(text) => parse_ipgate_file(path, text)?,
        None => IpgateConfig::default(),
    };
    Ok(IpgateFile {
        path: path.to_path_buf(),
        text,
        model,
    })
}

/// The state of a file after [`save`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub file: IpgateFile,
    /// False when nothing needed writing, so the file on disk was left untouched.
    pub written: bool,
}

/// Writes `new` to the file, atomically, unless it equals what was read.
///
/// An unchanged configuration leaves the file byte for byte as it was, hand formatting
/// included. A changed one is written as [`render`] formats it, with the line ending of the
/// text that was read. Creates the parent directory when missing.
///
/// Fails without writing when `new` does not fit the format (so the file always loads again),
/// or when the file on disk no longer contains the text that was read.
pub fn save(file: &IpgateFile, new: &IpgateConfig) -> Result<Saved, SetsError> {
    let unchanged = Saved {
        file: file.clone(),
        written: false,
    };
    if *new == file.model {
        return Ok(unchanged);
    }

    let line_ending = file.text.as_deref().map_or("\n", detect_line_ending);
    let text = render(new).replace('\n', line_ending);
    if file.text.as_deref() == Some(text.as_str()) {
        return Ok(unchanged);
    }
    validate(&file.path, new)?;

    let on_disk = read_optional(&file.path)?;
    if on_disk != file.text {
        return Err(SetsError::ChangedOnDisk {
            path: file.path.clone(),
        });
    }

    let write_error = |source| SetsError::Write {
        path: file.path.clone(),
        source,
    };
    if let Some(parent) = file
        .path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs::create_dir_all(parent).map_err(write_error)?;
    }
    atomic_write(&file.path, text.as_bytes()).map_err(write_error)?;

    Ok(Saved {
        file: IpgateFile {
            path: file.path.clone(),
            text: Some(text),
            model: new.clone(),
        },
        written: true,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, SetsError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SetsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Checks that `config` renders to a file that parses back to the same configuration.
fn validate(path: &Path, config: &IpgateConfig) -> Result<(), SetsError> {
    let checker = Checker { path, text: None };
    let reparsed = config_from_value(&checker, &render_value(config))?;
    if reparsed != *config {
        // Rendering is faithful except that JSON object keys collapse.
        return Err(checker.schema(
            &[],
            "two labels, sets or stages have the same key, so one of them would be lost; \
             rename or remove one",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// Formats a configuration as the file's text: 2-space indent, keys in model order, and a
/// trailing newline. Empty `labels`, `sets` and `stages` are written as `{}`.
pub fn render(config: &IpgateConfig) -> String {
    // Serializing a `Value` cannot fail: its map keys are always strings.
    let mut text = serde_json::to_string_pretty(&render_value(config))
        .expect("a JSON value always serializes");
    text.push('\n');
    text
}

fn render_value(config: &IpgateConfig) -> Value {
    let mut labels = Map::new();
    for label in &config.labels {
        labels.insert(label.cidr.clone(), Value::String(label.label.clone()));
    }

    let mut sets = Map::new();
    for set in &config.sets {
        let mut object = Map::new();
        if let Some(description) = &set.description {
            object.insert("description".into(), Value::String(description.clone()));
        }
        let entries = set.entries.iter().map(render_entry).collect();
        object.insert("entries".into(), Value::Array(entries));
        sets.insert(set.name.clone(), Value::Object(object));
    }

    let mut stages = Map::new();
    for stage in &config.stages {
        let names = stage.sets.iter().cloned().map(Value::String).collect();
        let mut object = Map::new();
        object.insert("sets".into(), Value::Array(names));
        stages.insert(stage.stage.clone(), Value::Object(object));
    }

    let mut top = Map::new();
    top.insert("version".into(), Value::from(FORMAT_VERSION));
    top.insert("labels".into(), Value::Object(labels));
    top.insert("sets".into(), Value::Object(sets));
    top.insert("stages".into(), Value::Object(stages));
    Value::Object(top)
}

fn render_entry(entry: &SetEntry) -> Value {
    let mut object = Map::new();
    object.insert("cidr".into(), Value::String(entry.cidr.clone()));
    if let Some(label) = &entry.label {
        object.insert("label".into(), Value::String(label.clone()));
    }
    Value::Object(object)
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses the text of an `ipgate.json`. `path` only names the file in errors.
///
/// Syntax errors carry the line, column and cause. Other errors name the key path and, where
/// the text has it, the line. Unknown keys are rejected, so a typo such as `entires` is not
/// silently ignored. Each stage may include only sets defined in the same file.
pub fn parse_ipgate_file(path: &Path, text: &str) -> Result<IpgateConfig, SetsError> {
    let value = parse_strict(text).map_err(|error| SetsError::Syntax {
        path: path.to_path_buf(),
        error,
    })?;
    let checker = Checker {
        path,
        text: Some(text),
    };
    config_from_value(&checker, &value)
}

/// One step of a key path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn key(name: &str) -> Segment {
    Segment::Key(name.to_string())
}

fn child(at: &[Segment], segment: Segment) -> Vec<Segment> {
    let mut path = at.to_vec();
    path.push(segment);
    path
}

/// Formats a key path as `sets.office.entries[2].cidr`, quoting keys that are not plain words
/// (`labels["203.0.113.0/24"]`).
fn key_path_text(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(name) if is_plain_key(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Segment::Key(name) => {
                // Serializing a string cannot fail.
                let quoted = serde_json::to_string(name).expect("a string always serializes");
                text.push_str(&format!("[{quoted}]"));
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

fn is_plain_key(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The file being checked, for error messages.
struct Checker<'a> {
    path: &'a Path,
    /// The text, for line numbers; `None` when checking a configuration that is not on disk.
    text: Option<&'a str>,
}

impl Checker<'_> {
    fn schema(&self, at: &[Segment], reason: impl Into<String>) -> SetsError {
        SetsError::Schema {
            path: self.path.to_path_buf(),
            line: self.line_of(at),
            key_path: key_path_text(at),
            reason: reason.into(),
        }
    }

    fn line_of(&self, at: &[Segment]) -> Option<usize> {
        self.text.and_then(|text| line_of(text, at))
    }

    fn object<'v>(
        &self,
        at: &[Segment],
        value: &'v Value,
        example: &str,
    ) -> Result<&'v Map<String, Value>, SetsError> {
        value.as_object().ok_or_else(|| {
            let reason = format!("must be {example}, but it is {}", describe(value));
            self.schema(at, reason)
        })
    }

    fn array<'v>(
        &self,
        at: &[Segment],
        value: &'v Value,
        example: &str,
    ) -> Result<&'v Vec<Value>, SetsError> {
        value.as_array().ok_or_else(|| {
            let reason = format!("must be {example}, but it is {}", describe(value));
            self.schema(at, reason)
        })
    }

    fn string<'v>(&self, at: &[Segment], value: &'v Value) -> Result<&'v str, SetsError> {
        value.as_str().ok_or_else(|| {
            let reason = format!("must be a string, but it is {}", describe(value));
            self.schema(at, reason)
        })
    }

    fn label(&self, at: &[Segment], value: &Value) -> Result<String, SetsError> {
        let label = self.string(at, value)?;
        if label.trim().is_empty() {
            return Err(self.schema(at, "the label is empty; write a name or remove the label"));
        }
        Ok(label.to_string())
    }

    /// Rejects keys other than `allowed`, suggesting the closest allowed key.
    fn known_keys(
        &self,
        at: &[Segment],
        object: &Map<String, Value>,
        allowed: &[&str],
    ) -> Result<(), SetsError> {
        let Some(unknown) = object.keys().find(|name| !allowed.contains(&name.as_str())) else {
            return Ok(());
        };
        let reason = match closest_name(unknown, allowed.iter().copied()) {
            Some(close) => format!("unknown key; did you mean \"{close}\"?"),
            None => format!(
                "unknown key; the keys allowed here are {}",
                quoted_list(allowed)
            ),
        };
        Err(self.schema(&child(at, key(unknown)), reason))
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn config_from_value(checker: &Checker<'_>, value: &Value) -> Result<IpgateConfig, SetsError> {
    let top = checker.object(
        &[],
        value,
        "an object such as {\"version\": 1, \"sets\": {}}",
    )?;
    checker.known_keys(&[], top, &["version", "labels", "sets", "stages"])?;
    check_version(checker, top.get("version"))?;

    let labels = match top.get("labels") {
        Some(value) => parse_labels(checker, value)?,
        None => Vec::new(),
    };
    let sets = match top.get("sets") {
        Some(value) => parse_sets(checker, value)?,
        None => Vec::new(),
    };
    let stages = match top.get("stages") {
        Some(value) => parse_stages(checker, value, &sets)?,
        None => Vec::new(),
    };
    Ok(IpgateConfig {
        labels,
        sets,
        stages,
    })
}

fn check_version(checker: &Checker<'_>, value: Option<&Value>) -> Result<(), SetsError> {
    let at = [key("version")];
    let Some(value) = value else {
        return Err(checker.schema(
            &[],
            format!("\"version\" is missing; add \"version\": {FORMAT_VERSION}"),
        ));
    };

    match value.as_u64() {
        Some(FORMAT_VERSION) => Ok(()),
        Some(newer) if newer > FORMAT_VERSION => Err(checker.schema(
            &at,
            format!(
                "format version {newer} was written by a newer ipgate, and this one reads \
                 version {FORMAT_VERSION}; upgrade ipgate"
            ),
        )),
        _ => Err(checker.schema(
            &at,
            format!(
                "must be the number {FORMAT_VERSION}, but it is {}",
                describe_value(value)
            ),
        )),
    }
}

/// Describes a value with its text when it is short, for messages about a wrong value.
fn describe_value(value: &Value) -> String {
    match value {
        Value::Number(number) => format!("{number}"),
        Value::String(text) if text.chars().count() <= 20 => format!("the string \"{text}\""),
        other => describe(other).to_string(),
    }
}

fn parse_labels(checker: &Checker<'_>, value: &Value) -> Result<Vec<Label>, SetsError> {
    let at = [key("labels")];
    let object = checker.object(
        &at,
        value,
        "an object of CIDRs and their names, such as {\"203.0.113.0/24\": \"Amsterdam office\"}",
    )?;

    let mut labels = Vec::with_capacity(object.len());
    let mut first_key_of: HashMap<String, &str> = HashMap::new();
    for (cidr, label_value) in object {
        let label_at = child(&at, key(cidr));
        let entry = check_network(cidr).map_err(|reason| checker.schema(&label_at, reason))?;

        let network = entry.canonical();
        if let Some(first) = first_key_of.get(&network) {
            let reason = format!(
                "'{cidr}' is the same network as the label key '{first}'; keep one of them"
            );
            return Err(checker.schema(&label_at, reason));
        }
        first_key_of.insert(network, cidr);

        labels.push(Label {
            cidr: cidr.clone(),
            label: checker.label(&label_at, label_value)?,
        });
    }
    Ok(labels)
}

fn parse_sets(checker: &Checker<'_>, value: &Value) -> Result<Vec<NamedSet>, SetsError> {
    let at = [key("sets")];
    let object = checker.object(
        &at,
        value,
        "an object of set names and sets, such as {\"office\": {\"entries\": []}}",
    )?;

    let mut sets = Vec::with_capacity(object.len());
    for (name, set_value) in object {
        let set_at = child(&at, key(name));
        check_name("set name", name).map_err(|reason| checker.schema(&set_at, reason))?;
        let set_object = checker.object(
            &set_at,
            set_value,
            "an object such as {\"description\": \"...\", \"entries\": [...]}",
        )?;
        checker.known_keys(&set_at, set_object, &["description", "entries"])?;

        let description = match set_object.get("description") {
            Some(value) => {
                let description_at = child(&set_at, key("description"));
                Some(checker.string(&description_at, value)?.to_string())
            }
            None => None,
        };
        let entries = match set_object.get("entries") {
            Some(value) => parse_entries(checker, &child(&set_at, key("entries")), value)?,
            None => Vec::new(),
        };
        sets.push(NamedSet {
            name: name.clone(),
            description,
            entries,
        });
    }
    Ok(sets)
}

fn parse_entries(
    checker: &Checker<'_>,
    at: &[Segment],
    value: &Value,
) -> Result<Vec<SetEntry>, SetsError> {
    let items = checker.array(
        at,
        value,
        "an array of entries such as [{\"cidr\": \"203.0.113.0/24\", \"label\": \"Amsterdam office\"}]",
    )?;

    let mut entries = Vec::with_capacity(items.len());
    let mut first_index_of: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let entry_at = child(at, Segment::Index(index));
        let object = checker.object(
            &entry_at,
            item,
            "an object such as {\"cidr\": \"203.0.113.0/24\", \"label\": \"Amsterdam office\"}",
        )?;
        checker.known_keys(&entry_at, object, &["cidr", "label"])?;

        let cidr_at = child(&entry_at, key("cidr"));
        let Some(cidr_value) = object.get("cidr") else {
            return Err(checker.schema(&entry_at, "\"cidr\" is missing; add the entry's CIDR"));
        };
        let cidr = checker.string(&cidr_at, cidr_value)?;
        let network = check_network(cidr)
            .map_err(|reason| checker.schema(&cidr_at, reason))?
            .canonical();
        if let Some(first) = first_index_of.get(&network) {
            let reason =
                format!("'{cidr}' is the same network as entries[{first}]; list each network once");
            return Err(checker.schema(&cidr_at, reason));
        }
        first_index_of.insert(network, index);

        let label = match object.get("label") {
            Some(value) => Some(checker.label(&child(&entry_at, key("label")), value)?),
            None => None,
        };
        entries.push(SetEntry {
            cidr: cidr.to_string(),
            label,
        });
    }
    Ok(entries)
}

fn parse_stages(
    checker: &Checker<'_>,
    value: &Value,
    sets: &[NamedSet],
) -> Result<Vec<StageSets>, SetsError> {
    let at = [key("stages")];
    let object = checker.object(
        &at,
        value,
        "an object of stages and their sets, such as {\"prod\": {\"sets\": [\"office\"]}}",
    )?;

    let mut stages = Vec::with_capacity(object.len());
    for (stage, stage_value) in object {
        let stage_at = child(&at, key(stage));
        check_name("stage key", stage).map_err(|reason| checker.schema(&stage_at, reason))?;
        let stage_object = checker.object(
            &stage_at,
            stage_value,
            "an object such as {\"sets\": [\"office\"]}",
        )?;
        checker.known_keys(&stage_at, stage_object, &["sets"])?;

        let names = match stage_object.get("sets") {
            Some(value) => parse_stage_sets(checker, &child(&stage_at, key("sets")), value)?,
            None => Vec::new(),
        };
        for (index, name) in names.iter().enumerate() {
            if !sets.iter().any(|set| set.name == *name) {
                let name_at = child(&child(&stage_at, key("sets")), Segment::Index(index));
                return Err(SetsError::UnknownSet {
                    path: Some(checker.path.to_path_buf()),
                    line: checker.line_of(&name_at),
                    stage: Some(stage.clone()),
                    set: name.clone(),
                    suggestion: closest_name(name, sets.iter().map(|set| set.name.as_str()))
                        .map(str::to_string),
                });
            }
        }
        stages.push(StageSets {
            stage: stage.clone(),
            sets: names,
        });
    }
    Ok(stages)
}

fn parse_stage_sets(
    checker: &Checker<'_>,
    at: &[Segment],
    value: &Value,
) -> Result<Vec<String>, SetsError> {
    let items = checker.array(
        at,
        value,
        "an array of set names such as [\"office\", \"vpn\"]",
    )?;
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let name_at = child(at, Segment::Index(index));
        let name = checker.string(&name_at, item)?;
        if let Some(first) = names.iter().position(|earlier| earlier == name) {
            let reason = format!("set '{name}' is already listed at [{first}]; list it once");
            return Err(checker.schema(&name_at, reason));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// Parses a CIDR for the file: valid, and without host bits. Returns the reason otherwise,
/// naming the value.
fn check_network(text: &str) -> Result<CidrEntry, String> {
    let entry = parse_entry(text).map_err(|error| invalid_cidr_reason(text, &error))?;
    if entry.has_host_bits() {
        let host_prefix = if entry.network.is_ipv4() { 32 } else { 128 };
        return Err(format!(
            "'{text}' has host bits set; write the network {}, or {}/{host_prefix} for the \
             single address",
            entry.covered_network(),
            entry.network.ip(),
        ));
    }
    Ok(entry)
}

fn invalid_cidr_reason(text: &str, error: &CidrError) -> String {
    // Most messages start with the value itself, which this reason already names.
    let message = error.to_string();
    let value_prefix = format!("'{}': ", text.trim());
    let detail = message.strip_prefix(&value_prefix).unwrap_or(&message);
    format!("'{text}' is not a valid CIDR: {detail}")
}

/// Checks a set name or stage key: not empty, no surrounding spaces, no control characters.
fn check_name(kind: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("the {kind} is empty; write a name"));
    }
    if name.trim() != name {
        return Err(format!(
            "the {kind} '{name}' starts or ends with spaces; write '{}'",
            name.trim()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the {kind} {name:?} contains a control character; remove it"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Line numbers of key paths
// ---------------------------------------------------------------------------------------------

/// Returns the 1-based line of the value at `path` in `text`, or of its key when the value is
/// an object member. Returns `None` when the path is not in the text. With duplicate keys the
/// last one counts, as it does for the parser. `text` must be valid JSON.
fn line_of(text: &str, path: &[Segment]) -> Option<usize> {
    let mut walker = Walker {
        text,
        position: 0,
        anchors: Vec::new(),
    };
    walker.skip_whitespace();
    walker.value(&mut Vec::new(), 0)?;

    let offset = walker
        .anchors
        .iter()
        .rev()
        .find(|(anchor_path, _)| anchor_path == path)
        .map(|(_, offset)| *offset)?;
    Some(text[..offset].matches('\n').count() + 1)
}

/// Walks JSON text that is known to be valid, recording where each value starts.
struct Walker<'t> {
    text: &'t str,
    position: usize,
    /// Each value's key path and the byte offset of its key, or of the value for array items.
    anchors: Vec<(Vec<Segment>, usize)>,
}

impl Walker<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.position += 1)
    }

    /// Walks the value at the current position, which `anchor` locates in messages.
    fn value(&mut self, path: &mut Vec<Segment>, anchor: usize) -> Option<()> {
        self.anchors.push((path.clone(), anchor));
        match self.peek()? {
            b'{' => self.object(path),
            b'[' => self.array(path),
            b'"' => self.string().map(|_| ()),
            _ => {
                // Numbers, true, false and null end at a delimiter.
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.position += 1;
                }
                Some(())
            }
        }
    }

    fn object(&mut self, path: &mut Vec<Segment>) -> Option<()> {
        self.position += 1;
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.position += 1;
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let key_start = self.position;
            let name = self.string()?;
            self.expect(b':')?;
            self.skip_whitespace();

            path.push(Segment::Key(name));
            self.value(path, key_start)?;
            path.pop();

            self.skip_whitespace();
            match self.peek()? {
                b',' => self.position += 1,
                b'}' => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, path: &mut Vec<Segment>) -> Option<()> {
        self.position += 1;
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.position += 1;
            return Some(());
        }
        let mut index = 0;
        loop {
            self.skip_whitespace();
            path.push(Segment::Index(index));
            self.value(path, self.position)?;
            path.pop();
            index += 1;

            self.skip_whitespace();
            match self.peek()? {
                b',' => self.position += 1,
                b']' => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Reads a string literal and returns its decoded text.
    fn string(&mut self) -> Option<String> {
        let start = self.position;
        if self.peek()? != b'"' {
            return None;
        }
        self.position += 1;
        loop {
            match self.peek()? {
                b'\\' => self.position += 2,
                b'"' => {
                    self.position += 1;
                    break;
                }
                _ => self.position += 1,
            }
        }
        serde_json::from_str(self.text.get(start..self.position)?).ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups and edits
// ---------------------------------------------------------------------------------------------

/// Returns the text that identifies the network of an entry: the canonical covered network, or
/// the trimmed text when the entry does not parse.
fn network_key(cidr: &str) -> String {
    match parse_entry(cidr) {
        Ok(entry) => entry.covered_network().to_string(),
        Err(_) => cidr.trim().to_string(),
    }
}

impl IpgateConfig {
    pub fn set(&self, name: &str) -> Option<&NamedSet> {
        self.sets.iter().find(|set| set.name == name)
    }

    pub fn set_names(&self) -> Vec<&str> {
        self.sets.iter().map(|set| set.name.as_str()).collect()
    }

    /// Returns the label of the network `cidr` covers: from `labels` first, then from the
    /// first set entry for that network that has one. Host bits are ignored, so
    /// `192.0.2.77/24` finds the label of `192.0.2.0/24`.
    pub fn label_for(&self, cidr: &str) -> Option<&str> {
        let target = network_key(cidr);
        let from_labels = self
            .labels
            .iter()
            .find(|label| network_key(&label.cidr) == target)
            .map(|label| label.label.as_str());
        from_labels.or_else(|| {
            self.sets
                .iter()
                .flat_map(|set| &set.entries)
                .filter(|entry| network_key(&entry.cidr) == target)
                .find_map(|entry| entry.label.as_deref())
        })
    }

    /// Sets the label of the network `cidr` covers, keeping the key of an existing label for
    /// that network. A new label is keyed by the canonical network. An empty or blank `label`
    /// removes the label.
    pub fn set_label(&mut self, cidr: &str, label: &str) -> Result<(), SetsError> {
        let entry = parse_entry(cidr).map_err(|error| SetsError::InvalidCidr {
            value: cidr.to_string(),
            reason: invalid_cidr_reason(cidr, &error),
        })?;
        let network = entry.covered_network().to_string();
        let existing = self
            .labels
            .iter()
            .position(|existing| network_key(&existing.cidr) == network);

        let label = label.trim();
        match (existing, label.is_empty()) {
            (Some(index), true) => {
                self.labels.remove(index);
            }
            (Some(index), false) => self.labels[index].label = label.to_string(),
            (None, true) => {}
            (None, false) => self.labels.push(Label {
                cidr: network,
                label: label.to_string(),
            }),
        }
        Ok(())
    }

    /// Returns the sets `stage` includes, in order; empty for a stage the file does not list.
    pub fn sets_for_stage(&self, stage: &str) -> Vec<&str> {
        self.stages
            .iter()
            .find(|entry| entry.stage == stage)
            .map(|entry| entry.sets.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Returns the keys of the stages that include `set`, in file order.
    pub fn stages_including(&self, set: &str) -> Vec<String> {
        self.stages
            .iter()
            .filter(|stage| stage.sets.iter().any(|name| name == set))
            .map(|stage| stage.stage.clone())
            .collect()
    }

    /// Builds a stage's allowlist: `own_entries` first, then the entries of each included set
    /// in order.
    ///
    /// Entries that cover the same network are kept once, at the first place they appear, with
    /// every source listed. Own entries keep their text, including ones that do not parse
    /// (those are compared by trimmed text). Set entries are given in canonical text. A set
    /// entry's own label comes before the labels of [`IpgateConfig::label_for`].
    ///
    /// Fails when the stage includes a set that is not defined, or a set entry is invalid.
    pub fn resolve_stage_allowlist(
        &self,
        own_entries: &[String],
        stage: &str,
    ) -> Result<Vec<ResolvedEntry>, SetsError> {
        let mut resolved: Vec<ResolvedEntry> = Vec::new();
        let mut index_of: HashMap<String, usize> = HashMap::new();
        let mut add = |cidr: String, label: Option<String>, source: EntrySource| {
            let network = network_key(&cidr);
            if let Some(&index) = index_of.get(&network) {
                let existing: &mut ResolvedEntry = &mut resolved[index];
                if !existing.sources.contains(&source) {
                    existing.sources.push(source);
                }
                if existing.label.is_none() {
                    existing.label = label;
                }
                return;
            }
            index_of.insert(network, resolved.len());
            resolved.push(ResolvedEntry {
                cidr,
                label,
                sources: vec![source],
            });
        };

        for own in own_entries {
            let label = self.label_for(own).map(str::to_string);
            add(own.clone(), label, EntrySource::Own);
        }

        for name in self.sets_for_stage(stage) {
            let set = self.set(name).ok_or_else(|| SetsError::UnknownSet {
                path: None,
                line: None,
                stage: Some(stage.to_string()),
                set: name.to_string(),
                suggestion: self.closest_set(name),
            })?;
            for entry in &set.entries {
                let parsed =
                    check_network(&entry.cidr).map_err(|reason| SetsError::InvalidCidr {
                        value: entry.cidr.clone(),
                        reason: format!("set '{name}': {reason}"),
                    })?;
                let label = entry
                    .label
                    .clone()
                    .or_else(|| self.label_for(&entry.cidr).map(str::to_string));
                add(
                    parsed.canonical(),
                    label,
                    EntrySource::Set(name.to_string()),
                );
            }
        }
        Ok(resolved)
    }

    /// Sets the entries of the set `name`, creating it at the end when missing. An existing
    /// set keeps its place and description.
    ///
    /// Fails when the name is invalid, an entry is not a CIDR, has host bits set, has an empty
    /// label, or covers the same network as an earlier entry.
    pub fn upsert_set(&mut self, name: &str, entries: Vec<SetEntry>) -> Result<(), SetsError> {
        check_name("set name", name).map_err(|reason| SetsError::InvalidName {
            name: name.to_string(),
            reason,
        })?;
        check_set_entries(name, &entries)?;

        match self.sets.iter_mut().find(|set| set.name == name) {
            Some(set) => set.entries = entries,
            None => self.sets.push(NamedSet {
                name: name.to_string(),
                description: None,
                entries,
            }),
        }
        Ok(())
    }

    /// Sets or, with `None` or blank text, removes the description of the set `name`.
    pub fn set_description(
        &mut self,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), SetsError> {
        let suggestion = self.closest_set(name);
        let set = self
            .set_mut(name)
            .ok_or_else(|| unknown_set(name, suggestion))?;
        set.description = description
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_string);
        Ok(())
    }

    /// Deletes the set `name` and drops it from every stage. Returns the keys of the stages
    /// that included it.
    pub fn remove_set(&mut self, name: &str) -> Result<Vec<String>, SetsError> {
        let Some(index) = self.sets.iter().position(|set| set.name == name) else {
            return Err(unknown_set(name, self.closest_set(name)));
        };
        self.sets.remove(index);

        let stages = self.stages_including(name);
        for stage in &stages {
            self.exclude_set(stage, name);
        }
        Ok(stages)
    }

    /// Adds `cidr`, in canonical text, to the end of the set `name`. Returns false when the set
    /// already has the network, in which case only a given `label` is applied to that entry.
    ///
    /// Fails when the set is not defined or `cidr` is invalid or has host bits set.
    pub fn add_to_set(
        &mut self,
        name: &str,
        cidr: &str,
        label: Option<&str>,
    ) -> Result<bool, SetsError> {
        let entry = check_network(cidr).map_err(|reason| SetsError::InvalidCidr {
            value: cidr.to_string(),
            reason,
        })?;
        let label = label.map(str::trim).filter(|label| !label.is_empty());

        let suggestion = self.closest_set(name);
        let set = self
            .set_mut(name)
            .ok_or_else(|| unknown_set(name, suggestion))?;
        let network = entry.canonical();
        if let Some(existing) = set
            .entries
            .iter_mut()
            .find(|existing| network_key(&existing.cidr) == network)
        {
            if let Some(label) = label {
                existing.label = Some(label.to_string());
            }
            return Ok(false);
        }

        set.entries.push(SetEntry {
            cidr: network,
            label: label.map(str::to_string),
        });
        Ok(true)
    }

    /// Removes the entry of the set `name` that covers the same network as `cidr`. Returns
    /// false when the set has no such entry.
    pub fn remove_from_set(&mut self, name: &str, cidr: &str) -> Result<bool, SetsError> {
        let suggestion = self.closest_set(name);
        let set = self
            .set_mut(name)
            .ok_or_else(|| unknown_set(name, suggestion))?;
        let network = network_key(cidr);
        let before = set.entries.len();
        set.entries
            .retain(|entry| network_key(&entry.cidr) != network);
        Ok(set.entries.len() < before)
    }

    /// Adds the set `name` to the end of the sets of `stage`, listing the stage when it is
    /// new. Returns false when the stage already includes the set.
    pub fn include_set(&mut self, stage: &str, name: &str) -> Result<bool, SetsError> {
        check_name("stage key", stage).map_err(|reason| SetsError::InvalidName {
            name: stage.to_string(),
            reason,
        })?;
        if self.set(name).is_none() {
            return Err(SetsError::UnknownSet {
                path: None,
                line: None,
                stage: Some(stage.to_string()),
                set: name.to_string(),
                suggestion: self.closest_set(name),
            });
        }

        let index = match self.stages.iter().position(|entry| entry.stage == stage) {
            Some(index) => index,
            None => {
                self.stages.push(StageSets {
                    stage: stage.to_string(),
                    sets: Vec::new(),
                });
                self.stages.len() - 1
            }
        };
        let sets = &mut self.stages[index].sets;
        if sets.iter().any(|existing| existing == name) {
            return Ok(false);
        }
        sets.push(name.to_string());
        Ok(true)
    }

    /// Drops the set `name` from `stage`, and the stage from the file when it has no sets
    /// left. Returns false when the stage did not include the set.
    pub fn exclude_set(&mut self, stage: &str, name: &str) -> bool {
        let Some(index) = self.stages.iter().position(|entry| entry.stage == stage) else {
            return false;
        };
        let sets = &mut self.stages[index].sets;
        let before = sets.len();
        sets.retain(|existing| existing != name);
        let removed = sets.len() < before;
        if sets.is_empty() {
            self.stages.remove(index);
        }
        removed
    }

    fn set_mut(&mut self, name: &str) -> Option<&mut NamedSet> {
        self.sets.iter_mut().find(|set| set.name == name)
    }

    fn closest_set(&self, name: &str) -> Option<String> {
        closest_name(name, self.set_names()).map(str::to_string)
    }
}

fn unknown_set(name: &str, suggestion: Option<String>) -> SetsError {
    SetsError::UnknownSet {
        path: None,
        line: None,
        stage: None,
        set: name.to_string(),
        suggestion,
    }
}

fn check_set_entries(set: &str, entries: &[SetEntry]) -> Result<(), SetsError> {
    let mut first_index_of: HashMap<String, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let invalid = |reason: String| SetsError::InvalidCidr {
            value: entry.cidr.clone(),
            reason: format!("set '{set}', entry {}: {reason}", index + 1),
        };
        let network = check_network(&entry.cidr).map_err(invalid)?.canonical();
        if let Some(first) = first_index_of.get(&network) {
            return Err(invalid(format!(
                "'{}' is the same network as entry {}; list each network once",
                entry.cidr,
                first + 1
            )));
        }
        first_index_of.insert(network, index);

        if entry
            .label
            .as_deref()
            .is_some_and(|label| label.trim().is_empty())
        {
            return Err(invalid(
                "the label is empty; write a name or leave the label out".to_string(),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Merging the project and personal files
// ---------------------------------------------------------------------------------------------

/// Combines the project file with the personal file.
///
/// Project sets come first, then personal sets. On a name clash the project's set is used and
/// a warning is returned. Labels merge the same way, keyed by network. A stage listed in both
/// files includes the project's sets, then the personal sets it does not already include.
pub fn merge(project: &IpgateConfig, personal: &IpgateConfig) -> MergedConfig {
    let mut config = project.clone();
    let mut set_origins: Vec<(String, Origin)> = project
        .sets
        .iter()
        .map(|set| (set.name.clone(), Origin::Project))
        .collect();
    let mut warnings = Vec::new();

    for label in &personal.labels {
        match project.label_for_network(&label.cidr) {
            None => config.labels.push(label.clone()),
            Some(project_label) if project_label.label != label.label => {
                warnings.push(MergeWarning::LabelConflict {
                    cidr: project_label.cidr.clone(),
                    project: project_label.label.clone(),
                    personal: label.label.clone(),
                });
            }
            Some(_) => {}
        }
    }

    for set in &personal.sets {
        if project.set(&set.name).is_some() {
            warnings.push(MergeWarning::SetShadowed {
                name: set.name.clone(),
            });
            continue;
        }
        config.sets.push(set.clone());
        set_origins.push((set.name.clone(), Origin::Personal));
    }

    for stage in &personal.stages {
        match config
            .stages
            .iter_mut()
            .find(|entry| entry.stage == stage.stage)
        {
            Some(existing) => {
                for name in &stage.sets {
                    if !existing.sets.contains(name) {
                        existing.sets.push(name.clone());
                    }
                }
            }
            None => config.stages.push(stage.clone()),
        }
    }

    MergedConfig {
        config,
        set_origins,
        warnings,
    }
}

impl IpgateConfig {
    /// Returns the entry of `labels` for the network `cidr` covers.
    fn label_for_network(&self, cidr: &str) -> Option<&Label> {
        let target = network_key(cidr);
        self.labels
            .iter()
            .find(|label| network_key(&label.cidr) == target)
    }
}

impl MergedConfig {
    /// Returns the file that defines the set `name` in the merged configuration.
    pub fn origin_of(&self, name: &str) -> Option<Origin> {
        self.set_origins
            .iter()
            .find(|(set, _)| set == name)
            .map(|(_, origin)| *origin)
    }
}

// ---------------------------------------------------------------------------------------------
// Suggestions
// ---------------------------------------------------------------------------------------------

/// Returns the candidate closest to `name` when it is close enough to be a likely typo: a
/// difference in letter case, or at most one edit per three characters (at least one).
fn closest_name<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let target: Vec<char> = name.to_lowercase().chars().collect();
    let limit = (target.len() / 3).max(1);

    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let chars: Vec<char> = candidate.to_lowercase().chars().collect();
        let distance = edit_distance(&target, &chars);
        let better = best.is_none_or(|(best_distance, _)| distance < best_distance);
        if distance <= limit && better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance: the fewest insertions, deletions and substitutions from `a` to `b`.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, a_char) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "proj/.chalice/ipgate.json";

    fn parse(text: &str) -> Result<IpgateConfig, SetsError> {
        parse_ipgate_file(Path::new(PATH), text)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_string()).collect()
    }

    fn entry(cidr: &str, label: Option<&str>) -> SetEntry {
        SetEntry {
            cidr: cidr.to_string(),
            label: label.map(str::to_string),
        }
    }

    /// Office and VPN sets, with `prod` including both and the live-only stage `abc123/v1` only
    /// the office.
    const SAMPLE: &str = r#"{
  "version": 1,
  "labels": {
    "203.0.113.0/24": "Amsterdam office",
    "2001:db8::1/128": "build server"
  },
  "sets": {
    "office": {
      "description": "Office networks",
      "entries": [
        {"cidr": "203.0.113.0/24", "label": "Amsterdam office label in set"},
        {"cidr": "198.51.100.0/25"}
      ]
    },
    "vpn": {
      "entries": [
        {"cidr": "198.51.100.0/25", "label": "VPN exit"},
        {"cidr": "2001:DB8::/48", "label": "VPN v6"}
      ]
    }
  },
  "stages": {
    "prod": {"sets": ["office", "vpn"]},
    "abc123/v1": {"sets": ["office"]}
  }
}
"#;

    fn sample() -> IpgateConfig {
        parse(SAMPLE).unwrap()
    }

    #[test]
    fn parse_sample_model() {
        let config = sample();
        assert_eq!(config.labels.len(), 2);
        assert_eq!(config.labels[1].cidr, "2001:db8::1/128");
        assert_eq!(config.set_names(), ["office", "vpn"]);
        let office = config.set("office").unwrap();
        assert_eq!(office.description.as_deref(), Some("Office networks"));
        assert_eq!(office.entries[1], entry("198.51.100.0/25", None));
        assert_eq!(config.sets_for_stage("prod"), ["office", "vpn"]);
        assert_eq!(config.sets_for_stage("abc123/v1"), ["office"]);
        assert!(config.sets_for_stage("dev").is_empty());
    }

    #[test]
    fn render_parses_back_to_same_model() {
        let config = sample();
        let text = render(&config);
        assert_eq!(parse(&text).unwrap(), config);
        assert!(text.ends_with("}\n"));
        assert!(text.starts_with("{\n  \"version\": 1,\n  \"labels\": {\n"));
    }

    #[test]
    fn render_empty_config() {
        let text = render(&IpgateConfig::default());
        assert_eq!(
            text,
            "{\n  \"version\": 1,\n  \"labels\": {},\n  \"sets\": {},\n  \"stages\": {}\n}\n"
        );
    }

    #[test]
    fn render_is_stable() {
        let text = render(&sample());
        assert_eq!(render(&parse(&text).unwrap()), text);
    }

    #[test]
    fn minimal_file_is_empty_config() {
        assert_eq!(parse("{\"version\": 1}").unwrap(), IpgateConfig::default());
    }

    #[test]
    fn set_and_stage_without_lists() {
        let config = parse(r#"{"version": 1, "sets": {"a": {}}, "stages": {"dev": {}}}"#).unwrap();
        assert!(config.set("a").unwrap().entries.is_empty());
        assert_eq!(config.stages[0].stage, "dev");
        assert!(config.stages[0].sets.is_empty());
    }

    /// Returns the error of `text` as (display text, line of a schema or unknown-set error).
    fn parse_error(text: &str) -> (String, Option<usize>) {
        let error = parse(text).unwrap_err();
        let line = match &error {
            SetsError::Schema { line, .. } | SetsError::UnknownSet { line, .. } => *line,
            SetsError::Syntax { error, .. } => Some(error.line),
            _ => None,
        };
        (error.to_string(), line)
    }

    #[test]
    fn parse_error_table() {
        // (case, text, expected fragments of the message, expected line)
        let cases: &[(&str, &str, &[&str], Option<usize>)] = &[
            (
                "trailing comma",
                "{\n  \"version\": 1,\n  \"sets\": {},\n}\n",
                &[PATH, "line 3, column 13: trailing comma before '}'"],
                Some(3),
            ),
            (
                "top level is an array",
                "[]",
                &[PATH, "must be an object", "but it is an array"],
                Some(1),
            ),
            (
                "version missing",
                "{\"sets\": {}}",
                &["line 1: \"version\" is missing; add \"version\": 1"],
                Some(1),
            ),
            (
                "version newer",
                "{\n\"version\": 2}",
                &["line 2: version: format version 2", "upgrade ipgate"],
                Some(2),
            ),
            (
                "version as string",
                "{\"version\": \"1\"}",
                &["version: must be the number 1, but it is the string \"1\""],
                Some(1),
            ),
            (
                "unknown top-level key",
                "{\"version\": 1,\n \"stage\": {}}",
                &["line 2: stage: unknown key; did you mean \"stages\"?"],
                Some(2),
            ),
            (
                "unknown key without a close match",
                "{\"version\": 1, \"sets\": {\"a\": {\"zzzzzz\": 1}}}",
                &[
                    "sets.a.zzzzzz: unknown key; the keys allowed here are \"description\", \"entries\"",
                ],
                Some(1),
            ),
            (
                "entries of the wrong type",
                "{\n  \"version\": 1,\n  \"sets\": {\n    \"office\": {\n      \"entries\": \"203.0.113.0/24\"\n    }\n  }\n}\n",
                &[
                    "line 5: sets.office.entries: must be an array of entries",
                    "but it is a string",
                ],
                Some(5),
            ),
            (
                "misspelled entries key",
                "{\"version\": 1, \"sets\": {\"office\": {\"entires\": []}}}",
                &["sets.office.entires: unknown key; did you mean \"entries\"?"],
                Some(1),
            ),
            (
                "bad CIDR",
                "{\n  \"version\": 1,\n  \"sets\": {\n    \"office\": {\n      \"entries\": [\n        {\"cidr\": \"203.0.113.0/24\"},\n        {\"cidr\": \"198.51.100.0/24\"},\n        {\"cidr\": \"192.0.2.010\"}\n      ]\n    }\n  }\n}\n",
                &[
                    "line 8: sets.office.entries[2].cidr: '192.0.2.010' is not a valid CIDR: \
                     octet 010 has a leading zero",
                    "write 192.0.2.10",
                ],
                Some(8),
            ),
            (
                "CIDR with host bits",
                "{\"version\": 1, \"sets\": {\"o\": {\"entries\": [{\"cidr\": \"192.0.2.77/24\"}]}}}",
                &[
                    "'192.0.2.77/24' has host bits set; write the network 192.0.2.0/24, or 192.0.2.77/32",
                ],
                Some(1),
            ),
            (
                "entry that is a string",
                "{\"version\": 1, \"sets\": {\"o\": {\"entries\": [\"192.0.2.0/24\"]}}}",
                &[
                    "sets.o.entries[0]: must be an object such as {\"cidr\"",
                    "but it is a string",
                ],
                Some(1),
            ),
            (
                "entry without cidr",
                "{\"version\": 1, \"sets\": {\"o\": {\"entries\": [{\"label\": \"x\"}]}}}",
                &["sets.o.entries[0]: \"cidr\" is missing"],
                Some(1),
            ),
            (
                "duplicate network in one set",
                "{\"version\": 1, \"sets\": {\"o\": {\"entries\": [{\"cidr\": \"2001:db8::1\"}, {\"cidr\": \"2001:DB8::1/128\"}]}}}",
                &["sets.o.entries[1].cidr: '2001:DB8::1/128' is the same network as entries[0]"],
                Some(1),
            ),
            (
                "empty entry label",
                "{\"version\": 1, \"sets\": {\"o\": {\"entries\": [{\"cidr\": \"192.0.2.0/24\", \"label\": \" \"}]}}}",
                &["sets.o.entries[0].label: the label is empty"],
                Some(1),
            ),
            (
                "label key not a CIDR",
                "{\"version\": 1, \"labels\": {\n\"office.example.com\": \"x\"}}",
                &[
                    "line 2: labels[\"office.example.com\"]: 'office.example.com' is not a valid CIDR: a host name",
                ],
                Some(2),
            ),
            (
                "two label keys for one network",
                "{\"version\": 1, \"labels\": {\"2001:db8::1/128\": \"a\",\n \"2001:DB8::1\": \"b\"}}",
                &[
                    "line 2: labels[\"2001:DB8::1\"]: '2001:DB8::1' is the same network as the label key '2001:db8::1/128'",
                ],
                Some(2),
            ),
            (
                "label value not a string",
                "{\"version\": 1, \"labels\": {\"192.0.2.0/24\": 5}}",
                &["labels[\"192.0.2.0/24\"]: must be a string, but it is a number"],
                Some(1),
            ),
            (
                "set name with spaces",
                "{\"version\": 1, \"sets\": {\"office \": {}}}",
                &[
                    "sets[\"office \"]: the set name 'office ' starts or ends with spaces; write 'office'",
                ],
                Some(1),
            ),
            (
                "stage sets not an array",
                "{\"version\": 1, \"stages\": {\"prod\": {\"sets\": \"office\"}}}",
                &[
                    "stages.prod.sets: must be an array of set names",
                    "but it is a string",
                ],
                Some(1),
            ),
            (
                "stage lists a set twice",
                "{\"version\": 1, \"sets\": {\"a\": {}}, \"stages\": {\"prod\": {\"sets\": [\"a\", \"a\"]}}}",
                &["stages.prod.sets[1]: set 'a' is already listed at [0]"],
                Some(1),
            ),
            (
                "stage set name not a string",
                "{\"version\": 1, \"stages\": {\"abc123/v1\": {\"sets\": [1]}}}",
                &["stages[\"abc123/v1\"].sets[0]: must be a string, but it is a number"],
                Some(1),
            ),
        ];

        for (case, text, fragments, line) in cases {
            let (message, actual_line) = parse_error(text);
            for fragment in *fragments {
                assert!(
                    message.contains(fragment),
                    "{case}: message {message:?} lacks {fragment:?}"
                );
            }
            assert_eq!(actual_line, *line, "{case}: line of {message:?}");
        }
    }

    #[test]
    fn unknown_set_names_stage_set_and_file() {
        let text = "{\n  \"version\": 1,\n  \"sets\": {\"office\": {}, \"vpn\": {}},\n  \"stages\": {\n    \"prod\": {\"sets\": [\"vpn\",\n      \"ofice\"]}\n  }\n}\n";
        let error = parse(text).unwrap_err();
        let SetsError::UnknownSet {
            path,
            line,
            stage,
            set,
            suggestion,
        } = &error
        else {
            panic!("expected UnknownSet, got {error:?}");
        };
        assert_eq!(path.as_deref(), Some(Path::new(PATH)));
        assert_eq!(*line, Some(6));
        assert_eq!(stage.as_deref(), Some("prod"));
        assert_eq!(set, "ofice");
        assert_eq!(suggestion.as_deref(), Some("office"));
        assert_eq!(
            error.to_string(),
            format!(
                "{PATH}, line 6: stage 'prod' includes set 'ofice', which is not defined in \
                 this file; did you mean 'office'?"
            )
        );
    }

    #[test]
    fn unknown_set_without_close_name() {
        let text =
            r#"{"version": 1, "sets": {"office": {}}, "stages": {"prod": {"sets": ["partners"]}}}"#;
        let message = parse(text).unwrap_err().to_string();
        assert!(
            message.ends_with("define it under \"sets\" or remove it from the stage's sets"),
            "{message}"
        );
    }

    #[test]
    fn key_path_text_table() {
        let cases: &[(&[Segment], &str)] = &[
            (&[], ""),
            (&[Segment::Key("version".into())], "version"),
            (
                &[
                    Segment::Key("sets".into()),
                    Segment::Key("partners-acme".into()),
                    Segment::Key("entries".into()),
                    Segment::Index(2),
                    Segment::Key("cidr".into()),
                ],
                "sets.partners-acme.entries[2].cidr",
            ),
            (
                &[
                    Segment::Key("labels".into()),
                    Segment::Key("203.0.113.0/24".into()),
                ],
                "labels[\"203.0.113.0/24\"]",
            ),
            (
                &[
                    Segment::Key("stages".into()),
                    Segment::Key("abc123/v1".into()),
                    Segment::Key("sets".into()),
                ],
                "stages[\"abc123/v1\"].sets",
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(key_path_text(path), *expected);
        }
    }

    #[test]
    fn line_of_table() {
        let text = "{\n  \"a\": {\n    \"b\\\"c\": [1,\n      {\"d\": null}]\n  },\n  \"a\": {\"x\": true}\n}";
        let cases: &[(&[Segment], Option<usize>)] = &[
            (&[], Some(1)),
            // A duplicate key takes the last occurrence, as the parser does.
            (&[Segment::Key("a".into())], Some(6)),
            (
                &[Segment::Key("a".into()), Segment::Key("x".into())],
                Some(6),
            ),
            (
                &[Segment::Key("a".into()), Segment::Key("b\"c".into())],
                Some(3),
            ),
            (
                &[
                    Segment::Key("a".into()),
                    Segment::Key("b\"c".into()),
                    Segment::Index(1),
                    Segment::Key("d".into()),
                ],
                Some(4),
            ),
            (&[Segment::Key("missing".into())], None),
        ];
        for (path, expected) in cases {
            assert_eq!(line_of(text, path), *expected, "path {path:?}");
        }
    }

    #[test]
    fn closest_name_table() {
        let names = ["office", "vpn", "partners-acme", "CI"];
        let cases: &[(&str, Option<&str>)] = &[
            ("ofice", Some("office")),
            ("Office", Some("office")),
            ("vpm", Some("vpn")),
            ("partner-acme", Some("partners-acme")),
            ("ci", Some("CI")),
            ("prod", None),
            ("vpnvpn", None),
        ];
        for (name, expected) in cases {
            assert_eq!(closest_name(name, names), *expected, "name {name}");
        }
    }

    #[test]
    fn label_for_matches_network() {
        let config = sample();
        let cases: &[(&str, Option<&str>)] = &[
            ("203.0.113.0/24", Some("Amsterdam office")),
            ("2001:DB8::1", Some("build server")),
            ("2001:db8:0:0::1/128", Some("build server")),
            // Host bits are ignored.
            ("203.0.113.9/24", Some("Amsterdam office")),
            // Only a set entry labels this one.
            ("2001:db8::/48", Some("VPN v6")),
            ("198.51.100.0/25", Some("VPN exit")),
            ("203.0.113.9", None),
            ("not a cidr", None),
        ];
        for (cidr, expected) in cases {
            assert_eq!(config.label_for(cidr), *expected, "cidr {cidr}");
        }
    }

    #[test]
    fn set_label_edits_by_network() {
        let mut config = sample();
        config.set_label("2001:DB8::1", "renamed").unwrap();
        assert_eq!(config.labels[1].cidr, "2001:db8::1/128");
        assert_eq!(config.labels[1].label, "renamed");

        config.set_label("192.0.2.77/24", "  test net ").unwrap();
        assert_eq!(config.labels[2].cidr, "192.0.2.0/24");
        assert_eq!(config.labels[2].label, "test net");

        config.set_label("192.0.2.0/24", " ").unwrap();
        assert_eq!(config.labels.len(), 2);

        let error = config.set_label("192.0.2.1:80", "x").unwrap_err();
        assert!(matches!(error, SetsError::InvalidCidr { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("'192.0.2.1:80' is not a valid CIDR")
        );
    }

    #[test]
    fn resolve_order_and_duplicates() {
        let config = sample();
        let own = strings(&["192.0.2.0/24", "203.0.113.0/24"]);
        let resolved = config.resolve_stage_allowlist(&own, "prod").unwrap();

        let cidrs: Vec<&str> = resolved.iter().map(|entry| entry.cidr.as_str()).collect();
        assert_eq!(
            cidrs,
            [
                "192.0.2.0/24",
                "203.0.113.0/24",
                "198.51.100.0/25",
                "2001:db8::/48"
            ]
        );

        let office = EntrySource::Set("office".into());
        let vpn = EntrySource::Set("vpn".into());
        assert_eq!(resolved[0].sources, [EntrySource::Own]);
        assert_eq!(resolved[1].sources, [EntrySource::Own, office.clone()]);
        assert_eq!(resolved[2].sources, [office, vpn.clone()]);
        assert_eq!(resolved[3].sources, [vpn]);

        assert_eq!(resolved[0].label, None);
        assert_eq!(resolved[1].label.as_deref(), Some("Amsterdam office"));
        // The office entry has no label, so the label comes from the VPN entry.
        assert_eq!(resolved[2].label.as_deref(), Some("VPN exit"));
        assert_eq!(resolved[3].label.as_deref(), Some("VPN v6"));
    }

    #[test]
    fn resolve_keeps_own_text_and_unparsable_entries() {
        let config = sample();
        let own = strings(&["2001:DB8::1", "bogus", "bogus ", "2001:db8::1/128"]);
        let resolved = config.resolve_stage_allowlist(&own, "dev").unwrap();
        let cidrs: Vec<&str> = resolved.iter().map(|entry| entry.cidr.as_str()).collect();
        assert_eq!(cidrs, ["2001:DB8::1", "bogus"]);
        assert_eq!(resolved[0].sources, [EntrySource::Own]);
        assert_eq!(resolved[0].label.as_deref(), Some("build server"));
    }

    #[test]
    fn resolve_live_stage_key() {
        let config = sample();
        let key = live_stage_key("abc123", "v1");
        let resolved = config.resolve_stage_allowlist(&[], &key).unwrap();
        assert_eq!(resolved.len(), 2);
        assert!(
            resolved
                .iter()
                .all(|entry| entry.sources == [EntrySource::Set("office".into())])
        );
    }

    #[test]
    fn resolve_unknown_set_fails() {
        let mut config = sample();
        config.sets.retain(|set| set.name != "vpn");
        let error = config.resolve_stage_allowlist(&[], "prod").unwrap_err();
        assert_eq!(
            error.to_string(),
            "stage 'prod' includes set 'vpn', which is not defined; define it under \"sets\" \
             or remove it from the stage's sets"
        );
    }

    #[test]
    fn stages_including_lists_stage_keys() {
        let config = sample();
        assert_eq!(config.stages_including("office"), ["prod", "abc123/v1"]);
        assert_eq!(config.stages_including("vpn"), ["prod"]);
        assert!(config.stages_including("none").is_empty());
    }

    #[test]
    fn add_and_remove_set_entries() {
        let mut config = sample();
        assert!(
            config
                .add_to_set("vpn", "2001:DB8:1::/48", Some(" second "))
                .unwrap()
        );
        let vpn = config.set("vpn").unwrap();
        assert_eq!(vpn.entries[2], entry("2001:db8:1::/48", Some("second")));

        // The same network again only updates the label.
        assert!(
            !config
                .add_to_set("vpn", "2001:db8:1:0::/48", Some("third"))
                .unwrap()
        );
        assert!(!config.add_to_set("vpn", "2001:db8:1::/48", None).unwrap());
        let vpn = config.set("vpn").unwrap();
        assert_eq!(vpn.entries.len(), 3);
        assert_eq!(vpn.entries[2].label.as_deref(), Some("third"));

        assert!(config.remove_from_set("vpn", "2001:DB8::/48").unwrap());
        assert!(!config.remove_from_set("vpn", "2001:DB8::/48").unwrap());
        assert_eq!(config.set("vpn").unwrap().entries.len(), 2);
    }

    #[test]
    fn add_to_set_rejections() {
        let mut config = sample();
        let error = config.add_to_set("vpm", "192.0.2.0/24", None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "set 'vpm' is not defined; did you mean 'vpn'?"
        );

        let error = config.add_to_set("vpn", "192.0.2.77/24", None).unwrap_err();
        assert!(error.to_string().contains("has host bits set"), "{error}");

        let error = config.add_to_set("vpn", "", None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("'' is not a valid CIDR: empty entry"),
            "{error}"
        );
        assert_eq!(config, sample());
    }

    #[test]
    fn upsert_set_creates_and_replaces() {
        let mut config = sample();
        config
            .upsert_set("partners-acme", vec![entry("192.0.2.0/28", Some("ACME"))])
            .unwrap();
        assert_eq!(config.set_names(), ["office", "vpn", "partners-acme"]);

        config
            .upsert_set("office", vec![entry("192.0.2.128/25", None)])
            .unwrap();
        let office = config.set("office").unwrap();
        assert_eq!(office.description.as_deref(), Some("Office networks"));
        assert_eq!(office.entries, [entry("192.0.2.128/25", None)]);
        assert_eq!(config.set_names(), ["office", "vpn", "partners-acme"]);
    }

    #[test]
    fn upsert_set_rejections() {
        let mut config = sample();
        let cases: Vec<(&str, Vec<SetEntry>, &str)> = vec![
            ("", vec![], "the set name is empty"),
            (" a", vec![], "starts or ends with spaces"),
            (
                "a",
                vec![entry("192.0.2.0/33", None)],
                "set 'a', entry 1: '192.0.2.0/33' is not a valid CIDR",
            ),
            (
                "a",
                vec![entry("192.0.2.0/24", None), entry("192.0.2.0/24", None)],
                "set 'a', entry 2: '192.0.2.0/24' is the same network as entry 1",
            ),
            (
                "a",
                vec![entry("192.0.2.0/24", Some(""))],
                "the label is empty",
            ),
        ];
        for (name, entries, expected) in cases {
            let message = config.upsert_set(name, entries).unwrap_err().to_string();
            assert!(message.contains(expected), "{name:?}: {message}");
        }
        assert_eq!(config, sample());
    }

    #[test]
    fn include_and_exclude_sets() {
        let mut config = sample();
        assert!(config.include_set("dev", "vpn").unwrap());
        assert!(!config.include_set("dev", "vpn").unwrap());
        assert!(
            config
                .include_set("prod", "office")
                .is_ok_and(|added| !added)
        );
        assert_eq!(config.sets_for_stage("dev"), ["vpn"]);
        assert_eq!(config.stages.last().unwrap().stage, "dev");

        let error = config.include_set("dev", "ofice").unwrap_err();
        assert!(
            error.to_string().ends_with("did you mean 'office'?"),
            "{error}"
        );

        assert!(config.exclude_set("dev", "vpn"));
        assert!(!config.exclude_set("dev", "vpn"));
        // The stage had no sets left, so it is gone, and the model is as it was.
        assert_eq!(config, sample());
    }

    #[test]
    fn remove_set_drops_it_from_stages() {
        let mut config = sample();
        let stages = config.remove_set("office").unwrap();
        assert_eq!(stages, ["prod", "abc123/v1"]);
        assert_eq!(config.set_names(), ["vpn"]);
        assert_eq!(config.sets_for_stage("prod"), ["vpn"]);
        assert!(config.stages.iter().all(|stage| stage.stage != "abc123/v1"));
        assert!(config.remove_set("office").is_err());
    }

    #[test]
    fn set_description_edits() {
        let mut config = sample();
        config
            .set_description("vpn", Some(" Corporate VPN "))
            .unwrap();
        assert_eq!(
            config.set("vpn").unwrap().description.as_deref(),
            Some("Corporate VPN")
        );
        config.set_description("vpn", Some("")).unwrap();
        assert_eq!(config.set("vpn").unwrap().description, None);
        assert!(config.set_description("nope", None).is_err());
    }

    #[test]
    fn merge_project_wins() {
        let project = sample();
        let personal = parse(
            r#"{
  "version": 1,
  "labels": {"2001:DB8::1": "my laptop", "192.0.2.1/32": "home"},
  "sets": {
    "vpn": {"entries": [{"cidr": "10.0.0.0/8"}]},
    "home": {"entries": [{"cidr": "192.0.2.1/32"}]}
  },
  "stages": {
    "prod": {"sets": ["home", "vpn"]},
    "xyz789/api": {"sets": ["home"]}
  }
}"#,
        )
        .unwrap();

        let merged = merge(&project, &personal);
        assert_eq!(merged.config.set_names(), ["office", "vpn", "home"]);
        assert_eq!(merged.config.set("vpn"), project.set("vpn"));
        assert_eq!(merged.origin_of("vpn"), Some(Origin::Project));
        assert_eq!(merged.origin_of("home"), Some(Origin::Personal));
        assert_eq!(merged.origin_of("none"), None);

        assert_eq!(
            merged.config.sets_for_stage("prod"),
            ["office", "vpn", "home"]
        );
        assert_eq!(merged.config.sets_for_stage("xyz789/api"), ["home"]);
        assert_eq!(merged.config.label_for("2001:db8::1"), Some("build server"));
        assert_eq!(merged.config.label_for("192.0.2.1"), Some("home"));

        assert_eq!(
            merged.warnings,
            [
                MergeWarning::LabelConflict {
                    cidr: "2001:db8::1/128".into(),
                    project: "build server".into(),
                    personal: "my laptop".into(),
                },
                MergeWarning::SetShadowed { name: "vpn".into() },
            ]
        );
        assert_eq!(
            merged.warnings[1].to_string(),
            "set 'vpn' is defined in both the project file and the personal file; the \
             project's set is used, so rename the personal one to use both"
        );
    }

    #[test]
    fn validate_rejects_collapsing_keys() {
        let mut config = sample();
        config.sets.push(config.sets[0].clone());
        let error = validate(Path::new(PATH), &config).unwrap_err();
        assert!(error.to_string().contains("have the same key"), "{error}");
    }

    #[test]
    fn validate_rejects_invalid_model() {
        let mut config = sample();
        config.sets[0].entries.push(entry("192.0.2.1:443", None));
        let error = validate(Path::new(PATH), &config).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{PATH}: sets.office.entries[2].cidr: '192.0.2.1:443' is not a valid CIDR: a \
                 port is not part of a CIDR; use 192.0.2.1/32"
            )
        );
    }

    #[test]
    fn user_file_path_override() {
        let platform = Some(PathBuf::from("/home/u/.config/ipgate"));
        assert_eq!(
            user_file_path_in(Some(OsStr::new("/tmp/cfg")), platform.clone()),
            Some(PathBuf::from("/tmp/cfg/ipgate.json"))
        );
        assert_eq!(
            user_file_path_in(Some(OsStr::new("")), platform.clone()),
            Some(PathBuf::from("/home/u/.config/ipgate/ipgate.json"))
        );
        assert_eq!(
            user_file_path_in(None, platform),
            Some(PathBuf::from("/home/u/.config/ipgate/ipgate.json"))
        );
        assert_eq!(user_file_path_in(None, None), None);
    }

    #[test]
    fn project_file_path_is_in_chalice_dir() {
        assert_eq!(
            project_file_path(Path::new("/src/app")),
            PathBuf::from("/src/app/.chalice/ipgate.json")
        );
    }
}
