//! Which registries (and token realms, redirect targets) the client may contact: an allowlist and a denylist of
//! host globs and CIDRs, and a refusal of link-local, cloud-metadata and (unless allowed) loopback addresses,
//! checked on the host name and again on every address it resolves to.

use std::net::IpAddr;

/// Registry hosts and addresses the client may contact. An image names its registry, so whoever writes a Pod
/// spec chooses where Portcullis connects: without this policy that is an open proxy into the cluster network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetworkPolicy {
    /// When non-empty, only registries matching one of these are contacted: host globs (`*.example.com`,
    /// `registry.local:5000`) or CIDRs (`10.0.0.0/8`). A match also allows a loopback or link-local address.
    pub allow: Vec<String>,
    /// Hosts and CIDRs never contacted (wins over `allow`).
    pub deny: Vec<String>,
    /// Loopback addresses (`127.0.0.0/8`, `::1`, `localhost`) allowed without being listed.
    pub allow_loopback: bool,
}

impl Default for NetworkPolicy {
    /// No allowlist, no denylist, loopback allowed (a workstation's local registry); `serve` turns loopback off.
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: Vec::new(),
            allow_loopback: true,
        }
    }
}

/// Addresses no image should make us reach: cloud metadata services beyond the link-local range.
const METADATA: [&str; 3] = ["fd00:ec2::254", "100.100.100.200", "192.0.0.192"];

/// Splits `host[:port]` / `[v6]:port` into the host (brackets removed, lower case) and the port.
pub(crate) fn split_host(registry: &str) -> (String, Option<&str>) {
    if let Some(rest) = registry.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').unwrap_or((rest, ""));
        return (h.to_ascii_lowercase(), tail.strip_prefix(':'));
    }
    match registry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_ascii_lowercase(), Some(p)),
        _ => (registry.to_ascii_lowercase(), None),
    }
}

/// Parses `a.b.c.d/n` or `v6/n`.
fn cidr(rule: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = rule.split_once('/')?;
    let ip: IpAddr = ip.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_cidr(ip: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// True when `rule` (glob, `host:port`, IP or CIDR) matches `registry` (`host[:port]`) by name.
fn name_matches(rule: &str, registry: &str) -> bool {
    let rule = rule.trim().to_ascii_lowercase();
    if rule.is_empty() || cidr(&rule).is_some() {
        return false;
    }
    let (host, port) = split_host(registry);
    let (rhost, rport) = split_host(&rule);
    if rport.is_some() && rport != port {
        return false;
    }
    match rhost.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => rhost == host,
    }
}

/// True when `rule` matches the address: an IP, a CIDR.
fn addr_matches(rule: &str, ip: IpAddr) -> bool {
    let rule = rule.trim();
    if let Some(c) = cidr(rule) {
        return in_cidr(ip, c);
    }
    let (h, _) = split_host(rule);
    h.parse::<IpAddr>().is_ok_and(|r| r == canonical(ip))
        || h.parse::<IpAddr>().is_ok_and(|r| r == ip)
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address is special, when it is.
fn special(ip: IpAddr) -> Option<&'static str> {
    let ip = canonical(ip);
    if METADATA
        .iter()
        .any(|m| m.parse::<IpAddr>().is_ok_and(|m| m == ip))
    {
        return Some("a cloud metadata address");
    }
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => {
            Some("a link-local address (cloud metadata lives there)")
        }
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some("a link-local address"),
        _ if ip.is_unspecified() => Some("an unspecified address"),
        _ if ip.is_multicast() => Some("a multicast address"),
        _ if ip.is_loopback() => Some("a loopback address"),
        _ => None,
    }
}

impl NetworkPolicy {
    /// True when `registry` is listed in `allow` by name (or, for an IP literal, by address).
    pub(crate) fn explicitly_allowed(&self, registry: &str, insecure: &[String]) -> bool {
        let (host, _) = split_host(registry);
        let literal = host.parse::<IpAddr>().ok();
        self.allow
            .iter()
            .chain(insecure)
            .any(|r| name_matches(r, registry) || literal.is_some_and(|ip| addr_matches(r, ip)))
    }

