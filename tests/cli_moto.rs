//! The subcommands of the real `ipgate` binary against moto's API Gateway on 127.0.0.1.
//!
//! Each test starts its own moto server, deploys a copy of the sample project to it, and runs
//! the binary with a clean environment: dummy credentials, a temporary HOME and data directory,
//! and standard input that is not a terminal.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use serde_json::Value;
use tempfile::TempDir;

use ipgate::core::live::decode_live_policy;
use ipgate::demo::{SampleDeployment, deploy_sample};
use ipgate::emulator::{MotoServer, REGION};
use ipgate::history::HistoryStore;

/// The CIDRs of the sample project's prod policy file.
const PROD_CIDRS: [&str; 2] = ["203.0.113.0/24", "198.51.100.17/32"];

/// What one run of the binary returned.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from_output(output: std::process::Output) -> Run {
        Run {
            code: output.status.code().expect("ipgate exited with a code"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Parses standard output as one JSON document.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn assert_code(&self, expected: i32) {
        assert_eq!(
            self.code, expected,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

/// One moto server with the sample project deployed to it, and the temp dirs of the runs.
struct Sample {
    server: MotoServer,
    deployment: SampleDeployment,
    runtime: tokio::runtime::Runtime,
    temp: TempDir,
}

impl Sample {
    fn deploy() -> Sample {
        let server = common::start_moto();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let temp = tempfile::Builder::new()
            .prefix("ipgate-cli-")
            .tempdir()
            .unwrap();
        let deployment = runtime
            .block_on(deploy_sample(
                &server.client(),
                &temp.path().join("project"),
            ))
            .unwrap();
        fs::create_dir_all(temp.path().join("home")).unwrap();
        Sample {
            server,
            deployment,
            runtime,
            temp,
        }
    }

    /// Runs `ipgate ARGS --project <copy>`, with `--no-my-ip` unless `args` gives `--my-ip`.
    /// The global options come after the subcommand, as a script may write them.
    fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ipgate"));
        command
            .args(self.full_args(args))
            .current_dir(self.temp.path())
            .env_clear();
        for (name, value) in self.environment() {
            command.env(name, value);
        }
        Run::from_output(
            command
                .stdin(Stdio::null())
                .output()
                .expect("run the ipgate binary"),
        )
    }

    /// Runs `ipgate ARGS` like [`Sample::run`], but with no region anywhere, so ipgate works
    /// on the local files only.
    fn run_without_region(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ipgate"));
        command
            .args(self.full_args(args))
            .current_dir(self.temp.path())
            .env_clear();
        for (name, value) in self
            .environment()
            .into_iter()
            .filter(|(name, _)| *name != "AWS_REGION")
        {
            command.env(name, value);
        }
        Run::from_output(
            command
                .stdin(Stdio::null())
                .output()
                .expect("run the ipgate binary"),
        )
    }

    /// Runs `ipgate ARGS` in a pseudo-terminal, types `answer` and Enter at the confirmation,
    /// and returns the exit code and everything printed.
    fn run_on_terminal(&self, args: &[&str], answer: &str) -> (u32, String) {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 50,
                cols: 200,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_ipgate"));
        command.args(self.full_args(args));
        command.cwd(self.temp.path());
        command.env_clear();
        for (name, value) in self.environment() {
            command.env(name, value);
        }
        let mut child = pair.slave.spawn_command(command).unwrap();
        // The reader sees end of file only once no process has the child side open.
        drop(pair.slave);

        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let collected = output.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Linux returns EIO from the master side once the child side is closed.
            while let Ok(count) = reader.read(&mut buffer) {
                if count == 0 {
                    break;
                }
                collected
                    .lock()
                    .unwrap()
                    .extend_from_slice(&buffer[..count]);
            }
        });
        let text = || String::from_utf8_lossy(&output.lock().unwrap()).to_string();

        let deadline = Instant::now() + Duration::from_secs(30);
        while !text().contains("[y/N]") {
            assert!(
                Instant::now() < deadline,
                "no confirmation question:\n{}",
                text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut writer = pair.master.take_writer().unwrap();
        writer.write_all(format!("{answer}\r").as_bytes()).unwrap();
        writer.flush().unwrap();

        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "ipgate did not exit:\n{}",
                text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Give the reader thread a moment to take the last output.
        std::thread::sleep(Duration::from_millis(100));
        (status.exit_code(), text())
    }

    fn full_args(&self, args: &[&str]) -> Vec<String> {
        let mut full: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        full.push("--project".to_string());
        full.push(self.project_dir().display().to_string());
        if !args.contains(&"--my-ip") {
            full.push("--no-my-ip".to_string());
        }
        full
    }

    /// Returns the whole environment of a run: dummy credentials, the moto endpoint and temp dirs.
    fn environment(&self) -> Vec<(&'static str, String)> {
        let temp = self.temp.path();
        vec![
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
            ("HOME", temp.join("home").display().to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_ENDPOINT_URL", self.server.endpoint()),
            ("IPGATE_DATA_DIR", self.data_dir().display().to_string()),
            ("IPGATE_LOG_DIR", temp.join("logs").display().to_string()),
        ]
    }

    fn project_dir(&self) -> &Path {
        &self.deployment.project_dir
    }

    fn data_dir(&self) -> PathBuf {
        self.temp.path().join("data")
    }

    fn prod_file(&self) -> PathBuf {
        self.project_dir().join(".chalice/apigw-policy-prod.json")
    }

    fn api(&self, chalice_stage: &str) -> String {
        self.deployment.api_for(chalice_stage).unwrap().to_string()
    }

    /// Reads the decoded live policy of a REST API.
    fn live_policy(&self, rest_api_id: &str) -> Option<Value> {
        let summary = self
            .runtime
            .block_on(self.server.gateway().get_rest_api(rest_api_id))
            .unwrap();
        decode_live_policy(summary.policy.as_deref()).unwrap()
    }

    /// Reads the deployment a stage serves.
    fn deployment_id(&self, rest_api_id: &str, stage: &str) -> String {
        let stages = self
            .runtime
            .block_on(self.server.gateway().get_stages(rest_api_id))
            .unwrap();
        let stage = stages
            .into_iter()
            .find(|found| found.name == stage)
            .unwrap();
        stage.deployment_id.unwrap()
    }

    /// Rewrites the prod policy file with a deny-unless allowlist of `cidrs`.
    fn write_prod_file(&self, cidrs: &[&str]) {
        let document = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": cidrs}}}
        ]});
        let mut text = serde_json::to_string_pretty(&document).unwrap();
        text.push('\n');
        fs::write(self.prod_file(), text).unwrap();
    }
}

/// Returns the `aws:SourceIp` list of the deny-unless statement, as in the sample's prod policy.
fn source_ips(document: &Value) -> Vec<String> {
    let statements = document["Statement"].as_array().unwrap();
    let deny = statements
        .iter()
        .find(|statement| statement["Effect"] == "Deny")
        .unwrap();
    let list = &deny["Condition"]["NotIpAddress"]["aws:SourceIp"];
    match list {
        Value::String(single) => vec![single.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().unwrap().to_string())
            .collect(),
        other => panic!("unexpected aws:SourceIp {other}"),
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn stage_by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["name"] == name)
        .unwrap_or_else(|| panic!("no stage named {name} in {list:#}"))
}

#[test]
fn list_json_and_text() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");

    let run = sample.run(&["list", "--output", "json"]);
    run.assert_code(0);
    let list = run.json();
    assert_eq!(list["connection"], "online");
    assert_eq!(list["region"], REGION);
    assert_eq!(list["stages"].as_array().unwrap().len(), 4, "{list:#}");

    let prod = stage_by_name(&list, "prod");
    assert_eq!(prod["rest_api_id"], prod_api.as_str());
    assert_eq!(prod["api_name"], "ipgate-sample");
    assert_eq!(prod["stage"], "api");
    assert_eq!(prod["chalice_stage"], "prod");
    assert_eq!(prod["access"], "allowlist");
    assert_eq!(prod["cidr_count"], 2);
    assert_eq!(prod["sync_status"], "in_sync");
    assert!(prod["deployment_id"].is_string(), "{prod:#}");
    assert!(prod["last_deployed"].is_string(), "{prod:#}");

    let dev = stage_by_name(&list, "dev");
    assert_eq!(dev["access"], "open");
    assert_eq!(dev["cidr_count"], Value::Null);

    let partners_v1 = format!("{}/v1", sample.deployment.partners_api);
    let partners = stage_by_name(&list, &partners_v1);
    assert_eq!(partners["chalice_stage"], Value::Null);
    assert_eq!(partners["sync_status"], "live_only");
    assert_eq!(partners["cidr_count"], 2);

    let text = sample.run(&["list"]);
    text.assert_code(0);
    assert!(text.stdout.contains("CHALICE"), "{}", text.stdout);
    assert!(text.stdout.contains(&prod_api), "{}", text.stdout);
    assert!(text.stdout.contains("2 CIDRs"), "{}", text.stdout);
    assert!(text.stdout.contains("partners-api"), "{}", text.stdout);
}

