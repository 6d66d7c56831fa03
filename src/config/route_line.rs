//! One routes line: the tokenizer and the condition/target props (PUSHPIN.md §1.1).
//!
//! Owns: the line syntax (sections separated by whitespace, `value[,prop[=val]]...`, double
//! quotes with `\\` and `\"` escapes, `#` comments) and the meaning of every prop.
//! Must not: look at other lines (duplicates and ids are `routes.rs`'s business) or read files.
//! Invariants: a line is either rejected whole (`Err`, Pushpin skips it) or kept with
//! warnings for props it ignores; quoting never changes which prop a token is, only its text.

use super::routes::{Domain, HttpTarget, JsonpMode, Proto, Route, RouteWarning, Target};
use super::values::parse_sig_key;

/// One whitespace-separated part of a line: a value and its comma-separated props.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// The value before the first comma, unquoted; empty when the first token is a prop.
    pub(crate) value: String,
    /// The props in order.
    pub(crate) props: Vec<Prop>,
}

/// `name` or `name=value`, both unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prop {
    /// Never empty.
    pub(crate) name: String,
    /// `None` for a bare flag such as `debug`; `Some("")` for `name=`.
    pub(crate) value: Option<String>,
}

/// Splits a line into sections; an empty `Vec` for a blank or comment-only line.
pub(crate) fn tokenize(line: &str) -> Result<Vec<Section>, String> {
    let line = strip_comment(line)?;
    split_outside_quotes(line, char::is_whitespace)
        .into_iter()
        .filter(|raw| !raw.is_empty())
        .map(parse_section)
        .collect()
}

/// The line up to its first `#` outside quotes; fails on an unterminated quote.
fn strip_comment(line: &str) -> Result<&str, String> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (at, ch) in line.char_indices() {
        match (in_quotes, escaped, ch) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, _, '"') => in_quotes = !in_quotes,
            (false, _, '#') => return Ok(&line[..at]),
            _ => {}
        }
    }
    if in_quotes {
        return Err("unterminated quote".to_string());
    }
    Ok(line)
}

/// Splits `text` at every character `is_separator` accepts outside double quotes; empty
/// pieces are kept. `text` has already passed `strip_comment`, so its quotes are balanced.
fn split_outside_quotes(text: &str, is_separator: impl Fn(char) -> bool) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (at, ch) in text.char_indices() {
        if in_quotes {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
        } else if ch == '"' {
            in_quotes = true;
        } else if is_separator(ch) {
            pieces.push(&text[start..at]);
            start = at + ch.len_utf8();
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// `value,prop,prop=val`: if the first token holds an unquoted `=`, the value is empty and
/// that token is the first prop (`id=foo,path_beg=/x`).
fn parse_section(raw: &str) -> Result<Section, String> {
    let tokens = split_outside_quotes(raw, |ch| ch == ',');
    let first_is_prop = first_unquoted_equals(tokens[0]).is_some();
    let (value, prop_tokens) = if first_is_prop {
        (String::new(), &tokens[..])
    } else {
        (unquote(tokens[0])?, &tokens[1..])
    };
    let props = prop_tokens
        .iter()
        .map(|token| parse_prop(token, raw))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Section { value, props })
}

/// `name` or `name=value`, split at the first unquoted `=`; later `=` belong to the value.
fn parse_prop(token: &str, section: &str) -> Result<Prop, String> {
    let (name, value) = match first_unquoted_equals(token) {
        Some(at) => (&token[..at], Some(unquote(&token[at + 1..])?)),
        None => (token, None),
    };
    let name = unquote(name)?;
    if name.is_empty() {
        return Err(format!("empty property name in {section:?}"));
    }
    Ok(Prop { name, value })
}

/// Byte offset of the first `=` outside quotes.
fn first_unquoted_equals(token: &str) -> Option<usize> {
    let pieces = split_outside_quotes(token, |ch| ch == '=');
    (pieces.len() > 1).then(|| pieces[0].len())
}

/// Removes double quotes and resolves `\\` and `\"` inside them; any other escape is an error.
/// Backslashes outside quotes are literal.
fn unquote(raw: &str) -> Result<String, String> {
    let mut text = String::with_capacity(raw.len());
    let mut in_quotes = false;
    let mut chars = raw.chars();
    while let Some(ch) = chars.next() {
        match (in_quotes, ch) {
            (_, '"') => in_quotes = !in_quotes,
            (true, '\\') => match chars.next() {
                Some(escaped @ ('\\' | '"')) => text.push(escaped),
                Some(other) => return Err(format!("invalid escape \\{other} in quoted string")),
                None => return Err("unterminated quote".to_string()),
            },
            _ => text.push(ch),
        }
    }
    Ok(text)
}

/// Collects the non-fatal warnings of one line.
struct Warnings<'a> {
    line: usize,
    out: &'a mut Vec<RouteWarning>,
}

