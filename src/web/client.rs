//! Where a request comes from, told truthfully.
//!
//! The peer address of the connection is the only fact; headers are words
//! of whoever sent them. `X-Forwarded-For` and `X-Forwarded-Proto` are read
//! only when the peer is a proxy the operator listed (`[scan]
//! trusted_proxies`), and then `X-Forwarded-For` from the right: each
//! trusted proxy appends the address it saw, so the rightmost address that
//! is not itself a trusted proxy is the client (the leftmost is whatever
//! the client chose to write). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
//! count as the IPv4 address, so one client cannot pass for two.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::domain::network::{TrustedProxies, canonical};

/// The client's address (see the module doc); `None` without a peer.
pub fn client_ip(req: &HttpRequest, proxies: &TrustedProxies) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    if !proxies.trusts(peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop a trusted proxy wrote that is not an address: stop at the
        // last address a trusted proxy vouched for.
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !proxies.trusts(ip) {
            break;
        }
    }
    Some(client)
}

/// Whether the request reached the trusted front end over https: tem itself
/// serves plain HTTP, so only a trusted proxy can say so.
pub fn is_https(req: &HttpRequest, proxies: &TrustedProxies) -> bool {
    let from_proxy = req.peer_addr().is_some_and(|p| proxies.trusts(p.ip()));
    from_proxy
        && req
            .headers()
            .get_all("x-forwarded-proto")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: &[&str], proto: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(
            format!("{peer}:4000")
                .parse()
                .unwrap_or_else(|_| std::net::SocketAddr::new(peer.parse().unwrap(), 4000)),
        );
        for v in xff {
            r = r.append_header(("X-Forwarded-For", *v));
        }
        if let Some(p) = proto {
            r = r.insert_header(("X-Forwarded-Proto", p));
        }
        r.to_http_request()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies_and_from_the_right() {
        let p = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.7".into()], false).unwrap();
        let client_ip = |r: &HttpRequest| client_ip(r, &p);
        let is_https = |r: &HttpRequest| is_https(r, &p);
        // A client writing its own header gets nowhere.
        assert_eq!(
            client_ip(&req("203.0.113.9", &["1.2.3.4"], None)),
            ip("203.0.113.9")
        );
        // Through the proxy: the address the proxy saw, not what the client wrote.
        assert_eq!(
            client_ip(&req("10.0.0.5", &["1.2.3.4, 203.0.113.9"], None)),
            ip("203.0.113.9")
        );
        // Two trusted hops (and two header lines).
        assert_eq!(
            client_ip(&req(
                "10.0.0.5",
                &["1.2.3.4, 198.51.100.3", "192.0.2.7"],
                None
            )),
            ip("198.51.100.3")
        );
        // Mapped IPv6 is the IPv4 address, for the peer and in the header.
        assert_eq!(
            client_ip(&req("::ffff:10.0.0.5", &["::ffff:198.51.100.3"], None)),
            ip("198.51.100.3")
        );
        assert_eq!(
            client_ip(&req("::ffff:203.0.113.9", &[], None)),
            ip("203.0.113.9")
        );
        // Garbage from the proxy side: the last address vouched for.
        assert_eq!(
            client_ip(&req("10.0.0.5", &["nonsense"], None)),
            ip("10.0.0.5")
        );
        // https only on a trusted proxy's word.
        assert!(is_https(&req("10.0.0.5", &[], Some("https"))));
        assert!(!is_https(&req("203.0.113.9", &[], Some("https"))));
        assert!(!is_https(&req("10.0.0.5", &[], Some("http"))));
        // Nothing trusted: headers never count.
        let none = TrustedProxies::default();
        assert_eq!(
            super::client_ip(&req("127.0.0.1", &["1.2.3.4"], None), &none),
            ip("127.0.0.1")
        );
        assert!(!super::is_https(
            &req("127.0.0.1", &[], Some("https")),
            &none
        ));
        // The older switch trusts loopback only.
        let old = TrustedProxies::parse(&[], true).unwrap();
        assert_eq!(
            super::client_ip(&req("127.0.0.1", &["1.2.3.4"], None), &old),
            ip("1.2.3.4")
        );
    }
}
