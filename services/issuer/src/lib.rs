//! The issuer: `formulario.<domain>` for citizens and, on a port of its own,
//! `operadores.<domain>` for operators (their API and their console).

mod admin;
mod api;
mod assisted;
mod audit;
mod client_limit;
mod collective;
mod console;
mod errors;
mod issue;
mod json_body;
mod legal_hold;
mod openapi;
mod operators;
mod options;
mod pages;
mod phases;
mod qr;
mod retention;
mod rights;
mod search;
mod sign_in;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use permit_domain::Role;
use permit_token::PermitClaims;

use crate::admin::Admits;
use permit_web::app::Routers;
use permit_web::{Context, assets, harden};

pub use admin::AdminToken;
pub use client_limit::{Cells, ClientKey, ClientLimiter, Rate, TrustedProxies};
pub use console::Console;
pub use options::Options;
pub use retention::Retention;
pub use sign_in::{CitizenAuth, ClaimNames, Identity, OidcSettings, OperatorAuth, SignIn, SignInError};

#[derive(Clone)]
pub struct IssuerState {
    ctx: Context,
    options: Options,
    /// Which refused operator tokens were recorded in the last minute (`admin::guard`).
    refusals: Arc<Cells<String>>,
    /// The Paso a Paso schedule as this replica last read it (`phases`).
    phases: phases::PhaseBook,
    /// Every version of the rules (`data/policy.toml`); requests are decided by the one in force.
    policies: Arc<permit_domain::Policies>,
}

impl IssuerState {
    /// The link in a permit's QR code: its signed token, checked without the database.
    fn validation_url(&self, permit: &permit_domain::Permit) -> String {
        let token = self.options.signer.sign_token(&PermitClaims::of(permit));
        self.ctx.links.signed_validation_page(&token)
    }

    /// The link to the holder's own page, for the holder only (see `pages::permit`).
    fn holder_url(&self, id: &permit_domain::PermitId) -> String {
        self.ctx.links.holder_page(id, &self.options.privacy.holder_secret(id))
    }
}

/// Every route of the issuer, with the shared protections around them: the citizens' on
/// the public port, the operators' on the operators' port (`OPERATOR_ADDR`), so no path
/// list in an Ingress decides who reaches them. The guards are route layers on
/// sub-routers, so a route added to one cannot forget its guard: permit requests go
/// through the per-client limit, operator routes through the role check.
pub fn router(ctx: Context, options: Options) -> Routers {
    let (metrics, limits) = (ctx.metrics.clone(), ctx.limits);
    let refusals = Arc::new(Cells::new(Rate {
        count: 1,
        per: std::time::Duration::from_secs(60),
    }));
    let phases = phases::PhaseBook::default();
    phases.refresh_in_background(ctx.store.clone(), options.phase_refresh);
    let policies = Arc::new(permit_domain::Policies::history(&ctx.rules.time_zone));
    let state = IssuerState {
        ctx,
        options,
        refusals,
        phases,
        policies,
    };
    let mut permit_requests = Router::new()
        .route("/nuevo", post(pages::submit))
        .route("/api/create", post(api::create))
        .route(
            "/colectivo",
            post(collective::upload).layer(DefaultBodyLimit::max(collective::UPLOAD_BYTES)),
        );
    if let Some(limiter) = state.options.create_limit.clone() {
        permit_requests = permit_requests.route_layer(from_fn_with_state(limiter, client_limit::limit));
    }
    // Each group of operator routes names what it admits (`admin::Admits`). Only named
    // operators read or change permits: the bootstrap `ADMIN_TOKEN` opens only the
    // operators' tokens (to make the first named ones), `ASSISTANCE_TOKEN` only the counter.
    let guarded = |routes: Router<IssuerState>, admits: Admits| {
        routes.route_layer(from_fn_with_state((state.clone(), admits), admin::guard))
    };
    let lookups = guarded(
        Router::new().route("/api/permits", get(search::by_key)),
        Admits::named(&[Role::Consulta]).reading_personal_data(),
    );
    // Paging through every holder's data is an export, not a look-up by a key: it needs
    // administración (and a reason, like any look).
    let exports = guarded(
        Router::new().route("/api/all", get(api::all)),
        Admits::named(&[Role::Administracion]).reading_personal_data(),
    );
    let records = guarded(
        Router::new().route("/api/permits/{id}", get(search::record)),
        Admits::named(&[Role::Consulta, Role::Revocacion]).reading_personal_data(),
    );
    let audit_trail = guarded(
        Router::new().route("/api/audit", get(audit::trail)),
        Admits::named(&[Role::Consulta, Role::Administracion]).reading_personal_data(),
    );
    let changes = guarded(
        Router::new()
            .route("/api/permits/{id}/revoke", post(api::revoke))
            .route(
                "/api/permits/{id}/hold",
                post(legal_hold::place).delete(legal_hold::lift),
            ),
        Admits::named(&[Role::Revocacion]),
    );
    let assistance = guarded(
        Router::new().route("/api/assisted", post(assisted::create)),
        Admits::named(&[Role::Asistencia]).or_counter_token(),
    );
    let administration = guarded(
        Router::new()
            .route("/api/operators", post(operators::create).get(operators::list))
            .route("/api/operators/{id}", axum::routing::delete(operators::revoke)),
        Admits::named(&[Role::Administracion]).or_bootstrap_token(),
    );
    let rules = guarded(
        Router::new().route("/api/phases", post(phases::publish)),
        Admits::named(&[Role::Administracion]),
    );
    let citizens = Router::new()
        .route("/", get(pages::landing))
        .route("/nuevo", get(pages::form))
        .route("/permiso/{id}", get(pages::permit))
        .route("/ingresar", get(sign_in::begin))
        .route(sign_in::CALLBACK_PATH, get(sign_in::finish))
        .route("/salir", post(sign_in::sign_out))
        .route("/fases", get(phases::page))
        .route("/colectivo", get(collective::form))
        .route("/mis-permisos", get(rights::list))
        .route("/mis-permisos/datos.json", get(rights::download))
        .route("/mis-permisos/borrar", post(rights::erase))
        .merge(permit_requests)
        .merge(assets::routes())
        .merge(permit_web::openapi::routes(&openapi::citizens()))
        .with_state(state.clone());
    let operators = Router::new()
        .merge(console::routes(&state))
        .merge(assets::routes())
        .merge(lookups)
        .merge(exports)
        .merge(records)
        .merge(audit_trail)
        .merge(changes)
        .merge(assistance)
        .merge(administration)
        .merge(rules)
        .merge(permit_web::openapi::routes(&openapi::operators()))
        .with_state(state);
    Routers {
        public: harden(citizens, metrics.clone(), limits),
        operators: Some(harden(operators, metrics, limits)),
    }
}
