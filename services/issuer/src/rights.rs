//! A signed-in citizen's rights over their own data (Ley 21.719): to see it (`/mis-permisos`),
//! to take it away (`/mis-permisos/datos.json`) and to have it erased
//! (`POST /mis-permisos/borrar`: their expired permits, as retention would later). Only
//! with sign-in: without it nothing proves whose data it is.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::PrivateCookieJar;
use permit_domain::Permit;
use permit_web::{AppError, PageError};
use serde::{Deserialize, Serialize};

use crate::IssuerState;
use crate::pages::{same_origin, sign_in_page};
use crate::sign_in::{self, Identity, SignInError};

/// Why there is no citizen to show their data to.
enum NoIdentity {
    /// Demonstration mode: these pages do not exist.
    NoSignIn,
    /// Sign-in is on, and this browser has no valid session.
    NoSession(SignInError),
}

impl IntoResponse for NoIdentity {
    fn into_response(self) -> Response {
        match self {
            NoIdentity::NoSignIn => PageError(AppError::NotFound).into_response(),
            NoIdentity::NoSession(error) => match sign_in_page(None) {
                Ok(page) => AppError::from(error).decorate(page.into_response()),
                Err(error) => error.into_response(),
            },
        }
    }
}

/// The signed-in citizen, or why there is none.
fn identity(state: &IssuerState, jar: &PrivateCookieJar) -> Result<Identity, NoIdentity> {
    match sign_in::citizen(state, jar) {
        Ok(Some(identity)) => Ok(identity),
        Ok(None) => Err(NoIdentity::NoSignIn),
        Err(error) => Err(NoIdentity::NoSession(error)),
    }
}

struct PermitRow {
    motive: &'static str,
    valid_from: String,
    expires_at: String,
    status: &'static str,
    link: String,
}

#[derive(Template)]
#[template(path = "my_permits.html")]
struct MyPermits {
    demo: bool,
    name: String,
    rut: String,
    permits: Vec<PermitRow>,
    retention_days: i64,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct Erased {
    borrados: Option<u64>,
}

/// `GET /mis-permisos`: every permit in the citizen's name, each with its holder link.
pub async fn list(State(state): State<IssuerState>, jar: PrivateCookieJar, Query(erased): Query<Erased>) -> Response {
    let identity = match identity(&state, &jar) {
        Ok(identity) => identity,
        Err(refused) => return refused.into_response(),
    };
    let page = async {
        let permits = state.ctx.store.permits_held_by(&identity.rut).await?;
        let now = state.ctx.now();
        let rows = permits
            .iter()
            .map(|p| PermitRow {
                motive: p.motive.label(),
                valid_from: state.ctx.local(p.valid_from),
                expires_at: state.ctx.local(p.expires_at),
                status: p.status(now).label(),
                link: state.holder_url(&p.id),
            })
            .collect();
        let notice = erased.borrados.map(|n| match n {
            0 => "No había permisos vencidos que borrar.".to_owned(),
            1 => "Se borró 1 permiso vencido.".to_owned(),
            n => format!("Se borraron {n} permisos vencidos."),
        });
        let page = MyPermits {
            demo: false,
            name: identity.name.as_str().to_owned(),
            rut: identity.rut.to_string(),
            permits: rows,
            retention_days: state.options.retention.keep.as_hours() / 24,
            notice,
        };
        Ok::<_, PageError>(Html(page.render()?))
    };
    page.await.into_response()
}

/// What the download holds: the citizen, and each permit as stored.
#[derive(Serialize)]
struct OwnData {
    holder: Holder,
    permits: Vec<OwnPermit>,
    retention_days: i64,
}

#[derive(Serialize)]
struct Holder {
    name: String,
    rut: String,
}

#[derive(Serialize)]
struct OwnPermit {
    id: String,
    motive: &'static str,
    address: String,
    comuna: String,
    requested_at: String,
    valid_from: String,
    expires_at: String,
    revoked_at: Option<String>,
    status: &'static str,
}

impl OwnPermit {
    fn of(permit: &Permit, now: jiff::Timestamp) -> OwnPermit {
        OwnPermit {
            id: permit.id.to_string(),
            motive: permit.motive.code(),
            address: permit.address.as_str().to_owned(),
            comuna: permit.comuna.as_str().to_owned(),
            requested_at: permit.requested_at.to_string(),
            valid_from: permit.valid_from.to_string(),
            expires_at: permit.expires_at.to_string(),
            revoked_at: permit.revoked_at.map(|at| at.to_string()),
            status: permit.status(now).code(),
        }
    }
}

/// `GET /mis-permisos/datos.json`: the same as a file to keep.
pub async fn download(State(state): State<IssuerState>, jar: PrivateCookieJar) -> Response {
    let identity = match identity(&state, &jar) {
        Ok(identity) => identity,
        Err(refused) => return refused.into_response(),
    };
    let permits = match state.ctx.store.permits_held_by(&identity.rut).await {
        Ok(permits) => permits,
        Err(error) => return AppError::from(error).into_response(),
    };
    let now = state.ctx.now();
    let data = OwnData {
        holder: Holder {
            name: identity.name.as_str().to_owned(),
            rut: identity.rut.canonical(),
        },
        permits: permits.iter().map(|p| OwnPermit::of(p, now)).collect(),
        retention_days: state.options.retention.keep.as_hours() / 24,
    };
    (
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"mis-permisos.json\"",
        )],
        Json(data),
    )
        .into_response()
}

/// `POST /mis-permisos/borrar`: the citizen's expired permits erased now (legal holds kept).
pub async fn erase(State(state): State<IssuerState>, headers: HeaderMap, jar: PrivateCookieJar) -> Response {
    if let Err(cross_site) = same_origin(&headers, state.ctx.links.issuer_home()) {
        return PageError::from(cross_site).into_response();
    }
    let identity = match identity(&state, &jar) {
        Ok(identity) => identity,
        Err(refused) => return refused.into_response(),
    };
    match state
        .ctx
        .store
        .erase_expired(state.ctx.now(), permit_store::MOST_LISTED as u32, Some(&identity.rut))
        .await
    {
        Ok(erased) => {
            tracing::info!(erased, "a citizen erased their expired permits");
            Redirect::to(&format!("/mis-permisos?borrados={erased}")).into_response()
        }
        Err(error) => PageError::from(error).into_response(),
    }
}
