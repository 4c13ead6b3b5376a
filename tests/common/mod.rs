//! Helpers shared by the integration tests.

use ipgate::emulator::{MotoServer, PythonTools};

/// Starts a moto server of its own for one test, installing the Python tools on first use.
pub fn start_moto() -> MotoServer {
    let tools = PythonTools::ensure().expect("install moto into the target dir");
    MotoServer::start(&tools).expect("start moto_server")
}
