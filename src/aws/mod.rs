//! The AWS boundary: the only module of the app that imports the API Gateway SDK.
//!
//! It returns ipgate's own types and one error type that keeps the AWS error code, message and
//! request id, because the SDK's own `Display` prints only "service error".

use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_apigateway::config::Region;
use aws_sdk_apigateway::config::http::HttpResponse;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigateway::operation::RequestId;
use aws_sdk_apigateway::types::{EndpointConfiguration, Op, PatchOperation};

/// How to reach AWS, from the command line and the environment.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides `AWS_ENDPOINT_URL` (a local emulator).
    pub endpoint_url: Option<String>,
}

/// What the header shows about the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// `None` means the AWS endpoint for the region.
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestApiSummary {
    pub id: String,
    pub name: String,
    /// `policy` exactly as returned; decode with `core::live::decode_live_policy`.
    pub policy: Option<String>,
    pub endpoint_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSummary {
    pub name: String,
    pub deployment_id: Option<String>,
    /// When the stage's current deployment was created; the stage's last update time when the
    /// deployment is not listed.
    pub last_deployed: Option<SystemTime>,
}

/// The kind of failure, for choosing between local-only mode, retry and a plain error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// No credentials, or the credentials provider failed.
    Credentials,
    /// Connection refused, DNS failure, TLS failure: AWS is unreachable.
    Unreachable,
    TimedOut,
    Throttled,
    /// AWS answered with an error (`code` and `message` are set).
    Service,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {}", self.summary())]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The full source chain, for the log.
    pub detail: String,
}

impl AwsError {
    /// "code: message" when AWS sent them, otherwise the first line of the cause.
    pub fn summary(&self) -> String {
        match (&self.code, &self.message, self.kind) {
            (Some(code), Some(message), _) => format!("{code}: {message}"),
            (Some(code), None, _) => code.clone(),
            (None, _, AwsErrorKind::Unreachable) => format!("endpoint unreachable ({})", self.root_cause()),
            (None, _, AwsErrorKind::TimedOut) => format!("timed out ({})", self.root_cause()),
            _ => self.detail.lines().next().unwrap_or("unknown error").to_string(),
        }
    }

    /// The innermost cause of [`Self::detail`], such as "Connection refused (os error 111)".
    fn root_cause(&self) -> &str {
        self.detail.rsplit(": ").next().unwrap_or(&self.detail).trim()
    }

    /// Builds an error for a reply that the SDK accepted but ipgate cannot use, and logs it.
    fn invalid_reply(operation: &'static str, detail: String) -> AwsError {
        let error = AwsError {
            operation,
            kind: AwsErrorKind::Other,
            code: None,
            message: None,
            request_id: None,
            detail,
        };
        log_failure(&error);
        error
    }
}

/// Builds the timeouts for every API Gateway call: 3 s to connect, 10 s per attempt and 30 s
/// per operation, retries included.
pub(crate) fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// Builds the standard retry settings (exponential backoff with jitter), 3 attempts in all.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// A cloneable API Gateway client.
#[derive(Debug, Clone)]
pub struct Gateway {
    client: aws_sdk_apigateway::Client,
    pub info: ConnectionInfo,
}

