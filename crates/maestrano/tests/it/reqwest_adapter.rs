//! The reqwest adapter against real servers on loopback.
//!
//! Every server here is a raw `tokio::net::TcpListener` on 127.0.0.1 (port 0) driven by a
//! script, so misbehaviour (stalls, truncation, resets, endless bodies) is exact. Every test is
//! bounded in time by [`bounded`] and by the client's own timeouts.
#![cfg(feature = "reqwest")]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::ports::{HttpClient, HttpRequest, TransportError, TransportErrorKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest any test may run before it fails.
const TEST_LIMIT: Duration = Duration::from_secs(20);

async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, fut)
        .await
        .expect("the test did not finish in time")
}

/// A client whose timeouts are short enough for tests yet far above loopback latency.
fn client() -> ReqwestHttpClient {
    ReqwestHttpClient::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client builds")
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A request as the server read it off the wire.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) off `stream`.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Received {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read request");
        assert!(n > 0, "the client closed before sending a whole head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().expect("request line").to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header line");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().expect("numeric content-length"));
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "the client closed before sending the whole body");
        body.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(body.len(), length, "no more than Content-Length bytes");
    Received {
        request_line,
        headers,
        body,
    }
}

/// A server that accepts one connection, reads one request, hands it to `script` with the
/// stream, and returns what it received.
fn serve_one<F, Fut>(listener: TcpListener, script: F) -> JoinHandle<Received>
where
    F: FnOnce(TcpStream, Received) -> Fut + Send + 'static,
    Fut: Future<Output = Received> + Send,
{
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let received = read_request(&mut stream).await;
        script(stream, received).await
    })
}

/// Writes `response` and keeps the connection open until the client goes away.
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, response: &[u8]) {
    stream.write_all(response).await.expect("write response");
    stream.flush().await.expect("flush");
    let mut rest = [0u8; 1024];
    while let Ok(n) = stream.read(&mut rest).await {
        if n == 0 {
            break;
        }
    }
}

fn get(url: &str) -> HttpRequest {
    http::Request::get(url).body(Vec::new()).expect("request")
}

fn assert_kind(err: &TransportError, kind: TransportErrorKind) {
    assert_eq!(err.kind(), kind, "unexpected error: {err}");
}

#[tokio::test]
async fn a_200_round_trips_method_uri_headers_and_bodies() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |mut stream, received| async move {
            let body = b"{\"ok\":true}\x00\xff";
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-reply: one\r\n\
                 set-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let mut response = head.into_bytes();
            response.extend_from_slice(body);
            reply(&mut stream, &response).await;
            received
        });

        let sent_body = b"payload \x00\x01\xfe\xff end".to_vec();
        let request = http::Request::post(format!("http://{addr}/echo/%C3%A9?x=1&y=two%20words"))
            .header("content-type", "application/octet-stream")
            .header("authorization", "Basic a2V5OnNlY3JldA==")
            .header("x-multi", "first")
            .header("x-multi", "second")
            .header("user-agent", "custom-agent/1.0")
            .body(sent_body.clone())
            .unwrap();
        let response = client().send(request).await.expect("exchange succeeds");

        assert_eq!(response.status(), 200);
        assert_eq!(response.body().as_slice(), b"{\"ok\":true}\x00\xff");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["x-reply"], "one");
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);

        let received = server.await.unwrap();
        assert_eq!(
            received.request_line,
            "POST /echo/%C3%A9?x=1&y=two%20words HTTP/1.1"
        );
        assert_eq!(received.body, sent_body);
        assert_eq!(
            received.header_values("content-type"),
            ["application/octet-stream"]
        );
        assert_eq!(
            received.header_values("authorization"),
            ["Basic a2V5OnNlY3JldA=="]
        );
        assert_eq!(received.header_values("x-multi"), ["first", "second"]);
        assert_eq!(received.header_values("user-agent"), ["custom-agent/1.0"]);
        assert_eq!(
            received.header_values("content-length"),
            [sent_body.len().to_string()]
        );
        assert_eq!(received.header_values("host"), [addr.to_string()]);
    })
    .await;
}

