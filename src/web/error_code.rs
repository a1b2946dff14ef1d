//! Every error code the API answers with, each with the one HTTP status it
//! goes with. Clients branch on these strings, so they are written once,
//! here; a test holds this list and docs/api.md's error table together.

use actix_web::http::StatusCode;

/// A stable, machine-readable error code and its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The code clients branch on ("batch_not_found").
    pub code: &'static str,
    /// The status it is always sent with.
    pub status: StatusCode,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $status:ident;)*) => {
        $($(#[$doc])* pub const $name: ErrorCode = ErrorCode { code: $code, status: StatusCode::$status };)*
        /// Every code, for the documentation test.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

codes! {
    /// A field breaks a rule; the body's `field` names it.
    INVALID_INPUT = "invalid_input", BAD_REQUEST;
    /// The body is not JSON of the expected shape.
    INVALID_JSON = "invalid_json", BAD_REQUEST;
    /// The body is not sent as JSON.
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", BAD_REQUEST;
    /// A query parameter is wrong.
    INVALID_QUERY = "invalid_query", BAD_REQUEST;
    /// A form body (`application/x-www-form-urlencoded`) is missing a field
    /// or has one of the wrong kind.
    INVALID_FORM = "invalid_form", BAD_REQUEST;
    /// No token, or one tem does not accept (unknown, expired, revoked).
    UNAUTHORIZED = "unauthorized", UNAUTHORIZED;
    /// The token's role may not call this route.
    FORBIDDEN = "forbidden", FORBIDDEN;
    /// No such producer, or one the caller may not see.
    PRODUCER_NOT_FOUND = "producer_not_found", NOT_FOUND;
    /// No such product, or one the caller may not see.
    PRODUCT_NOT_FOUND = "product_not_found", NOT_FOUND;
    /// No such batch, or one the caller may not see.
    BATCH_NOT_FOUND = "batch_not_found", NOT_FOUND;
    /// No such stamp.
    STAMP_NOT_FOUND = "stamp_not_found", NOT_FOUND;
    /// No such API token.
    TOKEN_NOT_FOUND = "token_not_found", NOT_FOUND;
    /// No such inspection, or one the caller may not see.
    INSPECTION_NOT_FOUND = "inspection_not_found", NOT_FOUND;
    /// No such triage item.
    TRIAGE_ITEM_NOT_FOUND = "triage_item_not_found", NOT_FOUND;
    /// No such scan alert.
    ALERT_NOT_FOUND = "alert_not_found", NOT_FOUND;
    /// No such consumer report.
    REPORT_NOT_FOUND = "report_not_found", NOT_FOUND;
    /// No such EPCIS event, or one the caller may not see.
    EVENT_NOT_FOUND = "event_not_found", NOT_FOUND;
    /// No such route, or an object without a code of its own.
    NOT_FOUND = "not_found", NOT_FOUND;
    /// The change clashes with what exists (a lot code used twice, a state that forbids it).
    CONFLICT = "conflict", CONFLICT;
    /// The body is larger than the route accepts.
    PAYLOAD_TOO_LARGE = "payload_too_large", PAYLOAD_TOO_LARGE;
    /// Too many requests from the network this minute.
    RATE_LIMITED = "rate_limited", TOO_MANY_REQUESTS;
    /// Something failed inside tem (the log says what).
    INTERNAL_ERROR = "internal_error", INTERNAL_SERVER_ERROR;
    /// Issuance needs an active signing key and there is none.
    NO_SIGNING_KEY = "no_signing_key", SERVICE_UNAVAILABLE;
    /// The signing key exists but cannot be used (a file unreadable).
    SIGNING_KEY_UNAVAILABLE = "signing_key_unavailable", SERVICE_UNAVAILABLE;
    /// A part of tem this request needs (the database, the scan recorder)
    /// cannot serve right now; `Retry-After` says when to try again.
    UNAVAILABLE = "unavailable", SERVICE_UNAVAILABLE;
}

/// The code for "`what` does not exist" (`what` as the service names it:
/// "batch", "triage item"…).
pub fn not_found(what: &str) -> ErrorCode {
    match what {
        "producer" => PRODUCER_NOT_FOUND,
        "product" => PRODUCT_NOT_FOUND,
        "batch" => BATCH_NOT_FOUND,
        "stamp" => STAMP_NOT_FOUND,
        "token" => TOKEN_NOT_FOUND,
        "inspection" => INSPECTION_NOT_FOUND,
        "triage item" => TRIAGE_ITEM_NOT_FOUND,
        "alert" => ALERT_NOT_FOUND,
        "report" => REPORT_NOT_FOUND,
        "event" => EVENT_NOT_FOUND,
        _ => NOT_FOUND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/api.md's error table: (status, code) for every code it lists.
    fn documented() -> Vec<(u16, String)> {
        let doc = include_str!("../../docs/api.md");
        let table = doc
            .split("## Errors")
            .nth(1)
            .expect("api.md has an Errors section");
        let mut out = Vec::new();
        for line in table.lines().skip_while(|l| !l.starts_with('|')) {
            if !line.starts_with('|') {
                break;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let Ok(status) = cells[1].parse::<u16>() else {
                continue;
            };
            for code in cells[2].split(',') {
                out.push((status, code.trim().trim_matches('`').to_string()));
            }
        }
        out
    }

    #[test]
    fn every_code_is_documented_once_with_its_status() {
        let doc = documented();
        for c in ALL {
            let rows: Vec<_> = doc.iter().filter(|(_, code)| code == c.code).collect();
            assert_eq!(
                rows.len(),
                1,
                "{} is documented {} times in docs/api.md",
                c.code,
                rows.len()
            );
            assert_eq!(
                rows[0].0,
                c.status.as_u16(),
                "{} has another status in docs/api.md",
                c.code
            );
        }
        for (status, code) in &doc {
            assert!(
                ALL.iter().any(|c| c.code == code),
                "docs/api.md documents {code} ({status}), which tem never answers"
            );
        }
        let mut codes: Vec<_> = ALL.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len(), "a code is defined twice");
    }

    #[test]
    fn every_thing_the_service_cannot_find_has_a_snake_case_code() {
        for what in [
            "producer",
            "product",
            "batch",
            "stamp",
            "token",
            "inspection",
            "triage item",
        ] {
            let code = not_found(what).code;
            assert_ne!(code, NOT_FOUND.code, "{what}");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }
}
