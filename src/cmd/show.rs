//! `ipgate show STAGE`: one stage's allowlist, flags, effective access and policy.

use serde::Serialize;
use serde_json::Value;

use crate::cli::{Args, ShowArgs};
use crate::core::policy::StageAccess;
use crate::model::{OpenedStage, open_stage};

use super::Context;
use super::exit::{CommandError, SUCCESS};
use super::output::{FlagJson, OutputFormat, StageJson, flag_text, policy_text, print_json};
use super::stage_name::resolve;

/// The JSON document of `show`.
#[derive(Debug, Serialize)]
struct ShowJson {
    stage: StageJson,
    /// The stage as the editor titles it, such as "app (abc123) / api (Chalice stage prod)".
    title: String,
    /// The source of the allowlist: `"policy_file"`, `"live_policy"` or `"none"`.
    policy_source: &'static str,
    /// The Chalice stage's policy file, when one is configured or exists.
    policy_file: Option<String>,
    /// `"allowlist"`, `"open"` or `"closed"`: the policy's access rule for this stage.
    access: &'static str,
    entries: Vec<EntryJson>,
    effective_access: EffectiveAccessJson,
    /// True for a Chalice stage whose policy file and live policy differ in meaning.
    drift: bool,
    /// Project warnings about this stage, such as a policy file other stages share.
    warnings: Vec<String>,
    /// The document the allowlist is read from.
    policy: Option<Value>,
    /// False when ipgate is not connected or the stage has no live REST API.
    live_known: bool,
    live_policy: Option<Value>,
}

#[derive(Debug, Serialize)]
struct EntryJson {
    cidr: String,
    /// The reason the entry is not a valid CIDR, or `null` when it is valid.
    error: Option<String>,
    flags: Vec<FlagJson>,
}

#[derive(Debug, Serialize)]
struct EffectiveAccessJson {
    /// A description of the callers allowed now, from the live policy when it is known.
    summary: String,
    /// Every way the policy admits more or fewer callers than the allowlist lists.
    warnings: Vec<String>,
}

pub async fn run(args: &Args, show: &ShowArgs) -> Result<u8, CommandError> {
    let context = Context::load(args).await?;
    let rows = context.rows();
    let row = resolve(&show.stage, &rows)?;
    let opened = open_stage(row, &context.inventory).map_err(CommandError::failure)?;
    let document = build(&opened, StageJson::from_row(row));

    match show.output.output {
        OutputFormat::Json => print_json(&document)?,
        OutputFormat::Text => print!("{}", text(&opened, &document)),
    }
    Ok(SUCCESS)
}

fn build(opened: &OpenedStage, stage: StageJson) -> ShowJson {
    let session = &opened.session;
    let flags = session.flags();
    let entries = session
        .parsed()
        .iter()
        .zip(&session.entries)
        .zip(&flags)
        .map(|((parsed, cidr), flags)| EntryJson {
            cidr: cidr.clone(),
            error: parsed.as_ref().err().map(ToString::to_string),
            flags: flags.iter().map(FlagJson::from_flag).collect(),
        })
        .collect();

    let warnings = match session.access_after() {
        Ok((_, warnings)) => warnings.iter().map(ToString::to_string).collect(),
        Err(error) => vec![format!("the policy cannot be evaluated: {error}")],
    };
    let mut project_warnings = opened.warnings.clone();
    let shared = session.shared_stages();
    if !shared.is_empty() {
        project_warnings.push(format!(
            "the allowlist's statement also covers stage(s) {}; add and remove give this stage a statement of its own unless --apply-to-shared is given",
            shared.join(", ")
        ));
    }

    ShowJson {
        stage,
        title: session.target.title(),
        policy_source: policy_source(opened),
        policy_file: session
            .local
            .as_ref()
            .map(|file| file.path.clone())
            .or_else(|| session.local_path.clone())
            .map(|path| path.display().to_string()),
        access: match session.original_access {
            StageAccess::Allowlist(_) => "allowlist",
            StageAccess::Unrestricted => "open",
            StageAccess::Closed => "closed",
        },
        entries,
        effective_access: EffectiveAccessJson {
            summary: session.access_now().summary(),
            warnings,
        },
        drift: opened.has_drift(),
        warnings: project_warnings,
        policy: session.base.clone(),
        live_known: session.live_known,
        live_policy: if session.live_known {
            session.live.clone()
        } else {
            None
        },
    }
}

fn policy_source(opened: &OpenedStage) -> &'static str {
    match (&opened.session.local, &opened.session.base) {
        (Some(_), _) => "policy_file",
        (None, Some(_)) => "live_policy",
        (None, None) => "none",
    }
}

fn text(opened: &OpenedStage, show: &ShowJson) -> String {
    let session = &opened.session;
    let mut lines = vec![show.title.clone()];
    lines.push(format!("Sync status: {}", status_text(show)));

    let source = match (show.policy_source, &show.policy_file) {
        ("policy_file", Some(path)) => format!("the policy file {}", display_path(opened, path)),
        ("live_policy", _) => "the live policy".to_string(),
        _ => "no policy".to_string(),
    };
    let access = match show.access {
        "open" => "open to everyone".to_string(),
        "closed" => "closed to everyone".to_string(),
        _ if show.entries.len() == 1 => "1 entry".to_string(),
        _ => format!("{} entries", show.entries.len()),
    };
    lines.push(format!("Allowlist from {source}: {access}"));

    let flags = session.flags();
    for (index, entry) in show.entries.iter().enumerate() {
        let mut line = format!("  #{:<3} {}", index + 1, entry.cidr);
        if let Some(error) = &entry.error {
            line.push_str(&format!("  invalid: {error}"));
        }
        for flag in &flags[index] {
            line.push_str(&format!("  [{}]", flag_text(flag)));
        }
        lines.push(line);
    }

    lines.push(format!(
        "Who gets in now: {}",
        show.effective_access.summary
    ));
    for warning in show.effective_access.warnings.iter().chain(&show.warnings) {
        lines.push(format!("! {warning}"));
    }
    if show.drift {
        lines.push(format!(
            "! The policy file and the live policy differ. `ipgate diff {0}` shows how; `ipgate apply {0}` pushes the file live.",
            show.stage.name.as_deref().unwrap_or("STAGE")
        ));
    }

    lines.push(String::new());
    lines.push(format!("Policy ({source}):"));
    lines.push(policy_text(show.policy.as_ref()));
    if show.drift {
        lines.push(String::new());
        lines.push("Live policy:".to_string());
        lines.push(policy_text(show.live_policy.as_ref()));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn status_text(show: &ShowJson) -> String {
    match (&show.stage.error, show.stage.sync_status) {
        (Some(error), _) => format!("error: {error}"),
        (None, key) => key.replace('_', " "),
    }
}

/// `path` relative to the project directory when it is inside it.
fn display_path(opened: &OpenedStage, path: &str) -> String {
    let path = std::path::Path::new(path);
    match opened
        .project_root
        .as_deref()
        .and_then(|root| path.strip_prefix(root).ok())
    {
        Some(relative) => relative.display().to_string(),
        None => path.display().to_string(),
    }
}
