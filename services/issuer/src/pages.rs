//! The citizen's pages: landing, form, and the issued permit with its QR code.

use std::time::{Duration, Instant};

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use permit_domain::{
    Comuna, FieldErrors, IssuedUnder, Motive, Permit, PermitForm, PermitId, Phase, Policy, time_of_day,
};
use permit_web::{AppError, PageError};
use serde::Deserialize;

use axum_extra::extract::PrivateCookieJar;

use crate::IssuerState;
use crate::errors::CrossSite;
use crate::issue::{IdempotencyKey, IssueError, issue_once};
use crate::phases::Notice;
use crate::qr;
use crate::sign_in::{self, Identity};

struct MotiveRow {
    code: &'static str,
    label: &'static str,
    duration: String,
    cap: Option<u32>,
}

/// The catalogue, with each motive's duration where the citizen's comuna is: its phase's
/// under the version in force, when `under` names one; else the catalogue's.
fn motive_rows(under: Option<(&Policy, Phase)>) -> Vec<MotiveRow> {
    Motive::individual()
        .map(|m| MotiveRow {
            code: m.code(),
            label: m.label(),
            duration: match under {
                Some((policy, phase)) => policy.duration_label(phase, m),
                None => m.duration_label(),
            },
            cap: m.weekly_cap(),
        })
        .collect()
}

/// The rules in force, in words, so nobody meets a refusal they were not told about.
struct RulesView {
    start_delay_minutes: i64,
    weekly_limit: Option<u32>,
    curfew: Option<String>,
}

impl RulesView {
    fn of(state: &IssuerState) -> RulesView {
        let rules = &state.ctx.rules;
        RulesView {
            start_delay_minutes: rules.start_delay.as_mins(),
            weekly_limit: rules.weekly_limit,
            curfew: rules
                .curfew
                .map(|c| format!("{} a {}", time_of_day(c.start), time_of_day(c.end))),
        }
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    demo: bool,
    rules: RulesView,
    motives: Vec<MotiveRow>,
    validator_home: String,
}

pub async fn landing(State(state): State<IssuerState>) -> Result<Html<String>, PageError> {
    let page = Landing {
        demo: state.options.sign_in.demo(),
        rules: RulesView::of(&state),
        motives: motive_rows(None),
        validator_home: state.ctx.links.validator_home().to_owned(),
    };
    Ok(Html(page.render()?))
}

/// One input of the form, with what the citizen typed and what is wrong with it.
pub(crate) struct FieldView {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) hint: &'static str,
    pub(crate) autocomplete: &'static str,
    pub(crate) value: String,
    pub(crate) error: Option<String>,
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    demo: bool,
    /// The signed-in citizen the permit will name, as `(name, RUT)`.
    identity: Option<(String, String)>,
    fields: Vec<FieldView>,
    motives: Vec<MotiveRow>,
    alert: Option<String>,
    rules: RulesView,
    /// One per form shown: submitting the same page twice issues one permit.
    token: String,
    /// The comuna field's suggestions (`COMUNA_OPTIONS`).
    comunas: &'static str,
    /// The typed comuna's phase and what it asks, once there is a comuna.
    phase: Option<Notice>,
}

/// Every comuna of the catalogue as a `<datalist>`'s options, escaped once at first use
/// rather than 346 times per form.
static COMUNA_OPTIONS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    permit_domain::Comuna::all()
        .map(|c| {
            let name = c
                .as_str()
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            format!(r#"<option value="{name}">"#)
        })
        .collect()
});

