//! End-to-end runs of the `ipgate` binary in a pseudo-terminal, against moto's API Gateway.
//!
//! Each test starts its own moto server on a free loopback port and deploys its own copy of the
//! sample project, so the tests can run in parallel. Every wait polls the parsed screen and fails
//! after 30 s with the screen and the end of the ipgate log.

mod e2e_support;

use ipgate::core::live::{decode_live_policy, same_meaning};
use ipgate::core::resource::ApiContext;
use ipgate::emulator::REGION;
use serde_json::Value;

use e2e_support::{DenyingServer, Fixture, PtySession, STANDARD_SIZE, TerminalSize};

// Texts the UI shows, in one place so that a reworded screen needs one change here.
const ADD_PROMPT: &str = "Type an IPv4 or IPv6 address";
const CONFIRM_TITLE: &str = "Confirm save";
const SAVE_DONE: &str = "Done: policy file written";
const QUIT_QUESTION: &str = "Quit and lose them?";
const MODIFIED_MARK: &str = "(modified)";
const TOO_SMALL: &str = "too small";
const PANIC_MESSAGE: &str = "panicking on purpose";

const CTRL_C: &str = "\x03";
const ENTER: &str = "\r";
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";

/// The API Gateway stage that both Chalice stages of the sample project deploy to.
const GATEWAY_STAGE: &str = "api";

#[test]
fn save_prod_updates_file_live_policy_and_deployment() {
    let fixture = Fixture::start();
    let api_id = fixture.api_id("prod");
    let deployment_before = stage_deployment_id(&fixture, &api_id);
    let mut app = fixture.launch(STANDARD_SIZE);

    open_stage_editor(&mut app, &fixture, "prod");
    app.wait_for_text("198.51.100.17/32");
    add_cidr(&mut app, "198.51.100.7", "198.51.100.7/32");
    let confirmation = save(&mut app);
    assert!(
        confirmation.contains("write .chalice/apigw-policy-prod.json"),
        "the confirmation does not list the file write:\n{confirmation}"
    );
    app.wait_for_text(SAVE_DONE);
    app.send(ENTER);
    app.wait_for_text("filter: prod");
    app.send(CTRL_C);
    let status = app.wait_for_exit();

    assert!(status.success(), "ipgate exited with {status:?}");

    let policy_path = fixture
        .project_dir()
        .join(".chalice/apigw-policy-prod.json");
    let policy_text = std::fs::read_to_string(&policy_path).expect("read the prod policy file");
    assert_eq!(
        policy_text.matches("198.51.100.7/32").count(),
        1,
        "the policy file should list the new CIDR once:\n{policy_text}"
    );
    let file_policy = parse_json(&policy_text);

    let live_policy = live_policy(&fixture, &api_id);
    assert!(
        same_meaning(
            Some(&live_policy),
            Some(&file_policy),
            &api_context(&api_id)
        ),
        "the live policy differs from the file:\nlive: {live_policy}\nfile: {file_policy}"
    );

    let deployment_after = stage_deployment_id(&fixture, &api_id);
    assert_ne!(
        deployment_after, deployment_before,
        "stage {GATEWAY_STAGE} still serves the old deployment"
    );
}

