//! Retries, waits and error context of the AWS boundary: throttling with `Retry-After`, server
//! errors, timeouts and CreateDeployment pacing.
//!
//! Replies come from the SDK's replay client, and most tests run with tokio's clock paused, so
//! every backoff and pacing wait passes in virtual time and the elapsed time is exact.

use std::time::Duration;

use aws_sdk_apigateway::config::timeout::TimeoutConfig;
use aws_sdk_apigateway::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{NeverClient, ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use ipgate::aws::{
    AwsError, AwsErrorKind, AwsWait, ConnectionInfo, DEPLOYMENT_INTERVAL, Gateway, RetryPolicy,
    WaitReason,
};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::Instant;

const ENDPOINT: &str = "http://127.0.0.1:1";

fn config_builder() -> aws_sdk_apigateway::config::Builder {
    aws_sdk_apigateway::Config::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "faults"))
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(ENDPOINT)
}

fn info() -> ConnectionInfo {
    ConnectionInfo {
        profile: None,
        region: Some("us-east-1".to_string()),
        endpoint: Some(ENDPOINT.to_string()),
    }
}

/// Builds a gateway on a replay client, with a receiver for its wait notices.
fn observed_gateway(
    events: Vec<ReplayEvent>,
) -> (Gateway, StaticReplayClient, UnboundedReceiver<AwsWait>) {
    let replay = StaticReplayClient::new(events);
    let config = config_builder().http_client(replay.clone()).build();
    let (sender, receiver) = mpsc::unbounded_channel();
    let gateway = Gateway::from_config(config, info()).with_wait_observer(sender);
    (gateway, replay, receiver)
}

fn waits(receiver: &mut UnboundedReceiver<AwsWait>) -> Vec<AwsWait> {
    let mut waits = Vec::new();
    while let Ok(wait) = receiver.try_recv() {
        waits.push(wait);
    }
    waits
}

fn event(method: &str, path: &str, response: http::Response<SdkBody>) -> ReplayEvent {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{ENDPOINT}{path}"))
        .body(SdkBody::empty())
        .unwrap();
    ReplayEvent::new(request, response)
}

