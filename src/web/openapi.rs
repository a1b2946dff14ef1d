//! The OpenAPI 3.1 document at `/api/openapi.json`, generated from the
//! handlers' annotations so it cannot drift from the code.

use actix_web::HttpResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api::{self, RouteSpec};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tem",
        description = "Signed QR traceability stamps (tem truy xuất nguồn gốc): registry, issuance and verification.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        api::list_producers, api::create_producer, api::get_producer,
        api::list_products, api::create_product, api::get_product,
        api::list_product_batches, api::create_batch, api::list_batches, api::get_batch,
        api::list_stages, api::add_stage, api::issue_stamps, api::list_stamps,
        super::sheets::sheet, api::recall_batch, api::lift_recall, api::void_stamps,
        api::activate_stamps, api::unlock_claim, api::batch_stats, api::batch_report, api::list_triage, api::resolve_triage, api::stamps_csv,
        super::audit::entries, super::audit::heads, super::audit::sign_head, super::audit::inclusion, super::audit::consistency,
        super::inspections::create, super::inspections::list, super::inspections::get, api::verify_batch,
        super::scan::verify_json, super::scan::share_location, super::scan::claim::claim,
        super::sales::mark_sold, super::sales::undo_sold,
        super::epcis::events, super::epcis::event,
    ),
    components(schemas(crate::codes::KeySet, crate::web::error::ErrorBody)),
    modifiers(&BearerAuth, &Roles, &ErrorResponses),
    tags(
        (name = "registry", description = "Producers, products, batches and stages"),
        (name = "stamps", description = "Issuing, listing and printing signed stamps"),
        (name = "lifecycle", description = "Recalls and voided stamps"),
        (name = "scan", description = "Verifying a stamp, as a phone or a program does"),
    )
)]
/// The OpenAPI document of the API.
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `tem token create --role admin|producer|inspector|seller` (or the \
                         admin token TEM_ADMIN_TOKEN). Each operation lists the roles that may call it \
                         in `x-roles`; producers see only their own data, inspectors only their provinces; sellers only mark the stamps of the producers they sell for sold.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The operation of a route in the document, if it is there.
fn operation<'a>(
    openapi: &'a mut utoipa::openapi::OpenApi,
    route: &RouteSpec,
) -> Option<&'a mut Operation> {
    let item = openapi
        .paths
        .paths
        .get_mut(&format!("/api/v1{}", route.path))?;
    match route.method {
        "GET" => item.get.as_mut(),
        "POST" => item.post.as_mut(),
        "PUT" => item.put.as_mut(),
        "DELETE" => item.delete.as_mut(),
        "PATCH" => item.patch.as_mut(),
        _ => None,
    }
}

/// Adds to every operation the errors any request to it can meet, which
/// its handler does not name: 401 and 403 behind a token, 429 on the
/// rate-limited public routes, 404 for a path id that is not one, 400 for a
/// query or a body of the wrong shape, 413 for a body over the limit, 500
/// and 503. Each with the one error body (`ErrorBody`).
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for route in api::ROUTES {
            let Some(op) = operation(openapi, route) else {
                continue;
            };
            let has_query = op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
            let mut errors: Vec<(&str, &str)> = Vec::new();
            if route.roles.is_empty() {
                errors.push((
                    "429",
                    "too many requests from this network this minute (`rate_limited`)",
                ));
            } else {
                errors.push((
                    "401",
                    "no token, or one tem does not accept (`unauthorized`)",
                ));
                errors.push((
                    "403",
                    "the token's role may not call this route (`forbidden`)",
                ));
            }
            if route.path.contains('{') {
                errors.push(("404", "no such object, one the caller may not see, or a path parameter that is not one"));
            }
            if op.request_body.is_some() {
                errors.push((
                    "400",
                    "the body is not of the expected shape, or a field breaks a rule",
                ));
                errors.push((
                    "413",
                    "the body is larger than the route accepts (`payload_too_large`)",
                ));
            } else if has_query {
                errors.push(("400", "a query parameter is wrong (`invalid_query`)"));
            }
            errors.push((
                "500",
                "something failed inside tem; the log says what (`internal_error`)",
            ));
            errors.push(("503", "the database or the signing key cannot serve right now; `Retry-After` says when to try again"));
            for (status, description) in errors {
                if !op.responses.responses.contains_key(status) {
                    op.responses
                        .responses
                        .insert(status.to_string(), error_response(description).into());
                }
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// Writes each route's roles from `api::ROUTES` into its operation: an
/// `x-roles` list and a line in the description.
struct Roles;

impl Modify for Roles {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for route in api::ROUTES {
            let Some(op) = operation(openapi, route) else {
                continue;
            };
            let roles: Vec<&str> = route.roles.iter().map(|r| r.as_str()).collect();
            let line = if roles.is_empty() {
                "Roles: anyone (no token).".to_string()
            } else {
                format!("Roles: {}.", roles.join(", "))
            };
            op.description = Some(match op.description.take() {
                Some(d) => format!("{d}\n\n{line}"),
                None => line,
            });
            op.extensions
                .get_or_insert_with(Default::default)
                .insert("x-roles".into(), serde_json::json!(roles));
        }
    }
}

/// `GET /api/openapi.json`.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
