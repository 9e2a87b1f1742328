//! The JSON API: create, and the operator's list and revocation.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use permit_domain::{FieldError, FieldErrors, Permit, PermitId};
use permit_store::Cursor;
use permit_web::{AppError, Context};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::IssuerState;
use crate::issue::{idempotency_key, issue, issue_once};
use crate::json_body::permit_form;

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// The whole permit, for its holder and the operator.
pub fn permit_json(ctx: &Context, permit: &Permit) -> Value {
    let status = permit.status(ctx.now());
    json!({
        "id": permit.id.as_str(),
        "validation_url": ctx.links.validation_page(&permit.id),
        "permit_url": ctx.links.permit_page(&permit.id),
        "status": status.code(),
        "status_label": status.label(),
        "name": permit.name.as_str(),
        "rut": permit.rut.to_string(),
        "motive": { "code": permit.motive.code(), "label": permit.motive.label() },
        "address": permit.address.as_str(),
        "comuna": permit.comuna.as_str(),
        "requested_at": ctx.rfc3339(permit.requested_at),
        "valid_from": ctx.rfc3339(permit.valid_from),
        "expires_at": ctx.rfc3339(permit.expires_at),
        "revoked_at": permit.revoked_at.map(|at| ctx.rfc3339(at)),
    })
}

pub async fn create(
    State(state): State<IssuerState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    state.admit(peer, &headers)?;
    let form = permit_form(&headers, &body)?;
    let permit = match idempotency_key(&headers)? {
        Some(key) => issue_once(&state.ctx, &form, &key).await?,
        None => issue(&state.ctx, &form).await?,
    };
    Ok((StatusCode::CREATED, Json(permit_json(&state.ctx, &permit))))
}

#[derive(Deserialize)]
pub struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

/// Every permit, newest first, for the operator only.
pub async fn all(
    State(state): State<IssuerState>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, AppError> {
    state
        .options
        .admin
        .as_ref()
        .ok_or(AppError::NotFound)?
        .check(&headers)?;
    let mut errors = FieldErrors::new();
    let limit = match params.limit.as_deref().map(str::parse::<u32>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            errors.insert("limit", FieldError::Invalid("debe ser un número entre 1 y 100"));
            DEFAULT_PAGE
        }
    };
    let cursor = match params.cursor.as_deref().filter(|c| !c.is_empty()).map(Cursor::parse) {
        None => None,
        Some(Ok(cursor)) => Some(cursor),
        Some(Err(_)) => {
            errors.insert(
                "cursor",
                FieldError::Invalid("no es un cursor entregado por este servicio"),
            );
            None
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let page = state.ctx.store.list(limit, cursor.as_ref()).await?;
    let permits: Vec<Value> = page.permits.iter().map(|p| permit_json(&state.ctx, p)).collect();
    Ok(Json(
        json!({ "permits": permits, "next_cursor": page.next.map(|c| c.encode()) }),
    ))
}

/// Revokes a permit from now on; the operator's answer to a permit issued in error.
pub async fn revoke(
    State(state): State<IssuerState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    state
        .options
        .admin
        .as_ref()
        .ok_or(AppError::NotFound)?
        .check(&headers)?;
    let id = PermitId::parse(&id).map_err(|_| AppError::NotFound)?;
    let permit = state
        .ctx
        .store
        .revoke(&id, state.ctx.now())
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(permit = %permit.id, "permit revoked");
    Ok(Json(permit_json(&state.ctx, &permit)))
}
