use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ipgate::cli::Args::parse();
    let _log_guard = ipgate::logging::init();
    ipgate::cli::run(args).await
}