fn rest_api_reply(request_id: &str) -> http::Response<SdkBody> {
    let body = serde_json::json!({
        "id": "abc123",
        "name": "shop",
        "createdDate": 1_700_000_000,
        "endpointConfiguration": { "types": ["REGIONAL"] }
    });
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn deployment_reply(request_id: &str, id: &str) -> http::Response<SdkBody> {
    let body = serde_json::json!({ "id": id, "createdDate": 1_700_000_000 });
    http::Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

/// Builds an API Gateway error reply. `retry_after` sets the `Retry-After` header, in seconds.
fn error_reply(
    status: u16,
    request_id: &str,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> http::Response<SdkBody> {
    let mut reply = http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .header("x-amzn-ErrorType", code);
    if let Some(seconds) = retry_after {
        reply = reply.header("Retry-After", seconds.to_string());
    }
    reply
        .body(SdkBody::from(
            serde_json::json!({ "message": message }).to_string(),
        ))
        .unwrap()
}

fn throttled_get(request_id: &str, retry_after: Option<u64>) -> ReplayEvent {
    event(
        "GET",
        "/restapis/abc123",
        error_reply(
            429,
            request_id,
            "TooManyRequestsException",
            "Too Many Requests",
            retry_after,
        ),
    )
}

fn unavailable_get(request_id: &str) -> ReplayEvent {
    event(
        "GET",
        "/restapis/abc123",
        error_reply(
            503,
            request_id,
            "ServiceUnavailableException",
            "Service Unavailable",
            None,
        ),
    )
}

#[tokio::test(start_paused = true)]
async fn throttle_burst_waits_retry_after() {
    let (gateway, replay, mut receiver) = observed_gateway(vec![
        throttled_get("req-1", Some(2)),
        throttled_get("req-2", Some(2)),
        throttled_get("req-3", Some(2)),
        throttled_get("req-4", Some(2)),
        event("GET", "/restapis/abc123", rest_api_reply("req-5")),
    ]);
    let started = Instant::now();

    let summary = gateway.get_rest_api("abc123").await;

    assert_eq!(summary.unwrap().id, "abc123");
    assert_eq!(replay.actual_requests().count(), 5);
    assert_eq!(started.elapsed(), Duration::from_secs(8));
    let waits = waits(&mut receiver);
    assert_eq!(waits.len(), 4, "{waits:?}");
    for (index, wait) in waits.iter().enumerate() {
        assert_eq!(wait.operation, "GetRestApi");
        assert_eq!(wait.rest_api_id.as_deref(), Some("abc123"));
        assert_eq!(wait.reason, WaitReason::Throttled);
        assert_eq!(wait.delay, Duration::from_secs(2));
        assert_eq!(wait.attempt, index as u32 + 2);
    }
}

#[tokio::test(start_paused = true)]
async fn throttled_past_attempt_limit_fails() {
    let attempts = RetryPolicy::default().throttled_attempts;
    let events = (1..=attempts)
        .map(|n| throttled_get(&format!("req-{n}"), Some(1)))
        .collect();
    let (gateway, replay, mut receiver) = observed_gateway(events);

    let err = gateway.get_rest_api("abc123").await.unwrap_err();

    assert_eq!(err.operation, "GetRestApi");
    assert_eq!(err.kind, AwsErrorKind::Throttled);
    assert_eq!(err.code.as_deref(), Some("TooManyRequestsException"));
    assert_eq!(
        err.request_id.as_deref(),
        Some(format!("req-{attempts}").as_str())
    );
    assert_eq!(err.rest_api_id.as_deref(), Some("abc123"));
    assert_eq!(err.stage, None);
    assert_eq!(replay.actual_requests().count(), attempts as usize);
    assert_eq!(waits(&mut receiver).len(), attempts as usize - 1);
}

#[tokio::test(start_paused = true)]
async fn throttled_without_retry_after_backs_off() {
    let events = vec![
        throttled_get("req-1", None),
        throttled_get("req-2", None),
        throttled_get("req-3", None),
        throttled_get("req-4", None),
        throttled_get("req-5", None),
        event("GET", "/restapis/abc123", rest_api_reply("req-6")),
    ];
    let (gateway, _replay, mut receiver) = observed_gateway(events);

    gateway.get_rest_api("abc123").await.unwrap();

    let delays: Vec<Duration> = waits(&mut receiver).iter().map(|wait| wait.delay).collect();
    assert_eq!(delays.len(), 5, "{delays:?}");
    // Equal jitter: between half and all of 1, 2, 4, 8 and 16 seconds.
    for (index, delay) in delays.iter().enumerate() {
        let ceiling = Duration::from_secs(1 << index);
        assert!(*delay >= ceiling / 2, "wait {index} is {delay:?}");
        assert!(*delay <= ceiling, "wait {index} is {delay:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_is_capped_at_max_delay() {
    let policy = RetryPolicy {
        throttled_attempts: 10,
        deadline: Duration::from_secs(600),
        ..RetryPolicy::default()
    };
    let mut events: Vec<ReplayEvent> = (1..=9)
        .map(|n| throttled_get(&format!("req-{n}"), None))
        .collect();
    events.push(event("GET", "/restapis/abc123", rest_api_reply("req-10")));
    let (gateway, _replay, mut receiver) = observed_gateway(events);
    let gateway = gateway.with_retry_policy(policy);

    gateway.get_rest_api("abc123").await.unwrap();

    let waits = waits(&mut receiver);
    assert_eq!(waits.len(), 9);
    assert!(
        waits.iter().all(|wait| wait.delay <= policy.max_delay),
        "{waits:?}"
    );
    assert!(waits[8].delay >= policy.max_delay / 2, "{waits:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_deadline_gives_up() {
    let (gateway, replay, mut receiver) = observed_gateway(vec![
        throttled_get("req-1", Some(45)),
        throttled_get("req-2", Some(45)),
        event("GET", "/restapis/abc123", rest_api_reply("req-3")),
    ]);
    let started = Instant::now();

    let err = gateway.get_rest_api("abc123").await.unwrap_err();

    // The second wait would end 90 s after the first attempt, past the 60 s deadline.
    assert_eq!(err.kind, AwsErrorKind::Throttled);
    assert_eq!(err.request_id.as_deref(), Some("req-2"));
    assert_eq!(replay.actual_requests().count(), 2);
    assert_eq!(waits(&mut receiver).len(), 1);
    assert_eq!(started.elapsed(), Duration::from_secs(45));
}

#[tokio::test(start_paused = true)]
async fn unavailable_then_ok_is_transient_wait() {
    let (gateway, replay, mut receiver) = observed_gateway(vec![
        unavailable_get("req-1"),
        event("GET", "/restapis/abc123", rest_api_reply("req-2")),
    ]);

    let summary = gateway.get_rest_api("abc123").await;

    assert_eq!(summary.unwrap().id, "abc123");
    assert_eq!(replay.actual_requests().count(), 2);
    let waits = waits(&mut receiver);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].reason, WaitReason::Transient);
    assert_eq!(waits[0].attempt, 2);
    assert!(waits[0].delay >= Duration::from_millis(500), "{waits:?}");
    assert!(waits[0].delay <= Duration::from_secs(1), "{waits:?}");
}

#[tokio::test(start_paused = true)]
async fn unavailable_past_attempt_limit_fails() {
    let attempts = RetryPolicy::default().transient_attempts;
    let events = (1..=attempts)
        .map(|n| unavailable_get(&format!("req-{n}")))
        .collect();
    let (gateway, replay, mut receiver) = observed_gateway(events);

    let err = gateway.get_rest_api("abc123").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Service);
    assert_eq!(err.code.as_deref(), Some("ServiceUnavailableException"));
    assert_eq!(
        err.request_id.as_deref(),
        Some(format!("req-{attempts}").as_str())
    );
    assert_eq!(replay.actual_requests().count(), attempts as usize);
    assert_eq!(waits(&mut receiver).len(), attempts as usize - 1);
}

#[tokio::test(start_paused = true)]
async fn client_error_is_not_retried() {
    let (gateway, replay, mut receiver) = observed_gateway(vec![event(
        "PATCH",
        "/restapis/abc123",
        error_reply(
            409,
            "req-1",
            "ConflictException",
            "Unable to complete operation due to concurrent modification",
            None,
        ),
    )]);

    let err = gateway.put_policy("abc123", "").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Service);
    assert_eq!(err.code.as_deref(), Some("ConflictException"));
    assert_eq!(replay.actual_requests().count(), 1);
    assert!(waits(&mut receiver).is_empty());
}

#[tokio::test(start_paused = true)]
async fn deployments_back_to_back_are_paced() {
    let (gateway, replay, mut receiver) = observed_gateway(vec![
        event(
            "POST",
            "/restapis/abc123/deployments",
            deployment_reply("req-1", "dep1"),
        ),
        event(
            "POST",
            "/restapis/abc123/deployments",
            deployment_reply("req-2", "dep2"),
        ),
    ]);
    let started = Instant::now();

    let first = gateway.create_deployment("abc123", "dev", "ipgate").await;
    let first_done = started.elapsed();
    let second = gateway.create_deployment("abc123", "prod", "ipgate").await;

    assert_eq!(first.unwrap(), "dep1");
    assert_eq!(second.unwrap(), "dep2");
    assert_eq!(first_done, Duration::ZERO);
    assert_eq!(started.elapsed(), DEPLOYMENT_INTERVAL);
    assert_eq!(replay.actual_requests().count(), 2);
    let waits = waits(&mut receiver);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].operation, "CreateDeployment");
    assert_eq!(waits[0].rest_api_id.as_deref(), Some("abc123"));
    assert_eq!(waits[0].reason, WaitReason::Pacing);
    assert_eq!(waits[0].delay, DEPLOYMENT_INTERVAL);
    assert_eq!(waits[0].attempt, 1);
}

