//! Saves against moto's API Gateway on 127.0.0.1, driven the way the editor drives them: load the
//! project, list the REST APIs, open an edit session on a Chalice stage, plan the save and run
//! every step in order.
//!
//! Each test starts its own server and works in its own temporary copy of a project.

mod common;

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};

use ipgate::aws::Gateway;
use ipgate::core::chalice::{KeyLevel, load_project};
use ipgate::core::live::{decode_live_policy, same_meaning};
use ipgate::core::policy::{POLICY_MAX_CHARS, policy_length};
use ipgate::core::resource::ApiContext;
use ipgate::demo::deploy_sample;
use ipgate::emulator::{REGION, seed_rest_api, write_deployed_record};
use ipgate::model::edit::{AddOutcome, EditSession, EditTarget};
use ipgate::model::{Connection, Inventory, LiveApi, Load, SyncStatus};
use ipgate::save::{PlanInput, SavePlan, Step, StepStatus, outcome_summary, plan_save, run_step};
use ipgate::ui::editor::EditorState;

use common::start_moto;

/// The sample project's prod policy file: shape B with two CIDRs.
const SAMPLE_PROD_CIDRS: [&str; 2] = ["203.0.113.0/24", "198.51.100.17/32"];

/// Shape B on every stage with `cidrs`, as a policy file would contain it.
fn deny_unless(cidrs: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": cidrs}}}
    ]})
}

/// Writes `.chalice/config.json` and further files, paths relative to `.chalice`.
fn write_project(project_dir: &Path, config: &str, files: &[(&str, &str)]) {
    let chalice_dir = project_dir.join(".chalice");
    fs::create_dir_all(&chalice_dir).unwrap();
    fs::write(chalice_dir.join("config.json"), config).unwrap();
    for (name, text) in files {
        fs::write(chalice_dir.join(name), text).unwrap();
    }
}

fn pretty(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap();
    text.push('\n');
    text
}

/// Loads the project and every REST API with its stages, as the home screen does once online.
async fn load_inventory(project_dir: &Path, gateway: &Gateway) -> Inventory {
    let project = load_project(project_dir).unwrap();
    assert!(
        project.is_some(),
        "{} has no .chalice/config.json",
        project_dir.display()
    );

    let mut inventory = Inventory::new(project, Some(REGION.to_string()));
    inventory.connection = Connection::Online;
    for summary in gateway.list_rest_apis().await.unwrap() {
        let rest_api_id = summary.id.clone();
        let mut api = LiveApi::new(summary);
        api.stages = Load::Ready(gateway.get_stages(&rest_api_id).await.unwrap());
        inventory.apis.insert(rest_api_id, api);
    }
    inventory
}

/// One stage's edit session and what the editor keeps beside it.
struct Editor {
    session: EditSession,
    online: bool,
    warnings: Vec<String>,
}

/// Opens a session on a Chalice stage's row the way `EditorState::open` does: the local policy
/// file is the base when it exists, else the live policy.
fn open_editor(inventory: &Inventory, chalice_stage: &str) -> Editor {
    let row = inventory
        .rows()
        .into_iter()
        .find(|row| row.chalice_stage.as_deref() == Some(chalice_stage))
        .unwrap_or_else(|| panic!("no home screen row for Chalice stage {chalice_stage}"));
    let project = inventory.project.as_ref().unwrap();

    let live_api = row
        .rest_api_id
        .as_ref()
        .and_then(|id| inventory.apis.get(id));
    let online = matches!(inventory.connection, Connection::Online) && live_api.is_some();
    let live = match live_api {
        Some(api) => api.policy.clone().expect("the live policy decodes"),
        None => None,
    };
    let local = inventory.local_policies[chalice_stage].clone().unwrap();
    let local_path = project
        .stage(chalice_stage)
        .and_then(|stage| stage.policy_file.as_ref())
        .map(|setting| setting.path.clone());

    let target = EditTarget {
        rest_api_id: row.rest_api_id.clone(),
        api_name: row.api_name.clone(),
        stage: row.stage.clone(),
        chalice_stage: row.chalice_stage.clone(),
        api: inventory.api_context(row.rest_api_id.as_deref()),
    };
    let session = EditSession::new(target, local, local_path, live, online).unwrap();

    // The editor itself must open the same session, or these tests drive another path.
    let state = EditorState::open(&row, inventory).unwrap();
    assert_eq!(state.session.target, session.target);
    assert_eq!(state.session.base, session.base);
    assert_eq!(state.session.live, session.live);
    assert_eq!(state.session.entries, session.entries);
    assert_eq!(state.online, online);

    Editor {
        session,
        online,
        warnings: project.warnings(chalice_stage),
    }
}

