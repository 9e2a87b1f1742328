//! A permit request from a JSON body, with a field-by-field error for each wrong type.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use permit_domain::{FieldError, FieldErrors, PermitForm};
use permit_web::AppError;
use serde_json::Value;

pub fn permit_form(headers: &HeaderMap, body: &Bytes) -> Result<PermitForm, AppError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| AppError::Malformed(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(AppError::Malformed("the body is not a JSON object".into()));
    };
    let mut errors = FieldErrors::new();
    let mut text = |field: &'static str| match object.get(field) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            errors.insert(field, FieldError::Invalid("debe ser texto"));
            String::new()
        }
    };
    let form = PermitForm {
        name: text("name"),
        rut: text("rut"),
        motive: text("motive"),
        address: text("address"),
        comuna: text("comuna"),
    };
    if errors.is_empty() {
        return Ok(form);
    }
    // Report the other fields too, so one answer lists everything to fix.
    let mut all = form.parse().err().unwrap_or_default();
    all.extend(errors);
    Err(AppError::Invalid(all))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
