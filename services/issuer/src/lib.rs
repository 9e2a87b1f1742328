//! The issuer: `formulario.<domain>`.

mod admin;
mod api;
mod issue;
mod json_body;
mod openapi;
mod options;
mod pages;
mod qr;

use std::net::SocketAddr;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use permit_web::{AppError, Context, assets, harden};

pub use admin::AdminToken;
pub use options::Options;

#[derive(Clone)]
pub struct IssuerState {
    ctx: Context,
    options: Options,
}

impl IssuerState {
    /// The operator's endpoints exist only with `ADMIN_TOKEN` set, and answer only to it.
    fn operator(&self, headers: &HeaderMap) -> Result<(), AppError> {
        self.options.admin.as_ref().ok_or(AppError::NotFound)?.check(headers)
    }

    /// Counts a permit request against its client's rate limit, if one is set.
    fn admit(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<(), AppError> {
        match &self.options.create_limit {
            Some(limiter) => limiter.admit(peer.ip(), headers),
            None => Ok(()),
        }
    }
}

/// Every public route of the issuer, with the shared protections around them.
pub fn router(ctx: Context, options: Options) -> Router {
    let (metrics, limits) = (ctx.metrics.clone(), ctx.limits);
    let routes = Router::new()
        .route("/", get(pages::landing))
        .route("/nuevo", get(pages::form).post(pages::submit))
        .route("/permiso/{id}", get(pages::permit))
        .route("/api/create", post(api::create))
        .route("/api/all", get(api::all))
        .route("/api/permits/{id}/revoke", post(api::revoke))
        .merge(assets::routes())
        .merge(permit_web::openapi::routes(&openapi::document()))
        .with_state(IssuerState { ctx, options });
    harden(routes, metrics, limits)
}
