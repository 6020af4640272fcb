//! Webhook output adapter: POSTs JSON to an `http://` endpoint (a CMMS, a chat bridge, a ticketing system) with
//! a per-attempt timeout and retries.
//!
//! Each call of [`Webhook::post_json`] sends `Content-Type: application/json` and an `Idempotency-Key` header
//! given by the caller, the same on every attempt, so the receiver can drop a request it already processed
//! (a retry after a timeout may repeat a request that did arrive). Attempts are retried, up to
//! `max_attempts` in all, after a connection error, a timeout or a `5xx` answer, waiting `backoff × 2^k` before
//! retry `k + 1` (200 ms, 400 ms, 800 ms, … by default, at most [`MAX_BACKOFF`]). A `4xx` answer is returned at
//! once as [`WebhookError::Status`]: sending the same request again would not help.
//!
//! Only plain HTTP/1.1 is supported: there is no TLS client in doppel yet, so `https://` URLs are refused with
//! [`WebhookError::TlsUnsupported`] (put a TLS-terminating proxy on localhost in front of an HTTPS endpoint).

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Default wait before the first retry (doubling after each).
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);
/// Most bytes of a response body read; a longer body is [`WebhookError::ResponseTooLarge`].
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Name of the idempotency header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A webhook endpoint and how to call it. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Webhook {
    url: Uri,
    timeout: Duration,
    max_attempts: u32,
    backoff: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// A successful (`2xx`) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status.
    pub status: u16,
    /// Response body (invalid UTF-8 replaced).
    pub body: String,
    /// Attempts it took, from 1.
    pub attempts: u32,
}

