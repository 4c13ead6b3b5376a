//! Batch apply of a named-set change against moto's API Gateway on 127.0.0.1: the engine through
//! the library, and `ipgate set ...` through the real binary.
//!
//! The fixture is the sample project (REST APIs of Chalice stages `dev` and `prod`) plus the
//! sample's `partners-api`, a REST API with stages `v1` and `v2` that share one statement. Set
//! `office` starts as `203.0.113.0/24`, and every one of those four stages includes it and has it
//! in its allowlist. Each test starts its own moto server and works in its own temporary copy.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use ipgate::aws::{AwsWait, Gateway, WaitReason};
use ipgate::batch::{
    BatchControl, BatchEvent, BatchOptions, Journal, SetChange, StageOutcome, StageState,
    plan_batch, plan_batch_with, resume_plan, run_batch, run_batch_with,
};
use ipgate::core::chalice::load_project;
use ipgate::core::live::decode_live_policy;
use ipgate::core::policy::{StageAccess, stage_access, to_minified};
use ipgate::core::resource::ApiContext;
use ipgate::core::sets::{self, IpgateConfig};
use ipgate::demo::{SampleDeployment, deploy_sample};
use ipgate::emulator::{MotoServer, REGION};
use ipgate::history::HistoryStore;
use ipgate::model::{Connection, Inventory, load_inventory};
use ipgate::save::Step;

const OFFICE_BEFORE: &str = "203.0.113.0/24";
const OFFICE_HALF: &str = "203.0.113.128/25";
const OFFICE_HOST: &str = "192.0.2.44/32";

/// The partners API's own entries, beside the office set.
const PARTNERS_OWN: [&str; 2] = ["192.0.2.0/24", "2001:db8:1234::/48"];

/// Replace the office network with its upper half and add one address.
fn office_change() -> SetChange {
    SetChange {
        set: "office".to_string(),
        added: vec![OFFICE_HALF.to_string(), OFFICE_HOST.to_string()],
        removed: vec![OFFICE_BEFORE.to_string()],
    }
}

/// Builds shape B on every stage with `cidrs`, as a Chalice policy file contains it.
fn deny_unless(cidrs: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": cidrs}}}
    ]})
}

/// Builds shape A on every stage with `cidrs`, as a console policy often looks.
fn allow_if(cidrs: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": cidrs}}}
    ]})
}

fn pretty(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap();
    text.push('\n');
    text
}

/// Returns the allowlist a document gives `stage`, sorted, for comparisons that ignore order.
fn allowlist(document: Option<&Value>, stage: &str) -> Vec<String> {
    match stage_access(document, stage, &ApiContext::default()).unwrap() {
        StageAccess::Allowlist(allowlist) => {
            let mut cidrs = allowlist.cidrs;
            cidrs.sort();
            cidrs
        }
        other => panic!("stage {stage} has no allowlist: {other:?}"),
    }
}

