//! The console's pages. Each reads or changes through the same functions as the API
//! (`search`, `api::revoke_permit`, `operators`), so each is recorded in the audit log the
//! same way; forms that change something are refused from other sites (`same_origin`).

use askama::Template;
use axum::extract::{Extension, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use openidconnect::url::form_urlencoded;
use permit_domain::{CaseNumber, FieldError, FieldErrors, Permit, PermitId, Reason, Role};
use permit_store::AuditFilter;
use permit_web::{AppError, PageError};
use serde::Deserialize;

use super::session::{self, SignedIn};
use super::views::{TokenRow, TrailRow};
use crate::IssuerState;
use crate::api::revoke_permit;
use crate::audit::Acting;
use crate::json_body::token_fields;
use crate::operators;
use crate::pages::{FieldView, RecordView, same_origin};
use crate::search::{
    ComunaSearch, SearchParams, SearchRequest, open_record, reason_and_case, search as look_up, search_in_comuna,
};

/// The most audit entries a permit's page shows, newest first (the API pages through all).
const TRAIL: u32 = 50;

/// What a form of the console was sent with.
#[derive(Default, Deserialize)]
pub struct Fields {
    rut: Option<String>,
    comuna: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    reason: Option<String>,
    case: Option<String>,
    permit: Option<String>,
}

fn field(
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    value: Option<&str>,
    errors: &FieldErrors,
) -> FieldView {
    FieldView {
        name,
        label,
        hint,
        autocomplete: "off",
        value: value.unwrap_or_default().to_owned(),
        error: errors.get(name).map(ToString::to_string),
    }
}

fn reason_fields(fields: &Fields, errors: &FieldErrors) -> [FieldView; 2] {
    [
        field(
            "reason",
            "Motivo de la consulta",
            "Obligatorio: la solicitud que la justifica, por ejemplo «Oficio 1234-2026, Fiscalía Local de Ñuñoa».",
            fields.reason.as_deref(),
            errors,
        ),
        field(
            "case",
            "Causa judicial (si la hay)",
            "Por ejemplo: RIT 1234-2026.",
            fields.case.as_deref(),
            errors,
        ),
    ]
}

/// One permit found, with the link to its record carrying the stated reason.
struct Found {
    permit: RecordView,
    link: String,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct Home {
    operator: Option<SignedIn>,
    available: bool,
    search: Vec<FieldView>,
    by_comuna: Vec<FieldView>,
    open: Vec<FieldView>,
    found: Option<Vec<Found>>,
    /// What `found` was searched by, for its heading ("con ese RUT").
    found_by: &'static str,
    /// The cursor of a comuna's next page, when there is one.
    next: Option<String>,
}

impl Home {
    fn new(state: &IssuerState, operator: Option<SignedIn>) -> Home {
        Home {
            operator,
            available: state.options.console.available(),
            search: Home::search_fields(&Fields::default(), &FieldErrors::new()),
            by_comuna: Home::comuna_fields(&Fields::default(), &FieldErrors::new()),
            open: Home::open_fields(&Fields::default(), &FieldErrors::new()),
            found: None,
            found_by: "",
            next: None,
        }
    }

    fn comuna_fields(fields: &Fields, errors: &FieldErrors) -> Vec<FieldView> {
        let keys = [
            ("comuna", "Comuna", "Por ejemplo: Ñuñoa.", &fields.comuna),
            ("from", "Desde el día", "Como 2026-12-01 (año-mes-día).", &fields.from),
            (
                "to",
                "Hasta el día (incluido)",
                "Como 2026-12-07; a lo más 31 días en total.",
                &fields.to,
            ),
        ];
        with_reason(&keys, fields, errors)
    }

    /// The permits found, each linked to its record for the stated reason.
    fn show(&mut self, state: &IssuerState, permits: &[Permit], (reason, case): (&Reason, Option<&CaseNumber>)) {
        self.found = Some(
            permits
                .iter()
                .map(|p| Found {
                    link: record_link(p.id.as_str(), reason, case),
                    permit: RecordView::of(state, p),
                })
                .collect(),
        );
    }

    fn search_fields(fields: &Fields, errors: &FieldErrors) -> Vec<FieldView> {
        let keys = [("rut", "RUT de la persona", "Por ejemplo: 12.345.678-5", &fields.rut)];
        with_reason(&keys, fields, errors)
    }

    fn open_fields(fields: &Fields, errors: &FieldErrors) -> Vec<FieldView> {
        let keys = [(
            "permit",
            "Código del permiso",
            "22 caracteres, como aparece en el permiso o en su código QR.",
            &fields.permit,
        )];
        with_reason(&keys, fields, errors)
    }
}

/// A search's key fields (name, label, hint, value as sent), then the reason's.
fn with_reason(
    keys: &[(&'static str, &'static str, &'static str, &Option<String>)],
    fields: &Fields,
    errors: &FieldErrors,
) -> Vec<FieldView> {
    keys.iter()
        .map(|&(name, label, hint, value)| field(name, label, hint, value.as_deref(), errors))
        .chain(reason_fields(fields, errors))
        .collect()
}

fn page(template: &impl Template) -> Result<Html<String>, PageError> {
    Ok(Html(template.render()?))
}

/// `GET /`: sign-in, or what the signed-in operator's roles allow.
pub async fn home(State(state): State<IssuerState>, headers: HeaderMap) -> Result<Html<String>, PageError> {
    page(&Home::new(&state, session::signed_in(&state, &headers)))
}

/// `/permiso?permit=…&reason=…&case=…`: a permit's record, opened for a reason.
fn record_link(id: &str, reason: &Reason, case: Option<&CaseNumber>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("permit", id).append_pair("reason", reason.as_str());
    if let Some(case) = case {
        query.append_pair("case", case.as_str());
    }
    format!("/permiso?{}", query.finish())
}

/// `POST /buscar` (*consulta*): a citizen's permits by RUT, with a reason; a wrong field
/// is shown on the form (422).
pub async fn search(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<(StatusCode, Html<String>), PageError> {
    same_origin(&headers, state.options.console.home())?;
    let mut home = Home::new(&state, Some(operator));
    let request = match SearchRequest::parse(fields.rut.as_deref(), fields.reason.as_deref(), fields.case.as_deref()) {
        Ok(request) => request,
        Err(errors) => {
            home.search = Home::search_fields(&fields, &errors);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&home)?));
        }
    };
    let permits = look_up(&state, &acting, &request).await?;
    home.search = Home::search_fields(&fields, &FieldErrors::new());
    home.show(&state, &permits, (&request.reason, request.case.as_ref()));
    home.found_by = "con ese RUT";
    Ok((StatusCode::OK, page(&home)?))
}

/// `POST /buscar-comuna` (*consulta*): a comuna's permits over some days, a page at a
/// time, with a reason; a wrong field is shown on the form (422).
pub async fn search_comuna(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<(StatusCode, Html<String>), PageError> {
    same_origin(&headers, state.options.console.home())?;
    let mut home = Home::new(&state, Some(operator));
    let params = SearchParams {
        comuna: fields.comuna.clone(),
        from: fields.from.clone(),
        to: fields.to.clone(),
        cursor: fields.cursor.clone(),
        reason: fields.reason.clone(),
        case: fields.case.clone(),
        ..SearchParams::default()
    };
    let request = match ComunaSearch::parse(&params) {
        Ok(request) => request,
        Err(errors) => {
            home.by_comuna = Home::comuna_fields(&fields, &errors);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&home)?));
        }
    };
    let found = search_in_comuna(&state, &acting, &request).await?;
    home.by_comuna = Home::comuna_fields(&fields, &FieldErrors::new());
    home.show(&state, &found.permits, (&request.reason, request.case.as_ref()));
    home.found_by = "en esa comuna y esas fechas";
    home.next = found.next.map(|c| c.encode());
    Ok((StatusCode::OK, page(&home)?))
}