    /// Checks a host before any connection: the denylist, then the allowlist. `insecure` (the registries marked
    /// insecure) count as explicitly allowed.
    pub fn check_host(&self, registry: &str, insecure: &[String]) -> Result<(), String> {
        let (host, _) = split_host(registry);
        let literal = host.parse::<IpAddr>().ok();
        if self
            .deny
            .iter()
            .any(|r| name_matches(r, registry) || literal.is_some_and(|ip| addr_matches(r, ip)))
        {
            return Err(format!("`{registry}` is in the registry denylist"));
        }
        let explicit = self.explicitly_allowed(registry, insecure);
        if !self.allow.is_empty() && !explicit {
            return Err(format!(
                "`{registry}` is not in the registry allowlist; add it to allow pulls from it"
            ));
        }
        if let Some(ip) = literal {
            self.check_addr(registry, ip, explicit)?;
        } else if host == "localhost" && !explicit && !self.allow_loopback {
            return Err(format!(
                "`{registry}` is a loopback address; allow it explicitly (registry allowlist or insecure registry) to pull from it"
            ));
        }
        Ok(())
    }

    /// Checks one address `registry` resolved to (or is): the denylist, then special ranges unless the host was
    /// explicitly allowed.
    pub fn check_addr(&self, registry: &str, ip: IpAddr, explicit: bool) -> Result<(), String> {
        if self.deny.iter().any(|r| addr_matches(r, ip)) {
            return Err(format!(
                "`{registry}` resolves to {ip}, which is in the registry denylist"
            ));
        }
        if explicit {
            return Ok(());
        }
        match special(ip) {
            Some("a loopback address") if self.allow_loopback => Ok(()),
            Some(why) => Err(format!(
                "`{registry}` resolves to {ip}, {why}; refusing to connect (allow it explicitly in the registry allowlist if it really is a registry)"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_refused_unless_allowed() {
        let p = NetworkPolicy {
            allow_loopback: false,
            ..NetworkPolicy::default()
        };
        for r in [
            "169.254.169.254",
            "169.254.169.254:80",
            "[fd00:ec2::254]:80",
            "[fe80::1]:5000",
            "127.0.0.2:8081",
            "[::1]:5000",
            "localhost:5000",
            "0.0.0.0:5000",
            "[::ffff:127.0.0.1]:5000",
        ] {
            assert!(p.check_host(r, &[]).is_err(), "{r} must be refused");
        }
        assert!(p.check_host("registry.example.com", &[]).is_ok());
        assert!(
            p.check_host("10.1.2.3:5000", &[]).is_ok(),
            "private ranges are registries too"
        );
        assert!(
            p.check_host("127.0.0.1:5000", &["127.0.0.1:5000".into()])
                .is_ok(),
            "insecure = explicit"
        );
        let e = p.check_host("127.0.0.2:8081", &[]).unwrap_err();
        assert!(
            e.contains("loopback") && e.contains("allow it explicitly"),
            "{e}"
        );
        let lo = NetworkPolicy::default();
        assert!(lo.check_host("127.0.0.1:5000", &[]).is_ok());
        assert!(
            lo.check_host("169.254.169.254", &[]).is_err(),
            "metadata stays refused"
        );
    }

    #[test]
    fn allow_and_deny_lists_match_globs_ports_and_cidrs() {
        let p = NetworkPolicy {
            allow: vec![
                "*.corp.example".into(),
                "10.0.0.0/8".into(),
                "ghcr.io".into(),
                "169.254.10.10".into(),
            ],
            deny: vec!["bad.corp.example".into(), "10.9.0.0/16".into()],
            allow_loopback: false,
        };
        assert!(p.check_host("reg.corp.example:5000", &[]).is_ok());
        assert!(p.check_host("ghcr.io", &[]).is_ok());
        assert!(p.check_host("10.1.2.3:5000", &[]).is_ok());
        assert!(
            p.check_host("169.254.10.10", &[]).is_ok(),
            "explicitly allowed link-local"
        );
        let e = p.check_host("docker.io", &[]).unwrap_err();
        assert!(e.contains("not in the registry allowlist"), "{e}");
        let e = p.check_host("bad.corp.example", &[]).unwrap_err();
        assert!(e.contains("denylist"), "{e}");
        assert!(
            p.check_host("10.9.1.1", &[])
                .unwrap_err()
                .contains("denylist")
        );
        assert!(
            p.check_addr("x.corp.example", "10.9.0.1".parse().unwrap(), true)
                .is_err()
        );
        assert!(
            p.check_addr("x.corp.example", "169.254.169.254".parse().unwrap(), false)
                .is_err()
        );
        let port_rule = NetworkPolicy {
            allow: vec!["reg.local:5000".into()],
            ..NetworkPolicy::default()
        };
        assert!(port_rule.check_host("reg.local:5000", &[]).is_ok());
        assert!(port_rule.check_host("reg.local:6000", &[]).is_err());
    }
}
