//! Policy history and audit log: append-only JSON Lines files under the data directory.
//!
//! Before ipgate replaces a stage's live policy it records the version it is about to replace,
//! so the user can see and restore it later. Each save also appends one audit record. Files are
//! only ever appended to: earlier lines are never rewritten or truncated.
//!
//! Layout under the data directory:
//!
//! - `history/<region or "unknown-region">/<rest_api_id>/<stage>.jsonl`: [`PolicyVersion`]s.
//! - `audit.jsonl`: [`AuditRecord`]s.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The environment variable that overrides the data directory.
pub const DATA_DIR_VAR: &str = "IPGATE_DATA_DIR";

/// The directory name used for a version recorded without a region.
pub const UNKNOWN_REGION: &str = "unknown-region";

const HISTORY_DIR: &str = "history";
const AUDIT_FILE: &str = "audit.jsonl";

/// A stage's policy as it was just before ipgate changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// When the version was recorded, stored as an RFC 3339 UTC string.
    #[serde(with = "rfc3339")]
    pub recorded_at: SystemTime,
    pub region: Option<String>,
    pub account: Option<String>,
    pub rest_api_id: String,
    /// The API Gateway stage name.
    pub stage: String,
    pub chalice_stage: Option<String>,
    /// The deployment the stage served before the change.
    pub deployment_id: Option<String>,
    /// The live resource policy before the change, minified, or `None` when the REST API had none.
    pub policy: Option<String>,
    /// The local policy file, when the project has one.
    pub local_file: Option<PathBuf>,
    /// The text of the local policy file before the change.
    pub local_text: Option<String>,
    /// The reason for recording the version, such as "before save" or "before rollback".
    pub reason: String,
}

/// One save or rollback as the user saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the run finished, stored as an RFC 3339 UTC string.
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
    pub region: Option<String>,
    pub account: Option<String>,
    pub rest_api_id: String,
    /// The API Gateway stage name.
    pub stage: String,
    pub chalice_stage: Option<String>,
    /// The allowlist change, such as "+203.0.113.7/32 -198.51.100.0/24".
    pub change: String,
    /// Each step of the run, worded as the user was shown it.
    pub steps: Vec<String>,
    /// The deployment the run created, if any.
    pub deployment_id: Option<String>,
    /// "saved", "policy saved, not deployed" or "failed: " followed by the error.
    pub outcome: String,
}

/// An I/O or encoding failure, naming the file and the operation.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("no data directory found for the policy history; set {DATA_DIR_VAR} to a directory")]
    NoDataDir,
    #[error("failed to {operation} {}: {source}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("failed to encode a record for {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid {what} for the policy history: the name is empty")]
    EmptyName { what: &'static str },
}

/// The policy history and audit log under one data directory.
///
/// Each method opens its file anew, so several stores or processes can share one directory, and
/// each append writes a whole line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStore {
    dir: PathBuf,
}

impl HistoryStore {
    /// Opens the store in `IPGATE_DATA_DIR` when set, else in the platform data directory.
    /// Nothing is created on disk until the first record is written.
    pub fn open_default() -> Result<HistoryStore, HistoryError> {
        if let Some(dir) = std::env::var_os(DATA_DIR_VAR).filter(|dir| !dir.is_empty()) {
            return Ok(HistoryStore::at(dir));
        }

        directories::ProjectDirs::from("", "", "ipgate")
            .map(|dirs| HistoryStore::at(dirs.data_dir()))
            .ok_or(HistoryError::NoDataDir)
    }

    /// Opens the store in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> HistoryStore {
        HistoryStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the history file of one stage. Names are percent-encoded so that any REST API
    /// id or stage name stays one path component.
    pub fn history_file(
        &self,
        region: Option<&str>,
        rest_api_id: &str,
        stage: &str,
    ) -> Result<PathBuf, HistoryError> {
        let region = match region {
            Some(region) => path_component("region", region)?,
            None => UNKNOWN_REGION.to_string(),
        };
        let rest_api_id = path_component("REST API id", rest_api_id)?;
        let stage = path_component("stage name", stage)?;

        Ok(self
            .dir
            .join(HISTORY_DIR)
            .join(region)
            .join(rest_api_id)
            .join(format!("{stage}.jsonl")))
    }

    pub fn audit_file(&self) -> PathBuf {
        self.dir.join(AUDIT_FILE)
    }

