//! Runs ipgate on a copy of the sample Chalice project against moto's API Gateway on 127.0.0.1.
//!
//! The first run installs the pinned moto and chalice into a virtual environment under the
//! build directory. Every save in the demo changes the copied files and the emulator; nothing
//! reaches AWS.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ipgate::cli::Args;
use ipgate::demo::deploy_sample;
use ipgate::emulator::{MotoServer, PythonTools, REGION};

/// The public address the demo pretends to have.
const DEMO_MY_IP: &str = "198.51.100.17";

fn main() -> ExitCode {
    // SAFETY: no other thread exists yet, so nothing can read the environment while it changes.
    // The SDK's default chain then picks up dummy credentials and never queries instance metadata.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        // History, journals and the user's label file stay with the demo, not in the user's
        // data and config directories, because the emulator's REST APIs vanish with it.
        std::env::set_var("IPGATE_DATA_DIR", demo_root().join("data"));
        std::env::set_var("IPGATE_CONFIG_DIR", demo_root().join("config"));
    }
    let _log_guard = ipgate::logging::init();

    match run_demo() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ipgate-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let tools = PythonTools::ensure()?;
    eprintln!("Starting moto's API Gateway on 127.0.0.1...");
    let server = MotoServer::start(&tools)?;
    let runtime = tokio::runtime::Runtime::new()?;

    let project_dir = demo_project_dir();
    let deployment = runtime.block_on(deploy_sample(&server.client(), &project_dir))?;
    eprintln!(
        "Sample project copied to {}",
        deployment.project_dir.display()
    );

    let args = Args {
        project: Some(deployment.project_dir.clone()),
        profile: None,
        region: Some(REGION.to_string()),
        endpoint_url: Some(server.endpoint()),
        // The sample's prod allowlist contains this documentation address, so removing it
        // shows the lockout guard; no lookup leaves the machine.
        my_ip: Some(DEMO_MY_IP.parse()?),
        my_ip_url: String::new(),
        no_my_ip: false,
        read_only: false,
    };
    let code = runtime.block_on(ipgate::cli::run(args));

    println!(
        "The demo project stays at {} for you to inspect.",
        deployment.project_dir.display()
    );
    println!(
        "The emulator at {} stops now; its REST APIs are gone with it.",
        server.endpoint()
    );
    Ok(code)
}

/// The demo's folder under the build directory.
fn demo_root() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ipgate-demo")
}

/// A fresh folder under the build directory, so the sample in assets/ stays clean.
fn demo_project_dir() -> PathBuf {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    demo_root().join(format!("sample-project-{seconds}"))
}
