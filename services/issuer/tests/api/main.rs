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
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

mod audit;
mod crash;
mod http;
mod operators;
mod process;
mod runtime;
mod sign_in;
