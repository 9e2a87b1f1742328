//! The pages a police officer or a holder opens.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use permit_domain::PermitId;
use permit_web::{AppError, Context, PageError};
use serde::Deserialize;

use crate::lookup::check;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    code: String,
    error: Option<&'static str>,
    issuer_home: String,
}

pub async fn home(State(ctx): State<Context>) -> Result<Html<String>, PageError> {
    let page = Home {
        code: String::new(),
        error: None,
        issuer_home: ctx.links.issuer_home().to_owned(),
    };
    Ok(Html(page.render()?))
}

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    codigo: String,
}

/// The home page's form: accepts the code or the whole validation link, pasted.
pub async fn by_code(
    State(ctx): State<Context>,
    query: Result<Query<CodeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let typed = query.map(|Query(q)| q.codigo).unwrap_or_default();
    let code = typed
        .trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if PermitId::parse(code).is_ok() {
        return Ok(Redirect::to(&format!("/validar/{code}")).into_response());
    }
    let error = if code.is_empty() {
        "Escribe o pega el código del permiso."
    } else {
        "Ese no es un código de permiso: tiene 22 letras, números, guiones o guiones bajos."
    };
    let page = Home {
        code: typed.trim().to_owned(),
        error: Some(error),
        issuer_home: ctx.links.issuer_home().to_owned(),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    status_code: &'static str,
    status_label: &'static str,
    found: Option<Found>,
}

struct Found {
    name: String,
    rut: String,
    motive: &'static str,
    valid_from: String,
    expires_at: String,
}

pub async fn status(State(ctx): State<Context>, Path(id): Path<String>) -> Result<Response, PageError> {
    let page = match check(&ctx, &id).await {
        Ok(check) => StatusPage {
            status_code: check.status.code(),
            status_label: check.status.label(),
            found: Some(Found {
                name: check.name,
                rut: check.rut,
                motive: check.motive.label(),
                valid_from: ctx.local(check.valid_from),
                expires_at: ctx.local(check.expires_at),
            }),
        },
        Err(AppError::NotFound) => {
            let page = StatusPage {
                status_code: "not_found",
                status_label: "NO ENCONTRADO",
                found: None,
            };
            return Ok((StatusCode::NOT_FOUND, Html(page.render()?)).into_response());
        }
        Err(error) => return Err(PageError(error)),
    };
    Ok(Html(page.render()?).into_response())
}
