//! The validator's OpenAPI document, generated from the handlers and their types.

use permit_domain::{Motive, Status};
use permit_web::openapi::{ErrorBody, add_shared_errors, enumerate};
use utoipa::{Modify, OpenApi};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Permisos temporales: validación",
        description = "Checks a temporary movement permit (validar.<domain>). Errors share one \
                       body: a stable `code` and a Spanish `message`."
    ),
    paths(api::status, api::signed_status, api::public_keys),
    components(schemas(ErrorBody)),
    modifiers(&FromTheDomain),
    tags((name = "checks", description = "For police and anyone holding a permit's link."))
)]
struct Document;

/// The domain's lists and the shared errors, which the macros cannot know.
struct FromTheDomain;

impl Modify for FromTheDomain {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        add_shared_errors(doc);
        enumerate(doc, "CheckView", "status", Status::ALL.map(Status::code));
        enumerate(doc, "MotiveView", "code", Motive::all().map(Motive::code));
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}
