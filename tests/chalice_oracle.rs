//! The real Chalice CLI as the judge of what ipgate saved: after ipgate saves a stage, the policy
//! that `chalice package` would deploy must mean the same as the live policy ipgate set.
//!
//! With a region in the environment, `chalice package` (Chalice 1.34.0) reads only local files
//! and makes no AWS call. It runs with dummy credentials and a temporary HOME, so no user
//! configuration leaks in.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use ipgate::aws::Gateway;
use ipgate::core::chalice::load_project;
use ipgate::core::live::{decode_live_policy, same_meaning};
use ipgate::core::resource::ApiContext;
use ipgate::demo::deploy_sample;
use ipgate::emulator::{PythonTools, REGION};
use ipgate::model::edit::{EditSession, EditTarget};
use ipgate::model::{Connection, Inventory, LiveApi, Load};
use ipgate::save::{PlanInput, StepStatus, plan_save, run_step};

use common::start_moto;

/// Loads the project and every REST API with its stages, as the home screen does once online.
async fn load_inventory(project_dir: &Path, gateway: &Gateway) -> Inventory {
    let project = load_project(project_dir).unwrap();
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

/// Opens a session on a Chalice stage as the editor does (local file as base, else live).
fn open_session(inventory: &Inventory, chalice_stage: &str) -> EditSession {
    let row = inventory
        .rows()
        .into_iter()
        .find(|row| row.chalice_stage.as_deref() == Some(chalice_stage))
        .unwrap_or_else(|| panic!("no home screen row for Chalice stage {chalice_stage}"));
    let project = inventory.project.as_ref().unwrap();
    let rest_api_id = row.rest_api_id.clone().unwrap();
    let live = inventory.apis[&rest_api_id].policy.clone().unwrap();
    let local = inventory.local_policies[chalice_stage].clone().unwrap();
    let local_path = project
        .stage(chalice_stage)
        .and_then(|stage| stage.policy_file.as_ref())
        .map(|setting| setting.path.clone());

    let target = EditTarget {
        api: inventory.api_context(Some(&rest_api_id)),
        rest_api_id: Some(rest_api_id),
        api_name: row.api_name.clone(),
        stage: row.stage.clone(),
        chalice_stage: Some(chalice_stage.to_string()),
    };
    EditSession::new(target, local, local_path, live, true).unwrap()
}

/// Plans the session's save and runs every step, failing on the first failed step.
async fn save(session: &EditSession, inventory: &Inventory, gateway: &Gateway) {
    let proposed = session.proposed_document().unwrap();
    let target = &session.target;
    let input = PlanInput {
        project: inventory.project.as_ref(),
        chalice_stage: target.chalice_stage.as_deref(),
        rest_api_id: target.rest_api_id.as_deref(),
        stage: &target.stage,
        api: &target.api,
        proposed: proposed.as_ref(),
        local_text: session.local.as_ref().map(|file| file.text.as_str()),
        local: session.local.as_ref().map(|file| &file.document),
        live: session.live.as_ref(),
        online: true,
        own_file: false,
        description: session.deployment_description(),
    };
    let plan = plan_save(&input).unwrap();
    assert!(!plan.is_empty(), "nothing to save for {}", target.title());

    for step in &plan.steps {
        let status = match run_step(step, Some(gateway)).await {
            Ok(detail) => StepStatus::Done(detail),
            Err(error) => StepStatus::Failed(error),
        };
        assert!(
            matches!(status, StepStatus::Done(_)),
            "{}: {status:?}",
            step.describe(None)
        );
    }
}

/// Runs `chalice package --stage STAGE OUT_DIR` in the project and returns the resource policy
/// of the REST API in the SAM template it writes.
fn chalice_package_policy(
    tools: &PythonTools,
    project_dir: &Path,
    home: &Path,
    stage: &str,
) -> Option<Value> {
    let out_dir = home.join(format!("package-{stage}"));
    let output = Command::new(tools.chalice())
        .arg("package")
        .arg("--stage")
        .arg(stage)
        .arg(&out_dir)
        .current_dir(project_dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chalice package --stage {stage} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    let template: Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("sam.json")).unwrap()).unwrap();
    let body = &template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"];
    assert!(body.is_object(), "sam.json has no RestAPI DefinitionBody");
    body.get("x-amazon-apigateway-policy").cloned()
}

#[tokio::test]
async fn chalice_package_matches_live_policy() {
    let tools = PythonTools::ensure().unwrap();
    let server = start_moto();
    let gateway = server.gateway();
    let temp = tempfile::tempdir().unwrap();
    let project_dir = temp.path().join("app");
    let home = temp.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let sample = deploy_sample(&server.client(), &project_dir).await.unwrap();

    // prod: an edit of its existing policy file.
    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut prod = open_session(&inventory, "prod");
    prod.add("2001:db8:7::/48").unwrap();
    prod.delete(0).unwrap();
    save(&prod, &inventory, &gateway).await;

    // dev: a new policy file and its config.json key.
    let inventory = load_inventory(&project_dir, &gateway).await;
    let mut dev = open_session(&inventory, "dev");
    assert!(dev.local.is_none());
    dev.add("192.0.2.0/24").unwrap();
    dev.add("198.51.100.7").unwrap();
    save(&dev, &inventory, &gateway).await;

    // Each stage with an entry that only ipgate's save put there.
    for (stage, added) in [("prod", "2001:db8:7::/48"), ("dev", "198.51.100.7/32")] {
        let rest_api_id = sample.api_for(stage).unwrap();
        let api = ApiContext {
            region: Some(REGION.to_string()),
            account: None,
            api_id: Some(rest_api_id.to_string()),
        };
        let raw = gateway.get_rest_api(rest_api_id).await.unwrap().policy;
        let live = decode_live_policy(raw.as_deref()).unwrap();
        assert!(live.is_some(), "stage {stage} has no live policy");

        let packaged = chalice_package_policy(&tools, &project_dir, &home, stage);
        let packaged_text = packaged.as_ref().map(Value::to_string).unwrap_or_default();
        assert!(
            packaged_text.contains(added),
            "stage {stage}: {packaged_text}"
        );
        assert!(
            same_meaning(packaged.as_ref(), live.as_ref(), &api),
            "stage {stage}: chalice package would deploy {packaged:?}, but the live policy is {live:?}"
        );
    }
}