impl Gateway {
    /// Loads the standard aws-config chain with `options` on top and sets timeouts.
    pub async fn connect(options: &AwsOptions) -> Gateway {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeout_config())
            .retry_config(retry_config());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint_url) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint_url);
        }
        let sdk_config = loader.load().await;

        let info = ConnectionInfo {
            profile: options
                .profile
                .clone()
                .or_else(|| non_empty_env("AWS_PROFILE")),
            region: sdk_config.region().map(|region| region.to_string()),
            endpoint: options
                .endpoint_url
                .clone()
                .or_else(configured_service_endpoint)
                .or_else(|| sdk_config.endpoint_url().map(str::to_string)),
        };
        tracing::info!(
            profile = info.profile.as_deref().unwrap_or("(default)"),
            region = info.region.as_deref().unwrap_or("(none)"),
            endpoint = info.endpoint.as_deref().unwrap_or("AWS"),
            "API Gateway client configured"
        );

        Gateway::from_config(aws_sdk_apigateway::Config::from(&sdk_config), info)
    }

    /// Wraps an SDK config built elsewhere (tests with a replay client).
    pub fn from_config(config: aws_sdk_apigateway::Config, info: ConnectionInfo) -> Gateway {
        Gateway {
            client: aws_sdk_apigateway::Client::from_conf(config),
            info,
        }
    }

    /// Every REST API, following `position` with `limit=500`.
    pub async fn list_rest_apis(&self) -> Result<Vec<RestApiSummary>, AwsError> {
        const OPERATION: &str = "GetRestApis";
        let mut summaries = Vec::new();
        let mut seen_positions = HashSet::new();
        let mut position: Option<String> = None;

        loop {
            let page = self
                .client
                .get_rest_apis()
                .limit(500)
                .set_position(position.clone())
                .send()
                .await
                .map_err(|err| aws_error(OPERATION, err))?;

            for api in page.items() {
                let Some(id) = api.id() else {
                    tracing::warn!(
                        name = api.name(),
                        "GetRestApis returned a REST API without an id; skipped"
                    );
                    continue;
                };
                summaries.push(rest_api_summary(
                    id,
                    api.name(),
                    api.policy(),
                    api.endpoint_configuration(),
                ));
            }

            position = match page.position() {
                None | Some("") => break,
                Some(next) if !seen_positions.insert(next.to_string()) => {
                    // A service that hands back a position it already gave would loop forever.
                    tracing::warn!(
                        position = next,
                        "GetRestApis repeated a position; stopped paging"
                    );
                    break;
                }
                Some(next) => Some(next.to_string()),
            };
        }

        Ok(summaries)
    }

    pub async fn get_rest_api(&self, rest_api_id: &str) -> Result<RestApiSummary, AwsError> {
        let api = self
            .client
            .get_rest_api()
            .rest_api_id(rest_api_id)
            .send()
            .await
            .map_err(|err| aws_error("GetRestApi", err))?;

        let id = api.id().unwrap_or(rest_api_id);
        Ok(rest_api_summary(
            id,
            api.name(),
            api.policy(),
            api.endpoint_configuration(),
        ))
    }

    pub async fn get_stages(&self, rest_api_id: &str) -> Result<Vec<StageSummary>, AwsError> {
        let reply = self
            .client
            .get_stages()
            .rest_api_id(rest_api_id)
            .send()
            .await
            .map_err(|err| aws_error("GetStages", err))?;

        let deployed_at = self.deployment_dates(rest_api_id).await;
        let mut stages = Vec::new();
        for stage in reply.item() {
            let Some(name) = stage.stage_name() else {
                tracing::warn!(
                    rest_api_id,
                    "GetStages returned a stage without a name; skipped"
                );
                continue;
            };
            stages.push(StageSummary {
                name: name.to_string(),
                deployment_id: stage.deployment_id().map(str::to_string),
                last_deployed: stage
                    .deployment_id()
                    .and_then(|id| deployed_at.get(id).copied())
                    .or_else(|| stage.last_updated_date().and_then(|date| SystemTime::try_from(*date).ok())),
            });
        }
        Ok(stages)
    }

    /// Creation time of each deployment of the REST API, following `position`. A failure is
    /// logged and yields what was read so far, because the dates only decorate the stage list.
    async fn deployment_dates(&self, rest_api_id: &str) -> HashMap<String, SystemTime> {
        let mut dates = HashMap::new();
        let mut position: Option<String> = None;
        loop {
            let reply = self
                .client
                .get_deployments()
                .rest_api_id(rest_api_id)
                .limit(500)
                .set_position(position.clone())
                .send()
                .await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(err) => {
                    let error = aws_error("GetDeployments", err);
                    tracing::warn!(rest_api_id, error = %error, "deployment dates are unavailable");
                    return dates;
                }
            };
            for deployment in reply.items() {
                if let (Some(id), Some(created)) = (deployment.id(), deployment.created_date())
                    && let Ok(created) = SystemTime::try_from(*created)
                {
                    dates.insert(id.to_string(), created);
                }
            }
            match reply.position() {
                Some(next) if position.as_deref() != Some(next) => position = Some(next.to_string()),
                _ => return dates,
            }
        }
    }

    /// `UpdateRestApi` replace `/policy`; an empty string removes the policy.
    pub async fn put_policy(
        &self,
        rest_api_id: &str,
        minified_policy: &str,
    ) -> Result<(), AwsError> {
        let replace_policy = PatchOperation::builder()
            .op(Op::Replace)
            .path("/policy")
            .value(minified_policy)
            .build();

        self.client
            .update_rest_api()
            .rest_api_id(rest_api_id)
            .patch_operations(replace_policy)
            .send()
            .await
            .map_err(|err| aws_error("UpdateRestApi", err))?;
        Ok(())
    }

    /// `CreateDeployment` on an existing stage; returns the new deployment id.
    ///
    /// Sends no stage variables, cache or tracing settings, so the stage keeps its own.
    pub async fn create_deployment(
        &self,
        rest_api_id: &str,
        stage: &str,
        description: &str,
    ) -> Result<String, AwsError> {
        const OPERATION: &str = "CreateDeployment";
        let deployment = self
            .client
            .create_deployment()
            .rest_api_id(rest_api_id)
            .stage_name(stage)
            .description(description)
            .send()
            .await
            .map_err(|err| aws_error(OPERATION, err))?;

        match deployment.id() {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err(AwsError::invalid_reply(
                OPERATION,
                format!(
                    "CreateDeployment on stage {stage} of {rest_api_id} returned no deployment id"
                ),
            )),
        }
    }
}

