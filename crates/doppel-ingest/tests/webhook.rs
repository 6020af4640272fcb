//! The webhook adapter against a tiny HTTP server on 127.0.0.1:0: success, a retried 500, a 400 that is not
//! retried, a server that never answers, and a port where nothing listens.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doppel_ingest::webhook::{Webhook, WebhookError};
use serde_json::json;

/// What the server does with one request.
#[derive(Clone)]
enum Reply {
    Status(u16, &'static str),
    /// Read the request, then keep the connection open without answering.
    Never,
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A one-request-per-connection HTTP/1.1 server on a std thread, answering with `replies` in order (then 200).
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn server(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/doppel", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
    let log = seen.clone();
    std::thread::spawn(move || {
        // Connections left unanswered are kept here so they stay open.
        let mut parked: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Some(req) = read_request(&stream) else { continue };
            log.lock().unwrap().push(req);
            match replies.lock().unwrap().pop_front().unwrap_or(Reply::Status(200, "{}")) {
                Reply::Status(code, body) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                Reply::Never => parked.push(stream),
            }
        }
    });
    Server { url, seen }
}

fn read_request(stream: &TcpStream) -> Option<Seen> {
    let mut r = BufReader::new(stream);
    let mut request_line = String::new();
    r.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen {
        request_line: request_line.trim_end().to_string(),
        headers,
        body,
    })
}

fn fast(url: &str, timeout_ms: u64, attempts: u32) -> Webhook {
    Webhook::new(url, Duration::from_millis(timeout_ms), attempts)
        .unwrap()
        .with_backoff(Duration::from_millis(20))
}

#[tokio::test]
async fn posts_json_with_the_idempotency_key() {
    let s = server(vec![Reply::Status(201, r#"{"ticket":"T-7"}"#)]);
    let body = json!({"asset": "l1-hyd-motor", "action": "repair", "work_order": "WO-12"});
    let r = fast(&s.url, 2000, 3).post_json("rec-42", &body).await.unwrap();
    assert_eq!((r.status, r.body.as_str(), r.attempts), (201, r#"{"ticket":"T-7"}"#, 1));
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_line, "POST /hooks/doppel HTTP/1.1");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].header("idempotency-key"), Some("rec-42"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&seen[0].body).unwrap(), body);
}

#[tokio::test]
async fn a_server_error_is_retried_with_the_same_key() {
    let s = server(vec![Reply::Status(500, "busy"), Reply::Status(200, "ok")]);
    let r = fast(&s.url, 2000, 3).post_json("rec-1", &json!({"n": 1})).await.unwrap();
    assert_eq!((r.status, r.attempts), (200, 2));
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|q| q.header("idempotency-key") == Some("rec-1")));
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn server_errors_on_every_attempt_return_the_last_status() {
    let s = server(vec![Reply::Status(503, "a"), Reply::Status(502, "b"), Reply::Status(500, "c")]);
    match fast(&s.url, 2000, 3).post_json("k", &json!({})).await {
        Err(WebhookError::Status { status, body, attempts, .. }) => assert_eq!((status, body.as_str(), attempts), (500, "c", 3)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let s = server(vec![Reply::Status(400, r#"{"error":"unknown asset"}"#), Reply::Status(200, "ok")]);
    match fast(&s.url, 2000, 5).post_json("k", &json!({})).await {
        Err(WebhookError::Status { status, body, attempts, .. }) => {
            assert_eq!((status, attempts), (400, 1));
            assert!(body.contains("unknown asset"), "{body}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_on_each_attempt() {
    let s = server(vec![Reply::Never, Reply::Never]);
    let started = Instant::now();
    match fast(&s.url, 300, 2).post_json("k", &json!({})).await {
        Err(e @ WebhookError::Timeout { attempts: 2, .. }) => assert!(e.to_string().contains("no answer within 300ms"), "{e}"),
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(600) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(s.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    match fast(&format!("http://127.0.0.1:{port}/x"), 1000, 3).post_json("k", &json!({})).await {
        Err(WebhookError::Transport { attempts, message, .. }) => {
            assert_eq!(attempts, 3);
            assert!(message.to_lowercase().contains("connect"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
