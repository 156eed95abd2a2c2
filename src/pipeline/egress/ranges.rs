//! Which addresses a tool may reach without `allow_private_network`: a
//! table, from the IANA IPv4 and IPv6 Special-Purpose Address Registries,
//! plus multicast and the IPv6 space outside global unicast.
//!
//! The most specific block that holds an address decides. Choices stricter
//! than the registries' "globally reachable" column, each for a reason:
//!
//! - the IETF protocol assignment blocks (`192.0.0.0/24`, `2001::/23`) are
//!   refused whole, their few globally reachable anycast services included:
//!   no tool's upstream lives there;
//! - an IPv6 form that carries an IPv4 address is judged by that address
//!   (NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), or refused outright where it
//!   only serves to reach IPv4 by another road (IPv4-mapped, -translated and
//!   -compatible, Teredo): a public IPv4 host is reached over IPv4;
//! - IPv6 outside `2000::/3` (global unicast, as allocated by IANA) is
//!   refused, except the blocks listed here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a block means for a tool without `allow_private_network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Refused,
    Public,
    /// Judged by the IPv4 address in its last 32 bits.
    Last32,
    /// 6to4: judged by the IPv4 address in bits 16 to 47.
    SixToFour,
}

#[derive(Debug)]
struct Block<T> {
    net: T,
    len: u32,
    rule: Rule,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u32, rule: Rule) -> Block<u32> {
    Block {
        net: u32::from_be_bytes([a, b, c, d]),
        len,
        rule,
    }
}

const fn v6(segments: [u16; 8], len: u32, rule: Rule) -> Block<u128> {
    let mut net = 0u128;
    let mut i = 0;
    while i < 8 {
        net = (net << 16) | segments[i] as u128;
        i += 1;
    }
    Block { net, len, rule }
}

use Rule::{Last32, Public, Refused, SixToFour};

/// IPv4: anything in no block is public.
const V4: &[Block<u32>] = &[
    v4(0, 0, 0, 0, 8, Refused),          // "this network"
    v4(10, 0, 0, 0, 8, Refused),         // private use
    v4(100, 64, 0, 0, 10, Refused),      // shared address space (CGNAT)
    v4(127, 0, 0, 0, 8, Refused),        // loopback
    v4(169, 254, 0, 0, 16, Refused),     // link local (cloud metadata)
    v4(172, 16, 0, 0, 12, Refused),      // private use
    v4(192, 0, 0, 0, 24, Refused),       // IETF protocol assignments, whole
    v4(192, 0, 2, 0, 24, Refused),       // documentation (TEST-NET-1)
    v4(192, 31, 196, 0, 24, Public),     // AS112-v4
    v4(192, 52, 193, 0, 24, Public),     // AMT
    v4(192, 88, 99, 0, 24, Refused),     // 6to4 relay anycast (deprecated)
    v4(192, 168, 0, 0, 16, Refused),     // private use
    v4(192, 175, 48, 0, 24, Public),     // AS112 direct delegation
    v4(198, 18, 0, 0, 15, Refused),      // benchmarking
    v4(198, 51, 100, 0, 24, Refused),    // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24, Refused),     // documentation (TEST-NET-3)
    v4(224, 0, 0, 0, 4, Refused),        // multicast
    v4(240, 0, 0, 0, 4, Refused),        // reserved
    v4(255, 255, 255, 255, 32, Refused), // limited broadcast
];

/// IPv6: anything in no block is refused; `2000::/3` is public.
const V6: &[Block<u128>] = &[
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, Public), // global unicast
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, Refused),    // unspecified, loopback, IPv4-compatible
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, Refused), // IPv4-mapped
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, Refused), // IPv4-translated
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Last32), // IPv4/IPv6 translation (NAT64)
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Refused), // local-use translation
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Refused), // discard-only
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, Refused), // dummy prefix
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Refused), // IETF protocol assignments, whole (Teredo in it)
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Refused), // documentation
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, SixToFour), // 6to4
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Refused), // documentation
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Refused), // SRv6 SIDs
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Refused),  // unique local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Refused), // link local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Refused), // site local (deprecated)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Refused),  // multicast
];

/// The rule of the most specific block holding `addr`.
fn rule_of<T>(blocks: &[Block<T>], addr: T, bits: u32) -> Option<Rule>
where
    T: Copy + PartialEq + std::ops::Shr<u32, Output = T>,
{
    blocks
        .iter()
        .filter(|b| b.len == 0 || addr >> (bits - b.len) == b.net >> (bits - b.len))
        .max_by_key(|b| b.len)
        .map(|b| b.rule)
}