/// Plans the save of `editor`'s session with the inputs the editor passes.
fn plan(editor: &Editor, inventory: &Inventory, own_file: bool) -> Result<SavePlan, String> {
    let session = &editor.session;
    let proposed = session
        .proposed_document()
        .map_err(|error| error.to_string())?;
    let target = &session.target;
    let input = PlanInput {
        project: inventory.project.as_ref(),
        chalice_stage: target.chalice_stage.as_deref(),
        rest_api_id: if editor.online {
            target.rest_api_id.as_deref()
        } else {
            None
        },
        stage: &target.stage,
        api: &target.api,
        proposed: proposed.as_ref(),
        local_text: session.local.as_ref().map(|file| file.text.as_str()),
        local: session.local.as_ref().map(|file| &file.document),
        live: session.live.as_ref(),
        online: editor.online,
        own_file,
        description: session.deployment_description(),
    };
    plan_save(&input)
}

/// Runs the steps in order and stops at the first failure, as the progress view does.
async fn run_all(steps: &[Step], gateway: &Gateway) -> Vec<StepStatus> {
    let mut statuses = vec![StepStatus::Pending; steps.len()];
    for (index, step) in steps.iter().enumerate() {
        match run_step(step, Some(gateway)).await {
            Ok(detail) => statuses[index] = StepStatus::Done(detail),
            Err(error) => {
                statuses[index] = StepStatus::Failed(error);
                break;
            }
        }
    }
    statuses
}

fn assert_all_done(steps: &[Step], statuses: &[StepStatus]) {
    for (step, status) in steps.iter().zip(statuses) {
        assert!(
            matches!(status, StepStatus::Done(_)),
            "{}: {status:?}",
            step.describe(None)
        );
    }
}

/// Names each step by kind, so that a whole plan can be compared at once.
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

/// Reads and decodes the live policy of a REST API.
async fn live_policy(gateway: &Gateway, rest_api_id: &str) -> Option<Value> {
    let api = gateway.get_rest_api(rest_api_id).await.unwrap();
    decode_live_policy(api.policy.as_deref()).unwrap()
}

async fn deployment_id(gateway: &Gateway, rest_api_id: &str, stage: &str) -> Option<String> {
    let stages = gateway.get_stages(rest_api_id).await.unwrap();
    stages
        .into_iter()
        .find(|summary| summary.name == stage)?
        .deployment_id
}

fn api_context(rest_api_id: &str) -> ApiContext {
    ApiContext {
        region: Some(REGION.to_string()),
        account: None,
        api_id: Some(rest_api_id.to_string()),
    }
}

fn added(entry: &str) -> AddOutcome {
    AddOutcome::Added(entry.to_string())
}

/// Lists the lines that changed from `old` to `new`, each with `-` or `+` and its line ending.
fn line_changes(old: &str, new: &str) -> Vec<String> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .filter_map(|change| match change.tag() {
            ChangeTag::Equal => None,
            ChangeTag::Delete => Some(format!("-{}", change.value())),
            ChangeTag::Insert => Some(format!("+{}", change.value())),
        })
        .collect()
}

