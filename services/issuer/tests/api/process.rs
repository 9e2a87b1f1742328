//! The issuer binary as Kubernetes runs it: environment in, JSON logs out, SIGTERM to stop.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{ServiceProcess, citizen, db_test, fresh_database, mongodb_uri, rut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn start(extra: &[(&str, &str)]) -> ServiceProcess {
    let uri = mongodb_uri();
    let database = fresh_database();
    let mut env = vec![
        ("MONGODB_URI", uri.as_str()),
        ("MONGODB_DB", database.as_str()),
        ("ISSUER_PUBLIC_URL", "http://formulario.test"),
        ("VALIDATOR_PUBLIC_URL", "http://validar.test"),
        ("PERMIT_CURFEW", "off"),
    ];
    env.extend_from_slice(extra);
    ServiceProcess::start(env!("CARGO_BIN_EXE_issuer"), &env)
}

#[db_test]
async fn sigterm_drains_finishes_requests_in_flight_and_exits_zero() {
    let mut service = start(&[("SHUTDOWN_DRAIN_SECS", "1"), ("SHUTDOWN_TIMEOUT_SECS", "5")]);
    let http = reqwest::Client::new();
    service.ready().await;

    let body = serde_json::to_vec(&json!({
        "name": "Ana Rojas", "rut": rut(1).to_string(), "motive": "compras", "address": "Calle 1", "comuna": "Maipú"
    }))
    .unwrap();
    let mut in_flight = TcpStream::connect(service.public.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/create HTTP/1.1\r\nHost: formulario.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(&body[..5]).await.unwrap();
    let before = http.get(format!("{}/", service.public)).send().await.unwrap();
    assert!(
        before.headers().get("connection").is_none(),
        "keep-alive until shutdown"
    );

    service.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let readiness = http.get(format!("{}/readyz", service.admin)).send().await.unwrap();
    assert_eq!(readiness.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(readiness.text().await.unwrap(), "shutting down");
    let during_drain = http.get(format!("{}/", service.public)).send().await.unwrap();
    assert_eq!(
        during_drain.status(),
        StatusCode::OK,
        "new requests are still served while draining"
    );
    assert_eq!(
        during_drain.headers()["connection"],
        "close",
        "draining answers ask the proxy to drop the connection"
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;
    in_flight.write_all(&body[5..]).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), in_flight.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");

    let status = service.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[db_test]
async fn logs_are_json_lines_with_request_ids_and_no_citizen_data() {
    let service = start(&[("RUST_LOG", "trace")]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    service.ready().await;
    let form = citizen(42, "compras");
    let created: Value = testkit::body_json(
        http.post(format!("{}/api/create", service.public))
            .header("x-request-id", "create-42")
            .json(&form),
    )
    .await;
    // The issuer exports what it moves, and not the validator's instruments.
    let metrics = testkit::body_text(http.get(format!("{}/metrics", service.admin))).await;
    assert!(
        metrics.contains(r#"permits_issued_total{motive="compras"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("permit_validations_total"),
        "the issuer exports checks"
    );
    let permit_page = http
        .get(format!(
            "{}/permiso/{}",
            service.public,
            created["id"].as_str().unwrap()
        ))
        .send()
        .await;
    assert_eq!(permit_page.unwrap().status(), StatusCode::OK);
    let fields = [
        ("name", form.name.as_str()),
        ("rut", "1"),
        ("motive", "compras"),
        ("address", &form.address),
        ("comuna", ""),
    ];
    let refused = http
        .post(format!("{}/nuevo", service.public))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = service.logs();
    let request_lines: Vec<Value> = logs
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .filter(|event| event["message"] == "request")
        .collect();
    let create = request_lines
        .iter()
        .find(|e| e["route"] == "/api/create")
        .expect("a line for the create");
    assert_eq!(create["span"]["request_id"], "create-42");
    assert_eq!(create["status"], 201);
    assert_eq!(create["method"], "POST");
    assert!(create["latency_ms"].is_number());
    assert!(request_lines.iter().any(|e| e["route"] == "/permiso/{id}"));

    let person = testkit::rut(42);
    let key = testkit::signing_key_pem();
    let key_body = key.lines().nth(1).expect("a PEM body line");
    let secrets = [
        key_body,
        "Juana",
        "Pérez",
        "Soto",
        "Grecia",
        "Ñuñoa",
        &person.to_string(),
        &person.canonical(),
    ];
    for line in &logs {
        for secret in secrets {
            assert!(!line.contains(secret), "{secret:?} leaked into a log line: {line}");
        }
    }
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_variable() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_issuer"))
        .env_clear()
        .env("MONGODB_URI", "mongodb://127.0.0.1:1")
        .env("ISSUER_PUBLIC_URL", "http://formulario.test")
        .env("VALIDATOR_PUBLIC_URL", "http://validar.test")
        .env("PERMIT_CURFEW", "tonight")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PERMIT_CURFEW"));
}

#[test]
fn a_missing_or_malformed_signing_key_stops_start_up_without_showing_it() {
    let (code, stderr) = failed_start(&[("PERMIT_SIGNING_KEY", "")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("PERMIT_SIGNING_KEY: is required but not set"),
        "{stderr}"
    );
    let not_a_key = "bm90IGFuIEVkMjU1MTkga2V5IGF0IGFsbA==";
    let (code, stderr) = failed_start(&[("PERMIT_SIGNING_KEY", not_a_key)]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("PERMIT_SIGNING_KEY: not an Ed25519 private key"),
        "{stderr}"
    );
    assert!(!stderr.contains(not_a_key), "{stderr}");
}

/// Runs the binary with a complete environment plus `extra`, to the end of its start-up.
fn failed_start(extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_issuer"))
        .env_clear()
        .env("PERMIT_SIGNING_KEY", testkit::signing_key_pem())
        .env("PRIVACY_KEY", testkit::privacy_key_text())
        .env("MONGODB_URI", "mongodb://127.0.0.1:1")
        .env("ISSUER_PUBLIC_URL", "http://formulario.test")
        .env("VALIDATOR_PUBLIC_URL", "http://validar.test")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("OPERATOR_ADDR", "127.0.0.1:0")
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_taken_admin_or_operator_port_is_named_with_its_variable() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for variable in ["ADMIN_ADDR", "OPERATOR_ADDR"] {
        let (code, stderr) = failed_start(&[(variable, &addr)]);
        assert_eq!(code, Some(1));
        assert!(
            stderr.contains(&format!("{variable}={addr} is already in use")),
            "{stderr}"
        );
    }
}

#[test]
fn an_unusable_connection_string_is_a_configuration_error_that_says_why() {
    let (code, stderr) = failed_start(&[("MONGODB_URI", "mongodb://db:port")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("MONGODB_URI: not a valid connection string"),
        "{stderr}"
    );
    let (code, stderr) = failed_start(&[("MONGODB_URI", "mongodb+srv://cluster.example.cl")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("list the members instead"), "{stderr}");
}