impl FormPage {
    fn new(
        state: &IssuerState,
        identity: Option<&Identity>,
        form: &PermitForm,
        errors: &FieldErrors,
        alert: Option<String>,
        token: &str,
    ) -> FormPage {
        let field = |name, label, hint, autocomplete, value: &str| FieldView {
            name,
            label,
            hint,
            autocomplete,
            value: value.to_owned(),
            error: errors.get(name).map(ToString::to_string),
        };
        // Who the permit names comes from the identity when there is one, not from the form.
        let mut fields = match identity {
            Some(_) => vec![],
            None => vec![
                field(
                    "name",
                    "Nombre completo",
                    "Como aparece en tu cédula de identidad.",
                    "name",
                    &form.name,
                ),
                field("rut", "RUT", "Por ejemplo: 12.345.678-5", "off", &form.rut),
            ],
        };
        fields.extend([
            field(
                "motive",
                "Motivo",
                "La duración del permiso depende del motivo.",
                "off",
                &form.motive,
            ),
            field(
                "address",
                "Dirección de salida",
                "Calle, número y departamento si corresponde.",
                "street-address",
                &form.address,
            ),
            field(
                "comuna",
                "Comuna",
                "Una de las 346 comunas de Chile, por ejemplo: Ñuñoa.",
                "address-level2",
                &form.comuna,
            ),
        ]);
        let now = state.ctx.now();
        let phase = Comuna::parse(&form.comuna)
            .ok()
            .map(|comuna| Notice::of(state, comuna, now));
        let policy = state.policies.in_force(now);
        FormPage {
            demo: state.options.sign_in.demo(),
            identity: identity.map(|who| (who.name.as_str().to_owned(), who.rut.to_string())),
            fields,
            motives: motive_rows(phase.as_ref().and_then(|n| n.phase).map(|phase| (policy, phase))),
            alert,
            rules: RulesView::of(state),
            token: token.to_owned(),
            comunas: &COMUNA_OPTIONS,
            phase,
        }
    }
}

/// Asks the citizen to sign in first, where sign-in is on.
#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    demo: bool,
    alert: Option<String>,
}

pub(crate) fn sign_in_page(alert: Option<String>) -> Result<Html<String>, PageError> {
    Ok(Html(SignInPage { demo: false, alert }.render()?))
}

#[derive(Deserialize)]
pub struct FormQuery {
    /// A comuna to start with (the `/fases` page links each one's CUT): its phase is shown.
    comuna: Option<String>,
}

pub async fn form(
    State(state): State<IssuerState>,
    jar: PrivateCookieJar,
    Query(query): Query<FormQuery>,
) -> Result<Response, PageError> {
    let identity = match sign_in::citizen(&state, &jar) {
        Ok(identity) => identity,
        Err(_) => return Ok(sign_in_page(None)?.into_response()),
    };
    let mut form = PermitForm::default();
    let mut errors = FieldErrors::new();
    if let Some(comuna) = query.comuna.filter(|c| !c.trim().is_empty()) {
        match Comuna::parse(&comuna) {
            Ok(known) => form.comuna = known.as_str().to_owned(),
            Err(error) => {
                errors.insert("comuna", error);
                form.comuna = comuna;
            }
        }
    }
    let page = FormPage::new(
        &state,
        identity.as_ref(),
        &form,
        &errors,
        None,
        PermitId::generate().as_str(),
    );
    Ok(Html(page.render()?).into_response())
}

/// The form as posted: the permit fields and the page's one-time token.
#[derive(Deserialize)]
pub struct Submitted {
    #[serde(flatten)]
    form: PermitForm,
    #[serde(default)]
    token: String,
}

/// How long a second submit of the same page waits for the first to finish.
const DOUBLE_SUBMIT_WAIT: Duration = Duration::from_secs(3);

/// Works with JavaScript off: success redirects to the permit (303), anything the citizen
/// can fix shows the form again with their values and a message beside each field. The
/// page's token makes a double submit, or a resubmit after going back, issue one permit.
pub async fn submit(
    State(state): State<IssuerState>,
    headers: HeaderMap,
    jar: PrivateCookieJar,
    submitted: Result<Form<Submitted>, FormRejection>,
) -> Result<Response, PageError> {
    same_origin(&headers, state.ctx.links.issuer_home())?;
    let identity = match sign_in::citizen(&state, &jar) {
        Ok(identity) => identity,
        Err(error) => {
            let alert = "Tu sesión terminó o no has ingresado. Ingresa de nuevo; luego vuelve a enviar el formulario.";
            let page = sign_in_page(Some(alert.into()))?;
            return Ok(AppError::from(error).decorate(page.into_response()));
        }
    };
    let Form(Submitted { mut form, token }) = submitted.map_err(|rejection| match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        _ => AppError::Malformed(rejection.body_text()),
    })?;
    if let Some(identity) = &identity {
        identity.fill(&mut form);
    }
    let token = PermitId::parse(&token).unwrap_or_else(|_| PermitId::generate());
    let key = IdempotencyKey::Form(token.clone());
    let deadline = Instant::now() + DOUBLE_SUBMIT_WAIT;
    let error = loop {
        match issue_once(&state, &form, &key).await {
            Ok(permit) => return Ok(Redirect::to(&holder_path(&state, &permit.id)).into_response()),
            Err(IssueError::InProgress) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => break error,
        }
    };
    let page = match &error {
        IssueError::Invalid(errors) => FormPage::new(&state, identity.as_ref(), &form, errors, None, token.as_str()),
        IssueError::Refused(refusal) => FormPage::new(
            &state,
            identity.as_ref(),
            &form,
            &FieldErrors::new(),
            Some(refusal.to_string()),
            token.as_str(),
        ),
        // This page was already sent with other data (back, edit, resend): a fresh page.
        IssueError::KeyReused => {
            let alert = "Este formulario ya se había enviado con otros datos. Revísalos y envíalo de nuevo.";
            FormPage::new(
                &state,
                identity.as_ref(),
                &form,
                &FieldErrors::new(),
                Some(alert.into()),
                PermitId::generate().as_str(),
            )
        }
        _ => return Err(PageError::from(error)),
    };
    Ok(AppError::from(error).decorate(Html(page.render()?).into_response()))
}

