//! The console's page of the Paso a Paso schedule (*administración*): a change is first
//! previewed (which comuna, from when, what changes for its citizens), then published
//! through the same `Change::publish` as the API, so it is audit-logged the same way.

use askama::Template;
use axum::extract::{Extension, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use permit_domain::{FieldErrors, Phase};
use permit_web::PageError;
use serde::Deserialize;

use super::session::SignedIn;
use crate::IssuerState;
use crate::audit::Acting;
use crate::pages::{FieldView, same_origin};
use crate::phases::{Change, Preview, Row, rows};

/// What the schedule form was sent with; `confirm` once its preview was seen.
#[derive(Default, Deserialize)]
pub struct PhaseForm {
    comuna: Option<String>,
    phase: Option<String>,
    from: Option<String>,
    at: Option<String>,
    confirm: Option<String>,
}

impl PhaseForm {
    fn texts(&self) -> [String; 4] {
        [&self.comuna, &self.phase, &self.from, &self.at].map(|text| text.clone().unwrap_or_default())
    }
}

#[derive(Template)]
#[template(path = "console/phases.html")]
struct PhasesPage {
    operator: Option<SignedIn>,
    fields: Vec<FieldView>,
    /// The phase chosen in the form, by code.
    chosen: String,
    phases: [Phase; 5],
    /// A change not yet published, and the form's values its confirmation carries.
    preview: Option<(Preview, [String; 4])>,
    published: Option<Preview>,
    rows: Vec<Row>,
}

impl PhasesPage {
    fn new(state: &IssuerState, operator: SignedIn, form: &PhaseForm, errors: &FieldErrors) -> PhasesPage {
        let field = |name, label, hint, value: &Option<String>| FieldView {
            name,
            label,
            hint,
            autocomplete: "off",
            value: value.clone().unwrap_or_default(),
            error: errors.get(name).map(ToString::to_string),
        };
        PhasesPage {
            operator: Some(operator),
            fields: vec![
                field("comuna", "Comuna", "Una de las 346, por nombre o código.", &form.comuna),
                field("phase", "Fase", "", &form.phase),
                field("from", "Desde el día", "Por ejemplo: 2026-12-10.", &form.from),
                field(
                    "at",
                    "A la hora",
                    "05:00 si se deja vacío, como el ministerio.",
                    &form.at,
                ),
            ],
            chosen: form.phase.clone().unwrap_or_default(),
            phases: Phase::ALL,
            preview: None,
            published: None,
            rows: rows(state, state.ctx.now()),
        }
    }
}

fn page(template: &PhasesPage) -> Result<Html<String>, PageError> {
    Ok(Html(template.render()?))
}

/// `GET /fases`: the form, and every comuna's phase and next change.
pub async fn schedule(
    State(state): State<IssuerState>,
    Extension(operator): Extension<SignedIn>,
) -> Result<Html<String>, PageError> {
    page(&PhasesPage::new(
        &state,
        operator,
        &PhaseForm::default(),
        &FieldErrors::new(),
    ))
}

/// `POST /fases`: the preview of a change, or, confirmed, its publication (`201`).
pub async fn publish(
    State(state): State<IssuerState>,
    acting: Acting,
    Extension(operator): Extension<SignedIn>,
    headers: HeaderMap,
    Form(form): Form<PhaseForm>,
) -> Result<(StatusCode, Html<String>), PageError> {
    same_origin(&headers, state.options.console.home())?;
    let change = match Change::parse(&form.texts(), state.ctx.now(), &state) {
        Ok(change) => change,
        Err(errors) => {
            let page = page(&PhasesPage::new(&state, operator, &form, &errors))?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    if form.confirm.as_deref() != Some("1") {
        let mut shown = PhasesPage::new(&state, operator, &form, &FieldErrors::new());
        shown.preview = Some((change.preview(&state), form.texts()));
        return Ok((StatusCode::OK, page(&shown)?));
    }
    let published = change.publish(&state, &acting).await?;
    let mut shown = PhasesPage::new(&state, operator, &PhaseForm::default(), &FieldErrors::new());
    shown.published = Some(published);
    Ok((StatusCode::CREATED, page(&shown)?))
}
