//! A permit request from a JSON body, with a field-by-field error for each wrong type.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use permit_domain::{FieldError, FieldErrors, Operator, PermitForm, Reason, Role};
use permit_web::AppError;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A permit request. Each field is read as any JSON value, so that a missing field or one of
/// the wrong type is named in a 422 instead of failing the whole body. Other fields are ignored.
#[derive(Deserialize, ToSchema)]
pub struct CreatePermit {
    /// Full name as on the identity card: letters, spaces, apostrophes, hyphens; 2–80 characters.
    #[schema(value_type = String, required = true, example = "Ana María Rojas")]
    name: Option<Value>,
    /// Chilean RUT, with or without dots, check digit after a hyphen.
    #[schema(value_type = String, required = true, example = "12.345.678-5")]
    rut: Option<Value>,
    /// A motive code (`GET /` lists them with their durations).
    #[schema(value_type = String, required = true, example = "compras")]
    motive: Option<Value>,
    /// Where the citizen leaves from; 3–120 characters.
    #[schema(value_type = String, required = true, example = "Av. Grecia 1234, depto. 5")]
    address: Option<Value>,
    /// The comuna of the address: one of Chile's 346, by its name (accents and capitals as
    /// you like: `Nunoa` is Ñuñoa) or its código único territorial (`13120`).
    #[schema(value_type = String, required = true, example = "Ñuñoa")]
    comuna: Option<Value>,
}

/// A JSON object from a body sent as `application/json`: 415 for another type, 400 for
/// what is not JSON or not an object.
fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Map<String, Value>, AppError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType);
    }
    // Through a map, so that only an object is read: serde would take a struct from an array too.
    serde_json::from_slice(body).map_err(|e: serde_json::Error| AppError::Malformed(e.to_string()))
}

pub fn permit_form(headers: &HeaderMap, body: &Bytes) -> Result<PermitForm, AppError> {
    let body = CreatePermit::deserialize(Value::Object(json_object(headers, body)?)).map_err(malformed)?;
    let (form, errors) = body.form();
    checked(form, errors)
}

fn malformed(error: serde_json::Error) -> AppError {
    AppError::Malformed(error.to_string())
}

impl CreatePermit {
    /// The fields as text, and the ones that were not text.
    fn form(self) -> (PermitForm, FieldErrors) {
        let mut errors = FieldErrors::new();
        let form = PermitForm {
            name: text(&mut errors, "name", self.name),
            rut: text(&mut errors, "rut", self.rut),
            motive: text(&mut errors, "motive", self.motive),
            address: text(&mut errors, "address", self.address),
            comuna: text(&mut errors, "comuna", self.comuna),
        };
        (form, errors)
    }
}

fn text(errors: &mut FieldErrors, field: &'static str, value: Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => {
            errors.insert(field, FieldError::Invalid("debe ser texto"));
            String::new()
        }
    }
}

/// `form` if nothing was wrong; otherwise every field to fix, the form's own checks too.
fn checked(form: PermitForm, errors: FieldErrors) -> Result<PermitForm, AppError> {
    if errors.is_empty() {
        return Ok(form);
    }
    // Report the other fields too, so one answer lists everything to fix.
    let mut all = form.parse().err().unwrap_or_default();
    all.extend(errors);
    Err(AppError::Invalid(all))
}

/// A permit issued at a counter: the citizen's fields, as shown on their ID card, and the
/// operator who checked it.
#[derive(Deserialize, ToSchema)]
pub struct AssistedPermit {
    #[serde(flatten)]
    permit: CreatePermit,
    /// The operator's name and post, 3–100 characters; recorded in the permit.
    #[schema(value_type = String, required = true, example = "Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa")]
    operator: Option<Value>,
}

pub fn assisted_permit(headers: &HeaderMap, body: &Bytes) -> Result<(PermitForm, Operator), AppError> {
    let body = AssistedPermit::deserialize(Value::Object(json_object(headers, body)?)).map_err(malformed)?;
    let (form, mut errors) = body.permit.form();
    let operator = Operator::parse(&text(&mut errors, "operator", body.operator));
    if let Err(problem) = &operator {
        errors.entry("operator").or_insert(problem.clone());
    }
    match (checked(form, errors)?, operator) {
        (form, Ok(operator)) => Ok((form, operator)),
        // Not reached: a wrong operator is among the errors `checked` reports.
        (_, Err(problem)) => Err(AppError::Invalid(FieldErrors::from([("operator", problem)]))),
    }
}

/// A legal hold's request: why the permit must be kept.
#[derive(Deserialize, ToSchema)]
pub struct HoldRequest {
    /// The order behind the hold (a court's or prosecutor's, by its case number), 3–200
    /// characters. Name no person in it.
    #[schema(value_type = String, required = true, example = "RIT 1234-2026, Juzgado de Garantía de Santiago")]
    reason: Option<Value>,
}