/// Refuses a form posted from another site (CSRF). Browsers say where a request comes
/// from in `Sec-Fetch-Site`; older ones at least in `Origin`, which for our own pages is
/// our address (their `Referrer-Policy: same-origin`). `Origin: null` is what a sandboxed
/// frame or a cross-site redirect sends, so it is refused. Clients that send neither are
/// not browsers, and gain nothing from forging a request.
pub(crate) fn same_origin(headers: &HeaderMap, issuer_home: &str) -> Result<(), CrossSite> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let allowed = match (header("sec-fetch-site"), header("origin")) {
        (Some(site), _) => matches!(site, "same-origin" | "none"),
        (None, Some(origin)) => origin == issuer_home,
        (None, None) => true,
    };
    if allowed { Ok(()) } else { Err(CrossSite) }
}

/// The holder's page, relative to the issuer: where the form sends its citizen.
fn holder_path(state: &IssuerState, id: &PermitId) -> String {
    format!("/permiso/{id}?clave={}", state.options.privacy.holder_secret(id))
}

/// A permit's full record, in words and local time: its holder's page and the console's.
pub(crate) struct RecordView {
    pub id: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub name: String,
    pub rut: String,
    pub motive: &'static str,
    pub address: String,
    pub comuna: String,
    pub requested_at: String,
    pub valid_from: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub issued_by: Option<String>,
    /// `Fase 1 · Cuarentena · reglas 2021-04-05`.
    pub issued_under: Option<String>,
    /// A collective permit's firm: `Panadería La Espiga SpA (RUT 76.543.210-3)`.
    pub employer: Option<String>,
}

impl RecordView {
    pub fn of(state: &IssuerState, permit: &Permit) -> RecordView {
        let ctx = &state.ctx;
        let status = permit.status(ctx.now());
        RecordView {
            id: permit.id.to_string(),
            status: status.code(),
            status_label: status.label(),
            name: permit.name.as_str().to_owned(),
            rut: permit.rut.to_string(),
            motive: permit.motive.label(),
            address: permit.address.as_str().to_owned(),
            comuna: permit.comuna.as_str().to_owned(),
            requested_at: ctx.local(permit.requested_at),
            valid_from: ctx.local(permit.valid_from),
            expires_at: ctx.local(permit.expires_at),
            revoked_at: permit.revoked_at.map(|at| ctx.local(at)),
            issued_by: permit.issued_by.as_ref().map(|o| o.as_str().to_owned()),
            issued_under: permit.issued_under.as_ref().map(IssuedUnder::label),
            employer: permit
                .employer
                .as_ref()
                .map(|e| format!("{} (RUT {})", e.name.as_str(), e.rut)),
        }
    }
}

/// The holder's own page: every field, the QR code.
#[derive(Template)]
#[template(path = "permit.html")]
struct HolderPage {
    demo: bool,
    permit: RecordView,
    validation_url: String,
    qr_svg: String,
    /// This page's own address, to keep.
    holder_url: String,
}

