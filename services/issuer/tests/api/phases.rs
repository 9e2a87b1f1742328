//! The Paso a Paso schedule: published ahead of time by *administración* (audit-logged),
//! never for the past, shown on `/fases`, and read by every replica in the background.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{ManualClock, TestApp, context_on, db_test, fresh_database};

use crate::http::{Issuer, admin_only, app};
use crate::{ADMINISTRACION, CONSULTA, TOKEN, send};

async fn publish(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    send(app, Method::POST, "/api/phases", token, Some(body)).await
}

#[db_test]
async fn administracion_publishes_a_change_ahead_of_time_and_fases_shows_it() {
    let app = app().await;
    // The test clock is Monday 30 November 2026, 10:00 in Santiago.
    let change = json!({"comuna": "nunoa", "phase": "transicion", "from": "2026-12-03"});
    assert_eq!(
        publish(&app, CONSULTA, change.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        publish(&app, TOKEN, change.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let published = publish(&app, ADMINISTRACION, change).await;
    assert_eq!(published.status(), StatusCode::CREATED);
    let published: Value = published.json().await.unwrap();
    assert_eq!(
        (&published["comuna"], &published["code"], &published["phase"]),
        (&json!("Ñuñoa"), &json!("13120"), &json!("transicion"))
    );
    assert_eq!(
        published["from"], "2026-12-03T08:00:00Z",
        "05:00 in Santiago's summer time"
    );
    assert_eq!(published["from_local"], "jueves 3 de diciembre de 2026 a las 05:00");
    assert_eq!(published["previous"], Value::Null, "the plan did not cover it before");
    let later = json!({"comuna": "13120", "phase": "1", "from": "2026-12-10", "at": "12:00"});
    let later: Value = publish(&app, ADMINISTRACION, later).await.json().await.unwrap();
    assert_eq!(later["previous"], "transicion");

    let page = app.get("/fases").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Ñuñoa") && html.contains("Sin fase"), "{html}");
    assert!(
        html.contains("Desde el jueves 3 de diciembre de 2026 a las 05:00: 2 · Transición"),
        "{html}"
    );
    app.clock.advance(jiff::SignedDuration::from_hours(4 * 24));
    let html = app.get("/fases").await.text().await.unwrap();
    assert!(html.contains("2 · Transición</td>"), "in force now: {html}");
    assert!(html.contains("a las 12:00: 1 · Cuarentena"), "{html}");

    let trail = send(&app, Method::GET, "/api/audit?action=publish_phase", CONSULTA, None).await;
    let trail: Value = trail.json().await.unwrap();
    let details: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "comuna 13120 Ñuñoa to cuarentena from 2026-12-10T15:00:00Z",
            "comuna 13120 Ñuñoa to transicion from 2026-12-03T08:00:00Z"
        ]
    );
}

#[db_test]
async fn a_change_for_the_past_or_with_wrong_fields_is_refused_naming_them() {
    let app = app().await;
    let past = json!({"comuna": "Ñuñoa", "phase": "transicion", "from": "2026-11-30"});
    let refused = publish(&app, ADMINISTRACION, past).await;
    assert_eq!(
        refused.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "05:00 today has passed"
    );
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["errors"]["from"].as_str().unwrap().contains("nunca después"),
        "{body}"
    );

    let wrong = json!({"comuna": "Springfield", "phase": "6", "from": "3/12/2026", "at": "25:00"});
    let body: Value = publish(&app, ADMINISTRACION, wrong).await.json().await.unwrap();
    for field in ["comuna", "phase", "from", "at"] {
        assert!(body["errors"][field].is_string(), "{field}: {body}");
    }
    let typed: Value = publish(&app, ADMINISTRACION, json!({"comuna": 13120}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(typed["errors"]["comuna"], "debe ser texto", "{typed}");
    let html = app.get("/fases").await.text().await.unwrap();
    assert!(
        html.contains("No hay fases publicadas"),
        "nothing was published: {html}"
    );
}

#[db_test]
async fn another_replica_reads_a_published_change_in_the_background() {
    let database = fresh_database();
    let clock = ManualClock::at_santiago("2026-11-30T10:00");
    let replica = |refresh: u64| {
        let (database, clock) = (database.clone(), clock.clone());
        async move {
            let options = issuer::Options {
                phase_refresh: std::time::Duration::from_secs(refresh),
                ..admin_only(Some(TOKEN))
            };
            let ctx = context_on(&database, &clock, permit_domain::Rules::default()).await;
            TestApp::serve(ctx, clock, |ctx| issuer::router(ctx, options)).await
        }
    };
    let (first, second) = (replica(3600).await, replica(1).await);
    crate::with_named_operators(&first).await;
    let change = json!({"comuna": "Maipú", "phase": "cuarentena", "from": "2026-12-01"});
    assert_eq!(
        publish(&first, ADMINISTRACION, change).await.status(),
        StatusCode::CREATED
    );
    let mut seen = false;
    for _ in 0..50 {
        if second.get("/fases").await.text().await.unwrap().contains("Maipú") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the second replica read the change within its refresh interval");
}

/// The signed claims of a created permit's validation link.
fn signed_claims(created: &Value) -> permit_token::PermitClaims {
    let token = created["validation_url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://validar.test/v/")
        .unwrap();
    testkit::key_set().verify(token).unwrap().claims
}

#[db_test]
async fn issuance_follows_the_comunas_phase_and_a_refusal_names_the_rule_and_its_change() {
    let app = app().await;
    // Monday 30 November 2026, 10:00. Ñuñoa is not in the plan yet: the configured rules.
    let outside: Value = app.create(&testkit::citizen(1, "compras")).await.json().await.unwrap();
    assert_eq!(
        (&outside["policy"], &outside["phase"]),
        (&json!("2021-04-05"), &Value::Null)
    );
    assert_eq!(outside["schedule"]["stale"], false, "{outside}");
    assert!(outside["schedule"]["read_seconds_ago"].as_u64().is_some());

    let preparacion = json!({"comuna": "Ñuñoa", "phase": "preparacion", "from": "2026-12-01"});
    assert_eq!(
        publish(&app, ADMINISTRACION, preparacion).await.status(),
        StatusCode::CREATED
    );
    let cuarentena = json!({"comuna": "Ñuñoa", "phase": "cuarentena", "from": "2026-12-03"});
    assert_eq!(
        publish(&app, ADMINISTRACION, cuarentena).await.status(),
        StatusCode::CREATED
    );

    // Tuesday: Preparación needs no permit, and the refusal says when that changes.
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    let refused = app.create(&testkit::citizen(2, "compras")).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["code"], "no_permit_needed");
    assert_eq!(
        refused["message"],
        "Ñuñoa está en Preparación: no necesitas permiso para salir. \
         Desde el jueves 3 de diciembre de 2026 a las 05:00 pasa a Cuarentena."
    );
    let form = app.get("/nuevo?comuna=13120").await.text().await.unwrap();
    assert!(
        form.contains("<strong>Ñuñoa</strong>: fase 3, Preparación; no se pide permiso para salir."),
        "{form}"
    );
    assert!(form.contains("value=\"Ñuñoa\""), "the comuna is filled in");

    // Saturday 5 December, in Cuarentena: one of the two weekly permits on the weekend,
    // and the general permit lasts 2 hours.
    app.clock.advance(jiff::SignedDuration::from_hours(4 * 24));
    let saturday = app.create(&testkit::citizen(3, "compras")).await;
    assert_eq!(saturday.status(), StatusCode::CREATED);
    let saturday: Value = saturday.json().await.unwrap();
    assert_eq!(
        (&saturday["policy"], &saturday["phase"]),
        (&json!("2021-04-05"), &json!("cuarentena"))
    );
    assert_eq!(saturday["valid_from"], "2026-12-05T10:15:00-03:00");
    assert_eq!(saturday["expires_at"], "2026-12-05T12:15:00-03:00");
    let claims = signed_claims(&saturday);
    assert_eq!(claims.issued_under.unwrap().compact(), "2021-04-05/1");
    let holder = saturday["permit_url"]
        .as_str()
        .unwrap()
        .replace("http://formulario.test", "");
    let page = app.get(&holder).await.text().await.unwrap();
    assert!(page.contains("Fase 1 · Cuarentena · reglas 2021-04-05"), "{page}");

    let second = app.create(&testkit::citizen(3, "banco")).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["code"], "weekend_limit_reached");
    assert_eq!(
        second["message"],
        "Ñuñoa está en Cuarentena: los fines de semana puedes pedir 1 de tus 2 permisos semanales; \
         ya usaste el de este fin de semana. Podrás solicitar otro desde el lunes 7 de diciembre de 2026 a las 00:00."
    );
    // The form, sent for the same comuna, shows the phase beside the refusal.
    let mut form = testkit::citizen(3, "funeral");
    form.comuna = "nunoa".into();
    let page = app.submit(&form).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = page.text().await.unwrap();
    assert!(page.contains("ya usaste el de este fin de semana"), "{page}");
    assert!(
        page.contains("fase 1, Cuarentena; se pide permiso todos los días; 2 por semana, de ellos 1 en fin de semana."),
        "{page}"
    );
    assert!(
        app.metrics()
            .await
            .contains("permits_refused_total{reason=\"weekend_limit_reached\"} 2"),
        "both refusals counted by their rule"
    );
}

#[db_test]
async fn fases_says_what_each_phase_asks_under_the_rules_in_force() {
    let app = app().await;
    let html = app.get("/fases").await.text().await.unwrap();
    assert!(
        html.contains("Reglas 2021-04-05, desde el lunes 5 de abril de 2021 a las 05:00"),
        "{html}"
    );
    assert!(
        html.contains("<strong>2 · Transición</strong>: se pide permiso los sábados y domingos; 1 por semana."),
        "{html}"
    );
    assert!(
        html.contains("<strong>3 · Preparación</strong>: no se pide permiso para salir."),
        "{html}"
    );
    let unknown = app.get("/nuevo?comuna=Gotham").await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown = unknown.text().await.unwrap();
    assert!(
        unknown.contains("id=\"comuna-error\""),
        "the unknown comuna is named: {unknown}"
    );
}