#[test]
fn save_dev_creates_policy_file_and_config_key() {
    let fixture = Fixture::start();
    let config_path = fixture.project_dir().join(".chalice/config.json");
    let config_before = std::fs::read_to_string(&config_path).expect("read config.json");
    let api_id = fixture.api_id("dev");
    let mut app = fixture.launch(STANDARD_SIZE);

    open_stage_editor(&mut app, &fixture, "dev");
    add_cidr(&mut app, "192.0.2.10", "192.0.2.10/32");
    let confirmation = save(&mut app);
    assert!(
        confirmation.contains("write .chalice/apigw-policy-dev.json"),
        "the confirmation does not list the file write:\n{confirmation}"
    );
    assert!(
        confirmation.contains("config.json"),
        "the confirmation does not list the config.json change:\n{confirmation}"
    );
    app.wait_for_text(SAVE_DONE);
    app.send(ENTER);
    app.wait_for_text("filter: dev");
    app.send(CTRL_C);
    let status = app.wait_for_exit();

    assert!(status.success(), "ipgate exited with {status:?}");

    let policy_path = fixture.project_dir().join(".chalice/apigw-policy-dev.json");
    let policy_text = std::fs::read_to_string(&policy_path).expect("read the new dev policy file");
    assert!(
        policy_text.contains("192.0.2.10/32"),
        "the new policy file lacks the CIDR:\n{policy_text}"
    );
    let file_policy = parse_json(&policy_text);
    let live_policy = live_policy(&fixture, &api_id);
    assert!(
        same_meaning(
            Some(&live_policy),
            Some(&file_policy),
            &api_context(&api_id)
        ),
        "the live policy differs from the file:\nlive: {live_policy}\nfile: {file_policy}"
    );

    let config_after = std::fs::read_to_string(&config_path).expect("read config.json");
    let config = parse_json(&config_after);
    assert_eq!(
        config["stages"]["dev"]["api_gateway_policy_file"],
        Value::from("apigw-policy-dev.json"),
        "config.json:\n{config_after}"
    );
    assert_only_line_added(&config_before, &config_after, "\"api_gateway_policy_file\"");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "IPGATE_DEBUG_PANIC only panics in debug builds"
)]
fn panic_restores_terminal_before_message() {
    let fixture = Fixture::start();
    let endpoint = fixture.server.endpoint();
    let mut app = fixture.launch_with(STANDARD_SIZE, &endpoint, &[("IPGATE_DEBUG_PANIC", "1")]);

    let status = app.wait_for_exit();

    assert!(
        !status.success(),
        "ipgate exited with {status:?} after a panic"
    );
    let raw = app.raw_output();
    let Some(message_at) = find(&raw, PANIC_MESSAGE.as_bytes()) else {
        app.fail("the output lacks the panic message");
    };
    let Some(leave_at) = find(&raw, LEAVE_ALTERNATE_SCREEN) else {
        app.fail("the output never leaves the alternate screen");
    };
    assert!(
        leave_at < message_at,
        "the panic message (byte {message_at}) came before leaving the alternate screen (byte \
         {leave_at})"
    );
    assert!(
        !app.on_alternate_screen(),
        "the terminal is still on the alternate screen"
    );
    let screen = app.screen_text();
    let Some(message_row) = screen.lines().position(|line| line.contains(PANIC_MESSAGE)) else {
        app.fail("the normal screen does not show the panic message");
    };
    // The shell prompt appears at the cursor, so the cursor must stay below the message.
    let (cursor_row, _) = app.cursor_position();
    assert!(
        usize::from(cursor_row) > message_row,
        "the cursor went back to row {cursor_row}, so the next output overwrites the panic \
         message on row {message_row}:\n{screen}"
    );
}

#[test]
fn tiny_terminal_shows_too_small() {
    let fixture = Fixture::start();
    let mut app = fixture.launch(TerminalSize { cols: 20, rows: 5 });

    app.wait_for_text(TOO_SMALL);
    app.send(CTRL_C);
    let status = app.wait_for_exit();

    assert!(status.success(), "ipgate exited with {status:?}");
}

#[test]
fn ctrl_c_with_unsaved_edits_asks_first() {
    let fixture = Fixture::start();
    let api_id = fixture.api_id("prod");
    let policy_path = fixture
        .project_dir()
        .join(".chalice/apigw-policy-prod.json");
    let policy_before = std::fs::read(&policy_path).expect("read the prod policy file");
    let live_before = live_policy(&fixture, &api_id);
    let mut app = fixture.launch(STANDARD_SIZE);

    open_stage_editor(&mut app, &fixture, "prod");
    add_cidr(&mut app, "198.51.100.7", "198.51.100.7/32");
    app.send(CTRL_C);
    app.wait_for_text(QUIT_QUESTION);
    app.send("n");
    let screen = app.wait_for_text_gone(QUIT_QUESTION);
    assert!(
        screen.contains("198.51.100.7/32"),
        "the editor lost the unsaved entry after staying:\n{screen}"
    );
    assert!(
        screen.contains(MODIFIED_MARK),
        "the editor no longer marks the stage as modified after staying:\n{screen}"
    );
    app.send(CTRL_C);
    app.wait_for_text(QUIT_QUESTION);
    app.send("y");
    let status = app.wait_for_exit();

    assert!(status.success(), "ipgate exited with {status:?}");
    let policy_after = std::fs::read(&policy_path).expect("read the prod policy file");
    assert!(
        policy_after == policy_before,
        "the policy file changed although the edit was not saved:\n{}",
        String::from_utf8_lossy(&policy_after)
    );
    assert_eq!(
        live_policy(&fixture, &api_id),
        live_before,
        "the live policy changed"
    );
}

#[test]
fn access_denied_is_shown_and_printed_on_exit() {
    let fixture = Fixture::start();
    let denying = DenyingServer::start();
    let mut app = fixture.launch_with(STANDARD_SIZE, &denying.endpoint(), &[]);

    app.wait_for_text("AccessDeniedException");
    app.send(CTRL_C);
    app.wait_for_exit();

    assert!(
        denying.request_count() > 0,
        "ipgate sent no request to the denying endpoint"
    );
    let raw = app.raw_output();
    let Some(leave_at) = rfind(&raw, LEAVE_ALTERNATE_SCREEN) else {
        app.fail("the output never leaves the alternate screen");
    };
    let after_restore = String::from_utf8_lossy(&raw[leave_at + LEAVE_ALTERNATE_SCREEN.len()..]);
    assert!(
        after_restore.contains("AccessDeniedException"),
        "the output after the terminal was restored lacks the error:\n{after_restore}"
    );
    let log = app.log_text();
    assert!(
        log.contains(DenyingServer::REQUEST_ID),
        "the log lacks the request id {}:\n{log}",
        DenyingServer::REQUEST_ID
    );
}