#[test]
fn show_flags_access_and_drift() {
    let sample = Sample::deploy();

    let run = sample.run(&["show", "prod", "--output", "json"]);
    run.assert_code(0);
    let show = run.json();
    assert_eq!(show["policy_source"], "policy_file");
    assert_eq!(show["access"], "allowlist");
    assert_eq!(show["drift"], false);
    let entries: Vec<&str> = show["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["cidr"].as_str().unwrap())
        .collect();
    assert_eq!(entries, PROD_CIDRS);
    assert!(
        show["effective_access"]["summary"]
            .as_str()
            .unwrap()
            .contains("203.0.113.0/24"),
        "{show:#}"
    );
    assert_eq!(source_ips(&show["policy"]), PROD_CIDRS);
    assert_eq!(show["live_known"], true);

    // A covered entry and one with host bits set, in the file only: flags and drift.
    sample.write_prod_file(&["203.0.113.0/24", "203.0.113.7/32", "192.0.2.77/24"]);
    let run = sample.run(&["show", "prod", "--output", "json"]);
    run.assert_code(0);
    let show = run.json();
    assert_eq!(show["drift"], true);
    assert_eq!(show["stage"]["sync_status"], "differ");
    let flags: Vec<&Value> = show["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["flags"])
        .collect();
    assert_eq!(flags[0], &serde_json::json!([]));
    assert_eq!(
        flags[1],
        &serde_json::json!([{"kind": "covered_by", "by": 0}])
    );
    assert_eq!(
        flags[2],
        &serde_json::json!([{"kind": "host_bits_set", "covers": "192.0.2.0/24"}])
    );

    let text = sample.run(&["show", "prod"]);
    text.assert_code(0);
    assert!(text.stdout.contains("covered by #1"), "{}", text.stdout);
    assert!(
        text.stdout.contains("host bits set: covers 192.0.2.0/24"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("Who gets in now:"), "{}", text.stdout);
    assert!(text.stdout.contains("\"Statement\""), "{}", text.stdout);
}

#[test]
fn unknown_and_ambiguous_stages() {
    let sample = Sample::deploy();

    let unknown = sample.run(&["show", "staging"]);
    unknown.assert_code(2);
    assert!(
        unknown.stderr.contains("no stage is named 'staging'"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains("  prod "), "{}", unknown.stderr);
    assert!(unknown.stdout.is_empty(), "{}", unknown.stdout);

    // Both Chalice stages deploy to an API Gateway stage named "api".
    let ambiguous = sample.run(&["show", "api", "--output", "json"]);
    ambiguous.assert_code(2);
    assert!(
        ambiguous.stderr.contains("'api' names 2 stages"),
        "{}",
        ambiguous.stderr
    );
    assert!(ambiguous.stderr.contains("  dev "), "{}", ambiguous.stderr);
    assert!(ambiguous.stderr.contains("  prod "), "{}", ambiguous.stderr);
    assert!(ambiguous.stdout.is_empty(), "{}", ambiguous.stdout);

    let by_id = sample.run(&[
        "show",
        &format!("{}/api", sample.api("prod")),
        "--output",
        "json",
    ]);
    by_id.assert_code(0);
    assert_eq!(by_id.json()["stage"]["chalice_stage"], "prod");
}

#[test]
fn add_rejects_invalid_cidr() {
    let sample = Sample::deploy();
    let before = fs::read_to_string(sample.prod_file()).unwrap();

    let run = sample.run(&["add", "prod", "198.51.100.7", "10.0.0.256/8", "--yes"]);
    run.assert_code(2);
    assert!(run.stderr.contains("invalid CIDR"), "{}", run.stderr);
    assert!(run.stderr.contains("10.0.0.256/8"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(sample.prod_file()).unwrap(), before);
}

#[test]
fn add_without_yes_changes_nothing() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");
    let file_before = fs::read_to_string(sample.prod_file()).unwrap();
    let live_before = sample.live_policy(&prod_api);
    let deployment_before = sample.deployment_id(&prod_api, "api");

    let run = sample.run(&["add", "prod", "198.51.100.7", "--output", "json"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("nothing was changed; pass --yes to apply"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1. write .chalice/apigw-policy-prod.json"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["outcome"], "not_confirmed");
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["planned", "planned", "planned"]);

    assert_eq!(fs::read_to_string(sample.prod_file()).unwrap(), file_before);
    assert_eq!(sample.live_policy(&prod_api), live_before);
    assert_eq!(sample.deployment_id(&prod_api, "api"), deployment_before);
    assert!(
        !sample.data_dir().join("audit.jsonl").exists(),
        "an audit line was written"
    );
}

#[test]
fn add_yes_saves_file_live_and_history() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");
    let deployment_before = sample.deployment_id(&prod_api, "api");

    let run = sample.run(&["add", "prod", "198.51.100.7", "--yes", "--output", "json"]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["outcome"], "saved");
    assert_eq!(report["change"], "+198.51.100.7/32");
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "done", "done"]);
    assert!(
        run.stderr
            .contains("Saved: policy file written, live policy updated, stage deployed."),
        "{}",
        run.stderr
    );

    let expected = ["203.0.113.0/24", "198.51.100.17/32", "198.51.100.7/32"];
    assert_eq!(source_ips(&read_json(&sample.prod_file())), expected);
    assert_eq!(
        source_ips(&sample.live_policy(&prod_api).unwrap()),
        expected
    );
    let deployment_after = sample.deployment_id(&prod_api, "api");
    assert_ne!(deployment_after, deployment_before);
    assert_eq!(report["deployment_id"], deployment_after.as_str());

    let store = HistoryStore::at(sample.data_dir());
    let versions = store.versions(Some(REGION), &prod_api, "api").unwrap();
    assert_eq!(versions.len(), 1, "{versions:#?}");
    assert_eq!(
        versions[0].deployment_id.as_deref(),
        Some(deployment_before.as_str())
    );
    assert_eq!(versions[0].reason, "before save");
    let recorded = serde_json::from_str::<Value>(versions[0].policy.as_deref().unwrap()).unwrap();
    assert_eq!(source_ips(&recorded), PROD_CIDRS);

    let audit = store.audit_records().unwrap();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0].outcome, "saved");
    assert_eq!(audit[0].change, "+198.51.100.7/32");
    assert_eq!(audit[0].chalice_stage.as_deref(), Some("prod"));
    assert_eq!(
        audit[0].deployment_id.as_deref(),
        Some(deployment_after.as_str())
    );

    // The same add again finds the entry present and nothing to save.
    let again = sample.run(&[
        "add",
        "prod",
        "198.51.100.7/32",
        "--yes",
        "--output",
        "json",
    ]);
    again.assert_code(0);
    assert_eq!(again.json()["outcome"], "nothing_to_do");
    assert!(
        again.stderr.contains("already in the allowlist"),
        "{}",
        again.stderr
    );
}

#[test]
fn remove_last_entry_needs_open_or_closed() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");
    let file_before = fs::read_to_string(sample.prod_file()).unwrap();

    let missing = sample.run(&["remove", "prod", "192.0.2.1", "--yes"]);
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("192.0.2.1 is not in the allowlist"),
        "{}",
        missing.stderr
    );

    let run = sample.run(&["remove", "prod", "203.0.113.0/24", "198.51.100.17", "--yes"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--open"), "{}", run.stderr);
    assert!(run.stderr.contains("--closed"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(sample.prod_file()).unwrap(), file_before);

    let partial = sample.run(&["remove", "prod", "203.0.113.0/24", "--closed", "--yes"]);
    partial.assert_code(2);
    assert!(
        partial.stderr.contains("only when the last entry goes"),
        "{}",
        partial.stderr
    );

    let closed = sample.run(&[
        "remove",
        "prod",
        "203.0.113.0/24",
        "198.51.100.17",
        "--closed",
        "--yes",
        "--output",
        "json",
    ]);
    closed.assert_code(0);
    assert_eq!(closed.json()["outcome"], "saved");

    let show = sample.run(&["show", "prod", "--output", "json"]);
    show.assert_code(0);
    let show = show.json();
    assert_eq!(show["access"], "closed");
    assert_eq!(show["drift"], false);
    assert_eq!(show["stage"]["access"], "closed");
    assert!(sample.live_policy(&prod_api).is_some());
}

#[test]
fn unrestricted_lockout_and_read_only_guards() {
    let sample = Sample::deploy();
    let file_before = fs::read_to_string(sample.prod_file()).unwrap();

    let read_only = sample.run(&["add", "prod", "192.0.2.1", "--yes", "--read-only"]);
    read_only.assert_code(2);
    assert!(
        read_only.stderr.contains("--read-only"),
        "{}",
        read_only.stderr
    );

    let unrestricted = sample.run(&["add", "prod", "0.0.0.0/0", "--yes"]);
    unrestricted.assert_code(2);
    assert!(
        unrestricted.stderr.contains("--allow-unrestricted"),
        "{}",
        unrestricted.stderr
    );

    let lockout = sample.run(&[
        "remove",
        "prod",
        "198.51.100.17",
        "--yes",
        "--my-ip",
        "198.51.100.17",
    ]);
    lockout.assert_code(2);
    assert!(
        lockout.stderr.contains("--allow-lockout"),
        "{}",
        lockout.stderr
    );
    assert_eq!(fs::read_to_string(sample.prod_file()).unwrap(), file_before);

    let accepted = sample.run(&[
        "remove",
        "prod",
        "198.51.100.17",
        "--yes",
        "--my-ip",
        "198.51.100.17",
        "--allow-lockout",
    ]);
    accepted.assert_code(0);
    assert_eq!(
        source_ips(&read_json(&sample.prod_file())),
        ["203.0.113.0/24"]
    );

    let opened = sample.run(&["add", "prod", "0.0.0.0/0", "--yes", "--allow-unrestricted"]);
    opened.assert_code(0);
    assert_eq!(
        source_ips(&read_json(&sample.prod_file())),
        ["203.0.113.0/24", "0.0.0.0/0"]
    );
}

#[test]
fn diff_finds_drift_and_apply_fixes_it() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");

    let clean = sample.run(&["diff", "--output", "json"]);
    clean.assert_code(0);
    let report = clean.json();
    assert_eq!(report["drift"], false);
    let statuses: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stage| stage["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["in_sync", "in_sync"]);

    sample.write_prod_file(&["203.0.113.0/24", "198.51.100.17/32", "192.0.2.44/32"]);
    let drift = sample.run(&["diff", "--output", "json"]);
    drift.assert_code(3);
    let report = drift.json();
    assert_eq!(report["drift"], true);
    let prod = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stage| stage["stage"]["name"] == "prod")
        .unwrap();
    assert_eq!(prod["status"], "differ");
    assert_eq!(prod["stage"]["sync_status"], "differ");
    let diff = prod["diff"].as_str().unwrap();
    assert!(
        diff.starts_with("--- policy file .chalice/apigw-policy-prod.json\n"),
        "{diff}"
    );
    let removed = diff
        .lines()
        .any(|line| line.starts_with('-') && line.contains("192.0.2.44/32"));
    assert!(
        removed,
        "the file's extra entry is not a removed line:\n{diff}"
    );
    assert!(
        drift.stderr.contains("Drift found in stage(s) prod."),
        "{}",
        drift.stderr
    );

    let text = sample.run(&["diff", "prod"]);
    text.assert_code(3);
    assert!(text.stdout.contains("prod: differs"), "{}", text.stdout);
    assert!(text.stdout.contains("192.0.2.44/32"), "{}", text.stdout);

    let deployment_before = sample.deployment_id(&prod_api, "api");
    let refused = sample.run(&["apply", "prod"]);
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("pass --yes to apply"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        source_ips(&sample.live_policy(&prod_api).unwrap()),
        PROD_CIDRS
    );

    let applied = sample.run(&["apply", "prod", "--yes", "--output", "json"]);
    applied.assert_code(0);
    let report = applied.json();
    assert_eq!(report["outcome"], "saved");
    assert_eq!(report["steps"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(
        source_ips(&sample.live_policy(&prod_api).unwrap()),
        ["203.0.113.0/24", "198.51.100.17/32", "192.0.2.44/32"]
    );
    assert_ne!(sample.deployment_id(&prod_api, "api"), deployment_before);

    let after = sample.run(&["diff", "prod", "--output", "json"]);
    after.assert_code(0);
    assert_eq!(after.json()["drift"], false);

    let nothing = sample.run(&["apply", "prod", "--yes", "--output", "json"]);
    nothing.assert_code(0);
    assert_eq!(nothing.json()["outcome"], "nothing_to_do");
}

#[test]
fn failed_deployment_exits_partial() {
    let sample = Sample::deploy();
    let partners = sample.deployment.partners_api.clone();
    let client = sample.server.client();
    // Without the integration of `GET /`, moto rejects CreateDeployment.
    sample.runtime.block_on(async {
        let resources = client
            .get_resources()
            .rest_api_id(&partners)
            .send()
            .await
            .unwrap();
        let root = resources
            .items()
            .iter()
            .find(|resource| resource.path() == Some("/"))
            .unwrap();
        client
            .delete_integration()
            .rest_api_id(&partners)
            .resource_id(root.id().unwrap())
            .http_method("GET")
            .send()
            .await
            .unwrap();
    });

    let run = sample.run(&[
        "add",
        &format!("{partners}/v1"),
        "198.51.100.8",
        "--yes",
        "--output",
        "json",
    ]);
    run.assert_code(4);
    assert!(
        run.stderr
            .contains("save stopped part-way: live policy updated, not deployed."),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "  ran: update the resource policy of REST API {partners}"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("  failed: deploy stage v1 of REST API {partners}")),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["outcome"], "stopped_part_way");
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "failed"]);

    let audit = HistoryStore::at(sample.data_dir()).audit_records().unwrap();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert!(
        audit[0]
            .outcome
            .starts_with("failed: live policy updated, not deployed"),
        "{}",
        audit[0].outcome
    );
}

