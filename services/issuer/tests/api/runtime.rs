//! What Kubernetes and operators rely on, through the issuer's real router: request ids,
//! metrics, readiness, overload protection, error rendering and security headers.

use std::time::Duration;

use permit_domain::Rules;
use permit_web::{Context, Health, Limits};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use testkit::{TestApp, citizen, db_test};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn app(limits: Limits) -> TestApp {
    TestApp::start(Rules::default(), |ctx| {
        issuer::router(
            Context { limits, ..ctx },
            issuer::Options::new(testkit::signing_key(), testkit::privacy_key()),
        )
    })
    .await
}

/// Sends the head of a POST and one byte of a 100-byte body, then stalls: a request in flight.
async fn stalled_post(url: &str) -> TcpStream {
    let mut stream = TcpStream::connect(url.trim_start_matches("http://")).await.unwrap();
    let head = "POST /api/create HTTP/1.1\r\nHost: formulario.test\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

async fn response_text(stream: &mut TcpStream) -> String {
    let mut buffer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[db_test]
async fn request_ids_are_echoed_or_generated() {
    let app = app(Limits::default()).await;
    let echoed = app
        .http
        .get(format!("{}/", app.url))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");
    let generated = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    let first = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    let again = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(first.len(), 22);
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), first);
}

#[db_test]
async fn metrics_use_route_templates_and_count_what_happened() {
    let app = app(Limits::default()).await;
    let created: Value = testkit::body_json(
        app.http
            .post(format!("{}/api/create", app.url))
            .json(&citizen(1, "compras")),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    app.http.get(format!("{}/permiso/{id}", app.url)).send().await.unwrap();
    app.http.get(format!("{}/no/such/page", app.url)).send().await.unwrap();
    let metrics = app.metrics().await;
    for expected in [
        r#"http_requests_total{method="GET",route="/permiso/{id}",service="test",status="200"} 1"#,
        r#"http_requests_total{method="POST",route="/api/create",service="test",status="201"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",service="test",status="404"} 1"#,
        r#"permits_issued_total{motive="compras"} 1"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/permiso/{id}",service="test",le="0.001"}"#,
        "http_requests_in_flight 0",
        "permit_quota_releases_pending 0",
        "permit_quota_releases_failed_total 0",
        r#"mongodb_operation_duration_seconds_count{operation="insert"}"#,
        r#"build_info{revision="#,
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(expected), "missing {expected}\n{metrics}");
    }
    assert!(!metrics.contains(id), "a permit id leaked into a label");
}

