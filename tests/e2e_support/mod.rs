//! A pseudo-terminal harness for end-to-end runs of the `ipgate` binary.
//!
//! [`Fixture`] starts a moto server, deploys a copy of the sample project to it and keeps a temp
//! dir for the project, `HOME` and the log. [`PtySession`] runs the binary in a pseudo-terminal,
//! parses its output with `vt100` and keeps the raw bytes. [`DenyingServer`] is a stand-in
//! endpoint that rejects every request with an AWS-shaped 403.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipgate::demo::{SampleDeployment, deploy_sample};
use ipgate::emulator::{MotoServer, PythonTools, REGION};
use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};
use tempfile::TempDir;

/// How long any single wait (for text, for an exit) may take before the test fails.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the waits check the screen or the process.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How many lines of the ipgate log a failure message includes.
const LOG_TAIL_LINES: usize = 40;

/// One test's moto server, sample deployment and temp dir.
pub struct Fixture {
    pub server: MotoServer,
    pub deployment: SampleDeployment,
    pub runtime: tokio::runtime::Runtime,
    /// `None` only while dropping; kept on disk after a failure so the log can be read.
    temp: Option<TempDir>,
}

impl Fixture {
    /// Starts moto and deploys a fresh copy of the sample project to it.
    pub fn start() -> Fixture {
        let tools = PythonTools::ensure().expect("install moto into the target dir");
        let server = MotoServer::start(&tools).expect("start moto_server");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        let temp = tempfile::Builder::new()
            .prefix("ipgate-e2e-")
            .tempdir()
            .expect("create a temp dir");

        let project_dir = temp.path().join("project");
        let deployment = runtime
            .block_on(deploy_sample(&server.client(), &project_dir))
            .expect("deploy the sample project to moto");

        Fixture {
            server,
            deployment,
            runtime,
            temp: Some(temp),
        }
    }

    pub fn project_dir(&self) -> &Path {
        &self.deployment.project_dir
    }

    /// Returns the REST API id of a Chalice stage of the sample project.
    pub fn api_id(&self, chalice_stage: &str) -> String {
        self.deployment
            .api_for(chalice_stage)
            .unwrap_or_else(|| panic!("the sample deployment has no Chalice stage {chalice_stage}"))
            .to_string()
    }

    /// Runs `ipgate --project <copy>` against this fixture's moto server.
    pub fn launch(&self, size: TerminalSize) -> PtySession {
        self.launch_with(size, &self.server.endpoint(), &[])
    }

    /// Runs `ipgate --project <copy>` against `endpoint`, with `extra_env` on top of the
    /// standard test environment.
    pub fn launch_with(
        &self,
        size: TerminalSize,
        endpoint: &str,
        extra_env: &[(&str, &str)],
    ) -> PtySession {
        let temp = self.temp_path();
        let home = temp.join("home");
        let log_dir = temp.join("logs");
        std::fs::create_dir_all(&home).expect("create the test HOME");
        std::fs::create_dir_all(&log_dir).expect("create the log dir");

        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_ipgate"));
        command.arg("--project");
        command.arg(self.project_dir());
        // No public address lookup: it would leave the machine, and the lockout guard it feeds
        // has tests of its own.
        command.arg("--no-my-ip");
        command.cwd(temp);
        // A clean environment, so no AWS profile or credentials of the developer are read.
        command.env_clear();
        command.env("PATH", "/usr/local/bin:/usr/bin:/bin");
        command.env("TERM", "xterm-256color");
        command.env("HOME", &home);
        command.env("IPGATE_LOG_DIR", &log_dir);
        command.env("AWS_ACCESS_KEY_ID", "testing");
        command.env("AWS_SECRET_ACCESS_KEY", "testing");
        command.env("AWS_REGION", REGION);
        command.env("AWS_EC2_METADATA_DISABLED", "true");
        command.env("AWS_ENDPOINT_URL", endpoint);
        for (key, value) in extra_env {
            command.env(key, value);
        }

        PtySession::spawn(command, size, log_dir.join("ipgate.log"))
    }

