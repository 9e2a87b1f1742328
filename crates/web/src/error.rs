//! Every error the HTTP edge can meet, mapped once to a status, a stable machine code and a
//! Spanish message. JSON clients get `{"code", "message", "errors"}`; browsers get a page.
//! Internal details go to the log, never to the client.

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use permit_domain::{FieldErrors, Refusal};
use permit_store::StoreError;

use crate::openapi::ErrorBody;

/// How long clients are told to wait when the database is unavailable.
const UNAVAILABLE_RETRY_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid fields")]
    Invalid(FieldErrors),
    #[error("malformed request body: {0}")]
    Malformed(String),
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("not found")]
    NotFound,
    #[error("missing or wrong admin token")]
    Unauthorized,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many requests in flight; shed")]
    Overloaded,
    #[error("request took longer than the timeout")]
    TimedOut,
    #[error("a request with this idempotency key is being answered")]
    KeyInProgress,
    #[error("idempotency key used with a different request")]
    KeyMismatch,
    #[error("form posted from another site")]
    CrossSite,
    #[error("client over its rate limit")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Refused(Refusal),
    #[error(transparent)]
    Store(StoreError),
    #[error("page rendering failed")]
    Render(#[from] askama::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused(refusal) => AppError::Refused(refusal),
            other => AppError::Store(other),
        }
    }
}

