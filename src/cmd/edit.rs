//! `ipgate add` and `ipgate remove`: allowlist edits saved as the editor saves them.

use crate::cli::{AddArgs, Args, EditOptions, RemoveArgs, SaveOptions};
use crate::core::cidr::{CidrEntry, EntryFlag, parse_entry};
use crate::model::edit::{AddOutcome, EditSession, EmptyChoice};
use crate::model::{OpenedStage, StageRow, open_stage};

use super::exit::CommandError;
use super::output::OutputFormat;
use super::save::{SaveRequest, confirm_and_save, stage_label};
use super::stage_name::resolve;
use super::{Context, refuse_read_only};

pub async fn add(args: &Args, add: &AddArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "add")?;
    // Typing mistakes fail before any AWS call.
    parse_all(&add.cidrs)?;

    let mut context = Context::load(args).await?;
    let rows = context.rows();
    let row = resolve(&add.stage, &rows)?;
    let mut opened = open_for_edit(row, &context, &add.edit)?;

    let stage = stage_label(&opened.session);
    for cidr in &add.cidrs {
        let outcome = opened
            .session
            .add(cidr)
            .map_err(|error| CommandError::usage(format!("invalid CIDR: {error}")))?;
        match outcome {
            AddOutcome::Added(entry) => note_host_bits(&entry),
            AddOutcome::AlreadyPresent(entry) => {
                eprintln!("{entry} is already in the allowlist of stage {stage}.")
            }
        }
    }

    note_covered_entries(&opened.session);
    let code = save(
        opened,
        &context,
        row,
        &add.save,
        &add.edit,
        add.output.output,
    )
    .await?;
    if let Some(label) = &add.label
        && code == super::exit::SUCCESS
    {
        save_labels(&mut context, &add.cidrs, label)?;
    }
    Ok(code)
}

/// Labels each of `cidrs` in the label file, after the save that added them succeeded.
fn save_labels(context: &mut Context, cidrs: &[String], label: &str) -> Result<(), CommandError> {
    for cidr in cidrs {
        let path = context
            .inventory
            .sets
            .save_label(cidr, label)
            .map_err(|error| {
                CommandError::failure(format!("saving the label of {cidr} failed: {error}"))
            })?;
        eprintln!("{cidr} labeled \"{label}\" in {}.", path.display());
    }
    Ok(())
}

pub async fn remove(args: &Args, remove: &RemoveArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "remove")?;
    let wanted = parse_all(&remove.cidrs)?;

    let context = Context::load(args).await?;
    let rows = context.rows();
    let row = resolve(&remove.stage, &rows)?;
    let mut opened = open_for_edit(row, &context, &remove.edit)?;

    remove_entries(&mut opened.session, &remove.cidrs, &wanted)?;
    let choice = match (remove.open, remove.closed) {
        (true, _) => Some(EmptyChoice::Open),
        (_, true) => Some(EmptyChoice::Closed),
        _ => None,
    };
    if let Some(choice) = choice {
        if !opened.session.entries.is_empty() {
            return Err(CommandError::usage(format!(
                "--open and --closed apply only when the last entry goes, and stage {} keeps {} entries.",
                stage_label(&opened.session),
                opened.session.entries.len()
            )));
        }
        opened.session.set_empty_choice(choice);
    }

    save(
        opened,
        &context,
        row,
        &remove.save,
        &remove.edit,
        remove.output.output,
    )
    .await
}

/// Parses every CIDR argument, failing on the first invalid one.
fn parse_all(cidrs: &[String]) -> Result<Vec<CidrEntry>, CommandError> {
    cidrs
        .iter()
        .map(|cidr| {
            parse_entry(cidr).map_err(|error| CommandError::usage(format!("invalid CIDR: {error}")))
        })
        .collect()
}

fn open_for_edit(
    row: &StageRow,
    context: &Context,
    edit: &EditOptions,
) -> Result<OpenedStage, CommandError> {
    let mut opened = open_stage(row, &context.inventory).map_err(CommandError::failure)?;
    opened.session.apply_to_shared = edit.apply_to_shared;
    Ok(opened)
}

/// Removes every entry that names a wanted network: the same text in canonical form, else the
/// same covered network. Fails, changing nothing, when a wanted CIDR matches no entry.
fn remove_entries(
    session: &mut EditSession,
    texts: &[String],
    wanted: &[CidrEntry],
) -> Result<(), CommandError> {
    let parsed: Vec<Option<CidrEntry>> = session
        .entries
        .iter()
        .map(|entry| parse_entry(entry).ok())
        .collect();
    let mut indexes = Vec::new();
    for (text, want) in texts.iter().zip(wanted) {
        let same_text: Vec<usize> =
            matching(&parsed, |entry| entry.canonical() == want.canonical());
        let found = if same_text.is_empty() {
            matching(&parsed, |entry| {
                entry.covered_network() == want.covered_network()
            })
        } else {
            same_text
        };
        if found.is_empty() {
            let listed = if session.entries.is_empty() {
                "none".to_string()
            } else {
                session.entries.join(", ")
            };
            return Err(CommandError::usage(format!(
                "{} is not in the allowlist of stage {}. Its entries: {listed}.",
                text.trim(),
                stage_label(session)
            )));
        }
        indexes.extend(found);
    }

    indexes.sort_unstable();
    indexes.dedup();
    for index in indexes.into_iter().rev() {
        session.delete(index);
    }
    Ok(())
}

fn matching(entries: &[Option<CidrEntry>], predicate: impl Fn(&CidrEntry) -> bool) -> Vec<usize> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.as_ref().is_some_and(&predicate))
        .map(|(index, _)| index)
        .collect()
}

/// Warns when an added entry has host bits set, because it covers more than it shows.
/// Warns about entries that another entry already covers, as the editor flags them; nothing is
/// merged unasked.
fn note_covered_entries(session: &EditSession) {
    for (entry, flags) in session.entries.iter().zip(session.flags()) {
        for flag in flags {
            match flag {
                EntryFlag::CoveredBy { index } => {
                    eprintln!("! {entry} is covered by {}.", session.entries[index]);
                }
                EntryFlag::Duplicate { of } => {
                    eprintln!(
                        "! {entry} lists the same network as {}.",
                        session.entries[of]
                    );
                }
                _ => {}
            }
        }
    }
}

fn note_host_bits(entry: &str) {
    if let Ok(parsed) = parse_entry(entry)
        && parsed.has_host_bits()
    {
        eprintln!(
            "! {entry} has host bits set; it covers {}.",
            parsed.covered_network()
        );
    }
}

async fn save(
    opened: OpenedStage,
    context: &Context,
    row: &StageRow,
    options: &SaveOptions,
    edit: &EditOptions,
    output: OutputFormat,
) -> Result<u8, CommandError> {
    let request = SaveRequest {
        context,
        row,
        options,
        own_file: edit.own_file,
        output,
    };
    confirm_and_save(opened, request).await
}
