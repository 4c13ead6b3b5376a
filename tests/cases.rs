//! Inputs with one correct result, checked where the editor meets them: the home screen rows,
//! the edit session and the save plan. Nothing here touches the network.
//!
//! The core modules check the same inputs one function at a time in their own unit tests. These
//! tests check that the results survive the way up to the session and the plan.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use ipgate::aws::{RestApiSummary, StageSummary};
use ipgate::core::chalice::{Project, load_project};
use ipgate::core::cidr::{CidrError, EntryFlag};
use ipgate::core::policy::{Shape, StageAccess, policy_length, stage_access, to_minified};
use ipgate::core::resource::ApiContext;
use ipgate::emulator::write_deployed_record;
use ipgate::model::edit::{AddOutcome, EditSession, EditTarget, EmptyChoice, SaveBlocker};
use ipgate::model::{Connection, Inventory, LiveApi, Load, StageRow, SyncStatus};
use ipgate::save::{PlanInput, SavePlan, Step, plan_save};

const REGION: &str = "us-east-1";
const API_ID: &str = "abc1234567";

fn api() -> ApiContext {
    ApiContext {
        region: Some(REGION.to_string()),
        account: None,
        api_id: Some(API_ID.to_string()),
    }
}

fn allow(resource: &str) -> Value {
    json!({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource})
}

/// Shape A: Allow with `IpAddress`.
fn allow_if_ip(cidrs: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": cidrs}}}
    ]})
}

/// Shape B: an unconditional Allow and a Deny with `NotIpAddress`.
fn deny_unless(cidrs: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        allow("execute-api:/*"),
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:SourceIp": cidrs}}}
    ]})
}

/// Opens a session on stage `api` of a live REST API that belongs to no Chalice project.
fn live_session(live: Option<Value>) -> EditSession {
    let target = EditTarget {
        rest_api_id: Some(API_ID.to_string()),
        api_name: Some("orders".to_string()),
        stage: "api".to_string(),
        chalice_stage: None,
        api: api(),
    };
    EditSession::new(target, None, None, live, true).unwrap()
}

/// Returns the `aws:SourceIp` list of the statement at `index` of the session's proposed document.
fn proposed_list(session: &EditSession, index: usize, operator: &str) -> Value {
    let proposed = session.proposed_document().unwrap().unwrap();
    proposed["Statement"][index]["Condition"][operator]["aws:SourceIp"].clone()
}

/// Plans the session's save as the editor does. `online` means the REST API is listed.
fn plan(
    session: &EditSession,
    project: Option<&Project>,
    online: bool,
) -> Result<SavePlan, String> {
    let proposed = session
        .proposed_document()
        .map_err(|error| error.to_string())?;
    let target = &session.target;
    let input = PlanInput {
        project,
        chalice_stage: target.chalice_stage.as_deref(),
        rest_api_id: if online {
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
        online,
        own_file: false,
        description: session.deployment_description(),
    };
    plan_save(&input)
}

fn summary(id: &str, policy: Option<&str>) -> RestApiSummary {
    RestApiSummary {
        id: id.to_string(),
        name: "orders".to_string(),
        policy: policy.map(str::to_string),
        endpoint_types: vec!["REGIONAL".to_string()],
    }
}

fn stage(name: &str) -> StageSummary {
    StageSummary {
        name: name.to_string(),
        deployment_id: Some("dep1".to_string()),
        last_deployed: None,
    }
}

/// Builds an online inventory whose REST APIs are listed with their stages: (id, policy, stages).
fn inventory(
    project: Option<Project>,
    region: &str,
    apis: &[(&str, Option<&str>, &[&str])],
) -> Inventory {
    let mut inventory = Inventory::new(project, Some(region.to_string()));
    inventory.connection = Connection::Online;
    for (id, policy, stages) in apis {
        let mut api = LiveApi::new(summary(id, *policy));
        api.stages = Load::Ready(stages.iter().map(|name| stage(name)).collect());
        inventory.apis.insert(id.to_string(), api);
    }
    inventory
}

/// Opens a session on a home screen row the way the editor does: the local policy file is the
/// base when it exists, else the live policy. Returns whether save goes online.
fn open_row(inventory: &Inventory, row: &StageRow) -> (EditSession, bool) {
    let live_api = row
        .rest_api_id
        .as_ref()
        .and_then(|id| inventory.apis.get(id));
    let online = matches!(inventory.connection, Connection::Online) && live_api.is_some();
    let live = match live_api {
        Some(api) => api.policy.clone().unwrap(),
        None => None,
    };
    let (local, local_path) = match (&inventory.project, &row.chalice_stage) {
        (Some(project), Some(chalice_stage)) => {
            let local = inventory.local_policies[chalice_stage].clone().unwrap();
            let path = project
                .stage(chalice_stage)
                .and_then(|stage| stage.policy_file.as_ref())
                .map(|setting| setting.path.clone());
            (local, path)
        }
        _ => (None, None),
    };
    let target = EditTarget {
        rest_api_id: row.rest_api_id.clone(),
        api_name: row.api_name.clone(),
        stage: row.stage.clone(),
        chalice_stage: row.chalice_stage.clone(),
        api: inventory.api_context(row.rest_api_id.as_deref()),
    };
    (
        EditSession::new(target, local, local_path, live, online).unwrap(),
        online,
    )
}

fn chalice_row(inventory: &Inventory, chalice_stage: &str) -> StageRow {
    inventory
        .rows()
        .into_iter()
        .find(|row| row.chalice_stage.as_deref() == Some(chalice_stage))
        .unwrap_or_else(|| panic!("no row for Chalice stage {chalice_stage}"))
}

/// Writes `.chalice/config.json` and further files (paths relative to `.chalice`).
fn write_project(project_dir: &Path, config: &[u8], files: &[(&str, &str)]) {
    let chalice_dir = project_dir.join(".chalice");
    fs::create_dir_all(&chalice_dir).unwrap();
    fs::write(chalice_dir.join("config.json"), config).unwrap();
    for (name, text) in files {
        fs::write(chalice_dir.join(name), text).unwrap();
    }
}

/// Reads every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            files.insert(path.clone(), fs::read(&path).unwrap());
        }
    }
    files
}