impl Warnings<'_> {
    fn push(&mut self, message: String) {
        self.out.push(RouteWarning {
            line: self.line,
            message,
        });
    }
}

/// One routes line → a route (`Ok(None)` when blank); warnings for ignored props go to `out`.
pub(crate) fn parse_line(
    line: &str,
    line_number: usize,
    out: &mut Vec<RouteWarning>,
) -> Result<Option<Route>, String> {
    let sections = tokenize(line)?;
    let Some((condition, target_sections)) = sections.split_first() else {
        return Ok(None);
    };
    // Warnings are kept aside so that a rejected line reports only its rejection reason
    // and the warnings that explain it (skipped targets).
    let mut pending = Vec::new();
    let mut warnings = Warnings {
        line: line_number,
        out: &mut pending,
    };
    let mut route = Route {
        line: line_number,
        domain: parse_domain(&condition.value),
        ..Route::default()
    };
    for prop in &condition.props {
        apply_condition_prop(&mut route, prop, &mut warnings)?;
    }
    check_condition(&route, &mut warnings)?;
    if target_sections.is_empty() {
        return Err("no target".to_string());
    }
    for section in target_sections {
        if let Some(target) = parse_target(section, &mut warnings)? {
            route.targets.push(target);
        }
    }
    out.append(&mut pending);
    if route.targets.is_empty() {
        return Err("no supported target".to_string());
    }
    Ok(Some(route))
}

fn parse_domain(value: &str) -> Domain {
    match value {
        "" => Domain::None,
        "*" => Domain::Any,
        host => Domain::Exact(host.to_ascii_lowercase()),
    }
}

/// Rules that involve more than one condition prop.
fn check_condition(route: &Route, warnings: &mut Warnings<'_>) -> Result<(), String> {
    if route.domain == Domain::None && route.id.is_none() {
        return Err("no domain and no id".to_string());
    }
    if route.sig_iss.is_some() != route.sig_key.is_some() {
        warnings.push("sig_iss and sig_key must be set together; the global ones are used".into());
    }
    if route.replace_beg.is_some() && route.path_rem > 0 {
        warnings.push("path_rem is ignored because replace_beg is set".to_string());
    }
    Ok(())
}

/// Applies one condition prop; a bad value rejects the line, an unknown prop is a warning.
fn apply_condition_prop(
    route: &mut Route,
    prop: &Prop,
    warnings: &mut Warnings<'_>,
) -> Result<(), String> {
    match prop.name.as_str() {
        "id" => route.id = Some(non_empty_value(prop)?),
        "path_beg" => route.path_beg = Some(non_empty_value(prop)?),
        "proto" => route.proto = Some(parse_proto(prop)?),
        "ssl" => route.ssl = Some(parse_yes_no(prop)?),
        "sig_iss" => route.sig_iss = Some(value_or_empty(prop)),
        "sig_key" => {
            let key = value_or_empty(prop);
            parse_sig_key(&key).map_err(|reason| format!("sig_key: {reason}"))?;
            route.sig_key = Some(key);
        }
        "prefix" => route.prefix = value_or_empty(prop),
        "as_host" => route.as_host = Some(non_empty_value(prop)?),
        "path_rem" => route.path_rem = parse_path_rem(prop)?,
        "replace_beg" => route.replace_beg = Some(value_or_empty(prop)),
        "header" => route.set_headers.push(parse_header(prop)?),
        // Flags: presence is what counts, as in Pushpin.
        "orig_headers" => route.orig_headers = true,
        "debug" => route.debug = true,
        "aco" => route.aco = true,
        "no_grip" => route.no_grip = true,
        "jsonp_mode" => route.jsonp.mode = parse_jsonp_mode(prop)?,
        "jsonp_cb" => route.jsonp.callback_param = value_or_empty(prop),
        "jsonp_body" => route.jsonp.body_param = value_or_empty(prop),
        "jsonp_defcb" => route.jsonp.default_callback = value_or_empty(prop),
        "jsonp_defmethod" => route.jsonp.default_method = value_or_empty(prop),
        "sockjs" | "sockjs_as_path" | "session" => warnings.push(format!(
            "condition property {} is not supported (ignored)",
            prop.name
        )),
        other => warnings.push(format!("unknown condition property {other} (ignored)")),
    }
    Ok(())
}

