//! Routes: Pushpin's routes lines turned into `Routes`, and the per-request route choice.
//!
//! Owns: `Route`, `Target`, `Routes`, `parse_routes`, selection (`Routes::select`, PUSHPIN.md
//! §1.2) and the origin path rewrite (`Route::rewrite_path`, §1.4). The line syntax itself
//! (tokenizer, props) lives in `route_line.rs`.
//! Must not: read files (`config::load_routes` does), resolve host names, or touch sockets.
//! Invariants: every route with a domain has at least one target and a unique
//! (domain, proto, ssl, path_beg) key; exact domains are stored lower-cased; a rejected line
//! never stops the rest of the file from loading, it becomes a `RouteWarning`.

use super::route_line;

/// The request kind a route may be restricted to (`proto=http|ws`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Plain HTTP requests (including long-poll, streaming and SSE).
    Http,
    /// WebSocket upgrade requests.
    Ws,
}

/// The host part of a route's condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Domain {
    /// `*`: requests for any host that has no route of its own.
    Any,
    /// An exact host, stored lower-cased, compared without the port.
    Exact(String),
    /// No domain: the route can only be selected by its `id` (`Pushpin-Route` header).
    None,
}

/// An HTTP (or WebSocket) origin: `host:port` plus its target props (PUSHPIN.md §1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    /// Host name or IP address to connect to (IPv6 without brackets).
    pub host: String,
    /// TCP port, 1-65535.
    pub port: u16,
    /// `ssl`: speak https/wss to the origin.
    pub ssl: bool,
    /// `over_http`: WebSocket clients are carried as WebSocket-over-HTTP requests.
    pub over_http: bool,
    /// `one_event`: with `over_http`, at most one event per request.
    pub one_event: bool,
    /// `untrusted`: apply the access policy for untrusted targets.
    pub untrusted: bool,
    /// `insecure`: do not verify the origin's TLS certificate.
    pub insecure: bool,
    /// `trust_connect_host`: verify TLS against the connect host, not the Host header.
    pub trust_connect_host: bool,
    /// `host=NAME[:port]`: the Host header (and URI authority) sent to this target.
    pub host_header: Option<String>,
    /// `sub=CHANNEL` props: implicit subscriptions for every GRIP request on this target.
    pub subs: Vec<String>,
}

impl HttpTarget {
    /// A target at `host:port` with every prop off.
    pub fn new(host: impl Into<String>, port: u16) -> HttpTarget {
        HttpTarget {
            host: host.into(),
            port,
            ssl: false,
            over_http: false,
            one_event: false,
            untrusted: false,
            insecure: false,
            trust_connect_host: false,
            host_header: None,
            subs: Vec::new(),
        }
    }
}

/// Where a route sends requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `test`: the built-in demo backend.
    Test,
    /// `host:port`: an HTTP/WebSocket origin.
    Http(HttpTarget),
}

/// How a JSONP response is wrapped (`jsonp_mode`, PUSHPIN.md §1.9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JsonpMode {
    /// `basic`: the callback gets the response body itself.
    Basic,
    /// `extended` (Pushpin's default): the callback gets code, reason, headers and body.
    #[default]
    Extended,
}

/// A route's JSONP props; only used when cross-origin support is on (`aco`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonpConfig {
    /// `jsonp_mode`.
    pub mode: JsonpMode,
    /// `jsonp_cb`: the query parameter naming the callback; empty means `callback`.
    pub callback_param: String,
    /// `jsonp_body`: a query parameter carrying the request body (as JSON); empty means
    /// Pushpin's `_body`, which sets no `Content-Type`.
    pub body_param: String,
    /// `jsonp_defcb`: the callback used when the request names none but has the body param.
    pub default_callback: String,
    /// `jsonp_defmethod`: the origin method when the request has no `_method`; empty means
    /// `POST` in basic mode and `GET` in extended mode.
    pub default_method: String,
}

impl JsonpConfig {
    /// The query parameter naming the callback.
    pub fn callback_param(&self) -> &str {
        if self.callback_param.is_empty() {
            "callback"
        } else {
            &self.callback_param
        }
    }

    /// The origin method of a JSONP request without `_method`.
    pub fn default_method(&self) -> &str {
        match (self.default_method.as_str(), self.mode) {
            ("", JsonpMode::Basic) => "POST",
            ("", JsonpMode::Extended) => "GET",
            (method, _) => method,
        }
    }
}

