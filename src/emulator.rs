//! A local API Gateway for the demo and the tests: moto's server on 127.0.0.1.
//!
//! [`PythonTools`] keeps a virtual environment with moto and Chalice, pinned in
//! `tools/requirements.txt`, under the Cargo target directory. [`MotoServer`] runs moto's server
//! on a free loopback port, and [`seed_rest_api`] creates deployed REST APIs on it.
//!
//! This module is not part of the app. Unlike the app, it calls the API Gateway SDK directly,
//! because seeding needs calls (create a REST API, a method, an integration) that the app never
//! makes and [`crate::aws`] therefore does not offer.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_apigateway::config::{Credentials, Region};
use aws_sdk_apigateway::types::IntegrationType;

use crate::aws::{AwsError, ConnectionInfo, Gateway, aws_error};

/// The region of every emulated REST API.
pub const REGION: &str = "us-east-1";

/// How long [`MotoServer::start`] waits for the server to respond to HTTP.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The oldest Python that every package in `tools/requirements.txt` supports.
const MIN_PYTHON: (u32, u32) = (3, 11);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "{program} not found; install Python 3.11+ with venv and pip, or set IPGATE_PYTHON to a \
         Python 3.11+ interpreter"
    )]
    PythonNotFound { program: String },

    #[error(
        "{program} is Python {version}, but the pinned moto and chalice need Python 3.11+; \
         install a newer Python or set IPGATE_PYTHON to one"
    )]
    PythonTooOld { program: String, version: String },

    #[error(
        "creating the virtual environment {venv} failed ({status}); check that Python's venv \
         module is installed (Debian: python3-venv); see {log}"
    )]
    VenvFailed {
        venv: PathBuf,
        status: ExitStatus,
        log: PathBuf,
    },

    #[error("pip install failed ({status}); see {log}")]
    PipFailed { status: ExitStatus, log: PathBuf },

    #[error("moto_server exited during startup ({status}); see {log}")]
    ServerExited { status: ExitStatus, log: PathBuf },

    #[error("moto_server did not start within 30 s; see {log}")]
    ServerTimedOut { log: PathBuf },

    #[error("failed to find a free port on 127.0.0.1: {0}")]
    NoFreePort(#[source] io::Error),

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("seeding REST API {name} failed: {source}")]
    Seed {
        name: String,
        #[source]
        source: Box<AwsError>,
    },

    #[error("seeding REST API {name} failed: {detail}")]
    SeedReply { name: String, detail: String },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EmulatorError {
    let path = path.to_path_buf();
    move |source| EmulatorError::Io {
        action,
        path,
        source,
    }
}

/// A virtual environment that contains moto's server and the Chalice command line.
#[derive(Debug, Clone)]
pub struct PythonTools {
    venv: PathBuf,
}

