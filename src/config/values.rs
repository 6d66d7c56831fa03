//! Value parsers shared by the command line and pushpin.conf: addresses, log levels,
//! `X-Forwarded-For` rules, booleans, counts and Grip-Sig keys.
//!
//! Owns: the text form of each setting value, so `--log-level 2` and `log_level=2` agree.
//! Must not: know which flag or key a value came from; callers wrap the `String` reason
//! into a `ConfigError` naming it.
//! Invariants: every function is pure and total: it returns `Err(reason)`, never panics.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use base64::Engine as _;

use super::XffRule;

/// `PORT` (all interfaces, as Pushpin's `http_port=7999`) or `IP:PORT` / `[IPv6]:PORT`.
pub(crate) fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let port = parse_port(text)?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| "expected PORT or IP:PORT (e.g. 7999, 0.0.0.0:7999, [::1]:7999)".to_string())
}

/// A TCP port number, 0-65535 (0 lets the kernel choose).
pub(crate) fn parse_port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .map_err(|_| "expected a port number 0-65535".to_string())
}

/// An IP address without a port.
pub(crate) fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse::<IpAddr>()
        .map_err(|_| "expected an IP address".to_string())
}

/// `error|warn|info|debug|trace` (any case), or Pushpin's numbers: 0 error, 1 warn, 2 info,
/// 3 debug; 4 and above mean trace (Pushpin 1.36 logs more detail above 3).
pub(crate) fn parse_log_level(text: &str) -> Result<log::LevelFilter, String> {
    let text = text.trim();
    if let Ok(number) = text.parse::<u32>() {
        return Ok(match number {
            0 => log::LevelFilter::Error,
            1 => log::LevelFilter::Warn,
            2 => log::LevelFilter::Info,
            3 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        });
    }
    match text.to_ascii_lowercase().as_str() {
        "error" => Ok(log::LevelFilter::Error),
        "warn" | "warning" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        "trace" => Ok(log::LevelFilter::Trace),
        _ => Err("expected error|warn|info|debug|trace or 0-3".to_string()),
    }
}

/// A comma list of `append` and `truncate:N`, applied in order (Pushpin's `x_forwarded_for`);
/// an empty or all-blank list means "leave the client's header alone".
pub(crate) fn parse_xff_rules(text: &str) -> Result<Vec<XffRule>, String> {
    let mut rules = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        if item == "append" {
            rules.push(XffRule::Append);
        } else if let Some(count) = item.strip_prefix("truncate:") {
            let count = count
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("truncate needs a count, as truncate:N, not {item:?}"))?;
            rules.push(XffRule::Truncate(count));
        } else {
            return Err(format!(
                "unknown rule {item:?}; expected append or truncate:N"
            ));
        }
    }
    Ok(rules)
}

/// `true|false|yes|no|1|0` in any case, as Qt's settings reader accepts them.
pub(crate) fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err("expected true or false".to_string()),
    }
}

/// A non-negative integer.
pub(crate) fn parse_count<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse::<T>()
        .map_err(|_| "expected a whole number".to_string())
}

/// An integer of at least 1, for sizes where 0 would make ringpin useless.
pub(crate) fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(number) => Ok(number),
        Err(_) => Err("expected a whole number of at least 1".to_string()),
    }
}

/// A Grip-Sig HS256 key as Pushpin writes it: a plain string, or `base64:` and the key in
/// standard base64.
///
/// Pushpin 1.36 also accepts `file:PATH` naming a PEM key for ES256/RS256; ringpin signs
/// only HS256, so such a key is refused rather than used as the literal text.
pub fn parse_sig_key(text: &str) -> Result<Vec<u8>, String> {
    if let Some(encoded) = text.strip_prefix("base64:") {
        return base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|error| format!("bad base64 key: {error}"));
    }
    if text.starts_with("file:") {
        return Err("file: (PEM, ES256/RS256) keys are not supported; use an HS256 key".into());
    }
    Ok(text.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_accept_a_bare_port_or_ip_and_port() {
        let cases: &[(&str, Result<&str, ()>)] = &[
            ("7999", Ok("0.0.0.0:7999")),
            (" 8000 ", Ok("0.0.0.0:8000")),
            ("127.0.0.1:5561", Ok("127.0.0.1:5561")),
            ("[::1]:7999", Ok("[::1]:7999")),
            ("65536", Err(())),
            ("localhost:7999", Err(())),
            ("", Err(())),
            (":80", Err(())),
            ("1.2.3.4", Err(())),
        ];
        for (input, expected) in cases {
            let got = parse_listen_addr(input)
                .map(|a| a.to_string())
                .map_err(|_| ());
            assert_eq!(got, expected.map(str::to_string), "input {input:?}");
        }
    }

    #[test]
    fn log_levels_accept_names_and_pushpin_numbers() {
        use log::LevelFilter::*;
        let cases = [
            ("0", Ok(Error)),
            ("1", Ok(Warn)),
            ("2", Ok(Info)),
            ("3", Ok(Debug)),
            ("4", Ok(Trace)),
            ("INFO", Ok(Info)),
            ("warning", Ok(Warn)),
            ("trace", Ok(Trace)),
            ("-1", Err(())),
            ("loud", Err(())),
            ("", Err(())),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_log_level(input).map_err(|_| ()),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn xff_rules_parse_in_order_and_refuse_unknown_rules() {
        use XffRule::*;
        let cases: &[(&str, Result<Vec<XffRule>, ()>)] = &[
            ("", Ok(vec![])),
            (" , ", Ok(vec![])),
            ("append", Ok(vec![Append])),
            ("truncate:0,append", Ok(vec![Truncate(0), Append])),
            (" truncate: 3 ", Ok(vec![Truncate(3)])),
            ("truncate", Err(())),
            ("truncate:x", Err(())),
            ("truncate:-1", Err(())),
            ("prepend", Err(())),
        ];
        for (input, expected) in cases {
            let got = parse_xff_rules(input).map_err(|_| ());
            assert_eq!(&got, expected, "input {input:?}");
        }
    }

    #[test]
    fn sig_keys_are_plain_or_base64_and_pem_files_are_refused() {
        let cases: &[(&str, Result<&[u8], ()>)] = &[
            ("changeme", Ok(b"changeme")),
            ("", Ok(b"")),
            ("base64:aGVsbG8=", Ok(b"hello")),
            ("base64:", Ok(b"")),
            ("base64:!!!", Err(())),
            ("file:/etc/key.pem", Err(())),
        ];
        for (input, expected) in cases {
            let got = parse_sig_key(input).map_err(|_| ());
            assert_eq!(got, expected.map(<[u8]>::to_vec), "input {input:?}");
        }
    }

    #[test]
    fn booleans_and_counts_refuse_garbage() {
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool("no"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        assert_eq!(parse_count::<u64>("0"), Ok(0));
        assert!(parse_count::<u64>("-5").is_err());
        assert_eq!(parse_positive("1"), Ok(1));
        assert!(parse_positive("0").is_err());
        assert!(parse_positive("1.5").is_err());
        assert!(parse_port("70000").is_err());
        assert!(parse_ip("10.0.0.1").is_ok());
        assert!(parse_ip("10.0.0.1:80").is_err());
    }
}
