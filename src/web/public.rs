//! The routes outside the API's and the dashboard's role tables: open to
//! anyone by design, each with the reason. They are registered from these
//! tables (the stamp URL's last: its `{code}` matches any segment), and a
//! test calls every one without credentials.

use actix_web::http::Method;
use actix_web::web;

/// A route anyone may call, and why.
#[derive(Debug)]
pub struct PublicRoute {
    /// "GET", "HEAD", "POST".
    pub method: &'static str,
    /// Its path; `{base}` is the stamp URL's prefix (`scan_prefix`).
    pub path: &'static str,
    /// Why it needs no credentials.
    pub why: &'static str,
}

macro_rules! public {
    ($table:ident, $register:ident, $( $method:ident $path:literal => $handler:path, $why:literal; )*) => {
        /// Routes open to anyone, registered from this table.
        pub const $table: &[PublicRoute] = &[
            $( PublicRoute { method: stringify!($method), path: $path, why: $why }, )*
        ];

        pub(super) fn $register(cfg: &mut web::ServiceConfig, scan_prefix: &str) {
            $( cfg.route(
                &$path.replace("{base}", scan_prefix),
                web::method(Method::$method).to($handler),
            ); )*
        }
    };
}

public! {
    PUBLIC_ROUTES, register_first,
    GET "/healthz" => super::healthz, "load balancers and systemd check the service";
    GET "/.well-known/tem-keys.json" => super::key_set, "offline verifiers fetch the public keys";
    GET "/api/openapi.json" => super::openapi::document, "API clients read the API's description";
    GET "/favicon.ico" => super::scan::favicon, "browsers ask for it";
    GET "/static/tem.css" => super::scan::css, "the scan page's style";
    GET "/static/scan.js" => super::scan::js, "the scan page's location button";
    GET "/static/report.css" => super::scan::report_css, "the printable report's style";
    GET "/.well-known/gs1resolver" => super::gs1::description, "GS1 tools read what this resolver resolves";
    GET "{base}/log/checkpoint" => super::tlog::checkpoint, "anyone checks the audit log: its signed checkpoint (C2SP tlog-tiles)";
    GET "{base}/log/tile/{tail:.*}" => super::tlog::tile, "the audit log's tiles and entries, for the same checks";
    GET "/epcis/events" => super::epcis::public_events, "EPCIS clients read commissioning and recalls (only when the server opens them: epcis_public)";
    GET "/epcis/events/{id}" => super::epcis::public_event, "one event of that public subset";
    GET "{base}/01/{tail:.*}" => super::gs1::resolve, "GS1 Digital Link URIs: any shop's or app's scanner resolves a product, lot or item";
    HEAD "{base}/01/{tail:.*}" => super::gs1::resolve, "the same, for link checkers and GS1 tools";
    OPTIONS "{base}/01/{tail:.*}" => super::gs1::resolve, "CORS preflight of web pages resolving GS1 identifiers";
    GET "{base}/product/01/{tail:.*}" => super::gs1::page::product_page, "the product and lot page GS1 links point to (no verdict: a GS1 identifier carries no signature)";
}

public! {
    STAMP_ROUTES, register_last,
    GET "{base}/{code}" => super::scan::scan_page, "the stamp URL a phone's camera opens";
    HEAD "{base}/{code}" => super::scan::preview::head, "link checkers and previews (never a scan)";
    POST "{base}/{code}/claim" => super::scan::claim::claim_form, "the buyer claims with the code under the panel";
    POST "{base}/{code}/report" => super::scan::report, "a consumer reports a problem";
}
