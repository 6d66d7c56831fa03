//! The item `ringpin publish` sends, built as `pushpin-publish` builds it.
//!
//! Owns: turning `PublishArgs` and the content's bytes into one `/publish/` item (JSON), the
//! same for HTTP and ZeroMQ.
//! Must not: read the content or send the item.
//! Invariants: content goes to every format: `http-response` (with `code` and headers),
//! `http-stream` and `ws-message`; HTTP content gets a trailing newline unless `--no-eol` or
//! it came from a file or stdin, as in Pushpin; `--patch` sends only `http-response` with a
//! `body-patch`; bytes that are not UTF-8 go as base64 (`content-bin`, `body-bin`).

use super::args::PublishArgs;
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// Where the content came from: the command line gets a newline, a file or stdin does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentSource {
    /// Typed on the command line.
    Argument,
    /// Read from `@FILE` or `-`.
    Bytes,
}

/// The item for `args`, with `content` already read (none for `--hint` and `--close`).
pub fn build_item(
    args: &PublishArgs,
    content: Option<(&[u8], ContentSource)>,
) -> Result<Value, String> {
    let mut formats = if args.hint {
        let hint = || json!({"action": "hint"});
        json!({"http-response": hint(), "http-stream": hint(), "ws-message": hint()})
    } else if args.close {
        json!({"http-stream": {"action": "close"}, "ws-message": {"action": "close"}})
    } else {
        let (bytes, source) = content.ok_or("must specify content")?;
        send_formats(args, bytes, source)?
    };
    if args.ws_only {
        let ws = formats.get("ws-message").cloned();
        formats = json!({ "ws-message": ws.ok_or("--ws has nothing to send with --patch")? });
    }
    let mut item = Map::new();
    item.insert("channel".into(), args.channel.clone().into());
    if let Some(id) = &args.id {
        item.insert("id".into(), id.clone().into());
    }
    if let Some(prev_id) = &args.prev_id {
        item.insert("prev-id".into(), prev_id.clone().into());
    }
    item.insert("formats".into(), formats);
    let mut meta = Map::new();
    if let Some(sender) = &args.sender {
        meta.insert("sender".into(), sender.clone().into());
    }
    for (name, value) in &args.meta {
        meta.insert(name.clone(), value.clone().into());
    }
    if !meta.is_empty() {
        item.insert("meta".into(), Value::Object(meta));
    }
    if args.no_seq {
        item.insert("no-seq".into(), true.into());
    }
    Ok(Value::Object(item))
}

/// The formats of a send: the content in all three, or a `body-patch` alone.
fn send_formats(args: &PublishArgs, bytes: &[u8], source: ContentSource) -> Result<Value, String> {
    let mut response = Map::new();
    response.insert("code".into(), args.code.into());
    if !args.headers.is_empty() {
        let headers: Vec<Value> = (args.headers.iter())
            .map(|(name, value)| json!([name, value]))
            .collect();
        response.insert("headers".into(), headers.into());
    }
    if args.patch {
        let patch: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("patch content is not JSON: {e}"))?;
        if !patch.is_array() {
            return Err("patch content must be a JSON array".into());
        }
        response.insert("body-patch".into(), patch);
        return Ok(json!({ "http-response": response }));
    }
    let mut http = bytes.to_vec();
    if source == ContentSource::Argument && !args.no_eol {
        http.push(b'\n');
    }
    let (key, value) = text_or_base64("body", &http);
    response.insert(key, value);
    let mut stream = Map::new();
    let (key, value) = text_or_base64("content", &http);
    stream.insert(key, value);
    let mut ws = Map::new();
    let (key, value) = text_or_base64("content", bytes);
    ws.insert(key, value);
    Ok(json!({"http-response": response, "http-stream": stream, "ws-message": ws}))
}

/// `name: text`, or `name-bin: base64` for bytes that are not UTF-8.
fn text_or_base64(name: &str, bytes: &[u8]) -> (String, Value) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (name.to_owned(), text.into()),
        Err(_) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            (format!("{name}-bin"), encoded.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(channel: &str) -> PublishArgs {
        PublishArgs {
            channel: channel.into(),
            code: 200,
            ..PublishArgs::default()
        }
    }

    #[test]
    fn content_goes_to_every_format_with_a_newline_for_http() {
        let mut a = args("news");
        a.id = Some("2".into());
        a.prev_id = Some("1".into());
        a.sender = Some("bob".into());
        a.meta = vec![("k".into(), "v".into())];
        a.headers = vec![("X-A".into(), "1".into())];
        a.code = 201;
        a.no_seq = true;
        let item = build_item(&a, Some((b"hi", ContentSource::Argument))).expect("item");
        assert_eq!(
            item,
            json!({
                "channel": "news", "id": "2", "prev-id": "1", "no-seq": true,
                "meta": {"sender": "bob", "k": "v"},
                "formats": {
                    "http-response": {"code": 201, "headers": [["X-A", "1"]], "body": "hi\n"},
                    "http-stream": {"content": "hi\n"},
                    "ws-message": {"content": "hi"},
                },
            })
        );
    }

    #[test]
    fn file_content_gets_no_newline_and_binary_goes_as_base64() {
        let item = build_item(&args("c"), Some((b"\xff\x00", ContentSource::Bytes))).expect("item");
        let formats = &item["formats"];
        assert_eq!(formats["http-stream"], json!({"content-bin": "/wA="}));
        assert_eq!(formats["http-response"]["body-bin"], json!("/wA="));
        assert_eq!(formats["ws-message"], json!({"content-bin": "/wA="}));
        let mut a = args("c");
        a.no_eol = true;
        let item = build_item(&a, Some((b"x", ContentSource::Argument))).expect("item");
        assert_eq!(item["formats"]["http-stream"]["content"], json!("x"));
    }

    #[test]
    fn hint_close_patch_and_ws_only() {
        let mut a = args("c");
        a.hint = true;
        let item = build_item(&a, None).expect("hint");
        assert_eq!(item["formats"]["http-stream"], json!({"action": "hint"}));
        let mut a = args("c");
        a.close = true;
        let item = build_item(&a, None).expect("close");
        assert_eq!(
            item["formats"],
            json!({"http-stream": {"action": "close"}, "ws-message": {"action": "close"}})
        );
        let mut a = args("c");
        a.patch = true;
        let patch = br#"[{"op":"add","path":"/a","value":1}]"#;
        let item = build_item(&a, Some((patch, ContentSource::Argument))).expect("patch");
        assert_eq!(
            item["formats"]["http-response"]["body-patch"][0]["op"],
            json!("add")
        );
        assert!(item["formats"].get("http-stream").is_none());
        assert!(build_item(&a, Some((b"{}", ContentSource::Argument))).is_err());
        a.ws_only = true;
        assert!(build_item(&a, Some((patch, ContentSource::Argument))).is_err());
        let mut a = args("c");
        a.ws_only = true;
        let item = build_item(&a, Some((b"m", ContentSource::Argument))).expect("ws");
        assert_eq!(item["formats"], json!({"ws-message": {"content": "m"}}));
    }
}
