//! Configuration text: pushpin.conf and routes lines.

use std::path::PathBuf;

use ringpin::config::routes::parse_route_line;
use ringpin::config::{parse_conf, parse_routes, CliArgs, Config, Proto};

/// pushpin.conf text parses or is refused, and a parsed file resolves or is refused.
pub fn conf_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok((conf, _warnings)) = parse_conf(&text) {
        let path = PathBuf::from("/etc/pushpin/pushpin.conf");
        let _ = Config::resolve(CliArgs::default(), Some((conf, path)));
    }
}

/// A routes file parses line by line: each route it keeps is a route its line alone gives,
/// and selecting from the table never panics.
pub fn routes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (routes, warnings) = parse_routes(&text);
    let lines = text.lines().count();
    assert!(routes.len() <= lines);
    assert!(warnings.iter().all(|w| (1..=lines).contains(&w.line)));
    for (index, line) in text.lines().enumerate() {
        let _ = parse_route_line(line, index + 1);
    }
    for proto in [Proto::Http, Proto::Ws] {
        for ssl in [false, true] {
            if let Some(route) = routes.select("example.com", "/path/x", proto, ssl) {
                let _ = (route.http_targets(), route.rewrite_path("/path/x"));
            }
        }
    }
    let _ = routes.by_id("a");
}
