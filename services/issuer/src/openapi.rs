//! The issuer's OpenAPI document, generated from the handlers and their types.

use permit_domain::{Motive, Status};
use permit_web::openapi::{ErrorBody, add_shared_errors, enumerate};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api, assisted, audit, legal_hold, operators, phases, search};

/// The citizens' port: `formulario.<domain>`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Permisos temporales: emisión",
        description = "Issues temporary movement permits (formulario.<domain>). Errors share one \
                       body: a stable `code`, a Spanish `message` and, for `invalid_fields`, \
                       what is wrong with each field."
    ),
    paths(api::create),
    components(schemas(ErrorBody)),
    modifiers(&FromTheDomain),
    tags((name = "permits", description = "For citizens' clients."))
)]
struct Citizens;

/// The operators' port: `operadores.<domain>`, never routed from the citizens' hosts.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Permisos temporales: operadores",
        description = "Looks up, revokes and holds permits, issues at a counter and manages \
                       operator tokens (operadores.<domain>). Every call needs a named operator \
                       token of the route's role and is written to the audit log first. Errors \
                       share the citizens' body."
    ),
    paths(api::all, search::by_key, search::record, api::revoke, audit::trail, legal_hold::place, legal_hold::lift, assisted::create, operators::create, operators::list, operators::revoke, phases::publish),
    components(schemas(ErrorBody)),
    modifiers(&FromTheDomain, &TokenSchemes),
    tags(
        (name = "operator", description = "For named operators, with a token of the route's role; the bootstrap `ADMIN_TOKEN` opens only `/api/operators`."),
        (name = "assistance", description = "For the staff of a counter, with an *asistencia* token or `ASSISTANCE_TOKEN`.")
    )
)]
struct Operators;

/// What the macros cannot know: the domain's lists and the shared errors.
struct FromTheDomain;

impl Modify for FromTheDomain {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        add_shared_errors(doc);
        enumerate(doc, "PermitView", "status", Status::ALL.map(Status::code));
        enumerate(doc, "MotiveView", "code", Motive::all().map(Motive::code));
        enumerate(doc, "CreatePermit", "motive", Motive::individual().map(Motive::code));
    }
}

/// The operators' bearer tokens.
struct TokenSchemes;

impl Modify for TokenSchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = doc.components.as_mut() {
            for scheme in ["admin_token", "assistance_token"] {
                components.add_security_scheme(
                    scheme,
                    SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
                );
            }
        }
    }
}

pub fn citizens() -> utoipa::openapi::OpenApi {
    Citizens::openapi()
}

pub fn operators() -> utoipa::openapi::OpenApi {
    Operators::openapi()
}