#[derive(Template)]
#[template(path = "console/permit.html")]
struct Record {
    operator: Option<SignedIn>,
    permit: RecordView,
    reason: String,
    trail: Vec<TrailRow>,
    revoke: Vec<FieldView>,
    can_revoke: bool,
}

/// `GET /permiso` (*consulta*, *revocación*): a permit's full record and its audit trail,
/// recorded as `read_permit` with the stated reason; without one, the form asks for it.
pub async fn permit(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
    Query(fields): Query<Fields>,
) -> Result<(StatusCode, Html<String>), PageError> {
    let id = PermitId::parse(fields.permit.as_deref().unwrap_or_default().trim());
    let why = reason_and_case(fields.reason.as_deref(), fields.case.as_deref());
    let (Ok(id), Ok((reason, case))) = (&id, &why) else {
        let mut errors = why.err().unwrap_or_default();
        if id.is_err() {
            errors.insert("permit", FieldError::Invalid("no es un código de permiso"));
        }
        let mut home = Home::new(&state, Some(operator));
        home.open = Home::open_fields(&fields, &errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&home)?));
    };
    let found = open_record(&state, &acting, id, (reason, case.as_ref()), "record and audit trail").await?;
    let filter = AuditFilter {
        permit: Some(id.to_string()),
        ..AuditFilter::default()
    };
    let trail = state.ctx.store.audit_trail(&filter, TRAIL).await?;
    let can_revoke = operator.has(Role::Revocacion) && found.revoked_at.is_none();
    let record = Record {
        operator: Some(operator),
        permit: RecordView::of(&state, &found),
        reason: reason.as_str().to_owned(),
        trail: trail.entries.into_iter().map(|e| TrailRow::of(&state, e)).collect(),
        revoke: revoke_fields(None, &FieldErrors::new()),
        can_revoke,
    };
    Ok((StatusCode::OK, page(&record)?))
}

