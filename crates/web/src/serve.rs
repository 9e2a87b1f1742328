//! Serving until SIGTERM or SIGINT, then leaving the way Kubernetes needs: readiness turns
//! 503 at once, the pod keeps serving while its endpoints are withdrawn, then it stops
//! accepting and gives requests in flight until a deadline to finish.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::config::Runtime;
use crate::health::Health;

pub async fn serve(
    public: TcpListener,
    app: Router,
    admin: TcpListener,
    health: Health,
    runtime: &Runtime,
) -> io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let app = app.layer(middleware::from_fn_with_state(health.clone(), close_while_draining));
    // The peer address is what the per-client rate limit counts by.
    let public = axum::serve(public, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(until_stopped(stopped.clone()))
        .into_future();
    let admin = axum::serve(admin, health.clone().router())
        .with_graceful_shutdown(until_stopped(stopped))
        .into_future();
    let mut servers = tokio::spawn(async move { tokio::try_join!(public, admin) });

    tokio::select! {
        finished = &mut servers => {
            finished.map_err(io::Error::other)??;
            return Ok(());
        }
        signal = shutdown_requested() => {
            tracing::info!(signal, drain_secs = runtime.shutdown_drain.as_secs(), "shutting down: readiness is 503 while draining");
        }
    }
    health.begin_shutdown();
    tokio::time::sleep(runtime.shutdown_drain).await;
    tracing::info!(
        timeout_secs = runtime.shutdown_timeout.as_secs(),
        "no longer accepting; finishing requests in flight"
    );
    let _ = stop.send(true);
    match tokio::time::timeout(runtime.shutdown_timeout, servers).await {
        Ok(finished) => {
            finished.map_err(io::Error::other)??;
            tracing::info!("stopped");
        }
        Err(_) => tracing::warn!("requests still in flight at the deadline were cut off"),
    }
    Ok(())
}

/// While draining, every answer tells the client (the ingress) to drop its connection, so
/// no idle keep-alive connection is left to race the moment this process stops accepting:
/// a POST sent on one then would fail, and proxies do not resend a POST.
async fn close_while_draining(State(health): State<Health>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if health.is_shutting_down() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn shutdown_requested() -> &'static str {
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}
