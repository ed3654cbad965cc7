//! Allow-list parsing, matching and storing, and the client's address behind a proxy.

use http::HeaderValue;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

fn list(items: &[&str]) -> IpAllowList {
    IpAllowList::parse(items).expect("parses")
}

#[test]
fn networks_and_single_addresses_match() {
    let allow = list(&[
        "10.0.0.0/8",
        "2001:db8::/32",
        "203.0.113.7",
        "2001:db8:ffff::1",
    ]);
    assert!(!allow.is_unrestricted());
    for yes in [
        "10.0.0.1",
        "10.255.255.255",
        "2001:db8::1",
        "2001:db8:1234::5",
        "203.0.113.7",
    ] {
        assert!(allow.contains(ip(yes)), "{yes}");
    }
    for no in [
        "11.0.0.1",
        "9.255.255.255",
        "203.0.113.8",
        "203.0.113.6",
        "2001:db9::1",
        "::1",
        "127.0.0.1",
    ] {
        assert!(!allow.contains(ip(no)), "{no}");
    }
}

#[test]
fn an_empty_list_allows_everyone() {
    let allow = IpAllowList::parse(&[] as &[&str]).expect("parses");
    assert!(allow.is_unrestricted());
    assert_eq!(allow, IpAllowList::unrestricted());
    assert!(allow.contains(ip("198.51.100.1")));
    assert!(allow.contains(ip("2001:db8::1")));
    assert_eq!(allow.to_string(), "any");
    assert!(allow.to_strings().is_empty());
}

#[test]
fn ipv4_mapped_addresses_match_ipv4_entries() {
    let allow = list(&["10.0.0.0/8", "203.0.113.7"]);
    assert!(allow.contains(ip("::ffff:10.1.2.3")));
    assert!(allow.contains(ip("::ffff:203.0.113.7")));
    assert!(!allow.contains(ip("::ffff:11.1.2.3")));
    // IPv4-compatible (deprecated, `::a.b.c.d`) addresses are not IPv4 clients.
    assert!(!allow.contains(ip("::10.1.2.3")));
}

#[test]
fn ipv4_mapped_entries_are_stored_as_ipv4() {
    let allow = list(&["::ffff:10.0.0.0/104", "::ffff:203.0.113.7"]);
    assert_eq!(allow.to_strings(), ["10.0.0.0/8", "203.0.113.7"]);
    assert!(allow.contains(ip("10.9.9.9")));
    assert!(allow.contains(ip("::ffff:10.9.9.9")));
    assert!(allow.contains(ip("203.0.113.7")));
}

#[test]
fn ipv6_entries_do_not_admit_ipv4_clients() {
    let allow = list(&["::/0"]);
    assert!(allow.contains(ip("2001:db8::1")));
    assert!(!allow.contains(ip("192.0.2.1")));
    assert!(!allow.contains(ip("::ffff:192.0.2.1")));
}

#[test]
fn entries_are_stored_canonically_and_round_trip() {
    let allow = list(&[
        " 10.0.0.0/8 ",
        "2001:0db8:0000::/32",
        "203.0.113.7",
        "203.0.113.8/32",
        "2001:DB8::1",
        "0.0.0.0/0",
    ]);
    let stored = allow.to_strings();
    assert_eq!(
        stored,
        [
            "10.0.0.0/8",
            "2001:db8::/32",
            "203.0.113.7",
            "203.0.113.8",
            "2001:db8::1",
            "0.0.0.0/0"
        ]
    );
    assert_eq!(IpAllowList::parse(&stored).expect("parses again"), allow);
    assert_eq!(
        allow.to_string(),
        "10.0.0.0/8, 2001:db8::/32, 203.0.113.7, 203.0.113.8, 2001:db8::1, 0.0.0.0/0"
    );
    assert_eq!(allow.networks().len(), 6);
}

#[test]
fn host_bits_are_refused_with_the_network_named() {
    let err = IpAllowList::parse(&["10.0.0.0/8", "10.1.2.3/8"]).expect_err("host bits");
    assert_eq!(
        err,
        NetworkError::HostBits {
            entry: "10.1.2.3/8".into(),
            prefix: 8,
            network: "10.0.0.0/8".into(),
        }
    );
    let message = err.to_string();
    assert!(message.contains("10.1.2.3/8"), "{message}");
    assert!(message.contains("10.0.0.0/8"), "{message}");

    let err = IpAllowList::parse(&["2001:db8::1/32"]).expect_err("host bits");
    assert!(err.to_string().contains("2001:db8::/32"), "{err}");
}

