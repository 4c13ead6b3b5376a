//! The AWS boundary: the only module of the app that imports the API Gateway SDK.
//!
//! It returns ipgate's own types and one error type that keeps the AWS error code, message and
//! request id, because the SDK's own `Display` prints only "service error". Every call goes
//! through [`retry`], which retries throttled and transient failures, paces CreateDeployment,
//! and reports each wait.

mod error;
mod retry;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_apigateway::config::Region;
use aws_sdk_apigateway::types::{EndpointConfiguration, Op, PatchOperation};
use tokio::sync::mpsc::UnboundedSender;

use error::Call;
use retry::Retrier;

pub(crate) use error::aws_error;
pub use error::{AwsError, AwsErrorKind};
pub use retry::{AwsWait, DEPLOYMENT_INTERVAL, RetryPolicy, WaitReason};

/// How to reach AWS, from the command line and the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides `AWS_ENDPOINT_URL` (a local emulator).
    pub endpoint_url: Option<String>,
}

/// The connection details the header shows.
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

/// Builds the timeouts of every API Gateway request: 3 s to connect and 10 s per attempt. The
/// SDK's 30 s operation timeout covers one attempt only, because the SDK does not retry (see
/// [`retry_config`]); [`RetryPolicy::deadline`] bounds the retries.
pub(crate) fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// Turns the SDK's own retries off, because [`retry`] retries every call and the two together
/// would multiply the attempts.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig::disabled()
}

/// A cloneable API Gateway client. Clones share one CreateDeployment pacer.
#[derive(Debug, Clone)]
pub struct Gateway {
    client: aws_sdk_apigateway::Client,
    pub info: ConnectionInfo,
    retrier: Retrier,
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

    /// Wraps an SDK config built elsewhere (tests with a replay client). The config's retry
    /// settings are replaced by [`retry_config`], so that only ipgate retries.
    pub fn from_config(config: aws_sdk_apigateway::Config, info: ConnectionInfo) -> Gateway {
        let config = config.to_builder().retry_config(retry_config()).build();
        Gateway {
            client: aws_sdk_apigateway::Client::from_conf(config),
            info,
            retrier: Retrier::default(),
        }
    }

    /// Sends an [`AwsWait`] to `observer` before each wait for a retry or for CreateDeployment
    /// pacing.
    pub fn with_wait_observer(mut self, observer: UnboundedSender<AwsWait>) -> Gateway {
        self.retrier.observer = Some(observer);
        self
    }

    /// Replaces the default [`RetryPolicy`].
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Gateway {
        self.retrier.policy = policy;
        self
    }

    /// Every REST API, following `position` with `limit=500`.
    pub async fn list_rest_apis(&self) -> Result<Vec<RestApiSummary>, AwsError> {
        let call = Call::new("GetRestApis");
        let mut summaries = Vec::new();
        let mut seen_positions = HashSet::new();
        let mut position: Option<String> = None;

        loop {
            let page = self
                .retrier
                .send(call, || {
                    self.client
                        .get_rest_apis()
                        .limit(500)
                        .set_position(position.clone())
                        .send()
                })
                .await?;

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
        let call = Call::on_rest_api("GetRestApi", rest_api_id);
        let api = self
            .retrier
            .send(call, || {
                self.client.get_rest_api().rest_api_id(rest_api_id).send()
            })
            .await?;

        let id = api.id().unwrap_or(rest_api_id);
        Ok(rest_api_summary(
            id,
            api.name(),
            api.policy(),
            api.endpoint_configuration(),
        ))
    }

    pub async fn get_stages(&self, rest_api_id: &str) -> Result<Vec<StageSummary>, AwsError> {
        let call = Call::on_rest_api("GetStages", rest_api_id);
        let reply = self
            .retrier
            .send(call, || {
                self.client.get_stages().rest_api_id(rest_api_id).send()
            })
            .await?;

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
                    .or_else(|| {
                        stage
                            .last_updated_date()
                            .and_then(|date| SystemTime::try_from(*date).ok())
                    }),
            });
        }
        Ok(stages)
    }

    /// Creation time of each deployment of the REST API, following `position`. A failure is
    /// logged and yields what was read so far, because the dates only decorate the stage list.
    async fn deployment_dates(&self, rest_api_id: &str) -> HashMap<String, SystemTime> {
        let call = Call::on_rest_api("GetDeployments", rest_api_id);
        let mut dates = HashMap::new();
        let mut position: Option<String> = None;
        loop {
            let reply = self
                .retrier
                .send(call, || {
                    self.client
                        .get_deployments()
                        .rest_api_id(rest_api_id)
                        .limit(500)
                        .set_position(position.clone())
                        .send()
                })
                .await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(error) => {
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
                Some(next) if position.as_deref() != Some(next) => {
                    position = Some(next.to_string())
                }
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

        let call = Call::on_rest_api("UpdateRestApi", rest_api_id);
        self.retrier
            .send(call, || {
                self.client
                    .update_rest_api()
                    .rest_api_id(rest_api_id)
                    .patch_operations(replace_policy.clone())
                    .send()
            })
            .await?;
        Ok(())
    }

    /// `CreateDeployment` on an existing stage; returns the new deployment id.
    ///
    /// Sends no stage variables, cache or tracing settings, so the stage keeps its own. Each
    /// request starts at least [`DEPLOYMENT_INTERVAL`] after the previous one of this gateway
    /// and its clones.
    pub async fn create_deployment(
        &self,
        rest_api_id: &str,
        stage: &str,
        description: &str,
    ) -> Result<String, AwsError> {
        let call = Call::on_stage("CreateDeployment", rest_api_id, stage);
        let deployment = self
            .retrier
            .send_paced(call, || {
                self.client
                    .create_deployment()
                    .rest_api_id(rest_api_id)
                    .stage_name(stage)
                    .description(description)
                    .send()
            })
            .await?;

        match deployment.id() {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err(AwsError::invalid_reply(
                call,
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
