//! `ipgate list`: every stage row, as the home screen shows them.

use serde::Serialize;

use crate::cli::{Args, ListArgs};
use crate::model::{Connection, StageRow};

use super::Context;
use super::exit::{CommandError, SUCCESS};
use super::output::{OutputFormat, StageJson, print_json, short_time, table};

/// The JSON document of `list`.
#[derive(Debug, Serialize)]
struct ListJson {
    region: Option<String>,
    /// `"online"` or `"local_only"`.
    connection: &'static str,
    /// The reason the run is local-only.
    connection_reason: Option<String>,
    stages: Vec<StageJson>,
}

pub async fn run(args: &Args, list: &ListArgs) -> Result<u8, CommandError> {
    let context = Context::load(args).await?;
    let rows = context.rows();

    match list.output.output {
        OutputFormat::Json => {
            let (connection, connection_reason) = match &context.inventory.connection {
                Connection::LocalOnly { reason } => ("local_only", Some(reason.clone())),
                Connection::Online | Connection::Connecting => ("online", None),
            };
            print_json(&ListJson {
                region: context.inventory.region.clone(),
                connection,
                connection_reason,
                stages: rows.iter().map(StageJson::from_row).collect(),
            })?;
        }
        OutputFormat::Text => print!("{}", text(&rows)),
    }
    Ok(SUCCESS)
}

fn text(rows: &[StageRow]) -> String {
    if rows.is_empty() {
        return "No REST APIs and no Chalice stages found.\n".to_string();
    }

    let header = [
        "CHALICE",
        "API",
        "REST API ID",
        "STAGE",
        "ALLOWLIST",
        "LAST DEPLOYED",
        "STATUS",
    ];
    let mut cells = vec![
        header
            .iter()
            .map(|title| title.to_string())
            .collect::<Vec<_>>(),
    ];
    for row in rows {
        let status = match &row.status {
            crate::model::SyncStatus::Error(error) => format!("error: {error}"),
            status => status.label().to_string(),
        };
        cells.push(vec![
            row.chalice_stage.clone().unwrap_or_else(|| "-".to_string()),
            row.api_name.clone().unwrap_or_else(|| "-".to_string()),
            row.rest_api_id.clone().unwrap_or_else(|| "-".to_string()),
            if row.stage.is_empty() {
                "?".to_string()
            } else {
                row.stage.clone()
            },
            allowlist_text(&row.allowlist_summary),
            row.last_deployed
                .map(short_time)
                .unwrap_or_else(|| "-".to_string()),
            status,
        ]);
    }
    table(&cells)
}

/// "3 CIDRs", "open", "closed" or "?".
fn allowlist_text(summary: &str) -> String {
    match summary.parse::<usize>() {
        Ok(1) => "1 CIDR".to_string(),
        Ok(count) => format!("{count} CIDRs"),
        Err(_) if summary.is_empty() => "?".to_string(),
        Err(_) => summary.to_string(),
    }
}