fn sorted(cidrs: &[&str]) -> Vec<String> {
    let mut cidrs: Vec<String> = cidrs.iter().map(|cidr| cidr.to_string()).collect();
    cidrs.sort();
    cidrs
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// One deployment as moto lists it.
#[derive(Debug, Clone)]
struct Deployment {
    description: String,
    created: Option<i64>,
}

/// The sample deployed to a moto server of its own, with office in four stages.
struct Fixture {
    server: MotoServer,
    deployment: SampleDeployment,
    temp: TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let server = common::start_moto();
        let temp = tempfile::Builder::new()
            .prefix("ipgate-batch-")
            .tempdir()
            .unwrap();
        let deployment = deploy_sample(&server.client(), &temp.path().join("project"))
            .await
            .unwrap();
        let fixture = Fixture {
            server,
            deployment,
            temp,
        };
        fixture.give_dev_the_office().await;
        fixture
            .put_live(
                &fixture.partners(),
                &allow_if(&[PARTNERS_OWN[0], PARTNERS_OWN[1], OFFICE_BEFORE]),
            )
            .await;
        fixture.write_sets(&[
            "prod",
            "dev",
            &fixture.partners_key("v1"),
            &fixture.partners_key("v2"),
        ]);
        fs::create_dir_all(fixture.temp.path().join("home")).unwrap();
        fixture
    }

    /// Gives dev a policy file, and the same live policy, that allow the office only.
    async fn give_dev_the_office(&self) {
        let chalice_dir = self.project_dir().join(".chalice");
        let config = json!({
            "version": "2.0",
            "app_name": "ipgate-sample",
            "stages": {
                "dev": {"api_gateway_stage": "api", "api_gateway_policy_file": "apigw-policy-dev.json"},
                "prod": {"api_gateway_stage": "api", "api_gateway_policy_file": "apigw-policy-prod.json"}
            }
        });
        fs::write(chalice_dir.join("config.json"), pretty(&config)).unwrap();
        let document = deny_unless(&[OFFICE_BEFORE]);
        fs::write(chalice_dir.join("apigw-policy-dev.json"), pretty(&document)).unwrap();
        self.put_live(&self.api("dev"), &document).await;
    }

    /// Writes `.chalice/ipgate.json` with set office included by `stages`.
    fn write_sets(&self, stages: &[&str]) {
        let stage_map: serde_json::Map<String, Value> = stages
            .iter()
            .map(|stage| (stage.to_string(), json!({"sets": ["office"]})))
            .collect();
        let file = json!({
            "version": 1,
            "labels": {},
            "sets": {"office": {"description": "Office networks", "entries": [{"cidr": OFFICE_BEFORE}]}},
            "stages": stage_map
        });
        fs::write(self.sets_path(), pretty(&file)).unwrap();
    }

    async fn put_live(&self, rest_api_id: &str, document: &Value) {
        let replace = aws_sdk_apigateway::types::PatchOperation::builder()
            .op(aws_sdk_apigateway::types::Op::Replace)
            .path("/policy")
            .value(to_minified(document))
            .build();
        self.server
            .client()
            .update_rest_api()
            .rest_api_id(rest_api_id)
            .patch_operations(replace)
            .send()
            .await
            .unwrap();
    }

    /// Creates a deployment outside ipgate, as a crash after ipgate's own request would leave it.
    async fn deploy_by_hand(&self, rest_api_id: &str, stage: &str, description: &str) {
        self.server
            .client()
            .create_deployment()
            .rest_api_id(rest_api_id)
            .stage_name(stage)
            .description(description)
            .send()
            .await
            .unwrap();
    }

    fn project_dir(&self) -> &Path {
        &self.deployment.project_dir
    }

    fn sets_path(&self) -> PathBuf {
        sets::project_file_path(self.project_dir())
    }

    fn data_dir(&self) -> PathBuf {
        self.temp.path().join("data")
    }

    fn policy_file(&self, chalice_stage: &str) -> PathBuf {
        self.project_dir()
            .join(format!(".chalice/apigw-policy-{chalice_stage}.json"))
    }

    fn api(&self, chalice_stage: &str) -> String {
        self.deployment.api_for(chalice_stage).unwrap().to_string()
    }

    fn partners(&self) -> String {
        self.deployment.partners_api.clone()
    }

    fn partners_key(&self, stage: &str) -> String {
        format!("{}/{stage}", self.partners())
    }

    /// Loads the project and the account as the subcommands do, with history in this
    /// fixture's data directory.
    async fn inventory(&self, gateway: &Gateway) -> Inventory {
        let project = load_project(self.project_dir()).unwrap();
        let mut inventory = load_inventory(project, Some(gateway)).await.unwrap();
        inventory.history = Some(HistoryStore::at(self.data_dir()));
        inventory
    }

    fn sets(&self) -> IpgateConfig {
        sets::load(&self.sets_path()).unwrap().model
    }

    fn journal(&self, batch_id: &str) -> Journal {
        Journal::open(&self.data_dir(), batch_id)
    }

    async fn live(&self, rest_api_id: &str) -> Option<Value> {
        let summary = self
            .server
            .gateway()
            .get_rest_api(rest_api_id)
            .await
            .unwrap();
        decode_live_policy(summary.policy.as_deref()).unwrap()
    }

    async fn deployments(&self, rest_api_id: &str) -> Vec<Deployment> {
        let reply = self
            .server
            .client()
            .get_deployments()
            .rest_api_id(rest_api_id)
            .send()
            .await
            .unwrap();
        reply
            .items()
            .iter()
            .map(|deployment| Deployment {
                description: deployment.description().unwrap_or_default().to_string(),
                created: deployment.created_date().map(|date| date.secs()),
            })
            .collect()
    }

    /// Returns the deployment each stage serves, keyed as in ipgate.json.
    async fn served(&self) -> BTreeMap<String, String> {
        let mut served = BTreeMap::new();
        for (key, rest_api_id, stage) in self.stages() {
            let stages = self
                .server
                .gateway()
                .get_stages(&rest_api_id)
                .await
                .unwrap();
            let found = stages
                .into_iter()
                .find(|found| found.name == stage)
                .unwrap();
            served.insert(key, found.deployment_id.unwrap());
        }
        served
    }

    /// Counts the deployments ipgate created for each stage, counted by their descriptions, which
    /// start with `ipgate: STAGE `.
    async fn ipgate_deployments(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (key, rest_api_id, stage) in self.stages() {
            let name = if key.contains('/') {
                stage.clone()
            } else {
                key.clone()
            };
            let prefix = format!("ipgate: {name} ");
            let count = self
                .deployments(&rest_api_id)
                .await
                .iter()
                .filter(|deployment| deployment.description.starts_with(&prefix))
                .count();
            counts.insert(key, count);
        }
        counts
    }

    /// (key, REST API id, API Gateway stage) of the four including stages.
    fn stages(&self) -> Vec<(String, String, String)> {
        vec![
            ("prod".to_string(), self.api("prod"), "api".to_string()),
            ("dev".to_string(), self.api("dev"), "api".to_string()),
            (self.partners_key("v1"), self.partners(), "v1".to_string()),
            (self.partners_key("v2"), self.partners(), "v2".to_string()),
        ]
    }

    /// Checks that every stage has the changed office set, in its file and live.
    async fn assert_changed_everywhere(&self) {
        let prod_expected = sorted(&["198.51.100.17/32", OFFICE_HALF, OFFICE_HOST]);
        let dev_expected = sorted(&[OFFICE_HALF, OFFICE_HOST]);
        let partners_expected =
            sorted(&[PARTNERS_OWN[0], PARTNERS_OWN[1], OFFICE_HALF, OFFICE_HOST]);

        let prod_file = read_json(&self.policy_file("prod"));
        assert_eq!(
            allowlist(Some(&prod_file), "api"),
            prod_expected,
            "prod file"
        );
        let dev_file = read_json(&self.policy_file("dev"));
        assert_eq!(allowlist(Some(&dev_file), "api"), dev_expected, "dev file");

        let prod_live = self.live(&self.api("prod")).await;
        assert_eq!(
            allowlist(prod_live.as_ref(), "api"),
            prod_expected,
            "prod live"
        );
        let dev_live = self.live(&self.api("dev")).await;
        assert_eq!(
            allowlist(dev_live.as_ref(), "api"),
            dev_expected,
            "dev live"
        );
        let partners_live = self.live(&self.partners()).await;
        for stage in ["v1", "v2"] {
            assert_eq!(
                allowlist(partners_live.as_ref(), stage),
                partners_expected,
                "partners {stage} live"
            );
        }
    }
}

fn step_kinds(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .map(|step| match step {
            Step::WritePolicyFile { .. } => "write_file",
            Step::SetPolicyFileKey { .. } => "set_key",
            Step::UpdatePolicy { .. } => "update_policy",
            Step::CreateDeployment { .. } => "deploy",
        })
        .collect()
}

fn pacing_waits(waits: &mut UnboundedReceiver<AwsWait>) -> Vec<AwsWait> {
    let mut pacing = Vec::new();
    while let Ok(wait) = waits.try_recv() {
        if wait.reason == WaitReason::Pacing {
            pacing.push(wait);
        }
    }
    pacing
}

