//! The JSON API: create, and the operator's list and revocation.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use permit_domain::{FieldError, FieldErrors, Permit, PermitId, Reason};
use permit_store::{AuditAction, Cursor};
use permit_web::AppError;
use permit_web::openapi::{ErrorBody, MotiveView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use axum_extra::extract::PrivateCookieJar;

use crate::IssuerState;
use crate::audit::Acting;
use crate::issue::{IdempotencyKey, issue, issue_once};
use crate::json_body::{CreatePermit, RevokeRequest, permit_form, revoke_reason};
use crate::phases::Freshness;
use crate::sign_in;

pub(crate) const DEFAULT_PAGE: u32 = 20;
/// The most entries any operator page holds (permits, audit entries).
const MAX_PAGE: u32 = 100;

/// An operator page's `cursor`: none when absent or empty, else one this service handed
/// out, or named in `errors`.
pub(crate) fn page_cursor(errors: &mut FieldErrors, text: Option<&str>) -> Option<Cursor> {
    match text.filter(|c| !c.is_empty()).map(Cursor::parse)? {
        Ok(cursor) => Some(cursor),
        Err(_) => {
            errors.insert(
                "cursor",
                FieldError::Invalid("no es un cursor entregado por este servicio"),
            );
            None
        }
    }
}

/// An operator page's `limit`: `default` when absent, 1–`MAX_PAGE`, else named in `errors`.
pub(crate) fn page_limit(errors: &mut FieldErrors, limit: Option<&str>, default: u32) -> u32 {
    match limit.map(str::parse::<u32>) {
        None => default,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            errors.insert("limit", FieldError::Invalid("debe ser un número entre 1 y 100"));
            default
        }
    }
}

/// The whole permit, for its holder and the operator.
#[derive(Serialize, ToSchema)]
pub struct PermitView {
    /// 22 URL-safe characters; the permit's code.
    #[schema(example = "q6V7pTz0S3mXcW1bN8eYkA")]
    id: String,
    /// The page a police officer opens (the QR code holds it): the signed permit, checked
    /// without the database (`/v/{token}`).
    validation_url: String,
    /// The same check through the database (`/validar/{id}`): revocations at once.
    lookup_url: String,
    /// The holder's own page, with the QR code: it carries the holder's secret (`clave`),
    /// so it is given to whoever asked for the permit and to nobody else. For the operator,
    /// the permit's public page.
    permit_url: String,
    /// At the time of the answer.
    status: &'static str,
    /// The status as a police officer reads it, e.g. `VIGENTE`.
    status_label: &'static str,
    name: String,
    /// Formatted with dots: `12.345.678-5`.
    rut: String,
    motive: MotiveView,
    address: String,
    comuna: String,
    #[schema(format = DateTime)]
    requested_at: String,
    #[schema(format = DateTime)]
    valid_from: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// Set once an operator revoked the permit.
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
    /// The operator who issued it at a counter (assisted issuance); null when the citizen asked.
    issued_by: Option<String>,
    /// The version of the rules it was issued under (`data/policy.toml`); null for a permit
    /// stored before permits recorded it.
    #[schema(example = "2021-04-05")]
    policy: Option<String>,
    /// Its comuna's Paso a Paso phase then, by code; null outside the plan.
    #[schema(example = "cuarentena")]
    phase: Option<&'static str>,
}

/// A create's answer: the permit, and how recent the schedule that decided it was.
#[derive(Serialize, ToSchema)]
pub struct Created {
    #[serde(flatten)]
    permit: PermitView,
    /// The Paso a Paso schedule this replica holds in memory and decided by.
    schedule: Freshness,
}

/// Who a `PermitView` is for: only the holder is handed the link to their own page.
#[derive(Clone, Copy)]
pub enum Viewer {
    Holder,
    Operator,
}

impl PermitView {
    pub fn of(state: &IssuerState, permit: &Permit, viewer: Viewer) -> PermitView {
        let ctx = &state.ctx;
        let status = permit.status(ctx.now());
        PermitView {
            id: permit.id.to_string(),
            validation_url: state.validation_url(permit),
            lookup_url: ctx.links.validation_page(&permit.id),
            permit_url: match viewer {
                Viewer::Holder => state.holder_url(&permit.id),
                Viewer::Operator => ctx.links.permit_page(&permit.id),
            },
            status: status.code(),
            status_label: status.label(),
            name: permit.name.as_str().to_owned(),
            rut: permit.rut.to_string(),
            motive: MotiveView::of(permit.motive),
            address: permit.address.as_str().to_owned(),
            comuna: permit.comuna.as_str().to_owned(),
            requested_at: ctx.rfc3339(permit.requested_at),
            valid_from: ctx.rfc3339(permit.valid_from),
            expires_at: ctx.rfc3339(permit.expires_at),
            revoked_at: permit.revoked_at.map(|at| ctx.rfc3339(at)),
            issued_by: permit.issued_by.as_ref().map(|o| o.as_str().to_owned()),
            policy: permit.issued_under.as_ref().map(|u| u.policy.to_string()),
            phase: permit.issued_under.as_ref().and_then(|u| u.phase).map(|p| p.code()),
        }
    }
}