/// Why a webhook could not be set up or called.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL cannot be parsed or has no host.
    #[error("webhook URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// An `https://` URL: no TLS client is built in yet.
    #[error("webhook URL '{url}': TLS is not supported for webhooks yet; use an http:// URL (for example a TLS-terminating proxy on localhost)")]
    TlsUnsupported {
        /// The URL as given.
        url: String,
    },
    /// A scheme other than `http`.
    #[error("webhook URL '{url}': scheme '{scheme}' is not supported; use http://")]
    UnsupportedScheme {
        /// The URL as given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// A setting or argument is invalid (zero attempts or timeout, a key that cannot be a header value).
    #[error("webhook: `{field}` {reason}")]
    InvalidArgument {
        /// The setting or argument.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The endpoint answered with a status other than `2xx`: at once for `4xx` (and other non-`5xx` statuses),
    /// or after the last attempt for `5xx`.
    #[error("webhook {url} answered {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// Response body (invalid UTF-8 replaced).
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The last attempt got no complete answer within the timeout.
    #[error("webhook {url}: no answer within {timeout:?} (attempt {attempts} of {attempts})")]
    Timeout {
        /// The endpoint.
        url: String,
        /// Per-attempt timeout.
        timeout: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The last attempt failed to connect or the connection broke.
    #[error("webhook {url}: {message} (after {attempts} attempt(s))")]
    Transport {
        /// The endpoint.
        url: String,
        /// The error and its causes.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The response body is longer than [`MAX_RESPONSE_BYTES`] (not retried).
    #[error("webhook {url} answered {status} with a body longer than {MAX_RESPONSE_BYTES} bytes")]
    ResponseTooLarge {
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
    },
}

/// One attempt's result, before deciding whether to retry.
enum Attempt {
    Answer { status: u16, body: String },
    Timeout,
    Transport(String),
    TooLarge(u16),
}

impl Webhook {
    /// A webhook posting to `url` (`http://host[:port]/path`), waiting at most `timeout` for each attempt (connect,
    /// send and the whole response) and making at most `max_attempts` attempts. Needs no runtime; the calls do.
    ///
    /// # Errors
    /// [`WebhookError::TlsUnsupported`] for `https://`, [`WebhookError::UnsupportedScheme`] for other schemes,
    /// [`WebhookError::InvalidUrl`] when the URL cannot be parsed or has no host, and
    /// [`WebhookError::InvalidArgument`] when `timeout` or `max_attempts` is zero.
    pub fn new(url: &str, timeout: Duration, max_attempts: u32) -> Result<Webhook, WebhookError> {
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| WebhookError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(s) if s.eq_ignore_ascii_case("https") => return Err(WebhookError::TlsUnsupported { url: url.to_string() }),
            Some(s) => {
                return Err(WebhookError::UnsupportedScheme {
                    url: url.to_string(),
                    scheme: s.to_string(),
                });
            }
            None => {
                return Err(WebhookError::InvalidUrl {
                    url: url.to_string(),
                    reason: "no scheme: expected http://host[:port]/path".into(),
                });
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(WebhookError::InvalidUrl {
                url: url.to_string(),
                reason: "no host".into(),
            });
        }
        if timeout.is_zero() {
            return Err(WebhookError::InvalidArgument {
                field: "timeout",
                reason: "must be more than zero".into(),
            });
        }
        if max_attempts == 0 {
            return Err(WebhookError::InvalidArgument {
                field: "max_attempts",
                reason: "must be at least 1".into(),
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Webhook {
            url: uri,
            timeout,
            max_attempts,
            backoff: DEFAULT_BACKOFF,
            client,
        })
    }

    /// Changes the wait before the first retry (default [`DEFAULT_BACKOFF`]); it doubles after each retry.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Duration) -> Webhook {
        self.backoff = backoff;
        self
    }

    /// The endpoint.
    #[must_use]
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// Wait before retry number `retry` (from 0): `backoff × 2^retry`, at most [`MAX_BACKOFF`].
    fn backoff_for(&self, retry: u32) -> Duration {
        self.backoff.saturating_mul(1u32 << retry.min(20)).min(MAX_BACKOFF)
    }

    /// POSTs `body` as JSON with the header `Idempotency-Key: {idempotency_key}`, retrying as described in the
    /// module documentation, and returns the first `2xx` answer.
    ///
    /// # Errors
    /// [`WebhookError::InvalidArgument`] when the key is empty or not a valid header value (nothing is sent);
    /// [`WebhookError::Status`] for a `4xx` (no retry) or a `5xx` on the last attempt; [`WebhookError::Timeout`] /
    /// [`WebhookError::Transport`] when the last attempt timed out or could not connect;
    /// [`WebhookError::ResponseTooLarge`].
    pub async fn post_json(&self, idempotency_key: &str, body: &serde_json::Value) -> Result<WebhookResponse, WebhookError> {
        if idempotency_key.is_empty() {
            return Err(WebhookError::InvalidArgument {
                field: "idempotency_key",
                reason: "must not be empty".into(),
            });
        }
        let key = HeaderValue::from_str(idempotency_key).map_err(|_| WebhookError::InvalidArgument {
            field: "idempotency_key",
            reason: "must be visible ASCII (a header value)".into(),
        })?;
        let bytes = Bytes::from(serde_json::to_vec(body).map_err(|e| WebhookError::InvalidArgument {
            field: "body",
            reason: e.to_string(),
        })?);
        let url = self.url.to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(&key, bytes.clone()).await;
            let last = attempt >= self.max_attempts;
            let err = match outcome {
                Attempt::Answer { status, body } if (200..300).contains(&status) => {
                    return Ok(WebhookResponse {
                        status,
                        body,
                        attempts: attempt,
                    });
                }
                Attempt::Answer { status, .. } if (500..600).contains(&status) && !last => {
                    tracing::warn!(url = %url, status, attempt, "webhook answered with a server error; retrying");
                    None
                }
                Attempt::Answer { status, body } => Some(WebhookError::Status {
                    url: url.clone(),
                    status,
                    body,
                    attempts: attempt,
                }),
                Attempt::TooLarge(status) => Some(WebhookError::ResponseTooLarge { url: url.clone(), status }),
                Attempt::Timeout if last => Some(WebhookError::Timeout {
                    url: url.clone(),
                    timeout: self.timeout,
                    attempts: attempt,
                }),
                Attempt::Transport(message) if last => Some(WebhookError::Transport {
                    url: url.clone(),
                    message,
                    attempts: attempt,
                }),
                Attempt::Timeout => {
                    tracing::warn!(url = %url, attempt, timeout_ms = self.timeout.as_millis() as u64, "webhook timed out; retrying");
                    None
                }
                Attempt::Transport(message) => {
                    tracing::warn!(url = %url, attempt, error = %message, "webhook connection failed; retrying");
                    None
                }
            };
            if let Some(e) = err {
                return Err(e);
            }
            tokio::time::sleep(self.backoff_for(attempt - 1)).await;
        }
    }

    /// One request, bounded by the timeout from connect to the end of the response body.
    async fn attempt(&self, key: &HeaderValue, body: Bytes) -> Attempt {
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(IDEMPOTENCY_KEY, key.clone())
            .body(Full::new(body));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Attempt::Transport(e.to_string()),
        };
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status().as_u16();
            match Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect().await {
                Ok(collected) => Ok(Attempt::Answer {
                    status,
                    body: String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
                }),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => Ok(Attempt::TooLarge(status)),
                Err(e) => Err(format!("reading the response: {}", error_chain(&*e))),
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(a)) => a,
            Ok(Err(message)) => Attempt::Transport(message),
            Err(_) => Attempt::Timeout,
        }
    }
}

/// An error and its causes, `outer: inner: …`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_accepted() {
        let t = Duration::from_secs(1);
        assert!(Webhook::new("http://127.0.0.1:8080/hook", t, 3).is_ok());
        assert!(Webhook::new("http://cmms.local/api/v1/events?x=1", t, 1).is_ok());
        let e = Webhook::new("https://cmms.example/hook", t, 3).unwrap_err();
        assert!(matches!(e, WebhookError::TlsUnsupported { .. }));
        assert!(e.to_string().contains("TLS is not supported for webhooks yet"), "{e}");
        assert!(matches!(
            Webhook::new("ftp://host/x", t, 3),
            Err(WebhookError::UnsupportedScheme { scheme, .. }) if scheme == "ftp"
        ));
        assert!(matches!(Webhook::new("127.0.0.1:80/hook", t, 3), Err(WebhookError::InvalidUrl { .. })));
        assert!(matches!(Webhook::new("http://exa mple/", t, 3), Err(WebhookError::InvalidUrl { .. })));
        assert!(matches!(Webhook::new("/just/a/path", t, 3), Err(WebhookError::InvalidUrl { .. })));
        assert!(matches!(
            Webhook::new("http://h/", t, 0),
            Err(WebhookError::InvalidArgument { field: "max_attempts", .. })
        ));
        assert!(matches!(
            Webhook::new("http://h/", Duration::ZERO, 1),
            Err(WebhookError::InvalidArgument { field: "timeout", .. })
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let w = Webhook::new("http://h/", Duration::from_secs(1), 5).unwrap();
        assert_eq!(w.backoff_for(0), Duration::from_millis(200));
        assert_eq!(w.backoff_for(1), Duration::from_millis(400));
        assert_eq!(w.backoff_for(3), Duration::from_millis(1600));
        assert_eq!(w.backoff_for(40), MAX_BACKOFF);
        let w = w.with_backoff(Duration::from_millis(10));
        assert_eq!(w.backoff_for(2), Duration::from_millis(40));
    }

    #[tokio::test]
    async fn a_bad_idempotency_key_is_refused_before_sending() {
        let w = Webhook::new("http://127.0.0.1:9/", Duration::from_secs(1), 1).unwrap();
        let body = serde_json::json!({});
        assert!(matches!(
            w.post_json("", &body).await,
            Err(WebhookError::InvalidArgument { field: "idempotency_key", .. })
        ));
        assert!(matches!(
            w.post_json("bad\nkey", &body).await,
            Err(WebhookError::InvalidArgument { field: "idempotency_key", .. })
        ));
    }
}
