//! The layers every public router gets: request ids and logs, metrics, overload protection,
//! one rendering for every error, and security headers.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::timeout::error::Elapsed;
use tower::{BoxError, ServiceBuilder};
use tracing::Instrument;

use crate::config::Limits;
use crate::error::{AppError, ErrorReport, PageError};
use crate::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route template a request matched, carried out on the response for the outer layers.
#[derive(Clone)]
struct MatchedRoute(String);

/// Why a layer, not a handler, answered 503.
#[derive(Clone, Copy)]
enum Shed {
    Overloaded,
    TimedOut,
}

/// Wraps a service's routes in everything a public endpoint needs.
pub fn harden(routes: Router, metrics: Arc<Metrics>, limits: Limits) -> Router {
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(shed))
        .load_shed()
        .concurrency_limit(limits.max_concurrent_requests)
        .timeout(limits.request_timeout);
    routes
        .route_layer(middleware::from_fn(record_route))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(overload)
        .layer(middleware::from_fn(render_errors))
        .layer(middleware::from_fn_with_state(limits, security_headers))
        .layer(middleware::from_fn_with_state(metrics, observe))
}

async fn record_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| MatchedRoute(p.as_str().to_owned()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

async fn shed(error: BoxError) -> Response {
    let reason = if error.is::<Elapsed>() {
        Shed::TimedOut
    } else {
        Shed::Overloaded
    };
    let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
    response.extensions_mut().insert(reason);
    response
}

/// Keeps the in-flight gauge right even when a request is cancelled mid-way.
struct InFlight(Arc<Metrics>);

impl InFlight {
    fn start(metrics: &Arc<Metrics>) -> InFlight {
        metrics.http_in_flight.inc();
        InFlight(metrics.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.http_in_flight.dec();
    }
}

/// An incoming `x-request-id` if it is sane, otherwise a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| permit_domain::PermitId::generate().to_string(), str::to_owned)
}

/// One log line per request — method, route, status, latency, request id — and the
/// request id on every line logged while answering it. Never the path: it can hold an id.
async fn observe(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = InFlight::start(&metrics);
    let id = request_id(request.headers());
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics.observe_request(&method, &route, status, elapsed);
    if let Some(ErrorReport {
        code: code @ ("overloaded" | "timeout"),
        ..
    }) = response.extensions().get::<ErrorReport>()
    {
        metrics.request_shed(code);
    }
    span.in_scope(|| {
        match response.extensions().get::<ErrorReport>() {
            Some(ErrorReport {
                code,
                cause: Some(cause),
            }) => tracing::error!(code, error = %cause, "request failed"),
            Some(ErrorReport { code, cause: None }) => tracing::debug!(code, "request refused"),
            None => {}
        }
        tracing::info!(
            method = crate::metrics::method_label(&method),
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `error` answered to `request`: JSON for `/api/*` and clients that ask for it, a page
/// for browsers.
pub fn error_response(request: &Request, error: AppError) -> Response {
    render(error, wants_json(request))
}

fn render(error: AppError, json: bool) -> Response {
    if json {
        error.into_response()
    } else {
        PageError(error).into_response()
    }
}

fn wants_json(request: &Request) -> bool {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    request.uri().path().starts_with("/api/") || (accept.contains("application/json") && !accept.contains("text/html"))
}

/// Errors that a layer or an extractor produced (plain text or no body) get the same
/// rendering as the handlers' own errors.
async fn render_errors(request: Request, next: Next) -> Response {
    let json = wants_json(&request);
    let response = next.run(request).await;
    let status = response.status();
    let rendered_by_us = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || rendered_by_us {
        return response;
    }
    let error = match response.extensions().get::<Shed>() {
        Some(Shed::Overloaded) => AppError::Overloaded,
        Some(Shed::TimedOut) => AppError::TimedOut,
        None => AppError::from_status(status),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut rendered = render(error, json);
    if let Some(allow) = allow {
        rendered.headers_mut().insert(header::ALLOW, allow);
    }
    rendered
}

/// Pages allow nothing inline and nothing from elsewhere; the QR code is inline SVG markup,
/// which needs no exception.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

async fn security_headers(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Pages and answers can carry a citizen's data (a permit, a form's values), so none is
    // kept by a browser or a shared cache unless its handler says it may be: only static
    // files and the public keys do.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if is_html {
        // A page that needs more (the scanner: its scripts and the camera) sets its own.
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        // Nothing to other sites; our own pages get it, and with it a real `Origin` on our
        // own forms' posts (under `no-referrer` a browser sends `Origin: null`, which a
        // cross-site request can send too).
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        headers
            .entry(HeaderName::from_static("permissions-policy"))
            .or_insert(HeaderValue::from_static(PERMISSIONS_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if let Some(value) = limits
        .hsts_max_age
        .and_then(|age| HeaderValue::from_str(&format!("max-age={age}")).ok())
    {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, value);
    }
    response
}
