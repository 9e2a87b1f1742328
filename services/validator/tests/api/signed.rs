//! Signed permits at `/v/{token}` and `/api/v/{token}`: verified with no database read,
//! revocations from the list the validator refreshes, keys rotated, the scanner's files.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use permit_domain::{Permit, Rules};
use permit_token::{KeySet, PermitClaims, SigningKey};
use permit_web::Context;
use reqwest::{StatusCode, header};
use serde_json::Value;
use testkit::{ManualClock, TestApp, citizen, db_test};
use validator::{Revocations, Signed};

fn new_key() -> SigningKey {
    SigningKey::parse(&SigningKey::generate_pem()).unwrap()
}

/// A validator accepting `keys`, over a fresh database.
async fn app_accepting(keys: KeySet) -> (TestApp, Arc<Signed>) {
    let signed = Arc::new(Signed {
        keys,
        revocations: Revocations::default(),
    });
    let router_signed = signed.clone();
    let app = TestApp::start(Rules::default(), move |ctx| validator::router(ctx, router_signed)).await;
    (app, signed)
}

async fn app() -> (TestApp, Arc<Signed>) {
    app_accepting(testkit::key_set()).await
}

fn token_for(permit: &Permit) -> String {
    testkit::signing_key().sign_token(&PermitClaims::of(permit))
}

/// The token with its character at `at` replaced by another base64url character.
fn altered(token: &str, at: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

async fn json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.get(path).await;
    (response.status(), response.json().await.unwrap())
}

