//! The admin port: liveness, readiness and metrics, never reachable through the Ingress.
//!
//! Readiness says whether *this process* can serve: started, its indexes ensured, not
//! draining. It does not ask the database: one primary election would otherwise take every
//! pod out of its Service at once, and the ingress would answer its own bare 503 for the
//! landing page and the form too, where the app answers a database outage per request (503
//! with `Retry-After`). The database's state is shown by `/readyz?verbose` and the
//! `mongodb_up` metric instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use permit_store::Store;
use tokio::sync::Mutex;

use crate::metrics::Metrics;

/// The database is asked at most this often; scrapes from many places cost one ping.
const PING_CACHE: Duration = Duration::from_secs(1);
/// A ping slower than this counts as "database unavailable".
const PING_TIMEOUT: Duration = Duration::from_millis(500);

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";

#[derive(Clone)]
pub struct Health {
    store: Store,
    metrics: Arc<Metrics>,
    shutting_down: Arc<AtomicBool>,
    indexed: Arc<AtomicBool>,
    last_ping: Arc<Mutex<Option<(Instant, bool)>>>,
}

impl Health {
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Health {
        Health {
            store,
            metrics,
            shutting_down: Arc::default(),
            indexed: Arc::default(),
            last_ping: Arc::default(),
        }
    }

    /// The indexes the queries rely on exist; until then the service is not ready.
    pub fn indexes_ready(&self) {
        self.indexed.store(true, Ordering::SeqCst);
    }

    /// From now on readiness answers 503, so Kubernetes stops sending traffic here.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    async fn database_answers(&self) -> bool {
        let mut last = self.last_ping.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < PING_CACHE
        {
            return ok;
        }
        let ok = matches!(tokio::time::timeout(PING_TIMEOUT, self.store.ping()).await, Ok(Ok(())));
        *last = Some((Instant::now(), ok));
        ok
    }

    pub fn router(self) -> Router {
        Router::new()
            .route(HEALTHZ, get(|| async { "ok" }))
            .route(READYZ, get(readyz))
            .route(METRICS, get(metrics))
            .with_state(self)
    }
}

#[derive(serde::Deserialize)]
struct ReadyzQuery {
    verbose: Option<String>,
}

/// 200 or 503 by this process's own state; `?verbose` adds one line per check and the
/// database's answer, which does not change the status.
async fn readyz(State(health): State<Health>, Query(query): Query<ReadyzQuery>) -> (StatusCode, String) {
    let draining = health.shutting_down.load(Ordering::SeqCst);
    let indexed = health.indexed.load(Ordering::SeqCst);
    let (status, summary) = if draining {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else if !indexed {
        (StatusCode::SERVICE_UNAVAILABLE, "preparing the database")
    } else {
        (StatusCode::OK, "ok")
    };
    if query.verbose.is_none() {
        return (status, summary.to_owned());
    }
    let database = if health.database_answers().await {
        "ok"
    } else {
        "unavailable (requests that need it get 503 with Retry-After)"
    };
    let check = |ok: bool| if ok { "ok" } else { "failed" };
    (
        status,
        format!(
            "[{}] indexes\n[{}] not draining\n[info] database: {database}\nreadyz check: {summary}\n",
            check(indexed),
            check(!draining),
        ),
    )
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    health.metrics.quota_releases(health.store.quota_releases());
    health.metrics.mongodb_answers(health.database_answers().await);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        health.metrics.render(),
    )
}
