//! The real `App` against moto's API Gateway on 127.0.0.1: keys go in as messages, and a test
//! driver runs every effect the app returns the way the runtime does, one at a time.
//!
//! Each test starts its own server and deploys its own copy of the sample project.

mod app_support;
mod common;

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use aws_sdk_apigateway::types::{Op, PatchOperation};
use crossterm::event::KeyCode;
use serde_json::{Value, json};

use ipgate::aws::Gateway;
use ipgate::core::live::{decode_live_policy, same_meaning};
use ipgate::core::policy::to_minified;
use ipgate::core::resource::ApiContext;
use ipgate::demo::{SampleDeployment, deploy_sample};
use ipgate::emulator::{MotoServer, REGION};
use ipgate::myip::MyIpSource;
use ipgate::save::{Conflict, Step};
use ipgate::ui::app::{MyIp, Screen};
use ipgate::ui::editor::{Overlay, Prompt};
use ipgate::ui::message::Effect;

use app_support::{Driver, LookupServer, SaveExecution, key};
use common::start_moto;

/// The sample project's prod allowlist, in the order of its policy file.
const SAMPLE_PROD_CIDRS: [&str; 2] = ["203.0.113.0/24", "198.51.100.17/32"];

/// The API Gateway stage every Chalice stage of the sample project deploys to.
const STAGE: &str = "api";

/// A moto server with the sample project deployed to it.
struct Sample {
    server: MotoServer,
    deployment: SampleDeployment,
    _dir: tempfile::TempDir,
}

impl Sample {
    async fn deploy() -> Sample {
        let server = start_moto();
        let dir = tempfile::tempdir().unwrap();
        let deployment = deploy_sample(&server.client(), &dir.path().join("project"))
            .await
            .unwrap();
        Sample {
            server,
            deployment,
            _dir: dir,
        }
    }

    fn project_dir(&self) -> &Path {
        &self.deployment.project_dir
    }

    fn prod_api(&self) -> String {
        self.deployment.api_for("prod").unwrap().to_string()
    }

    fn prod_policy_path(&self) -> PathBuf {
        self.project_dir().join(".chalice/apigw-policy-prod.json")
    }

    fn prod_file(&self) -> Value {
        let text = fs::read_to_string(self.prod_policy_path()).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn driver(&self) -> Driver {
        Driver::new(self.project_dir(), &self.server)
    }

    /// Replaces the prod REST API's live policy through the SDK, as another client would.
    async fn set_prod_live(&self, document: &Value) {
        let patch = PatchOperation::builder()
            .op(Op::Replace)
            .path("/policy")
            .value(to_minified(document))
            .build();
        self.server
            .client()
            .update_rest_api()
            .rest_api_id(self.prod_api())
            .patch_operations(patch)
            .send()
            .await
            .unwrap();
    }
}

/// Shape B on every stage with `cidrs`, as the sample policy file has it.
fn deny_unless(cidrs: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": cidrs}}}
    ]})
}

async fn live_policy(gateway: &Gateway, rest_api_id: &str) -> Option<Value> {
    let api = gateway.get_rest_api(rest_api_id).await.unwrap();
    decode_live_policy(api.policy.as_deref()).unwrap()
}

async fn deployment_id(gateway: &Gateway, rest_api_id: &str) -> Option<String> {
    let stages = gateway.get_stages(rest_api_id).await.unwrap();
    stages
        .into_iter()
        .find(|stage| stage.name == STAGE)?
        .deployment_id
}

fn api_context(rest_api_id: &str) -> ApiContext {
    ApiContext {
        region: Some(REGION.to_string()),
        account: None,
        api_id: Some(rest_api_id.to_string()),
    }
}

/// True when `document` lists `cidr` anywhere, as a JSON string.
fn mentions(document: Option<&Value>, cidr: &str) -> bool {
    document.is_some_and(|document| to_minified(document).contains(&format!("\"{cidr}\"")))
}

/// Returns the line of a rendered home screen that shows `rest_api_id`.
fn row_line<'a>(screen: &'a str, rest_api_id: &str) -> &'a str {
    screen
        .lines()
        .find(|line| line.contains(rest_api_id))
        .unwrap_or_else(|| panic!("no row shows {rest_api_id}:\n{screen}"))
}

fn step_kinds(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .map(|step| match step {
            Step::WritePolicyFile { .. } => "WritePolicyFile",
            Step::SetPolicyFileKey { .. } => "SetPolicyFileKey",
            Step::UpdatePolicy { .. } => "UpdatePolicy",
            Step::CreateDeployment { .. } => "CreateDeployment",
        })
        .collect()
}

