//! Retries, backoff and CreateDeployment pacing for every API Gateway call.
//!
//! The SDK's own retries are turned off (see [`super::retry_config`]) so that this module is the
//! only place that retries. It honours the `Retry-After` header that API Gateway sends with HTTP
//! 429, which the SDK's standard retry strategy ignores because aws-runtime 1.10 reads only
//! `x-amz-retry-after`. It also reports every wait to an optional observer, so the screen can
//! show "waiting" in place of a frozen view or a failure.

use std::error::Error as StdError;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_apigateway::config::http::HttpResponse;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::error::{AwsError, Call, is_credentials_failure, log_failure};

/// The minimum time between the starts of two CreateDeployment requests. API Gateway allows one
/// CreateDeployment every 5 seconds per account, a quota that cannot be raised.
pub const DEPLOYMENT_INTERVAL: Duration = Duration::from_secs(5);

/// Retry limits and backoff for failed API Gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, when the last failure was throttling (HTTP 429).
    pub throttled_attempts: u32,
    /// Attempts in all, the first included, when the last failure was transient: HTTP 500, 502,
    /// 503 or 504, a timed-out attempt, a failed connection or a cut-off response.
    pub transient_attempts: u32,
    /// The backoff before the second attempt; it doubles with each further attempt.
    pub base_delay: Duration,
    /// The cap on the backoff. A `Retry-After` header may ask for longer and is honoured.
    pub max_delay: Duration,
    /// No retry starts later than this after the first attempt started. Each attempt is bounded
    /// on its own by the SDK's attempt timeout, and CreateDeployment pacing before the first
    /// attempt does not count.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            throttled_attempts: 6,
            transient_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn max_attempts(&self, reason: WaitReason) -> u32 {
        match reason {
            WaitReason::Throttled => self.throttled_attempts,
            WaitReason::Transient | WaitReason::Pacing => self.transient_attempts,
        }
    }

    /// Computes the backoff after failed attempt number `attempt` (1-based): exponential from
    /// `base_delay`, capped at `max_delay`, with "equal jitter" (half fixed, half random) so that
    /// clients throttled together do not retry together.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = ceiling / 2;
        half + half.mul_f64(random_fraction())
    }
}

/// The cause of a wait before an operation's next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// API Gateway returned HTTP 429 `TooManyRequestsException`.
    Throttled,
    /// A server error (HTTP 5xx), a timeout or a connection failure.
    Transient,
    /// CreateDeployment keeps to [`DEPLOYMENT_INTERVAL`] between requests.
    Pacing,
}

/// A notice, sent before each wait, that an operation is waiting and not failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsWait {
    pub operation: &'static str,
    pub rest_api_id: Option<String>,
    pub reason: WaitReason,
    pub delay: Duration,
    /// The number of the attempt that follows the wait, starting at 1; a retry is attempt 2 or
    /// later.
    pub attempt: u32,
}

/// The retry state of one [`super::Gateway`]; clones share the deployment pacer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Retrier {
    pub policy: RetryPolicy,
    pub observer: Option<UnboundedSender<AwsWait>>,
    /// When the last CreateDeployment request started.
    deployment_pacer: Arc<Mutex<Option<Instant>>>,
}

impl Retrier {
    /// Calls `send` until it succeeds, fails for good, or runs out of attempts or time.
    pub async fn send<T, E, F, Fut>(&self, call: Call<'_>, send: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        self.send_with_pacing(call, false, send).await
    }

    /// Like [`Retrier::send`], and starts each attempt at least [`DEPLOYMENT_INTERVAL`] after
    /// the previous CreateDeployment request of any clone of this retrier.
    pub async fn send_paced<T, E, F, Fut>(&self, call: Call<'_>, send: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        self.send_with_pacing(call, true, send).await
    }

