//! Public address lookups against a small HTTP server on 127.0.0.1.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipgate::myip::{MyIpError, MyIpSource, find_my_ip};

const TIMEOUT: Duration = Duration::from_millis(300);

/// How long the server waits for a connection or a request before giving up, so a test that
/// goes wrong fails instead of hanging.
const SERVER_PATIENCE: Duration = Duration::from_secs(5);

/// What the server does with one connection.
enum Reply {
    /// Sends this status line and body, then closes the connection.
    Http { status: &'static str, body: Vec<u8> },
    /// Reads the request and sends no response until the client hangs up.
    Silence,
    /// Writes these bytes as soon as the connection opens, without reading anything.
    Raw(Vec<u8>),
}

fn ok(body: &str) -> Reply {
    Reply::Http {
        status: "200 OK",
        body: body.as_bytes().to_vec(),
    }
}

/// A server on 127.0.0.1 that handles one connection per reply, in order, then stops. The
/// handle returns the request head of each connection.
struct Server {
    url: String,
    handle: JoinHandle<Vec<String>>,
}

impl Server {
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();

        let handle = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for reply in replies {
                let Some(stream) = accept(&listener) else {
                    break;
                };
                requests.push(handle_connection(stream, reply));
            }
            requests
        });
        Server { url, handle }
    }

    fn requests(self) -> Vec<String> {
        self.handle.join().unwrap()
    }
}

fn accept(listener: &TcpListener) -> Option<TcpStream> {
    let deadline = Instant::now() + SERVER_PATIENCE;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => return Some(stream),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => panic!("accept failed: {error}"),
        }
    }
    None
}

fn handle_connection(mut stream: TcpStream, reply: Reply) -> String {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(SERVER_PATIENCE)).unwrap();
    if let Reply::Raw(bytes) = &reply {
        // The client may hang up first, and the test checks the client's side only.
        let _ = stream.write_all(bytes);
        return String::new();
    }
    let head = read_head(&mut stream);

    match reply {
        Reply::Http { status, body } => {
            let header = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(header.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
        Reply::Silence => {
            // Returns once the client closes the connection or the read times out.
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
        Reply::Raw(_) => unreachable!("answered before reading the request"),
    }
    head
}

fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

async fn look_up(url: &str) -> Result<IpAddr, MyIpError> {
    find_my_ip(&MyIpSource::Lookup(url.to_string()), TIMEOUT).await
}

#[tokio::test]
async fn lookup_plain_ipv4() {
    let server = Server::start(vec![ok("203.0.113.9\n")]);

    let address = look_up(&server.url).await.unwrap();

    assert_eq!(address, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].starts_with("GET / HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0].to_lowercase().contains("user-agent: ipgate/"),
        "{}",
        requests[0]
    );
}

#[tokio::test]
async fn lookup_ipv6() {
    let server = Server::start(vec![ok("  2001:db8::42\r\n")]);

    let address = look_up(&server.url).await.unwrap();

    let expected: Ipv6Addr = "2001:db8::42".parse().unwrap();
    assert_eq!(address, IpAddr::V6(expected));
    server.requests();
}

#[tokio::test]
async fn lookup_garbage_body() {
    let server = Server::start(vec![ok("<html>hello</html>\n")]);

    let error = look_up(&server.url).await.unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, MyIpError::NotAnAddress { .. }), "{error:?}");
    assert!(message.contains(&server.url), "{message}");
    assert!(message.contains("<html>hello</html>"), "{message}");
    assert!(message.contains("--my-ip"), "{message}");
    server.requests();
}

#[tokio::test]
async fn lookup_empty_body() {
    let server = Server::start(vec![ok("")]);

    let error = look_up(&server.url).await.unwrap_err();

    assert!(matches!(error, MyIpError::NotAnAddress { .. }), "{error:?}");
    server.requests();
}

#[tokio::test]
async fn lookup_body_too_large() {
    let server = Server::start(vec![ok(&"1".repeat(5000))]);

    let error = look_up(&server.url).await.unwrap_err();

    assert!(matches!(error, MyIpError::BodyTooLarge { .. }), "{error:?}");
    assert!(error.to_string().contains(&server.url), "{error}");
    server.requests();
}

#[tokio::test]
async fn lookup_http_500() {
    let server = Server::start(vec![Reply::Http {
        status: "500 Internal Server Error",
        body: b"203.0.113.9\n".to_vec(),
    }]);

    let error = look_up(&server.url).await.unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, MyIpError::Status { .. }), "{error:?}");
    assert!(message.contains(&server.url), "{message}");
    assert!(message.contains("HTTP 500"), "{message}");
    server.requests();
}

#[tokio::test]
async fn lookup_silent_server_times_out() {
    let server = Server::start(vec![Reply::Silence]);
    let started = Instant::now();

    let error = look_up(&server.url).await.unwrap_err();

    let elapsed = started.elapsed();
    let message = error.to_string();
    assert!(matches!(error, MyIpError::TimedOut { .. }), "{error:?}");
    assert!(elapsed >= TIMEOUT, "{elapsed:?}");
    assert!(elapsed < TIMEOUT + Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(
        message,
        format!(
            "the lookup at {} timed out after 300 ms; pass --my-ip ADDRESS",
            server.url
        )
    );

    // The server returns once the client closes the connection, well before its own
    // read timeout, so the timed-out lookup left no socket open.
    let closing = Instant::now();
    assert_eq!(server.requests().len(), 1);
    assert!(
        closing.elapsed() < SERVER_PATIENCE / 2,
        "{:?}",
        closing.elapsed()
    );
}

#[tokio::test]
async fn lookup_https_to_plain_server_fails() {
    let server = Server::start(vec![Reply::Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n203.0.113.9\n".to_vec(),
    )]);
    let url = server.url.replace("http://", "https://");

    let error = look_up(&url).await.unwrap_err();

    // Without system root certificates the connector fails before connecting, also as Failed.
    assert!(matches!(error, MyIpError::Failed { .. }), "{error:?}");
    assert!(error.to_string().contains(&url), "{error}");
}

#[tokio::test]
async fn lookup_refused_port() {
    // Bind and drop a listener to get a port that nothing listens on.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);

    let error = look_up(&url).await.unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, MyIpError::Failed { .. }), "{error:?}");
    assert!(message.contains(&url), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[tokio::test]
async fn lookup_invalid_url() {
    for url in ["not a url", "ftp://127.0.0.1/"] {
        let error = look_up(url).await.unwrap_err();

        assert!(
            matches!(error, MyIpError::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
        assert!(error.to_string().contains(url), "{error}");
    }
}

#[tokio::test]
async fn given_address_sends_no_request() {
    let given = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23));

    // A zero timeout fails any request, so success shows that none was made.
    let address = find_my_ip(&MyIpSource::Given(given), Duration::ZERO)
        .await
        .unwrap();

    assert_eq!(address, given);
}

#[tokio::test]
async fn disabled_source_is_error() {
    let error = find_my_ip(&MyIpSource::Disabled, TIMEOUT)
        .await
        .unwrap_err();

    assert_eq!(error, MyIpError::Disabled);
    assert!(error.to_string().contains("--my-ip"), "{error}");
}
