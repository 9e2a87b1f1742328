//! The validator: `validar.<domain>`.

mod api;
mod lookup;
mod openapi;
mod pages;

use axum::Router;
use axum::routing::get;
use permit_web::{Context, assets, harden};

/// Every public route of the validator, with the shared protections around them.
pub fn router(ctx: Context) -> Router {
    let (metrics, limits) = (ctx.metrics.clone(), ctx.limits);
    let routes = Router::new()
        .route("/", get(pages::home))
        .route("/validar", get(pages::by_code))
        .route("/validar/{id}", get(pages::status))
        .route("/api/{id}", get(api::status))
        .merge(assets::routes())
        .merge(permit_web::openapi::routes(&openapi::document()))
        .with_state(ctx);
    harden(routes, metrics, limits)
}