fn revoke_fields(value: Option<&str>, errors: &FieldErrors) -> Vec<FieldView> {
    vec![field(
        "reason",
        "Motivo de la revocación",
        "Obligatorio: queda en el registro de auditoría.",
        value,
        errors,
    )]
}

/// The revocation form again, its reason marked: nothing was revoked.
#[derive(Template)]
#[template(path = "console/revoke.html")]
struct RevokeAgain {
    operator: Option<SignedIn>,
    permit: String,
    revoke: Vec<FieldView>,
}

/// `POST /revocar` (*revocación*): revoked with a reason, recorded; then back to the
/// record. Without a valid reason nothing is revoked: 422 and the form, the field marked.
pub async fn revoke(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    same_origin(&headers, state.options.console.home())?;
    let id = PermitId::parse(fields.permit.as_deref().unwrap_or_default()).map_err(|_| AppError::NotFound)?;
    let reason = match Reason::parse(fields.reason.as_deref().unwrap_or_default()) {
        Ok(reason) => reason,
        Err(problem) => {
            let again = RevokeAgain {
                operator: Some(operator),
                permit: id.to_string(),
                revoke: revoke_fields(fields.reason.as_deref(), &FieldErrors::from([("reason", problem)])),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&again)?).into_response());
        }
    };
    revoke_permit(&state, &acting, &id, Some(&reason)).await?;
    Ok(Redirect::to(&record_link(id.as_str(), &reason, None)).into_response())
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct Tokens {
    operator: Option<SignedIn>,
    tokens: Vec<TokenRow>,
    /// A token just made, for whom: shown on this page only.
    made: Option<(String, String)>,
    fields: Vec<FieldView>,
    roles: [&'static str; 4],
}

/// What the token form was sent with.
#[derive(Default, Deserialize)]
pub struct TokenForm {
    name: Option<String>,
    role: Option<String>,
    days: Option<String>,
    id: Option<String>,
}

async fn tokens_page(
    state: &IssuerState,
    acting: &Acting,
    operator: SignedIn,
    made: Option<(String, String)>,
    form: &TokenForm,
    errors: &FieldErrors,
) -> Result<Tokens, PageError> {
    Ok(Tokens {
        operator: Some(operator),
        tokens: operators::all(state, acting)
            .await?
            .iter()
            .map(|a| TokenRow::of(state, a))
            .collect(),
        made,
        fields: vec![
            field(
                "name",
                "Nombre de quien lo usará",
                "Una persona o un programa con responsable, por ejemplo «Carla Vidal» o «permisosctl de turno».",
                form.name.as_deref(),
                errors,
            ),
            field("role", "Rol", "", form.role.as_deref(), errors),
            field(
                "days",
                "Vigencia en días",
                "Entre 1 y 365; 90 si se deja vacío.",
                form.days.as_deref(),
                errors,
            ),
        ],
        roles: Role::ALL.map(Role::code),
    })
}

/// `GET /operadores` (*administración*): every token, the listing recorded.
pub async fn tokens(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
) -> Result<Html<String>, PageError> {
    let tokens = tokens_page(
        &state,
        &acting,
        operator,
        None,
        &TokenForm::default(),
        &FieldErrors::new(),
    )
    .await?;
    page(&tokens)
}

/// `POST /operadores` (*administración*): a token made and shown this once.
pub async fn make_token(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<(StatusCode, Html<String>), PageError> {
    same_origin(&headers, state.options.console.home())?;
    let days = form
        .days
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().ok());
    let fields = token_fields(
        FieldErrors::new(),
        form.name.as_deref().unwrap_or_default(),
        form.role.as_deref().unwrap_or_default(),
        days,
    );
    let (status, made, errors) = match fields {
        Ok((name, role, days)) => {
            let (account, token) = operators::make(&state, &acting, name, role, days).await?;
            let made = (account.name.as_str().to_owned(), token);
            (StatusCode::CREATED, Some(made), FieldErrors::new())
        }
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors),
        Err(other) => return Err(other.into()),
    };
    let shown = if made.is_some() { &TokenForm::default() } else { &form };
    let tokens = tokens_page(&state, &acting, operator, made, shown, &errors).await?;
    Ok((status, page(&tokens)?))
}

/// `POST /operadores/revocar` (*administración*): a token revoked; back to the list.
pub async fn revoke_token(
    State(state): State<IssuerState>,
    acting: Acting,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Redirect, PageError> {
    same_origin(&headers, state.options.console.home())?;
    operators::withdraw(&state, &acting, form.id.as_deref().unwrap_or_default()).await?;
    Ok(Redirect::to("/operadores"))
}