#[tokio::test]
async fn prod_save_updates_file_live_and_deployment() {
    let server = start_moto();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");
    let sample = deploy_sample(&server.client(), &project_dir).await.unwrap();
    let prod_api = sample.api_for("prod").unwrap().to_string();

    let config_path = project_dir.join(".chalice/config.json");
    let policy_path = project_dir.join(".chalice/apigw-policy-prod.json");
    let config_before = fs::read(&config_path).unwrap();
    let live_before = live_policy(&gateway, &prod_api).await;
    let deployment_before = deployment_id(&gateway, &prod_api, "api").await;
    assert!(deployment_before.is_some());

    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut editor = open_editor(&inventory, "prod");
    assert!(editor.online);
    assert_eq!(editor.session.entries, SAMPLE_PROD_CIDRS);
    assert_eq!(
        editor.session.add("192.0.2.44").unwrap(),
        added("192.0.2.44/32")
    );
    assert_eq!(
        editor.session.delete(1).as_deref(),
        Some("198.51.100.17/32")
    );
    assert_eq!(editor.session.save_blocker(), None);

    let plan = plan(&editor, &inventory, false).unwrap();
    assert_eq!(
        step_kinds(&plan.steps),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );
    let Step::CreateDeployment {
        stage, description, ..
    } = &plan.steps[2]
    else {
        unreachable!("checked by step_kinds");
    };
    assert_eq!(stage, "api");
    assert_eq!(description, "ipgate: prod +192.0.2.44/32 -198.51.100.17/32");

    let statuses = run_all(&plan.steps, &gateway).await;
    assert_all_done(&plan.steps, &statuses);
    assert_eq!(
        outcome_summary(&plan.steps, &statuses),
        "policy file written, live policy updated, stage deployed"
    );

    // The policy file contains the edited document.
    let file_text = fs::read_to_string(&policy_path).unwrap();
    let file_document: Value = serde_json::from_str(&file_text).unwrap();
    assert_eq!(
        Some(&file_document),
        editor.session.proposed_document().unwrap().as_ref()
    );
    assert_eq!(
        file_document,
        deny_unless(&["203.0.113.0/24", "192.0.2.44/32"])
    );
    assert!(file_text.ends_with("}\n"), "{file_text:?}");

    // The live policy means the same as the file, and no longer what it meant before.
    let live_after = live_policy(&gateway, &prod_api).await;
    let api = api_context(&prod_api);
    assert!(
        same_meaning(live_after.as_ref(), Some(&file_document), &api),
        "live {live_after:?}"
    );
    assert!(!same_meaning(
        live_after.as_ref(),
        live_before.as_ref(),
        &api
    ));

    // The stage serves a new deployment carrying ipgate's description.
    let deployment_after = deployment_id(&gateway, &prod_api, "api").await;
    assert!(deployment_after.is_some());
    assert_ne!(deployment_after, deployment_before);
    let StepStatus::Done(Some(detail)) = &statuses[2] else {
        panic!("deployment step: {:?}", statuses[2]);
    };
    assert_eq!(
        detail,
        &format!("deployment {}", deployment_after.clone().unwrap())
    );
    let deployment = server
        .client()
        .get_deployment()
        .rest_api_id(&prod_api)
        .deployment_id(deployment_after.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deployment.description(), Some(description.as_str()));

    assert_eq!(
        fs::read(&config_path).unwrap(),
        config_before,
        "config.json changed"
    );

    // Reloaded, the stage reads as in sync with its new list.
    let reloaded = load_inventory(&project_dir, &gateway).await;
    let row = reloaded
        .rows()
        .into_iter()
        .find(|row| row.chalice_stage.as_deref() == Some("prod"));
    let row = row.unwrap();
    assert_eq!(row.status, SyncStatus::InSync);
    assert_eq!(row.allowlist_summary, "2");
}

