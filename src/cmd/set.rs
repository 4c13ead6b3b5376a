//! `ipgate set ...`: named CIDR sets in `ipgate.json`, and batches that apply a set change to
//! every stage that includes the set.
//!
//! The set in the file is what every including stage must contain. The model:
//!
//! - `create`, `add`, `remove`, `include`, `exclude` and `label` edit the project file
//!   (`.chalice/ipgate.json`), or the user file with `--personal`. They change no stage.
//! - `add --apply` and `remove --apply` also apply exactly that change to every including stage,
//!   in one batch: the file is written only once the batch is confirmed.
//! - `apply NAME` adds each entry of the set to every including stage that lacks it. It removes
//!   only what `--remove CIDR` names, because an entry taken out of the set leaves no trace in
//!   the file; `remove --apply` does both at once.
//! - `resume [ID]` continues a batch that stopped part-way, from its journal.
//!
//! A batch prints its plan, runs only with `--yes` or after `y` on a terminal, shows progress on
//! standard error and ends with a summary. See [`crate::batch`] for the engine.

mod batch;
mod files;

use clap::Subcommand;
use serde::Serialize;

use crate::cli::{Args, OutputArgs};
use crate::core::sets::{self, IpgateConfig, Origin, SetEntry};

use super::exit::{CommandError, SUCCESS};
use super::output::{OutputFormat, print_json, table};
use super::refuse_read_only;

use files::{SetFiles, sets_error};

/// `ipgate set`: the subcommands of named sets.
#[derive(Debug, Clone, clap::Args)]
pub struct SetArgs {
    #[command(subcommand)]
    pub command: SetCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SetCommand {
    /// List the sets of the project file and the user file, with the stages that include them.
    List(ListSetsArgs),

    /// Show one set: its entries with their labels, and the stages that include it.
    Show(ShowSetArgs),

    /// Define a new, empty set.
    Create(CreateSetArgs),

    /// Add CIDRs to a set. With --apply, also add them to every stage that includes the set.
    Add(AddToSetArgs),

    /// Remove CIDRs from a set. With --apply, also remove them from every stage that includes
    /// the set.
    Remove(RemoveFromSetArgs),

    /// Make a stage include a set. `ipgate set apply NAME` then adds the set's entries to it.
    Include(IncludeSetArgs),

    /// Stop a stage from including a set. The stage keeps the entries it has.
    Exclude(ExcludeSetArgs),

    /// Label the network a CIDR covers; an empty label removes the label.
    Label(LabelArgs),

    /// Add every entry of a set to each including stage that lacks it, and remove the CIDRs
    /// given with --remove, in one batch.
    Apply(ApplySetArgs),

    /// Continue a batch that stopped part-way (Ctrl-C, a failed stage, a crash), or give it up
    /// with --abandon.
    Resume(ResumeArgs),
}

/// The `ipgate.json` an edit goes to.
#[derive(Debug, Clone, clap::Args)]
pub struct FileChoice {
    /// Edit the user file (IPGATE_CONFIG_DIR, else the platform config directory) instead of
    /// the project's .chalice/ipgate.json.
    #[arg(long)]
    pub personal: bool,
}

/// The confirmations a batch requests, given up front.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchConfirmation {
    /// Run the batch without a confirmation. Without it ipgate requests one on a terminal and
    /// changes nothing otherwise.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Accept a `0.0.0.0/0` or `::/0` entry, which leaves the stages without an IPv4 (or IPv6)
    /// restriction.
    #[arg(long)]
    pub allow_unrestricted: bool,