impl PythonTools {
    /// Creates or updates `<target dir>/ipgate-venv` from `tools/requirements.txt`.
    ///
    /// The target dir is `CARGO_TARGET_DIR` when set (relative to this crate's root), otherwise
    /// `target/` in this crate. The Python interpreter is `IPGATE_PYTHON`, or `python3`.
    pub fn ensure() -> Result<PythonTools, EmulatorError> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => manifest_dir.join(dir),
            _ => manifest_dir.join("target"),
        };
        let requirements = manifest_dir.join("tools").join("requirements.txt");

        PythonTools::ensure_at(&target_dir.join("ipgate-venv"), &requirements)
    }

    /// Creates or updates the virtual environment `venv` from `requirements`.
    ///
    /// Does nothing when `venv` was last installed from the same requirements text. A lock file
    /// beside `venv` serializes callers, across processes too, so parallel tests install once.
    pub fn ensure_at(venv: &Path, requirements: &Path) -> Result<PythonTools, EmulatorError> {
        let parent = venv.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_error("failed to create", parent))?;

        let lock_path = sibling_path(venv, ".lock");
        let lock = File::create(&lock_path).map_err(io_error("failed to create", &lock_path))?;
        // Held until `lock` drops when this function returns.
        lock.lock()
            .map_err(io_error("failed to lock", &lock_path))?;

        let tools = PythonTools {
            venv: venv.to_path_buf(),
        };
        let expected_requirements =
            fs::read_to_string(requirements).map_err(io_error("failed to read", requirements))?;
        let marker = tools.requirements_marker();
        let installed_requirements = fs::read_to_string(&marker).ok();
        if installed_requirements.as_deref() == Some(expected_requirements.as_str())
            && tools.moto_server().exists()
            && tools.chalice().exists()
        {
            return Ok(tools);
        }

        eprintln!(
            "Installing moto and chalice into {} (first run only)",
            venv.display()
        );
        let log_path = sibling_path(venv, "-install.log");
        let log = File::create(&log_path).map_err(io_error("failed to create", &log_path))?;

        if !tools.python().exists() {
            create_venv(venv, &log, &log_path)?;
        }

        // A failed install must not look complete to the next caller.
        match fs::remove_file(&marker) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(io_error("failed to remove", &marker)(err));
            }
            _ => {}
        }
        let status = run_logged(
            Command::new(tools.python())
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
                .arg(requirements),
            &log,
            &log_path,
        )?;
        if !status.success() {
            return Err(EmulatorError::PipFailed {
                status,
                log: log_path,
            });
        }
        fs::write(&marker, &expected_requirements).map_err(io_error("failed to write", &marker))?;

        eprintln!("Installed moto and chalice into {}", venv.display());
        Ok(tools)
    }

    pub fn venv(&self) -> &Path {
        &self.venv
    }

    pub fn moto_server(&self) -> PathBuf {
        self.program("moto_server")
    }

    pub fn chalice(&self) -> PathBuf {
        self.program("chalice")
    }

    fn python(&self) -> PathBuf {
        self.program("python")
    }

    /// Returns the path of the copy of the requirements text that the venv was installed from.
    fn requirements_marker(&self) -> PathBuf {
        self.venv.join("ipgate-requirements.txt")
    }

    fn program(&self, name: &str) -> PathBuf {
        if cfg!(windows) {
            self.venv.join("Scripts").join(format!("{name}.exe"))
        } else {
            self.venv.join("bin").join(name)
        }
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn create_venv(venv: &Path, log: &File, log_path: &Path) -> Result<(), EmulatorError> {
    let program = std::env::var("IPGATE_PYTHON")
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| "python3".to_string());
    check_python_version(&program)?;

    let status = run_logged(
        Command::new(&program).args(["-m", "venv"]).arg(venv),
        log,
        log_path,
    )?;
    if status.success() {
        Ok(())
    } else {
        Err(EmulatorError::VenvFailed {
            venv: venv.to_path_buf(),
            status,
            log: log_path.to_path_buf(),
        })
    }
}

fn check_python_version(program: &str) -> Result<(), EmulatorError> {
    let output = Command::new(program)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let not_found = || EmulatorError::PythonNotFound {
        program: program.to_string(),
    };
    let output = match output {
        Ok(output) if output.status.success() => output,
        // A program that exists but cannot run this one-liner is no usable Python either.
        _ => return Err(not_found()),
    };

    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let parsed = version
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    match parsed {
        Some(found) if found >= MIN_PYTHON => Ok(()),
        Some(_) => Err(EmulatorError::PythonTooOld {
            program: program.to_string(),
            version,
        }),
        None => Err(not_found()),
    }
}

/// Runs `command` to completion with stdout and stderr appended to `log`.
fn run_logged(
    command: &mut Command,
    log: &File,
    log_path: &Path,
) -> Result<ExitStatus, EmulatorError> {
    let stdout = log
        .try_clone()
        .map_err(io_error("failed to open", log_path))?;
    let stderr = log
        .try_clone()
        .map_err(io_error("failed to open", log_path))?;
    let program = PathBuf::from(command.get_program());

    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(io_error("failed to run", &program))
}

