//! Naming a stage on the command line: a Chalice stage name (`prod`) or `REST_API_ID/STAGE`.
//!
//! A bare API Gateway stage name (`v1`) and `API_NAME/STAGE` are accepted too when exactly one
//! row matches. Several matches are an error that lists the candidates.

use crate::model::StageRow;

use super::exit::CommandError;

/// Returns the name that always picks `row`: its Chalice stage, else `REST_API_ID/STAGE`.
/// `None` for a row without a stage, such as a REST API whose stages could not be listed.
pub fn row_name(row: &StageRow) -> Option<String> {
    if row.stage.is_empty() {
        return None;
    }
    match (&row.chalice_stage, &row.rest_api_id) {
        (Some(chalice_stage), _) => Some(chalice_stage.clone()),
        (None, Some(rest_api_id)) => Some(format!("{rest_api_id}/{}", row.stage)),
        (None, None) => None,
    }
}

/// Finds the one row `name` stands for. An unknown or ambiguous name is a usage error that
/// lists the candidates.
pub fn resolve<'a>(name: &str, rows: &'a [StageRow]) -> Result<&'a StageRow, CommandError> {
    let nameable: Vec<&StageRow> = rows.iter().filter(|row| row_name(row).is_some()).collect();
    let matches = matching_rows(name, &nameable);

    match matches.as_slice() {
        [row] => Ok(row),
        [] => Err(CommandError::usage(format!(
            "no stage is named '{name}'. Name a Chalice stage or REST_API_ID/STAGE:\n{}",
            candidates(&nameable)
        ))),
        several => Err(CommandError::usage(format!(
            "'{name}' names {} stages. Name one of them:\n{}",
            several.len(),
            candidates(several)
        ))),
    }
}

fn matching_rows<'a>(name: &str, rows: &[&'a StageRow]) -> Vec<&'a StageRow> {
    if let Some((api, stage)) = name.split_once('/') {
        let by_id: Vec<&StageRow> = rows
            .iter()
            .copied()
            .filter(|row| row.stage == stage && row.rest_api_id.as_deref() == Some(api))
            .collect();
        if !by_id.is_empty() {
            return by_id;
        }
        return rows
            .iter()
            .copied()
            .filter(|row| row.stage == stage && row.api_name.as_deref() == Some(api))
            .collect();
    }

    let by_chalice: Vec<&StageRow> = rows
        .iter()
        .copied()
        .filter(|row| row.chalice_stage.as_deref() == Some(name))
        .collect();
    if !by_chalice.is_empty() {
        return by_chalice;
    }
    rows.iter()
        .copied()
        .filter(|row| row.stage == name)
        .collect()
}

/// Lists one line per row: the name to type, then the REST API and stage it names.
fn candidates(rows: &[&StageRow]) -> String {
    if rows.is_empty() {
        return "  (no stages found)".to_string();
    }
    let names: Vec<String> = rows.iter().filter_map(|row| row_name(row)).collect();
    let width = names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<String> = rows
        .iter()
        .zip(&names)
        .map(|(row, name)| format!("  {name:<width$}  {}", describe(row)))
        .collect();
    lines.join("\n")
}

/// "REST API app (abc123), stage api", or "not deployed, stage api" for a Chalice stage
/// without a REST API.
fn describe(row: &StageRow) -> String {
    match (&row.api_name, &row.rest_api_id) {
        (Some(api_name), Some(id)) => format!("REST API {api_name} ({id}), stage {}", row.stage),
        (None, Some(id)) => format!("REST API {id}, stage {}", row.stage),
        _ => format!("not deployed, stage {}", row.stage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SyncStatus;

    fn row(
        id: Option<&str>,
        api_name: Option<&str>,
        stage: &str,
        chalice: Option<&str>,
    ) -> StageRow {
        StageRow {
            rest_api_id: id.map(str::to_string),
            api_name: api_name.map(str::to_string),
            stage: stage.to_string(),
            chalice_stage: chalice.map(str::to_string),
            deployment_id: None,
            last_deployed: None,
            allowlist_summary: String::new(),
            status: SyncStatus::InSync,
        }
    }

    fn sample_rows() -> Vec<StageRow> {
        vec![
            row(Some("dev1"), Some("app"), "api", Some("dev")),
            row(Some("prod1"), Some("app"), "api", Some("prod")),
            row(Some("part1"), Some("partners"), "v1", None),
            row(Some("part1"), Some("partners"), "v2", None),
            row(None, None, "api", Some("staging")),
            row(Some("broken"), Some("broken-api"), "", None),
        ]
    }

    #[test]
    fn resolve_table() {
        let rows = sample_rows();
        // A stage name, then the API Gateway stage and Chalice stage it resolves to, if any.
        type Case<'a> = (&'a str, Option<(&'a str, Option<&'a str>)>);
        let cases: [Case; 9] = [
            ("prod", Some(("api", Some("prod")))),
            ("staging", Some(("api", Some("staging")))),
            ("prod1/api", Some(("api", Some("prod")))),
            ("part1/v2", Some(("v2", None))),
            ("v1", Some(("v1", None))),
            ("partners/v1", Some(("v1", None))),
            ("api", None),
            ("app/api", None),
            ("nope", None),
        ];
        for (name, expected) in cases {
            let found = resolve(name, &rows)
                .ok()
                .map(|row| (row.stage.as_str(), row.chalice_stage.as_deref()));
            assert_eq!(found, expected, "resolving {name}");
        }
    }

    #[test]
    fn ambiguous_name_lists_candidates() {
        let rows = sample_rows();
        let error = resolve("app/api", &rows).unwrap_err();
        assert_eq!(error.code, super::super::exit::USAGE);
        assert!(
            error.message.contains("names 2 stages"),
            "{}",
            error.message
        );
        assert!(error.message.contains("  dev "), "{}", error.message);
        assert!(error.message.contains("  prod "), "{}", error.message);
    }

    #[test]
    fn unknown_name_lists_every_stage() {
        let rows = sample_rows();
        let error = resolve("nope", &rows).unwrap_err();
        assert!(
            error.message.contains("no stage is named 'nope'"),
            "{}",
            error.message
        );
        for name in ["dev", "prod", "part1/v1", "part1/v2", "staging"] {
            assert!(
                error.message.contains(&format!("  {name} ")),
                "{name} missing: {}",
                error.message
            );
        }
        assert!(!error.message.contains("broken"), "{}", error.message);
    }

    #[test]
    fn row_name_of_unlisted_stages_is_none() {
        let rows = sample_rows();
        assert_eq!(row_name(&rows[5]), None);
        assert_eq!(row_name(&rows[2]).as_deref(), Some("part1/v1"));
    }
}
