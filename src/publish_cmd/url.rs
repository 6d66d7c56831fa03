//! A GRIP URL as `ringpin publish` takes it: `http://host[:port][/prefix]` or `https://…`.
//!
//! Owns: splitting the URL into what the client connects to (host, port, TLS or not), the
//! TLS server name and the `Host` field, and the path the publish request goes to.
//! Must not: resolve names or open sockets (`publish_cmd` does).

/// Where a publish request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GripUrl {
    /// `https`: the connection is TLS.
    pub tls: bool,
    /// The host as written, IPv6 brackets removed: the TLS server name.
    pub host: String,
    /// The port given, or 80/443.
    pub port: u16,
    /// The `Host` field: the authority as written.
    pub authority: String,
    /// The request target: the URL's path without a trailing `/`, then `/publish/`.
    pub publish_path: String,
}

impl GripUrl {
    /// Parses `url`; `Err` names what is wrong.
    pub fn parse(url: &str) -> Result<GripUrl, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("{url}: a GRIP URL starts with http:// or https://"));
        };
        let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        if path.contains(['?', '#']) {
            return Err(format!("{url}: a GRIP URL has no query or fragment"));
        }
        let (host, port) = split_host_port(authority).ok_or(format!("{url}: bad host or port"))?;
        Ok(GripUrl {
            tls,
            host: host.to_owned(),
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.to_owned(),
            publish_path: format!("{}/publish/", path.trim_end_matches('/')),
        })
    }

    /// `host:port` for `ToSocketAddrs`, with brackets around an IPv6 address.
    pub fn socket_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when empty or the port is not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains('@') {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse().ok().filter(|&port: &u16| port != 0)?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_prefixes() {
        let url = GripUrl::parse("http://localhost:5561").expect("valid");
        assert_eq!(
            url,
            GripUrl {
                tls: false,
                host: "localhost".into(),
                port: 5561,
                authority: "localhost:5561".into(),
                publish_path: "/publish/".into(),
            }
        );
        let url = GripUrl::parse("https://api.example/realm/x/").expect("valid");
        assert_eq!((url.tls, url.port), (true, 443));
        assert_eq!(url.publish_path, "/realm/x/publish/");
        assert_eq!(url.socket_address(), "api.example:443");
        let url = GripUrl::parse("https://[::1]:8443").expect("valid");
        assert_eq!((url.host.as_str(), url.port), ("::1", 8443));
        assert_eq!(url.socket_address(), "[::1]:8443");
        assert_eq!(url.authority, "[::1]:8443");
        assert_eq!(GripUrl::parse("http://h").expect("valid").port, 80);
    }

    #[test]
    fn bad_urls_are_refused_with_the_url_named() {
        for bad in [
            "ftp://h",
            "h:5561",
            "http://",
            "http://h:x",
            "http://h:0",
            "http://h:70000",
            "http://[::1",
            "http://[::1]x",
            "http://user@h",
            "http://h/p?q=1",
        ] {
            let err = GripUrl::parse(bad).expect_err(bad);
            assert!(err.contains(bad.split('/').next().unwrap_or(bad)), "{err}");
        }
    }
}
