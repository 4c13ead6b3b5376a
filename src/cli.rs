//! Command-line options and start-up, shared by `ipgate` and `ipgate-demo`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::aws::{AwsOptions, Gateway};
use crate::cmd::output::OutputFormat;
use crate::core::chalice::{Project, load_project};
use crate::myip::{DEFAULT_LOOKUP_URL, MyIpSource};
use crate::ui::app::App;

/// Manage IP allowlists in API Gateway REST API resource policies, stage by stage.
///
/// Without a subcommand ipgate opens the terminal UI. The subcommands do the same work from
/// scripts: see `ipgate help COMMAND`.
#[derive(Debug, Clone, Parser)]
#[command(name = "ipgate", version, after_help = after_help())]
pub struct Cli {
    #[command(flatten)]
    pub args: Args,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The options every subcommand and the terminal UI accept.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct Args {
    /// Chalice project directory, the one that contains .chalice/ (default: the current
    /// directory). Without a .chalice/ there, ipgate edits live policies only.
    #[arg(long, value_name = "DIR", global = true)]
    pub project: Option<PathBuf>,

    /// AWS profile from ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,

    /// AWS region (default: AWS_REGION or the profile's region).
    #[arg(long, value_name = "REGION", global = true)]
    pub region: Option<String>,

    /// API Gateway endpoint, for a local emulator (default: AWS_ENDPOINT_URL or AWS itself).
    #[arg(long, value_name = "URL", global = true)]
    pub endpoint_url: Option<String>,

    /// Your public IP address, for the lockout guard. Without it the terminal UI looks it up;
    /// the subcommands guard only an address given here or in IPGATE_MY_IP.
    #[arg(long, value_name = "ADDRESS", env = "IPGATE_MY_IP", global = true)]
    pub my_ip: Option<IpAddr>,

    /// URL that returns the caller's public address as plain text.
    #[arg(
        long,
        value_name = "URL",
        env = "IPGATE_MY_IP_URL",
        default_value = DEFAULT_LOOKUP_URL,
        global = true
    )]
    pub my_ip_url: String,

    /// Do not look up your public address; the lockout guard is then off.
    #[arg(long, conflicts_with = "my_ip", global = true)]
    pub no_my_ip: bool,

    /// Show everything and change nothing: no file is written and no AWS call writes.
    #[arg(long, global = true)]
    pub read_only: bool,
}

/// The subcommands, for scripts. Each one loads the project and the account the way the
/// terminal UI does, and saves through the same pipeline, history and audit log.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// List every stage: REST API, stage, Chalice stage, allowlist size, last deployment and
    /// whether the policy file and the live policy agree.
    List(ListArgs),

    /// Show one stage's allowlist with its flags, who gets in, and the policy.
    Show(ShowArgs),

    /// Add CIDRs to a stage's allowlist, then save the policy file and the live policy and
    /// redeploy the stage.
    Add(AddArgs),

    /// Remove CIDRs from a stage's allowlist, then save and redeploy as `add` does.
    Remove(RemoveArgs),

    /// Compare each Chalice stage's policy file with its live policy by meaning. Exits with 3
    /// when any differ.
    Diff(DiffArgs),

    /// Push a Chalice stage's policy file live and redeploy the stage, when the two differ.
    Apply(ApplyArgs),

    /// Named CIDR sets in ipgate.json, and batches that apply a set change to every stage that
    /// includes the set: `ipgate set list|show|create|add|remove|include|exclude|label|apply|resume`.
    Set(crate::cmd::set::SetArgs),

    /// Print a shell completion script to standard output.
    Completions(CompletionsArgs),
}

/// The output format option.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// `text` for people, `json` for scripts: one JSON document alone on standard output.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// The confirmations a save requests, given up front.
#[derive(Debug, Clone, clap::Args)]
pub struct SaveOptions {
    /// Run the planned steps without a confirmation. Without it ipgate requests one on a
    /// terminal and changes nothing otherwise.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Accept a `0.0.0.0/0` or `::/0` entry, which leaves the stage without an IPv4 (or IPv6)
    /// restriction.
    #[arg(long)]
    pub allow_unrestricted: bool,

    /// Save even when the address of --my-ip would lose access to the stage.
    #[arg(long)]
    pub allow_lockout: bool,
}

/// Choices about where an allowlist edit goes.
#[derive(Debug, Clone, clap::Args)]
pub struct EditOptions {
    /// Give the Chalice stage a policy file of its own when it shares one with other stages,
    /// so they keep their allowlist.
    #[arg(long)]
    pub own_file: bool,