#[db_test]
async fn readiness_is_about_this_process_and_reports_the_database_apart() {
    let app = app(Limits::default()).await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", app.admin);
        let http = app.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    // Ready once the wiring has created the indexes, which it does in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get("/readyz").await.0 != StatusCode::OK {
        assert!(
            std::time::Instant::now() < deadline,
            "never ready: {:?}",
            get("/readyz?verbose").await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get("/readyz").await, (StatusCode::OK, "ok".to_owned()));
    let (status, verbose) = get("/readyz?verbose").await;
    assert_eq!(status, StatusCode::OK);
    assert!(verbose.contains("[info] database: ok"), "{verbose}");
    assert!(get("/metrics").await.1.contains("\nmongodb_up 1\n"));
    assert_eq!(get("/healthz").await.0, StatusCode::OK);
    app.health.begin_shutdown();
    let (status, verbose) = get("/readyz?verbose").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(verbose.contains("[failed] not draining"), "{verbose}");

    // A pod whose database has never answered is not ready: it cannot create the indexes.
    let clock = testkit::ManualClock::at_santiago("2026-11-30T10:00");
    let never = TestApp::serve(testkit::dead_context(&clock, Rules::default()).await, clock, |ctx| {
        issuer::router(
            ctx,
            issuer::Options::new(testkit::signing_key(), testkit::privacy_key()),
        )
    })
    .await;
    let not_yet = testkit::body_text(never.http.get(format!("{}/readyz?verbose", never.admin))).await;
    assert!(not_yet.contains("[failed] indexes"), "{not_yet}");
    assert_eq!(never.get("/").await.status(), StatusCode::OK);

    // A database that does not answer leaves a started pod ready: the app answers each
    // request that needs it with 503 + Retry-After, and the landing page stays up.
    let dead = testkit::dead_store().await;
    let health = Health::new(
        dead,
        std::sync::Arc::new(permit_web::Metrics::new(permit_web::metrics::Service::Test)),
    );
    health.indexes_ready();
    let admin = testkit::spawn(health.router()).await;
    let started = std::time::Instant::now();
    let ready = app.http.get(format!("{admin}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let verbose = app.http.get(format!("{admin}/readyz?verbose")).send().await.unwrap();
    assert_eq!(verbose.status(), StatusCode::OK);
    let verbose = verbose.text().await.unwrap();
    assert!(verbose.contains("[info] database: unavailable"), "{verbose}");
    let metrics = testkit::body_text(app.http.get(format!("{admin}/metrics"))).await;
    assert!(metrics.contains("\nmongodb_up 0\n"), "{metrics}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the admin port must answer quickly with the database down: {:?}",
        started.elapsed()
    );
}

#[db_test]
async fn errors_from_layers_are_rendered_as_the_client_asked() {
    let app = app(Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    })
    .await;
    let page = app
        .http
        .get(format!("{}/no/such/page", app.url))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("No encontrado"));

    let wrong_method = app.http.get(format!("{}/api/create", app.url)).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()[header::ALLOW], "POST");
    assert_eq!(
        wrong_method.json::<Value>().await.unwrap()["code"],
        "method_not_allowed"
    );

    let big = json!({ "name": "x".repeat(2000) });
    let too_large = app
        .http
        .post(format!("{}/api/create", app.url))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.json::<Value>().await.unwrap()["code"], "body_too_large");

    let big_form = app
        .http
        .post(format!("{}/nuevo", app.url))
        .form(&[("name", "x".repeat(2000))])
        .send()
        .await
        .unwrap();
    assert_eq!(big_form.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        big_form
            .text()
            .await
            .unwrap()
            .contains("La solicitud es demasiado grande.")
    );
}

#[db_test]
async fn requests_beyond_the_concurrency_limit_are_shed_with_503() {
    let app = app(Limits {
        max_concurrent_requests: 1,
        ..Limits::default()
    })
    .await;
    let _in_flight = stalled_post(&app.url).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = app
        .http
        .post(format!("{}/api/create", app.url))
        .json(&citizen(2, "compras"))
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
    assert_eq!(shed.json::<Value>().await.unwrap()["code"], "overloaded");
    let metrics = app.metrics().await;
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("http_requests_shed_total{") && l.contains(r#"reason="overloaded""#));
    assert!(counted.is_some_and(|l| l.ends_with(" 1")), "{metrics}");
}

#[db_test]
async fn a_request_over_the_timeout_gets_503_not_a_hang() {
    let app = app(Limits {
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut stalled = stalled_post(&app.url).await;
    let response = response_text(&mut stalled).await;
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains(r#""code":"timeout""#), "{response}");
}

#[db_test]
async fn pages_carry_strict_security_headers() {
    let with_tls = app(Limits {
        hsts_max_age: Some(31_536_000),
        ..Limits::default()
    })
    .await;
    let page = with_tls
        .http
        .get(format!("{}/nuevo", with_tls.url))
        .send()
        .await
        .unwrap();
    let headers = page.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    assert!(headers["permissions-policy"].to_str().unwrap().contains("camera=()"));
    assert_eq!(headers[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");

    let without_tls = app(Limits::default()).await;
    let page = without_tls
        .http
        .get(format!("{}/", without_tls.url))
        .send()
        .await
        .unwrap();
    assert!(!page.headers().contains_key(header::STRICT_TRANSPORT_SECURITY));
}