#[tokio::test]
async fn set_change_reaches_every_stage_once() {
    let fixture = Fixture::new().await;
    let (wait_sender, mut waits) = unbounded_channel();
    let gateway = fixture.server.gateway().with_wait_observer(wait_sender);
    let inventory = fixture.inventory(&gateway).await;
    let served_before = fixture.served().await;
    let partners_before = fixture.deployments(&fixture.partners()).await.len();

    let plan = plan_batch(
        &inventory,
        &fixture.sets(),
        &office_change(),
        Some(fixture.project_dir()),
    )
    .unwrap();
    let keys: Vec<&str> = plan.stages.iter().map(|stage| stage.key.as_str()).collect();
    let v1 = fixture.partners_key("v1");
    let v2 = fixture.partners_key("v2");
    assert_eq!(keys, ["prod", "dev", v1.as_str(), v2.as_str()]);
    let kinds: Vec<Vec<&str>> = plan
        .stages
        .iter()
        .map(|stage| step_kinds(&stage.steps))
        .collect();
    assert_eq!(kinds[0], ["write_file", "update_policy", "deploy"], "prod");
    assert_eq!(kinds[1], ["write_file", "update_policy", "deploy"], "dev");
    assert_eq!(
        kinds[2],
        ["update_policy", "deploy"],
        "v1 edits the shared statement"
    );
    assert_eq!(kinds[3], ["deploy"], "v2 only serves what v1 wrote");
    assert_eq!(plan.deployments(), 4);
    assert!(
        plan.stages[0]
            .diff
            .iter()
            .any(|line| matches!(line, ipgate::core::diff::DiffLine::Added(text) if text.contains(OFFICE_HALF))),
        "{:?}",
        plan.stages[0].diff
    );
    assert!(
        plan.stages[3].diff.iter().any(|line| matches!(line, ipgate::core::diff::DiffLine::Removed(text) if text.contains(OFFICE_BEFORE))),
        "v2's diff shows the policy change it will serve: {:?}",
        plan.stages[3].diff
    );

    let mut events = Vec::new();
    let history = HistoryStore::at(fixture.data_dir());
    let mut journal = fixture.journal(&plan.id);
    let summary = run_batch(
        &plan,
        Some(&gateway),
        Some(&history),
        &mut journal,
        |event| events.push(event),
    )
    .await;

    assert!(summary.is_complete(), "{summary}");
    assert_eq!(summary.applied.len(), 4, "{summary}");
    assert!(
        summary.applied.iter().all(|(_, id)| id.is_some()),
        "{summary}"
    );
    let report = summary.to_string();
    assert!(report.contains("Applied: 4 stages"), "{report}");
    assert!(report.contains(&plan.id), "{report}");
    fixture.assert_changed_everywhere().await;

    // Each stage was redeployed exactly once, to a deployment of its own.
    let counts = fixture.ipgate_deployments().await;
    assert!(counts.values().all(|count| *count == 1), "{counts:?}");
    assert_eq!(
        fixture.deployments(&fixture.partners()).await.len(),
        partners_before + 2
    );
    let served_after = fixture.served().await;
    for (key, before) in &served_before {
        assert_ne!(
            &served_after[key], before,
            "stage {key} serves a new deployment"
        );
    }
    assert_ne!(served_after[&v1], served_after[&v2]);

    // Four CreateDeployment requests, one every 5 s: three waits for the pacer.
    let pacing = pacing_waits(&mut waits);
    assert_eq!(pacing.len(), 3, "{pacing:?}");
    for wait in &pacing {
        assert_eq!(wait.operation, "CreateDeployment");
        assert!(wait.delay <= Duration::from_secs(5), "{wait:?}");
    }

    // moto's creation dates, in whole seconds, show the same spacing.
    let mut created = Vec::new();
    for rest_api_id in [fixture.api("prod"), fixture.api("dev"), fixture.partners()] {
        let deployments = fixture.deployments(&rest_api_id).await;
        created.extend(
            deployments
                .iter()
                .filter(|deployment| deployment.description.starts_with("ipgate: "))
                .filter_map(|deployment| deployment.created),
        );
    }
    created.sort();
    assert_eq!(created.len(), 4, "{created:?}");
    for pair in created.windows(2) {
        assert!(pair[1] - pair[0] >= 4, "deployments created at {created:?}");
    }

    // Events: progress first, then each stage in order, and the summary last.
    assert!(
        matches!(
            events.first(),
            Some(BatchEvent::Progress {
                done: 0,
                total: 4,
                ..
            })
        ),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(BatchEvent::Finished(_))),
        "{events:?}"
    );
    let finished: Vec<usize> = events
        .iter()
        .filter_map(|event| match event {
            BatchEvent::StageFinished {
                index,
                outcome: StageOutcome::Applied { .. },
            } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(finished, [0, 1, 2, 3]);
    let steps_done = events
        .iter()
        .filter(|event| matches!(event, BatchEvent::StepFinished { result: Ok(_), .. }))
        .count();
    assert_eq!(steps_done, 9);

    // The journal records a finished batch, and history the policies that were replaced.
    assert!(Journal::unfinished(&fixture.data_dir()).unwrap().is_empty());
    let recorded = Journal::load(&fixture.data_dir(), &plan.id).unwrap();
    assert!(recorded.is_finished());
    assert!(
        recorded.stages.iter().all(|stage| matches!(
            stage.state,
            StageState::Applied {
                deployment_id: Some(_)
            }
        )),
        "{recorded:#?}"
    );
    let versions = history
        .versions(Some(REGION), &fixture.partners(), "v1")
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert!(
        versions[0].reason.contains(&plan.id),
        "{}",
        versions[0].reason
    );
    assert_eq!(history.audit_records().unwrap().len(), 4);
}

#[tokio::test]
async fn interrupted_batch_resumes_remaining_stages() {
    let fixture = Fixture::new().await;
    let gateway = fixture.server.gateway();
    let inventory = fixture.inventory(&gateway).await;
    let history = HistoryStore::at(fixture.data_dir());

    let plan = plan_batch(&inventory, &fixture.sets(), &office_change(), None).unwrap();
    let mut journal = fixture.journal(&plan.id);
    let control = BatchControl::new();
    let summary = run_batch_with(
        &plan,
        Some(&gateway),
        Some(&history),
        &mut journal,
        &control,
        |event| {
            if matches!(event, BatchEvent::StageFinished { .. }) {
                control.request_stop();
            }
        },
    )
    .await;
    assert_eq!(summary.applied.len(), 1, "{summary}");
    assert_eq!(summary.not_run.len(), 3, "{summary}");
    assert!(!summary.is_complete());
    let counts = fixture.ipgate_deployments().await;
    assert_eq!(counts["prod"], 1, "{counts:?}");
    assert_eq!(counts["dev"], 0, "{counts:?}");

    let unfinished = Journal::unfinished(&fixture.data_dir()).unwrap();
    assert_eq!(unfinished.len(), 1);
    let batch = &unfinished[0];
    assert_eq!(batch.id, plan.id);
    assert_eq!(batch.change, office_change());
    let v1 = fixture.partners_key("v1");
    let v2 = fixture.partners_key("v2");
    assert_eq!(batch.remaining(), ["dev", v1.as_str(), v2.as_str()]);
    assert!(!batch.running);

    // Resume from what the account and the files hold now.
    let inventory = fixture.inventory(&gateway).await;
    let resumed = resume_plan(batch, &inventory, None).unwrap();
    assert_eq!(resumed.id, plan.id);
    assert!(resumed.resumed);
    let keys: Vec<&str> = resumed
        .stages
        .iter()
        .map(|stage| stage.key.as_str())
        .collect();
    assert_eq!(keys, ["dev", v1.as_str(), v2.as_str()]);

    let mut journal = fixture.journal(&resumed.id);
    let summary = run_batch(
        &resumed,
        Some(&gateway),
        Some(&history),
        &mut journal,
        |_| {},
    )
    .await;
    assert!(summary.is_complete(), "{summary}");
    assert_eq!(summary.applied.len(), 3, "{summary}");

    fixture.assert_changed_everywhere().await;
    let counts = fixture.ipgate_deployments().await;
    assert!(
        counts.values().all(|count| *count == 1),
        "no stage twice: {counts:?}"
    );
    assert!(Journal::unfinished(&fixture.data_dir()).unwrap().is_empty());
    let recorded = Journal::load(&fixture.data_dir(), &plan.id).unwrap();
    assert!(recorded.is_finished(), "{recorded:#?}");
}

#[tokio::test]
async fn dropped_run_resumes_mid_stage() {
    let fixture = Fixture::new().await;
    let gateway = fixture.server.gateway();
    let inventory = fixture.inventory(&gateway).await;
    let history = HistoryStore::at(fixture.data_dir());
    let plan = plan_batch(&inventory, &fixture.sets(), &office_change(), None).unwrap();

    // Drop the run at its first await after prod finished, as a crash or a killed process
    // would stop it: dev's policy file is written by then, and its live policy is not.
    let (stop_sender, stop) = tokio::sync::oneshot::channel::<()>();
    let mut stop_sender = Some(stop_sender);
    let mut journal = fixture.journal(&plan.id);
    {
        let run = run_batch(
            &plan,
            Some(&gateway),
            Some(&history),
            &mut journal,
            |event| {
                if matches!(event, BatchEvent::StageFinished { .. })
                    && let Some(sender) = stop_sender.take()
                {
                    let _ = sender.send(());
                }
            },
        );
        tokio::select! {
            biased;
            _ = stop => {}
            _ = run => panic!("the run finished before it was dropped"),
        }
    }
    // A dead process releases its lock on the journal; so does dropping the journal.
    drop(journal);

    let batch = Journal::load(&fixture.data_dir(), &plan.id).unwrap();
    assert!(
        matches!(batch.stages[0].state, StageState::Applied { .. }),
        "{batch:#?}"
    );
    assert_eq!(batch.stages[1].state, StageState::Started, "{batch:#?}");
    assert_eq!(batch.stages[2].state, StageState::Pending, "{batch:#?}");
    let dev_file = read_json(&fixture.policy_file("dev"));
    assert_eq!(
        allowlist(Some(&dev_file), "api"),
        sorted(&[OFFICE_HALF, OFFICE_HOST])
    );
    let dev_live = fixture.live(&fixture.api("dev")).await;
    assert_eq!(allowlist(dev_live.as_ref(), "api"), [OFFICE_BEFORE]);

    let inventory = fixture.inventory(&gateway).await;
    let resumed = resume_plan(&batch, &inventory, None).unwrap();
    let kinds: Vec<Vec<&str>> = resumed
        .stages
        .iter()
        .map(|stage| step_kinds(&stage.steps))
        .collect();
    assert_eq!(
        kinds[0],
        ["update_policy", "deploy"],
        "dev's file is written already"
    );
    assert_eq!(kinds[1], ["update_policy", "deploy"]);
    assert_eq!(kinds[2], ["deploy"]);

    let mut journal = fixture.journal(&resumed.id);
    let summary = run_batch(
        &resumed,
        Some(&gateway),
        Some(&history),
        &mut journal,
        |_| {},
    )
    .await;
    assert!(summary.is_complete(), "{summary}");
    fixture.assert_changed_everywhere().await;
    let counts = fixture.ipgate_deployments().await;
    assert!(counts.values().all(|count| *count == 1), "{counts:?}");
}

#[tokio::test]
async fn resume_records_stage_already_changed_as_done() {
    let fixture = Fixture::new().await;
    let gateway = fixture.server.gateway();
    let inventory = fixture.inventory(&gateway).await;
    let history = HistoryStore::at(fixture.data_dir());

    let plan = plan_batch(&inventory, &fixture.sets(), &office_change(), None).unwrap();
    let mut journal = fixture.journal(&plan.id);
    let control = BatchControl::new();
    run_batch_with(
        &plan,
        Some(&gateway),
        Some(&history),
        &mut journal,
        &control,
        |event| {
            if matches!(event, BatchEvent::StageFinished { .. }) {
                control.request_stop();
            }
        },
    )
    .await;

    // What a crash after the writes and before the journal lines leaves behind: dev's file,
    // live policy and deployment are changed, and the partners policy is changed but neither of
    // its stages is redeployed.
    let dev_step = &plan.stages[1];
    for step in &dev_step.steps {
        if let Step::WritePolicyFile { path, contents, .. } = step {
            fs::write(path, contents).unwrap();
        }
    }
    let dev_after = read_json(&fixture.policy_file("dev"));
    fixture.put_live(&fixture.api("dev"), &dev_after).await;
    fixture
        .deploy_by_hand(
            &fixture.api("dev"),
            "api",
            "ipgate: dev set office (crashed run)",
        )
        .await;
    let partners_after = allow_if(&[PARTNERS_OWN[0], PARTNERS_OWN[1], OFFICE_HALF, OFFICE_HOST]);
    fixture.put_live(&fixture.partners(), &partners_after).await;
    let served_before_resume = fixture.served().await;

    let inventory = fixture.inventory(&gateway).await;
    let batch = Journal::load(&fixture.data_dir(), &plan.id).unwrap();
    let resumed = resume_plan(&batch, &inventory, None).unwrap();
    let kinds: Vec<Vec<&str>> = resumed
        .stages
        .iter()
        .map(|stage| step_kinds(&stage.steps))
        .collect();
    assert_eq!(
        kinds[0],
        Vec::<&str>::new(),
        "dev is done: {:?}",
        resumed.stages[0].note
    );
    assert_eq!(
        kinds[1],
        ["deploy"],
        "v1 has the policy but not the deployment"
    );
    assert_eq!(kinds[2], ["deploy"]);
    assert!(
        resumed.stages[0]
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("already applied"),
        "{:?}",
        resumed.stages[0].note
    );

    let mut journal = fixture.journal(&resumed.id);
    let summary = run_batch(
        &resumed,
        Some(&gateway),
        Some(&history),
        &mut journal,
        |_| {},
    )
    .await;
    assert!(summary.is_complete(), "{summary}");
    assert_eq!(summary.skipped.len(), 1, "{summary}");
    assert_eq!(summary.skipped[0].0, "dev");
    assert_eq!(summary.applied.len(), 2, "{summary}");

    fixture.assert_changed_everywhere().await;
    let served_after = fixture.served().await;
    assert_eq!(
        served_after["dev"], served_before_resume["dev"],
        "dev was not redeployed"
    );
    assert_eq!(
        fixture.deployments(&fixture.api("dev")).await.len(),
        2,
        "dev: the seed deployment and the one of the crashed run"
    );
    let counts = fixture.ipgate_deployments().await;
    assert!(counts.values().all(|count| *count == 1), "{counts:?}");

    let recorded = Journal::load(&fixture.data_dir(), &plan.id).unwrap();
    assert!(recorded.is_finished());
    assert!(
        matches!(recorded.stages[1].state, StageState::Skipped(_)),
        "{recorded:#?}"
    );
}

#[tokio::test]
async fn plan_warns_of_unrelated_drift() {
    let fixture = Fixture::new().await;
    // prod's file has an entry its live policy lacks.
    let prod_file = deny_unless(&[OFFICE_BEFORE, "198.51.100.17/32", "198.51.100.99/32"]);
    fs::write(fixture.policy_file("prod"), pretty(&prod_file)).unwrap();
    let gateway = fixture.server.gateway();
    let inventory = fixture.inventory(&gateway).await;

    let plan = plan_batch(&inventory, &fixture.sets(), &office_change(), None).unwrap();
    let drift = |index: usize| {
        plan.stages[index]
            .warnings
            .iter()
            .any(|warning| warning.contains("differ beyond this change"))
    };
    assert!(drift(0), "prod: {:?}", plan.stages[0].warnings);
    assert!(!drift(1), "dev: {:?}", plan.stages[1].warnings);
    assert!(plan.stages[0].lockout.is_none());

    // The address about to leave the set would lose access to every stage.
    let options = BatchOptions {
        allow_unrestricted: false,
        my_ip: Some("203.0.113.5".parse().unwrap()),
    };
    let plan = plan_batch_with(
        &inventory,
        &fixture.sets(),
        &office_change(),
        None,
        &options,
    )
    .unwrap();
    for stage in &plan.stages {
        assert!(stage.lockout.is_some(), "{}: no lockout", stage.key);
    }
}

/// Writes a project with three Chalice stages and no REST APIs, and loads it without AWS.
fn local_project(temp: &Path) -> Inventory {
    let chalice_dir = temp.join(".chalice");
    fs::create_dir_all(&chalice_dir).unwrap();
    let config = json!({
        "version": "2.0",
        "app_name": "local-app",
        "stages": {
            "dev": {"api_gateway_stage": "api"},
            "staging": {"api_gateway_stage": "api"},
            "qa": {"api_gateway_stage": "api", "api_gateway_policy_file": "apigw-policy-qa.json"}
        }
    });
    fs::write(chalice_dir.join("config.json"), pretty(&config)).unwrap();
    fs::write(
        chalice_dir.join("apigw-policy-qa.json"),
        pretty(&deny_unless(&[OFFICE_BEFORE])),
    )
    .unwrap();

    let project = load_project(temp).unwrap();
    let mut inventory = Inventory::new(project, None);
    inventory.connection = Connection::LocalOnly {
        reason: "no region".to_string(),
    };
    inventory
}

fn local_sets() -> IpgateConfig {
    let mut config = IpgateConfig::default();
    config
        .upsert_set(
            "office",
            vec![sets::SetEntry {
                cidr: OFFICE_BEFORE.to_string(),
                label: None,
            }],
        )
        .unwrap();
    for stage in ["dev", "staging", "qa"] {
        config.include_set(stage, "office").unwrap();
    }
    config
}

#[tokio::test]
async fn stages_without_files_chain_config_edits() {
    let temp = tempfile::tempdir().unwrap();
    let inventory = local_project(temp.path());
    let change = SetChange {
        set: "office".to_string(),
        added: vec![OFFICE_BEFORE.to_string()],
        removed: Vec::new(),
    };

    let plan = plan_batch(&inventory, &local_sets(), &change, Some(temp.path())).unwrap();
    let kinds: Vec<Vec<&str>> = plan
        .stages
        .iter()
        .map(|stage| step_kinds(&stage.steps))
        .collect();
    assert_eq!(
        kinds,
        [
            vec!["write_file", "set_key"],
            vec!["write_file", "set_key"],
            vec![]
        ]
    );
    assert_eq!(plan.stages[2].note.as_deref(), Some("already up to date"));
    assert!(
        plan.stages[0]
            .note
            .as_deref()
            .unwrap()
            .contains("local file only")
    );
    assert!(
        plan.stages[0]
            .warnings
            .iter()
            .any(|warning| warning.contains("open to everyone now")),
        "{:?}",
        plan.stages[0].warnings
    );
    // The second key edit expects config.json as the first one leaves it.
    let (Step::SetPolicyFileKey { new_text, .. }, Step::SetPolicyFileKey { expected, .. }) =
        (&plan.stages[0].steps[1], &plan.stages[1].steps[1])
    else {
        panic!("no key steps");
    };
    assert_eq!(new_text, expected);

    let data = temp.path().join("data");
    let mut journal = Journal::open(&data, &plan.id);
    let summary = run_batch(&plan, None, None, &mut journal, |_| {}).await;
    assert!(summary.is_complete(), "{summary}");
    assert_eq!(
        summary.applied,
        [("dev".to_string(), None), ("staging".to_string(), None)]
    );
    assert_eq!(summary.skipped.len(), 1);

    let config = read_json(&temp.path().join(".chalice/config.json"));
    for stage in ["dev", "staging"] {
        assert_eq!(
            config["stages"][stage]["api_gateway_policy_file"],
            format!("apigw-policy-{stage}.json")
        );
        let file = read_json(
            &temp
                .path()
                .join(format!(".chalice/apigw-policy-{stage}.json")),
        );
        assert_eq!(allowlist(Some(&file), "api"), [OFFICE_BEFORE]);
    }
}

#[tokio::test]
async fn emptying_allowlists_blocks_stages() {
    let temp = tempfile::tempdir().unwrap();
    let inventory = local_project(temp.path());
    let change = SetChange {
        set: "office".to_string(),
        added: Vec::new(),
        removed: vec![OFFICE_BEFORE.to_string()],
    };

    let plan = plan_batch(&inventory, &local_sets(), &change, None).unwrap();
    let qa = &plan.stages[2];
    assert!(qa.steps.is_empty());
    assert!(
        qa.blocked
            .as_deref()
            .unwrap()
            .contains("leaves the allowlist empty"),
        "{:?}",
        qa.blocked
    );
    assert!(
        plan.stages[0].blocked.is_none(),
        "dev is open and has nothing to remove"
    );
    assert!(plan.is_empty());

    let data = temp.path().join("data");
    let mut journal = Journal::open(&data, &plan.id);
    let summary = run_batch(&plan, None, None, &mut journal, |_| {}).await;
    assert_eq!(summary.failed.len(), 1, "{summary}");
    assert_eq!(summary.failed[0].0, "qa");
    let unfinished = Journal::unfinished(&data).unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].remaining(), ["qa"]);
}

