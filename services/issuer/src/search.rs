//! Permits looked up by a key, the way the real system answered judicial requests: a
//! citizen's by RUT, or a comuna's over some days (at most a month, paged), only with a
//! stated reason (and the case, where there is one), by the *consulta* role, each look
//! recorded in the audit log (a RUT as a keyed digest); and one permit's record by its
//! code, for a reason too.

use axum::Json;
use axum::extract::{Path, Query, State};
use permit_domain::{CaseNumber, Comuna, DayRange, FieldError, FieldErrors, Permit, PermitId, Reason, Rut};
use permit_store::{AuditAction, Cursor, Page};
use permit_web::AppError;
use permit_web::openapi::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::IssuerState;
use crate::api::{PermitView, Viewer};
use crate::audit::Acting;

#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The citizen's RUT, with or without dots; or else `comuna`, `from` and `to`.
    #[param(example = "12.345.678-5")]
    pub(crate) rut: Option<String>,
    /// A comuna, by name or código único territorial: its permits requested from `from`
    /// to `to`.
    #[param(example = "Ñuñoa")]
    pub(crate) comuna: Option<String>,
    /// The first day, in Chile (`2026-12-01`).
    #[param(example = "2026-12-01")]
    pub(crate) from: Option<String>,
    /// The last day, included; at most 31 days in all.
    #[param(example = "2026-12-07")]
    pub(crate) to: Option<String>,
    /// A comuna's permits per page, 1–100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub(crate) limit: Option<String>,
    /// The `next_cursor` of a comuna's previous page.
    pub(crate) cursor: Option<String>,
    /// Why: the request behind the look-up, 3–200 characters.
    #[param(required = true, example = "Oficio 1234-2026, Fiscalía Local de Ñuñoa")]
    pub(crate) reason: Option<String>,
    /// The judicial case it answers, 3–60 characters, where there is one.
    #[param(example = "RIT 1234-2026")]
    pub(crate) case: Option<String>,
}

/// The permits found, newest first.
#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    permits: Vec<PermitView>,
    /// For a comuna's search, pass as `cursor` for the next page; absent on the last one
    /// and for a RUT's.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Every permit held under a RUT (at most 200, newest first), or a comuna's requested over
