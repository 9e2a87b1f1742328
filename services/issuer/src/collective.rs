//! Collective permits: an employer uploads its workers' spreadsheet (`/colectivo`) and gets
//! one signed permit per worker, valid 7 days, counted against no personal quota. Each row
//! is all or nothing (one permit under one idempotency key), and the upload is idempotent:
//! a row's key is the firm, the worker and the ISO week, so the same file again that week
//! issues nothing new, and the next week's upload renews them.

use askama::Template;
use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::PrivateCookieJar;
use base64::Engine;
use permit_domain::collective::{self, Row, Worker};
use permit_domain::{BusinessName, Employer, FieldError, FieldErrors, Permit, Rut};
use permit_web::{AppError, PageError};
use tokio::task::JoinSet;

use crate::IssuerState;
use crate::issue::{IssueError, once, store};
use crate::pages::{FieldView, same_origin, sign_in_page};
use crate::sign_in;

/// An upload's body: the largest spreadsheet and the form's other fields, with room.
pub const UPLOAD_BYTES: usize = collective::MAX_BYTES + 16 * 1024;
/// Rows issued at once: enough to answer 1,000 workers well within the request timeout,
/// few enough to leave the database to everyone else.
const AT_ONCE: usize = 8;
/// The firm shown where nobody signs in (`CITIZEN_AUTH=none`), as the form's example.
const DEMO_EMPLOYER: (&str, &str) = ("76.543.210-3", "Empresa de Demostración SpA");

/// What a row came to, as the page and the downloadable report show it.
pub struct Outcome {
    line: usize,
    rut: String,
    name: String,
    /// `emitido`, `ya emitido` or `rechazado`.
    result: &'static str,
    permit: Option<String>,
    /// The worker's own page of the permit, with its QR code: the employer hands it over.
    link: Option<String>,
    detail: String,
}

#[derive(Template)]
#[template(path = "collective.html")]
struct CollectivePage {
    demo: bool,
    fields: Vec<FieldView>,
    outcomes: Vec<Outcome>,
    /// How many rows were issued now, were issued before, and were refused.
    counts: (usize, usize, usize),
    /// The report as a `data:` URL, to download without a second request.
    report: Option<String>,
}

impl CollectivePage {
    fn new(state: &IssuerState, employer: [&str; 2], errors: &FieldErrors) -> CollectivePage {
        let field = |name, label, hint, value: &str| FieldView {
            name,
            label,
            hint,
            autocomplete: "off",
            value: value.to_owned(),
            error: errors.get(name).map(ToString::to_string),
        };
        CollectivePage {
            demo: state.options.sign_in.demo(),
            fields: vec![
                field(
                    "empresa_rut",
                    "RUT de la empresa",
                    "Por ejemplo: 76.543.210-3",
                    employer[0],
                ),
                field(
                    "empresa_nombre",
                    "Razón social",
                    "Como la registra el SII.",
                    employer[1],
                ),
                field(
                    "nomina",
                    "Nómina de trabajadores (CSV)",
                    "Columnas rut,nombre,comuna,direccion: la comuna y la dirección del lugar de trabajo. Hasta 1.000 trabajadores y 256 KiB.",
                    "",
                ),
            ],
            outcomes: Vec::new(),
            counts: (0, 0, 0),
            report: None,
        }
    }
}

/// `GET /colectivo`: the upload form (where sign-in is on, for a signed-in representative).
pub async fn form(State(state): State<IssuerState>, jar: PrivateCookieJar) -> Result<Response, PageError> {
    if sign_in::citizen(&state, &jar).is_err() {
        return Ok(sign_in_page(None)?.into_response());
    }
    let employer = if state.options.sign_in.demo() {
        [DEMO_EMPLOYER.0, DEMO_EMPLOYER.1]
    } else {
        ["", ""]
    };
    let page = CollectivePage::new(&state, employer, &FieldErrors::new());
    Ok(Html(page.render()?).into_response())
}

/// What the form sent: the firm's two fields and the file's bytes.
#[derive(Default)]
struct Sent {
    rut: String,
    name: String,
    file: Option<Vec<u8>>,
}

async fn read(mut multipart: Multipart) -> Result<Sent, MultipartError> {
    let mut sent = Sent::default();
    while let Some(field) = multipart.next_field().await? {
        match field.name() {
            Some("empresa_rut") => sent.rut = field.text().await?,
            Some("empresa_nombre") => sent.name = field.text().await?,
            Some("nomina") => sent.file = Some(field.bytes().await?.to_vec()),
            _ => {}
        }
    }
    Ok(sent)
}