#[tokio::test]
async fn unknown_set_and_unrestricted_entry() {
    let temp = tempfile::tempdir().unwrap();
    let inventory = local_project(temp.path());

    let mut change = office_change();
    change.set = "ofice".to_string();
    let error = plan_batch(&inventory, &local_sets(), &change, None).unwrap_err();
    assert!(error.contains("set 'ofice' is not defined"), "{error}");
    assert!(error.contains("did you mean 'office'?"), "{error}");

    let change = SetChange {
        set: "office".to_string(),
        added: vec!["0.0.0.0/0".to_string()],
        removed: Vec::new(),
    };
    let plan = plan_batch(&inventory, &local_sets(), &change, None).unwrap();
    let qa = &plan.stages[2];
    assert!(
        qa.blocked.as_deref().unwrap().contains("0.0.0.0/0"),
        "{:?}",
        qa.blocked
    );
    let options = BatchOptions {
        allow_unrestricted: true,
        my_ip: None,
    };
    let plan = plan_batch_with(&inventory, &local_sets(), &change, None, &options).unwrap();
    assert!(
        plan.stages[2].blocked.is_none(),
        "{:?}",
        plan.stages[2].blocked
    );
    assert_eq!(step_kinds(&plan.stages[2].steps), ["write_file"]);
}

