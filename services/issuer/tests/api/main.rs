//! The issuer's integration tests, in one test binary (each binary links the whole tree).

/// The operator token the tests configure.
const TOKEN: &str = "an-operator-token-of-forty-characters-x";

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
mod crash;
mod http;
mod operators;
mod process;
mod runtime;
mod sign_in;
