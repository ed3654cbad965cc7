//! Where a request comes from: IP allow-lists for API keys, and the client's address behind
//! the operator's reverse proxy.
//!
//! # Allow-lists
//!
//! An [`IpAllowList`] is a list of CIDR networks (`10.0.0.0/8`, `2001:db8::/32`) and single
//! addresses (`203.0.113.7`, meaning `/32`, or `/128` for IPv6). An empty list allows every
//! address. Decisions worth knowing:
//!
//! - **Host bits are refused, not dropped.** `10.1.2.3/8` is an error naming `10.0.0.0/8`: a
//!   silently widened entry would admit 16 million addresses when the operator probably meant
//!   one, so the operator says which.
//! - **IPv4 is IPv4, however it arrives.** A dual-stack listener reports IPv4 clients as
//!   IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`); those are checked as the IPv4 address
//!   they stand for. Entries written in that form (`::ffff:10.0.0.0/104`) are stored as the
//!   IPv4 network (`10.0.0.0/8`). An IPv6 entry matches IPv6 clients only, so `::/0` does not
//!   admit IPv4 clients.
//! - **The stored form is canonical:** [`IpAllowList::to_strings`] gives networks with their
//!   prefix (`10.0.0.0/8`), single addresses bare (`203.0.113.7`), IPv6 compressed, in the
//!   order given. Parsing that list again gives the same list.
//!
//! # The client's address
//!
//! [`client_ip`] trusts `X-Forwarded-For` only when told to, i.e. when the operator has put
//! Herald behind a proxy of their own that appends the address it saw. Every entry to the
//! left of that one came from the client, who can write anything there; so only the
//! **rightmost** entry is read, and if it is not an address the TCP peer is used instead —
//! never an entry further left. This assumes exactly one proxy of the operator's in front of
//! Herald: behind two (say a CDN, then a load balancer), the rightmost entry is the CDN's
//! address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::HeaderMap;
use ipnet::{IpNet, Ipv4Net};

/// Why an allow-list entry was not accepted. The message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The entry is neither an IP address nor a CIDR network.
    #[error("{entry:?} is not an IP address or a CIDR network (like 10.0.0.0/8 or 2001:db8::/32)")]
    Invalid {
        /// The entry as given.
        entry: String,
    },
    /// The entry is a network with bits set after its prefix.
    #[error(
        "{entry:?} has bits set after its /{prefix} prefix: write {network} for the whole \
         network, or the address alone for that one host"
    )]
    HostBits {
        /// The entry as given.
        entry: String,
        /// Its prefix length.
        prefix: u8,
        /// The network it lies in, with the host bits cleared.
        network: String,
    },
}

/// Addresses an API key may be used from. See the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowList {
    nets: Vec<IpNet>,
}

impl IpAllowList {
    /// A list that allows every address.
    pub fn unrestricted() -> Self {
        Self::default()
    }

    /// Parses entries (CIDR networks or single addresses; surrounding spaces ignored). The
    /// first bad entry is the error.
    pub fn parse(items: &[impl AsRef<str>]) -> Result<Self, NetworkError> {
        let nets = items
            .iter()
            .map(|item| parse_entry(item.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets })
    }

    /// Whether no entries are set, so every address is allowed.
    pub fn is_unrestricted(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` may use the key: always for an unrestricted list.
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The networks, in their canonical form.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    /// The entries in their canonical form, to store (and parse again).
    pub fn to_strings(&self) -> Vec<String> {
        self.nets.iter().map(canonical).collect()
    }
}

impl fmt::Display for IpAllowList {
    /// The entries, comma-separated; `any` when unrestricted. For people; store
    /// [`IpAllowList::to_strings`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unrestricted() {
            return f.write_str("any");
        }
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&canonical(net))?;
        }
        Ok(())
    }
}

/// One entry: a network (host bits refused) or an address (a one-host network), with
/// IPv4-mapped IPv6 forms turned into IPv4.
fn parse_entry(raw: &str) -> Result<IpNet, NetworkError> {
    let entry = raw.trim();
    let invalid = || NetworkError::Invalid {
        entry: raw.to_string(),
    };
    let net = if entry.contains('/') {
        let net = IpNet::from_str(entry).map_err(|_| invalid())?;
        if net.addr() != net.network() {
            return Err(NetworkError::HostBits {
                entry: raw.to_string(),
                prefix: net.prefix_len(),
                network: canonical(&unmap(net.trunc())),
            });
        }
        net
    } else {
        IpNet::from(IpAddr::from_str(entry).map_err(|_| invalid())?)
    };
    Ok(unmap(net))
}

/// `::ffff:a.b.c.d/n` (n >= 96) as the IPv4 network `a.b.c.d/(n - 96)`; anything else as is.
fn unmap(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Some(prefix) = v6.prefix_len().checked_sub(96)
        && let Ok(v4net) = Ipv4Net::new(v4, prefix)
    {
        return IpNet::V4(v4net);
    }
    net
}

/// A network as stored: bare address for a single host, `address/prefix` otherwise.
fn canonical(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The header a reverse proxy appends the client's address to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address: the TCP `peer`, or with `trust_forwarded_for` the rightmost entry of
/// the last `X-Forwarded-For` header, the one the operator's own proxy appended (see the
/// module documentation for why never an entry further left). Falls back to `peer` when the
/// header is missing or that entry is not an address. Entries may carry a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`). IPv4-mapped IPv6 addresses come back as IPv4.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    let peer = peer.to_canonical();
    if !trust_forwarded_for {
        return peer;
    }
    let Some(header) = headers.get_all(X_FORWARDED_FOR).iter().next_back() else {
        return peer;
    };
    let Ok(text) = header.to_str() else {
        return peer;
    };
    // Empty entries ("a, , b" or a trailing comma) carry nothing; skipping them cannot reach
    // past the proxy's own entry, which is never empty.
    let rightmost = text.rsplit(',').map(str::trim).find(|e| !e.is_empty());
    rightmost
        .and_then(parse_forwarded)
        .map(|ip| ip.to_canonical())
        .unwrap_or(peer)
}

/// An `X-Forwarded-For` entry: an address, optionally with a port, IPv6 optionally bracketed.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