/// Returns the steps of the open confirmation, and fails when no confirmation is shown.
fn confirmed_steps(driver: &Driver) -> Vec<Step> {
    match &driver.editor().overlay {
        Overlay::Confirm(confirm) => confirm.plan.steps.clone(),
        other => panic!("no confirmation: {other:?}, status {:?}", driver.app.status),
    }
}

fn assert_saved(driver: &Driver) {
    let status = driver.app.status.clone().unwrap();
    assert!(!status.is_error, "{}", status.text);
    assert!(status.text.starts_with("Saved"), "{}", status.text);
}

/// Closes a finished save and returns to the home screen.
async fn close_finished_save(driver: &mut Driver) {
    driver.press(KeyCode::Enter).await;
    assert!(
        matches!(driver.app.screen, Screen::Home),
        "the editor stayed open: {:?}",
        driver.app.status
    );
}

/// Adds `entry` to prod, saves and confirms, and checks that every step ran.
async fn save_prod_with(driver: &mut Driver, entry: &str) {
    driver.open_editor("prod").await;
    driver.add_entry(entry).await;
    driver.press(KeyCode::Char('s')).await;
    assert_eq!(
        step_kinds(&confirmed_steps(driver)),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );
    driver.press(KeyCode::Char('y')).await;
    assert_saved(driver);
    close_finished_save(driver).await;
}

#[tokio::test]
async fn drift_resolves_both_ways() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let api = api_context(&prod_api);
    let gateway = sample.server.gateway();
    let console_edit = deny_unless(&["203.0.113.0/24", "198.51.100.17/32", "192.0.2.44/32"]);
    sample.set_prod_live(&console_edit).await;
    let first_deployment = deployment_id(&gateway, &prod_api).await;

    let mut driver = sample.driver();
    driver.start().await;
    assert_eq!(driver.row("prod").status.label(), "differ");
    let home = driver.render(120, 30);
    assert!(row_line(&home, &prod_api).contains("differ"), "{home}");

    // L: the file takes the live policy; live is already right, so nothing is deployed.
    driver.open_editor("prod").await;
    driver.press(KeyCode::Char('L')).await;
    assert_eq!(step_kinds(&confirmed_steps(&driver)), ["WritePolicyFile"]);
    driver.press(KeyCode::Char('y')).await;
    assert_saved(&driver);

    let file = sample.prod_file();
    assert!(
        same_meaning(Some(&file), Some(&console_edit), &api),
        "{file:#}"
    );
    assert!(same_meaning(
        live_policy(&gateway, &prod_api).await.as_ref(),
        Some(&console_edit),
        &api
    ));
    assert_eq!(deployment_id(&gateway, &prod_api).await, first_deployment);
    assert_eq!(step_kinds(&driver.steps_run), ["WritePolicyFile"]);

    close_finished_save(&mut driver).await;
    assert_eq!(driver.row("prod").status.label(), "in sync");
    let home = driver.render(120, 30);
    assert!(row_line(&home, &prod_api).contains("in sync"), "{home}");

    // Someone changes live again; F pushes the file back and deploys it.
    sample
        .set_prod_live(&deny_unless(&["203.0.113.0/24"]))
        .await;
    driver.press(KeyCode::Char('r')).await;
    assert_eq!(driver.row("prod").status.label(), "differ");

    driver.open_editor("prod").await;
    driver.press(KeyCode::Char('F')).await;
    assert_eq!(
        step_kinds(&confirmed_steps(&driver)),
        ["UpdatePolicy", "CreateDeployment"]
    );
    driver.press(KeyCode::Char('y')).await;
    assert_saved(&driver);

    let live = live_policy(&gateway, &prod_api).await;
    let file = sample.prod_file();
    assert!(
        same_meaning(live.as_ref(), Some(&file), &api),
        "live {live:?}, file {file:#}"
    );
    assert!(
        same_meaning(live.as_ref(), Some(&console_edit), &api),
        "{live:?}"
    );
    let second_deployment = deployment_id(&gateway, &prod_api).await;
    assert!(second_deployment.is_some());
    assert_ne!(
        second_deployment, first_deployment,
        "F did not redeploy the stage"
    );

    close_finished_save(&mut driver).await;
    assert_eq!(driver.row("prod").status.label(), "in sync");
    assert_eq!(
        driver.row("prod").deployment_id,
        second_deployment,
        "the row kept the old deployment"
    );
    let home = driver.render(120, 30);
    assert!(row_line(&home, &prod_api).contains("in sync"), "{home}");
}

