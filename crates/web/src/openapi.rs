//! What both services' OpenAPI documents share: the error body, the errors any endpoint may
//! answer, enumerations filled in from the domain's own lists, and the route serving it.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

pub const OPENAPI_JSON: &str = "/api/openapi.json";

/// Every JSON error: a stable code for programs, a Spanish message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code, such as `invalid_fields` or `weekly_limit_reached` (README, "Errors").
    #[schema(example = "invalid_fields")]
    pub code: &'static str,
    /// What happened, in Spanish, for the person using the client.
    #[schema(example = "Revisa los campos marcados.")]
    pub message: String,
    /// For `invalid_fields`: what is wrong with each field, by field name. Empty otherwise.
    #[schema(example = json!({"rut": "el dígito verificador no corresponde"}))]
    pub errors: BTreeMap<String, String>,
}

/// The errors the shared layers give any endpoint: unreadable request, body too large,
/// overload, timeout or database down.
const SHARED_ERRORS: [(&str, &str); 3] = [
    ("400", "The request could not be read (`malformed_body`)."),
    ("413", "The body is over the size limit (`body_too_large`)."),
    (
        "503",
        "Shed under load (`overloaded`), too slow (`timeout`) or the database does not answer \
         (`unavailable`); `Retry-After` says when to retry.",
    ),
];

/// Adds the shared errors to every operation, each with the error body.
pub fn add_shared_errors(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            for (status, description) in SHARED_ERRORS {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            }
        }
    }
}

/// A response whose body is an `ErrorBody`.
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// Restricts a string property of a component schema to `values`, taken from the domain so
/// the document cannot drift from the code. A schema or property that does not exist is a
/// mistake in the code, found at start-up and by the tests that read the document.
pub fn enumerate(doc: &mut OpenApi, schema: &str, property: &str, values: impl IntoIterator<Item = &'static str>) {
    let field = doc
        .components
        .as_mut()
        .and_then(|components| match components.schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(property),
            _ => None,
        });
    let Some(RefOr::T(Schema::Object(field))) = field else {
        panic!("no property {schema}.{property} in the OpenAPI document")
    };
    field.enum_values = Some(values.into_iter().map(Value::from).collect());
}

/// `GET /api/openapi.json`, rendered once.
pub fn routes<S: Clone + Send + Sync + 'static>(doc: &OpenApi) -> Router<S> {
    let json = doc.to_json().expect("the OpenAPI document serialises");
    Router::new().route(
        OPENAPI_JSON,
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json).into_response() }),
    )
}

/// A motive: its code for programs, its label for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct MotiveView {
    #[schema(example = "compras")]
    pub code: &'static str,
    #[schema(example = "Compra de insumos básicos (alimentos, farmacia)")]
    pub label: &'static str,
}

impl MotiveView {
    pub fn of(motive: permit_domain::Motive) -> MotiveView {
        MotiveView {
            code: motive.code(),
            label: motive.label(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_motive_example_is_a_motive_of_the_catalogue() {
        let schema = serde_json::to_value(<MotiveView as utoipa::PartialSchema>::schema()).unwrap();
        let example = |field: &str| schema["properties"][field]["example"].as_str().unwrap().to_owned();
        let motive = permit_domain::Motive::parse(&example("code")).expect("a catalogued code");
        assert_eq!(example("label"), motive.label());
    }
}
