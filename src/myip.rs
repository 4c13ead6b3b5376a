//! The user's public IP address, for the guard that keeps users from removing their own access.
//!
//! The address comes from the command line or from a plain-text lookup service such as AWS's
//! checkip, which returns the caller's address followed by a newline.

use std::net::IpAddr;
use std::time::Duration;

use std::error::Error;
use std::future::poll_fn;
use std::pin::pin;

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::header::{HOST, USER_AGENT};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

/// AWS's checkip service.
pub const DEFAULT_LOOKUP_URL: &str = "https://checkip.amazonaws.com/";

/// The largest response body accepted. An IPv6 address with a newline takes at most 46 bytes.
pub const MAX_BODY_BYTES: usize = 1024;

const USER_AGENT_VALUE: &str = concat!("ipgate/", env!("CARGO_PKG_VERSION"));

/// The source of the public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MyIpSource {
    /// The address the user passed.
    Given(IpAddr),
    /// The URL of a service that returns the caller's address as plain text.
    Lookup(String),
    /// No address: the lockout guard is off.
    Disabled,
}

/// A failed lookup. Each message names the URL and ends with what the user can do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MyIpError {
    #[error("the public address lookup is turned off; pass --my-ip ADDRESS")]
    Disabled,
    #[error("invalid lookup URL {url:?}: {reason}; pass --my-ip ADDRESS")]
    InvalidUrl { url: String, reason: String },
    #[error("the lookup at {url} timed out after {}; pass --my-ip ADDRESS", format_duration(*timeout))]
    TimedOut { url: String, timeout: Duration },
    #[error("the lookup at {url} failed: {reason}; pass --my-ip ADDRESS")]
    Failed { url: String, reason: String },
    #[error("the lookup at {url} returned HTTP {status}; pass --my-ip ADDRESS")]
    Status { url: String, status: StatusCode },
    #[error(
        "the lookup at {url} returned a body longer than {MAX_BODY_BYTES} bytes, \
         not an IP address; pass --my-ip ADDRESS"
    )]
    BodyTooLarge { url: String },
    #[error(
        "the lookup at {url} returned {body:?}, which is not an IP address; pass --my-ip ADDRESS"
    )]
    NotAnAddress { url: String, body: String },
}

/// Finds the user's public address. A lookup is one HTTP GET, and `timeout` bounds all of it:
/// connecting, the TLS handshake and reading the body.
///
/// NOTE: the lookup connects directly and ignores `HTTPS_PROXY`, so behind a proxy the user
/// passes the address instead.
pub async fn find_my_ip(source: &MyIpSource, timeout: Duration) -> Result<IpAddr, MyIpError> {
    match source {
        MyIpSource::Given(address) => Ok(*address),
        MyIpSource::Lookup(url) => look_up(url, timeout).await,
        MyIpSource::Disabled => Err(MyIpError::Disabled),
    }
}

async fn look_up(url: &str, timeout: Duration) -> Result<IpAddr, MyIpError> {
    let uri: Uri =
        url.parse().map_err(
            |error: hyper::http::uri::InvalidUri| MyIpError::InvalidUrl {
                url: url.to_string(),
                reason: error.to_string(),
            },
        )?;

    let body = match tokio::time::timeout(timeout, fetch(url, uri)).await {
        Ok(body) => body?,
        Err(_elapsed) => {
            return Err(MyIpError::TimedOut {
                url: url.to_string(),
                timeout,
            });
        }
    };

    parse_address(url, &body)
}

/// Sends the GET through a plain connector for `http` and a rustls one for `https`, so plain
/// lookups never load the system's root certificates.
async fn fetch(url: &str, uri: Uri) -> Result<Bytes, MyIpError> {
    match uri.scheme_str() {
        Some("http") => exchange(url, HttpConnector::new(), uri).await,
        Some("https") => {
            // Naming the provider avoids rustls panicking when more than one is compiled in.
            let provider = rustls::crypto::aws_lc_rs::default_provider();
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider)
                .map_err(|error| MyIpError::Failed {
                    url: url.to_string(),
                    reason: format!("cannot load the system's root certificates: {error}"),
                })?
                .https_only()
                .enable_http1()
                .build();
            exchange(url, connector, uri).await
        }
        _ => Err(MyIpError::InvalidUrl {
            url: url.to_string(),
            reason: "the scheme must be http or https".to_string(),
        }),
    }
}

/// Connects, sends one GET and reads the body.
///
/// The HTTP/1 connection is driven inside this future instead of on a spawned task, so a
/// timeout that drops the future also closes the socket.
async fn exchange<C>(url: &str, mut connector: C, uri: Uri) -> Result<Bytes, MyIpError>
where
    C: Service<Uri>,
    C::Response: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    C::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let failed = |error: &(dyn Error + 'static)| MyIpError::Failed {
        url: url.to_string(),
        reason: error_chain(error),
    };
    let request = build_request(url, &uri)?;

    poll_fn(|context| connector.poll_ready(context))
        .await
        .map_err(|error| failed(error.into().as_ref()))?;
    let stream = connector
        .call(uri)
        .await
        .map_err(|error| failed(error.into().as_ref()))?;
    let (mut sender, connection) = http1::handshake::<_, Empty<Bytes>>(stream)
        .await
        .map_err(|error| failed(&error))?;

    let response = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| failed(&error))?;
        read_body(url, response).await
    };
    let mut response = pin!(response);
    let mut connection = pin!(connection);

    tokio::select! {
        biased;
        body = &mut response => body,
        closed = &mut connection => match closed {
            // The connection can end before the response future runs again, and the body it
            // already received is still readable.
            Ok(()) => response.await,
            Err(error) => Err(failed(&error)),
        },
    }
}

/// Builds a GET in origin form with a `Host` header, as HTTP/1.1 servers expect.
fn build_request(url: &str, uri: &Uri) -> Result<Request<Empty<Bytes>>, MyIpError> {
    let invalid = |reason: &str| MyIpError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let host = uri
        .authority()
        .ok_or_else(|| invalid("the URL has no host"))?;
    let path = uri.path_and_query().map_or("/", |path| path.as_str());

    Request::get(path)
        .header(HOST, host.as_str())
        .header(USER_AGENT, USER_AGENT_VALUE)
        .body(Empty::new())
        .map_err(|error| invalid(&error.to_string()))
}

async fn read_body(url: &str, response: Response<Incoming>) -> Result<Bytes, MyIpError> {
    let status = response.status();
    if !status.is_success() {
        return Err(MyIpError::Status {
            url: url.to_string(),
            status,
        });
    }

    let collected = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await;
    match collected {
        Ok(body) => Ok(body.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(MyIpError::BodyTooLarge {
            url: url.to_string(),
        }),
        Err(error) => Err(MyIpError::Failed {
            url: url.to_string(),
            reason: error_chain(error.as_ref()),
        }),
    }
}

fn parse_address(url: &str, body: &[u8]) -> Result<IpAddr, MyIpError> {
    let text = String::from_utf8_lossy(body);
    text.trim().parse().map_err(|_| MyIpError::NotAnAddress {
        url: url.to_string(),
        body: excerpt(&text, 60),
    })
}

fn excerpt(text: &str, max_chars: usize) -> String {
    let mut excerpt: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        excerpt.push('…');
    }
    excerpt
}

/// Joins an error and its sources, because the top-level message of a connect error is generic
/// and the cause, such as a refused connection, is in the sources.
fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Formats whole seconds as "3 s" and anything else as milliseconds, such as "300 ms".
fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
