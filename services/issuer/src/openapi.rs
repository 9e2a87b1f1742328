//! The issuer's OpenAPI document, generated from the handlers and their types.

use permit_domain::{Motive, Status};
use permit_web::openapi::{ErrorBody, add_shared_errors, enumerate};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api, assisted, audit, legal_hold, operators, search};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Permisos temporales: emisión",
        description = "Issues temporary movement permits (formulario.<domain>). Errors share one \
                       body: a stable `code`, a Spanish `message` and, for `invalid_fields`, \
                       what is wrong with each field."
    ),
    paths(api::create, api::all, search::by_rut, api::revoke, audit::trail, legal_hold::place, legal_hold::lift, assisted::create, operators::create, operators::list, operators::revoke),
    components(schemas(ErrorBody)),
    modifiers(&FromTheDomain),
    tags(
        (name = "permits", description = "For citizens' clients."),
        (name = "operator", description = "For operators, with the bearer token `ADMIN_TOKEN`."),
        (name = "assistance", description = "For the staff of a counter, with the bearer token `ASSISTANCE_TOKEN`.")
    )
)]
struct Document;

/// What the macros cannot know: the domain's lists, the shared errors, the token scheme.
struct FromTheDomain;

impl Modify for FromTheDomain {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        add_shared_errors(doc);
        enumerate(doc, "PermitView", "status", Status::ALL.map(Status::code));
        enumerate(doc, "MotiveView", "code", Motive::all().map(Motive::code));
        enumerate(doc, "CreatePermit", "motive", Motive::all().map(Motive::code));
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

pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}
