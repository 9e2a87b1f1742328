//! Serving until SIGTERM or SIGINT, then leaving the way Kubernetes needs: readiness turns
//! 503 at once, the pod keeps serving while its endpoints are withdrawn, then it stops
//! accepting and gives requests in flight until a deadline to finish. Connections are
//! bounded before any request exists: how many are open, how long a client may take to
//! send its headers, and how large they may be.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::{Connections, Runtime};
use crate::health::Health;

/// Serves each of `ports` with its router and the probes on `admin` until `shutdown`
/// completes (in a binary, `shutdown_requested`), then drains as described above.
pub async fn serve(
    ports: Vec<(TcpListener, Router)>,
    admin: TcpListener,
    health: Health,
    runtime: &Runtime,
    shutdown: impl Future<Output = &'static str>,
) -> io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let mut servers = tokio::task::JoinSet::new();
    for (listener, app) in ports {
        let app = app.layer(middleware::from_fn_with_state(health.clone(), close_while_draining));
        servers.spawn(serve_connections(
            listener,
            app,
            runtime.connections,
            until_stopped(stopped.clone()),
        ));
    }
    servers.spawn(serve_connections(
        admin,
        health.clone().router(),
        runtime.connections,
        until_stopped(stopped),
    ));
    let mut servers = tokio::spawn(async move {
        while let Some(finished) = servers.join_next().await {
            finished.map_err(io::Error::other)??;
        }
        Ok::<(), io::Error>(())
    });

    tokio::select! {
        finished = &mut servers => {
            finished.map_err(io::Error::other)??;
            return Ok(());
        }
        signal = shutdown => {
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

/// Serves `app` on `listener` until `stop` completes, then lets the open connections finish
/// their requests (idle keep-alive connections close at once). Each request carries its
/// peer's address (`ConnectInfo`), which the per-client rate limit counts by.
///
/// At most `limits.max_connections` are open at once: past that, new ones wait in the
/// kernel's queue until one closes. A client that has not sent a whole request head within
/// `limits.header_read_timeout` (counted from the connection, or from the end of its last
/// answer) is disconnected, and a head over `limits.max_header_bytes` is answered 431, so
/// slow or endless headers hold a bounded amount of memory for a bounded time.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: Connections,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection that failed before it was accepted concerns only its client; anything else
/// (out of file descriptors) is logged, and accepting pauses a moment instead of spinning.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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

/// The first SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C), named.
pub async fn shutdown_requested() -> &'static str {
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}