/// A running `moto_server` on 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    /// False until the server has started, so that a startup error can point to the log.
    remove_log_on_drop: bool,
}

impl MotoServer {
    /// Starts `moto_server` on a free port and waits until it responds to HTTP.
    ///
    /// Its output goes to a log file in the system temp dir. Drop removes the file, except after
    /// a startup error or during a panic (a failed test), so that it can be read afterwards.
    pub fn start(tools: &PythonTools) -> Result<MotoServer, EmulatorError> {
        let port = free_port()?;
        let log =
            std::env::temp_dir().join(format!("ipgate-moto-{}-{port}.log", std::process::id()));
        let stdout = File::create(&log).map_err(io_error("failed to create", &log))?;
        let stderr = stdout
            .try_clone()
            .map_err(io_error("failed to open", &log))?;

        let program = tools.moto_server();
        let mut command = Command::new(&program);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // moto runs boto3, which reads the caller's AWS settings. With an empty AWS_PROFILE,
        // moto 5.2.5 returns an HTML error page for CreateRestApi. Real credentials do not
        // belong in an emulator either.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        let child = command
            .spawn()
            .map_err(io_error("failed to start", &program))?;

        let mut server = MotoServer {
            child: Some(child),
            port,
            log,
            remove_log_on_drop: false,
        };
        server.wait_until_ready()?;
        server.remove_log_on_drop = true;
        tracing::info!(endpoint = server.endpoint(), log = %server.log.display(), "moto_server started");
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` or [`sdk_config`].
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the path of the file that receives the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Builds an SDK client for seeding this server.
    pub fn client(&self) -> aws_sdk_apigateway::Client {
        aws_sdk_apigateway::Client::from_conf(sdk_config(&self.endpoint()))
    }

    /// Builds the app's own [`Gateway`], pointed at this server.
    pub fn gateway(&self) -> Gateway {
        gateway(&self.endpoint())
    }

    /// Kills the server and waits for it to exit. Calling it again does nothing.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // The process may have exited already, so a kill error is ignored and wait reaps it.
        let _ = child.kill();
        if let Err(err) = child.wait() {
            tracing::warn!(port = self.port, "failed to wait for moto_server: {err}");
        }
    }

    fn wait_until_ready(&mut self) -> Result<(), EmulatorError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(EmulatorError::ServerExited {
                    status,
                    log: self.log.clone(),
                });
            }
            if responds_to_http(self.port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(EmulatorError::ServerTimedOut {
                    log: self.log.clone(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
        if self.remove_log_on_drop && !std::thread::panicking() {
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// Finds a port that was free on 127.0.0.1 a moment ago.
///
/// NOTE: another process can take the port between this check and moto's bind; the server then
/// exits during startup and [`MotoServer::start`] reports it.
fn free_port() -> Result<u16, EmulatorError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(EmulatorError::NoFreePort)?;
    let address = listener.local_addr().map_err(EmulatorError::NoFreePort)?;
    Ok(address.port())
}

/// Tells whether an HTTP server responds on 127.0.0.1:`port`.
fn responds_to_http(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }

    let mut status_line = [0u8; 5];
    stream.read_exact(&mut status_line).is_ok() && &status_line == b"HTTP/"
}

/// Builds an SDK config for the emulator at `endpoint`: region us-east-1, dummy credentials, and the
/// app's timeouts and retry settings.
pub fn sdk_config(endpoint: &str) -> aws_sdk_apigateway::Config {
    aws_sdk_apigateway::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "ipgate-emulator",
        ))
        .endpoint_url(endpoint)
        .timeout_config(crate::aws::timeout_config())
        .retry_config(crate::aws::retry_config())
        .build()
}

/// Builds the app's [`Gateway`], pointed at the emulator at `endpoint`.
pub fn gateway(endpoint: &str) -> Gateway {
    let info = ConnectionInfo {
        profile: None,
        region: Some(REGION.to_string()),
        endpoint: Some(endpoint.to_string()),
    };
    Gateway::from_config(sdk_config(endpoint), info)
}

/// Creates a REST API that serves `GET /` and deploys it to `stage`; returns its id.
///
/// moto 5.2.5 rejects `CreateDeployment` on an API without a method integration, so the API gets a
/// `GET /` method with a MOCK integration that always returns 200.
pub async fn seed_rest_api(
    client: &aws_sdk_apigateway::Client,
    name: &str,
    stage: &str,
    policy: Option<&str>,
) -> Result<String, EmulatorError> {
    let failed = |source: AwsError| EmulatorError::Seed {
        name: name.to_string(),
        source: Box::new(source),
    };
    let bad_reply = |detail: &str| EmulatorError::SeedReply {
        name: name.to_string(),
        detail: detail.to_string(),
    };

    let api = client
        .create_rest_api()
        .name(name)
        .set_policy(policy.map(str::to_string))
        .send()
        .await
        .map_err(|err| failed(aws_error("CreateRestApi", err)))?;
    let rest_api_id = api
        .id()
        .ok_or_else(|| bad_reply("CreateRestApi returned no id"))?
        .to_string();

    let resources = client
        .get_resources()
        .rest_api_id(&rest_api_id)
        .send()
        .await
        .map_err(|err| failed(aws_error("GetResources", err)))?;
    let root_id = resources
        .items()
        .iter()
        .find(|resource| resource.path() == Some("/"))
        .and_then(|resource| resource.id())
        .ok_or_else(|| bad_reply("GetResources returned no root resource \"/\""))?
        .to_string();

    client
        .put_method()
        .rest_api_id(&rest_api_id)
        .resource_id(&root_id)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .map_err(|err| failed(aws_error("PutMethod", err)))?;
    client
        .put_integration()
        .rest_api_id(&rest_api_id)
        .resource_id(&root_id)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 200}"#)
        .send()
        .await
        .map_err(|err| failed(aws_error("PutIntegration", err)))?;
    client
        .put_method_response()
        .rest_api_id(&rest_api_id)
        .resource_id(&root_id)
        .http_method("GET")
        .status_code("200")
        .send()
        .await
        .map_err(|err| failed(aws_error("PutMethodResponse", err)))?;
    client
        .put_integration_response()
        .rest_api_id(&rest_api_id)
        .resource_id(&root_id)
        .http_method("GET")
        .status_code("200")
        .send()
        .await
        .map_err(|err| failed(aws_error("PutIntegrationResponse", err)))?;

    client
        .create_deployment()
        .rest_api_id(&rest_api_id)
        .stage_name(stage)
        .send()
        .await
        .map_err(|err| failed(aws_error("CreateDeployment", err)))?;

    Ok(rest_api_id)
}

/// Writes `.chalice/deployed/<chalice_stage>.json` as `chalice deploy` would for a REST API.
///
/// moto cannot run a real `chalice deploy`, so the demo and the tests write this record for APIs
/// seeded with [`seed_rest_api`]. Like Chalice, it uses a 2-space indent and a trailing newline.
pub fn write_deployed_record(
    project_dir: &Path,
    chalice_stage: &str,
    rest_api_id: &str,
    region: &str,
    api_gateway_stage: &str,
) -> io::Result<()> {
    let record = serde_json::json!({
        "resources": [{
            "name": "api_handler",
            "resource_type": "rest_api",
            "rest_api_id": rest_api_id,
            "rest_api_url": format!(
                "https://{rest_api_id}.execute-api.{region}.amazonaws.com/{api_gateway_stage}/"
            ),
        }],
        "schema_version": "2.0",
        "backend": "api",
    });
    let mut text = serde_json::to_string_pretty(&record)?;
    text.push('\n');

    let deployed_dir = project_dir.join(".chalice").join("deployed");
    fs::create_dir_all(&deployed_dir)?;
    fs::write(deployed_dir.join(format!("{chalice_stage}.json")), text)
}