#[db_test]
async fn a_signed_permit_reads_through_its_validity_window_with_masked_fields() {
    let (app, _) = app().await;
    let permit = app.stored_permit(1).await;
    let token = token_for(&permit);
    let (status, html) = app.page(&format!("/v/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("AÚN NO VIGENTE"));
    app.clock.advance(SignedDuration::from_mins(15));
    let (_, html) = app.page(&format!("/v/{token}")).await;
    assert!(html.contains(r#"<p class="label">VIGENTE</p>"#));
    assert!(html.contains("J. P. S.") && html.contains(&permit.rut.masked()));
    assert!(!html.contains("Juana") && !html.contains("Grecia"));
    assert!(html.contains("Firma del emisor verificada"));
    assert!(
        html.contains("Sin datos de revocaciones todavía"),
        "never refreshed in this test"
    );

    let (status, body) = json(&app, &format!("/api/v/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], permit.id.as_str());
    assert_eq!(body["status"], "valid");
    assert_eq!(body["status_label"], "VIGENTE");
    assert_eq!(body["rut"], permit.rut.masked());
    assert_eq!(body["motive"]["code"], "compras");
    assert_eq!(body["key_id"], testkit::signing_key().public_key().id().to_string());
    assert_eq!(body["revocations_checked_at"], Value::Null);
    assert_eq!(body["expires_at"], "2026-11-30T13:15:00-03:00");

    app.clock.advance(SignedDuration::from_hours(3));
    assert_eq!(json(&app, &format!("/api/v/{token}")).await.1["status"], "expired");
}

#[db_test]
async fn altered_truncated_and_foreign_tokens_read_not_valid_never_not_found() {
    let (app, _) = app().await;
    let permit = app.stored_permit(2).await;
    let token = token_for(&permit);
    let foreign = new_key().sign_token(&PermitClaims::of(&permit));
    let mut refused = vec![
        token[..token.len() - 10].to_owned(),
        format!("{token}A"),
        foreign,
        "x".into(),
    ];
    // One character in each stretch of the token: header, claims and signature.
    refused.extend((0..token.len()).step_by(7).map(|at| altered(&token, at)));
    for bad in refused {
        let (status, html) = app.page(&format!("/v/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(html.contains("NO VÁLIDO") && !html.contains("NO ENCONTRADO"), "{bad}");
        assert!(!html.contains("J. P. S."), "{bad}");
        let (status, body) = json(&app, &format!("/api/v/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], "invalid_token");
    }
    assert!(
        app.metrics()
            .await
            .contains(r#"permit_validations_total{result="invalid"}"#)
    );
}

#[db_test]
async fn a_revocation_is_seen_within_the_refresh_interval() {
    let clock = ManualClock::at_santiago("2026-11-30T10:00");
    let ctx = testkit::context(&clock, Rules::default()).await;
    let signed = Arc::new(Signed {
        keys: testkit::key_set(),
        revocations: Revocations::measured(&ctx.metrics),
    });
    let router_signed = signed.clone();
    let app = TestApp::serve(ctx, clock, move |ctx| validator::router(ctx, router_signed)).await;
    let permit = app.stored_permit(3).await;
    let token = token_for(&permit);
    app.clock.advance(SignedDuration::from_mins(20));
    let every = Duration::from_millis(300);
    signed
        .revocations
        .refresh_in_background(app.ctx.store.clone(), app.ctx.clock.clone(), every);
    let path = format!("/api/v/{token}");
    let first_read = Instant::now();
    while json(&app, &path).await.1["revocations_checked_at"].is_null() {
        assert!(
            first_read.elapsed() < Duration::from_secs(10),
            "the list is read at start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(json(&app, &path).await.1["status"], "valid");
    let read_at = app.ctx.now().as_second();
    assert!(
        app.metrics()
            .await
            .contains(&format!("permit_revocations_refreshed_timestamp_seconds {read_at}")),
        "its age is exposed"
    );

    app.ctx.store.revoke(&permit.id, app.ctx.now()).await.unwrap();
    let revoked = Instant::now();
    while json(&app, &path).await.1["status"] != "revoked" {
        assert!(
            revoked.elapsed() < every * 10,
            "not seen within {:?}",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, html) = app.page(&format!("/v/{token}")).await;
    assert!(
        html.contains("REVOCADO") && html.contains("Revocaciones consultadas el lunes 30 de noviembre de 2026, 10:20")
    );
    // Through the database, the same answer at once.
    assert!(
        app.page(&format!("/validar/{}", permit.id))
            .await
            .1
            .contains("REVOCADO")
    );
}

#[tokio::test]
async fn with_the_database_gone_genuine_tokens_are_answered_and_forged_ones_refused() {
    let clock = ManualClock::at_santiago("2026-11-30T10:30");
    let ctx = testkit::dead_context(&clock, Rules::default()).await;
    let signed = Arc::new(Signed {
        keys: testkit::key_set(),
        revocations: Revocations::default(),
    });
    signed
        .revocations
        .refresh_in_background(ctx.store.clone(), ctx.clock.clone(), Duration::from_millis(100));
    let router_signed = signed.clone();
    let app = TestApp::serve(ctx, clock, move |ctx| validator::router(ctx, router_signed)).await;
    let request = citizen(4, "compras").parse().unwrap();
    let window = testkit::window(&Rules::default(), request.motive, testkit::santiago("2026-11-30T10:00")).unwrap();
    let token = token_for(&Permit::issue(request, window));

    for _ in 0..20 {
        let started = Instant::now();
        let (status, body) = json(&app, &format!("/api/v/{token}")).await;
        assert_eq!((status, &body["status"]), (StatusCode::OK, &Value::from("valid")));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "no wait on the database"
        );
    }
    let (status, html) = app.page(&format!("/v/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<p class="label">VIGENTE</p>"#) && html.contains("Sin datos de revocaciones"));
    let forged = altered(&token, token.len() - 5);
    assert_eq!(app.get(&format!("/v/{forged}")).await.status(), StatusCode::BAD_REQUEST);
    // The lookup by code needs the database, and says so.
    assert_eq!(
        app.get("/validar/AAAAAAAAAAAAAAAAAAAAAA").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// Issuers and validators over one database and one clock, as pods of two deployments.
struct Cluster {
    ctx: Context,
    clock: ManualClock,
}

impl Cluster {
    async fn issuer(&self, key: &str) -> TestApp {
        let options = issuer::Options::new(Arc::new(SigningKey::parse(key).unwrap()), testkit::privacy_key());
        TestApp::serve(self.ctx.clone(), self.clock.clone(), |ctx| issuer::router(ctx, options)).await
    }

    async fn validator(&self, keys: &[&str]) -> TestApp {
        let keys = KeySet::new(
            keys.iter()
                .map(|pem| SigningKey::parse(pem).unwrap().public_key().clone()),
        );
        let signed = Arc::new(Signed {
            keys,
            revocations: Revocations::default(),
        });
        TestApp::serve(self.ctx.clone(), self.clock.clone(), |ctx| {
            validator::router(ctx, signed)
        })
        .await
    }
}

/// Issues a permit through the issuer's API: its id and the path of its signed link.
async fn signed_path(issuer: &TestApp, n: u32) -> (String, String) {
    let response = issuer
        .http
        .post(format!("{}/api/create", issuer.url))
        .json(&citizen(n, "compras"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let link = body["validation_url"].as_str().unwrap();
    let path = link.strip_prefix("http://validar.test").unwrap().to_owned();
    (body["id"].as_str().unwrap().to_owned(), path)
}

#[db_test]
async fn a_key_rotation_walks_through_publish_switch_and_retire() {
    let (old, new) = (SigningKey::generate_pem(), SigningKey::generate_pem());
    let clock = ManualClock::at_santiago("2026-11-30T10:00");
    let ctx = testkit::context(&clock, Rules::default()).await;
    let cluster = Cluster { ctx, clock };
    let status = |app: &TestApp, path: &str| {
        let request = app.http.get(format!("{}{path}", app.url));
        async move { request.send().await.unwrap().status() }
    };

    // Before: the issuer signs with the old key, validators know only it.
    let before = cluster.validator(&[&old]).await;
    let (old_id, by_old) = signed_path(&cluster.issuer(&old).await, 5).await;
    assert_eq!(status(&before, &by_old).await, StatusCode::OK);

    // 1. Publish the new public key beside the old one: old permits still verify.
    let published = cluster.validator(&[&old, &new]).await;
    assert_eq!(status(&published, &by_old).await, StatusCode::OK);
    let jwks: Value = published.get("/.well-known/jwks.json").await.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

    // 2. Switch the issuer to the new key: both generations verify.
    let (_, by_new) = signed_path(&cluster.issuer(&new).await, 6).await;
    assert_eq!(status(&published, &by_new).await, StatusCode::OK);
    assert_eq!(status(&published, &by_old).await, StatusCode::OK);
    // A validator that was never given the new key refuses its permits: publish first.
    assert_eq!(status(&before, &by_new).await, StatusCode::BAD_REQUEST);

    // 3. Once the longest permit signed with the old key has expired, retire that key.
    cluster.clock.advance(SignedDuration::from_hours(4));
    let retired = cluster.validator(&[&new]).await;
    assert_eq!(status(&retired, &by_new).await, StatusCode::OK);
    assert_eq!(status(&retired, &by_old).await, StatusCode::BAD_REQUEST);
    assert_eq!(json(&retired, &format!("/api{by_new}")).await.1["status"], "expired");
    // Its holders' permits still read through the database link.
    assert!(retired.page(&format!("/validar/{old_id}")).await.1.contains("EXPIRADO"));
}

#[db_test]
async fn the_public_keys_and_the_scanner_are_served_with_their_policies() {
    let (app, _) = app().await;
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/jwk-set+json");
    let published = KeySet::parse(&response.text().await.unwrap()).unwrap();
    assert_eq!(published, testkit::key_set());

    let page = app.get("/escanear").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("worker-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(
        page.headers()["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("camera=(self)")
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    assert!(html.contains(r#"<script src="/static/escanear.js" defer></script>"#));
    for path in ["/static/escanear.js", "/static/jsqr.js", "/escanear-sw.js"] {
        let script = app.get(path).await;
        assert_eq!(script.status(), StatusCode::OK, "{path}");
        assert!(
            script.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    }
    // Every other page keeps the site's stricter policy: no scripts, no camera.
    let home = app.get("/").await;
    assert!(
        !home.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src")
    );
    assert!(
        home.headers()["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("camera=()")
    );
}

#[db_test]
async fn both_checks_show_the_phase_and_policy_version_the_permit_was_issued_under() {
    let (app, _) = app().await;
    let mut permit = app.stored_permit(2).await;
    assert_eq!(permit.issued_under.as_ref().map(|u| u.compact()), Some("test/-".into()));
    let (_, html) = app.page(&format!("/validar/{}", permit.id)).await;
    assert!(
        html.contains("Comuna fuera del plan Paso a Paso · reglas test"),
        "{html}"
    );
    // A token says it in its own claim, read with no database.
    permit.issued_under = permit_domain::IssuedUnder::from_compact("2021-04-05/2");
    let (_, html) = app.page(&format!("/v/{}", token_for(&permit))).await;
    assert!(html.contains("Fase 2 · Transición · reglas 2021-04-05"), "{html}");
    let (_, body) = json(&app, &format!("/api/v/{}", token_for(&permit))).await;
    assert_eq!(
        (&body["policy"], &body["phase"]),
        (&Value::from("2021-04-05"), &Value::from("transicion"))
    );
}
