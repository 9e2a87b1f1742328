//! The operators' console on the operators' port: operators sign in at a real OpenID
//! Connect provider (identity/provider.mjs, whose operators carry a `roles` claim), and
//! each page does only what their roles allow, recorded in the audit log.

use issuer::{Console, OperatorAuth, Options};
use permit_domain::{PermitId, Rules};
use permit_store::{AuditAction, AuditEntry, AuditFilter};
use permit_web::config::Env;
use reqwest::{StatusCode, header};
use serde_json::Value;
use testkit::{IdentityProvider, TestApp, citizen, db_test};

use crate::sign_in::Cookies;

const ISSUER_HOME: &str = "http://formulario.test";
const CONSOLE_HOME: &str = "http://operadores.test";
/// identity/operators.json: one operator per role set, by their login and name.
const CARLA: (&str, &str) = ("11111111-1", "Carla Vidal Rojas");
const PEDRO: (&str, &str) = ("22222222-2", "Pedro Lagos Fuentes");
const INES: (&str, &str) = ("33333333-3", "Inés Araya");

/// Who the audit log names for an operator: their name and a pseudonym of the provider's
/// subject (the test provider's is the RUN), never the subject itself.
fn audit_name((login, name): (&str, &str)) -> String {
    let pseudonym = &testkit::privacy_key().digest("operator", login)[..12];
    format!("{name} ({pseudonym})")
}
const REASON: &str = "Oficio 1234-2026, Fiscalía Local de Ñuñoa";

struct ConsoleApp {
    app: TestApp,
    provider: IdentityProvider,
}

async fn console() -> ConsoleApp {
    let provider = IdentityProvider::start_for(&[ISSUER_HOME, CONSOLE_HOME]);
    let settings = provider.operator_settings(CONSOLE_HOME);
    let auth = OperatorAuth::read(&Env(|name: &str| {
        settings.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    }))
    .expect("valid operator sign-in settings");
    let privacy = testkit::privacy_key();
    let options = Options {
        console: Console::new(auth, &privacy),
        ..Options::new(testkit::signing_key(), privacy)
    };
    let app = TestApp::start(Rules::default(), |ctx| issuer::router(ctx, options)).await;
    ConsoleApp { app, provider }
}

impl ConsoleApp {
    async fn get(&self, path: &str, cookies: &Cookies) -> reqwest::Response {
        self.app
            .http
            .get(format!("{}{path}", self.app.operators()))
            .header(header::COOKIE, cookies.header())
            .send()
            .await
            .unwrap()
    }

