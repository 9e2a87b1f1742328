//! Operator accountability: every operator route knows who is acting (`Acting`, set by its
//! guard), records its action in the audit log before carrying it out, and writes the same
//! entry as a structured log line (target `audit`, the permit as a keyed digest). An action
//! whose entry cannot be stored is not carried out (503). The log is read through
//! `GET /api/audit`, which is itself recorded.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use permit_domain::{FieldError, FieldErrors, PermitId};
use permit_store::{AuditAction, AuditCursor, AuditEntry, AuditFilter};
use permit_web::AppError;
use permit_web::openapi::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::IssuerState;
use crate::api::page_limit;
use crate::errors::Unauthorized;

/// The longest forwarded-for chain kept: enough for any real path through proxies.
const MOST_FORWARDED: usize = 200;
const DEFAULT_PAGE: u32 = 50;

/// Who is acting on an operator route: the credential its guard accepted, the role that
/// credential carries, and where the request came from.
#[derive(Debug, Clone)]
pub struct Acting {
    pub operator: String,
    pub role: &'static str,
    /// Whether the credential is a shared one (`ADMIN_TOKEN`, `ASSISTANCE_TOKEN`), which
    /// names no person.
    pub shared: bool,
    client: Option<String>,
}

impl Acting {
    /// Set on `request` by a guard that accepted it under `role`: the operator is the
    /// token's holder, or for a shared credential the variable it came from.
    pub fn set(request: &mut Request, operator: &str, role: &'static str, shared: bool) {
        let acting = Acting::of(peer(request), request.headers(), operator, role, shared);
        request.extensions_mut().insert(acting);
    }

    /// Who a request from `peer` with `headers` comes from, acting as `operator` under `role`.
    pub fn of(peer: Option<IpAddr>, headers: &HeaderMap, operator: &str, role: &'static str, shared: bool) -> Acting {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let client = match (peer, forwarded.is_empty()) {
            (None, _) => None,
            (Some(peer), true) => Some(peer.to_string()),
            (Some(peer), false) => Some(format!(
                "{peer} (forwarded for {})",
                forwarded.chars().take(MOST_FORWARDED).collect::<String>()
            )),
        };
        Acting {
            operator: operator.to_owned(),
            role,
            shared,
            client,
        }
    }

    /// Who to record when the person says who they are (the counter's staff name
    /// themselves on each issue): a named token's holder stays who acted, a shared
    /// credential takes the stated name.
    pub fn as_named(&self, name: &str) -> Acting {
        if self.shared {
            Acting {
                operator: name.to_owned(),
                ..self.clone()
            }
        } else {
            self.clone()
        }
    }

    /// Records `action` (on `permit`, for `reason`) before it is carried out.
    pub async fn record(
        &self,
        state: &IssuerState,
        action: AuditAction,
        permit: Option<&PermitId>,
        reason: Option<&str>,
        detail: Option<String>,
    ) -> Result<(), AppError> {
        let entry = AuditEntry {
            at: state.ctx.now(),
            operator: self.operator.clone(),
            role: self.role.to_owned(),
            action,
            permit: permit.map(|id| id.to_string()),
            reason: reason.map(str::to_owned),
            client: self.client.clone(),
            detail,
        };
        state.ctx.store.record(&entry).await?;
        let digest = permit.map(|id| state.options.privacy.digest("audit", id.as_str()));
        tracing::info!(
            target: "audit",
            operator = %self.operator,
            role = self.role,
            action = action.code(),
            permit = digest.as_deref(),
            "operator action"
        );
        Ok(())
    }
}

/// The address the connection came from (the ingress, behind one).
pub fn peer(request: &Request) -> Option<IpAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Only a guarded route has it; anywhere else the request is refused, never served as
/// nobody.
impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Acting>()
            .cloned()
            .ok_or_else(|| Unauthorized.into())
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only entries about this permit (its code).
    permit: Option<String>,
    /// Only this operator's entries.
    operator: Option<String>,
    /// Only this action: `list_permits`, `search_by_rut`, `search_by_comuna`, `revoke_permit`, `place_hold`, `lift_hold`,
    /// `assisted_issue`, `read_audit`, `create_operator_token`, `list_operator_tokens`,
    /// `revoke_operator_token`, `refused_token`, `read_permit`, `sign_in`, `refused_sign_in`,
    /// `publish_phase`.
    action: Option<String>,
    /// Entries per page, 1–100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 50)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One entry of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    /// When, RFC 3339 in UTC.
    at: String,
    operator: String,
    role: String,
    action: String,
    permit: Option<String>,
    reason: Option<String>,
    /// The client's address as the issuer saw it, with any forwarded-for chain.
    client: Option<String>,
    detail: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPageView {
    entries: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> AuditEntryView {
        AuditEntryView {
            at: e.at.to_string(),
            operator: e.operator,
            role: e.role,
            action: e.action.code().to_owned(),
            permit: e.permit,
            reason: e.reason,
            client: e.client,
            detail: e.detail,
        }
    }
}

/// The audit log, newest first, filtered; reading it is recorded in it.
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "operator",
    params(AuditParams),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A page of the audit log.", body = AuditPageView),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 422, description = "A filter, `limit` or `cursor` wrong (`invalid_fields`).", body = ErrorBody),
        (status = 429, description = "Over the operator's `OPERATOR_RATE_LIMIT` (`rate_limited`); `Retry-After` says when.", body = ErrorBody),
    ),
)]
pub async fn trail(
    State(state): State<IssuerState>,
    acting: Acting,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPageView>, AppError> {
    let (filter, limit) = audit_filter(&params)?;
    let detail = format!(
        "permit={} operator={} action={} limit={limit}",
        filter.permit.as_deref().unwrap_or("*"),
        filter.operator.as_deref().unwrap_or("*"),
        filter.action.map_or("*", AuditAction::code),
    );
    let permit = filter.permit.as_deref().and_then(|p| PermitId::parse(p).ok());
    acting
        .record(&state, AuditAction::ReadAudit, permit.as_ref(), None, Some(detail))
        .await?;
    let page = state.ctx.store.audit_trail(&filter, limit).await?;
    Ok(Json(AuditPageView {
        entries: page.entries.into_iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

fn audit_filter(params: &AuditParams) -> Result<(AuditFilter, u32), AppError> {
    let mut errors = FieldErrors::new();
    let mut filter = AuditFilter::default();
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    filter.permit = given(&params.permit);
    if filter.permit.as_ref().is_some_and(|p| PermitId::parse(p).is_err()) {
        errors.insert("permit", FieldError::Invalid("no es un código de permiso"));
    }
    filter.operator = given(&params.operator);
    if filter.operator.as_ref().is_some_and(|o| o.chars().count() > 100) {
        errors.insert("operator", FieldError::TooLong(100));
    }
    match given(&params.action).map(|a| AuditAction::parse(&a)) {
        None => {}
        Some(Some(action)) => filter.action = Some(action),
        Some(None) => {
            errors.insert("action", FieldError::Invalid("no es una acción del registro"));
        }
    }
    let limit = page_limit(&mut errors, params.limit.as_deref(), DEFAULT_PAGE);
    match given(&params.cursor).map(|c| AuditCursor::parse(&c)) {
        None => {}
        Some(Ok(cursor)) => filter.after = Some(cursor),
        Some(Err(_)) => {
            errors.insert(
                "cursor",
                FieldError::Invalid("no es un cursor entregado por este servicio"),
            );
        }
    }
    if errors.is_empty() {
        Ok((filter, limit))
    } else {
        Err(AppError::Invalid(errors))
    }
}
