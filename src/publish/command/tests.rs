use super::*;

fn bytes(s: &str) -> Tnet {
    Tnet::Bytes(s.as_bytes().to_vec())
}

fn map(pairs: &[(&str, Tnet)]) -> Tnet {
    Tnet::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect(),
    )
}

fn request(value: &Tnet) -> CommandRequest {
    let mut wire = Vec::new();
    encode_tnetstring(value, &mut wire);
    parse_command(&wire).expect("a dictionary")
}

fn failure(value: &Tnet) -> CommandFailure {
    request(value).command.expect_err("a failure")
}

#[test]
fn methods_parse_with_their_arguments() {
    let r = request(&map(&[
        ("id", bytes("1")),
        ("method", bytes("get-zmq-uris")),
    ]));
    assert_eq!(r.id.as_deref(), Some(&b"1"[..]));
    assert!(matches!(r.command, Ok(Command::GetZmqUris)));
    let r = request(&map(&[("method", bytes("recover"))]));
    assert!(r.id.is_none() && matches!(r.command, Ok(Command::Recover)));
    let refresh = |args| request(&map(&[("method", bytes("refresh")), ("args", args)])).command;
    assert!(matches!(
        refresh(map(&[("cid", bytes("c1"))])),
        Ok(Command::Refresh(RefreshTarget::Connection(ref c))) if c == b"c1"
    ));
    assert!(matches!(
        refresh(map(&[("channel", bytes("room"))])),
        Ok(Command::Refresh(RefreshTarget::Channel(ref c))) if c == "room"
    ));
    let ids = Tnet::List(vec![bytes("a"), bytes("b")]);
    let r = request(&map(&[
        ("method", bytes("conncheck")),
        ("args", map(&[("ids", ids)])),
    ]));
    assert!(matches!(r.command, Ok(Command::ConnCheck(ref ids)) if ids.len() == 2));
}

#[test]
fn conncheck_takes_at_most_the_limit_of_ids() {
    let conncheck = |n: usize| {
        let ids = Tnet::List((0..n).map(|i| bytes(&i.to_string())).collect());
        let args = map(&[("ids", ids)]);
        request(&map(&[("method", bytes("conncheck")), ("args", args)])).command
    };
    assert!(
        matches!(conncheck(CONNCHECK_IDS_MAX), Ok(Command::ConnCheck(ref ids)) if ids.len() == CONNCHECK_IDS_MAX)
    );
    assert!(matches!(
        conncheck(CONNCHECK_IDS_MAX + 1),
        Err(CommandFailure {
            condition: "bad-request",
            ..
        })
    ));
    assert!(matches!(
        conncheck(0),
        Ok(Command::ConnCheck(ref ids)) if ids.is_empty()
    ));
}

#[test]
fn publish_validates_every_item_like_http() {
    let item = map(&[
        ("channel", bytes("news")),
        (
            "formats",
            map(&[("http-stream", map(&[("content", bytes("hi\n"))]))]),
        ),
    ]);
    let args = map(&[("items", Tnet::List(vec![item.clone(), item]))]);
    let r = request(&map(&[("method", bytes("publish")), ("args", args)]));
    assert!(matches!(r.command, Ok(Command::Publish(ref items)) if items.len() == 2));
    let bad = map(&[("items", Tnet::List(vec![map(&[("channel", bytes("c"))])]))]);
    let f = failure(&map(&[("method", bytes("publish")), ("args", bad)]));
    assert_eq!(f.condition, "bad-request");
    assert_eq!(
        f.message.as_deref(),
        Some("Invalid format: no formats specified")
    );
}

#[test]
fn unknown_and_malformed_requests_get_a_condition() {
    assert_eq!(
        failure(&map(&[("method", bytes("frobnicate"))])).condition,
        "method-not-found"
    );
    assert_eq!(
        failure(&map(&[("id", bytes("1"))])).condition,
        "bad-request"
    );
    let no_target = map(&[("method", bytes("refresh")), ("args", map(&[]))]);
    assert_eq!(failure(&no_target).condition, "bad-request");
    assert!(parse_command(b"not a tnetstring").is_none());
    assert!(parse_command(b"1:x,").is_none(), "not a dictionary");
}

#[test]
fn replies_echo_the_id_and_round_trip() {
    let ok = encode_success(
        Some(b"7"),
        map(&[("publish-pull", bytes("tcp://127.0.0.1:5560"))]),
    );
    let ok = parse_tnetstring(&ok).expect("tnetstring");
    assert_eq!(ok.get("id"), Some(&bytes("7")));
    assert_eq!(ok.get("success"), Some(&Tnet::Bool(true)));
    assert_eq!(
        ok.get("value").and_then(|v| v.get("publish-pull")),
        Some(&bytes("tcp://127.0.0.1:5560"))
    );
    let missing = CommandFailure {
        condition: "method-not-found",
        message: None,
    };
    let failed = parse_tnetstring(&encode_failure(None, &missing)).expect("tnetstring");
    assert_eq!(failed.get("id"), None);
    assert_eq!(failed.get("success"), Some(&Tnet::Bool(false)));
    assert_eq!(failed.get("condition"), Some(&bytes("method-not-found")));
    assert_eq!(failed.get("value"), None);
}
