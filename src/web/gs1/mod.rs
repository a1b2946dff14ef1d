//! tem as a GS1-conformant resolver (GS1 Digital Link 1.2, §7; the
//! conformance list in docs/gs1.md): `GET`, `HEAD` and `OPTIONS` on
//! `{base}/01/{gtin}[/10/{lot}][/21/{serial}]`, with CORS. A URI that is
//! not a Digital Link is 400; a GTIN no product has, 404. Otherwise a
//! `307` to the link asked for (`linkType`) or the default one, passing
//! the query on, or the RFC 9264 link set (`linkType=all`, or asked for by
//! `Accept`); every answer carries a `Link` header with the links and the
//! link set.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use percent_encoding::percent_decode_str;

use super::scan::{Lang, language};
use super::{ApiError, AppState};
use crate::domain::digital_link::DigitalLink;
use crate::service::resolver::{self, Resolution};

mod links;
pub(crate) mod page;

use links::{LinkType, best};

/// The CORS headers on every answer, errors too: any web page may resolve
/// a GS1 identifier.
const CORS: [(header::HeaderName, &str); 5] = [
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"),
    (
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Accept, Accept-Language",
    ),
    (header::ACCESS_CONTROL_EXPOSE_HEADERS, "Link, Location"),
    (header::VARY, "Accept, Accept-Language"),
];

fn cors(r: &mut actix_web::HttpResponseBuilder) {
    for h in CORS {
        r.insert_header(h);
    }
}

/// The request's `linkType`, and the rest of its query to pass on.
fn split_query(query: &str) -> (Option<String>, String) {
    let mut link_type = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("linkType=") {
            Some(v) => link_type = Some(percent_decode_str(v).decode_utf8_lossy().into_owned()),
            None => rest.push(pair),
        }
    }
    (link_type, rest.join("&"))
}

/// `href` with `query` added (before a fragment).
fn with_query(href: &str, query: &str) -> String {
    if query.is_empty() {
        return href.to_string();
    }
    let (base, fragment) = href.split_once('#').map_or((href, ""), |(b, f)| (b, f));
    let sep = if base.contains('?') { '&' } else { '?' };
    let fragment = if fragment.is_empty() {
        String::new()
    } else {
        format!("#{fragment}")
    };
    format!("{base}{sep}{query}{fragment}")
}

/// Whether the client asked for the link set by its media type.
fn wants_linkset(req: &HttpRequest) -> Option<&'static str> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/linkset+json") {
        Some("application/linkset+json")
    } else if accept.contains("application/json") && !accept.contains("text/html") {
        Some("application/json")
    } else {
        None
    }
}

/// The Digital Link path of a request under `{base}` (or `{base}/product`).
fn dl_path<'a>(req: &'a HttpRequest, state: &AppState, below: &str) -> &'a str {
    let path = req.uri().path();
    let path = path
        .strip_prefix(state.scan_prefix.as_str())
        .unwrap_or(path);
    path.strip_prefix(below).unwrap_or(path)
}

/// `GET`/`HEAD`/`OPTIONS {base}/01/…`: the resolver. Errors are the JSON
/// envelope with the CORS headers.
pub(super) async fn resolve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match answer(&req, &state).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = actix_web::ResponseError::error_response(&e);
            for (name, value) in CORS {
                r.headers_mut()
                    .insert(name, header::HeaderValue::from_static(value));
            }
            r
        }
    }
}

async fn answer(req: &HttpRequest, state: &web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let link = DigitalLink::parse_path(dl_path(req, state, ""))
        .map_err(|e| ApiError::Service(e.into()))?;
    if req.method() == Method::OPTIONS {
        let mut r = HttpResponse::NoContent();
        cors(&mut r);
        r.insert_header((header::ALLOW, "GET, HEAD, OPTIONS"));
        return Ok(r.finish());
    }
    let ctx = state.ctx.clone();
    let resolution: Resolution = web::block(move || resolver::resolve(ctx.store(), link)).await??;
    let base = state.ctx.base_url().trim_end_matches('/');
    let anchor = format!("{base}{}", resolution.link.path());
    let lang = language(req);
    let all = links::all(&resolution, base);
    let (link_type, passed_on) = split_query(req.query_string());
    let mut r = HttpResponse::build(StatusCode::TEMPORARY_REDIRECT);
    cors(&mut r);
    r.insert_header((header::LINK, links::header(&all, lang, &anchor)))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"));
    let media = wants_linkset(req);
    if link_type.as_deref() == Some("all") || (link_type.is_none() && media.is_some()) {
        let body = links::linkset(&resolution, &all, &anchor, lang);
        r.status(StatusCode::OK)
            .content_type(media.unwrap_or("application/linkset+json"));
        return Ok(r.body(body.to_string()));
    }
    let target = link_type
        .as_deref()
        .and_then(LinkType::parse)
        .and_then(|t| best(&all, t, lang))
        .or_else(|| best(&all, LinkType::Pip, lang))
        .ok_or_else(|| ApiError::Internal("a resolved product without a page".into()))?;
    r.insert_header((header::LOCATION, with_query(&target.href, &passed_on)));
    Ok(r.finish())
}

/// `GET /.well-known/gs1resolver`: what this resolver is and resolves.
pub(super) async fn description(state: web::Data<AppState>) -> HttpResponse {
    let base = state.ctx.base_url().trim_end_matches('/');
    let mut r = HttpResponse::Ok();
    cors(&mut r);
    r.insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(serde_json::json!({
            "name": "tem: OCOP traceability stamps",
            "resolverRoot": base,
            "supportedPrimaryKeys": ["01"],
            "supportedLinkType": [{ "namespace": links::VOC, "prefix": "gs1:" }],
            "supportedLinkTypes": LinkType::ALL.iter().map(|t| t.uri()).collect::<Vec<_>>(),
            "supportedLanguages": [Lang::Vi.code(), Lang::En.code()],
            "linkTypeDefaultCanBeAll": false,
            "linkset": format!("{base}/01/{{gtin}}?linkType=all"),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_passed_on_without_the_link_type_and_before_a_fragment() {
        let (t, rest) = split_query("foo=bar&linkType=gs1%3Apip&17=271231");
        assert_eq!(t.as_deref(), Some("gs1:pip"));
        assert_eq!(rest, "foo=bar&17=271231");
        assert_eq!(
            with_query("https://x/p#stages", "foo=bar"),
            "https://x/p?foo=bar#stages"
        );
        assert_eq!(
            with_query("https://x/p?lang=en", "foo=bar"),
            "https://x/p?lang=en&foo=bar"
        );
        assert_eq!(with_query("https://x/p", ""), "https://x/p");
    }
}
