//! `smoke`: one citizen and one police check through the entrance, with Host headers, each
//! step timed; the first step that fails is named.

use std::time::Instant;

use permit_domain::Rut;
use reqwest::header::{CONTENT_TYPE, HOST};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Where to send the requests and which hosts to name.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `IP` or `IP:PORT`.
    pub address: String,
    pub issuer_host: String,
    pub validator_host: String,
    /// The operators' entrance (`operadores.<domain>`), and whether it is served over TLS.
    pub operator_host: String,
    pub operator_tls: bool,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub ms: f64,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Smoke {
    pub steps: Vec<Step>,
    /// The permit created, when that step passed.
    pub permit: Option<String>,
}

impl Smoke {
    pub fn failed(&self) -> Option<&Step> {
        self.steps.iter().find(|s| !s.ok)
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
    permit_url: String,
    validation_url: String,
    status_label: String,
}

/// A citizen no earlier run has used: a RUT drawn at random from 50 million bodies.
fn fresh_rut() -> Rut {
    let draw = getrandom::u64().unwrap_or_else(|_| u64::from(std::process::id()));
    let body = 5_000_000 + u32::try_from(draw % 50_000_000).unwrap_or(0);
    Rut::from_body(body).unwrap_or_else(|| unreachable!("bodies from 5 to 55 million are valid RUTs"))
}

fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
}

struct Run<'a> {
    http: &'a Client,
    entry: &'a Entry,
    steps: Vec<Step>,
}

impl Run<'_> {
    /// Sends one request to `host`, and records it as `name` with what `check` says of
    /// the answer: `Ok(detail)` or `Err(why)`.
    async fn step<T>(
        &mut self,
        name: &'static str,
        request: reqwest::RequestBuilder,
        host: &str,
        check: impl FnOnce(StatusCode, &str) -> Result<(String, T), String>,
    ) -> Option<T> {
        let started = Instant::now();
        let answer = match request.header(HOST, host).send().await {
            Ok(response) => {
                let status = response.status();
                match response.text().await {
                    Ok(body) => check(status, &body),
                    Err(e) => Err(format!("reading the answer: {e}")),
                }
            }
            Err(e) => Err(format!("no answer: {}", crate::error::source_chain(&e))),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let (ok, detail, value) = match answer {
            Ok((detail, value)) => (true, detail, Some(value)),
            Err(why) => (false, why, None),
        };
        self.steps.push(Step { name, ms, ok, detail });
        value
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.entry.address)
    }
}

fn page(expected: &'static str) -> impl FnOnce(StatusCode, &str) -> Result<(String, ()), String> {
    move |status, body| match status {
        StatusCode::OK if body.contains(expected) => Ok((format!("200, {} bytes", body.len()), ())),
        StatusCode::OK => Err(format!("200 but the page lacks {expected:?}")),
        other => Err(format!(
            "answered {other}: {}",
            body.chars().take(200).collect::<String>()
        )),
    }
}

/// The citizen's and the police's paths through `entry`.
pub async fn smoke(http: &Client, entry: &Entry) -> Smoke {
    let mut run = Run {
        http,
        entry,
        steps: Vec::new(),
    };
    let issuer = entry.issuer_host.clone();
    let validator = entry.validator_host.clone();
    let mut permit = None;
    let flow = async {
        run.step("landing page", run.http.get(run.url("/")), &issuer, page("/nuevo"))
            .await?;
        run.step("form page", run.http.get(run.url("/nuevo")), &issuer, page("<form"))
            .await?;
        let rut = fresh_rut();
        let body = json!({
            "name": "Prueba Humo", "rut": rut.to_string(), "motive": "compras",
            "address": "Av. Matta 100", "comuna": "Santiago",
        });
        let create = run
            .http
            .post(run.url("/api/create"))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let created: Created = run
            .step("create a permit", create, &issuer, |status, body| match status {
                StatusCode::CREATED => serde_json::from_str::<Created>(body)
                    .map(|c| (format!("201, permit {} for RUT {rut}, {}", c.id, c.status_label), c))
                    .map_err(|e| format!("201 but not a permit: {e}")),
                StatusCode::UNPROCESSABLE_ENTITY if body.contains("curfew") => Err(format!(
                    "refused by the curfew (deploy with PERMIT_RULES=off to test at any hour): {body}"
                )),
                other => Err(format!(
                    "answered {other}: {}",
                    body.chars().take(300).collect::<String>()
                )),
            })
            .await?;
        permit = Some(created.id.clone());
        let qr_link = format!("href=\"{}\"", created.validation_url);
        let permit_path = path_of(&created.permit_url).to_owned();
        run.step(
            "permit page with its QR",
            run.http.get(run.url(&permit_path)),
            &issuer,
            move |status, body| match status {
                StatusCode::OK if body.contains(&qr_link) && body.contains("<svg") => {
                    Ok(("200, QR code and link to the validation page".to_owned(), ()))
                }
                StatusCode::OK => Err(format!("200 but no QR code or no {qr_link}")),
                other => Err(format!("answered {other}")),
            },
        )
        .await?;
        let label = created.status_label.clone();
        let wanted = format!("<p class=\"label\">{label}</p>");
        let validation_path = path_of(&created.validation_url).to_owned();
        run.step(
            "validation page",
            run.http.get(run.url(&validation_path)),
            &validator,
            move |status, body| match status {
                StatusCode::OK if body.contains(&wanted) => Ok((format!("200, {label}"), ())),
                StatusCode::OK => Err(format!("200 but the page does not say {label}")),
                other => Err(format!("answered {other}")),
            },
        )
        .await?;
        let label = created.status_label.clone();
        run.step(
            "validation JSON",
            run.http.get(run.url(&format!("/api/{}", created.id))),
            &validator,
            move |status, body| {
                let said = serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["status_label"].as_str().map(str::to_owned));
                match (status, said) {
                    (StatusCode::OK, Some(said)) if said == label => Ok((format!("200, status_label {said}"), ())),
                    (StatusCode::OK, said) => Err(format!("200 but status_label is {said:?}, the issuer said {label}")),
                    (other, _) => Err(format!("answered {other}")),
                }
            },
        )
        .await
    };
    flow.await;
    Smoke {
        steps: run.steps,
        permit,
    }
}

/// Each step with its latency, as an operator reads it.
pub fn render(smoke: &Smoke) -> String {
    let mut out = String::new();
    for step in &smoke.steps {
        out.push_str(&format!(
            "{} {:<26} {:>8.1} ms  {}\n",
            if step.ok { "ok  " } else { "FAIL" },
            step.name,
            step.ms,
            step.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ruts_are_valid_and_differ() {
        let (a, b) = (fresh_rut(), fresh_rut());
        assert_ne!(a, b);
        assert_eq!(Rut::parse(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn paths_are_taken_from_absolute_urls() {
        assert_eq!(path_of("http://validar.permisos.test/validar/abc"), "/validar/abc");
        assert_eq!(path_of("/permiso/abc"), "/permiso/abc");
    }
}
