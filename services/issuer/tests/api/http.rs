//! The issuer spawned on a free port, driven over HTTP, against a real MongoDB-wire server.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use issuer::{AdminToken, ClientKey, ClientLimiter, Options, Rate, TrustedProxies};
use permit_domain::{Motive, PermitForm, PermitId, Rules};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use testkit::{ManualClock, TestApp, citizen, context, context_on, db_test, fresh_database};

use crate::{ADMINISTRACION, CONSULTA, REVOCACION, TOKEN, issued, send};

/// The counter staff's token the tests configure beside the operator's.
pub(crate) const ASSISTANCE: &str = "an-assistance-token-of-forty-characters";

pub(crate) fn admin_only(token: Option<&str>) -> Options {
    Options {
        admin: AdminToken::from_setting(token.map(String::from)).unwrap(),
        assistance: AdminToken::from_variable("ASSISTANCE_TOKEN", token.map(|_| ASSISTANCE.to_owned())).unwrap(),
        ..Options::new(testkit::signing_key(), testkit::privacy_key())
    }
}

pub(crate) async fn app() -> TestApp {
    app_with(Rules::default(), Some(TOKEN)).await
}

async fn app_with(rules: Rules, admin: Option<&str>) -> TestApp {
    let app = TestApp::start(rules, |ctx| issuer::router(ctx, admin_only(admin))).await;
    crate::with_named_operators(&app).await;
    app
}

/// What these tests send to the issuer.
pub(crate) trait Issuer {
    async fn create(&self, body: &impl serde::Serialize) -> reqwest::Response;
    async fn submit(&self, form: &PermitForm) -> reqwest::Response;
    /// A page of `/api/all` as *administración* exports it, with a reason and `query`.
    async fn export(&self, query: &str) -> reqwest::Response;
}