/// Builds the live policy of prod as another client leaves it while the editor is open.
fn prod_live_with_other_entry() -> Value {
    deny_unless(&["203.0.113.0/24", "198.51.100.17/32", "203.0.113.99/32"])
}

/// Adds 192.0.2.5 to prod and lets another client add 203.0.113.99/32 live, then saves and
/// confirms. Checks that the run stopped at the live step with a live conflict.
async fn save_into_live_conflict(sample: &Sample) -> Driver {
    let mut driver = sample.driver();
    driver.start().await;
    driver.open_editor("prod").await;
    driver.add_entry("192.0.2.5").await;

    sample.set_prod_live(&prod_live_with_other_entry()).await;
    driver.press(KeyCode::Char('s')).await;
    assert_eq!(
        step_kinds(&confirmed_steps(&driver)),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );
    driver.press(KeyCode::Char('y')).await;

    let Overlay::Progress(run) = &driver.editor().overlay else {
        panic!("no progress view: {:?}", driver.editor().overlay);
    };
    assert_eq!(run.failed_step(), Some(1), "{:?}", run.statuses);
    assert!(
        matches!(run.conflict, Some(Conflict::LivePolicy { .. })),
        "{:?}",
        run.conflict
    );
    // The file step runs before the live step, so it has written the edit already.
    assert_eq!(
        step_kinds(&driver.steps_run),
        ["WritePolicyFile", "UpdatePolicy"]
    );
    driver
}

#[tokio::test]
async fn live_change_before_save_is_caught() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let gateway = sample.server.gateway();
    let first_deployment = deployment_id(&gateway, &prod_api).await;

    let mut driver = save_into_live_conflict(&sample).await;
    assert!(
        driver
            .status_text()
            .contains("changed since ipgate loaded it"),
        "{}",
        driver.status_text()
    );
    let screen = driver.render(120, 50);
    assert!(
        screen.contains("changed since ipgate loaded it"),
        "{screen}"
    );
    assert!(screen.contains("203.0.113.99/32"), "{screen}");
    assert!(screen.contains("+192.0.2.5/32"), "{screen}");

    let live = live_policy(&gateway, &prod_api).await;
    assert!(
        mentions(live.as_ref(), "203.0.113.99/32"),
        "the other client's entry was overwritten: {live:?}"
    );
    assert!(
        !mentions(live.as_ref(), "192.0.2.5/32"),
        "the edit went live over a conflict: {live:?}"
    );
    assert_eq!(deployment_id(&gateway, &prod_api).await, first_deployment);
    let versions = driver
        .history
        .versions(Some(REGION), &prod_api, STAGE)
        .unwrap();
    assert!(
        versions.is_empty(),
        "history recorded a write that did not happen: {versions:#?}"
    );

    // a: the edit goes on top of the other client's version.
    driver.press(KeyCode::Char('a')).await;
    let entries = &driver.editor().session.entries;
    assert!(entries.contains(&"192.0.2.5/32".to_string()), "{entries:?}");
    assert!(
        entries.contains(&"203.0.113.99/32".to_string()),
        "{entries:?}"
    );
    let steps = confirmed_steps(&driver);
    let Some(Step::UpdatePolicy { policy, .. }) = steps
        .iter()
        .find(|step| matches!(step, Step::UpdatePolicy { .. }))
    else {
        panic!("the new plan does not update live: {steps:?}");
    };
    assert!(policy.contains("\"192.0.2.5/32\""), "{policy}");
    assert!(policy.contains("\"203.0.113.99/32\""), "{policy}");
}

#[tokio::test]
async fn edit_applied_on_top_saves_both() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let gateway = sample.server.gateway();
    let first_deployment = deployment_id(&gateway, &prod_api).await;

    let mut driver = save_into_live_conflict(&sample).await;
    driver.press(KeyCode::Char('a')).await;
    let on_disk = fs::read_to_string(sample.prod_policy_path()).unwrap();
    for step in confirmed_steps(&driver) {
        if let Step::WritePolicyFile { expected, .. } = step {
            assert_eq!(
                expected.as_deref(),
                Some(on_disk.as_str()),
                "the file write expects a stale text"
            );
        }
    }
    driver.press(KeyCode::Char('y')).await;
    assert_saved(&driver);

    let live = live_policy(&gateway, &prod_api).await;
    let file = sample.prod_file();
    for cidr in [
        "192.0.2.5/32",
        "203.0.113.99/32",
        SAMPLE_PROD_CIDRS[0],
        SAMPLE_PROD_CIDRS[1],
    ] {
        assert!(mentions(live.as_ref(), cidr), "live lacks {cidr}: {live:?}");
        assert!(
            mentions(Some(&file), cidr),
            "the file lacks {cidr}: {file:#}"
        );
    }
    assert_ne!(deployment_id(&gateway, &prod_api).await, first_deployment);
}