/// A revocation's request, optional: why the permit is revoked.
#[derive(Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// Why, 3–200 characters: recorded in the audit log with the revocation.
    #[schema(value_type = Option<String>, example = "Permiso obtenido con datos falsos")]
    reason: Option<Value>,
}

/// A revocation's reason: none without a body (or without `reason`); else 3–200 characters.
pub fn revoke_reason(headers: &HeaderMap, body: &Bytes) -> Result<Option<Reason>, AppError> {
    if body.is_empty() {
        return Ok(None);
    }
    let body = RevokeRequest::deserialize(Value::Object(json_object(headers, body)?)).map_err(malformed)?;
    let mut errors = FieldErrors::new();
    let reason = text(&mut errors, "reason", body.reason);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    if reason.trim().is_empty() {
        return Ok(None);
    }
    Reason::parse(&reason)
        .map(Some)
        .map_err(|problem| AppError::Invalid(FieldErrors::from([("reason", problem)])))
}

/// The `reason` of a legal hold's request, trimmed: 3–200 characters, none a control.
pub fn hold_reason(headers: &HeaderMap, body: &Bytes) -> Result<String, AppError> {
    let object = json_object(headers, body)?;
    let body = HoldRequest::deserialize(Value::Object(object)).map_err(malformed)?;
    let invalid = |problem| AppError::Invalid(FieldErrors::from([("reason", problem)]));
    match &body.reason {
        None | Some(Value::Null) => Err(invalid(FieldError::Required)),
        Some(Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                Err(invalid(FieldError::Required))
            } else if !(3..=200).contains(&text.chars().count()) || text.chars().any(char::is_control) {
                Err(invalid(FieldError::Invalid(
                    "debe tener de 3 a 200 caracteres, sin saltos de línea",
                )))
            } else {
                Ok(text.to_owned())
            }
        }
        Some(_) => Err(invalid(FieldError::Invalid("debe ser texto"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        headers
    }

    #[test]
    fn wrong_types_are_named_by_field() {
        let body = Bytes::from_static(br#"{"name": 5, "rut": ["x"], "motive": "compras"}"#);
        let Err(AppError::Invalid(errors)) = permit_form(&json_headers(), &body) else {
            panic!()
        };
        assert_eq!(errors["name"], FieldError::Invalid("debe ser texto"));
        assert_eq!(errors["rut"], FieldError::Invalid("debe ser texto"));
        assert_eq!(errors["address"], FieldError::Required);
        assert!(!errors.contains_key("motive"));
    }

    #[test]
    fn non_json_bodies_and_content_types_are_refused() {
        assert!(matches!(
            permit_form(&HeaderMap::new(), &Bytes::new()),
            Err(AppError::UnsupportedMediaType)
        ));
        assert!(matches!(
            permit_form(&json_headers(), &Bytes::from_static(b"{")),
            Err(AppError::Malformed(_))
        ));
        assert!(matches!(
            permit_form(&json_headers(), &Bytes::from_static(b"[]")),
            Err(AppError::Malformed(_))
        ));
    }

    const FIELDS: [&str; 5] = ["name", "rut", "motive", "address", "comuna"];

    /// Any JSON value a client might put in a field, or none at all.
    fn field_value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            "\\PC{0,30}".prop_map(|s| Some(Value::String(s))),
            any::<i64>().prop_map(|n| Some(json!(n))),
            any::<bool>().prop_map(|b| Some(json!(b))),
            Just(Some(json!(["x"]))),
            Just(Some(json!({"nested": "x"}))),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_refused_cleanly_unless_a_json_object(
            body in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let parsed = permit_form(&json_headers(), &Bytes::from(body.clone()));
            let is_object = matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_)));
            match parsed {
                Err(AppError::Malformed(_)) => prop_assert!(!is_object),
                Ok(_) | Err(AppError::Invalid(_)) => prop_assert!(is_object),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn exactly_the_fields_that_are_not_text_are_named_so(
            values in proptest::collection::vec(field_value(), 5)
        ) {
            let object: serde_json::Map<String, Value> = FIELDS
                .iter()
                .zip(&values)
                .filter_map(|(field, value)| value.clone().map(|v| ((*field).to_owned(), v)))
                .collect();
            let body = Bytes::from(serde_json::to_vec(&object).unwrap());
            let not_text: Vec<&str> = FIELDS
                .iter()
                .zip(&values)
                .filter(|(_, value)| matches!(value, Some(v) if !v.is_string() && !v.is_null()))
                .map(|(field, _)| *field)
                .collect();
            match permit_form(&json_headers(), &body) {
                Ok(form) => {
                    prop_assert!(not_text.is_empty());
                    for (field, value) in FIELDS.iter().zip(&values) {
                        let expected = value.as_ref().and_then(Value::as_str).unwrap_or("");
                        let got = match *field {
                            "name" => &form.name,
                            "rut" => &form.rut,
                            "motive" => &form.motive,
                            "address" => &form.address,
                            _ => &form.comuna,
                        };
                        prop_assert_eq!(got.as_str(), expected);
                    }
                }
                Err(AppError::Invalid(errors)) => {
                    prop_assert!(!not_text.is_empty());
                    for field in FIELDS {
                        let named_as_not_text = errors.get(field) == Some(&FieldError::Invalid("debe ser texto"));
                        prop_assert_eq!(named_as_not_text, not_text.contains(&field), "{}", field);
                    }
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}

/// A Paso a Paso change to publish: from which day (and time), which comuna, which phase.
#[derive(Deserialize, ToSchema)]
pub struct PhaseRequest {
    /// The comuna, by name (however accented) or código único territorial.
    #[schema(value_type = String, required = true, example = "Ñuñoa")]
    comuna: Option<Value>,
    /// `cuarentena`, `transicion`, `preparacion`, `apertura-inicial`, `apertura-avanzada`,
    /// or the phase's number, 1–5.
    #[schema(value_type = String, required = true, example = "transicion")]
    phase: Option<Value>,
    /// The day it takes effect, in Chile, after today's publication (`2026-12-10`).
    #[schema(value_type = String, required = true, example = "2026-12-10")]
    from: Option<Value>,
    /// The local time it takes effect, `HH:MM`; 05:00 when absent.
    #[schema(value_type = Option<String>, example = "05:00")]
    at: Option<Value>,
}

/// A phase change's texts, each wrong type named (their values are `phases::Change`'s to judge).
pub fn phase_request(headers: &HeaderMap, body: &Bytes) -> Result<[String; 4], AppError> {
    let body = PhaseRequest::deserialize(Value::Object(json_object(headers, body)?)).map_err(malformed)?;
    let mut errors = FieldErrors::new();
    let texts = [
        text(&mut errors, "comuna", body.comuna),
        text(&mut errors, "phase", body.phase),
        text(&mut errors, "from", body.from),
        text(&mut errors, "at", body.at),
    ];
    if errors.is_empty() {
        Ok(texts)
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// A new operator token's request: for whom, which role, for how long.
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The operator's name and post, 3–100 characters, as the audit log will name them.
    #[schema(value_type = String, required = true, example = "Cabo 1° M. Pérez, Prefectura Santiago Oriente")]
    name: Option<Value>,
    /// `consulta`, `revocacion`, `asistencia` or `administracion` (accents accepted).
    #[schema(value_type = String, required = true, example = "consulta")]
    role: Option<Value>,
    /// Days until it expires, 1–365; 90 when absent.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 365, example = 30)]
    days: Option<Value>,
}

/// The longest an operator token lasts, and how long when the request says nothing.
const MOST_DAYS: u64 = 365;
const DEFAULT_DAYS: u64 = 90;

/// A token request's name, role and lifetime in days, each wrong field named.
pub fn token_request(headers: &HeaderMap, body: &Bytes) -> Result<(Operator, Role, u64), AppError> {
    let body = TokenRequest::deserialize(Value::Object(json_object(headers, body)?)).map_err(malformed)?;
    let mut errors = FieldErrors::new();
    let name = text(&mut errors, "name", body.name);
    let role = text(&mut errors, "role", body.role);
    let days = match body.days {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64()),
    };
    token_fields(errors, &name, &role, days)
}

/// A token's fields, from JSON or the console's form, each named in `errors` when wrong:
/// `days` absent is the default, `Some(None)` not a number.
pub fn token_fields(
    mut errors: FieldErrors,
    name: &str,
    role_text: &str,
    days: Option<Option<u64>>,
) -> Result<(Operator, Role, u64), AppError> {
    let name = Operator::parse(name);
    if let Err(problem) = &name {
        errors.entry("name").or_insert(problem.clone());
    }
    let role = Role::parse(role_text);
    if role.is_none() {
        errors.entry("role").or_insert(if role_text.trim().is_empty() {
            FieldError::Required
        } else {
            FieldError::Invalid("debe ser consulta, revocacion, asistencia o administracion")
        });
    }
    let days = match days {
        None => Some(DEFAULT_DAYS),
        Some(days) => days.filter(|d| (1..=MOST_DAYS).contains(d)),
    };
    if days.is_none() {
        errors.insert("days", FieldError::Invalid("debe ser un número de días entre 1 y 365"));
    }
    match (name, role, days) {
        (Ok(name), Some(role), Some(days)) if errors.is_empty() => Ok((name, role, days)),
        _ => Err(AppError::Invalid(errors)),
    }
}
