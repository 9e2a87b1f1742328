//! The validator binary as Kubernetes runs it: what a check leaves in its logs.

use std::time::Duration;

use permit_domain::{Permit, Rules};
use permit_store::Store;
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{ServiceProcess, citizen, fresh_database, mongodb_uri};

#[tokio::test]
#[ignore = "needs MongoDB: `make test`, or MONGODB_URI=... cargo test -- --include-ignored"]
async fn a_check_logs_its_request_and_status_but_no_citizen_data() {
    let (uri, database) = (mongodb_uri(), fresh_database());
    let store = Store::connect(&uri, &database, "tests").await.unwrap();
    let request = citizen(77, "compras").parse().unwrap();
    let permit = Permit::issue(
        request,
        Rules {
            curfew: None,
            ..Rules::default()
        }
        .window(permit_domain::Motive::parse("compras").unwrap(), jiff::Timestamp::now())
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