#[tokio::test]
async fn file_change_before_save_is_caught() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let gateway = sample.server.gateway();
    let live_before = live_policy(&gateway, &prod_api).await;

    let mut driver = sample.driver();
    driver.start().await;
    driver.open_editor("prod").await;
    driver.add_entry("192.0.2.5").await;

    // Someone appends an entry to the policy file while the edit is open.
    let mut edited = sample.prod_file();
    edited["Statement"][1]["Condition"]["NotIpAddress"]["aws:SourceIp"]
        .as_array_mut()
        .unwrap()
        .push(json!("203.0.113.77/32"));
    let edited_text = format!("{}\n", serde_json::to_string_pretty(&edited).unwrap());
    fs::write(sample.prod_policy_path(), &edited_text).unwrap();

    driver.press(KeyCode::Char('s')).await;
    driver.press(KeyCode::Char('y')).await;

    let Overlay::Progress(run) = &driver.editor().overlay else {
        panic!("no progress view: {:?}", driver.editor().overlay);
    };
    assert_eq!(run.failed_step(), Some(0), "{:?}", run.statuses);
    assert!(
        matches!(run.conflict, Some(Conflict::LocalFile { .. })),
        "{:?}",
        run.conflict
    );
    let screen = driver.render(120, 50);
    assert!(
        screen.contains("changed on disk since ipgate read it"),
        "{screen}"
    );
    assert!(screen.contains("203.0.113.77/32"), "{screen}");

    assert_eq!(
        fs::read_to_string(sample.prod_policy_path()).unwrap(),
        edited_text,
        "the file was overwritten"
    );
    assert_eq!(
        live_policy(&gateway, &prod_api).await,
        live_before,
        "something was written live"
    );
    assert_eq!(step_kinds(&driver.steps_run), ["WritePolicyFile"]);

    driver.press(KeyCode::Char('a')).await;
    confirmed_steps(&driver);
    driver.press(KeyCode::Char('y')).await;
    assert_saved(&driver);

    let live = live_policy(&gateway, &prod_api).await;
    let file = sample.prod_file();
    for cidr in [
        "192.0.2.5/32",
        "203.0.113.77/32",
        SAMPLE_PROD_CIDRS[0],
        SAMPLE_PROD_CIDRS[1],
    ] {
        assert!(mentions(live.as_ref(), cidr), "live lacks {cidr}: {live:?}");
        assert!(
            mentions(Some(&file), cidr),
            "the file lacks {cidr}: {file:#}"
        );
    }
}

#[tokio::test]
async fn rollback_restores_and_redeploys() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let api = api_context(&prod_api);
    let gateway = sample.server.gateway();
    let original = deny_unless(&SAMPLE_PROD_CIDRS);

    let mut driver = sample.driver();
    driver.start().await;
    save_prod_with(&mut driver, "192.0.2.10").await;
    save_prod_with(&mut driver, "192.0.2.20").await;
    let versions = driver
        .history
        .versions(Some(REGION), &prod_api, STAGE)
        .unwrap();
    assert_eq!(versions.len(), 2, "{versions:#?}");
    let deployment_before = deployment_id(&gateway, &prod_api).await;

    driver.open_editor("prod").await;
    driver.press(KeyCode::Char('H')).await;
    let Overlay::History {
        versions: listed, ..
    } = &driver.editor().overlay
    else {
        panic!("no history: {:?}", driver.app.status);
    };
    assert_eq!(listed.len(), 2);
    driver.press(KeyCode::Down).await;
    driver.press(KeyCode::Enter).await;
    let steps = confirmed_steps(&driver);
    assert_eq!(
        step_kinds(&steps),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );
    driver.press(KeyCode::Char('y')).await;
    assert_saved(&driver);

    let file = sample.prod_file();
    let live = live_policy(&gateway, &prod_api).await;
    assert!(same_meaning(Some(&file), Some(&original), &api), "{file:#}");
    assert!(
        same_meaning(live.as_ref(), Some(&original), &api),
        "{live:?}"
    );
    let deployment_after = deployment_id(&gateway, &prod_api).await;
    assert!(deployment_after.is_some());
    assert_ne!(
        deployment_after, deployment_before,
        "the rollback did not redeploy"
    );

    let versions = driver
        .history
        .versions(Some(REGION), &prod_api, STAGE)
        .unwrap();
    assert_eq!(versions.len(), 3, "{versions:#?}");
    assert_eq!(versions[0].reason, "before rollback");
    let replaced = versions[0]
        .policy
        .as_deref()
        .map(|text| serde_json::from_str::<Value>(text).unwrap());
    assert!(mentions(replaced.as_ref(), "192.0.2.20/32"), "{replaced:?}");
    assert_eq!(versions[0].deployment_id, deployment_before);

    let audit = driver.history.audit_records().unwrap();
    assert_eq!(audit.len(), 3, "{audit:#?}");
    for record in &audit {
        assert_eq!(record.outcome, "saved", "{record:#?}");
        assert_eq!(record.rest_api_id, prod_api);
        assert!(record.deployment_id.is_some(), "{record:#?}");
    }
    assert_eq!(audit[2].deployment_id, deployment_after);
}

