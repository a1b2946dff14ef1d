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
use crate::service::resolver::Resolution;

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

/// Key=value pairs as a query string, the values percent-encoded.
fn query_of(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String =
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                    .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
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

/// What was asked: a Digital Link URI, and for a compressed one the other
/// elements it carried (data attributes, non-GS1 pairs), passed on as query.
struct Asked {
    link: DigitalLink,
    compressed: Option<Vec<(String, String)>>,
}

/// A `GET` of a tem stamp's URL in GS1 form (`/01/{gtin}/21/{serial}`
/// with the signature parameter): the URL under `{base}/`, to scan.
/// `HEAD` and `OPTIONS` stay resolver answers (never a scan).
fn stamp_in_gs1_form(req: &HttpRequest, path: &str) -> Option<String> {
    let query = req.query_string();
    let signed = query.split('&').any(|p| {
        p.strip_prefix(crate::codes::format::gs1::PARAM)
            .is_some_and(|v| v.starts_with('='))
    });
    (req.method() == Method::GET && signed && path.contains("/21/"))
        .then(|| format!("{}?{query}", path.trim_start_matches('/')))
}

/// The answer with the CORS headers added, errors too (the JSON envelope).
fn with_cors(answer: Result<HttpResponse, ApiError>) -> HttpResponse {
    let mut r = match answer {
        Ok(r) => r,
        Err(e) => actix_web::ResponseError::error_response(&e),
    };
    for (name, value) in CORS {
        r.headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    r
}

/// `GET`/`HEAD`/`OPTIONS {base}/01/…`: the resolver (also for a URI whose
/// qualifiers are compressed, `/01/{gtin}/{compressed}`).
pub(super) async fn resolve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let path = dl_path(&req, &state, "");
    if let Some(stamp) = stamp_in_gs1_form(&req, path) {
        // A tem stamp printed in GS1 form: scanned as the stamp it is.
        let forms = crate::codes::StampCode::parse(&stamp)
            .map(|c| c.to_digits())
            .unwrap_or_else(|_| "0".into());
        return super::scan::scan_answer(&req, &state, &stamp, &stamp, &forms)
            .await
            .unwrap_or_else(|e| actix_web::ResponseError::error_response(&e));
    }
    let asked = match DigitalLink::parse_path(path) {
        Ok(link) => Ok(Asked {
            link,
            compressed: None,
        }),
        Err(e) => DigitalLink::parse_compressed(path)
            .map(|(link, rest)| Asked {
                link,
                compressed: Some(rest),
            })
            .map_err(|_| ApiError::Service(e.into())),
    };
    with_cors(match asked {
        Ok(asked) => answer(&req, &state, asked).await,
        Err(e) => Err(e),
    })
}

/// `GET`/`HEAD {base}/{segment}` where the segment is not a stamp code: a
/// compressed Digital Link URI is resolved; anything else is 404, as
/// before.
pub(in crate::web) async fn compressed(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    segment: &str,
) -> Result<HttpResponse, ApiError> {
    match DigitalLink::parse_compressed(segment) {
        Ok((link, rest)) => Ok(with_cors(
            answer(
                req,
                state,
                Asked {
                    link,
                    compressed: Some(rest),
                },
            )
            .await,
        )),
        Err(_) => Err(ApiError::NotFound(format!("no page {}", req.path()))),
    }
}

async fn answer(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    asked: Asked,
) -> Result<HttpResponse, ApiError> {
    let Asked { link, compressed } = asked;
    if req.method() == Method::OPTIONS {
        let mut r = HttpResponse::NoContent();
        cors(&mut r);
        r.insert_header((header::ALLOW, "GET, HEAD, OPTIONS"));
        return Ok(r.finish());
    }
    let resolution: Resolution = state.resolver.resolve(link).await?;
    let base = state.ctx.base_url().trim_end_matches('/');
    let anchor = format!("{base}{}", resolution.link.path());
    let lang = language(req);
    let all = links::all(&resolution, base);
    let (link_type, mut passed_on) = split_query(req.query_string());
    let mut link_header = links::header(&all, lang, &anchor);
    if let Some(rest) = &compressed {
        // The elements the compressed URI carried besides the key and its
        // qualifiers go on as query pairs, and the uncompressed URI is
        // named as the same resource (GS1 asks for `owl:sameAs`).
        let attributes = query_of(rest);
        let same = if attributes.is_empty() {
            anchor.clone()
        } else {
            format!("{anchor}?{attributes}")
        };
        link_header.push_str(&format!(", <{same}>; rel=\"owl:sameAs\""));
        passed_on = [attributes, passed_on]
            .into_iter()
            .filter(|q| !q.is_empty())
            .collect::<Vec<_>>()
            .join("&");
    }
    let mut r = HttpResponse::build(StatusCode::TEMPORARY_REDIRECT);
    cors(&mut r);
    r.insert_header((header::LINK, link_header))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    let media = wants_linkset(req);
    if link_type.as_deref() == Some("all") || (link_type.is_none() && media.is_some()) {
        let body = links::linkset(&resolution, &all, &anchor, lang)
            .map_err(|e| ApiError::Internal(format!("writing the link set: {e}")))?;
        r.status(StatusCode::OK)
            .content_type(media.unwrap_or("application/linkset+json"));
        return Ok(r.body(body));
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