    /// A form posted from the console's own page (`site` is the browser's `Sec-Fetch-Site`).
    async fn post(&self, path: &str, cookies: &Cookies, form: &[(&str, &str)], site: &str) -> reqwest::Response {
        self.app
            .http
            .post(format!("{}{path}", self.app.operators()))
            .header(header::COOKIE, cookies.header())
            .header("sec-fetch-site", site)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signed in at the provider as `login`: the console's answer to the way back.
    async fn sign_in(&self, login: &str) -> (reqwest::Response, Cookies) {
        let mut cookies = Cookies::default();
        let begun = self.get("/ingresar", &cookies).await;
        assert_eq!(begun.status(), StatusCode::SEE_OTHER);
        cookies.take(&begun);
        let authorize = begun.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let back = self.provider.sign_in(&authorize, login).await;
        let path = back.strip_prefix(CONSOLE_HOME).expect("back to the console");
        let answer = self.get(path, &cookies).await;
        cookies.take(&answer);
        (answer, cookies)
    }

    async fn signed_in(&self, login: &str) -> Cookies {
        let (answer, cookies) = self.sign_in(login).await;
        // A page of ours that moves on to the console: a redirect from the provider's
        // site would not carry the SameSite=Strict session.
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(cookies.0.contains_key("operador"), "{:?}", cookies.0.keys());
        let page = text(answer).await;
        assert!(page.contains(r#"content="0; url=/""#), "{page}");
        cookies
    }

    /// A permit for citizen `n`, asked for on the citizens' port.
    async fn issued(&self, n: u32) -> (String, String) {
        let created: Value = self
            .app
            .http
            .post(format!("{}/api/create", self.app.url))
            .json(&citizen(n, "compras"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            created["id"].as_str().unwrap().to_owned(),
            created["rut"].as_str().unwrap().to_owned(),
        )
    }

    /// Whether the permit `id` is revoked in the store.
    async fn revoked(&self, id: &str) -> bool {
        let id = PermitId::parse(id).unwrap();
        let permit = self.app.ctx.store.find(&id).await.unwrap().expect("a stored permit");
        permit.revoked_at.is_some()
    }

    async fn audit(&self, action: AuditAction) -> Vec<AuditEntry> {
        let filter = AuditFilter {
            action: Some(action),
            ..AuditFilter::default()
        };
        self.app.ctx.store.audit_trail(&filter, 100).await.unwrap().entries
    }
}

async fn text(answer: reqwest::Response) -> String {
    answer.text().await.unwrap()
}

#[db_test]
async fn consulta_searches_by_rut_only_with_a_reason_opens_the_record_and_cannot_revoke() {
    let console = console().await;
    let (id, rut) = console.issued(1).await;
    // Not signed in: the home page offers sign-in, and every page sends there.
    let home = text(console.get("/", &Cookies::default()).await).await;
    assert!(
        home.contains(r#"href="/ingresar""#) && !home.contains("/buscar"),
        "{home}"
    );
    let anonymous = console
        .post("/buscar", &Cookies::default(), &[("rut", &rut)], "same-origin")
        .await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()[header::LOCATION], "/");

    let carla = console.signed_in(CARLA.0).await;
    let home = text(console.get("/", &carla).await).await;
    assert!(
        home.contains("Carla Vidal Rojas") && home.contains(r#"action="/buscar""#),
        "{home}"
    );
    assert!(!home.contains(r#"href="/operadores""#));
    assert_eq!(console.audit(AuditAction::SignIn).await[0].operator, audit_name(CARLA));

    // No reason: nothing searched, the field named on the form.
    let unreasoned = console
        .post("/buscar", &carla, &[("rut", &rut), ("reason", "")], "same-origin")
        .await;
    assert_eq!(unreasoned.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = text(unreasoned).await;
    assert!(
        form.contains(r#"id="buscar-reason-error""#) && !form.contains(&id),
        "{form}"
    );
    assert!(console.audit(AuditAction::SearchByRut).await.is_empty());
    // From another site's page: refused, whatever the session.
    let forged = console
        .post("/buscar", &carla, &[("rut", &rut), ("reason", REASON)], "cross-site")
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let found = console
        .post(
            "/buscar",
            &carla,
            &[("rut", &rut), ("reason", REASON), ("case", "RIT 99-2026")],
            "same-origin",
        )
        .await;
    assert_eq!(found.status(), StatusCode::OK);
    let found = text(found).await;
    let link = format!("/permiso?permit={id}&#38;reason=");
    assert!(found.contains(&link), "{found}");
    let searched = console.audit(AuditAction::SearchByRut).await;
    assert_eq!(
        (searched[0].operator.clone(), searched[0].reason.as_deref()),
        (audit_name(CARLA), Some(REASON))
    );
    assert!(
        !searched[0].detail.as_deref().unwrap().contains(&rut),
        "the RUT as a digest"
    );
    // By the other key: the comuna (the test citizens' Ñuñoa) and the day.
    let today = console
        .app
        .ctx
        .now()
        .in_tz("America/Santiago")
        .unwrap()
        .date()
        .to_string();
    let by_comuna = [
        ("comuna", "ñuñoa"),
        ("from", &today),
        ("to", &today),
        ("reason", REASON),
    ];
    let found = console.post("/buscar-comuna", &carla, &by_comuna, "same-origin").await;
    assert_eq!(found.status(), StatusCode::OK);
    assert!(text(found).await.contains(&link));
    let too_long = [
        ("comuna", "Ñuñoa"),
        ("from", "2026-01-01"),
        ("to", "2026-06-01"),
        ("reason", REASON),
    ];
    let refused = console.post("/buscar-comuna", &carla, &too_long, "same-origin").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused).await.contains(r#"id="comuna-to-error""#));
    let searched = console.audit(AuditAction::SearchByComuna).await;
    assert_eq!(searched.len(), 1, "only the search answered");
    assert_eq!(
        searched[0].detail.as_deref(),
        Some(format!("comuna 13120 Ñuñoa, {today} to {today}, page of 20").as_str())
    );

    // The record, with its trail (this look included), and no way to revoke.
    let query = format!("/permiso?permit={id}&reason=Oficio+1234-2026&case=RIT+99-2026");
    let record = text(console.get(&query, &carla).await).await;
    assert!(record.contains(&rut) && record.contains("read_permit"), "{record}");
    assert!(
        record.contains(&audit_name(CARLA)) && !record.contains(CARLA.0),
        "{record}"
    );
    assert!(!record.contains(r#"action="/revocar""#));
    let refused = console
        .post(
            "/revocar",
            &carla,
            &[("permit", &id), ("reason", REASON)],
            "same-origin",
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!console.revoked(&id).await);
    assert_eq!(console.get("/operadores", &carla).await.status(), StatusCode::FORBIDDEN);
    // Opening a record needs a reason too.
    let unreasoned = console.get(&format!("/permiso?permit={id}"), &carla).await;
    assert_eq!(unreasoned.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(unreasoned).await.contains(r#"id="abrir-reason-error""#));
}

#[db_test]
async fn revocacion_revokes_with_a_reason_and_the_trail_shows_who_and_why() {
    let console = console().await;
    let (id, rut) = console.issued(2).await;
    let pedro = console.signed_in(PEDRO.0).await;
    // Revocación opens by code (not by RUT) and may revoke.
    assert_eq!(
        console
            .post("/buscar", &pedro, &[("rut", &rut), ("reason", REASON)], "same-origin")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let record = text(
        console
            .get(&format!("/permiso?permit={id}&reason=Parte+55"), &pedro)
            .await,
    )
    .await;
    assert!(record.contains(r#"action="/revocar""#), "{record}");
    let unreasoned = console
        .post("/revocar", &pedro, &[("permit", &id), ("reason", "")], "same-origin")
        .await;
    assert_eq!(unreasoned.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = text(unreasoned).await;
    assert!(
        again.contains(r#"id="revocar-reason-error""#) && again.contains(&id),
        "{again}"
    );
    assert!(!console.revoked(&id).await);

    let revoked = console
        .post(
            "/revocar",
            &pedro,
            &[("permit", &id), ("reason", "Permiso obtenido con datos falsos")],
            "same-origin",
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let back = revoked.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(console.revoked(&id).await);
    let entry = &console.audit(AuditAction::RevokePermit).await[0];
    assert_eq!(
        (entry.operator.clone(), entry.role.as_str(), entry.reason.as_deref()),
        (
            audit_name(PEDRO),
            "revocacion",
            Some("Permiso obtenido con datos falsos")
        )
    );
    let record = text(console.get(&back, &pedro).await).await;
    assert!(
        record.contains("REVOCADO")
            && record.contains("revoke_permit")
            && record.contains("Permiso obtenido con datos falsos"),
        "{record}"
    );
    assert!(!record.contains(r#"action="/revocar""#), "revoked once");
}

#[db_test]
async fn a_person_without_an_operator_role_is_refused_and_recorded_and_a_citizen_session_opens_nothing() {
    let console = console().await;
    let (answer, cookies) = console.sign_in("12345678-5").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(!cookies.0.contains_key("operador"));
    let refused = console.audit(AuditAction::RefusedSignIn).await;
    assert_eq!(
        refused[0].operator,
        audit_name(("12345678-5", "María José González Pérez"))
    );
    assert!(console.audit(AuditAction::SignIn).await.is_empty());
    // Every page of the console sends anyone without a session to sign in.
    for path in ["/permiso?permit=q6V7pTz0S3mXcW1bN8eYkA&reason=Oficio+1", "/operadores"] {
        let answer = console.get(path, &cookies).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
    }
    for path in [
        "/buscar",
        "/buscar-comuna",
        "/revocar",
        "/operadores",
        "/operadores/revocar",
    ] {
        let answer = console.post(path, &cookies, &[], "same-origin").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
    }
    // The console is on the operators' port only: on the citizens', none of its pages.
    for path in [
        "/buscar",
        "/buscar-comuna",
        "/permiso",
        "/revocar",
        "/operadores",
        "/operadores/revocar",
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let url = format!("{}{path}", console.app.url);
            let answer = console.app.http.request(method.clone(), url).send().await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::NOT_FOUND,
                "{method} {path} on the citizens' port"
            );
        }
    }
}

#[db_test]
async fn administracion_makes_a_token_shown_once_and_revokes_it() {
    let console = console().await;
    let ines = console.signed_in(INES.0).await;
    let home = text(console.get("/", &ines).await).await;
    assert!(home.contains(r#"href="/operadores""#) && home.contains(r#"action="/buscar""#));
    let bad = console
        .post(
            "/operadores",
            &ines,
            &[("name", "Cabo Soto"), ("role", "jefe")],
            "same-origin",
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(bad).await.contains(r#"id="token-role-error""#));
    let made = console
        .post(
            "/operadores",
            &ines,
            &[("name", "Cabo 1° M. Pérez"), ("role", "consulta"), ("days", "7")],
            "same-origin",
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let page = text(made).await;
    let token = page
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .find(|word| word.starts_with("pmt_"))
        .expect("the token, shown once")
        .to_owned();
    let search = |token: String| {
        let url = format!(
            "{}/api/permits?rut=12.345.678-5&reason=Oficio+1",
            console.app.operators()
        );
        let http = console.app.http.clone();
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(search(token.clone()).await, StatusCode::OK);
    let listed = text(console.get("/operadores", &ines).await).await;
    assert!(!listed.contains(&token[16..]), "never the secret again");
    let entry = &console.audit(AuditAction::CreateOperatorToken).await[0];
    assert_eq!(entry.operator, audit_name(INES));
    let id = &token[4..15];
    let revoked = console
        .post("/operadores/revocar", &ines, &[("id", id)], "same-origin")
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(search(token).await, StatusCode::UNAUTHORIZED);
}

#[db_test]
async fn administracion_previews_a_phase_change_then_publishes_it() {
    let console = console().await;
    let ines = console.signed_in(INES.0).await;
    let home = text(console.get("/", &ines).await).await;
    assert!(home.contains(r#"href="/fases""#), "{home}");
    let carla = console.signed_in(CARLA.0).await;
    assert_eq!(console.get("/fases", &carla).await.status(), StatusCode::FORBIDDEN);

    // The test clock is Monday 30 November 2026, 10:00; Thursday is ahead.
    let change = [
        ("comuna", "nunoa"),
        ("phase", "cuarentena"),
        ("from", "2026-12-03"),
        ("at", ""),
    ];
    let preview = console.post("/fases", &ines, &change, "same-origin").await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = text(preview).await;
    assert!(
        preview.contains(
            "Desde el <strong>jueves 3 de diciembre de 2026 a las 05:00</strong>, <strong>Ñuñoa</strong> \
             (Metropolitana de Santiago) pasa de estar fuera del plan a <strong>1 · Cuarentena</strong>."
        ),
        "{preview}"
    );
    assert!(
        preview.contains(
            "<dt>Desde entonces</dt><dd>se pide permiso todos los días; 2 por semana, de ellos 1 en fin de semana</dd>"
        ),
        "{preview}"
    );
    assert!(
        console.audit(AuditAction::PublishPhase).await.is_empty(),
        "a preview publishes nothing"
    );
    assert!(!text(console.app.get("/fases").await).await.contains("Ñuñoa"));

    let confirmed: Vec<(&str, &str)> = change.iter().copied().chain([("confirm", "1")]).collect();
    let published = console.post("/fases", &ines, &confirmed, "same-origin").await;
    assert_eq!(published.status(), StatusCode::CREATED);
    assert!(text(published).await.contains("Cambio publicado"));
    let entries = console.audit(AuditAction::PublishPhase).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].operator, audit_name(INES));
    let public = text(console.app.get("/fases").await).await;
    assert!(
        public.contains("Desde el jueves 3 de diciembre de 2026 a las 05:00: 1 · Cuarentena"),
        "{public}"
    );

    // The same instant again: the preview says it replaces the change published.
    let again = [
        ("comuna", "13120"),
        ("phase", "transicion"),
        ("from", "2026-12-03"),
        ("at", "05:00"),
    ];
    let replacing = text(console.post("/fases", &ines, &again, "same-origin").await).await;
    assert!(
        replacing.contains("Reemplaza el cambio a Cuarentena ya publicado"),
        "{replacing}"
    );

    let past = [("comuna", "Ñuñoa"), ("phase", "transicion"), ("from", "2026-11-29")];
    let refused = console.post("/fases", &ines, &past, "same-origin").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused).await.contains(r#"id="fase-from-error""#));
    let forged = console.post("/fases", &ines, &confirmed, "cross-site").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}