#[tokio::test]
async fn server_stop_mid_save_names_state() {
    let mut sample = Sample::deploy().await;
    let prod_api = sample.prod_api();

    let mut driver = sample.driver();
    driver.start().await;
    driver.open_editor("prod").await;
    driver.add_entry("192.0.2.5").await;
    driver.press(KeyCode::Char('s')).await;
    let effects = driver.app.update(key(KeyCode::Char('y')));
    let [effect] = <[Effect; 1]>::try_from(effects).unwrap();
    let mut save = SaveExecution::new(effect);
    assert_eq!(
        step_kinds(&save.steps),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );

    let effects = driver.save_step(&mut save).await;
    driver.run(effects).await;
    let written = fs::read_to_string(sample.prod_policy_path()).unwrap();
    assert!(written.contains("192.0.2.5/32"), "{written}");

    sample.server.stop();
    let effects = driver.save_step(&mut save).await;
    assert!(
        save.is_stopped(),
        "the run went on after the live step failed"
    );
    save.audit();
    driver.run(effects).await;

    let named_state = "policy file written, live policy not updated, not deployed";
    let status = driver.app.status.clone().unwrap();
    assert!(status.is_error, "{}", status.text);
    assert!(status.text.contains(named_state), "{}", status.text);
    let screen = driver.render(140, 40);
    assert!(screen.contains(named_state), "{screen}");
    assert!(screen.contains("Press r to retry"), "{screen}");

    assert_eq!(
        fs::read_to_string(sample.prod_policy_path()).unwrap(),
        written,
        "the file changed"
    );
    assert!(
        driver
            .editor()
            .session
            .entries
            .contains(&"192.0.2.5/32".to_string())
    );
    let audit = driver.history.audit_records().unwrap();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert!(
        audit[0]
            .outcome
            .starts_with(&format!("failed: {named_state}")),
        "{}",
        audit[0].outcome
    );
    assert_eq!(audit[0].rest_api_id, prod_api);

    let effects = driver.app.update(key(KeyCode::Char('r')));
    let [Effect::RunSave { from, steps, .. }] = effects.as_slice() else {
        panic!("r did not retry: {effects:?}");
    };
    assert_eq!(*from, 1, "the retry does not start at the live step");
    assert!(matches!(steps[1], Step::UpdatePolicy { .. }), "{steps:?}");
    assert_eq!(steps, &save.steps, "the retry runs another plan");
}