#[test]
fn bad_entries_are_named() {
    for bad in [
        "",
        "  ",
        "10.0.0",
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.0/",
        "/8",
        "example.com",
        "10.0.0.1-10.0.0.9",
        "[::1]",
        "10.0.0.1:80",
        "*",
    ] {
        let err = IpAllowList::parse(&["192.0.2.1", bad]).expect_err(bad);
        assert_eq!(
            err,
            NetworkError::Invalid {
                entry: bad.to_string()
            },
            "{bad:?}"
        );
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn parse_takes_strings_and_strs() {
    let owned = vec!["10.0.0.0/8".to_string()];
    assert_eq!(
        IpAllowList::parse(&owned),
        IpAllowList::parse(&["10.0.0.0/8"])
    );
}

fn headers(values: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for v in values {
        map.append(
            X_FORWARDED_FOR,
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    map
}

const PEER: &str = "192.0.2.10";

#[test]
fn without_trust_the_peer_is_the_client() {
    let h = headers(&["198.51.100.1"]);
    assert_eq!(client_ip(ip(PEER), &h, false), ip(PEER));
}

#[test]
fn with_trust_the_rightmost_entry_is_the_client() {
    let h = headers(&["198.51.100.1"]);
    assert_eq!(client_ip(ip(PEER), &h, true), ip("198.51.100.1"));

    // The client forged an entry; the proxy appended the real address after it.
    let h = headers(&["10.0.0.1, 198.51.100.1"]);
    assert_eq!(client_ip(ip(PEER), &h, true), ip("198.51.100.1"));

    // Several headers: the last one is the proxy's.
    let h = headers(&["10.0.0.1", "203.0.113.9, 198.51.100.1"]);
    assert_eq!(client_ip(ip(PEER), &h, true), ip("198.51.100.1"));
}

#[test]
fn a_forged_leftmost_entry_is_ignored_even_when_allow_listed() {
    let allow = list(&["10.0.0.0/8"]);
    let h = headers(&["10.0.0.1, 198.51.100.1"]);
    let client = client_ip(ip(PEER), &h, true);
    assert_eq!(client, ip("198.51.100.1"));
    assert!(!allow.contains(client));
}

#[test]
fn an_unreadable_rightmost_entry_falls_back_to_the_peer() {
    // Not an entry further left: those are the client's to write.
    for value in [
        "10.0.0.1, unknown",
        "10.0.0.1, 198.51.100",
        "garbage",
        "10.0.0.1, _hidden",
    ] {
        let h = headers(&[value]);
        assert_eq!(client_ip(ip(PEER), &h, true), ip(PEER), "{value}");
    }
    // Empty entries are skipped.
    let h = headers(&["10.0.0.1, 198.51.100.1, "]);
    assert_eq!(client_ip(ip(PEER), &h, true), ip("198.51.100.1"));
    // An empty header, or none at all.
    assert_eq!(client_ip(ip(PEER), &headers(&[""]), true), ip(PEER));
    assert_eq!(client_ip(ip(PEER), &headers(&[" , "]), true), ip(PEER));
    assert_eq!(client_ip(ip(PEER), &HeaderMap::new(), true), ip(PEER));
}

#[test]
fn a_header_that_is_not_text_falls_back_to_the_peer() {
    let mut h = HeaderMap::new();
    h.append(
        X_FORWARDED_FOR,
        HeaderValue::from_bytes(b"198.51.100.1, \xff").expect("opaque bytes"),
    );
    assert_eq!(client_ip(ip(PEER), &h, true), ip(PEER));
}

#[test]
fn forwarded_entries_may_carry_ports_and_brackets() {
    for (value, expected) in [
        ("198.51.100.1:4711", "198.51.100.1"),
        ("[2001:db8::7]:4711", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
    ] {
        let h = headers(&[value]);
        assert_eq!(client_ip(ip(PEER), &h, true), ip(expected), "{value}");
    }
}

#[test]
fn ipv4_mapped_addresses_come_back_as_ipv4() {
    assert_eq!(
        client_ip(ip("::ffff:192.0.2.10"), &HeaderMap::new(), false),
        ip("192.0.2.10")
    );
    let h = headers(&["::ffff:198.51.100.1"]);
    assert_eq!(client_ip(ip(PEER), &h, true), ip("198.51.100.1"));
}