/// `POST /colectivo` (`multipart/form-data`): every row of the file issued or refused, and
/// the report.
pub async fn upload(
    State(state): State<IssuerState>,
    headers: HeaderMap,
    jar: PrivateCookieJar,
    request: Request,
) -> Result<Response, PageError> {
    same_origin(&headers, state.ctx.links.issuer_home())?;
    if let Err(error) = sign_in::citizen(&state, &jar) {
        let alert = "Tu sesión terminó o no has ingresado. Ingresa de nuevo; luego vuelve a subir la nómina.";
        let page = sign_in_page(Some(alert.into()))?;
        return Ok(AppError::from(error).decorate(page.into_response()));
    }
    let multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|rejection| AppError::Malformed(rejection.body_text()))?;
    let sent = read(multipart).await.map_err(|error| match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        _ => AppError::Malformed(error.body_text()),
    })?;
    let mut errors = FieldErrors::new();
    let rut = Rut::parse(&sent.rut).map_err(|e| errors.insert("empresa_rut", e)).ok();
    let name = BusinessName::parse(&sent.name)
        .map_err(|e| errors.insert("empresa_nombre", e))
        .ok();
    let rows = match sent.file.as_deref() {
        None | Some([]) => {
            errors.insert("nomina", FieldError::Required);
            None
        }
        Some(bytes) => collective::parse_table(bytes)
            .map_err(|problem| errors.insert("nomina", problem.into()))
            .ok(),
    };
    let (Some(rut), Some(name), Some(rows)) = (rut, name, rows) else {
        let page = CollectivePage::new(&state, [&sent.rut, &sent.name], &errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let employer = Employer { rut, name };
    let outcomes = issue_all(&state, &employer, rows).await;
    let counts = (
        outcomes.iter().filter(|o| o.result == "emitido").count(),
        outcomes.iter().filter(|o| o.result == "ya emitido").count(),
        outcomes.iter().filter(|o| o.result == "rechazado").count(),
    );
    let report = format!(
        "data:text/csv;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(report(&outcomes))
    );
    let mut page = CollectivePage::new(&state, [&sent.rut, &sent.name], &FieldErrors::new());
    page.counts = counts;
    page.outcomes = outcomes;
    page.report = Some(report);
    Ok(Html(page.render()?).into_response())
}

/// Every row's outcome, in the file's order, `AT_ONCE` rows at a time.
async fn issue_all(state: &IssuerState, employer: &Employer, rows: Vec<Row>) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut batch = JoinSet::new();
        for (at, row) in rows.by_ref().take(AT_ONCE).enumerate() {
            let (state, employer) = (state.clone(), employer.clone());
            batch.spawn(async move { (at, outcome(&state, &employer, row).await) });
        }
        let mut done: Vec<(usize, Outcome)> = batch.join_all().await;
        done.sort_by_key(|(at, _)| *at);
        outcomes.extend(done.into_iter().map(|(_, outcome)| outcome));
    }
    outcomes
}

async fn outcome(state: &IssuerState, employer: &Employer, row: Row) -> Outcome {
    let worker = match row {
        Row::Refused(refused) => {
            return Outcome {
                line: refused.line,
                rut: refused.rut,
                name: String::new(),
                result: "rechazado",
                permit: None,
                link: None,
                detail: refused.problem,
            };
        }
        Row::Worker(worker) => worker,
    };
    let (line, rut, name) = (worker.line, worker.rut.to_string(), worker.name.as_str().to_owned());
    let (result, permit, detail) = match issue_for(state, employer, worker).await {
        Ok((permit, false)) => ("emitido", Some(permit), String::new()),
        Ok((permit, true)) => ("ya emitido", Some(permit), "ya se había emitido esta semana".to_owned()),
        Err(IssueError::Refused(refusal)) => ("rechazado", None, refusal.to_string()),
        Err(IssueError::KeyReused) => (
            "rechazado",
            None,
            "ya tiene un permiso colectivo de esta empresa esta semana, con otros datos".to_owned(),
        ),
        Err(IssueError::InProgress) => (
            "rechazado",
            None,
            "se está emitiendo; vuelve a subir el archivo".to_owned(),
        ),
        Err(error) => {
            tracing::warn!(%error, "a collective permit's row failed");
            (
                "rechazado",
                None,
                "no se pudo emitir ahora; vuelve a subir el archivo".to_owned(),
            )
        }
    };
    Outcome {
        line,
        rut,
        name,
        result,
        link: permit.as_ref().map(|p| state.holder_url(&p.id)),
        permit: permit.map(|p| p.id.to_string()),
        detail,
    }
}

/// One worker's permit, at most once per firm, worker and week; and whether it was issued
/// before.
async fn issue_for(state: &IssuerState, employer: &Employer, worker: Worker) -> Result<(Permit, bool), IssueError> {
    let ctx = &state.ctx;
    let privacy = &state.options.privacy;
    let now = ctx.now();
    let week = ctx.rules.week(now).label;
    let key = format!(
        "collective:{}:{}:{week}",
        privacy.pseudonym(&employer.rut),
        privacy.pseudonym(&worker.rut)
    );
    let fields = [
        employer.name.as_str(),
        worker.name.as_str(),
        worker.comuna.as_str(),
        worker.address.as_str(),
    ]
    .join("\u{1f}");
    let fingerprint = privacy.digest("collective", &fields);
    once(state, &key, &fingerprint, |id| async move {
        let terms = state
            .phases
            .with(|schedule| {
                state
                    .policies
                    .decide_collective(&ctx.rules, schedule, worker.comuna, now)
            })
            .inspect_err(|refusal| ctx.metrics.permit_refused(refusal.code()))
            .map_err(IssueError::Refused)?;
        let request = worker.request();
        let window = ctx
            .rules
            .window(request.motive, &terms, now)
            .map_err(IssueError::Refused)?;
        let permit = Permit {
            issued_under: Some(terms.issued_under),
            employer: Some(employer.clone()),
            ..Permit::issue_as(id, request, window)
        };
        store(state, permit, None).await
    })
    .await
}

/// The report: one line per row, as the page shows them.
fn report(outcomes: &[Outcome]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = ["linea", "rut", "nombre", "resultado", "permiso", "enlace", "detalle"];
    let mut rows = vec![header.map(str::to_owned)];
    rows.extend(outcomes.iter().map(|o| {
        [
            o.line.to_string(),
            o.rut.clone(),
            o.name.clone(),
            o.result.to_owned(),
            o.permit.clone().unwrap_or_default(),
            o.link.clone().unwrap_or_default(),
            o.detail.clone(),
        ]
    }));
    for row in rows {
        // Writing to memory cannot fail.
        let _ = writer.write_record(&row);
    }
    writer.into_inner().unwrap_or_default()
}