/// One routes line: a condition (domain plus condition props) and its targets, tried in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// 1-based line number in its source (file line, or `--route` position), for log lines.
    pub line: usize,
    /// `id=NAME`.
    pub id: Option<String>,
    /// The condition's domain.
    pub domain: Domain,
    /// `path_beg=/p`: the raw (percent-encoded) path must start with this.
    pub path_beg: Option<String>,
    /// `proto=http|ws`.
    pub proto: Option<Proto>,
    /// `ssl=yes|no`: the client connection must (not) be TLS.
    pub ssl: Option<bool>,
    /// `prefix=STR`: prepended to every channel this route subscribes; empty when absent.
    pub prefix: String,
    /// `as_host=host[:port]`: rewrite the request URI host and the Host header.
    pub as_host: Option<String>,
    /// `path_rem=N`: strip the first N bytes of the path (0 when absent).
    pub path_rem: usize,
    /// `replace_beg=STR`: strip `path_beg` and prepend STR.
    pub replace_beg: Option<String>,
    /// `header=Name:Value` props in order; an empty value means "remove the header".
    pub set_headers: Vec<(String, String)>,
    /// `sig_iss=`: per-route Grip-Sig issuer (used only together with `sig_key`).
    pub sig_iss: Option<String>,
    /// `sig_key=`: per-route Grip-Sig key, as written (`base64:` allowed, checked at parse).
    pub sig_key: Option<String>,
    /// `no_grip`: plain reverse proxy, no Grip-Sig and no GRIP processing.
    pub no_grip: bool,
    /// `debug`: detailed error bodies for this route.
    pub debug: bool,
    /// `aco`: CORS headers and JSONP for this route (PUSHPIN.md §1.9).
    pub aco: bool,
    /// `jsonp_*` props.
    pub jsonp: JsonpConfig,
    /// `orig_headers`: copy the client headers with Pushpin's `eb9bf0f5-` prefix.
    pub orig_headers: bool,
    /// The targets, tried in order when connecting fails (PUSHPIN.md §1.3).
    pub targets: Vec<Target>,
}

impl Default for Route {
    /// A `*` route on line 0 with no props and no targets: a base for struct-update syntax.
    fn default() -> Route {
        Route {
            line: 0,
            id: None,
            domain: Domain::Any,
            path_beg: None,
            proto: None,
            ssl: None,
            prefix: String::new(),
            as_host: None,
            path_rem: 0,
            replace_beg: None,
            set_headers: Vec::new(),
            sig_iss: None,
            sig_key: None,
            no_grip: false,
            debug: false,
            aco: false,
            jsonp: JsonpConfig::default(),
            orig_headers: false,
            targets: Vec::new(),
        }
    }
}

/// A loaded routes table, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    /// The accepted routes, in the order their lines appeared.
    pub routes: Vec<Route>,
}

/// A routes line that was skipped, or kept with a prop ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteWarning {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong and what ringpin did about it.
    pub message: String,
}

/// Parses a whole routes file (or the `--route` lines joined by newlines).
///
/// Never fails: a bad line is skipped with a warning, as Pushpin does, so one typo cannot
/// take every other route down on reload.
pub fn parse_routes(text: &str) -> (Routes, Vec<RouteWarning>) {
    let mut routes = Routes::default();
    let mut warnings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        match route_line::parse_line(line, line_number, &mut warnings) {
            Ok(None) => {}
            Ok(Some(route)) => match routes.duplicate_of(&route) {
                Some(first) => warnings.push(RouteWarning {
                    line: line_number,
                    message: format!(
                        "duplicate of line {first} (same domain, proto, ssl and path_beg); line skipped"
                    ),
                }),
                None => routes.routes.push(route),
            },
            Err(message) => warnings.push(RouteWarning {
                line: line_number,
                message: format!("{message}; line skipped"),
            }),
        }
    }
    warn_duplicate_ids(&routes, &mut warnings);
    (routes, warnings)
}

/// Parses one routes line: `Ok(None)` for a blank or comment-only line, `Err(reason)` for a
/// line Pushpin would skip.
///
/// Non-fatal warnings (unknown props, unsupported targets) are dropped here; use
/// `parse_routes` to see them.
pub fn parse_route_line(line: &str, line_number: usize) -> Result<Option<Route>, String> {
    route_line::parse_line(line, line_number, &mut Vec::new())
}

/// Duplicate ids make the id unusable (PUSHPIN.md §1.1): `by_id` returns `None` for them.
fn warn_duplicate_ids(routes: &Routes, warnings: &mut Vec<RouteWarning>) {
    for (index, route) in routes.routes.iter().enumerate() {
        let Some(id) = &route.id else { continue };
        let earlier = routes.routes[..index]
            .iter()
            .find(|other| other.id.as_ref() == Some(id));
        if let Some(first) = earlier {
            warnings.push(RouteWarning {
                line: route.line,
                message: format!(
                    "route id {id:?} also used on line {}; the id cannot select a route",
                    first.line
                ),
            });
        }
    }
}

impl Routes {
    /// The table used when no route is configured: `* test`, like Pushpin's default routes file.
    pub fn builtin_test() -> Routes {
        Routes {
            routes: vec![Route {
                line: 1,
                targets: vec![Target::Test],
                ..Route::default()
            }],
        }
    }

