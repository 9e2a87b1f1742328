//! The validator binary as Kubernetes runs it: what a check leaves in its logs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use permit_domain::{Permit, Rules};
use permit_store::Store;
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{ServiceProcess, citizen, db_test, fresh_database, mongodb_uri};

#[db_test]
async fn a_check_logs_its_request_and_status_but_no_citizen_data() {
    let (uri, database) = (mongodb_uri(), fresh_database());
    let store = Store::connect(&uri, &database, "tests").await.unwrap();
    let request = citizen(77, "compras").parse().unwrap();
    let permit = Permit::issue(
        request,
        testkit::window(
            &Rules {
                curfew: None,
                ..Rules::default()
            },
            permit_domain::Motive::parse("compras").unwrap(),
            jiff::Timestamp::now(),
        )
        .unwrap(),
    );
    store.issue(&permit, None).await.unwrap();

    let service = ServiceProcess::start(
        env!("CARGO_BIN_EXE_validator"),
        &[
            ("MONGODB_URI", &uri),
            ("MONGODB_DB", &database),
            ("ISSUER_PUBLIC_URL", "http://formulario.test"),
            ("VALIDATOR_PUBLIC_URL", "http://validar.test"),
            ("RUST_LOG", "trace"),
        ],
    );
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{}/validar/{}", service.public, permit.id))
        .header("x-request-id", "check-77")
        .send()
        .await;
    assert_eq!(page.unwrap().status(), StatusCode::OK);
    let api: Value = testkit::body_json(http.get(format!("{}/api/{}", service.public, permit.id))).await;
    assert_eq!(api["status"], "not_yet_valid");
    let metrics = testkit::body_text(http.get(format!("{}/metrics", service.admin))).await;
    assert!(
        metrics.contains(r#"permit_validations_total{result="not_yet_valid"} 2"#),
        "{metrics}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = service.logs();
    let check = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|e| e["message"] == "request" && e["route"] == "/validar/{id}")
        .expect("a request line for the check");
    assert_eq!(check["span"]["request_id"], "check-77");
    assert_eq!(check["status"], 200);
    for line in &logs {
        for secret in [
            "Juana",
            "Pérez",
            "Grecia",
            "Ñuñoa",
            &permit.rut.to_string(),
            &permit.rut.canonical(),
        ] {
            assert!(!line.contains(secret), "{secret:?} leaked into a log line: {line}");
        }
    }
}

#[test]
fn start_up_stops_naming_missing_or_bad_public_keys() {
    for (value, problem) in [
        ("", "PERMIT_PUBLIC_KEYS: is required but not set"),
        (
            r#"{"keys":[]}"#,
            "PERMIT_PUBLIC_KEYS: not a JWK Set of Ed25519 public keys: it holds no keys",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_validator"))
            .env_clear()
            .env("MONGODB_URI", "mongodb://127.0.0.1:1")
            .env("ISSUER_PUBLIC_URL", "http://formulario.test")
            .env("VALIDATOR_PUBLIC_URL", "http://validar.test")
            .env("PERMIT_PUBLIC_KEYS", value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(problem), "{stderr}");
    }
}

/// The validator as a hostile client finds it: no database is needed to attack the edge.
fn exposed_validator(extra: &[(&str, &str)]) -> ServiceProcess {
    let mut env = vec![
        ("MONGODB_URI", "mongodb://127.0.0.1:1"),
        ("ISSUER_PUBLIC_URL", "http://formulario.test"),
        ("VALIDATOR_PUBLIC_URL", "http://validar.test"),
    ];
    env.extend_from_slice(extra);
    ServiceProcess::start(env!("CARGO_BIN_EXE_validator"), &env)
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn thousands_of_invented_methods_add_no_metric_series() {
    let service = exposed_validator(&[]);
    let http = reqwest::Client::new();
    let send = |method: &str| {
        http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}/escanear", service.public),
        )
        .send()
    };
    send("GET").await.unwrap();
    let before = service.rss_kib();
    for n in 0..10_000 {
        let answer = send(&format!("INVENTED{n}")).await.unwrap();
        assert!(answer.status().is_client_error(), "{}", answer.status());
    }
    let forged = http.get(format!("{}/api/v/AAAA", service.public)).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let metrics = testkit::body_text(http.get(format!("{}/metrics", service.admin))).await;
    // The validator exports what it moves, and not the issuer's instruments.
    assert!(
        metrics.contains(r#"permit_validations_total{result="invalid"} 1"#),
        "{metrics}"
    );
    for issuers in ["permits_issued_total", "permits_refused_total", "permit_quota_releases"] {
        assert!(!metrics.contains(issuers), "the validator exports {issuers}");
    }
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .count();
    assert!(series <= 4, "{series} request series:\n{metrics}");
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(!metrics.contains("INVENTED"));
    assert!(metrics.len() < 64 * 1024, "/metrics is {} bytes", metrics.len());
    let grown = service.rss_kib().saturating_sub(before);
    assert!(grown < 8 * 1024, "10,000 methods grew the process by {grown} KiB");
    let logs = service.logs();
    assert!(
        !logs.iter().any(|line| line.contains("INVENTED")),
        "a made-up method reached a log line"
    );
}

#[tokio::test]
async fn slow_or_endless_headers_are_cut_off_and_hold_bounded_memory() {
    let service = exposed_validator(&[("HEADER_READ_TIMEOUT_SECS", "1"), ("MAX_CONNECTIONS", "300")]);
    let address = host_port(&service.public);
    // Half-sent requests: the server hangs up once the timeout has passed.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: validar.test\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    for stream in &mut slow {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "a half-sent request was still open after 5 s: {read:?}"
        );
    }
    // Endless headers: each is refused long before it is 400 KB, so 250 of them at once
    // hold little memory.
    let before = service.rss_kib();
    let endless: Vec<_> = (0..250)
        .map(|_| {
            let address = address.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&address).await.unwrap();
                let mut sent = stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: validar.test\r\n")
                    .await
                    .is_ok();
                let line = format!("X-Padding: {}\r\n", "a".repeat(4000));
                let mut total = 0;
                while sent && total < 400 * 1024 {
                    sent = stream.write_all(line.as_bytes()).await.is_ok();
                    total += line.len();
                }
                let mut answer = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
                (total, answer)
            })
        })
        .collect();
    let mut peak = 0;
    while !endless.iter().all(|task| task.is_finished()) {
        peak = peak.max(service.rss_kib().saturating_sub(before));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for outcome in endless {
        let (sent, answer) = outcome.await.unwrap();
        assert!(
            sent < 400 * 1024 || answer.starts_with(b"HTTP/1.1 431"),
            "{sent} bytes of headers were read without a refusal"
        );
    }
    assert!(peak < 24 * 1024, "250 endless headers grew the process by {peak} KiB");
    // And the service still answers.
    let page = reqwest::get(format!("{}/escanear", service.public)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let service = exposed_validator(&[("MAX_CONNECTIONS", "20"), ("HEADER_READ_TIMEOUT_SECS", "30")]);
    let address = host_port(&service.public);
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let late = tokio::spawn(async move {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /escanear HTTP/1.1\r\nHost: validar.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        answer
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!late.is_finished(), "a 21st connection was served while 20 were open");
    drop(idle);
    let answer = tokio::time::timeout(Duration::from_secs(5), late)
        .await
        .expect("served once the others closed");
    assert!(answer.unwrap().starts_with(b"HTTP/1.1 200"));
}