/// Issues a permit.
///
/// With an `Idempotency-Key`, a retry of the same request gets the same permit and uses no
/// second quota.
#[utoipa::path(
    post,
    path = "/api/create",
    tag = "permits",
    request_body = CreatePermit,
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "1–255 visible ASCII characters, one per intended permit; remembered for 24 h."),
    ),
    responses(
        (status = 201, description = "Issued (or replayed for its idempotency key).", body = Created),
        (status = 409, description = "A request with this key is being answered (`idempotency_key_in_progress`); `Retry-After`.", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "Fields wrong (`invalid_fields`, each named), the curfew (`curfew`, `longer_than_curfew_allows`), the comuna's phase (`no_permit_needed`, `motive_not_offered`), or the key reused with another request (`idempotency_key_reused`).", body = ErrorBody),
        (status = 429, description = "The RUT's weekly limit (`weekly_limit_reached`), the phase's weekend cap (`weekend_limit_reached`) or the client's rate limit (`rate_limited`); `Retry-After` says when.", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<IssuerState>,
    IdempotencyHeader(key): IdempotencyHeader,
    headers: HeaderMap,
    jar: PrivateCookieJar,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), AppError> {
    // Where sign-in is on, the API serves the signed-in citizen's browser only (its session
    // cookie), in their name.
    let identity = sign_in::citizen(&state, &jar)?;
    let mut form = permit_form(&headers, &body)?;
    if let Some(identity) = &identity {
        identity.fill(&mut form);
    }
    let permit = match key {
        Some(key) => issue_once(&state, &form, &key).await?,
        None => issue(&state, &form).await?,
    };
    Ok((
        StatusCode::CREATED,
        Json(Created {
            permit: PermitView::of(&state, &permit, Viewer::Holder),
            schedule: state.phases.freshness(state.options.phase_refresh),
        }),
    ))
}

/// The `Idempotency-Key` header, parsed at the edge: absent, or 1 to 255 visible ASCII
/// characters; anything else is refused naming the header.
pub struct IdempotencyHeader(Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyHeader(None));
        };
        match value.to_str() {
            Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(IdempotencyHeader(Some(IdempotencyKey::Client(key.to_owned()))))
            }
            _ => Err(AppError::Invalid(FieldErrors::from([(
                "Idempotency-Key",
                FieldError::Invalid("debe tener de 1 a 255 caracteres ASCII visibles"),
            )]))),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Permits per page, 1–100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Why the export: the request behind it, 3–200 characters.
    #[param(required = true, example = "Oficio 88-2026, Contraloría General de la República")]
    reason: Option<String>,
    /// The judicial case it answers, 3–60 characters, where there is one.
    #[param(example = "RIT 1234-2026")]
    case: Option<String>,
}

/// One page of permits, newest first.
#[derive(Serialize, ToSchema)]
pub struct PermitPage {
    permits: Vec<PermitView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// Every permit, newest first: an export, for *administración* only, with a reason, each
/// page recorded in the audit log.
#[utoipa::path(
    get,
    path = "/api/all",
    tag = "operator",
    params(PageParams),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A page of permits.", body = PermitPage),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role than *administración* (`forbidden`).", body = ErrorBody),
        (status = 422, description = "`limit`, `cursor`, `reason` or `case` wrong (`invalid_fields`).", body = ErrorBody),
        (status = 429, description = "Over the operator's `OPERATOR_RATE_LIMIT` (`rate_limited`); `Retry-After` says when.", body = ErrorBody),
    ),
)]
pub async fn all(
    State(state): State<IssuerState>,
    acting: Acting,
    Query(params): Query<PageParams>,
) -> Result<Json<PermitPage>, AppError> {
    let mut errors = FieldErrors::new();
    let limit = page_limit(&mut errors, params.limit.as_deref(), DEFAULT_PAGE);
    let cursor = page_cursor(&mut errors, params.cursor.as_deref());
    let why = crate::search::reason_and_case(params.reason.as_deref(), params.case.as_deref())
        .map_err(|wrong| errors.extend(wrong));
    let (Ok((reason, case)), true) = (why, errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let detail = format!(
        "export, page of {limit}{}{}",
        if cursor.is_some() { ", after a cursor" } else { "" },
        case.map(|c| format!(", case {}", c.as_str())).unwrap_or_default(),
    );
    acting
        .record(
            &state,
            AuditAction::ListPermits,
            None,
            Some(reason.as_str()),
            Some(detail),
        )
        .await?;
    let page = state.ctx.store.list(limit, cursor.as_ref()).await?;
    Ok(Json(PermitPage {
        permits: page
            .permits
            .iter()
            .map(|p| PermitView::of(&state, p, Viewer::Operator))
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// Revokes a permit from now on; the operator's answer to a permit issued in error.
#[utoipa::path(
    post,
    path = "/api/permits/{id}/revoke",
    tag = "operator",
    params(("id" = String, Path, description = "The permit's code.")),
    request_body(content = RevokeRequest, description = "Optional: why, recorded with the revocation."),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Revoked; revoking again keeps the first time.", body = PermitView),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such permit (`not_found`).", body = ErrorBody),
        (status = 415, description = "A body that is not `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "`reason` wrong (`invalid_fields`).", body = ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<IssuerState>,
    acting: Acting,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PermitView>, AppError> {
    let id = PermitId::parse(&id).map_err(|_| AppError::NotFound)?;
    let reason = revoke_reason(&headers, &body)?;
    let permit = revoke_permit(&state, &acting, &id, reason.as_ref()).await?;
    Ok(Json(PermitView::of(&state, &permit, Viewer::Operator)))
}

/// The revocation recorded (with its reason, from the console), then carried out; 404 for
/// no such permit. Revoking again keeps the first time.
pub async fn revoke_permit(
    state: &IssuerState,
    acting: &Acting,
    id: &PermitId,
    reason: Option<&Reason>,
) -> Result<Permit, AppError> {
    acting
        .record(
            state,
            AuditAction::RevokePermit,
            Some(id),
            reason.map(Reason::as_str),
            None,
        )
        .await?;
    state
        .ctx
        .store
        .revoke(id, state.ctx.now())
        .await?
        .ok_or(AppError::NotFound)
}