/// True when some `aws:SourceIp` condition, in any spelling, contains an empty list.
fn has_empty_source_ip_list(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.iter().any(|(key, value)| {
            (key.eq_ignore_ascii_case("aws:SourceIp")
                && value.as_array().is_some_and(Vec::is_empty))
                || has_empty_source_ip_list(value)
        }),
        Value::Array(items) => items.iter().any(has_empty_source_ip_list),
        _ => false,
    }
}

fn added(entry: &str) -> Result<AddOutcome, CidrError> {
    Ok(AddOutcome::Added(entry.to_string()))
}

fn already_present(entry: &str) -> Result<AddOutcome, CidrError> {
    Ok(AddOutcome::AlreadyPresent(entry.to_string()))
}

#[test]
fn escaped_live_policy_lists_one_cidr() {
    // The policy field as AWS returns it: quotes escaped as \" and slashes as \/.
    let escaped = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:eu-west-1:123456789012:abcde12345\/*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"198.51.100.0\/24\"}}}]}"#;
    let inventory = inventory(
        None,
        "eu-west-1",
        &[("abcde12345", Some(escaped), &["prod"])],
    );

    let rows = inventory.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, SyncStatus::LiveOnly);
    assert_eq!(rows[0].allowlist_summary, "1");

    let (session, online) = open_row(&inventory, &rows[0]);
    assert!(online);
    assert_eq!(session.entries, ["198.51.100.0/24"]);
    let StageAccess::Allowlist(allowlist) = &session.original_access else {
        panic!("no allowlist: {:?}", session.original_access);
    };
    assert_eq!(allowlist.shape, Shape::AllowIfIp);
    assert!(!session.is_dirty());
}

#[test]
fn absent_live_policy_is_open() {
    // moto returns null, AWS omits the field, and some emulators return "".
    for raw in [None, Some(""), Some("null")] {
        let inventory = inventory(None, REGION, &[(API_ID, raw, &["api"])]);
        let rows = inventory.rows();
        assert_eq!(rows[0].allowlist_summary, "open", "{raw:?}");

        let (mut session, online) = open_row(&inventory, &rows[0]);
        assert_eq!(
            session.original_access,
            StageAccess::Unrestricted,
            "{raw:?}"
        );
        assert!(session.entries.is_empty(), "{raw:?}");
        assert_eq!(plan(&session, None, online).unwrap().steps, [], "{raw:?}");

        // The first CIDR builds a whole policy around itself.
        assert_eq!(session.add("203.0.113.7"), added("203.0.113.7/32"));
        assert_eq!(session.save_blocker(), None, "{raw:?}");
        let expected = json!({"Version": "2012-10-17", "Statement": [
            allow("execute-api:/*"),
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/api/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.7/32"]}}}
        ]});
        let proposed = session.proposed_document().unwrap();
        assert_eq!(
            proposed.as_ref().map(to_minified),
            Some(to_minified(&expected)),
            "{raw:?}"
        );

        let steps = plan(&session, None, online).unwrap().steps;
        let [
            Step::UpdatePolicy {
                rest_api_id,
                policy,
                ..
            },
            Step::CreateDeployment {
                stage, description, ..
            },
        ] = &steps[..]
        else {
            panic!("{raw:?}: expected UpdatePolicy and CreateDeployment, got {steps:?}");
        };
        assert_eq!(rest_api_id, API_ID, "{raw:?}");
        assert_eq!(policy, &to_minified(&expected), "{raw:?}");
        assert_eq!(stage, "api", "{raw:?}");
        assert_eq!(description, "ipgate: api +203.0.113.7/32", "{raw:?}");
    }
}

#[test]
fn deployment_stage_follows_config() {
    // (config, expected API Gateway stage per Chalice stage)
    let cases: [(&str, &[(&str, &str)]); 2] = [
        (
            r#"{"version": "2.0", "app_name": "app", "api_gateway_stage": "v1", "stages": {"dev": {}, "prod": {"api_gateway_stage": "live"}}}"#,
            &[("prod", "live"), ("dev", "v1")],
        ),
        (
            r#"{"version": "2.0", "app_name": "app", "stages": {"dev": {}, "prod": {}}}"#,
            &[("prod", "api"), ("dev", "api")],
        ),
    ];
    for (config, expected) in cases {
        let temp = tempfile::tempdir().unwrap();
        write_project(temp.path(), config.as_bytes(), &[]);
        let mut apis: Vec<(String, &str)> = Vec::new();
        for (chalice_stage, api_gateway_stage) in expected {
            let id = format!("{chalice_stage}api0001");
            write_deployed_record(temp.path(), chalice_stage, &id, REGION, api_gateway_stage)
                .unwrap();
            apis.push((id, api_gateway_stage));
        }
        let stages: Vec<[&str; 1]> = apis.iter().map(|(_, stage)| [*stage]).collect();
        let listed: Vec<(&str, Option<&str>, &[&str])> = apis
            .iter()
            .zip(&stages)
            .map(|((id, _), stage)| (id.as_str(), None, &stage[..]))
            .collect();
        let inventory = inventory(load_project(temp.path()).unwrap(), REGION, &listed);

        for (chalice_stage, api_gateway_stage) in expected {
            let row = chalice_row(&inventory, chalice_stage);
            assert_eq!(&row.stage, api_gateway_stage, "{config}");
            assert_eq!(row.status, SyncStatus::InSync, "{config}");

            let (mut session, online) = open_row(&inventory, &row);
            session.add("198.51.100.0/24").unwrap();
            let plan = plan(&session, inventory.project.as_ref(), online).unwrap();
            let deployed: Vec<&str> = plan
                .steps
                .iter()
                .filter_map(|step| match step {
                    Step::CreateDeployment { stage, .. } => Some(stage.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                deployed,
                [*api_gateway_stage],
                "{config}, Chalice stage {chalice_stage}"
            );
        }
    }
}

#[test]
fn stage_without_deployed_record_not_deployed() {
    let temp = tempfile::tempdir().unwrap();
    let config = r#"{"version": "2.0", "app_name": "app", "stages": {"dev": {}, "prod": {}}}"#;
    write_project(temp.path(), config.as_bytes(), &[]);
    write_deployed_record(temp.path(), "prod", "prodapi001", REGION, "api").unwrap();
    let inventory = inventory(
        load_project(temp.path()).unwrap(),
        REGION,
        &[("prodapi001", None, &["api"])],
    );

    let dev = chalice_row(&inventory, "dev");
    assert_eq!(dev.status, SyncStatus::NotDeployed);
    assert_eq!(dev.status.label(), "not deployed");
    assert_eq!(dev.rest_api_id, None);
    assert_eq!(chalice_row(&inventory, "prod").status, SyncStatus::InSync);

    // Saving it writes local files only and deploys nothing.
    let (mut session, online) = open_row(&inventory, &dev);
    assert!(!online);
    session.add("192.0.2.0/24").unwrap();
    let plan = plan(&session, inventory.project.as_ref(), online).unwrap();
    assert!(
        plan.steps.iter().all(|step| !step.is_remote()),
        "{:?}",
        plan.steps
    );
}

#[test]
fn config_syntax_errors_locate_cause() {
    // (config bytes, line, column, cause)
    let cases: [(&[u8], usize, usize, &str); 3] = [
        (
            b"{\n  \"version\": \"2.0\",\n  \"stages\": {\"dev\": {}},\n}\n",
            3,
            24,
            "trailing comma before '}'",
        ),
        (
            b"{\n  // the stages\n  \"stages\": {\"dev\": {}}\n}\n",
            2,
            3,
            "comments are not allowed in JSON",
        ),
        (
            b"\xef\xbb\xbf{\"stages\": {\"dev\": {}}}\n",
            1,
            1,
            "the file starts with a byte-order mark (bytes EF BB BF); save it as UTF-8 without BOM",
        ),
    ];
    for (config, line, column, cause) in cases {
        let temp = tempfile::tempdir().unwrap();
        write_project(temp.path(), config, &[]);
        let before = snapshot(temp.path());

        let message = load_project(temp.path()).unwrap_err().to_string();
        let config_path = temp.path().join(".chalice/config.json");
        let position = format!(
            "{}: line {line}, column {column}: {cause}",
            config_path.display()
        );
        assert!(message.contains(&position), "{message}");
        assert!(message.ends_with("nothing was written."), "{message}");
        assert_eq!(snapshot(temp.path()), before, "{message}");
    }
}

#[test]
fn host_bits_normalised_on_request() {
    let mut session = live_session(None);
    assert_eq!(session.add("192.0.2.77/24"), added("192.0.2.77/24"));
    assert_eq!(session.add("2001:db8:4::/40"), added("2001:db8:4::/40"));

    let flags = session.flags();
    assert_eq!(
        flags[0],
        [EntryFlag::HostBitsSet {
            covers: "192.0.2.0/24".parse().unwrap()
        }]
    );
    assert_eq!(
        flags[1],
        [EntryFlag::HostBitsSet {
            covers: "2001:db8::/40".parse().unwrap()
        }]
    );
    // Kept as written until the user normalises them.
    assert_eq!(
        proposed_list(&session, 1, "NotIpAddress"),
        json!(["192.0.2.77/24", "2001:db8:4::/40"])
    );

    assert_eq!(session.normalize(0).as_deref(), Some("192.0.2.0/24"));
    assert_eq!(session.normalize(1).as_deref(), Some("2001:db8::/40"));
    assert_eq!(session.normalize(0), None);
    assert_eq!(session.entries, ["192.0.2.0/24", "2001:db8::/40"]);
    assert!(
        session.flags().iter().all(Vec::is_empty),
        "{:?}",
        session.flags()
    );
    assert_eq!(
        proposed_list(&session, 1, "NotIpAddress"),
        json!(["192.0.2.0/24", "2001:db8::/40"])
    );

    assert!(session.undo());
    assert_eq!(session.entries, ["192.0.2.0/24", "2001:db8:4::/40"]);
}

#[test]
fn entry_spellings_and_octets() {
    let mut session = live_session(None);

    let spellings = [
        "2001:0db8:0000:0000:0000:0000:0000:0001/128",
        "2001:db8::1/128",
        "2001:DB8::1",
    ];
    assert_eq!(session.add(spellings[0]), added("2001:db8::1/128"));
    assert_eq!(
        session.add(spellings[1]),
        already_present("2001:db8::1/128")
    );
    assert_eq!(
        session.add(spellings[2]),
        already_present("2001:db8::1/128")
    );
    assert_eq!(session.add("192.0.2.5"), added("192.0.2.5/32"));

    // (input, parts of the message)
    let rejected = [
        ("192.0.2.010", ["octet 010", "write 192.0.2.10/32"]),
        ("192.0.02.1/32", ["octet 02", "write 192.0.2.1/32"]),
    ];
    for (input, parts) in rejected {
        let error = session.add(input).unwrap_err();
        assert!(
            matches!(error, CidrError::LeadingZeroOctet { .. }),
            "{input}: {error:?}"
        );
        let message = error.to_string();
        for part in parts {
            assert!(message.contains(part), "{input}: {message}");
        }
    }
    assert_eq!(session.entries, ["2001:db8::1/128", "192.0.2.5/32"]);
}

#[test]
fn entry_mistakes_rejected_with_hints() {
    // (input, suggested entry, parts of the message)
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "198.51.100.7:443",
            "198.51.100.7/32",
            &["a port is not part of a CIDR; use 198.51.100.7/32"],
        ),
        (
            "[2001:db8::7]",
            "2001:db8::7/128",
            &["brackets are URL syntax", "write 2001:db8::7/128"],
        ),
        (
            "[2001:db8::7]:8443",
            "2001:db8::7/128",
            &["brackets and ports are URL syntax", "write 2001:db8::7/128"],
        ),
        (
            "203.0.113.5, 198.51.100.2",
            "",
            &[
                "several addresses in one entry",
                "add each address as its own entry",
            ],
        ),
    ];
    let mut session = live_session(Some(deny_unless(&["192.0.2.0/24"])));
    for (input, suggestion, parts) in cases {
        let error = session.add(input).unwrap_err();
        assert_eq!(error.suggestion().unwrap_or(""), suggestion, "{input}");
        let message = error.to_string();
        assert!(message.starts_with(&format!("'{input}'")), "{message}");
        for part in parts {
            assert!(message.contains(part), "{input}: {message}");
        }

        // Editing an entry into the same text is rejected the same way.
        assert_eq!(session.replace(0, input).unwrap_err(), error, "{input}");
    }
    assert_eq!(session.entries, ["192.0.2.0/24"]);
    assert!(!session.is_dirty());
}

#[test]
fn unrestricted_entry_needs_confirmation() {
    let mut session = live_session(Some(deny_unless(&["192.0.2.0/24"])));
    session.add("0.0.0.0/0").unwrap();
    session.add("::/0").unwrap();
    assert_eq!(
        session.flags()[1],
        [EntryFlag::Unrestricted { ipv6: false }]
    );
    assert_eq!(session.flags()[2], [EntryFlag::Unrestricted { ipv6: true }]);

    let blocked = |ipv6| Some(SaveBlocker::UnrestrictedNotConfirmed { ipv6 });
    assert_eq!(session.save_blocker(), blocked(false));
    session.confirm_unrestricted(false);
    assert_eq!(session.save_blocker(), blocked(true));
    session.confirm_unrestricted(true);
    assert_eq!(session.save_blocker(), None);

    // A later change needs a new confirmation.
    session.add("198.51.100.1").unwrap();
    assert_eq!(session.save_blocker(), blocked(false));
}

#[test]
fn five_entry_list_flagged_not_merged() {
    let five = [
        "192.0.2.0/24",
        "192.0.2.34/32",
        "192.0.2.0/24",
        "198.51.100.0/25",
        "198.51.100.128/25",
    ];
    let document = allow_if_ip(&five);
    let mut session = live_session(Some(document.clone()));

    assert_eq!(session.entries, five);
    let expected_flags = vec![
        vec![],
        vec![EntryFlag::CoveredBy { index: 0 }],
        vec![EntryFlag::Duplicate { of: 0 }],
        vec![],
        vec![],
    ];
    assert_eq!(session.flags(), expected_flags);
    assert_eq!(session.save_blocker(), None);
    assert_eq!(session.proposed_document().unwrap(), Some(document));
    assert_eq!(plan(&session, None, true).unwrap().steps, []);

    // An edit elsewhere keeps all five as they are: nothing merged, nothing widened.
    session.add("203.0.113.9").unwrap();
    let mut expected: Vec<&str> = five.to_vec();
    expected.push("203.0.113.9/32");
    assert_eq!(proposed_list(&session, 0, "IpAddress"), json!(expected));
}

#[test]
fn lowercase_source_ip_key_edited_in_place() {
    let document = json!({"Version": "2012-10-17", "Statement": [
        allow("execute-api:/*"),
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:sourceIp": ["192.0.2.0/24"]}}}
    ]});
    let mut session = live_session(Some(document));
    assert_eq!(session.entries, ["192.0.2.0/24"]);

    session.add("198.51.100.7").unwrap();
    let proposed = session.proposed_document().unwrap().unwrap();
    let condition = proposed["Statement"][1]["Condition"]["NotIpAddress"]
        .as_object()
        .unwrap();
    assert_eq!(condition.keys().collect::<Vec<_>>(), ["aws:sourceIp"]);
    assert_eq!(
        condition["aws:sourceIp"],
        json!(["192.0.2.0/24", "198.51.100.7/32"])
    );
}

#[test]
fn nested_source_ip_list_rejected() {
    let document = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": [["192.0.2.1/32", "192.0.2.5/32"]]}}}
    ]});
    let target = EditTarget {
        rest_api_id: Some(API_ID.to_string()),
        api_name: None,
        stage: "api".to_string(),
        chalice_stage: None,
        api: api(),
    };
    let error = EditSession::new(target, None, None, Some(document.clone()), true).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid policy: statement 1: aws:SourceIp must be a string or a list of strings, found a nested list"
    );

    let inventory = inventory(
        None,
        REGION,
        &[(API_ID, Some(&document.to_string()), &["api"])],
    );
    assert_eq!(inventory.rows()[0].allowlist_summary, "?");
}

#[test]
fn same_address_added_once() {
    let document = deny_unless(&["192.0.2.0/24"]);
    let mut session = live_session(Some(document.clone()));

    assert_eq!(session.add("198.51.100.7"), added("198.51.100.7/32"));
    assert_eq!(
        session.add("198.51.100.7"),
        already_present("198.51.100.7/32")
    );
    assert_eq!(session.entries, ["192.0.2.0/24", "198.51.100.7/32"]);

    let proposed = session.proposed_document().unwrap().unwrap();
    assert_eq!(
        to_minified(&proposed["Statement"][0]),
        to_minified(&document["Statement"][0])
    );
    assert_eq!(
        proposed["Statement"][1]["Condition"]["NotIpAddress"]["aws:SourceIp"],
        json!(["192.0.2.0/24", "198.51.100.7/32"])
    );
    assert_eq!(to_minified(&proposed).matches("198.51.100.7").count(), 1);
}

#[test]
fn removing_only_entry_needs_choice() {
    for document in [
        allow_if_ip(&["192.0.2.0/24"]),
        deny_unless(&["192.0.2.0/24"]),
    ] {
        let name = to_minified(&document);
        let mut session = live_session(Some(document));
        assert_eq!(session.delete(0).as_deref(), Some("192.0.2.0/24"));
        assert_eq!(
            session.save_blocker(),
            Some(SaveBlocker::EmptyChoiceNeeded),
            "{name}"
        );
        assert_eq!(session.allowlist_edit(), None, "{name}");

        // (choice, access after the save, description)
        let choices = [
            (
                EmptyChoice::Open,
                StageAccess::Unrestricted,
                "ipgate: api -192.0.2.0/24 open to everyone",
            ),
            (
                EmptyChoice::Closed,
                StageAccess::Closed,
                "ipgate: api -192.0.2.0/24 closed to everyone",
            ),
        ];
        for (choice, access, description) in choices {
            session.set_empty_choice(choice);
            assert_eq!(session.save_blocker(), None, "{name}, {choice:?}");
            assert!(session.is_dirty(), "{name}, {choice:?}");
            let proposed = session.proposed_document().unwrap();
            let proposed_text = proposed.as_ref().map(to_minified);
            assert!(
                !proposed.as_ref().is_some_and(has_empty_source_ip_list),
                "{name}, {choice:?}: {proposed_text:?}"
            );
            assert_eq!(
                stage_access(proposed.as_ref(), "api", &api()),
                Ok(access),
                "{name}, {choice:?}"
            );
            assert_eq!(session.deployment_description(), description);
            assert_eq!(
                plan(&session, None, true).unwrap().steps.len(),
                2,
                "{name}, {choice:?}"
            );
        }
    }
}

/// Writes a Chalice project whose dev policy file is shape B with a `Sid` of `padding` characters.
fn padded_project(dir: &Path, padding: usize) -> Project {
    let mut document = deny_unless(&["192.0.2.0/24"]);
    document["Statement"][1]["Sid"] = json!("x".repeat(padding));
    let config = r#"{"version": "2.0", "app_name": "app", "stages": {"dev": {"api_gateway_policy_file": "apigw-policy-dev.json"}}}"#;
    let text = serde_json::to_string_pretty(&document).unwrap() + "\n";
    write_project(dir, config.as_bytes(), &[("apigw-policy-dev.json", &text)]);
    load_project(dir).unwrap().unwrap()
}

/// Opens a session on the dev stage of `project` (not deployed) with one address added.
fn padded_session(project: &Project) -> EditSession {
    let target = EditTarget {
        rest_api_id: None,
        api_name: None,
        stage: "api".to_string(),
        chalice_stage: Some("dev".to_string()),
        api: ApiContext {
            region: Some(REGION.to_string()),
            account: None,
            api_id: None,
        },
    };
    let local = project.read_policy_file("dev").unwrap();
    let local_path = Some(
        project
            .stage("dev")
            .unwrap()
            .policy_file
            .clone()
            .unwrap()
            .path,
    );
    let mut session = EditSession::new(target, local, local_path, None, false).unwrap();
    session.add("198.51.100.7").unwrap();
    session
}

#[test]
fn policy_over_quota_refused() {
    let unpadded_dir = tempfile::tempdir().unwrap();
    let unpadded = padded_session(&padded_project(unpadded_dir.path(), 0));
    let unpadded_length = policy_length(&unpadded.proposed_document().unwrap().unwrap());

    // At the quota the save is planned.
    let at_quota_dir = tempfile::tempdir().unwrap();
    let project = padded_project(at_quota_dir.path(), 8192 - unpadded_length);
    let session = padded_session(&project);
    let plan_at_quota = plan(&session, Some(&project), false).unwrap();
    assert_eq!(plan_at_quota.policy_length, 8192);
    assert!(
        matches!(plan_at_quota.steps[..], [Step::WritePolicyFile { .. }]),
        "{plan_at_quota:?}"
    );

    // One character over, it is refused with the length, and nothing is written.
    let over_dir = tempfile::tempdir().unwrap();
    let project = padded_project(over_dir.path(), 8193 - unpadded_length);
    let before = snapshot(over_dir.path());
    let session = padded_session(&project);
    assert_eq!(
        policy_length(&session.proposed_document().unwrap().unwrap()),
        8193
    );
    let error = plan(&session, Some(&project), false).unwrap_err();
    assert_eq!(
        error,
        "the policy is 8193 characters; API Gateway accepts at most 8192. Remove or merge entries"
    );
    assert_eq!(snapshot(over_dir.path()), before);
}

#[test]
fn deployment_description_lists_changes() {
    let target = EditTarget {
        rest_api_id: Some(API_ID.to_string()),
        api_name: None,
        stage: "api".to_string(),
        chalice_stage: Some("prod".to_string()),
        api: api(),
    };
    let live = Some(deny_unless(&["192.0.2.0/24", "198.51.100.0/24"]));
    let mut session = EditSession::new(target, None, None, live, true).unwrap();
    assert_eq!(
        session.deployment_description(),
        "ipgate: prod policy update"
    );

    session.add("203.0.113.7").unwrap();
    session.delete(0).unwrap();
    assert_eq!(
        session.deployment_description(),
        "ipgate: prod +203.0.113.7/32 -192.0.2.0/24"
    );
}

#[test]
fn deployed_stage_missing_from_api_is_local_only() {
    let temp = tempfile::tempdir().unwrap();
    let config = r#"{"version": "2.0", "app_name": "app", "stages": {"dev": {}}}"#;
    write_project(temp.path(), config.as_bytes(), &[]);
    write_deployed_record(temp.path(), "dev", "devapi0001", REGION, "api").unwrap();
    let project = load_project(temp.path()).unwrap();

    // The REST API is listed with its stages loaded, but stage api is not among them.
    let listed = inventory(project.clone(), REGION, &[("devapi0001", None, &["v2"])]);
    assert_eq!(chalice_row(&listed, "dev").status, SyncStatus::LocalOnly);

    let mut loading = inventory(project.clone(), REGION, &[("devapi0001", None, &[])]);
    loading.apis.get_mut("devapi0001").unwrap().stages = Load::Loading;
    assert_eq!(chalice_row(&loading, "dev").status, SyncStatus::Loading);

    let gone = inventory(project, REGION, &[]);
    assert_eq!(chalice_row(&gone, "dev").status, SyncStatus::LocalOnly);
}