    fn temp_path(&self) -> &Path {
        // The temp dir is only taken in `drop`.
        self.temp.as_ref().expect("temp dir present").path()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take()
            && std::thread::panicking()
        {
            let path = temp.keep();
            eprintln!(
                "e2e: kept the project, HOME and log of the failed test in {}",
                path.display()
            );
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TerminalSize {
    pub cols: u16,
    pub rows: u16,
}

/// The terminal size most tests run in.
pub const STANDARD_SIZE: TerminalSize = TerminalSize {
    cols: 100,
    rows: 30,
};

/// What the reader thread has received from the pseudo-terminal.
struct Output {
    parser: vt100::Parser,
    raw: Vec<u8>,
    /// Set when the reader saw end of file or an error: the child side is closed.
    closed: bool,
}

/// The `ipgate` binary running in a pseudo-terminal. Drop kills it when it is still running.
pub struct PtySession {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    /// Kept open for the session: closing the master side hangs up the child.
    _master: Box<dyn MasterPty + Send>,
    output: Arc<Mutex<Output>>,
    status: Option<ExitStatus>,
    log_file: PathBuf,
}

impl PtySession {
    fn spawn(command: CommandBuilder, size: TerminalSize, log_file: PathBuf) -> PtySession {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: size.rows,
                cols: size.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let child = pair
            .slave
            .spawn_command(command)
            .expect("start the ipgate binary");
        // The reader sees end of file only once no process has the child side open.
        drop(pair.slave);

        let rows = NonZeroU16::new(size.rows).expect("terminal rows above zero");
        let cols = NonZeroU16::new(size.cols).expect("terminal columns above zero");
        let output = Arc::new(Mutex::new(Output {
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            closed: false,
        }));
        let reader = pair
            .master
            .try_clone_reader()
            .expect("clone the pseudo-terminal reader");
        spawn_reader(reader, output.clone());
        let writer = pair
            .master
            .take_writer()
            .expect("take the pseudo-terminal writer");

        PtySession {
            child,
            writer,
            _master: pair.master,
            output,
            status: None,
            log_file,
        }
    }

    /// Writes `keys` to the terminal as a user typing them would.
    pub fn send(&mut self, keys: &str) {
        self.writer
            .write_all(keys.as_bytes())
            .and_then(|()| self.writer.flush())
            .unwrap_or_else(|error| panic!("sending {keys:?} to ipgate failed: {error}"));
    }

    /// Returns the parsed screen as text, one line per row.
    pub fn screen_text(&self) -> String {
        let output = self.output.lock().expect("output lock");
        screen_text(&output.parser)
    }

    /// Returns every byte the binary wrote to the terminal so far.
    pub fn raw_output(&self) -> Vec<u8> {
        self.output.lock().expect("output lock").raw.clone()
    }

    /// Tells whether the parsed terminal shows its alternate screen.
    pub fn on_alternate_screen(&self) -> bool {
        let output = self.output.lock().expect("output lock");
        output.parser.screen().alternate_screen()
    }

    /// Returns the ipgate log written so far, or an empty string when there is none yet.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Returns the cursor's (row, column) on the parsed screen, counted from zero.
    pub fn cursor_position(&self) -> (u16, u16) {
        let output = self.output.lock().expect("output lock");
        output.parser.screen().cursor_position()
    }

    /// Waits until the screen contains `text`; returns the screen at that moment.
    pub fn wait_for_text(&mut self, text: &str) -> String {
        self.wait_until(&format!("screen contains {text:?}"), |screen| {
            screen.contains(text)
        })
    }

    /// Waits until the screen no longer contains `text`; returns the screen at that moment.
    pub fn wait_for_text_gone(&mut self, text: &str) -> String {
        self.wait_until(&format!("screen no longer contains {text:?}"), |screen| {
            !screen.contains(text)
        })
    }

    /// Waits until `condition` holds for the screen text, or fails after [`WAIT_TIMEOUT`] with
    /// the screen, the exit status and the log tail.
    pub fn wait_until(&mut self, description: &str, condition: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let screen = self.screen_text();
            if condition(&screen) {
                return screen;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "timed out after {WAIT_TIMEOUT:?} waiting until {description}"
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits for the process to exit and for its last output to arrive; returns the status.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(error) => self.fail(&format!("checking whether ipgate exited failed: {error}")),
            }
            if Instant::now() >= deadline {
                self.fail(&format!("ipgate did not exit within {WAIT_TIMEOUT:?}"));
            }
            std::thread::sleep(POLL_INTERVAL);
        };
        self.status = Some(status.clone());

        while !self.output.lock().expect("output lock").closed {
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "ipgate exited ({status:?}) but its output did not end within {WAIT_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        status
    }

    /// Panics with `reason`, the screen, the exit status and the end of the ipgate log.
    pub fn fail(&mut self, reason: &str) -> ! {
        let status = match &self.status {
            Some(status) => format!("{status:?}"),
            None => match self.child.try_wait() {
                Ok(Some(status)) => format!("exited: {status:?}"),
                Ok(None) => "still running".to_string(),
                Err(error) => format!("unknown ({error})"),
            },
        };
        panic!(
            "{reason}\nipgate: {status}\n--- screen ---\n{}\n--- end of {} ---\n{}",
            self.screen_text(),
            self.log_file.display(),
            log_tail(&self.log_file),
        );
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // Failures are reported by the panic in progress, so these results are not checked.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_reader(mut reader: Box<dyn Read + Send>, output: Arc<Mutex<Output>>) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            // Linux returns EIO from the master side once the child side is closed.
            let count = match reader.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(count) => count,
            };
            let Ok(mut output) = output.lock() else {
                return;
            };
            output.parser.process(&buffer[..count]);
            output.raw.extend_from_slice(&buffer[..count]);
        }
        if let Ok(mut output) = output.lock() {
            output.closed = true;
        }
    });
}