/// What anyone holding only the permit's id sees: what a checkpoint sees, no address, no
/// QR code (the QR is the permit: it is shown to its holder only).
#[derive(Template)]
#[template(path = "permit_public.html")]
struct PublicPage {
    demo: bool,
    status_code: &'static str,
    status_label: &'static str,
    name: String,
    rut: String,
    motive: &'static str,
    valid_from: String,
    expires_at: String,
    issued_under: Option<String>,
    /// A `clave` was given and is not this permit's.
    wrong_secret: bool,
}

#[derive(Deserialize)]
pub struct HolderSecret {
    clave: Option<String>,
}

/// A permit's page. Its id alone is no key to the holder's data: the id is in the QR code,
/// which every officer scans and anyone can photograph. The full page needs the holder's
/// secret (`clave`), given only to whoever asked for the permit.
pub async fn permit(
    State(state): State<IssuerState>,
    Path(id): Path<String>,
    Query(secret): Query<HolderSecret>,
) -> Result<Html<String>, PageError> {
    let id = PermitId::parse(&id).map_err(|_| AppError::NotFound)?;
    let permit = state.ctx.store.find(&id).await?.ok_or(AppError::NotFound)?;
    let ctx = &state.ctx;
    let status = permit.status(ctx.now());
    let presented = secret.presented();
    if !presented.is_some_and(|clave| state.options.privacy.opens(&id, clave)) {
        let page = PublicPage {
            demo: state.options.sign_in.demo(),
            status_code: status.code(),
            status_label: status.label(),
            name: permit.name.masked(),
            rut: permit.rut.masked(),
            motive: permit.motive.label(),
            valid_from: ctx.local(permit.valid_from),
            expires_at: ctx.local(permit.expires_at),
            issued_under: permit.issued_under.as_ref().map(IssuedUnder::label),
            wrong_secret: presented.is_some(),
        };
        return Ok(Html(page.render()?));
    }
    let validation_url = state.validation_url(&permit);
    let page = HolderPage {
        demo: state.options.sign_in.demo(),
        permit: RecordView::of(&state, &permit),
        qr_svg: qr::svg_for(&validation_url).unwrap_or_default(),
        validation_url,
        holder_url: state.holder_url(&permit.id),
    };
    Ok(Html(page.render()?))
}

impl HolderSecret {
    fn presented(&self) -> Option<&str> {
        self.clave.as_deref().filter(|c| !c.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::{FromRequest, Request};
    use axum::http::header;
    use proptest::prelude::*;

    async fn decode(body: Vec<u8>) -> Result<Submitted, FormRejection> {
        let request = Request::post("/nuevo")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        Form::<Submitted>::from_request(request, &()).await.map(|Form(s)| s)
    }

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    proptest! {
        #[test]
        fn any_text_typed_into_the_form_arrives_unchanged(
            name in "\\PC{0,40}", rut in "\\PC{0,15}", motive in "\\PC{0,20}",
            address in "\\PC{0,60}", comuna in "\\PC{0,30}", token in "\\PC{0,30}",
        ) {
            let form = PermitForm { name, rut, motive, address, comuna };
            let mut encoded = form::encode(&form);
            encoded.push_str("&token=");
            encoded.push_str(&form::escape(&token));
            let submitted = run(decode(encoded.into_bytes())).unwrap();
            prop_assert_eq!(
                (submitted.form.name, submitted.form.rut, submitted.form.motive),
                (form.name, form.rut, form.motive)
            );
            prop_assert_eq!((submitted.form.address, submitted.form.comuna), (form.address, form.comuna));
            prop_assert_eq!(submitted.token, token);
        }

        #[test]
        fn arbitrary_bodies_decode_or_are_refused_without_panicking(
            body in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            if let Ok(submitted) = run(decode(body)) {
                // Whatever was sent, the form's own checks then name every wrong field.
                let _ = submitted.form.parse();
            }
        }
    }

    /// `application/x-www-form-urlencoded` as browsers write it.
    mod form {
        use permit_domain::PermitForm;

        pub fn escape(text: &str) -> String {
            text.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => (b as char).to_string(),
                    b' ' => "+".to_owned(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        }

        pub fn encode(form: &PermitForm) -> String {
            [
                ("name", &form.name),
                ("rut", &form.rut),
                ("motive", &form.motive),
                ("address", &form.address),
                ("comuna", &form.comuna),
            ]
            .map(|(key, value)| format!("{key}={}", escape(value)))
            .join("&")
        }
    }
}
