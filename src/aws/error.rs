//! The one error type of the AWS boundary, built from the SDK's errors.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_apigateway::config::http::HttpResponse;
use aws_sdk_apigateway::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigateway::operation::RequestId;

/// The kind of failure, for choosing between local-only mode, retry and a plain error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// No credentials, or the credentials provider failed.
    Credentials,
    /// Connection refused, DNS failure, TLS failure: AWS is unreachable.
    Unreachable,
    TimedOut,
    Throttled,
    /// AWS returned an error (`code` and `message` are set).
    Service,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} failed: {}", self.target(), self.summary())]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The full source chain, for the log.
    pub detail: String,
    /// The REST API the operation was called on, when it names one.
    pub rest_api_id: Option<String>,
    /// The stage the operation was called on, when it names one.
    pub stage: Option<String>,
}

/// An operation with the REST API and stage it names, for error messages, wait notices and the
/// log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub operation: &'static str,
    pub rest_api_id: Option<&'a str>,
    pub stage: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn new(operation: &'static str) -> Call<'a> {
        Call {
            operation,
            rest_api_id: None,
            stage: None,
        }
    }

    pub fn on_rest_api(operation: &'static str, rest_api_id: &'a str) -> Call<'a> {
        Call {
            rest_api_id: Some(rest_api_id),
            ..Call::new(operation)
        }
    }

    pub fn on_stage(operation: &'static str, rest_api_id: &'a str, stage: &'a str) -> Call<'a> {
        Call {
            stage: Some(stage),
            ..Call::on_rest_api(operation, rest_api_id)
        }
    }
}

impl AwsError {
    /// "code: message" when AWS sent them, otherwise the first line of the cause.
    pub fn summary(&self) -> String {
        match (&self.code, &self.message, self.kind) {
            (Some(code), Some(message), _) => format!("{code}: {message}"),
            (Some(code), None, _) => code.clone(),
            (None, _, AwsErrorKind::Unreachable) => {
                format!("endpoint unreachable ({})", self.root_cause())
            }
            (None, _, AwsErrorKind::TimedOut) => format!("timed out ({})", self.root_cause()),
            _ => self
                .detail
                .lines()
                .next()
                .unwrap_or("unknown error")
                .to_string(),
        }
    }

    /// Formats the error for the screen: the operation, what it was called on, the summary and
    /// the request id, such as "UpdateRestApi on REST API abc123: AccessDeniedException: User
    /// is not authorized (request id 1234)".
    pub fn describe(&self) -> String {
        let mut text = format!("{}: {}", self.target(), self.summary());
        if let Some(request_id) = &self.request_id {
            text.push_str(&format!(" (request id {request_id})"));
        }
        text
    }

    /// Formats the operation with its REST API and stage, such as "CreateDeployment on stage api
    /// of REST API abc123".
    fn target(&self) -> String {
        match (&self.rest_api_id, &self.stage) {
            (Some(rest_api_id), Some(stage)) => {
                format!(
                    "{} on stage {stage} of REST API {rest_api_id}",
                    self.operation
                )
            }
            (Some(rest_api_id), None) => format!("{} on REST API {rest_api_id}", self.operation),
            (None, Some(stage)) => format!("{} on stage {stage}", self.operation),
            (None, None) => self.operation.to_string(),
        }
    }

    /// The innermost cause of [`Self::detail`], such as "Connection refused (os error 111)".
    fn root_cause(&self) -> &str {
        self.detail
            .rsplit(": ")
            .next()
            .unwrap_or(&self.detail)
            .trim()
    }

    /// Builds an error for a reply that the SDK accepted but ipgate cannot use, and logs it.
    pub(crate) fn invalid_reply(call: Call<'_>, detail: String) -> AwsError {
        let error = AwsError {
            operation: call.operation,
            kind: AwsErrorKind::Other,
            code: None,
            message: None,
            request_id: None,
            detail,
            rest_api_id: call.rest_api_id.map(str::to_string),
            stage: call.stage.map(str::to_string),
        };
        log_failure(&error, 1);
        error
    }

    /// Converts an SDK failure without logging it, because a failure that is retried is logged
    /// as a retry.
    pub(crate) fn from_sdk<E>(call: Call<'_>, err: &SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let code = err.code().map(str::to_string);
        AwsError {
            operation: call.operation,
            kind: error_kind(err, code.as_deref()),
            message: err.message().map(str::to_string),
            request_id: err.request_id().map(str::to_string),
            code,
            detail: source_chain(err),
            rest_api_id: call.rest_api_id.map(str::to_string),
            stage: call.stage.map(str::to_string),
        }
    }
}

/// Converts an SDK failure into an [`AwsError`] and logs it.
pub(crate) fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let error = AwsError::from_sdk(Call::new(operation), &err);
    log_failure(&error, 1);
    error
}

/// Logs a failure that ends an operation after `attempts` requests, with its request id.
pub(crate) fn log_failure(error: &AwsError, attempts: u32) {
    tracing::warn!(
        operation = error.operation,
        attempts,
        rest_api_id = error.rest_api_id.as_deref().unwrap_or("-"),
        stage = error.stage.as_deref().unwrap_or("-"),
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
pub(crate) fn is_credentials_failure(err: &(dyn StdError + 'static)) -> bool {
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