fn screen_text(parser: &vt100::Parser) -> String {
    let screen = parser.screen();
    let (_, cols) = screen.size();
    screen.rows(0, cols.get()).collect::<Vec<_>>().join("\n")
}

fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines[start..].join("\n")
        }
        Err(error) => format!("(cannot read the log: {error})"),
    }
}

/// A one-connection-per-request HTTP server on 127.0.0.1 that rejects every request with an
/// `AccessDeniedException`, as API Gateway does for a caller without IAM permission.
///
/// It serves at most [`DenyingServer::MAX_REQUESTS`] requests and stops when dropped.
pub struct DenyingServer {
    port: u16,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DenyingServer {
    pub const MAX_REQUESTS: usize = 50;
    pub const REQUEST_ID: &str = "e2e-request-1";
    pub const MESSAGE: &str =
        "User: arn:aws:iam::123456789012:user/e2e is not authorized to perform: apigateway:GET";

    pub fn start() -> DenyingServer {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port on 127.0.0.1");
        let port = listener
            .local_addr()
            .expect("read the bound address")
            .port();
        // Non-blocking, so the accept loop can notice the stop flag.
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");

        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let requests = requests.clone();
            let stop = stop.clone();
            std::thread::spawn(move || serve_denials(listener, &requests, &stop))
        };

        DenyingServer {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Returns how many requests the server has replied to.
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for DenyingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_denials(listener: TcpListener, requests: &AtomicUsize, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst)
        && requests.load(Ordering::SeqCst) < DenyingServer::MAX_REQUESTS
    {
        match listener.accept() {
            Ok((stream, _)) => {
                // A client that hangs up early is no reason to stop serving the others.
                if answer_with_denial(stream).is_ok() {
                    requests.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(POLL_INTERVAL);
            }
            Err(_) => return,
        }
    }
}

/// Reads one request (headers and a `Content-Length` body) and sends the 403 reply.
fn answer_with_denial(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        if let Some(position) = request.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        let count = stream.read(&mut buffer)?;
        if count == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        request.extend_from_slice(&buffer[..count]);
    };
    let body_length = content_length(&request[..header_end]);
    while request.len() < header_end + body_length {
        let count = stream.read(&mut buffer)?;
        if count == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        request.extend_from_slice(&buffer[..count]);
    }

    let body = format!(r#"{{"message":"{}"}}"#, DenyingServer::MESSAGE);
    let reply = format!(
        "HTTP/1.1 403 Forbidden\r\n\
         Content-Type: application/json\r\n\
         x-amzn-ErrorType: AccessDeniedException\r\n\
         x-amzn-RequestId: {}\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        DenyingServer::REQUEST_ID,
        body.len(),
    );
    stream.write_all(reply.as_bytes())?;
    stream.flush()
}

fn content_length(headers: &[u8]) -> usize {
    String::from_utf8_lossy(headers)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}
