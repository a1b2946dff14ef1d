//! Networks the operator trusts to tell tem where a request came from.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` tem believes
/// (`[scan] trusted_proxies` in tem.toml); none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// From CIDR networks or single addresses, plus loopback when the older
    /// `trust_proxy = true` is set.
    pub fn parse(trusted: &[String], loopback: bool) -> Result<TrustedProxies, String> {
        let mut nets = trusted
            .iter()
            .map(|n| {
                let n = n.trim();
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "trusted_proxies: {n:?} is not an address or a network like 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if loopback {
            nets.push(IpNet::V4(ipnet::Ipv4Net::new_assert(
                std::net::Ipv4Addr::new(127, 0, 0, 0),
                8,
            )));
            nets.push(IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)));
        }
        Ok(TrustedProxies { nets })
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it
/// stands for, so one client cannot pass for two.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_addresses_parse_and_mapped_addresses_match() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), " 192.0.2.7 ".into()], true).unwrap();
        for yes in [
            "10.1.2.3",
            "192.0.2.7",
            "127.0.0.9",
            "::1",
            "::ffff:10.9.9.9",
        ] {
            assert!(t.trusts(yes.parse().unwrap()), "{yes}");
        }
        for no in ["11.0.0.1", "192.0.2.8", "::2", "::ffff:11.0.0.1"] {
            assert!(!t.trusts(no.parse().unwrap()), "{no}");
        }
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()], false).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()], false).is_err());
    }
}
