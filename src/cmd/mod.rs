//! The subcommands for scripts: `list`, `show`, `add`, `remove`, `diff`, `apply`, `set` and
//! `completions`.
//!
//! Each one loads the project and the account once, as the terminal UI does at start-up. It
//! opens stages with [`crate::model::open_stage`], plans saves with [`crate::save::plan_save`]
//! and runs them with [`crate::save::execute_steps`], so history and the audit log are the
//! same as in the UI. Results go to standard output, and messages and progress to standard
//! error. [`exit`] lists the exit codes.

mod apply;
mod completions;
mod diff;
mod edit;
pub mod exit;
mod list;
pub mod output;
mod save;
pub mod set;
mod show;
pub mod stage_name;

use std::net::IpAddr;
use std::process::ExitCode;

use crate::aws::Gateway;
use crate::cli::{Args, Command, connect, load_project_option};
use crate::model::{Connection, Inventory, StageRow, load_inventory};

use exit::CommandError;

/// Runs one subcommand; prints its error, if any, and returns its exit code.
pub async fn run(args: &Args, command: Command) -> ExitCode {
    let result = match command {
        Command::List(list) => list::run(args, &list).await,
        Command::Show(show) => show::run(args, &show).await,
        Command::Add(add) => edit::add(args, &add).await,
        Command::Remove(remove) => edit::remove(args, &remove).await,
        Command::Diff(diff) => diff::run(args, &diff).await,
        Command::Apply(apply) => apply::run(args, &apply).await,
        Command::Set(set) => set::run(args, &set).await,
        Command::Completions(completions) => completions::run(&completions),
    };

    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            tracing::warn!(code = error.code, message = %error.message, "command failed");
            eprintln!("ipgate: {}", error.message);
            ExitCode::from(error.code)
        }
    }
}

/// The project, the account and the options one subcommand works with.
pub struct Context {
    pub args: Args,
    pub inventory: Inventory,
    pub gateway: Option<Gateway>,
}

impl Context {
    /// Loads the project and, when a region is set, every REST API and its stages. Without a
    /// region the inventory is local-only, and a note on standard error states why.
    pub async fn load(args: &Args) -> Result<Context, CommandError> {
        let project = load_project_option(args).map_err(CommandError::usage)?;
        let root = project.as_ref().map(|project| &project.root);
        tracing::info!(project = ?root, "command starting");

        let (gateway, offline_reason) = connect(args).await;
        let mut inventory = load_inventory(project, gateway.as_ref())
            .await
            .map_err(|error| {
                CommandError::failure(format!("listing REST APIs failed: {}", error.describe()))
            })?;
        if let Some(reason) = offline_reason {
            eprintln!("ipgate: local files only: {reason}.");
            inventory.connection = Connection::LocalOnly { reason };
        }

        Ok(Context {
            args: args.clone(),
            inventory,
            gateway,
        })
    }

    pub fn rows(&self) -> Vec<StageRow> {
        self.inventory.rows()
    }

    /// Returns the address the lockout guard protects: only one given with `--my-ip` or
    /// IPGATE_MY_IP, because the subcommands never look it up.
    pub fn my_ip(&self) -> Option<IpAddr> {
        if self.args.no_my_ip {
            None
        } else {
            self.args.my_ip
        }
    }

    /// Fails unless ipgate talks to AWS in this run; `what` names the command for the message.
    pub fn require_online(&self, what: &str) -> Result<(), CommandError> {
        match &self.inventory.connection {
            Connection::Online => Ok(()),
            Connection::LocalOnly { reason } => Err(CommandError::failure(format!(
                "{what} needs the live policies, but ipgate is not connected to AWS: {reason}"
            ))),
            Connection::Connecting => Err(CommandError::failure(format!(
                "{what} needs the live policies, but the REST APIs are not listed yet"
            ))),
        }
    }
}

/// Fails with a usage error under `--read-only`; `what` names the command for the message.
pub fn refuse_read_only(args: &Args, what: &str) -> Result<(), CommandError> {
    if args.read_only {
        return Err(CommandError::usage(format!(
            "read-only mode (--read-only): nothing was changed. Run `ipgate {what}` without --read-only to save."
        )));
    }
    Ok(())
}