impl Issuer for TestApp {
    async fn create(&self, body: &impl serde::Serialize) -> reqwest::Response {
        self.http
            .post(format!("{}/api/create", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn submit(&self, form: &PermitForm) -> reqwest::Response {
        let fields = with_token(form, "");
        self.http
            .post(format!("{}/nuevo", self.url))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    async fn export(&self, query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/api/all?reason=Oficio%2088-2026&{query}", self.operators()))
            .bearer_auth(ADMINISTRACION)
            .send()
            .await
            .unwrap()
    }
}

#[db_test]
async fn the_landing_page_links_to_the_form_and_states_the_rules() {
    let app = app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"href="/nuevo""#));
    assert!(html.contains("22:00 a 05:00"));
    assert!(html.contains("como máximo 2 permisos por semana"));
    assert!(html.contains("Paseo de mascotas"));
}

#[db_test]
async fn the_form_offers_every_motive_with_labelled_inputs() {
    let app = app().await;
    let html = app.get("/nuevo").await.text().await.unwrap();
    for motive in permit_domain::Motive::individual() {
        assert!(
            html.contains(&format!(r#"<option value="{}""#, motive.code())),
            "{}",
            motive.code()
        );
    }
    for field in ["name", "rut", "motive", "address", "comuna"] {
        assert!(html.contains(&format!(r#"<label for="{field}">"#)), "{field}");
    }
    // The comuna suggests every comuna of the catalogue as the citizen types.
    assert!(html.contains(r#"list="comunas""#));
    assert_eq!(
        html.matches("<option value=").count(),
        346 + permit_domain::Motive::individual().count() + 1
    );
    assert!(html.contains(r#"<option value="O'Higgins">"#));
}

#[db_test]
async fn a_comuna_is_one_of_chiles_however_it_is_typed() {
    let app = app().await;
    let typed = app
        .create(&PermitForm {
            comuna: "NUNOA".into(),
            ..citizen(70, "compras")
        })
        .await;
    assert_eq!(typed.status(), StatusCode::CREATED);
    let body: Value = typed.json().await.unwrap();
    assert_eq!(body["comuna"], "Ñuñoa", "stored as the catalogue writes it");
    let unknown = app
        .create(&PermitForm {
            comuna: "Springfield".into(),
            ..citizen(71, "compras")
        })
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = unknown.json().await.unwrap();
    assert!(
        body["errors"]["comuna"]
            .as_str()
            .unwrap()
            .contains("no es una comuna de Chile"),
        "{body}"
    );
    assert_eq!(body["errors"].as_object().unwrap().len(), 1, "{body}");
}

#[db_test]
async fn a_valid_form_redirects_to_the_permit_page_with_its_qr_code() {
    let app = app().await;
    let response = app.submit(&citizen(1, "compras")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let (id, secret) = location
        .strip_prefix("/permiso/")
        .and_then(|rest| rest.split_once("?clave="))
        .expect("the holder's own page");
    assert_eq!(
        secret,
        testkit::privacy_key().holder_secret(&PermitId::parse(id).unwrap())
    );
    let html = app.get(&location).await.text().await.unwrap();
    assert!(html.contains(r#"<svg class="qr""#));
    let link = html
        .split(r#"href="http://validar.test/v/"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page links to the signed permit");
    assert_eq!(testkit::key_set().verify(link).unwrap().claims.id.as_str(), id);
    assert!(html.contains("AÚN NO VIGENTE"));
    assert!(html.contains("lunes 30 de noviembre de 2026, 10:15"));
    assert!(html.contains("lunes 30 de noviembre de 2026, 13:15"));
}

#[db_test]
async fn an_invalid_form_comes_back_with_messages_and_the_values_kept() {
    let app = app().await;
    let form = PermitForm {
        rut: "12.345.678-9".into(),
        comuna: String::new(),
        ..citizen(2, "compras")
    };
    let response = app.submit(&form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<span class="field-error" id="rut-error">el dígito verificador no corresponde</span>"#));
    assert!(html.contains(r#"<span class="field-error" id="comuna-error">este campo es obligatorio</span>"#));
    assert!(html.contains(r#"value="Juana Pérez Soto""#));
    assert!(html.contains(r#"value="12.345.678-9""#));
    assert!(html.contains(r#"<option value="compras" selected>"#));
}

#[db_test]
async fn markup_typed_into_the_form_is_shown_escaped() {
    let app = app().await;
    let markup = |field: &str| format!("\"><script>alert('{field}')</script>");
    let form = PermitForm {
        name: markup("name"),
        rut: markup("rut"),
        motive: markup("motive"),
        address: markup("address"),
        comuna: markup("comuna"),
    };
    let html = app.submit(&form).await.text().await.unwrap();
    assert!(!html.contains("<script>"), "no field is echoed raw");
    // The motive is a list: a value not on it is not shown back at all.
    for field in ["name", "rut", "address", "comuna"] {
        let escaped = format!("&#34;&#62;&#60;script&#62;alert(&#39;{field}&#39;)&#60;/script&#62;");
        assert!(html.contains(&escaped), "{field} is echoed escaped");
    }
}

#[db_test]
async fn the_api_creates_a_permit_with_its_validation_url() {
    let app = app().await;
    let response = app.create(&&citizen(4, "paseo-mascotas")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    assert_eq!(body["lookup_url"], format!("http://validar.test/validar/{id}"));
    let token = body["validation_url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://validar.test/v/")
        .unwrap();
    let signed = testkit::key_set().verify(token).unwrap().claims;
    assert_eq!(signed.id.as_str(), id);
    assert_eq!(signed.motive, Motive::parse("paseo-mascotas").unwrap());
    assert_eq!(signed.rut, testkit::rut(4).masked());
    assert_eq!(signed.name, "J. P. S.");
    assert_eq!(signed.valid_from, testkit::santiago("2026-11-30T10:15"));
    assert_eq!(signed.expires_at, testkit::santiago("2026-11-30T10:45"));
    let bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    let citizen = citizen(4, "paseo-mascotas");
    for private in [
        &citizen.name[..5],
        &citizen.address,
        &citizen.comuna,
        &testkit::rut(4).canonical(),
    ] {
        let private = private.as_bytes();
        assert!(
            !bytes.windows(private.len()).any(|w| w == private),
            "{private:?} is in the token"
        );
    }
    assert_eq!(body["status"], "not_yet_valid");
    assert_eq!(body["rut"], testkit::rut(4).to_string());
    assert_eq!(body["valid_from"], "2026-11-30T10:15:00-03:00");
    assert_eq!(body["expires_at"], "2026-11-30T10:45:00-03:00");
    let holder = app.get(holder_path(&body)).await;
    assert_eq!(holder.status(), StatusCode::OK);
    assert!(holder.text().await.unwrap().contains(&citizen.address));
}

/// The path of the holder's own page, from a created permit's `permit_url`.
fn holder_path(created: &Value) -> &str {
    let url = created["permit_url"].as_str().expect("a permit_url");
    assert!(url.contains("?clave="), "{url} is not the holder's link");
    url.strip_prefix("http://formulario.test").expect("an issuer link")
}

#[db_test]
async fn a_permits_id_alone_shows_what_a_checkpoint_sees_and_only_the_holders_link_opens_it() {
    let app = app().await;
    let citizen = citizen(5, "compras");
    let created: Value = app.create(&citizen).await.json().await.unwrap();
    let other: Value = app.create(&testkit::citizen(6, "compras")).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let rut = testkit::rut(5);
    let personal = [
        citizen.name.as_str(),
        "Juana",
        &citizen.address,
        &rut.to_string(),
        &rut.canonical(),
    ];
    let public = format!("/permiso/{id}");
    let other_secret = holder_path(&other).split_once("?clave=").unwrap().1.to_owned();
    for (path, wrong) in [
        (public.clone(), false),
        (format!("{public}?clave={other_secret}"), true),
        (format!("{public}?clave=not-a-secret"), true),
        (format!("{public}?clave="), false),
    ] {
        let answer = app.get(&path).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let html = answer.text().await.unwrap();
        for private in personal {
            assert!(!html.contains(private), "{path} shows {private:?}");
        }
        assert!(html.contains("J. P. S.") && html.contains(&rut.masked()), "{path}");
        assert!(html.contains("AÚN NO VIGENTE"));
        assert!(
            !html.contains("<svg") && !html.contains("/v/"),
            "{path}: only the holder gets the QR"
        );
        assert_eq!(html.contains("la clave no corresponde"), wrong, "{path}");
    }
    let html = app.get(holder_path(&created)).await.text().await.unwrap();
    for private in &personal[..4] {
        assert!(html.contains(private), "the holder's page lacks {private:?}");
    }
    assert!(html.contains(r#"<svg class="qr""#));
    // The operator's listing carries no holder's link.
    let listed: Value = app.export("").await.json().await.unwrap();
    for permit in listed["permits"].as_array().unwrap() {
        let url = permit["permit_url"].as_str().unwrap();
        assert!(!url.contains("clave"), "{url}");
    }
}

#[db_test]
async fn the_case_study_load_test_row_is_refused_naming_rut_and_motive() {
    let app = app().await;
    let row = json!({ "name": "user_1", "rut": "1111111-1", "motive": "test_1", "address": "address_1" });
    let response = app.create(&row).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_fields");
    assert!(body["errors"]["rut"].is_string());
    assert!(body["errors"]["motive"].is_string());
}

#[db_test]
async fn the_third_permit_in_a_week_is_refused_with_429_saying_when() {
    let app = app().await;
    for motive in ["compras", "banco"] {
        assert_eq!(app.create(&&citizen(5, motive)).await.status(), StatusCode::CREATED);
    }
    let response = app.create(&&citizen(5, "funeral")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 7 * 24 * 3600 - 10 * 3600);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "weekly_limit_reached");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("lunes 7 de diciembre de 2026 a las 00:00")
    );

    let page = app.submit(&citizen(5, "compras")).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Ya usaste 2 de 2 permisos de esta semana")
    );
    assert!(
        app.metrics()
            .await
            .contains("permits_refused_total{reason=\"weekly_limit_reached\"} 2"),
        "both refusals counted by their rule"
    );
}

#[db_test]
async fn twenty_concurrent_creates_over_two_issuers_issue_exactly_two() {
    let database = fresh_database();
    let clock = ManualClock::at_santiago("2026-11-30T10:00");
    let first = TestApp::serve(
        context_on(&database, &clock, Rules::default()).await,
        clock.clone(),
        |ctx| issuer::router(ctx, Options::new(testkit::signing_key(), testkit::privacy_key())),
    )
    .await;
    let second = TestApp::serve(
        context_on(&database, &clock, Rules::default()).await,
        clock.clone(),
        |ctx| issuer::router(ctx, Options::new(testkit::signing_key(), testkit::privacy_key())),
    )
    .await;
    let body = &citizen(6, "compras");
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let url = format!("{}/api/create", if i % 2 == 0 { &first.url } else { &second.url });
            let (http, body) = (first.http.clone(), body.clone());
            tokio::spawn(async move { http.post(url).json(&body).send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((created, refused), (2, 18), "{statuses:?}");
}

#[db_test]
async fn a_permit_that_would_reach_the_curfew_is_refused_and_says_so() {
    let app = app().await;
    app.clock.set(testkit::santiago("2026-11-30T20:00"));
    let response = app.create(&&citizen(7, "compras")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "curfew");
    assert!(
        app.metrics()
            .await
            .contains("permits_refused_total{reason=\"curfew\"} 1")
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("toque de queda (22:00 a 05:00)")
    );

    let off = app_with(
        Rules {
            curfew: None,
            ..Rules::default()
        },
        None,
    )
    .await;
    off.clock.set(testkit::santiago("2026-11-30T23:00"));
    assert_eq!(off.create(&&citizen(7, "compras")).await.status(), StatusCode::CREATED);
}

#[db_test]
async fn unknown_and_malformed_permit_ids_are_404() {
    let app = app().await;
    assert_eq!(
        app.get("/permiso/AAAAAAAAAAAAAAAAAAAAAA").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/permiso/5ee3b4c1a4b1c2d3e4f5a6b7").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[db_test]
async fn bodies_that_are_not_json_objects_get_a_clear_4xx() {
    let app = app().await;
    let url = format!("{}/api/create", app.url);
    let as_form = app.http.post(&url).form(&[("name", "x")]).send().await.unwrap();
    assert_eq!(as_form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = app
        .http
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"name\":")
        .send()
        .await;
    assert_eq!(broken.unwrap().status(), StatusCode::BAD_REQUEST);
    let wrong_type = app.create(&json!({ "name": 5 })).await;
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = wrong_type.json().await.unwrap();
    assert_eq!(body["errors"]["name"], "debe ser texto");
    assert_eq!(body["errors"]["rut"], "este campo es obligatorio");
}

/// Walks every operation of both served OpenAPI documents (generated from the handlers): an
/// operator operation declares the token and refuses a request without it or with a wrong
/// one; any other refuses none for want of a token. An admin route mounted outside the
/// operator sub-router, and so without its guard, fails here.
#[db_test]
async fn every_operator_operation_and_only_those_refuse_a_missing_or_wrong_token() {
    let app = app().await;
    let mut guarded = Vec::new();
    for base in [app.url.as_str(), app.operators()] {
        let doc = document(&app, base).await;
        for (path, method, operation) in operations(&doc) {
            let secured = operation["security"].is_array();
            let tagged = operation["tags"]
                .as_array()
                .is_some_and(|tags| tags.contains(&json!("operator")) || tags.contains(&json!("assistance")));
            assert_eq!(
                secured, tagged,
                "{method} {path}: the operator tag and the token go together"
            );
            let url = format!("{base}{}", path.replace("{id}", "q6V7pTz0S3mXcW1bN8eYkA"));
            for token in [None, Some("a-wrong-token-of-more-than-thirty-two-chars")] {
                let mut request = app.http.request(method.clone(), &url).json(&json!({}));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let status = request.send().await.unwrap().status();
                if secured {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with token {token:?}");
                } else {
                    assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} asks for a token");
                }
            }
            if secured {
                guarded.push(format!("{method} {path}"));
            }
        }
    }
    guarded.sort();
    assert_eq!(
        guarded,
        [
            "DELETE /api/operators/{id}",
            "DELETE /api/permits/{id}/hold",
            "GET /api/all",
            "GET /api/audit",
            "GET /api/operators",
            "GET /api/permits",
            "GET /api/permits/{id}",
            "POST /api/assisted",
            "POST /api/operators",
            "POST /api/permits/{id}/hold",
            "POST /api/permits/{id}/revoke",
            "POST /api/phases"
        ]
    );
}

/// The OpenAPI document served at `base`.
async fn document(app: &TestApp, base: &str) -> Value {
    testkit::body_json(app.http.get(format!("{base}/api/openapi.json"))).await
}

/// Each operation of an OpenAPI document: its path, method and description.
fn operations(doc: &Value) -> Vec<(String, reqwest::Method, Value)> {
    let mut found = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            found.push((path.clone(), method, operation.clone()));
        }
    }
    found
}

#[db_test]
async fn the_citizens_port_serves_no_operator_route_and_the_operators_port_no_citizen_one() {
    let app = app().await;
    let id = issued(&app, 5).await;
    let operator_doc = document(&app, app.operators()).await;
    let operator_routes = operations(&operator_doc);
    assert!(operator_routes.len() >= 10, "{operator_routes:?}");
    for (path, method, _) in &operator_routes {
        // With the right token and a real permit: refused for where it was asked, not why.
        let url = format!("{}{}", app.url, path.replace("{id}", &id));
        let answer = app
            .http
            .request(method.clone(), &url)
            .bearer_auth(CONSULTA)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::NOT_FOUND,
            "{method} {path} on the citizens' port"
        );
    }
    // Its home is the operators' console, which links to no citizen page.
    let console = app
        .http
        .get(app.operators())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        console.contains("Consola de operadores") && !console.contains(r#"href="/nuevo""#),
        "{console}"
    );
    for path in ["/nuevo", &format!("/permiso/{id}"), "/mis-permisos", "/ingresar"] {
        let answer = app.http.get(format!("{}{path}", app.operators())).send().await.unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::NOT_FOUND,
            "GET {path} on the operators' port"
        );
    }
    let create = app
        .http
        .post(format!("{}/api/create", app.operators()))
        .json(&citizen(6, "compras"))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), StatusCode::NOT_FOUND);
    let citizen_doc = document(&app, &app.url).await;
    assert_eq!(operations(&citizen_doc).len(), 1, "{citizen_doc}");
}

#[db_test]
async fn exporting_all_permits_needs_administracion_and_a_reason_and_pages_newest_first() {
    let app = app().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body: Value = app.create(&&citizen(100 + n, "compras")).await.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
        app.clock.advance(jiff::SignedDuration::from_mins(1));
    }
    let anonymous = app
        .http
        .get(format!("{}/api/all", app.operators()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .http
        .get(format!("{}/api/all", app.operators()))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A look-up role pages through no one's data: that is an export.
    let reason = "/api/all?reason=Oficio%2088-2026";
    for token in [CONSULTA, REVOCACION] {
        let other_role = send(&app, reqwest::Method::GET, reason, token, None).await;
        assert_eq!(other_role.status(), StatusCode::FORBIDDEN);
    }
    let unexplained = send(&app, reqwest::Method::GET, "/api/all?limit=2", ADMINISTRACION, None).await;
    assert_eq!(unexplained.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = unexplained.json().await.unwrap();
    assert!(body["errors"]["reason"].is_string(), "{body}");

    let first: Value = app.export("limit=2").await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .export(&format!("limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|page| {
            page["permits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap())
        })
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
    assert!(second["next_cursor"].is_null());
    assert_eq!(app.export("limit=500").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.export("cursor=forged").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Well-formed, but at a time no permit has: refused naming the parameter, never a 500.
    for millis in [i64::MAX, i64::MIN, 253_402_300_800_000] {
        let extreme = URL_SAFE_NO_PAD.encode(format!("{millis}:{}", ids[0]));
        let answer = app.export(&format!("cursor={extreme}")).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{millis}");
        let body: Value = answer.json().await.unwrap();
        assert!(body["errors"]["cursor"].is_string(), "{body}");
    }
}

#[db_test]
async fn no_answer_carrying_a_citizens_data_may_be_stored_by_a_cache() {
    let app = app().await;
    let created = app.create(&citizen(60, "compras")).await;
    let cache_control = |response: &reqwest::Response| {
        response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let mut answers = vec![("POST /api/create", cache_control(&created))];
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let permit_page = app.get(&format!("/permiso/{id}")).await;
    answers.push(("GET /permiso/{id}", cache_control(&permit_page)));
    let holder_page = app.get(holder_path(&created)).await;
    answers.push(("GET /permiso/{id}?clave=", cache_control(&holder_page)));
    answers.push(("GET /nuevo", cache_control(&app.get("/nuevo").await)));
    let submitted = app.submit(&citizen(61, "compras")).await;
    answers.push(("POST /nuevo", cache_control(&submitted)));
    let invalid = app
        .submit(&PermitForm {
            rut: "1-1".into(),
            ..citizen(62, "compras")
        })
        .await;
    answers.push(("POST /nuevo, invalid", cache_control(&invalid)));
    answers.push(("GET /api/all", cache_control(&app.export("").await)));
    for (answer, value) in answers {
        assert_eq!(value.as_deref(), Some("no-store"), "{answer}");
    }
    // Static files are still cached.
    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(cache_control(&css).unwrap().starts_with("public"));
}

#[db_test]
async fn without_an_admin_token_configured_that_token_opens_nothing() {
    let app = app_with(Rules::default(), None).await;
    for path in ["/api/operators", "/api/all"] {
        let answer = app
            .http
            .get(format!("{}{path}", app.operators()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// The bootstrap token makes named operators and nothing else: it reads and changes no
/// permit, so every look at or change of one names a person.
#[db_test]
async fn the_bootstrap_token_opens_only_the_operators_tokens() {
    let app = app().await;
    let id = issued(&app, 3).await;
    let ask = |method: reqwest::Method, path: String| {
        let app = &app;
        async move {
            let request = app.http.request(method, format!("{}{path}", app.operators()));
            request
                .bearer_auth(TOKEN)
                .json(&json!({"reason": "RIT 1-2026"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for (method, path) in [
        (reqwest::Method::GET, "/api/all".to_owned()),
        (
            reqwest::Method::GET,
            "/api/permits?rut=12.345.678-5&reason=RIT%201-2026".to_owned(),
        ),
        (reqwest::Method::GET, "/api/audit".to_owned()),
        (reqwest::Method::POST, format!("/api/permits/{id}/revoke")),
        (reqwest::Method::POST, format!("/api/permits/{id}/hold")),
        (reqwest::Method::POST, "/api/assisted".to_owned()),
    ] {
        assert_eq!(
            ask(method.clone(), path.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    assert_eq!(
        ask(reqwest::Method::GET, "/api/operators".to_owned()).await,
        StatusCode::OK
    );
}

#[db_test]
async fn the_operator_can_revoke_a_permit() {
    let app = app().await;
    let body: Value = app.create(&&citizen(8, "compras")).await.json().await.unwrap();
    let path = format!("/api/permits/{}/revoke", body["id"].as_str().unwrap());
    let anonymous = app
        .http
        .post(format!("{}{path}", app.operators()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let revoked = app
        .http
        .post(format!("{}{path}", app.operators()))
        .bearer_auth(REVOCACION)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
}

#[tokio::test]
async fn a_dead_database_gives_503_with_retry_after_not_a_hang() {
    let clock = ManualClock::at_santiago("2026-11-30T10:00");
    let ctx = testkit::dead_context(&clock, Rules::default()).await;
    let app = TestApp::serve(ctx, clock, |ctx| {
        issuer::router(ctx, Options::new(testkit::signing_key(), testkit::privacy_key()))
    })
    .await;
    let response = app.create(&&citizen(9, "compras")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let page = app.submit(&citizen(9, "compras")).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("Servicio no disponible"));
}

async fn create_with_key(app: &TestApp, key: &str, form: &PermitForm) -> reqwest::Response {
    let url = format!("{}/api/create", app.url);
    app.http
        .post(url)
        .header("idempotency-key", key)
        .json(form)
        .send()
        .await
        .unwrap()
}

#[db_test]
async fn a_retried_create_with_its_idempotency_key_replays_the_permit_and_uses_no_second_quota() {
    let app = app().await;
    let form = citizen(20, "compras");
    let first: Value = create_with_key(&app, "retry-20", &form).await.json().await.unwrap();
    let again = create_with_key(&app, "retry-20", &form).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        app.create(&citizen(20, "banco")).await.status(),
        StatusCode::CREATED,
        "one quota use left"
    );
    assert_eq!(
        app.create(&citizen(20, "banco")).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[db_test]
async fn an_idempotency_key_reused_for_another_request_is_refused() {
    let app = app().await;
    assert_eq!(
        create_with_key(&app, "key-21", &citizen(21, "compras")).await.status(),
        StatusCode::CREATED
    );
    let other = create_with_key(&app, "key-21", &citizen(21, "banco")).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json::<Value>().await.unwrap()["code"], "idempotency_key_reused");
    let bad = create_with_key(&app, &"k".repeat(300), &citizen(21, "compras")).await;
    assert_eq!(
        bad.json::<Value>().await.unwrap()["errors"]["Idempotency-Key"],
        "debe tener de 1 a 255 caracteres ASCII visibles"
    );
}

#[db_test]
async fn one_clients_idempotency_key_never_meets_another_clients() {
    let app = app().await;
    // Two citizens' clients that happen to pick the same key each get their own permit.
    let first: Value = create_with_key(&app, "shared-key", &citizen(40, "compras"))
        .await
        .json()
        .await
        .unwrap();
    let second = create_with_key(&app, "shared-key", &citizen(41, "compras")).await;
    assert_eq!(second.status(), StatusCode::CREATED, "not a key reused by someone else");
    let second: Value = second.json().await.unwrap();
    assert_ne!(second["id"], first["id"]);
    assert_ne!(second["rut"], first["rut"]);

    // The form's keys are a namespace of their own: a client that sends a form page's
    // token as its key, with the same data, gets a new permit, not the form's.
    let token = &form_token(&app).await;
    let form = citizen(42, "compras");
    let submitted = app
        .http
        .post(format!("{}/nuevo", app.url))
        .form(&with_token(&form, token))
        .send()
        .await
        .unwrap();
    let location = submitted.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let replayed: Value = create_with_key(&app, &format!("form:{token}"), &form)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(format!("/permiso/{}", replayed["id"].as_str().unwrap()), location);
}

#[db_test]
async fn concurrent_requests_with_one_idempotency_key_issue_one_permit() {
    let app = app().await;
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let (http, url, form) = (
                app.http.clone(),
                format!("{}/api/create", app.url),
                citizen(22, "compras"),
            );
            tokio::spawn(async move {
                http.post(url)
                    .header("idempotency-key", "race-22")
                    .json(&form)
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for request in requests {
        let response = request.await.unwrap();
        match response.status() {
            StatusCode::CREATED => {
                ids.insert(
                    response.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            StatusCode::CONFLICT => assert_eq!(response.headers()[header::RETRY_AFTER], "1"),
            other => panic!("{other}"),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let listed: Value = app.export("limit=100").await.json().await.unwrap();
    let same_rut = listed["permits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["rut"] == testkit::rut(22).to_string());
    assert_eq!(same_rut.count(), 1);
}

#[db_test]
async fn a_refused_request_frees_its_idempotency_key() {
    let app = app().await;
    app.clock.set(testkit::santiago("2026-11-30T21:00"));
    let refused = create_with_key(&app, "late-23", &citizen(23, "compras")).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.clock.set(testkit::santiago("2026-12-01T09:00"));
    assert_eq!(
        create_with_key(&app, "late-23", &citizen(23, "compras")).await.status(),
        StatusCode::CREATED
    );
}

/// The one-time token of a form page just fetched.
async fn form_token(app: &TestApp) -> String {
    let html = app.get("/nuevo").await.text().await.unwrap();
    let after = html.split(r#"name="token" value=""#).nth(1).expect("a token field");
    after.split('"').next().unwrap().to_owned()
}

/// The form's fields as a browser posts them, with the page's one-time token.
fn with_token<'a>(form: &'a PermitForm, token: &'a str) -> [(&'a str, &'a str); 6] {
    [
        ("name", &form.name),
        ("rut", &form.rut),
        ("motive", &form.motive),
        ("address", &form.address),
        ("comuna", &form.comuna),
        ("token", token),
    ]
}

#[db_test]
async fn submitting_the_same_form_page_twice_issues_one_permit() {
    let app = app().await;
    let token = form_token(&app).await;
    assert_eq!(token.len(), 22);
    let form = citizen(24, "compras");
    let mut locations = Vec::new();
    for _ in 0..2 {
        let response = app
            .http
            .post(format!("{}/nuevo", app.url))
            .form(&with_token(&form, &token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        locations.push(response.headers()[header::LOCATION].to_str().unwrap().to_owned());
    }
    assert_eq!(locations[0], locations[1]);
    assert_eq!(
        app.create(&citizen(24, "banco")).await.status(),
        StatusCode::CREATED,
        "one quota use left"
    );

    let edited = PermitForm {
        address: "Otra calle 1".into(),
        ..form
    };
    let resent = app
        .http
        .post(format!("{}/nuevo", app.url))
        .form(&with_token(&edited, &token))
        .send()
        .await
        .unwrap();
    assert_eq!(resent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resent.text().await.unwrap();
    assert!(page.contains("Este formulario ya se había enviado con otros datos"));
    assert!(!page.contains(&token), "the page comes back with a fresh token");
}

#[db_test]
async fn a_form_posted_from_another_site_is_refused() {
    let app = app().await;
    let form = citizen(25, "compras");
    let fields = with_token(&form, "");
    let forged = app
        .http
        .post(format!("{}/nuevo", app.url))
        .header(header::ORIGIN, "http://evil.test")
        .form(&fields);
    let response = forged.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("se envió desde otro sitio"));
    let post = || app.http.post(format!("{}/nuevo", app.url));
    let cross_site = post()
        .header("sec-fetch-site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let ours = post()
        .header(header::ORIGIN, "http://formulario.test")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), StatusCode::SEE_OTHER);
    // A browser's own word that the request is ours outweighs an opaque origin.
    let from_chromium = post()
        .header("sec-fetch-site", "same-origin")
        .header(header::ORIGIN, "null")
        .form(&fields);
    assert_eq!(from_chromium.send().await.unwrap().status(), StatusCode::SEE_OTHER);
    // Without it, `Origin: null` (a sandboxed frame, a cross-site redirect) proves nothing.
    let opaque = post()
        .header(header::ORIGIN, "null")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(opaque.status(), StatusCode::FORBIDDEN);
}

#[db_test]
async fn bad_input_gets_a_clear_4xx_never_a_5xx() {
    let app = app().await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        app.http
            .post(format!("{}/api/create", app.url))
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let not_utf8 = post("application/json", b"{\"name\": \"\xff\xfe\"}".to_vec())
        .await
        .unwrap();
    assert_eq!(not_utf8.status(), StatusCode::BAD_REQUEST);
    assert_eq!(not_utf8.json::<Value>().await.unwrap()["code"], "malformed_body");
    let form_not_utf8 = app
        .http
        .post(format!("{}/nuevo", app.url))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let form_not_utf8 = form_not_utf8.body(b"name=%FF%FE&rut=1".to_vec()).send().await.unwrap();
    // Form decoding replaces invalid UTF-8 with U+FFFD, which no name may contain.
    assert_eq!(form_not_utf8.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(form_not_utf8.text().await.unwrap().contains(r#"id="name-error""#));

    let control = PermitForm {
        name: "Ana\u{7}Rojas".into(),
        comuna: "Ñuñoa\u{0}".into(),
        ..citizen(26, "compras")
    };
    let body: Value = app.create(&control).await.json().await.unwrap();
    assert_eq!(body["errors"]["name"], "contiene caracteres no permitidos");
    assert_eq!(body["errors"]["comuna"], "contiene caracteres no permitidos");
    let long = PermitForm {
        address: "x".repeat(10_000),
        ..citizen(26, "compras")
    };
    let body: Value = app.create(&long).await.json().await.unwrap();
    assert_eq!(body["errors"]["address"], "debe tener como máximo 120 caracteres");

    let missing: Value = app.create(&json!({})).await.json().await.unwrap();
    for field in ["name", "rut", "motive", "address", "comuna"] {
        assert_eq!(missing["errors"][field], "este campo es obligatorio", "{field}");
    }

    let mut unknown = serde_json::to_value(citizen(26, "compras")).unwrap();
    unknown["motivo"] = json!("extra fields are ignored");
    assert_eq!(app.create(&unknown).await.status(), StatusCode::CREATED);
}

#[db_test]
async fn markup_in_stored_fields_is_shown_escaped_on_the_permit_page() {
    let app = app().await;
    let form = PermitForm {
        address: "<script>alert(1)</script>".into(),
        ..citizen(27, "compras")
    };
    let created: Value = app.create(&form).await.json().await.unwrap();
    let html = app.get(holder_path(&created)).await.text().await.unwrap();
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!html.contains("<script>"));
}

#[db_test]
async fn creates_over_a_clients_rate_limit_get_429_with_retry_after() {
    let clock = ManualClock::at_santiago("2026-11-30T10:00");
    let ctx = context(&clock, Rules::default()).await;
    // The test client connects from 127.0.0.1, standing in for the ingress controller.
    let limiter = ClientLimiter::new(
        Rate::parse("2/60").unwrap(),
        TrustedProxies::parse("TRUSTED_PROXIES", "127.0.0.1").unwrap(),
        ClientKey::default(),
    );
    let options = Options {
        create_limit: Some(Arc::new(limiter)),
        ..Options::new(testkit::signing_key(), testkit::privacy_key())
    };
    let app = TestApp::serve(ctx, clock, |ctx| issuer::router(ctx, options)).await;
    let create_from = |client: &'static str, n: u32| {
        app.http
            .post(format!("{}/api/create", app.url))
            .header("x-forwarded-for", format!("198.51.100.7, {client}"))
            .json(&citizen(n, "compras"))
            .send()
    };
    assert_eq!(
        create_from("203.0.113.1", 30).await.unwrap().status(),
        StatusCode::CREATED
    );
    let form = app
        .http
        .post(format!("{}/nuevo", app.url))
        .header("x-forwarded-for", "203.0.113.1")
        .form(&with_token(&citizen(31, "compras"), ""));
    assert_eq!(form.send().await.unwrap().status(), StatusCode::SEE_OTHER);

    let refused = create_from("203.0.113.1", 32).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "Retry-After: {wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Espera {wait} segundos"))
    );

    let page = app
        .http
        .post(format!("{}/nuevo", app.url))
        .header("x-forwarded-for", "203.0.113.1")
        .form(&with_token(&citizen(33, "compras"), ""))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("demasiadas solicitudes desde tu conexión")
    );
    // Another client behind the same proxy is counted apart.
    assert_eq!(
        create_from("203.0.113.2", 34).await.unwrap().status(),
        StatusCode::CREATED
    );
    // Rotating addresses inside one IPv6 /64 is one client.
    let mut statuses = Vec::new();
    for (n, address) in ["2001:db8:1:2::a", "2001:db8:1:2:ffff::1", "2001:db8:1:2::3:4"]
        .into_iter()
        .enumerate()
    {
        statuses.push(create_from(address, 35 + n as u32).await.unwrap().status());
    }
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS]
    );
}

#[db_test]
async fn the_openapi_document_describes_what_the_api_answers() {
    let app = app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let create = &doc["paths"]["/api/create"]["post"];
    for status in ["201", "400", "409", "413", "415", "422", "429", "503"] {
        assert!(
            create["responses"][status].is_object(),
            "POST /api/create documents {status}"
        );
    }
    assert_eq!(create["parameters"][0]["name"], "Idempotency-Key");
    let request = &doc["components"]["schemas"]["CreatePermit"];
    assert_eq!(
        request["required"],
        json!(["name", "rut", "motive", "address", "comuna"])
    );
    let motives: Vec<&str> = Motive::individual().map(Motive::code).collect();
    assert_eq!(request["properties"]["motive"]["enum"], json!(motives));
    let operator_doc = document(&app, app.operators()).await;
    assert!(operator_doc["paths"]["/api/all"]["get"]["security"].is_array());

    let mut created: Value = app.create(&citizen(40, "compras")).await.json().await.unwrap();
    // A create answers the permit and, beside it, the schedule's freshness.
    let schedule = created.as_object_mut().unwrap().remove("schedule").unwrap();
    testkit::assert_fits_schema(&doc, "Freshness", &schedule);
    testkit::assert_fits_schema(&doc, "PermitView", &created);
    testkit::assert_fits_schema(&doc, "MotiveView", &created["motive"]);
    let page: Value = app.export("").await.json().await.unwrap();
    testkit::assert_fits_schema(&operator_doc, "PermitPage", &page);
    let refused: Value = app.create(&json!({"rut": 5})).await.json().await.unwrap();
    testkit::assert_fits_schema(&doc, "ErrorBody", &refused);
}

#[db_test]
async fn the_issuer_erases_permits_past_retention_in_the_background() {
    let app = app().await;
    let created: Value = app.create(&citizen(5, "compras")).await.json().await.unwrap();
    let id = PermitId::parse(created["id"].as_str().unwrap()).unwrap();
    let retention = issuer::Retention {
        keep: jiff::SignedDuration::from_hours(24 * 30),
        every: std::time::Duration::from_millis(50),
    };
    // 29 days after it expired it stays; past 30 it goes.
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 29));
    retention.sweep_in_background(app.ctx.store.clone(), Arc::new(app.clock.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.ctx.store.find(&id).await.unwrap().is_some());
    app.clock.advance(jiff::SignedDuration::from_hours(48));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.ctx.store.find(&id).await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "not erased within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let counted = app.ctx.store.statistics().await.unwrap();
    assert_eq!(counted.len(), 1);
    assert_eq!((counted[0].2.as_str(), counted[0].3), ("compras", 1));
    // Its holder's link now finds nothing.
    assert_eq!(app.get(holder_path(&created)).await.status(), StatusCode::NOT_FOUND);
}

#[db_test]
async fn an_operators_legal_hold_keeps_a_permit_past_retention_until_lifted() {
    let app = app().await;
    let created: Value = app.create(&citizen(6, "compras")).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let hold = |token: Option<&str>, body: Option<Value>| {
        let mut request = app.http.post(format!("{}/api/permits/{id}/hold", app.operators()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    assert_eq!(
        hold(None, Some(json!({"reason": "RIT 1-2026"})))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        hold(Some(REVOCACION), None).await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for reason in [json!(5), json!(""), json!("ab"), json!("RIT\n1")] {
        let refused = hold(Some(REVOCACION), Some(json!({ "reason": reason }))).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(refused.json::<Value>().await.unwrap()["errors"]["reason"].is_string());
    }
    let held: Value = hold(Some(REVOCACION), Some(json!({"reason": "RIT 1234-2026"})))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (held["held"].as_bool(), held["reason"].as_str()),
        (Some(true), Some("RIT 1234-2026"))
    );
    let unknown = app
        .http
        .post(format!("{}/api/permits/{}/hold", app.operators(), PermitId::generate()))
        .bearer_auth(REVOCACION)
        .json(&json!({"reason": "RIT 1234-2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Long past retention, the held permit stays; lifted, it goes at the next sweep.
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 60));
    let retention = issuer::Retention::default();
    assert_eq!(retention.sweep(&app.ctx.store, &app.clock).await.unwrap(), 0);
    let lifted = app
        .http
        .delete(format!("{}/api/permits/{id}/hold", app.operators()))
        .bearer_auth(REVOCACION)
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), StatusCode::OK);
    assert_eq!(retention.sweep(&app.ctx.store, &app.clock).await.unwrap(), 1);
    assert_eq!(app.ctx.store.find(&PermitId::parse(&id).unwrap()).await.unwrap(), None);
}

#[db_test]
async fn a_counter_issues_for_a_citizen_in_their_name_with_its_own_role_and_the_citizens_quota() {
    let app = app().await;
    let assisted = |token: &str, body: Value| {
        app.http
            .post(format!("{}/api/assisted", app.operators()))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let mut body = serde_json::to_value(citizen(9, "compras")).unwrap();
    body["operator"] = json!("Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa");
    let issued = assisted(ASSISTANCE, body.clone()).await.unwrap();
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["issued_by"], "Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa");
    assert_eq!(issued["name"], body["name"]);
    assert!(
        issued["permit_url"].as_str().unwrap().contains("?clave="),
        "the citizen's own link"
    );
    let stored = app
        .ctx
        .store
        .find(&PermitId::parse(issued["id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.issued_by.unwrap().as_str(),
        "Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa"
    );
    // Each role its own: the operator's token issues nothing, the counter's lists nothing.
    assert_eq!(
        assisted(TOKEN, body.clone()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let listing = app
        .http
        .get(format!("{}/api/all", app.operators()))
        .bearer_auth(ASSISTANCE)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::UNAUTHORIZED);
    // The operator must be named; the citizen's week is theirs at the counter too.
    let mut nameless = body.clone();
    nameless["operator"] = json!("");
    let refused = assisted(ASSISTANCE, nameless).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.json::<Value>().await.unwrap()["errors"]["operator"].is_string());
    assert_eq!(
        assisted(ASSISTANCE, body.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        assisted(ASSISTANCE, body).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