#[test]
fn terminal_confirmation_asks_first() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");
    let file_before = fs::read_to_string(sample.prod_file()).unwrap();

    let (code, output) = sample.run_on_terminal(&["add", "prod", "192.0.2.9"], "n");
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("Run these 3 steps? [y/N]"), "{output}");
    assert!(
        output.contains("cancelled; nothing was changed"),
        "{output}"
    );
    assert_eq!(fs::read_to_string(sample.prod_file()).unwrap(), file_before);

    let (code, output) = sample.run_on_terminal(&["add", "prod", "192.0.2.9"], "y");
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("Saved: policy file written"), "{output}");
    let expected = ["203.0.113.0/24", "198.51.100.17/32", "192.0.2.9/32"];
    assert_eq!(source_ips(&read_json(&sample.prod_file())), expected);
    assert_eq!(
        source_ips(&sample.live_policy(&prod_api).unwrap()),
        expected
    );
}

#[test]
fn without_region_only_files_change() {
    let sample = Sample::deploy();
    let prod_api = sample.api("prod");

    let list = sample.run_without_region(&["list", "--output", "json"]);
    list.assert_code(0);
    let list = list.json();
    assert_eq!(list["connection"], "local_only");
    assert!(
        list["connection_reason"]
            .as_str()
            .unwrap()
            .contains("no AWS region"),
        "{list:#}"
    );
    assert_eq!(stage_by_name(&list, "prod")["cidr_count"], 2);

    let run =
        sample.run_without_region(&["add", "prod", "192.0.2.10", "--yes", "--output", "json"]);
    run.assert_code(0);
    assert!(run.stderr.contains("local files only"), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["steps"].as_array().unwrap().len(), 1, "{report:#}");
    assert!(
        report["notes"]
            .to_string()
            .contains("chalice deploy --stage prod"),
        "{report:#}"
    );
    assert_eq!(
        source_ips(&read_json(&sample.prod_file())),
        ["203.0.113.0/24", "198.51.100.17/32", "192.0.2.10/32"]
    );
    assert_eq!(
        source_ips(&sample.live_policy(&prod_api).unwrap()),
        PROD_CIDRS
    );

    let diff = sample.run_without_region(&["diff"]);
    diff.assert_code(1);
    assert!(
        diff.stderr.contains("not connected to AWS"),
        "{}",
        diff.stderr
    );
}

