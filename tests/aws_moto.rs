//! The AWS boundary against moto's API Gateway server, through the real SDK and HTTP stack.
//!
//! Each test starts its own server, so listings see only what that test seeded.

mod common;

use ipgate::aws::AwsErrorKind;
use ipgate::emulator::{self, PythonTools, seed_rest_api, write_deployed_record};

use common::start_moto;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}}]}"#;

#[tokio::test]
async fn lists_two_seeded_apis_and_their_stages() {
    let server = start_moto();
    let client = server.client();
    let alpha = seed_rest_api(&client, "alpha", "api", None).await.unwrap();
    let beta = seed_rest_api(&client, "beta", "prod", Some(POLICY))
        .await
        .unwrap();
    let gateway = server.gateway();

    let mut apis = gateway.list_rest_apis().await.unwrap();
    apis.sort_by(|a, b| a.name.cmp(&b.name));

    assert_eq!(apis.len(), 2);
    assert_eq!(apis[0].id, alpha);
    assert_eq!(apis[0].name, "alpha");
    assert_eq!(apis[0].policy, None);
    assert_eq!(apis[1].id, beta);
    assert_eq!(apis[1].name, "beta");
    assert_eq!(apis[1].policy.as_deref(), Some(POLICY));

    let alpha_stages = gateway.get_stages(&alpha).await.unwrap();
    assert_eq!(alpha_stages.len(), 1);
    assert_eq!(alpha_stages[0].name, "api");
    assert!(alpha_stages[0].deployment_id.is_some());

    let beta_stages = gateway.get_stages(&beta).await.unwrap();
    assert_eq!(beta_stages.len(), 1);
    assert_eq!(beta_stages[0].name, "prod");
    assert!(beta_stages[0].deployment_id.is_some());
}

#[tokio::test]
async fn get_rest_api_without_policy_is_none() {
    let server = start_moto();
    let id = seed_rest_api(&server.client(), "open", "api", None)
        .await
        .unwrap();

    let api = server.gateway().get_rest_api(&id).await.unwrap();

    assert_eq!(api.id, id);
    assert_eq!(api.name, "open");
    assert_eq!(api.policy, None);
}

#[tokio::test]
async fn put_policy_then_get_returns_it() {
    let server = start_moto();
    let id = seed_rest_api(&server.client(), "guarded", "api", None)
        .await
        .unwrap();
    let gateway = server.gateway();

    gateway.put_policy(&id, POLICY).await.unwrap();
    let api = gateway.get_rest_api(&id).await.unwrap();

    // moto stores the text verbatim; AWS would escape it and expand the resource ARNs.
    assert_eq!(api.policy.as_deref(), Some(POLICY));
}

#[tokio::test]
async fn create_deployment_changes_deployment_id() {
    let server = start_moto();
    let id = seed_rest_api(&server.client(), "redeployed", "dev", None)
        .await
        .unwrap();
    let gateway = server.gateway();
    let before = gateway.get_stages(&id).await.unwrap();

    let deployment_id = gateway
        .create_deployment(&id, "dev", "ipgate test")
        .await
        .unwrap();
    let after = gateway.get_stages(&id).await.unwrap();

    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name, "dev");
    assert_eq!(
        after[0].deployment_id.as_deref(),
        Some(deployment_id.as_str())
    );
    assert_ne!(before[0].deployment_id, after[0].deployment_id);
}

#[tokio::test]
async fn missing_rest_api_is_not_found() {
    let server = start_moto();

    let err = server
        .gateway()
        .get_rest_api("nosuchapi")
        .await
        .unwrap_err();

    assert_eq!(err.operation, "GetRestApi");
    assert_eq!(err.kind, AwsErrorKind::Service);
    assert_eq!(err.code.as_deref(), Some("NotFoundException"));
    assert!(err.message.is_some(), "no message in {err:?}");
}

#[tokio::test]
async fn stopped_server_is_unreachable() {
    let mut server = start_moto();
    let gateway = server.gateway();
    server.stop();

    let err = gateway.list_rest_apis().await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Unreachable, "{err:?}");
    assert_eq!(err.code, None);
    assert!(err.detail.contains("dispatch failure"), "{}", err.detail);
}

#[test]
fn deployed_record_matches_chalice_layout() {
    let project = tempfile::tempdir().unwrap();

    write_deployed_record(project.path(), "dev", "abc123", "eu-west-1", "api").unwrap();

    let path = project.path().join(".chalice/deployed/dev.json");
    let text = std::fs::read_to_string(path).unwrap();
    let expected = r#"{
  "resources": [
    {
      "name": "api_handler",
      "resource_type": "rest_api",
      "rest_api_id": "abc123",
      "rest_api_url": "https://abc123.execute-api.eu-west-1.amazonaws.com/api/"
    }
  ],
  "schema_version": "2.0",
  "backend": "api"
}
"#;
    assert_eq!(text, expected);
}

#[test]
fn gateway_info_names_the_emulator() {
    let gateway = emulator::gateway("http://127.0.0.1:4566");

    assert_eq!(gateway.info.profile, None);
    assert_eq!(gateway.info.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        gateway.info.endpoint.as_deref(),
        Some("http://127.0.0.1:4566")
    );
}

/// Installs the pinned tools into a fresh venv, as on a new machine. Downloads about 60
/// packages from PyPI, so it runs only on request: `cargo test --test aws_moto -- --ignored`.
#[test]
#[ignore = "installs the Python tools from PyPI into a temp dir (a minute or more)"]
fn python_tools_install_into_fresh_venv() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let requirements =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/requirements.txt");

    let tools = PythonTools::ensure_at(&venv, &requirements).unwrap();

    assert!(tools.moto_server().exists());
    assert!(tools.chalice().exists());
    let again = PythonTools::ensure_at(&venv, &requirements).unwrap();
    assert_eq!(again.venv(), venv.as_path());
}
