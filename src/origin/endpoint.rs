//! Endpoint: where an origin connection goes, and whether it speaks TLS there.
//!
//! Owns: the choice of the TLS name for an `ssl` target (Pushpin's zurl checks the origin's
//! certificate against the Host the request carries, or against the connect host with
//! `trust_connect_host`), and the `insecure` prop.
//! Must not: do I/O; `pool` connects and keys its idle connections by `Endpoint`, so a
//! plain and a TLS connection to one address are never confused.

use crate::config::{HttpTarget, Route};

/// How to speak TLS to an origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsPeer {
    /// The name sent with SNI and checked against the certificate.
    pub name: String,
    /// `insecure`: accept any certificate.
    pub insecure: bool,
}

/// An origin address, and TLS when the target (or link) asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// `None` for plain HTTP.
    pub tls: Option<TlsPeer>,
}

impl Endpoint {
    /// A plain-HTTP endpoint.
    pub fn plain(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.to_owned(),
            port,
            tls: None,
        }
    }

    /// An `https` endpoint (a link), checked against `host`.
    pub fn https(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.to_owned(),
            port,
            tls: Some(TlsPeer {
                name: host.to_owned(),
                insecure: false,
            }),
        }
    }

    /// The endpoint of `target` for a request whose client sent `client_host` (without port):
    /// with `ssl`, the TLS name is the Host the origin request carries (the target's `host=`,
    /// else the route's `as_host`, else the client's), or the connect host with
    /// `trust_connect_host`.
    pub fn of(route: &Route, target: &HttpTarget, client_host: &str) -> Endpoint {
        let tls = target.ssl.then(|| {
            let sent_host = (target.host_header.as_deref())
                .or(route.as_host.as_deref())
                .map(without_port)
                .unwrap_or(client_host);
            let name = if target.trust_connect_host || sent_host.is_empty() {
                target.host.as_str()
            } else {
                sent_host
            };
            TlsPeer {
                name: name.trim_matches(['[', ']']).to_owned(),
                insecure: target.insecure,
            }
        });
        Endpoint {
            host: target.host.clone(),
            port: target.port,
            tls,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// `host:port` -> `host`; `[::1]:80` -> `[::1]`.
fn without_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(at) if !host[at..].contains(']') && host[..at].matches(':').count() == 0 => {
            &host[..at]
        }
        Some(at) if host.starts_with('[') && host[..at].ends_with(']') => &host[..at],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routes::parse_routes;

    fn endpoint(line: &str, client_host: &str) -> Endpoint {
        let (routes, _) = parse_routes(line);
        let route = routes.select("example.com", "/", crate::config::Proto::Http, false);
        let route = route.expect("a route");
        let target = route.http_targets()[0];
        Endpoint::of(route, target, client_host)
    }

    #[test]
    fn an_ssl_target_checks_the_host_the_request_carries_unless_trust_connect_host() {
        let tls = |name: &str, insecure| {
            Some(TlsPeer {
                name: name.to_owned(),
                insecure,
            })
        };
        assert_eq!(endpoint("* o:80", "example.com").tls, None);
        assert_eq!(
            endpoint("* o:443,ssl", "example.com").tls,
            tls("example.com", false)
        );
        assert_eq!(
            endpoint("* o:443,ssl,host=h.test:8443", "c").tls,
            tls("h.test", false)
        );
        assert_eq!(
            endpoint("*,as_host=a.test o:443,ssl", "c").tls,
            tls("a.test", false)
        );
        let trust = endpoint("* o:443,ssl,trust_connect_host,insecure", "c");
        assert_eq!(trust.tls, tls("o", true));
        assert_eq!(trust.to_string(), "o:443");
        assert_eq!(without_port("[::1]:80"), "[::1]");
        assert_eq!(without_port("::1"), "::1");
    }
}
