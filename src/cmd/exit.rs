//! Exit codes of the subcommands, and the error that carries one.

/// The command did what it was asked, or found nothing to change.
pub const SUCCESS: u8 = 0;

/// An AWS call or a file read or write failed, or a save failed at its first step so nothing
/// changed. The message names the operation and, for AWS, the error code and message.
pub const FAILURE: u8 = 1;

/// Invalid command line or input: an invalid CIDR, an unknown or ambiguous stage, a save that
/// needs a flag (`--yes`, `--open`/`--closed`, `--allow-unrestricted`, `--allow-lockout`), or a
/// write under `--read-only`. Nothing was changed. clap uses the same code for its own errors.
pub const USAGE: u8 = 2;

/// `diff` found a Chalice stage whose policy file and live policy differ in meaning.
pub const DRIFT: u8 = 3;

/// A save stopped part-way: at least one step ran and a later one failed. The output names the
/// steps that ran, the one that failed and the ones that did not run.
pub const PARTIAL_SAVE: u8 = 4;

/// A failure with the exit code it maps to; the message goes to standard error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub code: u8,
    pub message: String,
}

impl CommandError {
    /// Builds an AWS or file failure ([`FAILURE`]).
    pub fn failure(message: impl Into<String>) -> CommandError {
        CommandError {
            code: FAILURE,
            message: message.into(),
        }
    }

    /// Builds an error for invalid input or a missing flag ([`USAGE`]).
    pub fn usage(message: impl Into<String>) -> CommandError {
        CommandError {
            code: USAGE,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}
