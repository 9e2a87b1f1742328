//! The admin port: liveness, readiness and metrics, never reachable through the Ingress.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use permit_store::Store;
use tokio::sync::Mutex;

use crate::metrics::Metrics;

/// Readiness asks the database at most this often; probes from many places cost one ping.
const READINESS_CACHE: Duration = Duration::from_secs(1);
/// A ping slower than this counts as "not ready".
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
            && at.elapsed() < READINESS_CACHE
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

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.shutting_down.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else if !health.indexed.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "preparing the database")
    } else if health.database_answers().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    health.metrics.quota_releases(health.store.quota_releases());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        health.metrics.render(),
    )
}