    /// The route for a request, or `None` (Pushpin answers 502 `No route for host: HOST`).
    ///
    /// `host` is the request host; case and a `:port` suffix are ignored. `path` is the raw,
    /// still percent-encoded request path. Routes for the exact host are the candidates; only
    /// if that host has no route at all are the `*` routes used, so a host whose routes do not
    /// match the path does not fall back to `*` (PUSHPIN.md §1.2). Among matching candidates
    /// the most specific wins: a `proto` condition first, then the longer `path_beg`, then an
    /// `ssl` condition; the earlier line wins a tie. (Pushpin's pairwise comparison lets a
    /// shorter-prefix `ssl` rule beat a longer prefix; ringpin orders strictly instead.)
    pub fn select(&self, host: &str, path: &str, proto: Proto, ssl: bool) -> Option<&Route> {
        let host = host_without_port(host);
        let is_exact = |route: &Route| matches!(&route.domain, Domain::Exact(domain) if domain.eq_ignore_ascii_case(host));
        let host_has_routes = self.routes.iter().any(is_exact);
        let mut best: Option<&Route> = None;
        for route in &self.routes {
            let candidate = if host_has_routes {
                is_exact(route)
            } else {
                route.domain == Domain::Any
            };
            if !candidate || !route.matches(path, proto, ssl) {
                continue;
            }
            if best.map_or(true, |best| route.specificity() > best.specificity()) {
                best = Some(route);
            }
        }
        best
    }

    /// The route with this `id`, or `None` if no route or more than one route has it.
    pub fn by_id(&self, id: &str) -> Option<&Route> {
        let mut found = self.routes.iter().filter(|r| r.id.as_deref() == Some(id));
        let first = found.next()?;
        match found.next() {
            Some(_) => None,
            None => Some(first),
        }
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True when no route was accepted (every request then gets 502).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The line of an earlier route with the same (domain, proto, ssl, path_beg), if any.
    /// Id-only routes are never duplicates: they are not in any domain list.
    fn duplicate_of(&self, route: &Route) -> Option<usize> {
        if route.domain == Domain::None {
            return None;
        }
        self.routes
            .iter()
            .find(|other| {
                other.domain == route.domain
                    && other.proto == route.proto
                    && other.ssl == route.ssl
                    && other.path_beg == route.path_beg
            })
            .map(|other| other.line)
    }
}

impl Route {
    /// The route's HTTP targets, in order (the built-in `test` target is not one).
    pub fn http_targets(&self) -> Vec<&HttpTarget> {
        self.targets
            .iter()
            .filter_map(|t| match t {
                Target::Http(target) => Some(target),
                Target::Test => None,
            })
            .collect()
    }

    /// The path sent to the origin.
    ///
    /// With `replace_beg`, the `path_beg` prefix is stripped and `replace_beg` prepended
    /// (`path_beg=/p,replace_beg=/echo/`: `/p/x` → `/echo//x`, PUSHPIN.md §1.1); otherwise
    /// `path_rem` strips that many bytes (moved forward to a character boundary). An empty
    /// result becomes `/`, since an HTTP request target cannot be empty.
    pub fn rewrite_path(&self, path: &str) -> String {
        let strip_bytes = match &self.replace_beg {
            Some(_) => self.path_beg.as_ref().map_or(0, String::len),
            None => self.path_rem,
        };
        let rest = tail_from(path, strip_bytes);
        let prepend = self.replace_beg.as_deref().unwrap_or("");
        let mut rewritten = String::with_capacity(prepend.len() + rest.len());
        rewritten.push_str(prepend);
        rewritten.push_str(rest);
        if rewritten.is_empty() {
            rewritten.push('/');
        }
        rewritten
    }

    /// Whether the route's proto, ssl and path_beg conditions accept this request.
    fn matches(&self, path: &str, proto: Proto, ssl: bool) -> bool {
        self.proto.map_or(true, |p| p == proto)
            && self.ssl.map_or(true, |s| s == ssl)
            && self
                .path_beg
                .as_deref()
                .map_or(true, |prefix| path.starts_with(prefix))
    }

    /// Ordering key for "most specific": proto condition, path_beg length, ssl condition.
    fn specificity(&self) -> (bool, usize, bool) {
        let path_beg_bytes = self.path_beg.as_ref().map_or(0, String::len);
        (self.proto.is_some(), path_beg_bytes, self.ssl.is_some())
    }
}

/// `path` without its first `bytes` bytes; a cut inside a multi-byte character moves forward.
fn tail_from(path: &str, bytes: usize) -> &str {
    (bytes..=path.len())
        .find(|&at| path.is_char_boundary(at))
        .map_or("", |at| &path[at..])
}

/// The host without a `:port` suffix or IPv6 brackets: `Example.com:80` → `Example.com`,
/// `[::1]:80` → `::1`. A bare IPv6 address (several colons) is returned whole.
fn host_without_port(host: &str) -> &str {
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests;
