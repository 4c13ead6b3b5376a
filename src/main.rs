use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = ipgate::cli::Cli::parse();
    let _log_guard = ipgate::logging::init();
    ipgate::cli::dispatch(cli).await
}
