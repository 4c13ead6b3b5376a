//! Logging to a file, never to the terminal the UI draws on.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The environment variable that sets the log level (`IPGATE_LOG=debug`, default `info`).
pub const LOG_LEVEL_VAR: &str = "IPGATE_LOG";

/// The log directory: the platform data directory, or `IPGATE_LOG_DIR` when set.
pub fn log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IPGATE_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "ipgate").map(|dirs| dirs.data_dir().join("logs"))
}

/// The file the log goes to, as `--help` shows it.
pub fn log_file() -> Option<PathBuf> {
    log_dir().map(|dir| dir.join("ipgate.log"))
}

/// Starts logging to [`log_file`]. Logging is off when no directory can be found or created;
/// the returned guard flushes the log when dropped.
pub fn init() -> Option<WorkerGuard> {
    let dir = log_dir()?;
    std::fs::create_dir_all(&dir).ok()?;

    let appender = tracing_appender::rolling::never(&dir, "ipgate.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env(LOG_LEVEL_VAR).unwrap_or_else(|_| EnvFilter::new("info"));

    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
