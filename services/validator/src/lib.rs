//! The validator: `validar.<domain>`.

mod api;
mod lookup;
mod pages;

use axum::Router;
use axum::routing::get;
use permit_web::{Context, assets};

pub fn router(ctx: Context) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/validar", get(pages::by_code))
        .route("/validar/{id}", get(pages::status))
        .route("/api/{id}", get(api::status))
        .merge(assets::routes())
        .with_state(ctx)
}