#[tokio::test]
async fn a_request_without_user_agent_gets_the_configured_one() {
    bounded(async {
        for (builder, expected) in [
            (
                ReqwestHttpClient::builder(),
                format!("maestrano-rust/{}", env!("CARGO_PKG_VERSION")),
            ),
            (
                ReqwestHttpClient::builder().user_agent("my-app/2.3"),
                "my-app/2.3".to_owned(),
            ),
        ] {
            let (listener, addr) = listener().await;
            let server = serve_one(listener, |mut stream, received| async move {
                reply(&mut stream, b"HTTP/1.1 204 No Content\r\n\r\n").await;
                received
            });
            let client = builder.timeout(Duration::from_secs(5)).build().unwrap();
            let response = client.send(get(&format!("http://{addr}/"))).await.unwrap();
            assert_eq!(response.status(), 204);
            assert!(response.body().is_empty());
            // The pooled connection stays open while the client lives.
            drop(client);
            let received = server.await.unwrap();
            assert_eq!(received.request_line, "GET / HTTP/1.1");
            assert_eq!(received.header_values("user-agent"), [expected.as_str()]);
            assert!(received.body.is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn a_500_is_a_response_not_an_error() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |mut stream, received| async move {
            reply(
                &mut stream,
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops",
            )
            .await;
            received
        });
        let response = client()
            .send(get(&format!("http://{addr}/fail")))
            .await
            .expect("a 500 is a response");
        assert_eq!(response.status(), 500);
        assert_eq!(response.body().as_slice(), b"oops");
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_302_is_returned_not_followed() {
    bounded(async {
        // The redirect target accepts connections but never answers: had the client followed
        // the redirect, it would hang there until its timeout instead of returning the 302.
        let (target, target_addr) = listener().await;
        let (listener, addr) = listener().await;
        let location = format!("http://{target_addr}/elsewhere");
        let server = serve_one(listener, move |mut stream, received| async move {
            let response =
                format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
            reply(&mut stream, response.as_bytes()).await;
            received
        });
        let response = client()
            .send(get(&format!("http://{addr}/start")))
            .await
            .expect("the 302 itself");
        assert_eq!(response.status(), 302);
        assert_eq!(
            response.headers()["location"],
            format!("http://{target_addr}/elsewhere").as_str()
        );
        let followed = tokio::time::timeout(Duration::from_millis(200), target.accept()).await;
        assert!(followed.is_err(), "the redirect target was contacted");
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_reply_slower_than_the_total_timeout_is_a_timeout() {
    bounded(async {
        let (listener, addr) = listener().await;
        let _server = serve_one(listener, |stream, received| async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(stream);
            received
        });
        let client = ReqwestHttpClient::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = client
            .send(get(&format!("http://{addr}/slow")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Timeout);
        assert!(err.may_have_been_sent(), "the request had been sent");
    })
    .await;
}

#[tokio::test]
async fn a_body_that_stalls_past_the_total_timeout_is_a_timeout() {
    bounded(async {
        let (listener, addr) = listener().await;
        let _server = serve_one(listener, |mut stream, received| async move {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst ten!")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            received
        });
        let client = ReqwestHttpClient::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let err = client
            .send(get(&format!("http://{addr}/stall")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Timeout);
        assert!(err.may_have_been_sent());
    })
    .await;
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_that_was_not_sent() {
    bounded(async {
        let addr = {
            let (listener, addr) = listener().await;
            drop(listener);
            addr
        };
        let err = client()
            .send(
                http::Request::post(format!("http://{addr}/nobody"))
                    .body(b"x".to_vec())
                    .unwrap(),
            )
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Connect);
        assert!(!err.may_have_been_sent());
    })
    .await;
}

#[tokio::test]
async fn a_connect_timeout_is_a_timeout_that_was_not_sent() {
    bounded(async {
        // A listener with a backlog of one that never accepts: once its accept queue is full,
        // the kernel drops further SYNs, so the next connect hangs in the handshake.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..2 {
            if let Ok(Ok(s)) =
                tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
            {
                fillers.push(s);
            }
        }
        let probe =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await;
        assert!(
            probe.is_err(),
            "the listen queue is not full: cannot set up a hanging connect here"
        );

        let client = ReqwestHttpClient::builder()
            .connect_timeout(Duration::from_millis(300))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let err = client
            .send(get(&format!("http://{addr}/")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Timeout);
        assert!(!err.may_have_been_sent(), "nothing was sent: {err}");
        drop((listener, fillers));
    })
    .await;
}

#[tokio::test]
async fn a_connection_closed_before_any_reply_is_other_and_may_have_been_sent() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |stream, received| async move {
            drop(stream);
            received
        });
        let err = client()
            .send(
                http::Request::post(format!("http://{addr}/act"))
                    .body(b"do it".to_vec())
                    .unwrap(),
            )
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Other);
        assert!(err.may_have_been_sent());
        assert_eq!(server.await.unwrap().body, b"do it");
    })
    .await;
}

#[tokio::test]
async fn a_body_cut_short_by_close_is_other() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |mut stream, received| async move {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
                .await
                .unwrap();
            stream.shutdown().await.unwrap();
            received
        });
        let err = client()
            .send(get(&format!("http://{addr}/cut")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Other);
        assert!(err.may_have_been_sent());
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_connection_reset_mid_response_is_other() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |mut stream, received| async move {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
                .await
                .unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            // SO_LINGER 0: closing sends a RST instead of a FIN.
            stream.set_zero_linger().unwrap();
            drop(stream);
            received
        });
        let err = client()
            .send(get(&format!("http://{addr}/reset")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Other);
        assert!(err.may_have_been_sent());
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_declared_content_length_over_the_cap_fails_before_reading_the_body() {
    bounded(async {
        let (listener, addr) = listener().await;
        // Ten gigabytes are announced but none are sent: only a client that checks the
        // header up front answers BodyTooLarge rather than Timeout.
        let _server = serve_one(listener, |mut stream, received| async move {
            reply(
                &mut stream,
                b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n",
            )
            .await;
            received
        });
        let client = ReqwestHttpClient::builder()
            .max_body_bytes(1024)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let err = client
            .send(get(&format!("http://{addr}/huge")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::BodyTooLarge);
    })
    .await;
}

/// Writes a chunked body of 1 KiB chunks until the client hangs up or `limit` bytes are out.
async fn endless_chunked(stream: &mut TcpStream, limit: usize) -> usize {
    if stream
        .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .is_err()
    {
        return 0;
    }
    let chunk = format!("400\r\n{}\r\n", "z".repeat(1024));
    let mut written = 0;
    while written < limit {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        written += 1024;
    }
    written
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_off_at_the_cap() {
    bounded(async {
        let (listener, addr) = listener().await;
        // Up to 1 GiB, far more than the test waits for: a client that buffered until the end
        // would run into its timeout instead of reporting BodyTooLarge.
        let server = serve_one(listener, |mut stream, received| async move {
            let written = endless_chunked(&mut stream, 1 << 30).await;
            assert!(written < 1 << 30, "the client kept reading");
            received
        });
        let client = ReqwestHttpClient::builder()
            .max_body_bytes(64 * 1024)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let err = client
            .send(get(&format!("http://{addr}/stream")))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::BodyTooLarge);
        // Dropping the response closed the connection, so the server stops writing.
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_chunked_body_of_exactly_the_cap_is_accepted_and_one_more_byte_is_not() {
    bounded(async {
        for (size, accepted) in [(1024, true), (1025, false)] {
            let (listener, addr) = listener().await;
            let _server = serve_one(listener, move |mut stream, received| async move {
                let mut response =
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                for part in [vec![b'a'; 1000], vec![b'b'; size - 1000]] {
                    response.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    response.extend_from_slice(&part);
                    response.extend_from_slice(b"\r\n");
                }
                response.extend_from_slice(b"0\r\n\r\n");
                reply(&mut stream, &response).await;
                received
            });
            let client = ReqwestHttpClient::builder()
                .max_body_bytes(1024)
                .build()
                .unwrap();
            let result = client.send(get(&format!("http://{addr}/exact"))).await;
            if accepted {
                let response = result.expect("a body of exactly the cap");
                assert_eq!(response.body().len(), 1024);
                assert!(response.body()[..1000].iter().all(|b| *b == b'a'));
            } else {
                assert_kind(&result.unwrap_err(), TransportErrorKind::BodyTooLarge);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_head_response_announcing_a_large_length_is_not_too_large() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |mut stream, received| async move {
            reply(
                &mut stream,
                b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n",
            )
            .await;
            received
        });
        let client = ReqwestHttpClient::builder()
            .max_body_bytes(1024)
            .build()
            .unwrap();
        let request = http::Request::head(format!("http://{addr}/big"))
            .body(Vec::new())
            .unwrap();
        let response = client.send(request).await.expect("HEAD has no body");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-length"], "10000000000");
        assert!(response.body().is_empty());
        drop(client);
        assert_eq!(server.await.unwrap().request_line, "HEAD /big HTTP/1.1");
    })
    .await;
}

/// A TLS server on loopback with a freshly made self-signed certificate for 127.0.0.1 and
/// localhost. It returns what each handshake ended with.
async fn self_signed_tls_server() -> (SocketAddr, JoinHandle<Result<(), String>>, String) {
    use tokio_rustls::rustls;

    let key = rcgen::KeyPair::generate().expect("key pair");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        match acceptor.accept(stream).await {
            Ok(mut tls) => {
                let _ = read_request(&mut tls).await;
                reply(&mut tls, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    });
    // PEM written out here (rcgen's own writer is behind a feature this crate does not use).
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    (addr, server, pem)
}

#[tokio::test]
async fn https_to_a_self_signed_certificate_is_rejected() {
    bounded(async {
        let (addr, server, _) = self_signed_tls_server().await;
        let err = client()
            .send(get(&format!("https://127.0.0.1:{}/secure", addr.port())))
            .await
            .expect_err("an untrusted certificate must be rejected");
        assert_kind(&err, TransportErrorKind::Connect);
        assert!(!err.may_have_been_sent());
        assert!(
            err.message().to_lowercase().contains("certificate"),
            "the failure is the certificate: {err}"
        );
        // The server saw the handshake start and then fail: the client spoke TLS to it.
        let handshake = server.await.unwrap();
        assert!(handshake.is_err(), "the handshake completed: {handshake:?}");
    })
    .await;
}

#[tokio::test]
async fn error_messages_never_carry_the_url_query_or_headers() {
    bounded(async {
        const SECRET: &str = "SECRET-s3ss10n";
        let request = |addr: SocketAddr, scheme: &str| {
            http::Request::get(format!(
                "{scheme}://{addr}/api/v1/auth/saml/usr-secretpath?session={SECRET}"
            ))
            .header("authorization", format!("Bearer {SECRET}"))
            .header("cookie", format!("session={SECRET}"))
            .body(Vec::new())
            .unwrap()
        };
        let check = |err: TransportError| {
            for text in [
                err.to_string(),
                format!("{err:?}"),
                err.message().to_owned(),
            ] {
                assert!(!text.contains(SECRET), "leaks the secret: {text}");
                assert!(!text.contains("secretpath"), "leaks the path: {text}");
            }
            err.kind()
        };

        // Refused.
        let refused = {
            let (listener, addr) = listener().await;
            drop(listener);
            addr
        };
        let kind = check(client().send(request(refused, "http")).await.unwrap_err());
        assert_eq!(kind, TransportErrorKind::Connect);

        // Timed out.
        let (slow, slow_addr) = listener().await;
        let _slow = serve_one(slow, |stream, received| async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(stream);
            received
        });
        let quick = ReqwestHttpClient::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let kind = check(quick.send(request(slow_addr, "http")).await.unwrap_err());
        assert_eq!(kind, TransportErrorKind::Timeout);

        // Cut off mid-response.
        let (cut, cut_addr) = listener().await;
        let _cut = serve_one(cut, |mut stream, received| async move {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nshort")
                .await;
            received
        });
        let kind = check(client().send(request(cut_addr, "http")).await.unwrap_err());
        assert_eq!(kind, TransportErrorKind::Other);

        // Untrusted certificate.
        let (tls_addr, _tls, _) = self_signed_tls_server().await;
        let kind = check(client().send(request(tls_addr, "https")).await.unwrap_err());
        assert_eq!(kind, TransportErrorKind::Connect);
    })
    .await;
}

#[tokio::test]
async fn debug_shows_settings_and_no_request_data() {
    bounded(async {
        let (listener, addr) = listener().await;
        let _server = serve_one(listener, |mut stream, received| async move {
            reply(&mut stream, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
            received
        });
        let client = ReqwestHttpClient::builder()
            .max_body_bytes(4096)
            .user_agent("agent/1")
            .build()
            .unwrap();
        let request = http::Request::get(format!("http://{addr}/x?session=SECRET"))
            .header("authorization", "Bearer SECRET")
            .body(Vec::new())
            .unwrap();
        client.send(request).await.unwrap();
        for debug in [format!("{client:?}"), format!("{:?}", client.clone())] {
            assert!(debug.starts_with("ReqwestHttpClient"), "{debug}");
            assert!(debug.contains("max_body_bytes: 4096"), "{debug}");
            assert!(debug.contains("agent/1"), "{debug}");
            assert!(!debug.contains("SECRET"), "{debug}");
            assert!(!debug.contains(&addr.port().to_string()), "{debug}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_relative_uri_is_refused_without_sending() {
    let err = client().send(get("/relative/path")).await.unwrap_err();
    assert_kind(&err, TransportErrorKind::Other);
    assert!(!err.may_have_been_sent());
}

#[tokio::test]
async fn the_client_is_usable_as_a_shared_trait_object() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            // Two requests, possibly over one kept-alive connection.
            let mut served = 0;
            while served < 2 {
                let (mut stream, _) = listener.accept().await.unwrap();
                while served < 2 {
                    let mut probe = [0u8; 1];
                    if stream.peek(&mut probe).await.unwrap_or(0) == 0 {
                        break;
                    }
                    let received = read_request(&mut stream).await;
                    let body = received.request_line.clone();
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    stream.write_all(head.as_bytes()).await.unwrap();
                    stream.write_all(body.as_bytes()).await.unwrap();
                    served += 1;
                }
            }
        });
        let shared: Arc<dyn HttpClient> = Arc::new(client());
        for path in ["/one", "/two"] {
            let response = shared
                .send(get(&format!("http://{addr}{path}")))
                .await
                .unwrap();
            assert_eq!(
                response.body().as_slice(),
                format!("GET {path} HTTP/1.1").as_bytes()
            );
        }
        server.await.unwrap();
    })
    .await;
}

/// An enterprise tenant on an internal PKI: its root, named with
/// `add_root_certificates_pem`, is trusted beside the platform's; a bundle that is not PEM
/// certificates is refused when the client is built, without quoting it.
#[tokio::test]
async fn a_named_root_certificate_is_trusted_and_a_bad_one_refused() {
    bounded(async {
        let (addr, server, pem) = self_signed_tls_server().await;
        let client = ReqwestHttpClient::builder()
            .add_root_certificates_pem(pem)
            .build()
            .unwrap();
        let response = client
            .send(get(&format!("https://localhost:{}/secure", addr.port())))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), b"ok");
        drop(client);
        assert!(server.await.unwrap().is_ok());
        let err = ReqwestHttpClient::builder()
            .add_root_certificates_pem(b"not-a-pem-secret-42".to_vec())
            .build()
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::Other);
        assert!(!err.message().contains("secret-42"), "{err}");
    })
    .await;
}

/// A named proxy gets every request in absolute form, with the credentials of its URL as
/// `Proxy-Authorization`; an invalid proxy URL is refused without being quoted.
#[tokio::test]
async fn a_named_proxy_carries_the_requests_and_its_credentials() {
    bounded(async {
        let (listener, addr) = listener().await;
        let proxy = serve_one(listener, |mut stream, received| async move {
            reply(
                &mut stream,
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nvia-proxy",
            )
            .await;
            received
        });
        let client = ReqwestHttpClient::builder()
            .proxy(format!("http://ops:pr0xy-pass@127.0.0.1:{}", addr.port()))
            .build()
            .unwrap();
        assert!(!format!("{client:?}").contains("pr0xy-pass"));
        let response = client
            .send(get(
                "http://tenant-hub.example.invalid/api/v1/account/groups",
            ))
            .await
            .unwrap();
        assert_eq!(response.body(), b"via-proxy");
        drop(client);
        let seen = proxy.await.unwrap();
        assert_eq!(
            seen.request_line,
            "GET http://tenant-hub.example.invalid/api/v1/account/groups HTTP/1.1"
        );
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:pr0xy-pass")
        );
        assert!(
            seen.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("proxy-authorization") && *v == expected),
            "{:?}",
            seen.headers
        );
        let builder = ReqwestHttpClient::builder().proxy("::not a url with s3cret::");
        assert!(!format!("{builder:?}").contains("s3cret"));
        let err = builder.build().unwrap_err();
        assert!(!err.message().contains("s3cret"), "{err}");
    })
    .await;
}

/// An app's own reqwest client, wrapped: the SDK's body cap still holds.
#[tokio::test]
async fn a_wrapped_client_keeps_the_body_cap() {
    bounded(async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, |mut stream, received| async move {
            reply(
                &mut stream,
                b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world",
            )
            .await;
            received
        });
        let own = maestrano::adapters::reqwest_client::Client::builder()
            .no_proxy()
            .redirect(maestrano::adapters::reqwest_client::redirect::Policy::none())
            .build()
            .unwrap();
        let client = ReqwestHttpClient::from_client(own).with_max_body_bytes(5);
        let err = client
            .send(get(&format!("http://127.0.0.1:{}/big", addr.port())))
            .await
            .unwrap_err();
        assert_kind(&err, TransportErrorKind::BodyTooLarge);
        drop(client);
        server.await.unwrap();
    })
    .await;
}