    /// Appends `entry` to its stage's history file and syncs it to disk.
    pub fn record_before_write(&self, entry: &PolicyVersion) -> Result<(), HistoryError> {
        let path = self.history_file(entry.region.as_deref(), &entry.rest_api_id, &entry.stage)?;
        append_line(&path, entry)
    }

    /// Returns a stage's recorded versions, the last appended first. Corrupt lines are skipped
    /// with a warning in the log.
    pub fn versions(
        &self,
        region: Option<&str>,
        rest_api_id: &str,
        stage: &str,
    ) -> Result<Vec<PolicyVersion>, HistoryError> {
        let path = self.history_file(region, rest_api_id, stage)?;
        let mut versions: Vec<PolicyVersion> = read_lines(&path)?;
        versions.reverse();
        Ok(versions)
    }

    /// Appends `record` to the audit log and syncs it to disk.
    pub fn append_audit(&self, record: &AuditRecord) -> Result<(), HistoryError> {
        append_line(&self.audit_file(), record)
    }

    /// Returns the audit records in the order they were appended. Corrupt lines are skipped with
    /// a warning in the log.
    pub fn audit_records(&self) -> Result<Vec<AuditRecord>, HistoryError> {
        read_lines(&self.audit_file())
    }
}

/// Percent-encodes every byte outside `[A-Za-z0-9_-]`, so the result can name neither a parent
/// directory nor a subdirectory.
fn path_component(what: &'static str, name: &str) -> Result<String, HistoryError> {
    if name.is_empty() {
        return Err(HistoryError::EmptyName { what });
    }

    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(encoded)
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> HistoryError {
    let path = path.to_path_buf();
    move |source| HistoryError::Io {
        operation,
        path,
        source,
    }
}

/// Appends `record` as one JSON line with a single `write_all` on a file opened with O_APPEND,
/// then syncs the data.
///
/// The exclusive lock keeps writers in other threads and processes from interleaving with this
/// one, and keeps readers from seeing half a line. It is advisory: only ipgate takes it.
fn append_line<T: Serialize>(path: &Path, record: &T) -> Result<(), HistoryError> {
    let mut line = serde_json::to_vec(record).map_err(|source| HistoryError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    line.push(b'\n');

    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;

    let existed = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_error("open", path))?;
    file.lock().map_err(io_error("lock", path))?;

    // A crash mid-write can leave a last line without its newline. Starting a new line keeps
    // this record whole.
    if !ends_with_newline(&mut file).map_err(io_error("read the end of", path))? {
        line.insert(0, b'\n');
    }

    file.write_all(&line).map_err(io_error("append to", path))?;
    file.sync_data().map_err(io_error("sync", path))?;

    if !existed {
        sync_dir(parent).map_err(io_error("sync directory", parent))?;
    }
    Ok(())
}

/// Returns true for an empty file or one whose last byte is a newline.
fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }

    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Syncs a directory so a newly created file in it survives a crash.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// NOTE: Windows cannot open a directory with `File::open`, so a new file's directory entry is
/// not synced there.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Reads every line of a JSON Lines file. A missing file has no records.
fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, HistoryError> {
    match read_json_lines(path) {
        Ok(records) => Ok(records),
        Err((_, error)) if error.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err((operation, error)) => Err(io_error(operation, path)(error)),
    }
}

/// Reads every line of a JSON Lines file under a shared lock, as the history, the audit log and
/// the batch journals are written. Blank lines are skipped silently and corrupt ones, such as a
/// line cut off by a crash, with a warning. An error comes with the operation that failed.
pub(crate) fn read_json_lines<T: DeserializeOwned>(
    path: &Path,
) -> Result<Vec<T>, (&'static str, io::Error)> {
    let mut file = File::open(path).map_err(|error| ("open", error))?;
    file.lock_shared().map_err(|error| ("lock", error))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|error| ("read", error))?;

    let mut records = Vec::new();
    for (index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }

        match serde_json::from_slice(line) {
            Ok(record) => records.push(record),
            Err(error) => tracing::warn!(
                file = %path.display(),
                line = index + 1,
                %error,
                "skipping a corrupt line"
            ),
        }
    }
    Ok(records)
}

/// Serde helpers that store a `SystemTime` as an RFC 3339 string in UTC.
mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        let text = OffsetDateTime::from(*time)
            .format(&Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        let time = OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)?;
        Ok(time.into())
    }
}
