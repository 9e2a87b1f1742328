//! The validator spawned on a free port, driven over HTTP, against a real MongoDB-wire server.

use std::sync::Arc;

use jiff::SignedDuration;
use permit_domain::Rules;
use reqwest::{StatusCode, header};
use serde_json::Value;
use testkit::{TestApp, db_test, santiago};
use validator::{Revocations, Signed};

async fn app() -> TestApp {
    TestApp::start(Rules::default(), |ctx| {
        validator::router(
            ctx,
            Arc::new(Signed {
                keys: testkit::key_set(),
                revocations: Revocations::default(),
            }),
        )
    })
    .await
}

#[db_test]
async fn a_permit_goes_from_not_yet_valid_to_valid_to_expired() {
    let app = app().await;
    let permit = app.stored_permit(1).await;
    let path = format!("/validar/{}", permit.id);
    let (status, html) = app.page(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("AÚN NO VIGENTE"));
    app.clock.advance(SignedDuration::from_mins(15));
    let (_, html) = app.page(&path).await;
    assert!(html.contains(r#"<p class="label">VIGENTE</p>"#));
    assert!(html.contains("lunes 30 de noviembre de 2026, 10:15"));
    assert!(html.contains("lunes 30 de noviembre de 2026, 13:15"));
    app.clock.advance(SignedDuration::from_hours(3));
    assert!(app.page(&path).await.1.contains("EXPIRADO"));
}

#[db_test]
async fn the_page_masks_name_and_rut_and_hides_the_address() {
    let app = app().await;
    let permit = app.stored_permit(2).await;
    let (_, html) = app.page(&format!("/validar/{}", permit.id)).await;
    assert!(html.contains("J. P. S."));
    assert!(html.contains(&permit.rut.masked()));
    assert!(!html.contains("Juana"));
    assert!(!html.contains(&permit.rut.to_string()));
    assert!(!html.contains("Grecia"));
    assert!(html.contains("Compra de insumos básicos"));
}

#[db_test]
async fn a_revoked_permit_shows_revoked() {
    let app = app().await;
    let permit = app.stored_permit(3).await;
    app.clock.advance(SignedDuration::from_mins(20));
    app.ctx.store.revoke(&permit.id, app.ctx.now()).await.unwrap();
    assert!(
        app.page(&format!("/validar/{}", permit.id))
            .await
            .1
            .contains("REVOCADO")
    );
}

#[db_test]
async fn the_json_api_gives_the_same_status_and_masked_fields() {
    let app = app().await;
    let permit = app.stored_permit(4).await;
    app.clock.advance(SignedDuration::from_mins(30));
    let response = app.get(&format!("/api/{}", permit.id)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "valid");
    assert_eq!(body["status_label"], "VIGENTE");
    assert_eq!(body["name"], "J. P. S.");
    assert_eq!(body["rut"], permit.rut.masked());
    assert_eq!(body["motive"]["code"], "compras");
    assert_eq!(body["valid_from"], "2026-11-30T10:15:00-03:00");
    assert_eq!(body["expires_at"], "2026-11-30T13:15:00-03:00");
    assert!(body.get("address").is_none());
}

#[db_test]
async fn unknown_and_malformed_ids_are_404_never_500() {
    let app = app().await;
    for id in [
        "AAAAAAAAAAAAAAAAAAAAAA",
        "5ee3b4c1a4b1c2d3e4f5a6b7",
        "%3Cscript%3E",
        "x",
    ] {
        let (status, html) = app.page(&format!("/validar/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert!(html.contains("NO ENCONTRADO"));
        let api = app.get(&format!("/api/{id}")).await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND, "{id}");
        let body: Value = api.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
    }
}

#[db_test]
async fn the_home_form_takes_a_code_or_a_pasted_link() {
    let app = app().await;
    let (status, html) = app.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<label for="codigo">"#));
    let permit = app.stored_permit(5).await;
    for typed in [
        permit.id.to_string(),
        format!("http://validar.test/validar/{}", permit.id),
    ] {
        let response = app
            .http
            .get(format!("{}/validar", app.url))
            .query(&[("codigo", &typed)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], format!("/validar/{}", permit.id));
    }
    let (status, html) = app.page("/validar?codigo=not-a-code").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Ese no es un código de permiso"));
    assert!(html.contains(r#"value="not-a-code""#));

    // A pasted signed link goes to its page; anything else after /v/ is not taken along.
    let typed = |text: &str| {
        app.http
            .get(format!("{}/validar", app.url))
            .query(&[("codigo", text)])
            .send()
    };
    let signed = typed("http://validar.test/v/0Ab-_9").await.unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()[header::LOCATION], "/v/0Ab-_9");
    for junk in [
        "http://validar.test/v/a\nb",
        "http://validar.test/v/a b",
        "http://validar.test/v/",
    ] {
        assert_eq!(
            typed(junk).await.unwrap().status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{junk:?}"
        );
    }
}

#[db_test]
async fn validity_times_are_shown_in_santiago_time_across_dst() {
    let app = app().await;
    // 2026-04-04 is the last Saturday of summer time in Chile (UTC-3); winter is UTC-4.
    app.clock.set(santiago("2026-07-01T10:00"));
    let permit = app.stored_permit(6).await;
    let body: Value = app.get(&format!("/api/{}", permit.id)).await.json().await.unwrap();
    assert_eq!(body["valid_from"], "2026-07-01T10:15:00-04:00");
}

#[db_test]
async fn the_openapi_document_describes_what_the_api_answers() {
    let app = app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let responses = &doc["paths"]["/api/{id}"]["get"]["responses"];
    for status in ["200", "400", "404", "413", "503"] {
        assert!(responses[status].is_object(), "GET /api/{{id}} documents {status}");
    }
    let permit = app.stored_permit(7).await;
    let check: Value = app.get(&format!("/api/{}", permit.id)).await.json().await.unwrap();
    testkit::assert_fits_schema(&doc, "CheckView", &check);
    testkit::assert_fits_schema(&doc, "MotiveView", &check["motive"]);
    let missing: Value = app.get("/api/nope").await.json().await.unwrap();
    testkit::assert_fits_schema(&doc, "ErrorBody", &missing);
}

#[db_test]
async fn a_typed_code_with_markup_is_shown_back_escaped() {
    let app = app().await;
    let (status, html) = app
        .page("/validar?codigo=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&#34;&#62;&#60;script&#62;alert(1)&#60;"));
}
