//! Whose address a request comes from, for the limits on the public sign-up.
//!
//! The peer of the connection is the client unless it is a reverse proxy the operator trusts
//! (`TRAJECTUM_TRUSTED_PROXIES`): then the client is the last address in `X-Forwarded-For` that
//! is not itself a trusted proxy (each proxy appends the address it received the request from;
//! what comes before the first trusted proxy's entry was written by the client and proves
//! nothing). From any other peer the header is ignored: anyone can send one.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs or addresses; empty: none.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        crate::domain::input::networks(list).map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, or, from a trusted proxy, the last untrusted one its
    /// `X-Forwarded-For` entries name (`forwarded`, in the order the header lists them).
    pub fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for entry in forwarded.iter().rev() {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => client = ip,
                Ok(ip) => return ip,
                // A malformed entry: nothing before it can be relied on.
                Err(_) => return client,
            }
        }
        client
    }

    /// The address of the client of `req` (unknown only on a connection without a peer).
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        let headers: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        Some(self.client(peer, &headers))
    }
}

/// The network a per-address limit counts a client by: an IPv4 address alone, an IPv6 address
/// by its /64 (one host commonly has a whole /64 to pick its source address from).
pub fn counted_as(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 32 } else { 64 };
    IpNet::new(ip, prefix).map_or(IpNet::from(ip), |net| net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::parse("").unwrap();
        assert_eq!(
            none.client(ip("203.0.113.9"), &["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_last_untrusted_forwarded_address_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        // The client forged the first entry; the proxy appended what it saw.
        let forwarded = ["1.2.3.4", "198.51.100.7"];
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &forwarded),
            ip("198.51.100.7")
        );
        // Two trusted hops.
        let forwarded = ["198.51.100.7", "192.0.2.1"];
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &forwarded),
            ip("198.51.100.7")
        );
        // A trusted proxy that forwarded nothing is the client as far as can be known.
        assert_eq!(proxies.client(ip("10.0.0.5"), &[]), ip("10.0.0.5"));
        assert_eq!(proxies.client(ip("10.0.0.5"), &["junk"]), ip("10.0.0.5"));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_an_ipv4_client_alone() {
        assert_eq!(counted_as(ip("203.0.113.9")).to_string(), "203.0.113.9/32");
        let one = counted_as(ip("2001:db8:1:2:aaaa::1"));
        assert_eq!(one.to_string(), "2001:db8:1:2::/64");
        assert_eq!(counted_as(ip("2001:db8:1:2:bbbb::7")), one);
        assert_ne!(counted_as(ip("2001:db8:1:3::1")), one);
    }

    #[test]
    fn a_list_that_names_no_network_is_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/8,proxy.local").is_err());
    }
}