#[test]
fn completions_print_bash_script() {
    // Completions need no project and no AWS: run the binary bare.
    let output = Command::new(env!("CARGO_BIN_EXE_ipgate"))
        .args(["completions", "bash"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(script.contains("_ipgate()"), "{script}");
    assert!(script.contains("complete -F _ipgate"), "{script}");
    for subcommand in ["list", "show", "add", "remove", "diff", "apply"] {
        assert!(script.contains(subcommand), "{subcommand} missing");
    }
}

#[test]
fn add_label_written_after_save() {
    let sample = Sample::deploy();

    let refused = sample.run(&["add", "prod", "192.0.2.9", "--label", "CI runner"]);
    assert_ne!(refused.code, 0);
    let labels_path = sample.prod_file().with_file_name("ipgate.json");
    let before = std::fs::read_to_string(&labels_path).unwrap();
    assert!(
        !before.contains("CI runner"),
        "a refused save wrote the label"
    );

    let run = sample.run(&["add", "prod", "192.0.2.9", "--label", "CI runner", "--yes"]);
    run.assert_code(0);
    let after = std::fs::read_to_string(&labels_path).unwrap();
    assert!(after.contains("\"192.0.2.9/32\": \"CI runner\""), "{after}");
}

#[test]
fn add_warns_about_covered_entry() {
    let sample = Sample::deploy();

    let run = sample.run(&["add", "prod", "203.0.113.9", "--yes"]);

    run.assert_code(0);
    assert!(
        run.stderr
            .contains("203.0.113.9/32 is covered by 203.0.113.0/24"),
        "{}",
        run.stderr
    );
}