#[tokio::test]
async fn dev_without_policy_file_gets_file_and_key() {
    let server = start_moto();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");
    let sample = deploy_sample(&server.client(), &project_dir).await.unwrap();
    let dev_api = sample.api_for("dev").unwrap().to_string();

    let config_path = project_dir.join(".chalice/config.json");
    let prod_policy_path = project_dir.join(".chalice/apigw-policy-prod.json");
    let dev_policy_path = project_dir.join(".chalice/apigw-policy-dev.json");
    let config_before = fs::read_to_string(&config_path).unwrap();
    let prod_policy_before = fs::read(&prod_policy_path).unwrap();
    let deployment_before = deployment_id(&gateway, &dev_api, "api").await;
    assert_eq!(live_policy(&gateway, &dev_api).await, None);

    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut editor = open_editor(&inventory, "dev");
    assert_eq!(editor.session.base, None);
    assert!(editor.session.entries.is_empty());
    editor.session.add("203.0.113.9").unwrap();

    let plan = plan(&editor, &inventory, false).unwrap();
    assert_eq!(
        step_kinds(&plan.steps),
        [
            "WritePolicyFile",
            "SetPolicyFileKey",
            "UpdatePolicy",
            "CreateDeployment"
        ]
    );
    let Step::WritePolicyFile { path, .. } = &plan.steps[0] else {
        unreachable!("checked by step_kinds");
    };
    assert_eq!(path, &dev_policy_path);
    let Step::SetPolicyFileKey {
        chalice_stage,
        value,
        ..
    } = &plan.steps[1]
    else {
        unreachable!("checked by step_kinds");
    };
    assert_eq!(
        (chalice_stage.as_str(), value.as_str()),
        ("dev", "apigw-policy-dev.json")
    );

    let statuses = run_all(&plan.steps, &gateway).await;
    assert_all_done(&plan.steps, &statuses);

    // The new file restricts stage api of dev to the one address.
    let file_document: Value =
        serde_json::from_str(&fs::read_to_string(&dev_policy_path).unwrap()).unwrap();
    let expected = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/api/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.9/32"]}}}
    ]});
    assert_eq!(file_document, expected);

    // config.json gains the key in stage dev, and no other line changes.
    let config_after = fs::read_to_string(&config_path).unwrap();
    assert_eq!(
        line_changes(&config_before, &config_after),
        [
            "-      \"api_gateway_stage\": \"api\"\n",
            "+      \"api_gateway_stage\": \"api\",\n",
            "+      \"api_gateway_policy_file\": \"apigw-policy-dev.json\"\n",
        ]
    );
    let reloaded = load_project(&project_dir).unwrap().unwrap();
    let setting = reloaded.stage("dev").unwrap().policy_file.clone().unwrap();
    assert_eq!(setting.value, "apigw-policy-dev.json");
    assert_eq!(setting.level, KeyLevel::Stage);
    assert_eq!(fs::read(&prod_policy_path).unwrap(), prod_policy_before);

    let live_after = live_policy(&gateway, &dev_api).await;
    assert!(same_meaning(
        live_after.as_ref(),
        Some(&file_document),
        &api_context(&dev_api)
    ));
    let deployment_after = deployment_id(&gateway, &dev_api, "api").await;
    assert!(deployment_after.is_some());
    assert_ne!(deployment_after, deployment_before);
}

