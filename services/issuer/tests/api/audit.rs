//! The audit log: every operator look and change recorded, before it is carried out, with
//! who, when, from where, what and why; read through `GET /api/audit`, which is recorded too.

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, citizen, db_test};

use crate::http::{ASSISTANCE, app};
use crate::{ADMINISTRACION, CONSULTA, REVOCACION, issued, operator_name, send};
use permit_domain::Role;

async fn trail(app: &TestApp, query: &str) -> Value {
    let answer = send(app, reqwest::Method::GET, &format!("/api/audit{query}"), CONSULTA, None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

fn actions(page: &Value) -> Vec<&str> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// An export of five permits, with its reason and case.
const EXPORT_FIVE: &str = "/api/all?limit=5&reason=Oficio%2088-2026%2C%20Contralor%C3%ADa&case=RIT%201234-2026";

#[db_test]
async fn every_operator_look_and_change_is_recorded_with_who_where_what_and_why() {
    let app = app().await;
    let id = issued(&app, 1).await;
    let post = reqwest::Method::POST;
    assert_eq!(
        send(&app, reqwest::Method::GET, EXPORT_FIVE, ADMINISTRACION, None)
            .await
            .status(),
        StatusCode::OK
    );
    let reason = json!({ "reason": "Oficio 1234-2026, Fiscalía Local de Ñuñoa" });
    let hold = format!("/api/permits/{id}/hold");
    assert_eq!(
        send(&app, post.clone(), &hold, REVOCACION, Some(reason)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, reqwest::Method::DELETE, &hold, REVOCACION, None)
            .await
            .status(),
        StatusCode::OK
    );
    let revoke = format!("/api/permits/{id}/revoke");
    // A reason is optional; a wrong one revokes nothing and records nothing.
    let short = send(&app, post.clone(), &revoke, REVOCACION, Some(json!({"reason": "no"}))).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.json::<Value>().await.unwrap()["errors"]["reason"].is_string());
    let why = json!({"reason": "Permiso obtenido con datos falsos"});
    assert_eq!(
        send(&app, post, &revoke, REVOCACION, Some(why)).await.status(),
        StatusCode::OK
    );

    let page = trail(&app, "").await;
    assert_eq!(
        actions(&page),
        ["read_audit", "revoke_permit", "lift_hold", "place_hold", "list_permits"],
        "newest first, the read itself recorded before it was answered"
    );
    let entries = page["entries"].as_array().unwrap();
    for entry in entries {
        let role = Role::parse(entry["role"].as_str().unwrap()).expect("a role");
        let expected = match entry["action"].as_str().unwrap() {
            "revoke_permit" | "lift_hold" | "place_hold" => Role::Revocacion,
            "list_permits" => Role::Administracion,
            _ => Role::Consulta,
        };
        assert_eq!(role, expected, "{entry}");
        assert_eq!(
            entry["operator"],
            operator_name(role).as_str(),
            "who: the named operator"
        );
        assert!(
            entry["client"].as_str().unwrap().starts_with("127.0.0.1"),
            "from where: {entry}"
        );
        assert!(entry["at"].as_str().unwrap().ends_with('Z'), "when");
    }
    assert_eq!(entries[1]["permit"], id.as_str());
    assert_eq!(entries[1]["reason"], "Permiso obtenido con datos falsos");
    assert_eq!(entries[3]["reason"], "Oficio 1234-2026, Fiscalía Local de Ñuñoa", "why");
    assert_eq!(entries[4]["detail"], "export, page of 5, case RIT 1234-2026");
    assert_eq!(entries[4]["reason"], "Oficio 88-2026, Contraloría");
    assert_eq!(entries[4]["permit"], Value::Null);

    let of_permit = trail(&app, &format!("?permit={id}")).await;
    assert_eq!(
        actions(&of_permit),
        ["read_audit", "revoke_permit", "lift_hold", "place_hold"],
        "a permit's trail, starting with this very look at it"
    );
    let revocations = trail(&app, "?action=revoke_permit").await;
    assert_eq!(actions(&revocations), ["revoke_permit"]);
    let reads = trail(&app, "?action=read_audit").await;
    assert_eq!(actions(&reads), ["read_audit"; 4], "each read of the log is in it");
    assert_eq!(
        reads["entries"][0]["detail"],
        "permit=* operator=* action=read_audit limit=50"
    );
}

#[db_test]
async fn the_audit_log_pages_and_refuses_bad_filters_naming_them() {
    let app = app().await;
    for _ in 0..3 {
        send(&app, reqwest::Method::GET, EXPORT_FIVE, ADMINISTRACION, None).await;
    }
    let first = trail(&app, "?action=list_permits&limit=2").await;
    assert_eq!(actions(&first), ["list_permits", "list_permits"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = trail(&app, &format!("?action=list_permits&limit=2&cursor={cursor}")).await;
    assert_eq!(actions(&second), ["list_permits"]);
    assert_eq!(second["next_cursor"], Value::Null);

    let refused = send(
        &app,
        reqwest::Method::GET,
        "/api/audit?action=borrar&limit=0&cursor=x&permit=no",
        CONSULTA,
        None,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    for field in ["action", "limit", "cursor", "permit"] {
        assert!(body["errors"][field].is_string(), "{field} named: {body}");
    }
    let anonymous = app
        .http
        .get(format!("{}/api/audit", app.operators()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, reqwest::Method::GET, "/api/audit", ASSISTANCE, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the counter's role reads no audit log"
    );
}

#[db_test]
async fn an_assisted_issue_is_recorded_under_the_staff_name_with_the_citizen_as_a_digest() {
    let app = app().await;
    let form = citizen(9, "compras");
    let mut body = serde_json::to_value(&form).unwrap();
    body["operator"] = json!("Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa");
    let answer = send(&app, reqwest::Method::POST, "/api/assisted", ASSISTANCE, Some(body)).await;
    assert_eq!(answer.status(), StatusCode::CREATED);

    let page = trail(&app, "?action=assisted_issue").await;
    let entry = &page["entries"][0];
    assert_eq!(entry["operator"], "Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa");
    assert_eq!(entry["role"], "asistencia");
    let detail = entry["detail"].as_str().unwrap();
    let digits: String = form.rut.chars().filter(char::is_ascii_digit).collect();
    assert!(
        detail.starts_with("citizen ")
            && detail.ends_with("credential ASSISTANCE_TOKEN, stated by Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa"),
        "{detail}"
    );
    assert!(!detail.contains(&digits[..6]), "no RUT in the entry: {detail}");
    let again = trail(
        &app,
        "?operator=Sgto.%202%C2%B0%20R.%20Soto%2C%2033%C2%AA%20Comisar%C3%ADa%20%C3%91u%C3%B1oa",
    )
    .await;
    assert_eq!(actions(&again), ["assisted_issue"], "found by the staff member's name");
}