// ---------------------------------------------------------------------------------------------
// `ipgate set ...` through the real binary
// ---------------------------------------------------------------------------------------------

/// What one run of the binary returned.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
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

/// The fixture with a runtime of its own, for tests that run the binary.
struct Cli {
    fixture: Fixture,
    runtime: tokio::runtime::Runtime,
}

impl Cli {
    fn new() -> Cli {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fixture = runtime.block_on(Fixture::new());
        Cli { fixture, runtime }
    }

    /// Runs `ipgate ARGS --project <copy> --no-my-ip` with dummy credentials, a temporary HOME,
    /// data and config directory, and standard input that is not a terminal.
    fn run(&self, args: &[&str]) -> Run {
        let temp = self.fixture.temp.path();
        let output = Command::new(env!("CARGO_BIN_EXE_ipgate"))
            .args(args)
            .arg("--project")
            .arg(self.fixture.project_dir())
            .arg("--no-my-ip")
            .current_dir(temp)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", temp.join("home"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", self.fixture.server.endpoint())
            .env("IPGATE_DATA_DIR", self.fixture.data_dir())
            .env("IPGATE_CONFIG_DIR", temp.join("config"))
            .env("IPGATE_LOG_DIR", temp.join("logs"))
            .stdin(Stdio::null())
            .output()
            .expect("run the ipgate binary");
        Run {
            code: output.status.code().expect("ipgate exited with a code"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        self.runtime.block_on(self.fixture.ipgate_deployments())
    }

    fn live(&self, rest_api_id: &str) -> Option<Value> {
        self.runtime.block_on(self.fixture.live(rest_api_id))
    }
}

#[test]
fn set_file_commands() {
    let cli = Cli::new();
    let sets_path = cli.fixture.sets_path();

    let run = cli.run(&[
        "set",
        "create",
        "vpn",
        "--description",
        "Remote access",
        "-o",
        "json",
    ]);
    run.assert_code(0);
    let created = run.json();
    assert_eq!(created["written"], true);
    assert_eq!(created["set"]["name"], "vpn");
    assert_eq!(created["set"]["description"], "Remote access");
    assert_eq!(created["file"], sets_path.display().to_string());

    let run = cli.run(&[
        "set",
        "add",
        "vpn",
        "198.51.100.0/24",
        "2001:DB8::1",
        "--label",
        "VPN",
        "-o",
        "json",
    ]);
    run.assert_code(0);
    let added = run.json();
    let cidrs: Vec<&str> = added["set"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["cidr"].as_str().unwrap())
        .collect();
    assert_eq!(cidrs, ["198.51.100.0/24", "2001:db8::1/128"]);
    assert_eq!(added["set"]["entries"][0]["label"], "VPN");

    let run = cli.run(&["set", "include", "prod", "vpn"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("`ipgate set apply vpn`"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["set", "include", "nosuch", "vpn"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("no Chalice stage is named 'nosuch'"),
        "{}",
        run.stderr
    );

    let run = cli.run(&["set", "show", "vpn", "-o", "json"]);
    run.assert_code(0);
    let set = run.json();
    assert_eq!(set["origin"], "project");
    assert_eq!(set["stages"], json!(["prod"]));

    let run = cli.run(&["set", "label", "203.0.113.0/24", "Amsterdam office"]);
    run.assert_code(0);
    let run = cli.run(&["set", "list", "-o", "json"]);
    run.assert_code(0);
    let list = run.json();
    let names: Vec<&str> = list["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| set["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["office", "vpn"]);
    assert_eq!(list["sets"][0]["entries"][0]["label"], "Amsterdam office");
    assert_eq!(list["sets"][0]["stages"].as_array().unwrap().len(), 4);
    assert_eq!(list["labels"][0]["cidr"], "203.0.113.0/24");

    let run = cli.run(&["set", "exclude", "prod", "vpn"]);
    run.assert_code(0);
    let run = cli.run(&["set", "exclude", "prod", "vpn"]);
    run.assert_code(2);
    let run = cli.run(&["set", "remove", "vpn", "2001:db8::1", "-o", "json"]);
    run.assert_code(0);
    assert_eq!(run.json()["set"]["entries"].as_array().unwrap().len(), 1);
    let run = cli.run(&["set", "remove", "vpn", "192.0.2.1"]);
    run.assert_code(2);
    assert!(run.stderr.contains("is not in set vpn"), "{}", run.stderr);

    // Unknown names and invalid CIDRs are usage errors that name the file.
    let run = cli.run(&["set", "show", "ofice"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&sets_path.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean 'office'?"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["set", "add", "ofice", "192.0.2.1"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&sets_path.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean 'office'?"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["set", "add", "vpn", "192.0.2.300"]);
    run.assert_code(2);
    let run = cli.run(&["set", "add", "vpn", "192.0.2.77/24"]);
    run.assert_code(2);
    let run = cli.run(&["set", "apply", "ofice", "--yes"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("did you mean 'office'?"),
        "{}",
        run.stderr
    );

    // --personal writes the user file, which the merged list shows as personal.
    let run = cli.run(&["set", "create", "home", "--personal"]);
    run.assert_code(0);
    let run = cli.run(&["set", "add", "home", "192.0.2.9", "--personal"]);
    run.assert_code(0);
    let personal = read_json(&cli.fixture.temp.path().join("config/ipgate.json"));
    assert_eq!(
        personal["sets"]["home"]["entries"][0]["cidr"],
        "192.0.2.9/32"
    );
    let run = cli.run(&["set", "add", "home", "192.0.2.10"]);
    run.assert_code(2);
    assert!(run.stderr.contains("pass --personal"), "{}", run.stderr);
    let run = cli.run(&["set", "list", "-o", "json"]);
    let list = run.json();
    assert_eq!(list["sets"][2]["origin"], "personal");

    let run = cli.run(&["set", "create", "x", "--read-only"]);
    run.assert_code(2);
}

#[test]
fn set_add_apply_runs_batch() {
    let cli = Cli::new();
    let partners = cli.fixture.partners();
    cli.fixture
        .write_sets(&["prod", &cli.fixture.partners_key("v1")]);
    let sets_before = fs::read_to_string(cli.fixture.sets_path()).unwrap();

    // Without --yes nothing changes: not the set file, not the stages.
    let run = cli.run(&[
        "set",
        "add",
        "office",
        "192.0.2.44",
        "--apply",
        "-o",
        "json",
    ]);
    run.assert_code(2);
    let report = run.json();
    assert_eq!(report["batch"]["outcome"], "not_confirmed");
    assert_eq!(report["batch"]["deployments"], 2);
    assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(cli.fixture.sets_path()).unwrap(),
        sets_before
    );
    assert!(cli.counts().values().all(|count| *count == 0));

    let run = cli.run(&[
        "set",
        "add",
        "office",
        "192.0.2.44",
        "--apply",
        "--yes",
        "-o",
        "json",
    ]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["written"], true);
    let batch = &report["batch"];
    assert_eq!(batch["outcome"], "applied");
    assert_eq!(
        batch["summary"]["applied"].as_array().unwrap().len(),
        2,
        "{batch:#}"
    );
    assert_eq!(batch["change"]["added"], json!([OFFICE_HOST]));
    assert!(batch["journal"].as_str().unwrap().ends_with(".jsonl"));
    assert!(run.stderr.contains("Applied: 2 stages"), "{}", run.stderr);
    assert!(
        run.stderr.contains("stages, about"),
        "progress line: {}",
        run.stderr
    );

    let sets = read_json(&cli.fixture.sets_path());
    assert_eq!(sets["sets"]["office"]["entries"][1]["cidr"], OFFICE_HOST);
    let prod_live = cli.live(&cli.fixture.api("prod"));
    assert!(allowlist(prod_live.as_ref(), "api").contains(&OFFICE_HOST.to_string()));
    let partners_live = cli.live(&partners);
    assert!(allowlist(partners_live.as_ref(), "v1").contains(&OFFICE_HOST.to_string()));
    assert!(
        !allowlist(partners_live.as_ref(), "v2").contains(&OFFICE_HOST.to_string()),
        "v2 does not include the set and keeps its list"
    );
    let counts = cli.counts();
    assert_eq!(counts["prod"], 1, "{counts:?}");
    assert_eq!(counts[&cli.fixture.partners_key("v1")], 1, "{counts:?}");
    assert_eq!(counts[&cli.fixture.partners_key("v2")], 0, "{counts:?}");

    // Applying the set again finds nothing to do.
    let run = cli.run(&["set", "apply", "office", "--yes", "-o", "json"]);
    run.assert_code(0);
    assert_eq!(run.json()["batch"]["outcome"], "nothing_to_do");
    let run = cli.run(&[
        "set",
        "apply",
        "office",
        "--remove",
        "203.0.113.0/24",
        "--yes",
    ]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("is still in set office"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["set", "resume"]);
    run.assert_code(0);
    assert!(run.stderr.contains("No unfinished batch"), "{}", run.stderr);
}

/// Removes or restores the MOCK integration of `GET /`, without which moto rejects
/// CreateDeployment.
async fn set_integration(client: &aws_sdk_apigateway::Client, rest_api_id: &str, present: bool) {
    let resources = client
        .get_resources()
        .rest_api_id(rest_api_id)
        .send()
        .await
        .unwrap();
    let root = resources
        .items()
        .iter()
        .find(|resource| resource.path() == Some("/"))
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    if !present {
        client
            .delete_integration()
            .rest_api_id(rest_api_id)
            .resource_id(&root)
            .http_method("GET")
            .send()
            .await
            .unwrap();
        return;
    }
    client
        .put_integration()
        .rest_api_id(rest_api_id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 200}"#)
        .send()
        .await
        .unwrap();
}

#[test]
fn failed_stage_exits_4_and_resumes() {
    let cli = Cli::new();
    let partners = cli.fixture.partners();
    let client = cli.fixture.server.client();
    cli.runtime
        .block_on(set_integration(&client, &partners, false));

    let run = cli.run(&[
        "set",
        "remove",
        "office",
        OFFICE_BEFORE,
        "--apply",
        "--yes",
        "-o",
        "json",
    ]);
    // Removing the office leaves dev's allowlist empty, so dev is blocked; the partners stages
    // fail at CreateDeployment. Only prod is applied.
    run.assert_code(4);
    let report = run.json();
    let batch = &report["batch"];
    assert_eq!(batch["outcome"], "failed");
    let id = batch["id"].as_str().unwrap().to_string();
    let applied: Vec<&str> = batch["summary"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["stage"].as_str().unwrap())
        .collect();
    assert_eq!(applied, ["prod"]);
    let failed: Vec<&str> = batch["summary"]["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["stage"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 3, "{batch:#}");
    assert!(
        run.stderr.contains(&format!("ipgate set resume {id}")),
        "{}",
        run.stderr
    );
    let v2_error = batch["stages"][3]["error"].as_str().unwrap();
    assert!(v2_error.contains("not run: stage"), "{v2_error}");

    // Once deployments work again, resume redeploys the partners stages; the policy update
    // that went through is not repeated.
    cli.runtime
        .block_on(set_integration(&client, &partners, true));
    let run = cli.run(&["set", "resume", &id, "--yes", "-o", "json"]);
    run.assert_code(4);
    let batch = &run.json()["batch"];
    assert_eq!(batch["resumed"], true);
    let steps: Vec<Vec<&str>> = batch["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stage| {
            stage["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|step| step["description"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(steps[0], Vec::<&str>::new(), "dev stays blocked: {batch:#}");
    assert_eq!(
        steps[1],
        [format!("deploy stage v1 of REST API {partners}")]
    );
    assert_eq!(
        steps[2],
        [format!("deploy stage v2 of REST API {partners}")]
    );
    let applied = batch["summary"]["applied"].as_array().unwrap();
    assert_eq!(applied.len(), 2, "{batch:#}");

    let counts = cli.counts();
    assert_eq!(counts["prod"], 1, "{counts:?}");
    assert_eq!(counts["dev"], 0, "{counts:?}");
    assert_eq!(counts[&cli.fixture.partners_key("v1")], 1, "{counts:?}");
    assert_eq!(counts[&cli.fixture.partners_key("v2")], 1, "{counts:?}");

    // Only dev is left, and the unknown batch id is a usage error.
    let unfinished = Journal::unfinished(&cli.fixture.data_dir()).unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].remaining(), ["dev"]);
    let run = cli.run(&["set", "resume", "20990101-000000-0000"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("no batch 20990101-000000-0000"),
        "{}",
        run.stderr
    );

    // Abandoning the batch takes it off the list; its journal stays.
    let run = cli.run(&["set", "resume", &id, "--abandon", "-o", "json"]);
    run.assert_code(0);
    assert_eq!(run.json()["remaining"], json!(["dev"]));
    assert!(
        Journal::unfinished(&cli.fixture.data_dir())
            .unwrap()
            .is_empty()
    );
    let run = cli.run(&["set", "resume"]);
    run.assert_code(0);
    assert!(run.stderr.contains("No unfinished batch"), "{}", run.stderr);
}
