//! The validator's own errors as HTTP answers, mapped once, here, as the issuer maps its
//! own in its `errors.rs`. The shared ones are `permit_web::AppError`'s.

use axum::http::StatusCode;
use permit_token::Rejection;
use permit_web::{AppError, ServiceError};

/// A token that is not a genuine permit: forged, altered, truncated, or signed with a key
/// this validator does not accept.
#[derive(Debug)]
pub struct NotGenuine(pub Rejection);

impl From<NotGenuine> for AppError {
    fn from(NotGenuine(rejection): NotGenuine) -> AppError {
        AppError::Service(ServiceError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_token",
            message: "Este permiso no es válido: no fue firmado por el emisor o fue alterado.".into(),
            retry_after_secs: None,
            challenge: None,
            detail: format!("signed permit refused: {rejection}"),
        })
    }
}
