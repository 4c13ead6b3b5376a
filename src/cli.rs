//! Command-line options and start-up, shared by `ipgate` and `ipgate-demo`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::aws::{AwsOptions, Gateway};
use crate::core::chalice::load_project;
use crate::myip::{DEFAULT_LOOKUP_URL, MyIpSource};
use crate::ui::app::App;

/// Manage IP allowlists in API Gateway REST API resource policies, stage by stage.
#[derive(Debug, Clone, Parser)]
#[command(name = "ipgate", version, after_help = after_help())]
pub struct Args {
    /// Chalice project directory (the one that contains .chalice/). Without one, ipgate edits
    /// live policies only.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,

    /// AWS profile from ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region (default: AWS_REGION or the profile's region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// API Gateway endpoint, for a local emulator (default: AWS_ENDPOINT_URL or AWS itself).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Your public IP address, for the lockout guard. Without it ipgate looks it up.
    #[arg(long, value_name = "ADDRESS", env = "IPGATE_MY_IP")]
    pub my_ip: Option<IpAddr>,

    /// URL that returns the caller's public address as plain text.
    #[arg(long, value_name = "URL", env = "IPGATE_MY_IP_URL", default_value = DEFAULT_LOOKUP_URL)]
    pub my_ip_url: String,

    /// Do not look up your public address; the lockout guard is then off.
    #[arg(long, conflicts_with = "my_ip")]
    pub no_my_ip: bool,

    /// Show everything and change nothing: no file is written and no AWS call writes.
    #[arg(long)]
    pub read_only: bool,
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

/// Loads the project, connects and runs the UI; prints errors after the terminal is restored.
pub async fn run(args: Args) -> ExitCode {
    let project_dir = match &args.project {
        Some(dir) => dir.clone(),
        None => match std::env::current_dir() {
            Ok(dir) => dir,
            Err(error) => {
                eprintln!("ipgate: cannot read the current directory: {error}");
                return ExitCode::from(2);
            }
        },
    };

    let project = match load_project(&project_dir) {
        Ok(project) => project,
        Err(error) => {
            eprintln!("ipgate: {error}");
            return ExitCode::from(2);
        }
    };
    if args.project.is_some() && project.is_none() {
        eprintln!(
            "ipgate: {} has no .chalice/config.json. Pass the directory of a Chalice project, or omit --project to edit live policies only.",
            project_dir.display()
        );
        return ExitCode::from(2);
    }
    tracing::info!(project = ?project.as_ref().map(|project| &project.root), "starting");

    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
    };
    let gateway = Gateway::connect(&options).await;
    let offline_reason = match &gateway.info.region {
        None => Some("no AWS region set; use --region or AWS_REGION".to_string()),
        Some(_) => None,
    };
    let gateway = if offline_reason.is_some() { None } else { Some(gateway) };
    let info = gateway.as_ref().map(|gateway| gateway.info.clone()).unwrap_or_default();

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
