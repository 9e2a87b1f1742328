//! The issuer's integration tests, in one test binary (each binary links the whole tree).

/// The bootstrap `ADMIN_TOKEN` the tests configure: it manages operator tokens only.
const TOKEN: &str = "an-operator-token-of-forty-characters-x";

/// Named operators every test app of `http::app` knows, one per role that reads, changes
/// or exports permits, stored as an administrator would have made them.
const CONSULTA: &str = "pmt_consultaTst_ccccccccccccccccccccccccccccccccccccccccccc";
const REVOCACION: &str = "pmt_revocaciTst_rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr";
const ADMINISTRACION: &str = "pmt_administTst_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The name the audit log shows for `CONSULTA`, `REVOCACION` or `ADMINISTRACION`.
fn operator_name(role: permit_domain::Role) -> String {
    format!("Operadora de prueba, {}", role.code())
}

/// Stores `CONSULTA`, `REVOCACION` and `ADMINISTRACION` in `app`'s database, valid a year.
async fn with_named_operators(app: &testkit::TestApp) {
    use permit_domain::{Operator, OperatorAccount, OperatorToken, Role};
    for (token, role) in [
        (CONSULTA, Role::Consulta),
        (REVOCACION, Role::Revocacion),
        (ADMINISTRACION, Role::Administracion),
    ] {
        let token = OperatorToken::parse(token).expect("a well-formed operator token");
        let account = OperatorAccount {
            id: token.id().to_owned(),
            digest: token.digest(),
            name: Operator::parse(&operator_name(role)).expect("a valid name"),
            role,
            created_at: app.ctx.now(),
            expires_at: app.ctx.now() + jiff::SignedDuration::from_hours(24 * 365),
            created_by: "tests".into(),
            revoked_at: None,
        };
        app.ctx
            .store
            .add_operator_token(&account)
            .await
            .expect("the token is stored");
    }
}

/// An operator's request: `method` on `path` with `token`, and a JSON body if given.
async fn send(
    app: &testkit::TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.operators()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// A permit issued through the API for test citizen `n`; its id.
async fn issued(app: &testkit::TestApp, n: u32) -> String {
    let answer = app
        .http
        .post(format!("{}/api/create", app.url))
        .json(&testkit::citizen(n, "compras"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::CREATED);
    answer.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

mod audit;
mod collective;
mod console;
mod crash;
mod http;
mod operators;
mod phases;
mod process;
mod runtime;
mod sign_in;
