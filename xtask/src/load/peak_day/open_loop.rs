//! The generator: each request is due at a time fixed in advance and sent then, whatever
//! the system is doing, and its latency is counted from when it was due, so a system that
//! falls behind cannot hide it by slowing the generator down (no coordinated omission).

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::report::{Kind, Outcome, Sample};
use crate::error::Error;

/// Whatever the system does, no request waits longer than this (then it is an error).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight at once, at most: past it a request waits for a connection inside
/// the generator, and that wait counts in its latency (it is measured from when it was due).
/// Without a bound, a system falling behind would be buried under new connections.
const MOST_IN_FLIGHT: usize = 1024;

/// A client as the generator's: no redirects followed, the timeout above.
pub fn client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Failed(format!("an HTTP client: {e}")))
}

pub struct OpenLoop {
    client: reqwest::Client,
    base: String,
    start: Instant,
    in_flight: Semaphore,
    samples: Mutex<Vec<Sample>>,
}

impl OpenLoop {
    /// Requests to `base` through `client`, timed from a second from now.
    pub fn new(client: reqwest::Client, base: &str, expected_samples: usize) -> OpenLoop {
        OpenLoop {
            client,
            base: base.to_owned(),
            start: Instant::now() + Duration::from_secs(1),
            in_flight: Semaphore::new(MOST_IN_FLIGHT),
            samples: Mutex::new(Vec::with_capacity(expected_samples)),
        }
    }

    /// The instant `seconds` after the start.
    pub fn at(&self, seconds: f64) -> Instant {
        self.start + Duration::from_secs_f64(seconds)
    }

    pub fn elapsed_seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn take_samples(&self) -> Vec<Sample> {
        std::mem::take(&mut *self.samples.lock().expect("samples lock"))
    }

    /// Sends one request when it is due (at once if that has passed), records how it went
    /// and how long after it was due the answer came; the answer's JSON when expected.
    pub async fn request(
        &self,
        kind: Kind,
        host: &str,
        path: &str,
        body: Option<serde_json::Value>,
        due: f64,
        expected: u16,
    ) -> Option<serde_json::Value> {
        let due_at = self.at(due);
        tokio::time::sleep_until(due_at).await;
        let _slot = self.in_flight.acquire().await.expect("the semaphore is never closed");
        let url = format!("{}{path}", self.base);
        let request = match &body {
            Some(json) => self.client.post(url).json(json),
            None => self.client.get(url),
        };
        let answer = request.header("host", host).send().await;
        let (outcome, json) = match answer {
            Ok(response) if response.status().as_u16() == expected => {
                let json = match kind {
                    Kind::Create => response.json().await.ok(),
                    _ => response.bytes().await.ok().map(|_| serde_json::Value::Null),
                };
                (Outcome::Expected(expected), json)
            }
            Ok(response) => (Outcome::Error(format!("status {}", response.status().as_u16())), None),
            Err(error) => (Outcome::Error(failure(&error)), None),
        };
        let latency_ms = due_at.elapsed().as_secs_f64() * 1000.0;
        self.samples.lock().expect("samples lock").push(Sample {
            kind,
            due,
            latency_ms,
            outcome,
        });
        json
    }
}

/// What went wrong, without the URL, so that errors of one kind count together.
pub fn failure(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection refused"
    } else if error.is_body() || error.is_decode() {
        "answer cut short"
    } else {
        "connection reset or closed"
    };
    let mut cause = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(inner) = cause {
        innermost = Some(inner.to_string());
        cause = inner.source();
    }
    match innermost {
        Some(why) => format!("{kind}: {why}"),
        None => kind.to_owned(),
    }
}
