//! `ipgate completions SHELL`: a completion script generated from the command definitions.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Generator;

use crate::cli::{Cli, CompletionsArgs};

use super::exit::{CommandError, SUCCESS};

pub fn run(completions: &CompletionsArgs) -> Result<u8, CommandError> {
    let mut command = Cli::command();
    command.set_bin_name("ipgate");
    command.build();

    let mut script = Vec::new();
    completions
        .shell
        .try_generate(&command, &mut script)
        .map_err(|error| {
            CommandError::failure(format!("generating the completion script failed: {error}"))
        })?;
    std::io::stdout().write_all(&script).map_err(|error| {
        CommandError::failure(format!("writing the completion script failed: {error}"))
    })?;
    Ok(SUCCESS)
}