/// Filters the stage list to `chalice_stage`'s row and opens its editor.
fn open_stage_editor(app: &mut PtySession, fixture: &Fixture, chalice_stage: &str) {
    let api_id = fixture.api_id(chalice_stage);
    let other_ids: Vec<String> = fixture
        .deployment
        .chalice_apis
        .iter()
        .filter(|(stage, _)| stage != chalice_stage)
        .map(|(_, id)| id.clone())
        .chain([fixture.deployment.partners_api.clone()])
        .collect();

    app.wait_for_text(&api_id);
    app.send("/");
    app.send(chalice_stage);
    app.wait_until(
        &format!("only the row of REST API {api_id} is listed"),
        |screen| {
            screen.contains(&api_id) && !other_ids.iter().any(|id| screen.contains(id.as_str()))
        },
    );
    app.send(ENTER);
    app.wait_for_text(&format!("filter: {chalice_stage}"));
    app.send(ENTER);
    app.wait_for_text(&format!("Allowlist of stage {GATEWAY_STAGE}"));
}

/// Adds `typed` to the open allowlist and waits until the editor lists it as `listed`.
fn add_cidr(app: &mut PtySession, typed: &str, listed: &str) {
    app.send("a");
    app.wait_for_text(ADD_PROMPT);
    app.send(typed);
    app.wait_for_text(&format!("valid: {listed}"));
    app.send(ENTER);
    app.wait_for_text(&format!("Added {listed}"));
}

/// Opens the save confirmation, runs the steps and returns the confirmation screen.
fn save(app: &mut PtySession) -> String {
    app.send("s");
    let confirmation = app.wait_for_text(CONFIRM_TITLE);
    app.send("y");
    confirmation
}

fn stage_deployment_id(fixture: &Fixture, api_id: &str) -> Option<String> {
    let stages = fixture
        .runtime
        .block_on(fixture.server.gateway().get_stages(api_id))
        .expect("GetStages on moto");
    stages
        .into_iter()
        .find(|stage| stage.name == GATEWAY_STAGE)
        .unwrap_or_else(|| panic!("REST API {api_id} has no stage {GATEWAY_STAGE}"))
        .deployment_id
}

/// Returns the live policy of `api_id` as a document; fails when the REST API has none.
fn live_policy(fixture: &Fixture, api_id: &str) -> Value {
    let api = fixture
        .runtime
        .block_on(fixture.server.gateway().get_rest_api(api_id))
        .expect("GetRestApi on moto");
    decode_live_policy(api.policy.as_deref())
        .expect("decode the live policy")
        .unwrap_or_else(|| panic!("REST API {api_id} has no live policy"))
}

fn api_context(api_id: &str) -> ApiContext {
    ApiContext {
        region: Some(REGION.to_string()),
        account: None,
        api_id: Some(api_id.to_string()),
    }
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("invalid JSON ({error}):\n{text}"))
}

/// Asserts that `after` is `before` with one line containing `added_key` inserted, where the
/// line above it may only have gained the comma that JSON needs between members.
fn assert_only_line_added(before: &str, after: &str, added_key: &str) {
    let before_lines: Vec<&str> = before.lines().collect();
    let mut after_lines: Vec<&str> = after.lines().collect();
    let positions: Vec<usize> = after_lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.contains(added_key))
        .map(|(index, _)| index)
        .collect();
    let before_count = before_lines
        .iter()
        .filter(|line| line.contains(added_key))
        .count();
    assert_eq!(
        positions.len(),
        before_count + 1,
        "expected one more line with {added_key}:\n{after}"
    );
    // The new line is the one whose position has no counterpart in `before`.
    let added_at = positions
        .iter()
        .copied()
        .find(|&index| before_lines.get(index) != Some(&after_lines[index]))
        .unwrap_or_else(|| panic!("no new line with {added_key}:\n{after}"));
    after_lines.remove(added_at);

    assert_eq!(
        after_lines.len(),
        before_lines.len(),
        "config.json gained or lost other lines:\n{after}"
    );
    for (index, (old, new)) in before_lines.iter().zip(&after_lines).enumerate() {
        let comma_added = index + 1 == added_at && *new == format!("{old},");
        assert!(
            old == new || comma_added,
            "config.json line {} changed:\nbefore: {old}\nafter:  {new}",
            index + 1
        );
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}