/// Three clones deploy at once: one request starts per interval.
#[tokio::test(start_paused = true)]
async fn clones_share_deployment_pacing() {
    let events = (1..=3)
        .map(|n| {
            event(
                "POST",
                "/restapis/abc123/deployments",
                deployment_reply(&format!("req-{n}"), &format!("dep{n}")),
            )
        })
        .collect();
    let (gateway, replay, mut receiver) = observed_gateway(events);
    let started = Instant::now();

    let deploy = |gateway: Gateway| async move {
        gateway
            .create_deployment("abc123", "api", "ipgate")
            .await
            .unwrap();
        started.elapsed()
    };
    let (a, b, c) = tokio::join!(
        deploy(gateway.clone()),
        deploy(gateway.clone()),
        deploy(gateway.clone())
    );

    let mut finished = vec![a, b, c];
    finished.sort();
    assert_eq!(
        finished,
        [Duration::ZERO, DEPLOYMENT_INTERVAL, DEPLOYMENT_INTERVAL * 2]
    );
    assert_eq!(replay.actual_requests().count(), 3);
    let waits = waits(&mut receiver);
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits.iter().all(|wait| wait.reason == WaitReason::Pacing));
}

#[tokio::test(start_paused = true)]
async fn deployment_after_interval_does_not_wait() {
    let (gateway, _replay, mut receiver) = observed_gateway(vec![
        event(
            "POST",
            "/restapis/abc123/deployments",
            deployment_reply("req-1", "dep1"),
        ),
        event(
            "POST",
            "/restapis/abc123/deployments",
            deployment_reply("req-2", "dep2"),
        ),
    ]);

    gateway
        .create_deployment("abc123", "api", "ipgate")
        .await
        .unwrap();
    tokio::time::sleep(DEPLOYMENT_INTERVAL).await;
    let started = Instant::now();
    gateway
        .create_deployment("abc123", "api", "ipgate")
        .await
        .unwrap();

    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(waits(&mut receiver).is_empty());
}

