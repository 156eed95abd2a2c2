//! Stage 8, run — egress: where toolgate may connect.
//!
//! The host comes only from the manifest. It is resolved once, every address
//! is checked, and the HTTP client connects to exactly the addresses that
//! passed (the check lives in the client's resolver, so there is no window
//! between check and connect for DNS rebinding). Loopback, private,
//! link-local (cloud metadata), CGNAT, unspecified, multicast, reserved and
//! IPv4-in-IPv6 forms are refused unless the tool allows private networks:
//! the table is in [`ranges`], from the IANA special-purpose registries.
//! Redirects are never followed and no proxy from the environment is used.
//!
//! Names are looked up through a [`Lookup`] ([`SystemLookup`] in service), so
//! a test can hand the check any answer a hostile DNS server could give.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use ranges::is_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

mod ranges;

/// The error a refused address produces inside the client; found again by `is_egress_denied`.
#[derive(Debug, thiserror::Error)]
#[error("egress to this address is not allowed")]
pub(crate) struct EgressDenied;

/// Walk an error's sources looking for our refusal.
pub(crate) fn is_egress_denied(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<EgressDenied>().is_some() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Addresses refused even when private networks are allowed: unspecified,
/// multicast, broadcast, and link-local with the cloud metadata services
/// on it (169.254.169.254, the container endpoints 169.254.170.2 and .23,
/// AWS's fd00:ec2::/32), also inside IPv4-mapped, NAT64 and 6to4 forms.
/// Only toolgate's own AWS client reaches a metadata address, never a tool.
fn never_reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_link_local()
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let seg = v6.segments();
            let embedded = if let Some(v4) = v6.to_ipv4_mapped() {
                Some(v4)
            } else if bits >> 32 == 0 && bits > 1 {
                // IPv4-compatible (deprecated) ::a.b.c.d
                Some(std::net::Ipv4Addr::from(bits as u32))
            } else if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
                Some(std::net::Ipv4Addr::from(bits as u32))
            } else if seg[0] == 0x2002 {
                Some(std::net::Ipv4Addr::from((bits >> 80) as u32))
            } else {
                None
            };
            embedded.is_some_and(|v4| never_reachable(IpAddr::V4(v4)))
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0xfd00 && seg[1] == 0x0ec2)
        }
    }
}

fn allowed(ip: IpAddr, allow_private: bool) -> bool {
    !never_reachable(ip) && (allow_private || is_public(ip))
}

/// Check a URL's host when it is an IP literal (the resolver never sees those).
pub(crate) fn check_url(url: &Url, allow_private: bool) -> Result<(), EgressDenied> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(d)) => {
            // "localhost" and its subdomains resolve to loopback by definition.
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if !allow_private && (d == "localhost" || d.ends_with(".localhost")) {
                return Err(EgressDenied);
            }
            return Ok(());
        }
        None => return Err(EgressDenied),
    };
    if allowed(ip, allow_private) {
        Ok(())
    } else {
        Err(EgressDenied)
    }
}

/// Turns a host name into addresses. Whatever it answers is checked before
/// any connection is made.
pub trait Lookup: Send + Sync {
    fn lookup(
        &self,
        host: &str,
    ) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The system resolver.
#[derive(Debug, Default)]
pub(crate) struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Resolves a name, keeps only allowed addresses, and hands exactly those to the connector.
struct CheckedResolver {
    allow_private: bool,
    lookup: Arc<dyn Lookup>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let looked_up = self.lookup.lookup(name.as_str());
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = looked_up
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            let ok: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allowed(a.ip(), allow_private))
                .collect();
            if ok.is_empty() {
                return Err(Box::new(EgressDenied) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

/// The two upstream clients: public-only, and one for tools that allow private networks.
#[derive(Debug)]
pub struct Egress {
    public: reqwest::Client,
    private: reqwest::Client,
}

impl Egress {
    pub(crate) fn new(lookup: Arc<dyn Lookup>) -> Result<Self, reqwest::Error> {
        Ok(Egress {
            public: client(false, lookup.clone())?,
            private: client(true, lookup)?,
        })
    }

    pub(crate) fn client(&self, allow_private: bool) -> &reqwest::Client {
        if allow_private {
            &self.private
        } else {
            &self.public
        }
    }
}

fn client(allow_private: bool, lookup: Arc<dyn Lookup>) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(false)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver {
            allow_private,
            lookup,
        }))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .user_agent(concat!("toolgate/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_are_refused_even_with_private_networks_allowed() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.170.23",
            "169.254.0.1",
            "fd00:ec2::254",
            "fd00:ec2::23",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!allowed(ip, true), "{ip} must be refused for every tool");
        }
        for ip in ["10.1.2.3", "127.0.0.1", "::1", "fd00::1", "192.168.1.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(
                allowed(ip, true),
                "{ip} is a private address a tool may allow"
            );
        }
    }

    #[test]
    fn refuses_internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::",
            "2001:db8::1",
            "2001:0:4136:e378::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "2002:808:808::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn private_flag_still_refuses_unspecified_and_multicast() {
        assert!(allowed("127.0.0.1".parse().unwrap(), true));
        assert!(!allowed("0.0.0.0".parse().unwrap(), true));
        assert!(!allowed("ff02::1".parse().unwrap(), true));
    }

    #[test]
    fn literal_hosts_are_checked() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&u("http://127.0.0.1:9/x"), false).is_err());
        assert!(check_url(&u("http://[::1]/x"), false).is_err());
        assert!(check_url(&u("http://localhost/x"), false).is_err());
        assert!(check_url(&u("http://2130706433/x"), false).is_err()); // 127.0.0.1 as a number
        assert!(check_url(&u("http://127.0.0.1:9/x"), true).is_ok());
        assert!(check_url(&u("https://api.example.com/x"), false).is_ok());
    }
}