#[tokio::test]
async fn in_sync_stage_plans_nothing() {
    let server = start_moto();
    let client = server.client();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();

    let allow_if_ip = |cidrs: Value| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*",
             "Condition": {"IpAddress": {"aws:SourceIp": cidrs}}}
        ]})
    };
    // Each case: name, local file, live policy text with `API_ID` in place of the REST API id.
    let cases = [
        (
            "list order differs",
            pretty(&deny_unless(&["198.51.100.0/24", "192.0.2.0/24"])),
            deny_unless(&["192.0.2.0/24", "198.51.100.0/24"]).to_string(),
        ),
        (
            "one-element list against a single string",
            pretty(&allow_if_ip(json!(["198.51.100.0/24"]))),
            allow_if_ip(json!("198.51.100.0/24")).to_string(),
        ),
        (
            "escaped text with full ARNs, as AWS returns it",
            pretty(&deny_unless(&["198.51.100.0/24", "192.0.2.0/24"])),
            r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:us-east-1:123456789012:API_ID\/*\"},{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:us-east-1:123456789012:API_ID\/*\",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":[\"192.0.2.0\/24\",\"198.51.100.0\/24\"]}}}]}"#
                .to_string(),
        ),
    ];

    for (index, (name, local, live)) in cases.iter().enumerate() {
        let project_dir = temp.path().join(format!("case{index}"));
        let config = r#"{"version": "2.0", "app_name": "synced", "stages": {"prod": {"api_gateway_policy_file": "apigw-policy-prod.json"}}}"#;
        write_project(&project_dir, config, &[("apigw-policy-prod.json", local)]);
        let rest_api_id = seed_rest_api(&client, "synced", "api", None).await.unwrap();
        gateway
            .put_policy(&rest_api_id, &live.replace("API_ID", &rest_api_id))
            .await
            .unwrap();
        write_deployed_record(&project_dir, "prod", &rest_api_id, REGION, "api").unwrap();
        let deployment_before = deployment_id(&gateway, &rest_api_id, "api").await;

        let inventory = load_inventory(&project_dir, &gateway).await;
        let row = inventory
            .rows()
            .into_iter()
            .find(|row| row.rest_api_id.as_ref() == Some(&rest_api_id));
        assert_eq!(
            row.map(|row| row.status),
            Some(SyncStatus::InSync),
            "{name}"
        );

        let editor = open_editor(&inventory, "prod");
        assert!(!editor.session.is_dirty(), "{name}");
        let plan = plan(&editor, &inventory, false).unwrap();
        assert_eq!(plan.steps, [], "{name}");
        assert!(plan.is_empty(), "{name}");
        assert_eq!(
            deployment_id(&gateway, &rest_api_id, "api").await,
            deployment_before,
            "{name}"
        );
    }
}

#[tokio::test]
async fn crlf_config_keeps_other_bytes() {
    let server = start_moto();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");

    let config = "{\r\n    \"stages\": {\r\n        \"prod\": {\r\n            \"api_gateway_stage\": \"live\"\r\n        },\r\n        \"dev\": {\r\n            \"autogen_policy\": true\r\n        }\r\n    },\r\n    \"app_name\": \"crlf-app\",\r\n    \"version\": \"2.0\"\r\n}\r\n";
    write_project(&project_dir, config, &[]);
    let dev_api = seed_rest_api(&server.client(), "crlf-app", "api", None)
        .await
        .unwrap();
    write_deployed_record(&project_dir, "dev", &dev_api, REGION, "api").unwrap();

    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut editor = open_editor(&inventory, "dev");
    editor.session.add("198.51.100.0/24").unwrap();
    let plan = plan(&editor, &inventory, false).unwrap();
    assert_eq!(
        step_kinds(&plan.steps),
        [
            "WritePolicyFile",
            "SetPolicyFileKey",
            "UpdatePolicy",
            "CreateDeployment"
        ]
    );
    let statuses = run_all(&plan.steps, &gateway).await;
    assert_all_done(&plan.steps, &statuses);

    let config_after = fs::read_to_string(project_dir.join(".chalice/config.json")).unwrap();
    assert_eq!(
        line_changes(config, &config_after),
        [
            "-            \"autogen_policy\": true\r\n",
            "+            \"autogen_policy\": true,\r\n",
            "+            \"api_gateway_policy_file\": \"apigw-policy-dev.json\"\r\n",
        ]
    );
    let expected = config.replace(
        "\"autogen_policy\": true\r\n",
        "\"autogen_policy\": true,\r\n            \"api_gateway_policy_file\": \"apigw-policy-dev.json\"\r\n",
    );
    assert_eq!(config_after.as_bytes(), expected.as_bytes());
    assert_eq!(
        config_after.matches('\n').count(),
        config_after.matches("\r\n").count(),
        "a bare LF in {config_after:?}"
    );
}

#[tokio::test]
async fn shared_policy_file_split_on_request() {
    let server = start_moto();
    let client = server.client();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");

    let config = r#"{
  "version": "2.0",
  "app_name": "shared-app",
  "api_gateway_policy_file": "apigw-shared.json",
  "stages": {
    "dev": {},
    "prod": {
      "api_gateway_stage": "api"
    }
  }
}
"#;
    let shared = pretty(&deny_unless(&["203.0.113.0/24"]));
    write_project(&project_dir, config, &[("apigw-shared.json", &shared)]);
    let shared_minified = deny_unless(&["203.0.113.0/24"]).to_string();
    let mut apis = Vec::new();
    for stage in ["dev", "prod"] {
        let id = seed_rest_api(&client, "shared-app", "api", Some(&shared_minified))
            .await
            .unwrap();
        write_deployed_record(&project_dir, stage, &id, REGION, "api").unwrap();
        apis.push(id);
    }
    let (dev_api, prod_api) = (&apis[0], &apis[1]);
    let shared_path = project_dir.join(".chalice/apigw-shared.json");
    let own_path = project_dir.join(".chalice/apigw-policy-prod.json");

    let inventory = load_inventory(&project_dir, &gateway).await;
    let project = inventory.project.as_ref().unwrap();
    assert_eq!(project.stages_sharing_policy_file("prod"), ["dev"]);
    let mut editor = open_editor(&inventory, "prod");
    assert!(
        editor.warnings.iter().any(|warning| warning
            .starts_with("apigw-shared.json is also the policy file of stage dev, so saving prod changes dev too.")),
        "{:?}",
        editor.warnings
    );
    editor.session.add("198.51.100.23").unwrap();

    // Without the choice, the save writes the shared file.
    let shared_plan = plan(&editor, &inventory, false).unwrap();
    let Step::WritePolicyFile { path, .. } = &shared_plan.steps[0] else {
        panic!("first step: {:?}", shared_plan.steps[0]);
    };
    assert_eq!(path, &shared_path);

    let own_plan = plan(&editor, &inventory, true).unwrap();
    assert_eq!(
        step_kinds(&own_plan.steps),
        [
            "WritePolicyFile",
            "SetPolicyFileKey",
            "UpdatePolicy",
            "CreateDeployment"
        ]
    );
    let Step::WritePolicyFile { path, .. } = &own_plan.steps[0] else {
        unreachable!("checked by step_kinds");
    };
    assert_eq!(path, &own_path);
    let Step::SetPolicyFileKey {
        chalice_stage,
        value,
        ..
    } = &own_plan.steps[1]
    else {
        unreachable!("checked by step_kinds");
    };
    assert_eq!(
        (chalice_stage.as_str(), value.as_str()),
        ("prod", "apigw-policy-prod.json")
    );
    assert!(
        own_plan.notes.contains(
            &"Stage prod gets its own policy file; other stages keep apigw-shared.json."
                .to_string()
        ),
        "{:?}",
        own_plan.notes
    );

    let statuses = run_all(&own_plan.steps, &gateway).await;
    assert_all_done(&own_plan.steps, &statuses);

    assert_eq!(
        fs::read_to_string(&shared_path).unwrap(),
        shared,
        "the shared file was written"
    );
    let own_document: Value =
        serde_json::from_str(&fs::read_to_string(&own_path).unwrap()).unwrap();
    assert_eq!(
        own_document,
        deny_unless(&["203.0.113.0/24", "198.51.100.23/32"])
    );

    let reloaded = load_project(&project_dir).unwrap().unwrap();
    let prod_setting = reloaded.stage("prod").unwrap().policy_file.clone().unwrap();
    assert_eq!(prod_setting.value, "apigw-policy-prod.json");
    assert_eq!(prod_setting.level, KeyLevel::Stage);
    let dev_setting = reloaded.stage("dev").unwrap().policy_file.clone().unwrap();
    assert_eq!(dev_setting.value, "apigw-shared.json");
    assert_eq!(dev_setting.level, KeyLevel::TopLevel);
    assert!(reloaded.stages_sharing_policy_file("prod").is_empty());

    let prod_live = live_policy(&gateway, prod_api).await;
    assert!(same_meaning(
        prod_live.as_ref(),
        Some(&own_document),
        &api_context(prod_api)
    ));
    let dev_live = live_policy(&gateway, dev_api).await;
    assert_eq!(
        dev_live,
        Some(deny_unless(&["203.0.113.0/24"])),
        "dev's live policy changed"
    );
}

#[tokio::test]
async fn oversized_policy_refused_before_writing() {
    let server = start_moto();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");
    let sample = deploy_sample(&server.client(), &project_dir).await.unwrap();
    let prod_api = sample.api_for("prod").unwrap().to_string();

    let config_path = project_dir.join(".chalice/config.json");
    let policy_path = project_dir.join(".chalice/apigw-policy-prod.json");
    let config_before = fs::read(&config_path).unwrap();
    let policy_before = fs::read(&policy_path).unwrap();
    let live_before = gateway.get_rest_api(&prod_api).await.unwrap().policy;
    let deployment_before = deployment_id(&gateway, &prod_api, "api").await;

    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut editor = open_editor(&inventory, "prod");
    let mut next = 0u32;
    let length = loop {
        let proposed = editor.session.proposed_document().unwrap().unwrap();
        let length = policy_length(&proposed);
        if length > POLICY_MAX_CHARS {
            break length;
        }
        editor
            .session
            .add(&format!(
                "10.{}.{}.{}",
                next / 65536,
                (next / 256) % 256,
                next % 256
            ))
            .unwrap();
        next += 1;
    };

    let error = plan(&editor, &inventory, false).unwrap_err();
    assert!(error.contains(&format!("{length} characters")), "{error}");
    assert!(error.contains("8192"), "{error}");

    assert_eq!(fs::read(&config_path).unwrap(), config_before);
    assert_eq!(fs::read(&policy_path).unwrap(), policy_before);
    assert_eq!(
        gateway.get_rest_api(&prod_api).await.unwrap().policy,
        live_before
    );
    assert_eq!(
        deployment_id(&gateway, &prod_api, "api").await,
        deployment_before
    );
}

#[tokio::test]
async fn server_gone_after_file_write() {
    let mut server = start_moto();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");
    deploy_sample(&server.client(), &project_dir).await.unwrap();
    let policy_path = project_dir.join(".chalice/apigw-policy-prod.json");

    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut editor = open_editor(&inventory, "prod");
    editor.session.add("192.0.2.200").unwrap();
    let plan = plan(&editor, &inventory, false).unwrap();
    assert_eq!(
        step_kinds(&plan.steps),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );
    let Step::WritePolicyFile { contents, .. } = &plan.steps[0] else {
        unreachable!("checked by step_kinds");
    };

    let mut statuses = vec![StepStatus::Pending; plan.steps.len()];
    statuses[0] = StepStatus::Done(run_step(&plan.steps[0], Some(&gateway)).await.unwrap());
    server.stop();
    let error = run_step(&plan.steps[1], Some(&gateway)).await.unwrap_err();
    statuses[1] = StepStatus::Failed(error.clone());

    assert!(
        error.to_lowercase().contains("connection refused"),
        "{error}"
    );
    assert_eq!(
        outcome_summary(&plan.steps, &statuses),
        "policy file written, live policy not updated, not deployed"
    );
    assert_eq!(
        &fs::read_to_string(&policy_path).unwrap(),
        contents,
        "the written file was lost"
    );
}

#[tokio::test]
async fn deploy_fails_without_method_then_retries() {
    let server = start_moto();
    let client = server.client();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");

    // An API with no method: moto rejects CreateDeployment on it.
    let created = client.create_rest_api().name("bare").send().await.unwrap();
    let rest_api_id = created.id().unwrap().to_string();
    let config = r#"{"version": "2.0", "app_name": "bare", "stages": {"dev": {"api_gateway_policy_file": "apigw-policy-dev.json"}}}"#;
    let local = pretty(&deny_unless(&["203.0.113.0/24"]));
    write_project(&project_dir, config, &[("apigw-policy-dev.json", &local)]);
    write_deployed_record(&project_dir, "dev", &rest_api_id, REGION, "api").unwrap();

    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut editor = open_editor(&inventory, "dev");
    editor.session.add("198.51.100.5").unwrap();
    let plan = plan(&editor, &inventory, false).unwrap();
    assert_eq!(
        step_kinds(&plan.steps),
        ["WritePolicyFile", "UpdatePolicy", "CreateDeployment"]
    );

    let mut statuses = run_all(&plan.steps, &gateway).await;
    assert!(
        matches!(statuses[0], StepStatus::Done(_)),
        "{:?}",
        statuses[0]
    );
    assert!(
        matches!(statuses[1], StepStatus::Done(_)),
        "{:?}",
        statuses[1]
    );
    let StepStatus::Failed(error) = &statuses[2] else {
        panic!(
            "CreateDeployment on an API without methods: {:?}",
            statuses[2]
        );
    };
    assert!(error.contains("BadRequestException"), "{error}");
    assert_eq!(
        outcome_summary(&plan.steps, &statuses),
        "policy file written, live policy updated, not deployed"
    );
    let file_document: Value = serde_json::from_str(
        &fs::read_to_string(project_dir.join(".chalice/apigw-policy-dev.json")).unwrap(),
    )
    .unwrap();
    let live = live_policy(&gateway, &rest_api_id).await;
    assert!(same_meaning(
        live.as_ref(),
        Some(&file_document),
        &api_context(&rest_api_id)
    ));

    // Give the API a method, then run only the failed step again.
    let resources = client
        .get_resources()
        .rest_api_id(&rest_api_id)
        .send()
        .await
        .unwrap();
    let root_id = resources.items()[0].id().unwrap().to_string();
    client
        .put_method()
        .rest_api_id(&rest_api_id)
        .resource_id(&root_id)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    client
        .put_integration()
        .rest_api_id(&rest_api_id)
        .resource_id(&root_id)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .unwrap();

    let detail = run_step(&plan.steps[2], Some(&gateway)).await.unwrap();
    statuses[2] = StepStatus::Done(detail.clone());
    let deployment = deployment_id(&gateway, &rest_api_id, "api").await;
    assert!(deployment.is_some());
    assert_eq!(detail, deployment.map(|id| format!("deployment {id}")));
    assert_eq!(
        outcome_summary(&plan.steps, &statuses),
        "policy file written, live policy updated, stage deployed"
    );
}