fn rest_api_summary(
    id: &str,
    name: Option<&str>,
    policy: Option<&str>,
    endpoint_configuration: Option<&EndpointConfiguration>,
) -> RestApiSummary {
    let endpoint_types = endpoint_configuration
        .map(|config| {
            config
                .types()
                .iter()
                .map(|kind| kind.as_str().to_string())
                .collect()
        })
        .unwrap_or_default();

    RestApiSummary {
        id: id.to_string(),
        name: name.unwrap_or_default().to_string(),
        policy: policy.map(str::to_string),
        endpoint_types,
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Reads the API Gateway endpoint from `AWS_ENDPOINT_URL_API_GATEWAY`, which the SDK prefers over
/// `AWS_ENDPOINT_URL` unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
///
/// NOTE: an endpoint from a profile's `services` section is used by the SDK but not shown here.
fn configured_service_endpoint() -> Option<String> {
    let ignored = non_empty_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    if ignored {
        None
    } else {
        non_empty_env("AWS_ENDPOINT_URL_API_GATEWAY")
    }
}

/// Converts an SDK failure into an [`AwsError`] and logs it.
pub(crate) fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let code = err.code().map(str::to_string);
    let error = AwsError {
        operation,
        kind: error_kind(&err, code.as_deref()),
        message: err.message().map(str::to_string),
        request_id: err.request_id().map(str::to_string),
        code,
        detail: source_chain(&err),
    };
    log_failure(&error);
    error
}

fn log_failure(error: &AwsError) {
    tracing::warn!(
        operation = error.operation,
        kind = ?error.kind,
        code = error.code.as_deref().unwrap_or("-"),
        request_id = error.request_id.as_deref().unwrap_or("-"),
        detail = %error.detail,
        "AWS call failed"
    );
}

fn error_kind<E>(err: &SdkError<E, HttpResponse>, code: Option<&str>) -> AwsErrorKind
where
    E: StdError + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            if code == Some("TooManyRequestsException") || status == 429 {
                AwsErrorKind::Throttled
            } else {
                AwsErrorKind::Service
            }
        }
        _ if is_credentials_failure(err) => AwsErrorKind::Credentials,
        SdkError::TimeoutError(_) => AwsErrorKind::TimedOut,
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            AwsErrorKind::Unreachable
        }
        _ => AwsErrorKind::Other,
    }
}

/// Tells whether resolving credentials failed, before any request was sent.
///
/// The SDK (aws-smithy-runtime 1.16) resolves the identity just before sending and reports a
/// failure there as a dispatch failure. Its source chain contains the provider's
/// [`CredentialsError`], or, when the provider hangs, the identity cache's load timeout, whose
/// type is private and so is matched by its text.
fn is_credentials_failure(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(link) = next {
        if link.downcast_ref::<CredentialsError>().is_some()
            || link.to_string().starts_with("identity resolver timed out")
        {
            return true;
        }
        next = link.source();
    }
    false
}

/// Joins every message in the source chain with ": ".
fn source_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(link) = next {
        parts.push(link.to_string());
        next = link.source();
    }
    parts.join(": ")
}