/// Whether `ip` may be reached by a tool without `allow_private_network`.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    matches!(rule_of(V4, u32::from(ip), 32), None | Some(Public))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    match rule_of(V6, bits, 128) {
        Some(Public) => true,
        Some(Last32) => is_public_v4(Ipv4Addr::from(bits as u32)),
        Some(SixToFour) => is_public_v4(Ipv4Addr::from((bits >> 80) as u32)),
        Some(Refused) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4_REGISTRY: &str = include_str!("../../../tests/data/iana/ipv4-special-registry.csv");
    const V6_REGISTRY: &str = include_str!("../../../tests/data/iana/ipv6-special-registry.csv");

    /// Blocks the registries call globally reachable that are refused (see
    /// the module doc: the IETF protocol assignment blocks, and 6to4's
    /// deprecated relay block, are refused whole).
    const STRICTER: &[&str] = &[
        "192.0.0.9/32",
        "192.0.0.10/32",
        "192.88.99.2/32",
        "2001:1::1/128",
        "2001:1::2/128",
        "2001:1::3/128",
        "2001:3::/32",
        "2001:4:112::/48",
        "2001:20::/28",
        "2001:30::/28",
    ];

    /// Globally reachable blocks judged by the IPv4 address they carry.
    const CARRYING: &[&str] = &["64:ff9b::/96"];

    /// (block, name, globally reachable) of each row.
    fn rows(csv: &str) -> Vec<(&str, &str, &str)> {
        csv.lines()
            .skip(1)
            .map(|line| {
                let (block, rest) = line.split_once(',').unwrap();
                let (name, global) = rest.rsplit_once(',').unwrap();
                (block, name, global)
            })
            .collect()
    }

    /// The first and last address of a block.
    fn ends(block: &str) -> (IpAddr, IpAddr) {
        let (net, len) = block.split_once('/').unwrap();
        let len: u32 = len.parse().unwrap();
        match net.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => {
                let host = u32::MAX.checked_shr(len).unwrap_or(0);
                let first = u32::from(a) & !host;
                (IpAddr::V4(first.into()), IpAddr::V4((first | host).into()))
            }
            IpAddr::V6(a) => {
                let host = u128::MAX.checked_shr(len).unwrap_or(0);
                let first = u128::from(a) & !host;
                (IpAddr::V6(first.into()), IpAddr::V6((first | host).into()))
            }
        }
    }

    #[test]
    fn every_block_of_the_special_purpose_registries_is_refused_unless_globally_reachable() {
        let all: Vec<_> = rows(V4_REGISTRY)
            .into_iter()
            .chain(rows(V6_REGISTRY))
            .collect();
        assert!(all.len() > 40, "the registries were not read");
        for (block, name, global) in &all {
            let (first, last) = ends(block);
            for ip in [first, last] {
                let expected = match *global {
                    "True" if CARRYING.contains(block) => {
                        let IpAddr::V6(v6) = ip else { unreachable!() };
                        is_public_v4(Ipv4Addr::from(u128::from(v6) as u32))
                    }
                    "True" => !STRICTER.contains(block),
                    "False" | "N/A" => false,
                    other => panic!("{block}: unknown value {other}"),
                };
                assert_eq!(
                    is_public(ip),
                    expected,
                    "{ip} in {block} ({name}, globally reachable: {global})"
                );
            }
        }
        for block in STRICTER.iter().chain(CARRYING) {
            assert!(
                all.iter().any(|(b, _, _)| b == block),
                "{block} is not in the registries"
            );
        }
    }

    #[test]
    fn multicast_site_local_translated_and_unallocated_v6_are_refused() {
        for ip in [
            "224.0.0.1",
            "239.255.255.255",
            "ff02::1",
            "fec0::1",
            // IPv4-translated (::ffff:0:0:0/96) 127.0.0.1, and IPv4-compatible.
            "::ffff:0:7f00:1",
            "::7f00:1",
            "::ffff:0:808:808",
            "4000::1",
            "8000::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn the_most_specific_block_decides() {
        // 2001:db8::/32 inside 2000::/3; NAT64 judged by what it embeds.
        assert!(!is_public("2001:db8::1".parse().unwrap()));
        assert!(is_public("2606:4700::1".parse().unwrap()));
        assert!(is_public("64:ff9b::808:808".parse().unwrap()));
        assert!(!is_public("64:ff9b::a00:1".parse().unwrap()));
        assert!(is_public("2002:808:808::1".parse().unwrap()));
        assert!(!is_public("2002:c0a8:101::1".parse().unwrap()));
        // Outside 2000::/3 and every listed block.
        assert!(!is_public("4000::1".parse().unwrap()));
        // IPv4: AS112 is public, the IETF block around it is not.
        assert!(is_public("192.31.196.1".parse().unwrap()));
        assert!(!is_public("192.0.0.9".parse().unwrap()));
    }
}