/// One target section: `Ok(None)` for a target ringpin cannot serve (skipped with a warning).
fn parse_target(section: &Section, warnings: &mut Warnings<'_>) -> Result<Option<Target>, String> {
    let value = section.value.as_str();
    if value.is_empty() {
        return Err("empty target".to_string());
    }
    if value.starts_with("zhttp/") || value.starts_with("zhttpreq/") {
        warnings.push(format!("target {value} is not supported (skipped)"));
        return Ok(None);
    }
    if value == "test" {
        for prop in &section.props {
            warnings.push(format!("test target ignores property {}", prop.name));
        }
        return Ok(Some(Target::Test));
    }
    let (host, port) = parse_host_port(value)?;
    let mut target = HttpTarget::new(host, port);
    for prop in &section.props {
        match prop.name.as_str() {
            "ssl" => target.ssl = true,
            "over_http" => target.over_http = true,
            "one_event" => target.one_event = true,
            "untrusted" => target.untrusted = true,
            "insecure" => target.insecure = true,
            "trust_connect_host" => target.trust_connect_host = true,
            "host" => target.host_header = Some(non_empty_value(prop)?),
            "sub" => target.subs.push(non_empty_value(prop)?),
            other => warnings.push(format!("unknown target property {other} (ignored)")),
        }
    }
    if target.one_event && !target.over_http {
        warnings.push(format!(
            "target {value}: one_event has no effect without over_http"
        ));
    }
    Ok(Some(Target::Http(target)))
}

/// `host:port` or `[v6]:port`, port 1-65535 required.
fn parse_host_port(value: &str) -> Result<(String, u16), String> {
    let bad = || format!("bad target {value:?}: expected host:port, test, or zhttp/...");
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':').ok_or_else(bad)?)
        }
        None => value.rsplit_once(':').ok_or_else(bad)?,
    };
    if host.is_empty() || (host.contains(':') && !value.starts_with('[')) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok((host.to_string(), port)),
        _ => Err(format!("bad target {value:?}: port must be 1-65535")),
    }
}

fn non_empty_value(prop: &Prop) -> Result<String, String> {
    match prop.value.as_deref() {
        Some(value) if !value.is_empty() => Ok(value.to_string()),
        _ => Err(format!("{} needs a value", prop.name)),
    }
}

fn value_or_empty(prop: &Prop) -> String {
    prop.value.clone().unwrap_or_default()
}

/// `jsonp_mode=basic|extended`; anything else rejects the line, as in Pushpin.
fn parse_jsonp_mode(prop: &Prop) -> Result<JsonpMode, String> {
    match prop.value.as_deref() {
        Some("basic") => Ok(JsonpMode::Basic),
        Some("extended") => Ok(JsonpMode::Extended),
        _ => Err("jsonp_mode must be set to 'basic' or 'extended'".to_string()),
    }
}

fn parse_proto(prop: &Prop) -> Result<Proto, String> {
    match prop.value.as_deref() {
        Some("http") => Ok(Proto::Http),
        Some("ws") => Ok(Proto::Ws),
        _ => Err("proto must be http or ws".to_string()),
    }
}

fn parse_yes_no(prop: &Prop) -> Result<bool, String> {
    match prop.value.as_deref() {
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        _ => Err(format!("{} must be yes or no", prop.name)),
    }
}

fn parse_path_rem(prop: &Prop) -> Result<usize, String> {
    prop.value
        .as_deref()
        .and_then(|value| value.parse::<usize>().ok())
        .ok_or_else(|| "path_rem must be a byte count".to_string())
}

/// `header=Name:Value`; the name is trimmed and must be a single token, the value is trimmed
/// and may be empty (then the header is removed, PUSHPIN.md §1.1).
fn parse_header(prop: &Prop) -> Result<(String, String), String> {
    let text = prop.value.as_deref().unwrap_or("");
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("header needs Name:Value, not {text:?}"))?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("header has a bad name {name:?}"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}
