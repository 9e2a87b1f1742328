//! Citizen sign-in against a real OpenID Connect provider (identity/provider.mjs, panva's
//! oidc-provider answering as ClaveÚnica does), through the issuer's HTTP routes.

use std::collections::BTreeMap;

use issuer::{CitizenAuth, Options, SignIn};
use jiff::{SignedDuration, Timestamp};
use permit_domain::Rules;
use permit_web::config::Env;
use reqwest::{StatusCode, header};
use serde_json::Value;
use testkit::{IdentityProvider, TestApp, citizen, db_test};

const ISSUER_HOME: &str = "http://formulario.test";

fn options_for(settings: &[(&'static str, String)]) -> Options {
    let auth = CitizenAuth::read(&Env(|name: &str| {
        settings.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    }))
    .expect("valid sign-in settings");
    let privacy = testkit::privacy_key();
    Options {
        sign_in: SignIn::new(auth, &privacy),
        ..Options::new(testkit::signing_key(), privacy)
    }
}

async fn app_for(provider: &IdentityProvider) -> TestApp {
    let options = options_for(&provider.settings());
    TestApp::start(Rules::default(), |ctx| issuer::router(ctx, options)).await
}

/// The issuer's cookies as a browser keeps them: set, replaced, removed.
#[derive(Clone, Default)]
pub(crate) struct Cookies(pub(crate) BTreeMap<String, String>);

impl Cookies {
    pub(crate) fn take(&mut self, answer: &reqwest::Response) {
        for set in answer.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

async fn get(app: &TestApp, path: &str, cookies: &Cookies) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.url))
        .header(header::COOKIE, cookies.header())
        .send()
        .await
        .unwrap()
}

/// `/ingresar`: the authorization request, with the pending sign-in's cookie.
async fn begin(app: &TestApp) -> (String, Cookies) {
    let mut cookies = Cookies::default();
    let answer = get(app, "/ingresar", &cookies).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    cookies.take(&answer);
    assert!(cookies.0.contains_key("ingreso"));
    let location = answer.headers()[header::LOCATION].to_str().unwrap().to_owned();
    (location, cookies)
}

/// The callback's path and query, as the browser would request it of the issuer.
fn callback_path(url: &str) -> &str {
    url.strip_prefix(ISSUER_HOME)
        .expect("back to the issuer's public address")
}

/// Signed in as `login`: the session's cookies.
async fn signed_in(app: &TestApp, provider: &IdentityProvider, login: &str) -> Cookies {
    let (authorize, mut cookies) = begin(app).await;
    let back = provider.sign_in(&authorize, login).await;
    let answer = get(app, callback_path(&back), &cookies).await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "{}",
        answer.text().await.unwrap()
    );
    assert_eq!(answer.headers()[header::LOCATION], "/nuevo");
    cookies.take(&answer);
    assert!(cookies.0.contains_key("sesion") && !cookies.0.contains_key("ingreso"));
    cookies
}

async fn submit(app: &TestApp, cookies: &Cookies, form: &permit_domain::PermitForm) -> reqwest::Response {
    app.http
        .post(format!("{}/nuevo", app.url))
        .header(header::COOKIE, cookies.header())
        .form(&[
            ("name", form.name.as_str()),
            ("rut", &form.rut),
            ("motive", &form.motive),
            ("address", &form.address),
            ("comuna", &form.comuna),
        ])
        .send()
        .await
        .unwrap()
}