    /// When the allowlist's statement covers other stages of the REST API too, edit it for all
    /// of them. Without it the stage gets a statement of its own.
    #[arg(long)]
    pub apply_to_shared: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE.
    pub stage: String,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE.
    pub stage: String,

    /// CIDRs or single addresses to add, such as 203.0.113.0/24 or 2001:db8::1.
    #[arg(required = true, value_name = "CIDR")]
    pub cidrs: Vec<String>,

    /// A label for the added networks, kept in .chalice/ipgate.json (or the user file for a
    /// REST API without a project), such as "Amsterdam office".
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,

    #[command(flatten)]
    pub save: SaveOptions,

    #[command(flatten)]
    pub edit: EditOptions,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RemoveArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE.
    pub stage: String,

    /// Entries to remove, as listed or as any text naming the same network.
    #[arg(required = true, value_name = "CIDR")]
    pub cidrs: Vec<String>,

    /// When the last entry goes, open the stage to everyone.
    #[arg(long, conflicts_with = "closed")]
    pub open: bool,

    /// When the last entry goes, close the stage to everyone.
    #[arg(long)]
    pub closed: bool,

    #[command(flatten)]
    pub save: SaveOptions,

    #[command(flatten)]
    pub edit: EditOptions,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE. Without it every Chalice stage is compared.
    pub stage: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// A Chalice stage name, or REST_API_ID/STAGE of a Chalice stage.
    pub stage: String,

    #[command(flatten)]
    pub save: SaveOptions,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl Args {
    /// Where the lockout guard learns the user's public address.
    pub fn my_ip_source(&self) -> MyIpSource {
        match (self.my_ip, self.no_my_ip) {
            (Some(address), _) => MyIpSource::Given(address),
            (None, true) => MyIpSource::Disabled,
            (None, false) => MyIpSource::Lookup(self.my_ip_url.clone()),
        }
    }
}

fn after_help() -> String {
    let log = crate::logging::log_file()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| "(no data directory found; logging is off)".to_string());
    format!(
        "Log file: {log}\nLog level: {}=debug|info|warn (default info). IPGATE_LOG_DIR moves the log.",
        crate::logging::LOG_LEVEL_VAR
    )
}

/// Runs the subcommand, or the terminal UI when there is none.
pub async fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Some(command) => crate::cmd::run(&cli.args, command).await,
        None => run(cli.args).await,
    }
}

/// Loads the project, connects and runs the UI; prints errors after the terminal is restored.
pub async fn run(args: Args) -> ExitCode {
    let project = match load_project_option(&args) {
        Ok(project) => project,
        Err(error) => {
            eprintln!("ipgate: {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(project = ?project.as_ref().map(|project| &project.root), "starting");

    let (gateway, offline_reason) = connect(&args).await;
    let info = gateway
        .as_ref()
        .map(|gateway| gateway.info.clone())
        .unwrap_or_default();

    let mut app = App::new(project, info, offline_reason);
    app.read_only = args.read_only;
    app.my_ip_source = args.my_ip_source();
    match crate::ui::runtime::run(app, gateway).await {
        Ok(errors) => {
            print_session_errors(&errors);
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the UI stopped");
            eprintln!("ipgate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the Chalice project of `--project`, or of the current directory when it has one.
/// Fails when the files cannot be read or parsed, or when `--project` names a directory
/// without `.chalice/config.json`.
pub fn load_project_option(args: &Args) -> Result<Option<Project>, String> {
    let project_dir = match &args.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|error| format!("cannot read the current directory: {error}"))?,
    };

    let project = load_project(&project_dir).map_err(|error| error.to_string())?;
    if args.project.is_some() && project.is_none() {
        return Err(format!(
            "{} has no .chalice/config.json. Pass the directory of a Chalice project, or omit --project to edit live policies only.",
            project_dir.display()
        ));
    }
    Ok(project)
}

/// Builds the API Gateway client from the options and the standard AWS chain. Without a region
/// there is no client, and the second value is the reason.
pub async fn connect(args: &Args) -> (Option<Gateway>, Option<String>) {
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
    };
    let gateway = Gateway::connect(&options).await;
    match &gateway.info.region {
        None => (
            None,
            Some("no AWS region set; use --region or AWS_REGION".to_string()),
        ),
        Some(_) => (Some(gateway), None),
    }
}

/// Errors shown on screen during the session stay readable after the UI closes.
fn print_session_errors(errors: &[String]) {
    if errors.is_empty() {
        return;
    }
    eprintln!("ipgate: errors during this session:");
    for error in errors {
        eprintln!("  {error}");
    }
    if let Some(log) = crate::logging::log_file() {
        eprintln!("Details: {}", log.display());
    }
}
