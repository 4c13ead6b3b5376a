//! The AWS boundary against AWS-shaped HTTP replies that moto cannot produce: escaped policies,
//! paging, throttling and service errors. The replies go through the SDK's own replay client,
//! so every request stays in the process.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_apigateway::config::timeout::TimeoutConfig;
use aws_sdk_apigateway::config::{BehaviorVersion, Credentials, IdentityCache, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use ipgate::aws::{AwsErrorKind, ConnectionInfo, Gateway, RetryPolicy};
use ipgate::emulator;
use tokio::time::Instant;

const ENDPOINT: &str = "http://127.0.0.1:1";

/// A policy as AWS returns it: quotes come back as `\"` and slashes as `\/`.
const ESCAPED_POLICY: &str = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:us-east-1:123456789012:abc123\/*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":[\"203.0.113.0\/24\"]}}}]}"#;

/// Builds an SDK config on `replay`. The throttling tests pause tokio's clock, so ipgate's
/// retry waits (honouring `Retry-After`) pass in virtual time.
fn config_builder(replay: &StaticReplayClient) -> aws_sdk_apigateway::config::Builder {
    aws_sdk_apigateway::Config::builder()
        .http_client(replay.clone())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "replay"))
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(ENDPOINT)
}

fn gateway_from(config: aws_sdk_apigateway::Config) -> Gateway {
    let info = ConnectionInfo {
        profile: None,
        region: Some("us-east-1".to_string()),
        endpoint: Some(ENDPOINT.to_string()),
    };
    Gateway::from_config(config, info)
}

fn replay_gateway(events: Vec<ReplayEvent>) -> (Gateway, StaticReplayClient) {
    let replay = StaticReplayClient::new(events);
    let gateway = gateway_from(config_builder(&replay).build());
    (gateway, replay)
}

fn event(method: &str, path: &str, response: http::Response<SdkBody>) -> ReplayEvent {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{ENDPOINT}{path}"))
        .body(SdkBody::empty())
        .unwrap();
    ReplayEvent::new(request, response)
}

fn json_reply(status: u16, request_id: &str, body: serde_json::Value) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn error_reply(
    status: u16,
    request_id: &str,
    code: &str,
    message: &str,
) -> http::Response<SdkBody> {
    let mut reply = http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .header("x-amzn-ErrorType", code);
    if status == 429 {
        reply = reply.header("Retry-After", "1");
    }
    reply
        .body(SdkBody::from(
            serde_json::json!({ "message": message }).to_string(),
        ))
        .unwrap()
}

fn rest_api_json(id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": name,
        "createdDate": 1_700_000_000,
        "apiKeySource": "HEADER",
        "endpointConfiguration": { "types": ["REGIONAL"] },
        "disableExecuteApiEndpoint": false,
        "rootResourceId": "root1"
    })
}

/// Collects the query of each request the replay client received, as `name=value` strings.
fn request_queries(replay: &StaticReplayClient) -> Vec<BTreeSet<String>> {
    replay
        .actual_requests()
        .map(|request| {
            let uri: http::Uri = request.uri().parse().unwrap();
            uri.query()
                .unwrap_or("")
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn request_bodies(replay: &StaticReplayClient) -> Vec<serde_json::Value> {
    replay
        .actual_requests()
        .map(|request| {
            let bytes = request.body().bytes().unwrap_or(&[]);
            if bytes.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(bytes).unwrap()
            }
        })
        .collect()
}

#[tokio::test]
async fn escaped_policy_is_returned_unchanged() {
    let mut api = rest_api_json("abc123", "shop");
    api["policy"] = ESCAPED_POLICY.into();
    let (gateway, replay) = replay_gateway(vec![event(
        "GET",
        "/restapis/abc123",
        json_reply(200, "req-1", api),
    )]);

    let summary = gateway.get_rest_api("abc123").await.unwrap();

    assert_eq!(summary.id, "abc123");
    assert_eq!(summary.name, "shop");
    assert_eq!(summary.policy.as_deref(), Some(ESCAPED_POLICY));
    assert_eq!(summary.endpoint_types, vec!["REGIONAL".to_string()]);
    replay.relaxed_requests_match();
}

#[tokio::test]
async fn absent_policy_is_none() {
    let api = rest_api_json("abc123", "shop");
    let (gateway, _replay) = replay_gateway(vec![event(
        "GET",
        "/restapis/abc123",
        json_reply(200, "req-1", api),
    )]);

    let summary = gateway.get_rest_api("abc123").await.unwrap();

    assert_eq!(summary.policy, None);
}

#[tokio::test]
async fn empty_policy_is_kept_as_empty() {
    let mut api = rest_api_json("abc123", "shop");
    api["policy"] = "".into();
    let (gateway, _replay) = replay_gateway(vec![event(
        "GET",
        "/restapis/abc123",
        json_reply(200, "req-1", api),
    )]);

    let summary = gateway.get_rest_api("abc123").await.unwrap();

    assert_eq!(summary.policy.as_deref(), Some(""));
}

#[tokio::test]
async fn list_follows_position_to_last_page() {
    let first = serde_json::json!({
        "item": [rest_api_json("a1", "one"), rest_api_json("a2", "two")],
        "position": "page-2-token"
    });
    let second = serde_json::json!({ "item": [rest_api_json("a3", "three")] });
    let (gateway, replay) = replay_gateway(vec![
        event(
            "GET",
            "/restapis?limit=500",
            json_reply(200, "req-1", first),
        ),
        event(
            "GET",
            "/restapis?limit=500&position=page-2-token",
            json_reply(200, "req-2", second),
        ),
    ]);

    let apis = gateway.list_rest_apis().await.unwrap();

    let ids: Vec<&str> = apis.iter().map(|api| api.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    let queries = request_queries(&replay);
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[0], BTreeSet::from(["limit=500".to_string()]));
    assert_eq!(
        queries[1],
        BTreeSet::from(["limit=500".to_string(), "position=page-2-token".to_string()])
    );
}

#[tokio::test]
async fn list_stops_on_repeated_position() {
    let first = serde_json::json!({ "item": [rest_api_json("a1", "one")], "position": "same" });
    let second = serde_json::json!({ "item": [rest_api_json("a2", "two")], "position": "same" });
    let (gateway, replay) = replay_gateway(vec![
        event(
            "GET",
            "/restapis?limit=500",
            json_reply(200, "req-1", first),
        ),
        event(
            "GET",
            "/restapis?limit=500&position=same",
            json_reply(200, "req-2", second),
        ),
    ]);

    let apis = gateway.list_rest_apis().await.unwrap();

    assert_eq!(apis.len(), 2);
    assert_eq!(replay.actual_requests().count(), 2);
}

#[tokio::test(start_paused = true)]
async fn throttled_once_then_succeeds() {
    let (gateway, replay) = replay_gateway(vec![
        event(
            "GET",
            "/restapis/abc123",
            error_reply(
                429,
                "req-1",
                "TooManyRequestsException",
                "Too Many Requests",
            ),
        ),
        event(
            "GET",
            "/restapis/abc123",
            json_reply(200, "req-2", rest_api_json("abc123", "shop")),
        ),
    ]);
    let started = Instant::now();

    let summary = gateway.get_rest_api("abc123").await.unwrap();

    assert_eq!(summary.id, "abc123");
    assert_eq!(replay.actual_requests().count(), 2);
    // The reply's Retry-After is 1 s.
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn throttled_every_attempt_is_throttled() {
    let throttled = |request_id: String| {
        event(
            "GET",
            "/restapis/abc123",
            error_reply(
                429,
                &request_id,
                "TooManyRequestsException",
                "Too Many Requests",
            ),
        )
    };
    let attempts = RetryPolicy::default().throttled_attempts;
    let (gateway, replay) = replay_gateway(
        (1..=attempts)
            .map(|n| throttled(format!("req-{n}")))
            .collect(),
    );

    let err = gateway.get_rest_api("abc123").await.unwrap_err();

    assert_eq!(err.operation, "GetRestApi");
    assert_eq!(err.kind, AwsErrorKind::Throttled);
    assert_eq!(err.code.as_deref(), Some("TooManyRequestsException"));
    assert_eq!(err.message.as_deref(), Some("Too Many Requests"));
    assert_eq!(
        err.request_id.as_deref(),
        Some(format!("req-{attempts}").as_str())
    );
    assert_eq!(err.rest_api_id.as_deref(), Some("abc123"));
    assert_eq!(replay.actual_requests().count(), attempts as usize);
}

#[tokio::test(start_paused = true)]
async fn http_429_without_code_is_throttled() {
    let reply = || {
        http::Response::builder()
            .status(429)
            .header("x-amzn-RequestId", "req-429")
            .body(SdkBody::from("{}"))
            .unwrap()
    };
    let attempts = RetryPolicy::default().throttled_attempts;
    let (gateway, replay) = replay_gateway(
        (0..attempts)
            .map(|_| event("GET", "/restapis/abc123", reply()))
            .collect(),
    );

    let err = gateway.get_rest_api("abc123").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Throttled, "{err:?}");
    assert_eq!(replay.actual_requests().count(), attempts as usize);
}

#[tokio::test]
async fn put_policy_ok_then_deployment_rejected() {
    let mut updated = rest_api_json("abc123", "shop");
    updated["policy"] = ESCAPED_POLICY.into();
    let (gateway, replay) = replay_gateway(vec![
        event(
            "PATCH",
            "/restapis/abc123",
            json_reply(200, "req-1", updated),
        ),
        event(
            "POST",
            "/restapis/abc123/deployments",
            error_reply(
                400,
                "req-2",
                "BadRequestException",
                "No integration defined for method",
            ),
        ),
    ]);
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;

    gateway.put_policy("abc123", policy).await.unwrap();
    let err = gateway
        .create_deployment("abc123", "api", "ipgate: allowlist")
        .await
        .unwrap_err();

    assert_eq!(err.operation, "CreateDeployment");
    assert_eq!(err.kind, AwsErrorKind::Service);
    assert_eq!(err.code.as_deref(), Some("BadRequestException"));
    assert_eq!(
        err.message.as_deref(),
        Some("No integration defined for method")
    );
    assert_eq!(err.request_id.as_deref(), Some("req-2"));
    assert_eq!(
        err.summary(),
        "BadRequestException: No integration defined for method"
    );

    let bodies = request_bodies(&replay);
    assert_eq!(
        bodies[0],
        serde_json::json!({ "patchOperations": [{ "op": "replace", "path": "/policy", "value": policy }] })
    );
    // Only the stage name and description: the stage keeps its variables and settings.
    assert_eq!(
        bodies[1],
        serde_json::json!({ "stageName": "api", "description": "ipgate: allowlist" })
    );
    let requests: Vec<(String, String)> = replay
        .actual_requests()
        .map(|request| (request.method().to_string(), request.uri().to_string()))
        .collect();
    assert_eq!(
        requests,
        [
            ("PATCH".to_string(), format!("{ENDPOINT}/restapis/abc123")),
            (
                "POST".to_string(),
                format!("{ENDPOINT}/restapis/abc123/deployments")
            ),
        ]
    );
}

#[tokio::test]
async fn create_deployment_returns_id() {
    let deployment = serde_json::json!({ "id": "dep42", "createdDate": 1_700_000_000 });
    let (gateway, _replay) = replay_gateway(vec![event(
        "POST",
        "/restapis/abc123/deployments",
        json_reply(201, "req-1", deployment),
    )]);

    let id = gateway
        .create_deployment("abc123", "api", "ipgate")
        .await
        .unwrap();

    assert_eq!(id, "dep42");
}

#[tokio::test]
async fn create_deployment_without_id_fails() {
    let (gateway, _replay) = replay_gateway(vec![event(
        "POST",
        "/restapis/abc123/deployments",
        json_reply(201, "req-1", serde_json::json!({})),
    )]);

    let err = gateway
        .create_deployment("abc123", "api", "ipgate")
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Other);
    assert!(err.detail.contains("no deployment id"), "{}", err.detail);
}

#[tokio::test]
async fn stages_carry_deployment_and_update_time() {
    let stages = serde_json::json!({
        "item": [
            { "stageName": "api", "deploymentId": "dep1", "lastUpdatedDate": 1_700_000_000 },
            { "stageName": "prod" }
        ]
    });
    let deployments = serde_json::json!({
        "item": [ { "id": "dep1", "createdDate": 1_700_000_500 } ]
    });
    let (gateway, _replay) = replay_gateway(vec![
        event(
            "GET",
            "/restapis/abc123/stages",
            json_reply(200, "req-1", stages),
        ),
        event(
            "GET",
            "/restapis/abc123/deployments",
            json_reply(200, "req-2", deployments),
        ),
    ]);

    let stages = gateway.get_stages("abc123").await.unwrap();

    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name, "api");
    assert_eq!(stages[0].deployment_id.as_deref(), Some("dep1"));
    assert_eq!(
        stages[0].last_deployed,
        Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_500))
    );
    assert_eq!(stages[1].name, "prod");
    assert_eq!(stages[1].deployment_id, None);
    assert_eq!(stages[1].last_deployed, None);
}

#[derive(Debug)]
struct FailingCredentials;

impl ProvideCredentials for FailingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no credentials in this test",
        )))
    }
}

#[tokio::test]
async fn failing_credentials_provider_is_credentials() {
    let replay = StaticReplayClient::new(vec![]);
    let config = config_builder(&replay)
        .credentials_provider(FailingCredentials)
        .build();

    let err = gateway_from(config).list_rest_apis().await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Credentials, "{err:?}");
    assert_eq!(replay.actual_requests().count(), 0);
}

#[derive(Debug)]
struct HangingCredentials;

impl ProvideCredentials for HangingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(std::future::pending())
    }
}

#[tokio::test]
async fn hanging_credentials_provider_is_credentials() {
    let replay = StaticReplayClient::new(vec![]);
    let cache = IdentityCache::lazy()
        .load_timeout(Duration::from_millis(100))
        .build();
    let config = config_builder(&replay)
        .credentials_provider(HangingCredentials)
        .identity_cache(cache)
        .build();

    let err = gateway_from(config).list_rest_apis().await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Credentials, "{err:?}");
    assert_eq!(replay.actual_requests().count(), 0);
}

/// A listener that accepts connections but never responds, so the operation timeout fires on
/// each attempt. Real time, so the retry policy keeps the backoff short.
#[tokio::test]
async fn silent_server_is_timed_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let config = emulator::sdk_config(&endpoint)
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(300))
                .build(),
        )
        .build();
    let policy = RetryPolicy {
        transient_attempts: 2,
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let started = Instant::now();

    let err = gateway_from(config)
        .with_retry_policy(policy)
        .list_rest_apis()
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::TimedOut, "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "two attempts of 300 ms took {:?}",
        started.elapsed()
    );
    drop(listener);
}