#[tokio::test(start_paused = true)]
async fn throttled_deployment_is_paced_again() {
    let (gateway, replay, mut receiver) = observed_gateway(vec![
        event(
            "POST",
            "/restapis/abc123/deployments",
            error_reply(
                429,
                "req-1",
                "TooManyRequestsException",
                "Too Many Requests",
                Some(1),
            ),
        ),
        event(
            "POST",
            "/restapis/abc123/deployments",
            deployment_reply("req-2", "dep2"),
        ),
    ]);
    let started = Instant::now();

    let id = gateway.create_deployment("abc123", "api", "ipgate").await;

    assert_eq!(id.unwrap(), "dep2");
    assert_eq!(replay.actual_requests().count(), 2);
    assert_eq!(started.elapsed(), DEPLOYMENT_INTERVAL);
    let reasons: Vec<(WaitReason, Duration, u32)> = waits(&mut receiver)
        .iter()
        .map(|wait| (wait.reason, wait.delay, wait.attempt))
        .collect();
    assert_eq!(
        reasons,
        [
            (WaitReason::Throttled, Duration::from_secs(1), 2),
            (WaitReason::Pacing, Duration::from_secs(4), 2),
        ]
    );
}

/// A connector that never responds, so each attempt runs into the SDK's attempt timeout.
#[tokio::test(start_paused = true)]
async fn silent_connector_is_timed_out() {
    let never = NeverClient::new();
    let config = config_builder()
        .http_client(never.clone())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let gateway = Gateway::from_config(config, info()).with_wait_observer(sender);

    let err = gateway.get_rest_api("abc123").await.unwrap_err();

    let attempts = RetryPolicy::default().transient_attempts;
    assert_eq!(err.kind, AwsErrorKind::TimedOut, "{err:?}");
    assert_eq!(err.rest_api_id.as_deref(), Some("abc123"));
    assert_eq!(never.num_calls(), attempts as usize);
    let waits = waits(&mut receiver);
    assert_eq!(waits.len(), attempts as usize - 1, "{waits:?}");
    assert!(
        waits
            .iter()
            .all(|wait| wait.reason == WaitReason::Transient)
    );
}

#[tokio::test(start_paused = true)]
async fn access_denied_describes_call() {
    let message = "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: \
                   apigateway:PATCH on resource: arn:aws:apigateway:us-east-1::/restapis/abc123";
    let (gateway, _replay, _receiver) = observed_gateway(vec![event(
        "PATCH",
        "/restapis/abc123",
        error_reply(403, "1234-abcd", "AccessDeniedException", message, None),
    )]);

    let err = gateway.put_policy("abc123", "").await.unwrap_err();

    assert_eq!(err.summary(), format!("AccessDeniedException: {message}"));
    assert_eq!(
        err.describe(),
        format!(
            "UpdateRestApi on REST API abc123: AccessDeniedException: {message} \
             (request id 1234-abcd)"
        )
    );
    assert_eq!(
        err.to_string(),
        format!("UpdateRestApi on REST API abc123 failed: AccessDeniedException: {message}")
    );
}

#[tokio::test(start_paused = true)]
async fn deployment_error_names_stage() {
    let (gateway, _replay, _receiver) = observed_gateway(vec![event(
        "POST",
        "/restapis/abc123/deployments",
        error_reply(
            400,
            "req-9",
            "BadRequestException",
            "No integration defined for method",
            None,
        ),
    )]);

    let err = gateway
        .create_deployment("abc123", "prod", "ipgate")
        .await
        .unwrap_err();

    assert_eq!(err.rest_api_id.as_deref(), Some("abc123"));
    assert_eq!(err.stage.as_deref(), Some("prod"));
    assert_eq!(
        err.describe(),
        "CreateDeployment on stage prod of REST API abc123: BadRequestException: No integration \
         defined for method (request id req-9)"
    );
    assert!(
        err.to_string()
            .starts_with("CreateDeployment on stage prod of REST API abc123 failed")
    );
}

#[test]
fn describe_without_request_id() {
    let err = AwsError {
        operation: "GetRestApis",
        kind: AwsErrorKind::Unreachable,
        code: None,
        message: None,
        request_id: None,
        detail: "dispatch failure: io error: Connection refused (os error 111)".to_string(),
        rest_api_id: None,
        stage: None,
    };

    assert_eq!(
        err.describe(),
        "GetRestApis: endpoint unreachable (Connection refused (os error 111))"
    );
    assert_eq!(
        err.to_string(),
        "GetRestApis failed: endpoint unreachable (Connection refused (os error 111))"
    );
}
