//! Publish endpoint tests: routing, Accept negotiation, 405/406/411/404 texts, publish replies.

use super::*;

fn request<'a>(
    method: &'a str,
    path: &'a str,
    accept: Option<&'a str>,
    body: &'a str,
) -> PublishRequest<'a> {
    PublishRequest {
        method,
        path,
        accept,
        has_content_length: true,
        body: body.as_bytes(),
    }
}

/// Status, content type and body of a reply.
type Summary<'a> = (u16, &'a str, &'a str);

/// The `Summary` of `reply`.
fn summary(reply: &EndpointReply) -> Summary<'_> {
    (reply.status, reply.content_type, reply.body.as_str())
}

const ITEMS: &str = r#"{"items": [{"channel": "c", "http-stream": {"content": "hi\n"}}]}"#;

#[test]
fn routes_and_texts() {
    let cases: &[(&str, &str, Summary<'_>)] = &[
        ("GET", "/", (200, "text/plain", "Pushpin API\n")),
        ("POST", "/", (200, "text/plain", "Pushpin API\n")),
        ("POST", "/publish", (200, "text/plain", "Published\n")),
        ("POST", "/publish/", (200, "text/plain", "Published\n")),
        ("POST", "/recover", (200, "text/plain", "Updated\n")),
        ("POST", "/recover/", (200, "text/plain", "Updated\n")),
        (
            "GET",
            "/publish/",
            (405, "text/plain", "Method not allowed: GET.\n"),
        ),
        (
            "PUT",
            "/recover",
            (405, "text/plain", "Method not allowed: PUT.\n"),
        ),
        ("POST", "/publish/?x=1", (404, "text/plain", "Not Found\n")),
        ("POST", "/publish//", (404, "text/plain", "Not Found\n")),
        ("GET", "//", (200, "text/plain", "Pushpin API\n")),
        ("GET", "/other", (404, "text/plain", "Not Found\n")),
        ("POST", "/PUBLISH", (404, "text/plain", "Not Found\n")),
        ("GET", "/metrics", (200, "text/plain; version=0.0.4", "")),
        ("GET", "/metrics/", (200, "text/plain; version=0.0.4", "")),
        (
            "POST",
            "/metrics",
            (405, "text/plain", "Method not allowed: POST.\n"),
        ),
    ];
    for (method, path, want) in cases {
        let reply = handle(&request(method, path, None, ITEMS));
        assert_eq!(summary(&reply), *want, "{method} {path}");
    }
}

#[test]
fn actions_and_allow() {
    let reply = handle(&request("POST", "/publish/", None, ITEMS));
    match reply.action {
        EndpointAction::Publish(items) => {
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].channel, "c");
        }
        other => panic!("{other:?}"),
    }
    let reply = handle(&request("POST", "/recover", None, ""));
    assert!(matches!(reply.action, EndpointAction::Recover));
    let reply = handle(&request(
        "GET",
        "/metrics",
        Some("application/openmetrics-text"),
        "",
    ));
    assert!(matches!(reply.action, EndpointAction::Metrics));
    let reply = handle(&request("GET", "/publish", None, ""));
    assert_eq!(
        (reply.reason, reply.allow),
        ("Method Not Allowed", Some("POST"))
    );
    assert!(matches!(reply.action, EndpointAction::None));
    let reply = handle(&request("DELETE", "/metrics", None, ""));
    assert_eq!(reply.allow, Some("GET"));
    let reply = handle(&request("GET", "/", None, ""));
    assert_eq!((reply.reason, reply.allow), ("OK", None));
}

#[test]
fn accept_negotiation() {
    const NOT_ACCEPTABLE: &str =
        "Not Acceptable. Supported formats are text/plain and application/json.\n";
    let text = (200, "text/plain", "Published\n");
    let json = (200, "application/json", "{\"message\":\"Published\"}\n");
    let refused = (406, "text/plain", NOT_ACCEPTABLE);
    let cases: &[(Option<&str>, Summary<'_>)] = &[
        (None, text),
        (Some("text/plain"), text),
        (Some("text/*"), text),
        (Some("*/*"), text),
        (Some("*"), text),
        (Some("TEXT/PLAIN; charset=utf-8"), text),
        (Some("application/json"), json),
        (Some("application/*"), json),
        (Some("application/json; q=0.9"), json),
        (Some("text/html, application/json"), json),
        (Some("application/json, text/plain"), text),
        (Some("text/plain, application/json;q=0.1"), json),
        (Some("text/html"), refused),
        (Some("application/xml, image/*"), refused),
        (Some(""), refused),
        (Some(" , ;q=1"), refused),
    ];
    for (accept, want) in cases {
        let reply = handle(&request("POST", "/publish", *accept, ITEMS));
        assert_eq!(summary(&reply), *want, "{accept:?}");
    }
    let recover = handle(&request("POST", "/recover", Some("application/json"), ""));
    assert_eq!(
        summary(&recover),
        (200, "application/json", "{\"message\":\"Updated\"}\n")
    );
    // Negotiation happens before routing, as in Pushpin.
    let unknown = handle(&request("GET", "/nope", Some("text/html"), ""));
    assert_eq!(unknown.status, 406);
}

#[test]
fn content_length_is_required_for_methods_with_bodies() {
    let cases = [
        ("POST", "/publish", 411),
        ("PUT", "/publish", 411),
        ("POST", "/nope", 411),
        ("GET", "/publish", 405),
        ("HEAD", "/", 200),
        ("DELETE", "/nope", 404),
    ];
    for (method, path, want) in cases {
        let mut req = request(method, path, None, "");
        req.has_content_length = false;
        let reply = handle(&req);
        assert_eq!(reply.status, want, "{method} {path}");
        if want == 411 {
            assert_eq!(reply.reason, "Length Required");
            assert_eq!(reply.body, "Request requires Content-Length.\n");
        }
    }
}

#[test]
fn publish_errors_are_400_text_even_for_json_clients() {
    let cases = [
        ("", "Body is not valid JSON.\n"),
        ("[]", "Invalid format.\n"),
        ("{}", "Invalid format: object does not contain 'items'\n"),
        (
            r#"{"items": [{}]}"#,
            "Invalid format: publish item object does not contain 'channel'\n",
        ),
        (
            r#"{"items": [{"channel": "c", "http-stream": {"action": "reload"}}]}"#,
            "Invalid format: \n",
        ),
    ];
    for (body, want) in cases {
        let reply = handle(&request(
            "POST",
            "/publish/",
            Some("application/json"),
            body,
        ));
        assert_eq!(summary(&reply), (400, "text/plain", want), "{body}");
        assert_eq!(reply.reason, "Bad Request");
        assert!(matches!(reply.action, EndpointAction::None));
    }
    assert_eq!(BODY_TOO_LARGE_TEXT, "Request body too large.\n");
}
