//! The validator: `validar.<domain>`.

mod api;
mod errors;
mod lookup;
mod openapi;
mod options;
mod pages;
mod scanner;
mod signed;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use permit_web::{Context, assets, harden};

pub use options::Options;
pub use signed::{Revocations, Signed};

#[derive(Clone)]
struct ValidatorState {
    ctx: Context,
    signed: Arc<Signed>,
}

impl FromRef<ValidatorState> for Context {
    fn from_ref(state: &ValidatorState) -> Context {
        state.ctx.clone()
    }
}

impl FromRef<ValidatorState> for Arc<Signed> {
    fn from_ref(state: &ValidatorState) -> Arc<Signed> {
        state.signed.clone()
    }
}

/// Every public route of the validator, with the shared protections around them.
pub fn router(ctx: Context, signed: Arc<Signed>) -> Router {
    let (metrics, limits) = (ctx.metrics.clone(), ctx.limits);
    let routes = Router::new()
        .route("/", get(pages::home))
        .route("/validar", get(pages::by_code))
        .route("/validar/{id}", get(pages::status))
        .route("/v/{token}", get(pages::signed_status))
        .route("/api/{id}", get(api::status))
        .route("/api/v/{token}", get(api::signed_status))
        .route("/.well-known/jwks.json", get(api::public_keys))
        .merge(scanner::routes())
        .merge(assets::routes())
        .merge(permit_web::openapi::routes(&openapi::document()))
        .with_state(ValidatorState { ctx, signed });
    harden(routes, metrics, limits)
}
