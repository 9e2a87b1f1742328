//! The issuer: `formulario.<domain>`.

mod admin;
mod api;
mod issue;
mod json_body;
mod pages;
mod qr;

use axum::Router;
use axum::routing::{get, post};
use permit_web::{Context, assets, harden};

pub use admin::AdminToken;

#[derive(Clone)]
pub struct IssuerState {
    ctx: Context,
    admin: Option<AdminToken>,
}

/// Every public route of the issuer, with the shared protections around them.
pub fn router(ctx: Context, admin: Option<AdminToken>) -> Router {
    let (metrics, limits) = (ctx.metrics.clone(), ctx.limits);
    let routes = Router::new()
        .route("/", get(pages::landing))
        .route("/nuevo", get(pages::form).post(pages::submit))
        .route("/permiso/{id}", get(pages::permit))
        .route("/api/create", post(api::create))
        .route("/api/all", get(api::all))
        .route("/api/permits/{id}/revoke", post(api::revoke))
        .merge(assets::routes())
        .with_state(IssuerState { ctx, admin });
    harden(routes, metrics, limits)
}
