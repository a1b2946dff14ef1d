//! The OpenAPI 3.1 document at `/api/openapi.json`, generated from the
//! handlers' annotations so it cannot drift from the code.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;

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
        super::scan::verify_json,
    ),
    components(schemas(crate::codes::KeySet, crate::web::error::ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "registry", description = "Producers, products, batches and stages"),
        (name = "stamps", description = "Issuing, listing and printing signed stamps"),
        (name = "lifecycle", description = "Recalls and voided stamps"),
        (name = "scan", description = "Verifying a stamp, as a phone or a program does"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The admin token (TEM_ADMIN_TOKEN)"))
                    .build(),
            ),
        );
    }
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