/// some days (paged), with the holders' data.
#[utoipa::path(
    get,
    path = "/api/permits",
    tag = "operator",
    params(SearchParams),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The permits found (none is an empty list).", body = SearchResult),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 422, description = "`rut`, `comuna`, `from`, `to`, `limit`, `cursor`, `reason` or `case` wrong, or both keys given (`invalid_fields`).", body = ErrorBody),
        (status = 429, description = "Over the operator's `OPERATOR_RATE_LIMIT` (`rate_limited`); `Retry-After` says when.", body = ErrorBody),
    ),
)]
pub async fn by_key(
    State(state): State<IssuerState>,
    acting: Acting,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchResult>, AppError> {
    let given = |text: &Option<String>| text.as_deref().is_some_and(|t| !t.trim().is_empty());
    let (permits, next) = if [&params.comuna, &params.from, &params.to].into_iter().any(given) {
        if given(&params.rut) {
            let mut errors = FieldErrors::new();
            errors.insert(
                "rut",
                FieldError::Invalid("busca por RUT o por comuna y fechas, no por ambos"),
            );
            return Err(AppError::Invalid(errors));
        }
        let request = ComunaSearch::parse(&params).map_err(AppError::Invalid)?;
        let page = search_in_comuna(&state, &acting, &request).await?;
        (page.permits, page.next.map(|c| c.encode()))
    } else {
        let request = SearchRequest::parse(params.rut.as_deref(), params.reason.as_deref(), params.case.as_deref())
            .map_err(AppError::Invalid)?;
        (search(&state, &acting, &request).await?, None)
    };
    Ok(Json(SearchResult {
        permits: permits
            .iter()
            .map(|p| PermitView::of(&state, p, Viewer::Operator))
            .collect(),
        next_cursor: next,
    }))
}

/// A comuna's permits over some days, as asked, over the API or in the console.
pub struct ComunaSearch {
    pub comuna: Comuna,
    pub days: DayRange,
    pub limit: u32,
    pub cursor: Option<Cursor>,
    pub reason: Reason,
    pub case: Option<CaseNumber>,
}

impl ComunaSearch {
    /// Each field named in the errors when wrong.
    pub fn parse(params: &SearchParams) -> Result<ComunaSearch, FieldErrors> {
        let mut errors = FieldErrors::new();
        let comuna = Comuna::parse(params.comuna.as_deref().unwrap_or_default())
            .map_err(|e| errors.insert("comuna", e))
            .ok();
        let days = DayRange::parse(params.from.as_deref(), params.to.as_deref())
            .map_err(|wrong| errors.extend(wrong))
            .ok();
        let limit = crate::api::page_limit(&mut errors, params.limit.as_deref(), crate::api::DEFAULT_PAGE);
        let cursor = crate::api::page_cursor(&mut errors, params.cursor.as_deref());
        let why = reason_and_case(params.reason.as_deref(), params.case.as_deref())
            .map_err(|wrong| errors.extend(wrong))
            .ok();
        match (comuna, days, why) {
            (Some(comuna), Some(days), Some((reason, case))) if errors.is_empty() => Ok(ComunaSearch {
                comuna,
                days,
                limit,
                cursor,
                reason,
                case,
            }),
            _ => Err(errors),
        }
    }
}

/// The search recorded (comuna, days and page: no one's data), then carried out.
pub async fn search_in_comuna(state: &IssuerState, acting: &Acting, request: &ComunaSearch) -> Result<Page, AppError> {
    let detail = format!(
        "comuna {} {}, {} to {}, page of {}{}{}",
        request.comuna.code(),
        request.comuna.as_str(),
        request.days.first(),
        request.days.last(),
        request.limit,
        if request.cursor.is_some() {
            ", after a cursor"
        } else {
            ""
        },
        request
            .case
            .as_ref()
            .map(|c| format!(", case {}", c.as_str()))
            .unwrap_or_default(),
    );
    acting
        .record(
            state,
            AuditAction::SearchByComuna,
            None,
            Some(request.reason.as_str()),
            Some(detail),
        )
        .await?;
    let range = request.days.instants(&state.ctx.rules.time_zone);
    Ok(state
        .ctx
        .store
        .list_in_comuna(&request.comuna, range, request.limit, request.cursor.as_ref())
        .await?)
}

/// A look-up as asked, over the API or in the console: whose, why, for which case.
pub struct SearchRequest {
    pub rut: Rut,
    pub reason: Reason,
    pub case: Option<CaseNumber>,
}

impl SearchRequest {
    /// Each field named in the errors (`rut`, `reason`, `case`) when wrong; an empty case
    /// is none.
    pub fn parse(rut: Option<&str>, reason: Option<&str>, case: Option<&str>) -> Result<SearchRequest, FieldErrors> {
        let rut = Rut::parse(rut.unwrap_or_default());
        let why = reason_and_case(reason, case);
        match (rut, why) {
            (Ok(rut), Ok((reason, case))) => Ok(SearchRequest { rut, reason, case }),
            (rut, why) => {
                let mut errors = why.err().unwrap_or_default();
                if let Err(problem) = rut {
                    errors.insert("rut", problem);
                }
                Err(errors)
            }
        }
    }
}

/// The look-up recorded (the RUT as a keyed digest), then carried out.
pub async fn search(state: &IssuerState, acting: &Acting, request: &SearchRequest) -> Result<Vec<Permit>, AppError> {
    let citizen = state.options.privacy.digest("audit", &request.rut.canonical());
    let detail = match &request.case {
        Some(case) => format!("citizen {citizen}, case {}", case.as_str()),
        None => format!("citizen {citizen}"),
    };
    acting
        .record(
            state,
            AuditAction::SearchByRut,
            None,
            Some(request.reason.as_str()),
            Some(detail),
        )
        .await?;
    Ok(state.ctx.store.permits_held_by(&request.rut).await?)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// Why: the request behind opening the record, 3–200 characters.
    #[param(required = true, example = "Parte 4411, 33ª Comisaría")]
    reason: Option<String>,
    /// The judicial case it answers, 3–60 characters, where there is one.
    #[param(example = "RIT 1234-2026")]
    case: Option<String>,
}

/// One permit's full record, by its code, with the holder's data.
#[utoipa::path(
    get,
    path = "/api/permits/{id}",
    tag = "operator",
    params(("id" = String, Path, description = "The permit's code."), RecordParams),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The permit.", body = PermitView),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such permit (`not_found`).", body = ErrorBody),
        (status = 422, description = "`reason` or `case` wrong (`invalid_fields`).", body = ErrorBody),
        (status = 429, description = "Over the operator's `OPERATOR_RATE_LIMIT` (`rate_limited`); `Retry-After` says when.", body = ErrorBody),
    ),
)]
pub async fn record(
    State(state): State<IssuerState>,
    acting: Acting,
    Path(id): Path<String>,
    Query(params): Query<RecordParams>,
) -> Result<Json<PermitView>, AppError> {
    let id = PermitId::parse(&id).map_err(|_| AppError::NotFound)?;
    let (reason, case) =
        reason_and_case(params.reason.as_deref(), params.case.as_deref()).map_err(AppError::Invalid)?;
    let permit = open_record(&state, &acting, &id, (&reason, case.as_ref()), "record").await?;
    Ok(Json(PermitView::of(&state, &permit, Viewer::Operator)))
}

/// A stated reason (required) and judicial case (optional, empty is none), each named in
/// the errors (`reason`, `case`) when wrong.
pub fn reason_and_case(reason: Option<&str>, case: Option<&str>) -> Result<(Reason, Option<CaseNumber>), FieldErrors> {
    let mut errors = FieldErrors::new();
    let reason = Reason::parse(reason.unwrap_or_default()).map_err(|e| errors.insert("reason", e));
    let case = match case.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(text) => CaseNumber::parse(text).map(Some).map_err(|e| errors.insert("case", e)),
    };
    match (reason, case) {
        (Ok(reason), Ok(case)) if errors.is_empty() => Ok((reason, case)),
        _ => Err(errors),
    }
}

/// A permit's record opened for a reason, recorded as `read_permit` (`what` says what was
/// shown) before it is read; 404 for no such permit.
pub async fn open_record(
    state: &IssuerState,
    acting: &Acting,
    id: &PermitId,
    (reason, case): (&Reason, Option<&CaseNumber>),
    what: &str,
) -> Result<Permit, AppError> {
    let detail = match case {
        Some(case) => format!("{what}, case {}", case.as_str()),
        None => what.to_owned(),
    };
    acting
        .record(
            state,
            AuditAction::ReadPermit,
            Some(id),
            Some(reason.as_str()),
            Some(detail),
        )
        .await?;
    state.ctx.store.find(id).await?.ok_or(AppError::NotFound)
}
