//! `/escanear`: the police officer's offline scanner. The page, its scripts and the public
//! keys are cached by a service worker on the first visit; from then on it reads a QR code
//! with the camera and verifies the signature in the browser, with no network at all.

use askama::Template;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use permit_domain::{Motive, Phase};
use permit_token::PermitClaims;
use permit_web::PageError;

const SCRIPT: &str = include_str!("../assets/escanear.js");
const SERVICE_WORKER: &str = include_str!("../assets/escanear-sw.js");
/// jsQR 1.4.0 (Apache-2.0, `assets/vendor/jsQR.LICENSE`), for browsers without `BarcodeDetector`.
const DECODER: &str = include_str!("../assets/vendor/jsQR.js");

/// The site's policy plus what the scanner needs: its own scripts, its service worker and
/// fetches of the keys. Still nothing inline and nothing from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; worker-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";
/// The camera for this page only, from this origin only.
const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/escanear", get(page))
        .route("/escanear-sw.js", get(service_worker))
        .route("/static/escanear.js", get(|| script(SCRIPT)))
        .route("/static/jsqr.js", get(|| script(DECODER)))
}

#[derive(Template)]
#[template(path = "scanner.html")]
struct ScannerPage {
    motives: Vec<(&'static str, &'static str)>,
    /// The scanner refuses a longer validity, as the validator does.
    longest_window_seconds: i64,
    /// For what a permit was issued under.
    phases: [Phase; 5],
}

async fn page() -> Result<Response, PageError> {
    let page = ScannerPage {
        motives: Motive::all().map(|m| (m.code(), m.label())).collect(),
        longest_window_seconds: PermitClaims::longest_window().as_secs(),
        phases: Phase::ALL,
    };
    Ok((
        [
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static(PERMISSIONS_POLICY),
            ),
        ],
        Html(page.render()?),
    )
        .into_response())
}

async fn script(source: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        source,
    )
}

/// Served at the root so that it may control `/escanear`; never cached by HTTP, so a new
/// deployment's worker (and with it a fresh copy of the page) is found on the next visit.
async fn service_worker() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        service_worker_source(),
    )
}

/// The worker's cache is named after what it caches, so any change to the page's code
/// replaces the cache.
fn service_worker_source() -> String {
    let version = [
        SCRIPT,
        DECODER,
        SERVICE_WORKER,
        include_str!("../templates/scanner.html"),
    ]
    .iter()
    .fold(0xcbf2_9ce4_8422_2325_u64, |hash, part| {
        part.bytes()
            .fold(hash, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    SERVICE_WORKER.replace("__VERSION__", &format!("{version:016x}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_worker_names_its_cache_after_its_contents() {
        let source = super::service_worker_source();
        assert!(!source.contains("__VERSION__"));
        assert!(source.contains("escanear-"));
    }
}