#[tokio::test]
async fn lockout_guard_uses_looked_up_address() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let gateway = sample.server.gateway();
    let lookup = LookupServer::start("198.51.100.17\n", 4);
    let my_ip: IpAddr = "198.51.100.17".parse().unwrap();

    let mut driver = sample.driver();
    driver.app.my_ip_source = MyIpSource::Lookup(lookup.url.clone());
    driver.start().await;
    assert_eq!(driver.app.my_ip, MyIp::Known(my_ip));
    assert_eq!(lookup.requests(), 1);
    let home = driver.render(120, 30);
    assert!(home.contains("my IP 198.51.100.17"), "{home}");

    driver.open_editor("prod").await;
    driver.select_entry("198.51.100.17/32").await;
    driver.press(KeyCode::Char('d')).await;
    driver.press(KeyCode::Char('s')).await;
    assert!(
        matches!(driver.editor().prompt, Some(Prompt::ConfirmLockout { address, .. }) if address == my_ip),
        "{:?}",
        driver.editor().prompt
    );
    assert_eq!(driver.editor().overlay, Overlay::None);

    driver.type_text("prod").await;
    driver.press(KeyCode::Enter).await;
    assert_eq!(driver.editor().prompt, None);
    confirmed_steps(&driver);

    driver.press(KeyCode::Char('y')).await;
    assert_saved(&driver);
    let live = live_policy(&gateway, &prod_api).await;
    assert!(!mentions(live.as_ref(), "198.51.100.17/32"), "{live:?}");
}

#[tokio::test]
async fn failed_lookup_never_blocks_save() {
    let sample = Sample::deploy().await;
    let lookup = LookupServer::start("<html>checkip is down</html>", 4);

    let mut driver = sample.driver();
    driver.app.my_ip_source = MyIpSource::Lookup(lookup.url.clone());
    driver.start().await;
    assert!(
        matches!(driver.app.my_ip, MyIp::Unknown(_)),
        "{:?}",
        driver.app.my_ip
    );
    assert_eq!(lookup.requests(), 1);
    let home = driver.render(120, 30);
    assert!(home.contains("my IP unknown"), "{home}");

    driver.open_editor("prod").await;
    driver.select_entry("198.51.100.17/32").await;
    driver.press(KeyCode::Char('d')).await;
    driver.press(KeyCode::Char('s')).await;
    assert_eq!(driver.editor().prompt, None);
    confirmed_steps(&driver);
}

#[tokio::test]
async fn read_only_save_changes_nothing() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let gateway = sample.server.gateway();
    let file_before = fs::read_to_string(sample.prod_policy_path()).unwrap();
    let live_before = live_policy(&gateway, &prod_api).await;
    let deployment_before = deployment_id(&gateway, &prod_api).await;

    let mut driver = sample.driver();
    driver.app.read_only = true;
    driver.start().await;
    driver.open_editor("prod").await;
    driver.add_entry("192.0.2.5").await;
    driver.press(KeyCode::Char('s')).await;

    let status = driver.app.status.clone().unwrap();
    assert!(status.is_error, "{}", status.text);
    assert!(status.text.contains("Read-only"), "{}", status.text);
    assert_eq!(driver.editor().overlay, Overlay::None);

    // A second s and a y in case a confirmation slipped through.
    driver.press(KeyCode::Char('s')).await;
    driver.press(KeyCode::Char('y')).await;
    assert!(driver.steps_run.is_empty(), "{:?}", driver.steps_run);
    assert_eq!(
        fs::read_to_string(sample.prod_policy_path()).unwrap(),
        file_before
    );
    assert_eq!(live_policy(&gateway, &prod_api).await, live_before);
    assert_eq!(deployment_id(&gateway, &prod_api).await, deployment_before);
    assert!(driver.history.audit_records().unwrap().is_empty());
}

#[tokio::test]
async fn set_change_applies_through_tui() {
    let sample = Sample::deploy().await;
    let prod_api = sample.prod_api();
    let gateway = sample.server.gateway();
    let deployment_before = deployment_id(&gateway, &prod_api).await;
    let mut driver = Driver::new(sample.project_dir(), &sample.server);
    driver.start().await;

    driver.press(KeyCode::Char('S')).await;
    driver.press(KeyCode::Enter).await;
    driver.press(KeyCode::Char('a')).await;
    driver.type_text("192.0.2.44").await;
    driver.press(KeyCode::Enter).await;
    driver.press(KeyCode::Char('s')).await;
    assert!(
        matches!(driver.app.screen, Screen::Batch(_)),
        "{}",
        driver.status_text()
    );
    driver.press(KeyCode::Char('y')).await;

    let screen = driver.render(110, 35);
    assert!(screen.contains("Applied: 1 stage"), "{screen}");
    let live = live_policy(&gateway, &prod_api)
        .await
        .expect("a live policy");
    assert!(to_minified(&live).contains("192.0.2.44/32"), "{live}");
    let file =
        fs::read_to_string(sample.project_dir().join(".chalice/apigw-policy-prod.json")).unwrap();
    assert!(file.contains("192.0.2.44/32"), "{file}");
    assert_ne!(deployment_id(&gateway, &prod_api).await, deployment_before);
}