    /// Run even when the address of --my-ip would lose access to a stage.
    #[arg(long)]
    pub allow_lockout: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListSetsArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ShowSetArgs {
    /// The set name.
    pub name: String,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CreateSetArgs {
    /// The set name, such as `office`.
    pub name: String,

    /// A description of the set, shown next to its name.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    #[command(flatten)]
    pub file: FileChoice,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AddToSetArgs {
    /// The set name.
    pub name: String,

    /// CIDRs or single addresses, such as 203.0.113.0/24 or 2001:db8::1. Host bits must be
    /// clear.
    #[arg(required = true, value_name = "CIDR")]
    pub cidrs: Vec<String>,

    /// A label for each CIDR added, such as "Amsterdam office".
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Also add the CIDRs to every stage that includes the set, in one batch.
    #[arg(long)]
    pub apply: bool,

    #[command(flatten)]
    pub confirmation: BatchConfirmation,

    #[command(flatten)]
    pub file: FileChoice,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RemoveFromSetArgs {
    /// The set name.
    pub name: String,

    /// Entries to remove, as listed or as any text naming the same network.
    #[arg(required = true, value_name = "CIDR")]
    pub cidrs: Vec<String>,

    /// Also remove the CIDRs from every stage that includes the set, in one batch.
    #[arg(long)]
    pub apply: bool,

    #[command(flatten)]
    pub confirmation: BatchConfirmation,

    #[command(flatten)]
    pub file: FileChoice,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct IncludeSetArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE for a stage of a REST API without a project.
    pub stage: String,

    /// The set name.
    pub name: String,

    #[command(flatten)]
    pub file: FileChoice,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExcludeSetArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE.
    pub stage: String,

    /// The set name.
    pub name: String,

    #[command(flatten)]
    pub file: FileChoice,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LabelArgs {
    /// A CIDR or address; the label names the network it covers.
    pub cidr: String,

    /// The label, such as "VPN gateway"; an empty string removes the label.
    pub label: String,

    #[command(flatten)]
    pub file: FileChoice,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ApplySetArgs {
    /// The set name.
    pub name: String,

    /// Also remove these CIDRs from every including stage; they must no longer be in the set.
    #[arg(long, value_name = "CIDR", num_args = 1..)]
    pub remove: Vec<String>,

    #[command(flatten)]
    pub confirmation: BatchConfirmation,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ResumeArgs {
    /// The batch id, as the batch printed it. Without it, the only unfinished batch.
    pub id: Option<String>,

    /// Give the batch up instead: `set resume` no longer offers it, and its journal stays.
    #[arg(long, requires = "id")]
    pub abandon: bool,

    #[command(flatten)]
    pub confirmation: BatchConfirmation,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs one `ipgate set` subcommand.
pub async fn run(args: &Args, set: &SetArgs) -> Result<u8, CommandError> {
    match &set.command {
        SetCommand::List(list) => list_sets(args, list),
        SetCommand::Show(show) => show_set(args, show),
        SetCommand::Create(create) => create_set(args, create),
        SetCommand::Add(add) => add_to_set(args, add).await,
        SetCommand::Remove(remove) => remove_from_set(args, remove).await,
        SetCommand::Include(include) => include_set(args, include),
        SetCommand::Exclude(exclude) => exclude_set(args, exclude),
        SetCommand::Label(label) => label_network(args, label),
        SetCommand::Apply(apply) => batch::apply(args, apply).await,
        SetCommand::Resume(resume) => batch::resume(args, resume).await,
    }
}

/// One set as the JSON output shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SetJson {
    name: String,
    /// `"project"` or `"personal"`.
    origin: &'static str,
    description: Option<String>,
    entries: Vec<EntryJson>,
    /// The keys of the stages that include the set.
    stages: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct EntryJson {
    cidr: String,
    /// The entry's own label, else the label of its network.
    label: Option<String>,
}

impl SetJson {
    fn new(config: &IpgateConfig, name: &str, origin: Origin) -> Option<SetJson> {
        let set = config.set(name)?;
        Some(SetJson {
            name: set.name.clone(),
            origin: origin_key(origin),
            description: set.description.clone(),
            entries: set
                .entries
                .iter()
                .map(|entry| EntryJson {
                    cidr: entry.cidr.clone(),
                    label: entry
                        .label
                        .clone()
                        .or_else(|| config.label_for(&entry.cidr).map(str::to_string)),
                })
                .collect(),
            stages: config.stages_including(name),
        })
    }
}

fn origin_key(origin: Origin) -> &'static str {
    match origin {
        Origin::Project => "project",
        Origin::Personal => "personal",
    }
}

/// The JSON document of `set list`.
#[derive(Debug, Serialize)]
struct ListJson {
    project_file: Option<String>,
    personal_file: Option<String>,
    sets: Vec<SetJson>,
    labels: Vec<LabelJson>,
    /// Definitions of the personal file that the project file overrides.
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct LabelJson {
    cidr: String,
    label: String,
}

fn list_sets(args: &Args, list: &ListSetsArgs) -> Result<u8, CommandError> {
    let files = SetFiles::load(args)?;
    let merged = &files.merged;
    let sets: Vec<SetJson> = merged
        .config
        .sets
        .iter()
        .filter_map(|set| {
            let origin = merged.origin_of(&set.name)?;
            SetJson::new(&merged.config, &set.name, origin)
        })
        .collect();
    let warnings: Vec<String> = merged.warnings.iter().map(ToString::to_string).collect();

    match list.output.output {
        OutputFormat::Json => print_json(&ListJson {
            project_file: files.project_path_text(),
            personal_file: files.personal_path_text(),
            sets,
            labels: merged
                .config
                .labels
                .iter()
                .map(|label| LabelJson {
                    cidr: label.cidr.clone(),
                    label: label.label.clone(),
                })
                .collect(),
            warnings,
        })?,
        OutputFormat::Text => {
            eprintln!("{}", files.describe_files());
            for warning in &warnings {
                eprintln!("! {warning}");
            }
            if sets.is_empty() {
                println!("No sets. `ipgate set create NAME` defines one.");
                return Ok(SUCCESS);
            }
            let mut cells = vec![
                ["SET", "FILE", "ENTRIES", "STAGES", "DESCRIPTION"]
                    .iter()
                    .map(|title| title.to_string())
                    .collect::<Vec<_>>(),
            ];
            for set in &sets {
                cells.push(vec![
                    set.name.clone(),
                    set.origin.to_string(),
                    set.entries.len().to_string(),
                    or_dash(&set.stages.join(", ")),
                    set.description.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", table(&cells));
        }
    }
    Ok(SUCCESS)
}

fn show_set(args: &Args, show: &ShowSetArgs) -> Result<u8, CommandError> {
    let files = SetFiles::load(args)?;
    let merged = &files.merged;
    let Some(origin) = merged.origin_of(&show.name) else {
        return Err(files.unknown_set(&show.name));
    };
    let json = SetJson::new(&merged.config, &show.name, origin)
        .ok_or_else(|| files.unknown_set(&show.name))?;

    match show.output.output {
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct ShowJson<'a> {
                file: Option<String>,
                #[serde(flatten)]
                set: &'a SetJson,
            }
            print_json(&ShowJson {
                file: files.path_text(origin),
                set: &json,
            })?;
        }
        OutputFormat::Text => {
            let file = files.path_text(origin).unwrap_or_default();
            println!("Set {} ({} file {file})", json.name, json.origin);
            if let Some(description) = &json.description {
                println!("{description}");
            }
            if json.entries.is_empty() {
                println!("No entries. `ipgate set add {} CIDR` adds one.", json.name);
            } else {
                let mut cells = vec![vec!["CIDR".to_string(), "LABEL".to_string()]];
                for entry in &json.entries {
                    cells.push(vec![
                        entry.cidr.clone(),
                        entry.label.clone().unwrap_or_default(),
                    ]);
                }
                print!("{}", table(&cells));
            }
            println!("Included by: {}", or_dash(&json.stages.join(", ")));
        }
    }
    Ok(SUCCESS)
}

/// The JSON document of the file edits.
#[derive(Debug, Serialize)]
struct EditJson {
    file: String,
    /// False when the file already contained the same, so it was left as it was.
    written: bool,
    /// The set after the edit; `null` for a label.
    set: Option<SetJson>,
}

fn create_set(args: &Args, create: &CreateSetArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set create")?;
    let files = SetFiles::load(args)?;
    let file = files.target(create.file.personal)?;
    if file.model.set(&create.name).is_some() {
        return Err(CommandError::usage(format!(
            "{}: set '{}' exists already; `ipgate set add {} CIDR` adds entries to it",
            file.path.display(),
            create.name,
            create.name
        )));
    }

    let mut config = file.model.clone();
    config
        .upsert_set(&create.name, Vec::new())
        .map_err(sets_error)?;
    config
        .set_description(&create.name, create.description.as_deref())
        .map_err(sets_error)?;
    let saved = sets::save(file, &config).map_err(sets_error)?;
    eprintln!(
        "Created set {} in {}.",
        create.name,
        saved.file.path.display()
    );
    print_edit(
        &saved,
        Some(&create.name),
        origin_of(create.file.personal),
        create.output.output,
    )
}

async fn add_to_set(args: &Args, add: &AddToSetArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set add")?;
    let files = SetFiles::load(args)?;
    let file = files.target_with_set(&add.name, add.file.personal)?;

    let mut config = file.model.clone();
    let mut added = Vec::new();
    for cidr in &add.cidrs {
        let is_new = config
            .add_to_set(&add.name, cidr, add.label.as_deref())
            .map_err(|error| files.set_error(file, error))?;
        let canonical = files::canonical(cidr);
        if is_new {
            added.push(canonical);
        } else {
            eprintln!("{canonical} is in set {} already.", add.name);
        }
    }

    if add.apply {
        let change = crate::batch::SetChange {
            set: add.name.clone(),
            added: add
                .cidrs
                .iter()
                .map(|cidr| files::canonical(cidr))
                .collect(),
            removed: Vec::new(),
        };
        let update = batch::FileUpdate {
            file: file.clone(),
            config,
            personal: add.file.personal,
        };
        return batch::apply_change(
            args,
            &files,
            change,
            Some(update),
            &add.confirmation,
            add.output.output,
        )
        .await;
    }

    let saved = sets::save(file, &config).map_err(sets_error)?;
    report_set_edit(&config, &add.name, &saved.file.path, &added, "added to");
    print_edit(
        &saved,
        Some(&add.name),
        origin_of(add.file.personal),
        add.output.output,
    )
}

async fn remove_from_set(args: &Args, remove: &RemoveFromSetArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set remove")?;
    let files = SetFiles::load(args)?;
    let file = files.target_with_set(&remove.name, remove.file.personal)?;

    let mut config = file.model.clone();
    let mut removed = Vec::new();
    for cidr in &remove.cidrs {
        files::check_cidr(cidr)?;
        let was_there = config
            .remove_from_set(&remove.name, cidr)
            .map_err(|error| files.set_error(file, error))?;
        if !was_there {
            let entries = entries_text(
                file.model
                    .set(&remove.name)
                    .map(|set| set.entries.as_slice()),
            );
            return Err(CommandError::usage(format!(
                "{}: {} is not in set {}. Its entries: {entries}.",
                file.path.display(),
                cidr.trim(),
                remove.name
            )));
        }
        removed.push(files::canonical(cidr));
    }

    if remove.apply {
        let change = crate::batch::SetChange {
            set: remove.name.clone(),
            added: Vec::new(),
            removed,
        };
        let update = batch::FileUpdate {
            file: file.clone(),
            config,
            personal: remove.file.personal,
        };
        return batch::apply_change(
            args,
            &files,
            change,
            Some(update),
            &remove.confirmation,
            remove.output.output,
        )
        .await;
    }

    let saved = sets::save(file, &config).map_err(sets_error)?;
    report_set_edit(
        &config,
        &remove.name,
        &saved.file.path,
        &removed,
        "removed from",
    );
    let stages = files.merged.config.stages_including(&remove.name);
    if !stages.is_empty() {
        eprintln!(
            "Stage(s) {} still allow {}. `ipgate set apply {} --remove {}` removes them there, or pass --apply next time.",
            stages.join(", "),
            removed.join(", "),
            remove.name,
            removed.join(" ")
        );
    }
    print_edit(
        &saved,
        Some(&remove.name),
        origin_of(remove.file.personal),
        remove.output.output,
    )
}

fn include_set(args: &Args, include: &IncludeSetArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set include")?;
    let files = SetFiles::load(args)?;
    files.check_stage_key(&include.stage, include.file.personal)?;
    let file = files.target_with_set(&include.name, include.file.personal)?;

    let mut config = file.model.clone();
    let included = config
        .include_set(&include.stage, &include.name)
        .map_err(|error| files.set_error(file, error))?;
    let saved = sets::save(file, &config).map_err(sets_error)?;
    if included {
        eprintln!(
            "Stage {} includes set {} now ({}). `ipgate set apply {}` adds the set's entries to it.",
            include.stage,
            include.name,
            saved.file.path.display(),
            include.name
        );
    } else {
        eprintln!(
            "Stage {} includes set {} already.",
            include.stage, include.name
        );
    }
    print_edit(
        &saved,
        Some(&include.name),
        origin_of(include.file.personal),
        include.output.output,
    )
}

fn exclude_set(args: &Args, exclude: &ExcludeSetArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set exclude")?;
    let files = SetFiles::load(args)?;
    let file = files.target_with_set(&exclude.name, exclude.file.personal)?;

    let mut config = file.model.clone();
    if !config.exclude_set(&exclude.stage, &exclude.name) {
        let including = file.model.stages_including(&exclude.name);
        return Err(CommandError::usage(format!(
            "{}: stage {} does not include set {}. Stages that include it: {}.",
            file.path.display(),
            exclude.stage,
            exclude.name,
            or_none(&including.join(", "))
        )));
    }
    let saved = sets::save(file, &config).map_err(sets_error)?;
    eprintln!(
        "Stage {} no longer includes set {} ({}). The stage keeps the entries it has; `ipgate remove {} CIDR...` removes them.",
        exclude.stage,
        exclude.name,
        saved.file.path.display(),
        exclude.stage
    );
    print_edit(
        &saved,
        Some(&exclude.name),
        origin_of(exclude.file.personal),
        exclude.output.output,
    )
}

fn label_network(args: &Args, label: &LabelArgs) -> Result<u8, CommandError> {
    refuse_read_only(args, "set label")?;
    let files = SetFiles::load(args)?;
    let file = files.target(label.file.personal)?;

    let mut config = file.model.clone();
    config
        .set_label(&label.cidr, &label.label)
        .map_err(sets_error)?;
    let saved = sets::save(file, &config).map_err(sets_error)?;
    if label.label.trim().is_empty() {
        eprintln!(
            "Removed the label of {} in {}.",
            label.cidr.trim(),
            saved.file.path.display()
        );
    } else {
        eprintln!(
            "Labeled {} \"{}\" in {}.",
            label.cidr.trim(),
            label.label.trim(),
            saved.file.path.display()
        );
    }
    print_edit(
        &saved,
        None,
        origin_of(label.file.personal),
        label.output.output,
    )
}

/// Prints what an add or remove did to the set, and which stages it concerns.
fn report_set_edit(
    config: &IpgateConfig,
    name: &str,
    path: &std::path::Path,
    cidrs: &[String],
    verb: &str,
) {
    if cidrs.is_empty() {
        return;
    }
    eprintln!(
        "{} {verb} set {name} in {}.",
        cidrs.join(", "),
        path.display()
    );
    let stages = config.stages_including(name);
    if stages.is_empty() {
        eprintln!("No stage includes set {name}; `ipgate set include STAGE {name}` adds one.");
    } else if verb == "added to" {
        eprintln!(
            "Stage(s) {} include it; `ipgate set apply {name}` adds the new entries to them.",
            stages.join(", ")
        );
    }
}

fn print_edit(
    saved: &sets::Saved,
    set: Option<&str>,
    origin: Origin,
    output: OutputFormat,
) -> Result<u8, CommandError> {
    if output == OutputFormat::Json {
        print_json(&EditJson {
            file: saved.file.path.display().to_string(),
            written: saved.written,
            set: set.and_then(|name| SetJson::new(&saved.file.model, name, origin)),
        })?;
    }
    Ok(SUCCESS)
}

fn origin_of(personal: bool) -> Origin {
    if personal {
        Origin::Personal
    } else {
        Origin::Project
    }
}

fn entries_text(entries: Option<&[SetEntry]>) -> String {
    let texts: Vec<&str> = entries
        .unwrap_or_default()
        .iter()
        .map(|entry| entry.cidr.as_str())
        .collect();
    or_none(&texts.join(", "))
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "none".to_string()
    } else {
        text.to_string()
    }
}
