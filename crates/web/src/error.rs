//! Every error the HTTP edge can meet, mapped once to a status, a stable machine code and a
//! Spanish message. JSON clients get `{"code", "message", "errors"}`; browsers get a page.
//! The errors both services share are variants here; one service's own errors come in
//! described (`ServiceError`) by that service's edge. Rendering attaches what went wrong
//! to the response, and the request log (`middleware::observe`) writes it down; internal
//! details never reach the client.

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use permit_domain::FieldErrors;
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
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many requests in flight; shed")]
    Overloaded,
    #[error("request took longer than the timeout")]
    TimedOut,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("page rendering failed")]
    Render(#[from] askama::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// An error only one service has, described by it.
    #[error(transparent)]
    Service(ServiceError),
}

/// One service's own error, as its edge describes it for rendering.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ServiceError {
    pub status: StatusCode,
    /// Stable, for programs; listed in the README's error table.
    pub code: &'static str,
    /// For people, in Spanish.
    pub message: String,
    pub retry_after_secs: Option<u64>,
    /// Sent as `WWW-Authenticate` with a 401.
    pub challenge: Option<&'static str>,
    /// For the log.
    pub detail: String,
}

/// What went wrong in a request, left on its response for the request log.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    pub code: &'static str,
    /// The error with its causes; server errors only.
    pub cause: Option<String>,
}

impl AppError {
    /// The error behind a bare status from a layer or an extractor.
    pub fn from_status(status: StatusCode) -> AppError {
        match status {
            StatusCode::NOT_FOUND => AppError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
            StatusCode::SERVICE_UNAVAILABLE => AppError::Overloaded,
            s if s.is_client_error() => AppError::Malformed(s.to_string()),
            s => AppError::Internal(s.to_string()),
        }
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Service(error) => error.status,
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
            AppError::Malformed(_) => "malformed_body",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::PayloadTooLarge => "body_too_large",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Service(error) => error.code,
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
            AppError::Service(error) => error.message.clone(),
            AppError::Malformed(_) => "No se pudo leer la solicitud: el cuerpo no tiene el formato esperado.".into(),
            AppError::UnsupportedMediaType => "Tipo de contenido no admitido.".into(),
            AppError::PayloadTooLarge => "La solicitud es demasiado grande.".into(),
            AppError::NotFound => "No encontramos lo que buscas.".into(),
            AppError::MethodNotAllowed => "Método no permitido en esta dirección.".into(),
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
            AppError::Store(StoreError::Unavailable(_)) | AppError::TimedOut => Some(UNAVAILABLE_RETRY_SECS),
            AppError::Overloaded => Some(1),
            AppError::Service(error) => error.retry_after_secs,
            _ => None,
        }
    }

    /// Gives `response` the error's status and headers (`Retry-After`, `WWW-Authenticate`),
    /// and the report the request log writes down.
    pub fn decorate(&self, mut response: Response) -> Response {
        let status = self.status();
        *response.status_mut() = status;
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let AppError::Service(ServiceError {
            challenge: Some(scheme),
            ..
        }) = self
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        response.extensions_mut().insert(ErrorReport {
            code: self.code(),
            cause: status.is_server_error().then(|| ErrorChain(self).to_string()),
        });
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
