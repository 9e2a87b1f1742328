//! The pages a police officer or a holder opens.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use permit_domain::PermitId;
use permit_web::{Context, PageError};
use serde::Deserialize;

use crate::lookup::{Check, check};
use crate::signed::{self, Signed};

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
    let trimmed = typed.trim().trim_end_matches('/');
    // A pasted signed link goes to its page; only base64url is taken into the redirect.
    if let Some((_, token)) = trimmed.rsplit_once("/v/").filter(|(_, token)| {
        (1..=512).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Ok(Redirect::to(&format!("/v/{token}")).into_response());
    }
    let code = trimmed.rsplit('/').next().unwrap_or_default();
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
    /// Set when the permit was read from its signature rather than the database.
    signed: Option<Freshness>,
}

struct Found {
    name: String,
    rut: String,
    motive: &'static str,
    valid_from: String,
    expires_at: String,
    /// `Fase 1 · Cuarentena · reglas 2021-04-05`.
    issued_under: Option<String>,
}

/// How fresh the revocation list a signed permit was checked against is.
struct Freshness {
    revocations_as_of: Option<String>,
}

impl StatusPage {
    fn of(ctx: &Context, check: Check, signed: Option<Freshness>) -> StatusPage {
        StatusPage {
            status_code: check.status.code(),
            status_label: check.status.label(),
            found: Some(Found {
                name: check.name,
                rut: check.rut,
                motive: check.motive.label(),
                valid_from: ctx.local(check.valid_from),
                expires_at: ctx.local(check.expires_at),
                issued_under: check.issued_under.as_ref().map(permit_domain::IssuedUnder::label),
            }),
            signed,
        }
    }

    fn without_permit(status_code: &'static str, status_label: &'static str) -> StatusPage {
        StatusPage {
            status_code,
            status_label,
            found: None,
            signed: None,
        }
    }
}

pub async fn status(State(ctx): State<Context>, Path(id): Path<String>) -> Result<Response, PageError> {
    match check(&ctx, &id).await.map_err(|error| PageError(error.into()))? {
        Some(check) => Ok(Html(StatusPage::of(&ctx, check, None).render()?).into_response()),
        None => {
            let page = StatusPage::without_permit("not_found", "NO ENCONTRADO");
            Ok((StatusCode::NOT_FOUND, Html(page.render()?)).into_response())
        }
    }
}

/// A signed permit's page: verified here, with no database read.
pub async fn signed_status(
    State(ctx): State<Context>,
    State(signed): State<Arc<Signed>>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    match signed::check(&ctx, &signed, &token) {
        Ok(checked) => {
            let freshness = Freshness {
                revocations_as_of: checked.revocations_as_of.map(|at| ctx.local(at)),
            };
            let page = StatusPage::of(&ctx, checked.check, Some(freshness));
            Ok(Html(page.render()?).into_response())
        }
        Err(_) => {
            let page = StatusPage::without_permit("invalid", "NO VÁLIDO");
            Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response())
        }
    }
}
