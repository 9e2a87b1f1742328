//! The operators' console on `operadores.<domain>` (the operators' port): sign-in with
//! OpenID Connect and a role claim, then the pages each role needs — *consulta* looks a
//! citizen up by RUT with a stated reason and opens a permit's record and audit trail,
//! *revocación* opens a permit and revokes it with a reason, *administración* manages the
//! operators' tokens. Every page does what the API does through the same functions, so it
//! is recorded in the audit log the same way.

mod pages;
mod phases;
mod session;
mod views;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use permit_domain::Role;
use permit_web::PageError;

use crate::IssuerState;
use crate::admin::Admits;
use crate::audit::Acting;
use crate::errors::Forbidden;

pub use session::Console;

/// The console's routes: its home and sign-in open to all, each page behind the roles it
/// admits (as the API's routes are).
pub fn routes(state: &IssuerState) -> Router<IssuerState> {
    let guarded = |routes: Router<IssuerState>, admits: Admits| {
        routes.route_layer(from_fn_with_state((state.clone(), admits), guard))
    };
    let lookups = guarded(
        Router::new()
            .route("/buscar", post(pages::search))
            .route("/buscar-comuna", post(pages::search_comuna)),
        Admits::named(&[Role::Consulta]).reading_personal_data(),
    );
    let records = guarded(
        Router::new().route("/permiso", get(pages::permit)),
        Admits::named(&[Role::Consulta, Role::Revocacion]).reading_personal_data(),
    );
    let changes = guarded(
        Router::new().route("/revocar", post(pages::revoke)),
        Admits::named(&[Role::Revocacion]),
    );
    let administration = guarded(
        Router::new()
            .route("/operadores", get(pages::tokens).post(pages::make_token))
            .route("/operadores/revocar", post(pages::revoke_token))
            .route("/fases", get(phases::schedule).post(phases::publish)),
        Admits::named(&[Role::Administracion]),
    );
    Router::new()
        .route("/", get(pages::home))
        .route("/ingresar", get(session::begin))
        .route(crate::sign_in::CALLBACK_PATH, get(session::finish))
        .route("/salir", post(session::sign_out))
        .merge(lookups)
        .merge(records)
        .merge(changes)
        .merge(administration)
}

/// The route layer of every console page: a signed-in operator (else to the home page,
/// which offers sign-in) holding one of the roles `admits` names (else 403), within their
/// rate on pages of personal data. They act under the first such role.
async fn guard(State((state, admits)): State<(IssuerState, Admits)>, mut request: Request, next: Next) -> Response {
    let Some(operator) = session::signed_in(&state, request.headers()) else {
        return Redirect::to("/").into_response();
    };
    let Some(role) = operator.roles.iter().find(|r| admits.roles.contains(r)) else {
        return PageError(Forbidden.into()).into_response();
    };
    let name = operator.audit_name();
    if let Err(refused) = admits.count(&state, &name) {
        return PageError(refused).into_response();
    }
    Acting::set(&mut request, &name, role.code(), false);
    request.extensions_mut().insert(operator);
    next.run(request).await
}
