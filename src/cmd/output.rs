//! Output of the subcommands: the JSON shapes scripts read, and the text forms people read.
//!
//! JSON goes alone to standard output as one pretty-printed document. Field names and the
//! string values listed on each field are stable; new fields may be added.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::core::cidr::EntryFlag;
use crate::model::{StageRow, SyncStatus};

use super::exit::CommandError;
use super::stage_name::row_name;

/// The format of a subcommand's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Prints `value` as pretty JSON on standard output.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(value).map_err(|error| {
        CommandError::failure(format!("encoding the JSON output failed: {error}"))
    })?;
    println!("{text}");
    Ok(())
}

/// One stage row, as `list` prints it and the other subcommands embed it.
#[derive(Debug, Clone, Serialize)]
pub struct StageJson {
    /// The name the other subcommands accept: the Chalice stage, else `REST_API_ID/STAGE`.
    /// `null` for a REST API whose stages could not be listed.
    pub name: Option<String>,
    pub api_name: Option<String>,
    pub rest_api_id: Option<String>,
    /// The API Gateway stage name; `null` when the stages could not be listed.
    pub stage: Option<String>,
    pub chalice_stage: Option<String>,
    /// `"allowlist"`, `"open"` (no IP restriction), `"closed"` (no caller allowed) or
    /// `"unknown"`. For a Chalice stage this describes the policy file, else the live policy.
    pub access: &'static str,
    /// Number of CIDRs when `access` is `"allowlist"`.
    pub cidr_count: Option<usize>,
    pub deployment_id: Option<String>,
    /// RFC 3339 time in UTC.
    pub last_deployed: Option<String>,
    /// The comparison of the policy file and the live policy: `"in_sync"` or `"differ"` (by
    /// meaning), `"local_only"`, `"live_only"`, `"not_deployed"`, `"loading"` or `"error"`.
    /// `"local_only"` is a Chalice stage whose REST API stage does not exist, `"live_only"` a
    /// stage of no Chalice stage, and `"not_deployed"` a Chalice stage without a deployed record.
    pub sync_status: &'static str,
    /// The reason `sync_status` is `"error"`.
    pub error: Option<String>,
}

impl StageJson {
    pub fn from_row(row: &StageRow) -> StageJson {
        let (access, cidr_count) = access_kind(&row.allowlist_summary);
        StageJson {
            name: row_name(row),
            api_name: row.api_name.clone(),
            rest_api_id: row.rest_api_id.clone(),
            stage: Some(row.stage.clone()).filter(|stage| !stage.is_empty()),
            chalice_stage: row.chalice_stage.clone(),
            access,
            cidr_count,
            deployment_id: row.deployment_id.clone(),
            last_deployed: row.last_deployed.map(rfc3339),
            sync_status: sync_status_key(&row.status),
            error: match &row.status {
                SyncStatus::Error(error) => Some(error.clone()),
                _ => None,
            },
        }
    }
}

/// Splits a row's allowlist summary ("3", "open", "closed", "?") into a kind and a count.
fn access_kind(summary: &str) -> (&'static str, Option<usize>) {
    match summary {
        "open" => ("open", None),
        "closed" => ("closed", None),
        other => match other.parse::<usize>() {
            Ok(count) => ("allowlist", Some(count)),
            Err(_) => ("unknown", None),
        },
    }
}

/// Returns the JSON value of a sync status.
pub fn sync_status_key(status: &SyncStatus) -> &'static str {
    match status {
        SyncStatus::Loading => "loading",
        SyncStatus::InSync => "in_sync",
        SyncStatus::Differ => "differ",
        SyncStatus::LocalOnly => "local_only",
        SyncStatus::LiveOnly => "live_only",
        SyncStatus::NotDeployed => "not_deployed",
        SyncStatus::Error(_) => "error",
    }
}

/// One flag of an allowlist entry. Indexes count entries from 0.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FlagJson {
    /// The same network as an earlier entry.
    Duplicate { of: usize },
    /// Covered by a strictly larger network.
    CoveredBy { by: usize },
    /// Host bits are set; `covers` is the network the entry really covers.
    HostBitsSet { covers: String },
    /// `/0`: no IPv4 (or IPv6) restriction.
    Unrestricted { ipv6: bool },
}

impl FlagJson {
    pub fn from_flag(flag: &EntryFlag) -> FlagJson {
        match flag {
            EntryFlag::Duplicate { of } => FlagJson::Duplicate { of: *of },
            EntryFlag::CoveredBy { index } => FlagJson::CoveredBy { by: *index },
            EntryFlag::HostBitsSet { covers } => FlagJson::HostBitsSet {
                covers: covers.to_string(),
            },
            EntryFlag::Unrestricted { ipv6 } => FlagJson::Unrestricted { ipv6: *ipv6 },
        }
    }
}

/// Describes one flag of an entry in words, numbering entries from 1.
pub fn flag_text(flag: &EntryFlag) -> String {
    match flag {
        EntryFlag::Duplicate { of } => format!("duplicate of #{}", of + 1),
        EntryFlag::CoveredBy { index } => format!("covered by #{}", index + 1),
        EntryFlag::HostBitsSet { covers } => format!("host bits set: covers {covers}"),
        EntryFlag::Unrestricted { ipv6: false } => "no IPv4 restriction".to_string(),
        EntryFlag::Unrestricted { ipv6: true } => "no IPv6 restriction".to_string(),
    }
}

/// Formats a time as RFC 3339 in UTC, for JSON.
pub fn rfc3339(time: SystemTime) -> String {
    OffsetDateTime::from(time)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Formats a time in UTC to the minute, such as "2026-03-01 14:05 UTC", for text.
pub fn short_time(time: SystemTime) -> String {
    let time = OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}

/// Formats rows of cells as columns separated by two spaces; the first row is the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// Formats a policy document as pretty JSON, or a note when there is none.
pub fn policy_text(document: Option<&Value>) -> String {
    match document {
        Some(document) => crate::core::policy::to_pretty(document),
        None => "(no policy)".to_string(),
    }
}