#[db_test]
async fn a_signed_in_citizen_gets_permits_in_their_own_name_only() {
    let provider = IdentityProvider::start(ISSUER_HOME);
    let app = app_for(&provider).await;
    // Not signed in: the form asks to sign in, and neither the form nor the API issue.
    let (status, page) = app.page("/nuevo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"href="/ingresar""#) && !page.contains(r#"name="motive""#),
        "{page}"
    );
    assert!(!page.contains("Modo demostración"));
    let stranger = citizen(7, "compras");
    let refused = submit(&app, &Cookies::default(), &stranger).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("Ingresar con ClaveÚnica"));
    let refused = app
        .http
        .post(format!("{}/api/create", app.url))
        .json(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "sign_in_required");

    // Signed in as 12.345.678-5: the form names them and has no name or RUT to type.
    let maria = signed_in(&app, &provider, "12345678-5").await;
    let form = get(&app, "/nuevo", &maria).await.text().await.unwrap();
    assert!(
        form.contains("María José González Pérez") && form.contains("12.345.678-5"),
        "{form}"
    );
    assert!(!form.contains(r#"name="rut""#) && !form.contains(r#"name="name""#));

    // Whatever name and RUT are posted, the permit is the signed-in citizen's.
    let issued = submit(&app, &maria, &stranger).await;
    assert_eq!(issued.status(), StatusCode::SEE_OTHER);
    let holder = issued.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let page = get(&app, &holder, &maria).await.text().await.unwrap();
    assert!(
        page.contains("María José González Pérez") && page.contains("12.345.678-5"),
        "{page}"
    );
    assert!(!page.contains(&stranger.name) && !page.contains(&stranger.rut));
    let created: Value = app
        .http
        .post(format!("{}/api/create", app.url))
        .header(header::COOKIE, maria.header())
        .json(&stranger)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["rut"], "12.345.678-5", "{created}");

    // Her two permits of the week are used; a second citizen's are not, and their
    // session does not open her permit: without its holder's link it is the public view.
    assert_eq!(
        submit(&app, &maria, &stranger).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let juan = signed_in(&app, &provider, "9876543-3").await;
    assert_eq!(submit(&app, &juan, &stranger).await.status(), StatusCode::SEE_OTHER);
    let public = holder.split('?').next().unwrap();
    let seen = get(&app, public, &juan).await.text().await.unwrap();
    assert!(!seen.contains("María José") && !seen.contains("12.345.678-5") && seen.contains("M. J. G. P."));

    // Signing out ends the session.
    let out = app
        .http
        .post(format!("{}/salir", app.url))
        .header(header::COOKIE, juan.header())
        .send()
        .await
        .unwrap();
    let mut juan = juan;
    juan.take(&out);
    assert!(!juan.0.contains_key("sesion"));
    assert_eq!(submit(&app, &juan, &stranger).await.status(), StatusCode::UNAUTHORIZED);
}

#[db_test]
async fn a_citizen_sees_downloads_and_erases_their_own_data_and_no_one_elses() {
    let provider = IdentityProvider::start(ISSUER_HOME);
    let app = app_for(&provider).await;
    let form = citizen(7, "compras");
    let maria = signed_in(&app, &provider, "12345678-5").await;
    assert_eq!(submit(&app, &maria, &form).await.status(), StatusCode::SEE_OTHER);
    let juan = signed_in(&app, &provider, "9876543-3").await;
    assert_eq!(submit(&app, &juan, &form).await.status(), StatusCode::SEE_OTHER);

    let page = get(&app, "/mis-permisos", &maria).await.text().await.unwrap();
    assert!(
        page.contains("María José González Pérez") && page.contains("?clave="),
        "{page}"
    );
    assert_eq!(page.matches("?clave=").count(), 1, "her one permit, not his");
    let download = get(&app, "/mis-permisos/datos.json", &maria).await;
    assert!(
        download.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let data: Value = download.json().await.unwrap();
    assert_eq!(data["holder"]["rut"], "12345678-5");
    assert_eq!(data["permits"].as_array().unwrap().len(), 1);
    assert_eq!(data["permits"][0]["address"], form.address.as_str());

    // A permit not yet expired is not erased on request: a checkpoint must still read it.
    let erase = |cookies: Cookies| {
        let app = &app;
        async move {
            let answer = app
                .http
                .post(format!("{}/mis-permisos/borrar", app.url))
                .header(header::COOKIE, cookies.header())
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::SEE_OTHER);
            answer.headers()[header::LOCATION].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(erase(maria.clone()).await, "/mis-permisos?borrados=0");
    // A day later it has expired: erased on her request, his kept.
    app.clock.advance(SignedDuration::from_hours(24));
    let maria = signed_in(&app, &provider, "12345678-5").await;
    assert_eq!(erase(maria.clone()).await, "/mis-permisos?borrados=1");
    let page = get(&app, "/mis-permisos?borrados=1", &maria)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Se borró 1 permiso vencido") && page.contains("No hay permisos guardados"),
        "{page}"
    );
    let his = app
        .ctx
        .store
        .permits_held_by(&permit_domain::Rut::parse("9876543-3").unwrap())
        .await
        .unwrap();
    assert_eq!(his.len(), 1);
    assert_eq!(
        app.ctx.store.statistics().await.unwrap().len(),
        1,
        "counted, anonymously"
    );

    // Without a session: the sign-in page.
    let answer = get(&app, "/mis-permisos", &Cookies::default()).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
}

#[db_test]
async fn a_session_lasts_half_an_hour() {
    let provider = IdentityProvider::start(ISSUER_HOME);
    let app = app_for(&provider).await;
    let cookies = signed_in(&app, &provider, "15432109-8").await;
    app.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(
        submit(&app, &cookies, &citizen(8, "compras")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[db_test]
async fn a_callback_this_browser_did_not_begin_is_refused_and_a_code_works_once() {
    let provider = IdentityProvider::start(ISSUER_HOME);
    let app = app_for(&provider).await;
    let (authorize, cookies) = begin(&app).await;
    let back = provider.sign_in(&authorize, "12345678-5").await;
    let callback = callback_path(&back).to_owned();
    let refused = |answer: reqwest::Response| async move {
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let page = answer.text().await.unwrap();
        assert!(page.contains("No se pudo completar el ingreso"), "{page}");
    };
    // No pending sign-in (another browser, or one whose cookie expired).
    refused(get(&app, &callback, &Cookies::default()).await).await;
    // Another sign-in's pending cookie: its state is not this one.
    let (_, other) = begin(&app).await;
    refused(get(&app, &callback, &other).await).await;
    // The state altered.
    let altered = callback.replace("state=", "state=x");
    refused(get(&app, &altered, &cookies).await).await;
    // The genuine callback signs in; replayed with the same cookie, the provider refuses
    // the code it already exchanged.
    assert_eq!(get(&app, &callback, &cookies).await.status(), StatusCode::SEE_OTHER);
    refused(get(&app, &callback, &cookies).await).await;
    // The citizen cancelled at the provider.
    let (_, pending) = begin(&app).await;
    refused(get(&app, "/ingresar/vuelta?error=access_denied", &pending).await).await;
}

#[db_test]
async fn an_id_token_past_its_expiry_signs_nobody_in() {
    let provider = IdentityProvider::start(ISSUER_HOME);
    let app = app_for(&provider).await;
    // The provider's ID tokens last an hour; the issuer's clock is two hours ahead.
    app.clock.set(Timestamp::now() + SignedDuration::from_hours(2));
    let (authorize, cookies) = begin(&app).await;
    let back = provider.sign_in(&authorize, "12345678-5").await;
    let answer = get(&app, callback_path(&back), &cookies).await;
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(
        answer
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("sesion="))
    );
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("No se pudo verificar la identidad")
    );
}

#[db_test]
async fn a_provider_that_does_not_answer_gives_a_clear_page_never_a_500() {
    // Before the sign-in begins: nothing listens at the provider's address.
    let gone = IdentityProvider::start(ISSUER_HOME);
    let settings = gone.settings();
    drop(gone);
    let options = options_for(&settings);
    let app = TestApp::start(Rules::default(), |ctx| issuer::router(ctx, options)).await;
    let answer = app.get("/ingresar").await;
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers()[header::RETRY_AFTER], "30");
    assert!(answer.text().await.unwrap().contains("ClaveÚnica no responde"));

    // Between the authorization and the callback: the code cannot be exchanged.
    let provider = IdentityProvider::start(ISSUER_HOME);
    let app = app_for(&provider).await;
    let (authorize, cookies) = begin(&app).await;
    let back = provider.sign_in(&authorize, "12345678-5").await;
    drop(provider);
    let answer = get(&app, callback_path(&back), &cookies).await;
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.text().await.unwrap().contains("ClaveÚnica no responde"));
}

#[db_test]
async fn without_sign_in_every_page_says_it_is_a_demonstration() {
    let app = TestApp::start(Rules::default(), |ctx| {
        issuer::router(ctx, Options::new(testkit::signing_key(), testkit::privacy_key()))
    })
    .await;
    for path in ["/", "/nuevo"] {
        let (_, page) = app.page(path).await;
        assert!(
            page.contains("Modo demostración: sin verificación de identidad"),
            "{path}"
        );
    }
    // And the sign-in routes do not exist, nor the rights pages: nothing proves whose data.
    for path in ["/ingresar", "/mis-permisos", "/mis-permisos/datos.json"] {
        assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
