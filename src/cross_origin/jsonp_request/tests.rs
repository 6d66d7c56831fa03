//! JSONP request conversion: when it applies, what the origin gets, and Pushpin's 400s.

use super::*;
use crate::http::{parse_request, HeadLimits};

fn head(target: &str) -> RequestHead {
    let raw = format!(
        "GET {target} HTTP/1.1\r\nHost: Example.com\r\nAccept: text/html\r\nOrigin: o\r\n\r\n"
    );
    parse_request(raw.as_bytes(), &HeadLimits::CLIENT)
        .expect("parses")
        .expect("whole")
        .0
}

fn convert(
    target: &str,
    config: &JsonpConfig,
) -> Result<Option<(RequestHead, String, Jsonp)>, JsonpError> {
    let mut h = head(target);
    let mut body = Vec::new();
    let jsonp = convert_request(&mut h, &mut body, config)?;
    Ok(jsonp.map(|j| (h, String::from_utf8_lossy(&body).into_owned(), j)))
}

fn fields(h: &RequestHead) -> Vec<String> {
    h.headers
        .iter()
        .map(|f| format!("{}: {}", f.name, String::from_utf8_lossy(&f.value)))
        .collect()
}

#[test]
fn a_request_without_the_callback_or_not_a_get_is_left_alone() {
    let config = JsonpConfig::default();
    assert_eq!(convert("/x?a=1", &config), Ok(None));
    let mut post = head("/x?callback=f");
    post.method = "POST".into();
    let before = post.clone();
    assert_eq!(
        convert_request(&mut post, &mut Vec::new(), &config),
        Ok(None)
    );
    assert_eq!(post, before);
}

#[test]
fn the_jsonp_params_become_method_fields_and_body() {
    let target = "/x?a=1&callback=cb&_method=PUT&_headers=%7B%22X-A%22%3A%22v%22%2C%22Host%22%3A%22h%22%7D&_body=hi%20there&b=2";
    let (h, body, jsonp) = convert(target, &JsonpConfig::default())
        .expect("valid")
        .expect("jsonp");
    assert_eq!(
        (h.method.as_str(), h.target.as_str()),
        ("PUT", "/x?a=1&b=2")
    );
    assert_eq!(
        fields(&h),
        ["X-A: v", "Host: Example.com", "Accept: */*", "Origin: o"]
    );
    assert_eq!(body, "hi there");
    assert_eq!(
        jsonp,
        Jsonp {
            callback: b"cb".to_vec(),
            extended: true
        }
    );
}

#[test]
fn the_route_sets_names_defaults_and_the_json_body() {
    let config = JsonpConfig {
        mode: JsonpMode::Basic,
        callback_param: "cb".into(),
        body_param: "data".into(),
        default_callback: "handle".into(),
        default_method: String::new(),
    };
    let (h, body, jsonp) = convert("/x?data=%7B%7D", &config)
        .expect("valid")
        .expect("jsonp");
    assert_eq!((h.method.as_str(), h.target.as_str()), ("POST", "/x"));
    assert_eq!(fields(&h)[0], "Content-Type: application/json");
    assert_eq!(body, "{}");
    assert_eq!(
        jsonp,
        Jsonp {
            callback: b"handle".to_vec(),
            extended: false
        }
    );
    // `callback` is not the route's name for it; `_body` is not its body param.
    assert_eq!(convert("/x?callback=f&_body=x", &config), Ok(None));
}

#[test]
fn bad_params_get_pushpins_400_texts() {
    let config = JsonpConfig::default();
    let cases = [
        ("/x?callback=", JsonpError::Callback),
        ("/x?callback", JsonpError::Callback),
        ("/x?callback=%zz", JsonpError::Callback),
        ("/x?callback=f&_method=", JsonpError::Method),
        ("/x?callback=f&_method=G%20T", JsonpError::Method),
        ("/x?callback=f&_headers=%5B%5D", JsonpError::Headers),
        (
            "/x?callback=f&_headers=%7B%22a%22%3A1%7D",
            JsonpError::Headers,
        ),
        ("/x?callback=f&_body=", JsonpError::Body),
        ("/x?callback=f&_body=%2", JsonpError::Body),
    ];
    for (target, want) in cases {
        assert_eq!(convert(target, &config), Err(want), "{target}");
    }
    assert_eq!(JsonpError::Callback.text(), "Invalid callback parameter.\n");
    let with_param = JsonpConfig {
        body_param: "d".into(),
        ..JsonpConfig::default()
    };
    assert_eq!(
        convert("/x?callback=f&d=", &with_param),
        Err(JsonpError::BodyParam)
    );
    assert_eq!(JsonpError::BodyParam.text(), "Invalid body parameter.\n");
}

#[test]
fn too_many_header_fields_are_refused() {
    let object: Vec<String> = (0..=JSONP_HEADERS_MAX)
        .map(|n| format!("%22h{n}%22:%22v%22"))
        .collect();
    let target = format!("/x?callback=f&_headers=%7B{}%7D", object.join(","));
    assert_eq!(
        convert(&target, &JsonpConfig::default()),
        Err(JsonpError::Headers)
    );
}
