//! The CORS fields Pushpin adds to a response (its `Cors::applyCorsHeaders`).
//!
//! Owns: which `Access-Control-*` fields a response gets from the request's `Origin` and
//! preflight fields, and which of its own fields it exposes.
//! Must not: replace a field the response already has, or answer a preflight itself (Pushpin
//! forwards `OPTIONS` to the origin and decorates its answer).

use crate::http::{CrossOrigin, HeaderField, Headers, RequestHead};

/// `Access-Control-Allow-Methods` when the request names no method.
const METHODS_DEFAULT: &str = "OPTIONS, HEAD, GET, POST, PUT, DELETE";

/// Response fields a browser shows scripts without being told (CORS "simple" headers).
const SIMPLE_FIELDS: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

/// The request fields CORS answers from, kept from `head` for the response.
pub fn request_fields(head: &RequestHead) -> Headers {
    let mut kept = Headers::new();
    for field in head.headers.iter() {
        let name = field.name.as_str();
        if name.eq_ignore_ascii_case("origin")
            || name.eq_ignore_ascii_case("access-control-request-method")
            || name.eq_ignore_ascii_case("access-control-request-headers")
        {
            kept.push(name, field.value.clone());
        }
    }
    kept
}

/// Adds the CORS fields `headers` lacks, computed over `headers` itself.
pub fn add_cors(cross: &CrossOrigin, headers: &mut Headers) {
    for field in cors_fields(&cross.request_fields, headers) {
        headers.push(field.name, field.value);
    }
}

/// The CORS fields a response with `response` headers lacks, in Pushpin's order: allowed
/// methods (the requested one, else a default list), allowed headers (the requested ones),
/// exposed headers (the response's own, but simple, `Access-Control-*` and `Grip-*` ones),
/// credentials, the allowed origin (the request's, else `*`) and a max age of 3600 s.
pub fn cors_fields(request: &Headers, response: &Headers) -> Vec<HeaderField> {
    let mut out = Vec::new();
    let mut add = |name: &str, value: Vec<u8>| {
        if !response.contains(name) {
            out.push(HeaderField {
                name: name.to_owned(),
                value,
            });
        }
    };
    let method = request
        .get("access-control-request-method")
        .filter(|m| !m.is_empty());
    add(
        "Access-Control-Allow-Methods",
        method.unwrap_or(METHODS_DEFAULT.as_bytes()).to_vec(),
    );
    let allow = list_items(request.get_all("access-control-request-headers"));
    if !allow.is_empty() {
        add("Access-Control-Allow-Headers", allow.join(&b", "[..]));
    }
    let exposed = exposed_names(response);
    if !exposed.is_empty() {
        add("Access-Control-Expose-Headers", exposed.join(", ").into());
    }
    add("Access-Control-Allow-Credentials", b"true".to_vec());
    let origin = request.get("origin").filter(|o| !o.is_empty());
    add(
        "Access-Control-Allow-Origin",
        origin.unwrap_or(b"*").to_vec(),
    );
    add("Access-Control-Max-Age", b"3600".to_vec());
    out
}

/// The non-empty items of comma-separated list values, trimmed.
fn list_items<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    values
        .flat_map(|value| value.split(|&b| b == b','))
        .map(crate::http::headers::trim_ascii)
        .filter(|item| !item.is_empty())
        .collect()
}

/// The response's field names scripts may not see by default, first spelling, once each.
fn exposed_names(response: &Headers) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for field in response.iter() {
        let name = field.name.as_str();
        let hidden = SIMPLE_FIELDS.iter().any(|s| name.eq_ignore_ascii_case(s))
            || starts_with_ignore_case(name, "access-control-")
            || starts_with_ignore_case(name, "grip-")
            || names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if !hidden {
            names.push(name);
        }
    }
    names
}

fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut out = Headers::new();
        for (name, value) in fields {
            out.push(*name, value.as_bytes());
        }
        out
    }

    fn lines(fields: &[HeaderField]) -> Vec<String> {
        fields
            .iter()
            .map(|f| format!("{}: {}", f.name, String::from_utf8_lossy(&f.value)))
            .collect()
    }

    #[test]
    fn a_plain_request_gets_the_defaults_and_exposes_non_simple_fields() {
        let response = headers(&[
            ("Content-Type", "text/plain"),
            ("X-Custom", "1"),
            ("Grip-Hold", "stream"),
            ("x-custom", "2"),
            ("Access-Control-Foo", "bar"),
            ("ETag", "\"e\""),
        ]);
        let got = lines(&cors_fields(&Headers::new(), &response));
        assert_eq!(
            got,
            [
                "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
                "Access-Control-Expose-Headers: X-Custom, ETag",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: *",
                "Access-Control-Max-Age: 3600",
            ]
        );
    }

    #[test]
    fn a_preflight_is_answered_from_its_own_fields() {
        let request = headers(&[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "x-a, ,X-B"),
            ("Access-Control-Request-Headers", "x-c"),
        ]);
        let got = lines(&cors_fields(&request, &headers(&[("Content-Length", "0")])));
        assert_eq!(
            got,
            [
                "Access-Control-Allow-Methods: PUT",
                "Access-Control-Allow-Headers: x-a, X-B, x-c",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: https://app.example",
                "Access-Control-Max-Age: 3600",
            ]
        );
    }

    #[test]
    fn fields_the_response_has_are_left_alone() {
        let response = headers(&[
            ("access-control-allow-origin", "https://only.example"),
            ("Access-Control-Max-Age", "10"),
            ("Access-Control-Allow-Methods", "GET"),
            ("Access-Control-Allow-Credentials", "false"),
            ("Access-Control-Expose-Headers", "X-Mine"),
        ]);
        let request = headers(&[("Origin", "https://other.example")]);
        assert_eq!(cors_fields(&request, &response), []);
        let mut all = response.clone();
        let cross = CrossOrigin {
            request_fields: request,
            jsonp: None,
        };
        add_cors(&cross, &mut all);
        assert_eq!(all, response);
    }

    #[test]
    fn only_the_cors_request_fields_are_kept() {
        let mut head = crate::http::parse_request(
            b"OPTIONS /x HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nCookie: c\r\nAccess-Control-Request-Method: GET\r\n\r\n",
            &crate::http::HeadLimits::CLIENT,
        )
        .expect("parses")
        .expect("whole")
        .0;
        head.headers
            .push("access-control-request-headers", &b"x"[..]);
        let kept = lines(&request_fields(&head).iter().cloned().collect::<Vec<_>>());
        assert_eq!(
            kept,
            [
                "Origin: o",
                "Access-Control-Request-Method: GET",
                "access-control-request-headers: x"
            ]
        );
    }
}
