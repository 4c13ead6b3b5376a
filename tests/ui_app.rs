//! Handler and screen tests: the app is fed canned messages and drawn on ratatui's TestBackend.
//! Nothing here touches the network.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use ipgate::aws::{
    AwsError, AwsErrorKind, AwsWait, ConnectionInfo, RestApiSummary, StageSummary, WaitReason,
};
use ipgate::core::chalice::load_project;
use ipgate::history::{HistoryStore, PolicyVersion};
use ipgate::myip::MyIpSource;
use ipgate::save::{Conflict, Step, StepError};
use ipgate::ui::app::{App, Screen};
use ipgate::ui::editor::{Overlay, Prompt};
use ipgate::ui::message::{Effect, Message};

const DEV_API: &str = "devapi0001";
const PROD_API: &str = "prodapi001";
const OTHER_API: &str = "otherapi01";

const PROD_LIVE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:123456789012:prodapi001/*"},{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:123456789012:prodapi001/*","Condition":{"NotIpAddress":{"aws:SourceIp":["198.51.100.17/32","203.0.113.0/24"]}}}]}"#;

/// A copy of the sample project with deployed records for dev and prod.
fn sample_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-project"),
        dir.path(),
    );
    let deployed = dir.path().join(".chalice/deployed");
    std::fs::create_dir_all(&deployed).unwrap();
    for (stage, api) in [("dev", DEV_API), ("prod", PROD_API)] {
        let record = format!(
            "{{\n  \"resources\": [\n    {{\n      \"name\": \"api_handler\",\n      \"resource_type\": \"rest_api\",\n      \"rest_api_id\": \"{api}\",\n      \"rest_api_url\": \"https://{api}.execute-api.us-east-1.amazonaws.com/api/\"\n    }}\n  ],\n  \"schema_version\": \"2.0\",\n  \"backend\": \"api\"\n}}\n"
        );
        std::fs::write(deployed.join(format!("{stage}.json")), record).unwrap();
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn info() -> ConnectionInfo {
    ConnectionInfo {
        profile: None,
        region: Some("us-east-1".to_string()),
        endpoint: Some("http://127.0.0.1:5000".to_string()),
    }
}

fn summary(id: &str, name: &str, policy: Option<&str>) -> RestApiSummary {
    RestApiSummary {
        id: id.to_string(),
        name: name.to_string(),
        policy: policy.map(str::to_string),
        endpoint_types: vec!["EDGE".to_string()],
    }
}

fn stage(name: &str, deployment: &str) -> StageSummary {
    StageSummary {
        name: name.to_string(),
        deployment_id: Some(deployment.to_string()),
        last_deployed: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_400_000)),
    }
}

/// An app on the sample project with dev, prod and one unrelated API listed and loaded.
fn loaded_app(project_dir: &Path) -> App {
    let project = load_project(project_dir).unwrap();
    let mut app = App::new(project, info(), None);
    let effects = app.start();
    assert_eq!(effects, vec![Effect::ListRestApis]);

    let listed = vec![
        summary(DEV_API, "ipgate-sample", None),
        summary(PROD_API, "ipgate-sample", Some(PROD_LIVE)),
        summary(OTHER_API, "partners", None),
    ];
    let effects = app.update(Message::RestApisListed(Ok(listed)));
    let Effect::ListStages(order) = &effects[0] else {
        panic!("expected stage listings, got {effects:?}");
    };
    assert_eq!(
        order.last().map(String::as_str),
        Some(OTHER_API),
        "project APIs load first"
    );

    for (api, stages) in [
        (DEV_API, vec![stage("api", "dep1")]),
        (PROD_API, vec![stage("api", "dep2")]),
        (OTHER_API, vec![stage("v1", "dep3"), stage("v2", "dep4")]),
    ] {
        app.update(Message::StagesListed {
            rest_api_id: api.to_string(),
            result: Ok(stages),
        });
    }
    app
}

fn key(code: KeyCode) -> Message {
    Message::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl_c() -> Message {
    Message::Input(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )))
}

fn type_text(app: &mut App, text: &str) {
    for character in text.chars() {
        app.update(key(KeyCode::Char(character)));
    }
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ipgate::ui::view::draw(frame, app))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

fn select_chalice_stage(app: &mut App, chalice_stage: &str) {
    let index = app
        .rows
        .iter()
        .position(|row| row.chalice_stage.as_deref() == Some(chalice_stage))
        .unwrap_or_else(|| panic!("no row for Chalice stage {chalice_stage}: {:?}", app.rows));
    app.home.selected = index;
}

fn open_editor(app: &mut App, chalice_stage: &str) {
    select_chalice_stage(app, chalice_stage);
    app.update(key(KeyCode::Enter));
    assert!(
        matches!(app.screen, Screen::Editor(_)),
        "editor did not open: {:?}",
        app.status
    );
}

fn editor(app: &App) -> &ipgate::ui::editor::EditorState {
    app.editor().expect("the editor is open")
}

#[test]
fn home_lists_every_stage_with_status() {
    let project = sample_project();
    let app = loaded_app(project.path());
    let screen = render(&app, 100, 30);

    assert_eq!(app.rows.len(), 4, "{:?}", app.rows);
    assert!(screen.contains("ipgate-sample"), "{screen}");
    assert!(screen.contains("partners"), "{screen}");
    assert!(screen.contains("in sync"), "{screen}");
    assert!(screen.contains("live only"), "{screen}");
    assert!(screen.contains("us-east-1"), "{screen}");
    assert!(screen.contains("http://127.0.0.1:5000"), "{screen}");

    let prod = app
        .rows
        .iter()
        .find(|row| row.chalice_stage.as_deref() == Some("prod"))
        .unwrap();
    assert_eq!(prod.allowlist_summary, "2");
    assert_eq!(prod.status.label(), "in sync");
}

#[test]
fn home_fits_80_by_24() {
    let project = sample_project();
    let app = loaded_app(project.path());
    let screen = render(&app, 80, 24);

    assert!(screen.contains("Stages"), "{screen}");
    assert!(screen.contains("quit"), "footer keys missing:\n{screen}");
}

#[test]
fn tiny_terminal_says_too_small() {
    let project = sample_project();
    let app = loaded_app(project.path());
    let screen = render(&app, 20, 5);

    assert!(screen.contains("too small"), "{screen}");
}

#[test]
fn home_shows_first_rows_before_stages_load() {
    let project = sample_project();
    let mut app = App::new(load_project(project.path()).unwrap(), info(), None);
    app.start();
    app.update(Message::RestApisListed(Ok(vec![summary(
        DEV_API,
        "ipgate-sample",
        None,
    )])));
    let screen = render(&app, 100, 30);

    assert!(screen.contains("loading"), "{screen}");
    assert!(app.is_busy());
}

#[test]
fn filter_narrows_rows() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "partners");
    app.update(key(KeyCode::Enter));

    assert_eq!(app.rows.len(), 2);
    assert!(
        app.rows
            .iter()
            .all(|row| row.api_name.as_deref() == Some("partners"))
    );
}

#[test]
fn editor_adds_entry_once() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");

    for _ in 0..2 {
        app.update(key(KeyCode::Char('a')));
        type_text(&mut app, "198.51.100.7");
        app.update(key(KeyCode::Enter));
    }
    let entries = &editor(&app).session.entries;

    assert_eq!(
        entries
            .iter()
            .filter(|entry| *entry == "198.51.100.7/32")
            .count(),
        1,
        "{entries:?}"
    );
    assert_eq!(entries.len(), 3);
}

#[test]
fn editor_rejects_port_and_keeps_input() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "198.51.100.7:443");
    let screen = render(&app, 100, 30);
    app.update(key(KeyCode::Enter));

    assert!(screen.contains("port"), "no live validation:\n{screen}");
    assert!(
        editor(&app).input.is_some(),
        "the input closed on an invalid entry"
    );
    assert!(app.status.as_ref().is_some_and(|status| status.is_error));
}

#[test]
fn save_confirms_then_reports_undeployed() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "192.0.2.5");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));

    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    let steps = confirm.plan.steps.clone();
    assert!(
        matches!(steps[0], Step::WritePolicyFile { .. }),
        "{steps:?}"
    );
    assert!(matches!(steps[1], Step::UpdatePolicy { .. }), "{steps:?}");
    let Step::CreateDeployment {
        description, stage, ..
    } = &steps[2]
    else {
        panic!("{steps:?}");
    };
    assert_eq!(stage, "api");
    assert_eq!(description, "ipgate: prod +192.0.2.5/32");
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains("write .chalice/apigw-policy-prod.json"),
        "{screen}"
    );
    assert!(
        screen.contains("deploy stage api of REST API prodapi001"),
        "{screen}"
    );

    let effects = app.update(key(KeyCode::Char('y')));
    let [
        Effect::RunSave {
            run_id, from: 0, ..
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}");
    };
    let run_id = *run_id;
    app.update(Message::SaveStepFinished {
        run_id,
        index: 0,
        result: Ok(None),
    });
    app.update(Message::SaveStepFinished {
        run_id,
        index: 1,
        result: Ok(None),
    });
    app.update(Message::SaveStepFinished {
        run_id,
        index: 2,
        result: Err(StepError::Failed(
            "BadRequestException: No integration defined for method".to_string(),
        )),
    });

    let status = app.status.clone().unwrap();
    assert!(status.is_error);
    assert!(
        status
            .text
            .contains("policy file written, live policy updated, not deployed"),
        "{}",
        status.text
    );
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains("No integration defined for method"),
        "{screen}"
    );

    let effects = app.update(key(KeyCode::Char('r')));
    let [Effect::RunSave { from, .. }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(*from, 2, "retry starts at the deployment");
}

#[test]
fn unchanged_stage_saves_nothing() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('s')));

    assert_eq!(editor(&app).overlay, Overlay::None);
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .starts_with("Nothing to save"),
        "{:?}",
        app.status
    );
}

#[test]
fn removing_last_entry_asks_open_or_closed() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('d')));
    app.update(key(KeyCode::Char('d')));

    assert_eq!(editor(&app).prompt, Some(Prompt::EmptyChoice));
    let screen = render(&app, 100, 30);
    assert!(screen.contains("closed"), "{screen}");

    app.update(key(KeyCode::Char('c')));
    app.update(key(KeyCode::Char('s')));
    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    let Step::UpdatePolicy { policy, .. } = &confirm.plan.steps[1] else {
        panic!("{:?}", confirm.plan.steps);
    };
    assert!(!policy.contains("aws:SourceIp\":[]"), "{policy}");
}

#[test]
fn unrestricted_entry_needs_confirmation() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "0.0.0.0/0");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));

    assert_eq!(
        editor(&app).prompt,
        Some(Prompt::ConfirmUnrestricted { ipv6: false })
    );
    let screen = render(&app, 100, 30);
    assert!(screen.contains("no IPv4 restriction"), "{screen}");

    app.update(key(KeyCode::Char('y')));
    assert!(matches!(editor(&app).overlay, Overlay::Confirm(_)));
}

#[test]
fn ctrl_c_with_unsaved_edits_asks() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('d')));

    let effects = app.update(ctrl_c());
    assert!(effects.is_empty());
    assert!(app.quit_prompt);
    assert!(render(&app, 100, 30).contains("unsaved"));

    let effects = app.update(key(KeyCode::Char('y')));
    assert_eq!(effects, vec![Effect::Quit]);
}

#[test]
fn ctrl_c_without_edits_quits() {
    let project = sample_project();
    let mut app = loaded_app(project.path());

    assert_eq!(app.update(ctrl_c()), vec![Effect::Quit]);
}

#[test]
fn help_lists_current_keys() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('?')));
    let screen = render(&app, 100, 30);

    assert!(screen.contains("normalise host bits"), "{screen}");
    assert!(screen.contains("Ctrl-C"), "{screen}");
}

#[test]
fn preview_shows_length_and_diff() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "192.0.2.77/24");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('p')));
    let policy = render(&app, 80, 24);
    app.update(key(KeyCode::Char('2')));
    let live_diff = render(&app, 100, 40);

    assert!(policy.contains("/ 8192 characters"), "{policy}");
    assert!(policy.contains("After save"), "{policy}");
    assert!(render(&app, 100, 40).contains("NotIpAddress"));
    assert!(
        live_diff.contains("+") && live_diff.contains("192.0.2.77/24"),
        "{live_diff}"
    );
}

#[test]
fn host_bits_normalised_only_on_request() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "192.0.2.77/24");
    app.update(key(KeyCode::Enter));

    assert!(
        editor(&app)
            .session
            .entries
            .contains(&"192.0.2.77/24".to_string())
    );
    assert!(render(&app, 100, 30).contains("covers 192.0.2.0/24"));

    app.update(key(KeyCode::Char('n')));
    assert!(
        editor(&app)
            .session
            .entries
            .contains(&"192.0.2.0/24".to_string())
    );
}

#[test]
fn credentials_failure_means_local_only() {
    let project = sample_project();
    let mut app = App::new(load_project(project.path()).unwrap(), info(), None);
    app.start();
    let error = AwsError {
        operation: "GetRestApis",
        kind: AwsErrorKind::Credentials,
        code: None,
        message: None,
        request_id: None,
        rest_api_id: None,
        stage: None,
        detail: "no credentials found in the environment, profile or instance metadata".to_string(),
    };
    app.update(Message::RestApisListed(Err(error)));
    let screen = render(&app, 100, 30);

    assert!(screen.contains("local only"), "{screen}");
    assert!(
        app.rows
            .iter()
            .all(|row| row.status.label() == "local only"),
        "{:?}",
        app.rows
    );

    open_editor(&mut app, "dev");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "203.0.113.7");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));
    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    assert!(
        confirm.plan.steps.iter().all(|step| !step.is_remote()),
        "{:?}",
        confirm.plan.steps
    );
    assert!(
        confirm
            .plan
            .notes
            .iter()
            .any(|note| note.contains("chalice deploy")),
        "{:?}",
        confirm.plan.notes
    );
}

#[test]
fn access_denied_is_shown_and_kept() {
    let project = sample_project();
    let mut app = App::new(load_project(project.path()).unwrap(), info(), None);
    app.start();
    let error = AwsError {
        operation: "GetRestApis",
        kind: AwsErrorKind::Service,
        code: Some("AccessDeniedException".to_string()),
        message: Some("User is not authorized to perform apigateway:GET".to_string()),
        request_id: Some("req-1".to_string()),
        rest_api_id: None,
        stage: None,
        detail: String::new(),
    };
    app.update(Message::RestApisListed(Err(error)));

    let screen = render(&app, 120, 30);
    assert!(screen.contains("AccessDeniedException"), "{screen}");
    assert!(
        app.error_history
            .iter()
            .any(|error| error.contains("AccessDeniedException"))
    );
}

#[test]
fn live_conflict_applies_edit_on_top() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "192.0.2.5");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));
    let effects = app.update(key(KeyCode::Char('y')));
    let [Effect::RunSave { run_id, .. }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    let run_id = *run_id;

    // Someone added 203.0.113.99/32 live between load and save.
    let changed_live = serde_json::from_str(
        &PROD_LIVE.replace("203.0.113.0/24", "203.0.113.0/24\",\"203.0.113.99/32"),
    )
    .unwrap();
    app.update(Message::SaveStepFinished {
        run_id,
        index: 0,
        result: Ok(None),
    });
    app.update(Message::SaveStepFinished {
        run_id,
        index: 1,
        result: Err(StepError::Conflict(Conflict::LivePolicy {
            rest_api_id: PROD_API.to_string(),
            current: Some(changed_live),
        })),
    });
    let screen = render(&app, 100, 40);
    assert!(
        screen.contains("changed since ipgate loaded it"),
        "{screen}"
    );
    assert!(screen.contains("203.0.113.99/32"), "{screen}");
    assert!(screen.contains("+192.0.2.5/32"), "{screen}");

    app.update(key(KeyCode::Char('a')));
    let entries = &editor(&app).session.entries;
    assert!(
        entries.contains(&"203.0.113.99/32".to_string()),
        "{entries:?}"
    );
    assert!(entries.contains(&"192.0.2.5/32".to_string()), "{entries:?}");
    assert!(
        matches!(editor(&app).overlay, Overlay::Confirm(_)),
        "{:?}",
        app.status
    );
}

fn app_with_history(project_dir: &Path, history_dir: &Path) -> App {
    let mut app = loaded_app(project_dir);
    app.inventory.history = Some(HistoryStore::at(history_dir));
    app
}

#[test]
fn lockout_needs_typed_stage_name() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    app.my_ip_source = MyIpSource::Given("198.51.100.17".parse().unwrap());
    app.start();
    open_editor(&mut app, "prod");
    let index = editor(&app)
        .session
        .entries
        .iter()
        .position(|entry| entry == "198.51.100.17/32")
        .unwrap();
    for _ in 0..index {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Char('d')));
    app.update(key(KeyCode::Char('s')));

    assert!(
        matches!(editor(&app).prompt, Some(Prompt::ConfirmLockout { .. })),
        "{:?}",
        editor(&app).prompt
    );
    assert!(render(&app, 100, 30).contains("locks you out"));

    // The API Gateway stage name is the same for every Chalice stage, so only "prod" counts.
    type_text(&mut app, "api");
    app.update(key(KeyCode::Enter));
    assert!(
        matches!(editor(&app).prompt, Some(Prompt::ConfirmLockout { .. })),
        "a wrong name was accepted"
    );

    for _ in 0..3 {
        app.update(key(KeyCode::Backspace));
    }
    type_text(&mut app, "prod");
    app.update(key(KeyCode::Enter));
    assert!(
        matches!(editor(&app).overlay, Overlay::Confirm(_)),
        "{:?}",
        app.status
    );
}

#[test]
fn unknown_address_never_blocks_save() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('d')));
    app.update(key(KeyCode::Char('s')));

    assert_eq!(editor(&app).prompt, None);
    assert!(
        matches!(editor(&app).overlay, Overlay::Confirm(_)),
        "{:?}",
        app.status
    );
}

#[test]
fn test_address_lists_every_stage() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    select_row(&mut app, |row| {
        row.api_name.as_deref() == Some("partners") && row.stage == "v1"
    });
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('T')));
    type_text(&mut app, "203.0.113.5");
    app.update(key(KeyCode::Enter));
    let screen = render(&app, 100, 30);

    assert!(screen.contains("Stage v1"), "{screen}");
    assert!(screen.contains("Stage v2"), "{screen}");
    assert!(screen.contains("allowed"), "{screen}");
}

#[test]
fn history_rollback_plans_file_and_live() {
    let project = sample_project();
    let history = tempfile::tempdir().unwrap();
    let mut app = app_with_history(project.path(), history.path());
    let older = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}]}"#;
    app.inventory
        .history
        .as_ref()
        .unwrap()
        .record_before_write(&PolicyVersion {
            recorded_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000),
            region: Some("us-east-1".to_string()),
            account: None,
            rest_api_id: PROD_API.to_string(),
            stage: "api".to_string(),
            chalice_stage: Some("prod".to_string()),
            deployment_id: Some("dep0".to_string()),
            policy: Some(older.to_string()),
            local_file: None,
            local_text: None,
            reason: "before save".to_string(),
        })
        .unwrap();
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('H')));
    let screen = render(&app, 100, 30);
    assert!(screen.contains("deployment dep0"), "{screen}");

    app.update(key(KeyCode::Enter));
    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    assert!(
        matches!(confirm.plan.steps[0], Step::WritePolicyFile { .. }),
        "{:?}",
        confirm.plan.steps
    );
    let Step::CreateDeployment { description, .. } = &confirm.plan.steps[2] else {
        panic!("{:?}", confirm.plan.steps);
    };
    assert!(description.contains("rollback"), "{description}");
    assert_eq!(
        editor(&app).session.entries,
        vec!["192.0.2.0/24".to_string()]
    );

    let effects = app.update(key(KeyCode::Char('y')));
    let [
        Effect::RunSave {
            history: Some(recorder),
            ..
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}");
    };
    assert_eq!(recorder.record.reason, "before rollback");
}

#[test]
fn drift_resolves_both_ways() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    let drifted = PROD_LIVE.replace("198.51.100.17/32", "198.51.100.99/32");
    app.update(Message::RestApiRefreshed {
        rest_api_id: PROD_API.to_string(),
        result: Ok(summary(PROD_API, "ipgate-sample", Some(&drifted))),
    });
    app.update(Message::StagesListed {
        rest_api_id: PROD_API.to_string(),
        result: Ok(vec![stage("api", "dep2")]),
    });
    let prod = app
        .rows
        .iter()
        .find(|row| row.chalice_stage.as_deref() == Some("prod"))
        .unwrap();
    assert_eq!(prod.status.label(), "differ");

    open_editor(&mut app, "prod");
    assert!(render(&app, 120, 30).contains("differ"));
    app.update(key(KeyCode::Char('L')));
    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    assert_eq!(confirm.plan.steps.len(), 1, "{:?}", confirm.plan.steps);
    assert!(matches!(
        confirm.plan.steps[0],
        Step::WritePolicyFile { .. }
    ));

    app.update(key(KeyCode::Char('n')));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('y')));
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('F')));
    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    assert!(
        matches!(confirm.plan.steps[0], Step::UpdatePolicy { .. }),
        "{:?}",
        confirm.plan.steps
    );
    assert!(
        matches!(confirm.plan.steps[1], Step::CreateDeployment { .. }),
        "{:?}",
        confirm.plan.steps
    );
}

#[test]
fn read_only_refuses_save() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    app.read_only = true;
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('d')));
    app.update(key(KeyCode::Char('s')));

    assert_eq!(editor(&app).overlay, Overlay::None);
    assert!(
        app.status.as_ref().unwrap().text.contains("Read-only"),
        "{:?}",
        app.status
    );
}

fn select_row(app: &mut App, predicate: impl Fn(&ipgate::model::StageRow) -> bool) {
    app.home.selected = app.rows.iter().position(predicate).expect("a matching row");
}

#[test]
fn throttling_shows_waiting_not_error() {
    let project = sample_project();
    let mut app = App::new(load_project(project.path()).unwrap(), info(), None);
    app.start();
    app.update(Message::RestApisListed(Ok(vec![summary(
        DEV_API,
        "ipgate-sample",
        None,
    )])));
    for attempt in 2..=4 {
        app.update(Message::AwsWaiting(AwsWait {
            operation: "GetStages",
            rest_api_id: Some(DEV_API.to_string()),
            reason: WaitReason::Throttled,
            delay: Duration::from_secs(2),
            attempt,
        }));
        let status = app.status.clone().unwrap();
        assert!(!status.is_error, "{status:?}");
        assert!(status.text.contains("throttling"), "{status:?}");
    }
    app.update(Message::StagesListed {
        rest_api_id: DEV_API.to_string(),
        result: Ok(vec![stage("api", "dep1")]),
    });

    assert!(app.error_history.is_empty(), "{:?}", app.error_history);
    assert!(!render(&app, 100, 30).contains("failed"));
}

#[test]
fn profile_and_region_switch_relists() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    app.update(key(KeyCode::Char('P')));
    app.update(key(KeyCode::Tab));
    for _ in 0.."us-east-1".len() {
        app.update(key(KeyCode::Backspace));
    }
    type_text(&mut app, "eu-west-1");
    assert!(render(&app, 100, 30).contains("Region:  eu-west-1"));

    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Reconnect(options)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(options.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        options.endpoint_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert!(
        app.rows.iter().all(|row| row.api_name.is_none()),
        "old APIs are still listed"
    );

    let info = ConnectionInfo {
        region: Some("eu-west-1".to_string()),
        ..info()
    };
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(aws_sdk_apigateway::config::BehaviorVersion::latest())
        .region(aws_sdk_apigateway::config::Region::new("eu-west-1"))
        .build();
    let gateway = ipgate::aws::Gateway::from_config(config, info);
    let effects = app.update(Message::Reconnected(gateway));

    assert_eq!(effects, vec![Effect::ListRestApis]);
    assert!(render(&app, 100, 30).contains("eu-west-1"));
}

#[test]
fn add_my_address_uses_known_ip() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    app.my_ip_source = MyIpSource::Given("2001:db8::42".parse().unwrap());
    app.start();
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('m')));
    app.update(key(KeyCode::Char('m')));

    let entries = &editor(&app).session.entries;
    assert_eq!(
        entries
            .iter()
            .filter(|entry| *entry == "2001:db8::42/128")
            .count(),
        1,
        "{entries:?}"
    );
}

#[test]
fn labels_and_sets_show_in_editor() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    let screen = render(&app, 120, 30);

    assert!(screen.contains("Amsterdam office"), "{screen}");
    assert!(screen.contains("[set office]"), "{screen}");
    assert!(screen.contains("VPN gateway"), "{screen}");

    app.update(key(KeyCode::Char('p')));
    assert!(render(&app, 120, 40).contains("# Amsterdam office"));
}

#[test]
fn label_edit_writes_project_file() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "192.0.2.8");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('l')));
    type_text(&mut app, "CI runner");
    app.update(key(KeyCode::Enter));

    let text = std::fs::read_to_string(project.path().join(".chalice/ipgate.json")).unwrap();
    assert!(text.contains("\"192.0.2.8/32\": \"CI runner\""), "{text}");
    assert!(render(&app, 120, 30).contains("CI runner"));
}

#[test]
fn aggregation_merges_only_when_accepted() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    for entry in ["198.51.100.0/25", "198.51.100.128/25"] {
        app.update(key(KeyCode::Char('a')));
        type_text(&mut app, entry);
        app.update(key(KeyCode::Enter));
    }
    app.update(key(KeyCode::Char('A')));
    assert!(matches!(
        editor(&app).prompt,
        Some(Prompt::Aggregate { .. })
    ));
    let screen = render(&app, 120, 40);
    assert!(screen.contains("4 entries become 2"), "{screen}");
    assert!(
        screen.contains("198.51.100.0/25 + 198.51.100.128/25 ->"),
        "{screen}"
    );

    app.update(key(KeyCode::Char('y')));
    let entries = &editor(&app).session.entries;
    assert!(
        entries.contains(&"198.51.100.0/24".to_string()),
        "{entries:?}"
    );
    assert!(
        !entries.contains(&"198.51.100.0/25".to_string()),
        "{entries:?}"
    );
}

#[test]
fn oversized_policy_offers_merge_first() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    open_editor(&mut app, "prod");
    let entries: Vec<String> = (0..600)
        .map(|index| format!("10.0.{}.{}/32", index / 256, index % 256))
        .collect();
    if let Screen::Editor(editor) = &mut app.screen {
        editor.session.replace_all(entries);
    }
    app.update(key(KeyCode::Char('s')));

    assert!(
        matches!(editor(&app).prompt, Some(Prompt::Aggregate { .. })),
        "{:?}",
        app.status
    );
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("accepts at most 8192"),
        "{:?}",
        app.status
    );
    app.update(key(KeyCode::Char('y')));
    app.update(key(KeyCode::Char('s')));
    assert!(
        matches!(editor(&app).overlay, Overlay::Confirm(_)),
        "{:?}",
        app.status
    );
}

#[test]
fn set_change_plans_batch_for_including_stages() {
    let project = sample_project();
    let history = tempfile::tempdir().unwrap();
    let mut app = app_with_history(project.path(), history.path());
    app.update(key(KeyCode::Char('S')));
    assert!(render(&app, 100, 30).contains("office"));

    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "192.0.2.44");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));

    let Screen::Batch(view) = &app.screen else {
        panic!("no batch screen: {:?}", app.status);
    };
    assert_eq!(view.plan.change.added, vec!["192.0.2.44/32".to_string()]);
    assert!(
        view.plan.stages.iter().any(|stage| stage.key == "prod"),
        "{:?}",
        view.plan.stages
    );
    let screen = render(&app, 110, 35);
    assert!(screen.contains("+192.0.2.44/32"), "{screen}");
    let sets_file = project.path().join(".chalice/ipgate.json");
    let text = std::fs::read_to_string(&sets_file).unwrap();
    assert!(
        !text.contains("192.0.2.44/32"),
        "the set file was written before confirming: {text}"
    );

    let effects = app.update(key(KeyCode::Char('y')));
    let text = std::fs::read_to_string(&sets_file).unwrap();
    assert!(
        text.contains("192.0.2.44/32"),
        "the set file was not saved: {text}"
    );
    assert!(
        matches!(effects.as_slice(), [Effect::RunBatch { .. }]),
        "{effects:?}"
    );
    assert!(
        app.has_unsaved_edits(),
        "quitting during a batch must ask first"
    );
}

#[test]
fn set_editor_adds_my_address() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    app.my_ip_source = MyIpSource::Given("192.0.2.61".parse().unwrap());
    app.start();
    app.update(key(KeyCode::Char('S')));
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('m')));
    app.update(key(KeyCode::Enter));

    let Screen::Sets(screen) = &app.screen else {
        panic!("the sets screen closed");
    };
    let editor = screen.editor.as_ref().expect("the set editor is open");
    assert!(
        editor
            .entries
            .iter()
            .any(|entry| entry.cidr == "192.0.2.61/32"),
        "{:?}",
        editor.entries
    );
}

#[test]
fn live_only_mode_saves_live_steps_only() {
    let mut app = App::new(None, info(), None);
    app.start();
    app.update(Message::RestApisListed(Ok(vec![summary(
        OTHER_API, "partners", None,
    )])));
    app.update(Message::StagesListed {
        rest_api_id: OTHER_API.to_string(),
        result: Ok(vec![stage("v1", "dep3")]),
    });
    assert!(render(&app, 100, 30).contains("live only"));

    app.home.selected = 0;
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "203.0.113.7");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));

    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    assert_eq!(confirm.plan.steps.len(), 2, "{:?}", confirm.plan.steps);
    assert!(matches!(confirm.plan.steps[0], Step::UpdatePolicy { .. }));
    assert!(matches!(
        confirm.plan.steps[1],
        Step::CreateDeployment { .. }
    ));
}

#[test]
fn cancelled_set_batch_writes_nothing() {
    let project = sample_project();
    let history = tempfile::tempdir().unwrap();
    let mut app = app_with_history(project.path(), history.path());
    let sets_file = project.path().join(".chalice/ipgate.json");
    let before = std::fs::read_to_string(&sets_file).unwrap();
    app.update(key(KeyCode::Char('S')));
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "198.18.0.0/15");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));
    assert!(matches!(app.screen, Screen::Batch(_)), "{:?}", app.status);

    app.update(key(KeyCode::Char('n')));

    assert_eq!(std::fs::read_to_string(&sets_file).unwrap(), before);
    let Screen::Sets(screen) = &app.screen else {
        panic!("not back on the sets screen");
    };
    let editor = screen
        .editor
        .as_ref()
        .expect("the set editor keeps the edit");
    assert!(
        editor
            .entries
            .iter()
            .any(|entry| entry.cidr == "198.18.0.0/15")
    );
}

#[test]
fn cancelled_rollback_restores_editor() {
    let project = sample_project();
    let history = tempfile::tempdir().unwrap();
    let mut app = app_with_history(project.path(), history.path());
    let older = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}]}"#;
    app.inventory
        .history
        .as_ref()
        .unwrap()
        .record_before_write(&PolicyVersion {
            recorded_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000),
            region: Some("us-east-1".to_string()),
            account: None,
            rest_api_id: PROD_API.to_string(),
            stage: "api".to_string(),
            chalice_stage: Some("prod".to_string()),
            deployment_id: Some("dep0".to_string()),
            policy: Some(older.to_string()),
            local_file: None,
            local_text: None,
            reason: "before save".to_string(),
        })
        .unwrap();
    open_editor(&mut app, "prod");
    let entries_before = editor(&app).session.entries.clone();
    app.update(key(KeyCode::Char('H')));
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('n')));

    assert_eq!(editor(&app).session.entries, entries_before);
    assert_eq!(editor(&app).history_reason, "before save");
}

#[test]
fn shared_statement_edit_redeploys_all() {
    let project = sample_project();
    let mut app = loaded_app(project.path());
    let partners = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}]}"#;
    app.update(Message::RestApiRefreshed {
        rest_api_id: OTHER_API.to_string(),
        result: Ok(summary(OTHER_API, "partners", Some(partners))),
    });
    app.update(Message::StagesListed {
        rest_api_id: OTHER_API.to_string(),
        result: Ok(vec![stage("v1", "dep3"), stage("v2", "dep4")]),
    });
    select_row(&mut app, |row| {
        row.rest_api_id.as_deref() == Some(OTHER_API) && row.stage == "v1"
    });
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('t')));
    app.update(key(KeyCode::Char('a')));
    type_text(&mut app, "198.51.100.0/24");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('s')));

    let Overlay::Confirm(confirm) = &editor(&app).overlay else {
        panic!("no confirmation: {:?}", app.status);
    };
    let deployed: Vec<&str> = confirm
        .plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::CreateDeployment { stage, .. } => Some(stage.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deployed, ["v1", "v2"]);
}