    async fn send_with_pacing<T, E, F, Fut>(
        &self,
        call: Call<'_>,
        paced: bool,
        mut send: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let mut attempt = 1;
        let mut first_started: Option<Instant> = None;

        loop {
            if paced {
                self.wait_for_deployment_slot(call, attempt).await;
            }
            let started = *first_started.get_or_insert_with(Instant::now);

            let (error, reason, retry_after) = match send().await {
                Ok(output) => return Ok(output),
                Err(err) => (
                    AwsError::from_sdk(call, &err),
                    retry_reason(&err),
                    retry_after(&err),
                ),
            };

            let Some(reason) = reason else {
                log_failure(&error, attempt);
                return Err(error);
            };
            if attempt >= self.policy.max_attempts(reason) {
                log_failure(&error, attempt);
                return Err(error);
            }
            let delay = retry_after.unwrap_or_else(|| self.policy.backoff(attempt));
            if started.elapsed() + delay > self.policy.deadline {
                tracing::info!(
                    operation = call.operation,
                    delay_ms = delay.as_millis(),
                    deadline_s = self.policy.deadline.as_secs(),
                    "no retry: it would start after the operation's deadline"
                );
                log_failure(&error, attempt);
                return Err(error);
            }

            attempt += 1;
            tracing::info!(
                operation = call.operation,
                rest_api_id = call.rest_api_id.unwrap_or("-"),
                stage = call.stage.unwrap_or("-"),
                attempt,
                delay_ms = delay.as_millis(),
                reason = ?reason,
                code = error.code.as_deref().unwrap_or("-"),
                request_id = error.request_id.as_deref().unwrap_or("-"),
                summary = %error.summary(),
                "retrying AWS call"
            );
            self.notify(call, reason, delay, attempt);
            tokio::time::sleep(delay).await;
        }
    }

    /// Waits until [`DEPLOYMENT_INTERVAL`] has passed since the previous CreateDeployment
    /// request started, then records this one's start.
    ///
    /// The lock is held while waiting, so concurrent callers queue and each gets its own slot.
    async fn wait_for_deployment_slot(&self, call: Call<'_>, attempt: u32) {
        let mut last_start = self.deployment_pacer.lock().await;

        if let Some(previous) = *last_start {
            let ready = previous + DEPLOYMENT_INTERVAL;
            let delay = ready.saturating_duration_since(Instant::now());
            if !delay.is_zero() {
                tracing::info!(
                    operation = call.operation,
                    rest_api_id = call.rest_api_id.unwrap_or("-"),
                    stage = call.stage.unwrap_or("-"),
                    attempt,
                    delay_ms = delay.as_millis(),
                    "pacing CreateDeployment"
                );
                self.notify(call, WaitReason::Pacing, delay, attempt);
                tokio::time::sleep_until(ready).await;
            }
        }

        *last_start = Some(Instant::now());
    }

    fn notify(&self, call: Call<'_>, reason: WaitReason, delay: Duration, attempt: u32) {
        let Some(observer) = &self.observer else {
            return;
        };
        let wait = AwsWait {
            operation: call.operation,
            rest_api_id: call.rest_api_id.map(str::to_string),
            reason,
            delay,
            attempt,
        };
        // A closed receiver means the waits are no longer shown, so the call goes on regardless.
        let _ = observer.send(wait);
    }
}

/// Decides whether a failure is worth another attempt, and why.
fn retry_reason<E>(err: &SdkError<E, HttpResponse>) -> Option<WaitReason>
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            match (status, err.code()) {
                (429, _) | (_, Some("TooManyRequestsException")) => Some(WaitReason::Throttled),
                (500 | 502 | 503 | 504, _) | (_, Some("ServiceUnavailableException")) => {
                    Some(WaitReason::Transient)
                }
                _ => None,
            }
        }
        _ if is_credentials_failure(err) => None,
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Some(WaitReason::Transient),
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            Some(WaitReason::Transient)
        }
        _ => None,
    }
}

/// Reads the `Retry-After` header of an error response, in whole seconds.
///
/// NOTE: the HTTP-date form of the header is not read, and falls back to backoff; API Gateway
/// sends seconds.
fn retry_after<E>(err: &SdkError<E, HttpResponse>) -> Option<Duration> {
    let value = err.raw_response()?.headers().get("retry-after")?;
    let seconds = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Returns a number in [0, 1) for jitter. The standard library's `RandomState` is seeded
/// randomly per thread and changes its keys with each `new`, which is enough to spread retries
/// apart and needs no random number crate.
fn random_fraction() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