impl AppError {
    /// The error behind a bare status from a layer or an extractor.
    pub fn from_status(status: StatusCode) -> AppError {
        match status {
            StatusCode::NOT_FOUND => AppError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
            StatusCode::UNAUTHORIZED => AppError::Unauthorized,
            StatusCode::SERVICE_UNAVAILABLE => AppError::Overloaded,
            s if s.is_client_error() => AppError::Malformed(s.to_string()),
            s => AppError::Internal(s.to_string()),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        AppError::Refused(refusal)
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_)
            | AppError::KeyMismatch
            | AppError::Refused(Refusal::Curfew { .. } | Refusal::NeverOutsideCurfew { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Refused(Refusal::WeeklyLimit { .. }) | AppError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::KeyInProgress => StatusCode::CONFLICT,
            AppError::CrossSite => StatusCode::FORBIDDEN,
            AppError::Store(StoreError::Unavailable(_)) | AppError::Overloaded | AppError::TimedOut => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Store(_) | AppError::Render(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable, for programs.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid_fields",
            AppError::Refused(Refusal::Curfew { .. }) => "curfew",
            AppError::Refused(Refusal::NeverOutsideCurfew { .. }) => "longer_than_curfew_allows",
            AppError::Refused(Refusal::WeeklyLimit { .. }) => "weekly_limit_reached",
            AppError::Malformed(_) => "malformed_body",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::PayloadTooLarge => "body_too_large",
            AppError::NotFound => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::KeyInProgress => "idempotency_key_in_progress",
            AppError::KeyMismatch => "idempotency_key_reused",
            AppError::CrossSite => "cross_site_request",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Overloaded => "overloaded",
            AppError::TimedOut => "timeout",
            AppError::Store(StoreError::Unavailable(_)) => "unavailable",
            AppError::Store(_) | AppError::Render(_) | AppError::Internal(_) => "internal",
        }
    }

    /// For people, in Spanish; never carries internal details.
    pub fn message(&self) -> String {
        match self {
            AppError::Invalid(_) => "Revisa los campos marcados.".into(),
            AppError::Refused(refusal) => refusal.to_string(),
            AppError::Malformed(_) => "No se pudo leer la solicitud: el cuerpo no tiene el formato esperado.".into(),
            AppError::UnsupportedMediaType => "Tipo de contenido no admitido.".into(),
            AppError::PayloadTooLarge => "La solicitud es demasiado grande.".into(),
            AppError::NotFound => "No encontramos lo que buscas.".into(),
            AppError::Unauthorized => "Se requiere un token de administración válido.".into(),
            AppError::MethodNotAllowed => "Método no permitido en esta dirección.".into(),
            // Also what a citizen reads who sends the form again while the first submit is
            // still being answered, so it speaks of their request, not of keys.
            AppError::KeyInProgress => {
                "Tu solicitud anterior todavía se está procesando. Inténtalo de nuevo en unos segundos.".into()
            }
            AppError::KeyMismatch => "Esta clave de idempotencia ya se usó con otra solicitud.".into(),
            AppError::CrossSite => "El formulario se envió desde otro sitio. Ábrelo aquí y envíalo de nuevo.".into(),
            AppError::RateLimited { retry_after_secs } => format!(
                "Se enviaron demasiadas solicitudes desde tu conexión. Espera {retry_after_secs} {} y vuelve a intentarlo.",
                if *retry_after_secs == 1 { "segundo" } else { "segundos" }
            ),
            AppError::Overloaded => {
                "Hay demasiadas solicitudes en este momento. Inténtalo de nuevo en unos segundos.".into()
            }
            AppError::TimedOut => "La solicitud tardó demasiado. Inténtalo de nuevo en unos segundos.".into(),
            AppError::Store(StoreError::Unavailable(_)) => {
                "El servicio no está disponible en este momento. Inténtalo de nuevo en unos segundos.".into()
            }
            AppError::Store(_) | AppError::Render(_) | AppError::Internal(_) => {
                "Ocurrió un error inesperado. Inténtalo de nuevo.".into()
            }
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Refused(refusal) => refusal.retry_after().map(|d| d.as_secs().max(1).unsigned_abs()),
            AppError::Store(StoreError::Unavailable(_)) | AppError::TimedOut => Some(UNAVAILABLE_RETRY_SECS),
            AppError::Overloaded | AppError::KeyInProgress => Some(1),
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(error = %ErrorChain(self), code = self.code(), "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), "request refused");
        }
    }

    /// Logs the error and gives `response` its status and headers (`Retry-After`, `WWW-Authenticate`).
    pub fn decorate(&self, mut response: Response) -> Response {
        self.log();
        *response.status_mut() = self.status();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let AppError::Unauthorized = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// JSON rendering, for `/api/*`.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let errors = match &self {
            AppError::Invalid(fields) => fields.iter().map(|(k, v)| ((*k).to_owned(), v.to_string())).collect(),
            _ => Default::default(),
        };
        let body = ErrorBody {
            code: self.code(),
            message: self.message(),
            errors,
        };
        self.decorate(Json(body).into_response())
    }
}

/// The same errors as a page, for browsers.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(error: E) -> Self {
        PageError(error.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let title = match status {
            StatusCode::NOT_FOUND => "No encontrado",
            StatusCode::SERVICE_UNAVAILABLE => "Servicio no disponible",
            s if s.is_server_error() => "Error inesperado",
            _ => "No se pudo completar la solicitud",
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: self.0.message(),
        };
        // Rendering this fixed template cannot fail in practice; a plain body is the fallback.
        let html = page.render().unwrap_or_else(|_| page.message.clone());
        self.0.decorate(Html(html).into_response())
    }
}

/// Displays an error with its sources, for the log.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_documented_code_and_a_spanish_message_without_details() {
        let readme = include_str!("../../../README.md");
        let errors = [
            AppError::Invalid(FieldErrors::new()),
            AppError::Malformed("expected value at line 1".into()),
            AppError::UnsupportedMediaType,
            AppError::PayloadTooLarge,
            AppError::NotFound,
            AppError::Unauthorized,
            AppError::MethodNotAllowed,
            AppError::Overloaded,
            AppError::TimedOut,
            AppError::KeyInProgress,
            AppError::KeyMismatch,
            AppError::CrossSite,
            AppError::RateLimited { retry_after_secs: 1 },
            AppError::Internal("connection pool poisoned".into()),
        ];
        let mut codes: Vec<&str> = errors.iter().map(AppError::code).collect();
        for error in &errors {
            let row = format!("| {} | `{}` |", error.status().as_u16(), error.code());
            assert!(readme.contains(&row), "README's error table lacks {row}");
            let message = error.message();
            assert!(message.ends_with('.'), "{message}");
            assert_ne!(message, error.to_string(), "the message is not the internal text");
            assert!(!message.contains("line 1") && !message.contains("pool"), "{message}");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len(), "codes are unique");
    }
}
