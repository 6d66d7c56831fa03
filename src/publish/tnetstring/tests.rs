use super::*;

fn parse(input: &str) -> Result<Tnet, TnetError> {
    parse_tnetstring(input.as_bytes())
}

fn bytes(s: &str) -> Tnet {
    Tnet::Bytes(s.as_bytes().to_vec())
}

fn encoded(value: &Tnet) -> String {
    let mut out = Vec::new();
    encode_tnetstring(value, &mut out);
    String::from_utf8(out).expect("test values are UTF-8")
}

#[test]
fn every_type_parses() {
    assert_eq!(parse("5:hello,"), Ok(bytes("hello")));
    assert_eq!(parse("0:,"), Ok(bytes("")));
    assert_eq!(parse("3:-42#"), Ok(Tnet::Int(-42)));
    assert_eq!(parse("4:2.50^"), Ok(Tnet::Float(2.5)));
    assert_eq!(parse("4:true!"), Ok(Tnet::Bool(true)));
    assert_eq!(parse("5:false!"), Ok(Tnet::Bool(false)));
    assert_eq!(parse("0:~"), Ok(Tnet::Null));
    assert_eq!(parse("0:]"), Ok(Tnet::List(vec![])));
    assert_eq!(parse("0:}"), Ok(Tnet::Map(vec![])));
    assert_eq!(
        parse("11:1:a,1:1#0:~]"),
        Ok(Tnet::List(vec![bytes("a"), Tnet::Int(1), Tnet::Null]))
    );
}

#[test]
fn a_pubcontrol_item_parses_with_binary_content() {
    // content holding invalid UTF-8, as pubcontrol may send it.
    let item = Tnet::Map(vec![
        (b"channel".to_vec(), bytes("test")),
        (
            b"formats".to_vec(),
            Tnet::Map(vec![(
                b"http-stream".to_vec(),
                Tnet::Map(vec![(
                    b"content".to_vec(),
                    Tnet::Bytes(vec![0xff, 0, b'\n']),
                )]),
            )]),
        ),
    ]);
    let mut wire = Vec::new();
    encode_tnetstring(&item, &mut wire);
    let parsed = parse_tnetstring(&wire).expect("round trip");
    assert_eq!(parsed, item);
    let content = parsed
        .get("formats")
        .and_then(|f| f.get("http-stream"))
        .and_then(|s| s.get("content"))
        .and_then(Tnet::as_bytes);
    assert_eq!(content, Some(&[0xff, 0, b'\n'][..]));
    assert_eq!(parsed.get("channel"), Some(&bytes("test")));
    assert_eq!(parsed.get("missing"), None);
}

#[test]
fn encoding_matches_the_spec_examples() {
    assert_eq!(encoded(&bytes("hello")), "5:hello,");
    assert_eq!(encoded(&Tnet::Int(12345)), "5:12345#");
    assert_eq!(encoded(&Tnet::Bool(true)), "4:true!");
    assert_eq!(encoded(&Tnet::Null), "0:~");
    assert_eq!(
        encoded(&Tnet::Map(vec![(b"id".to_vec(), bytes("1"))])),
        "9:2:id,1:1,}"
    );
}

#[test]
fn malformed_tnetstrings_are_errors_naming_the_fault() {
    let cases: &[(&[u8], TnetError)] = &[
        (b"", TnetError::Truncated),
        (b"5", TnetError::Truncated),
        (b"5:hel", TnetError::Truncated),
        (b"5:hello", TnetError::Truncated),
        (b"1234567890:x,", TnetError::BadLength),
        (b":x,", TnetError::BadLength),
        (b"-1:x,", TnetError::BadLength),
        (b"a:x,", TnetError::BadLength),
        (b"5:hello?", TnetError::UnknownType(b'?')),
        (b"2:4x#", TnetError::BadData("integer")),
        (b"20:99999999999999999999#", TnetError::BadData("integer")),
        (b"3:inf^", TnetError::BadData("float")),
        (b"3:NaN^", TnetError::BadData("float")),
        (b"3:yes!", TnetError::BadData("boolean")),
        (b"1:x~", TnetError::BadData("null")),
        (b"4:1:1#}", TnetError::BadData("dictionary key")),
        (b"4:1:a,}", TnetError::BadData("dictionary")),
        (b"5:hello,x", TnetError::TrailingBytes(1)),
        (b"4:2:ab]", TnetError::Truncated),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_tnetstring(input).as_ref(),
            Err(want),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn nesting_is_bounded() {
    let mut wire = b"0:]".to_vec();
    for _ in 0..TNET_DEPTH_MAX {
        wire = format!("{}:", wire.len())
            .into_bytes()
            .into_iter()
            .chain(wire)
            .chain(*b"]")
            .collect();
    }
    assert!(parse_tnetstring(&wire).is_ok(), "{TNET_DEPTH_MAX} levels");
    let deeper: Vec<u8> = format!("{}:", wire.len())
        .into_bytes()
        .into_iter()
        .chain(wire)
        .chain(*b"]")
        .collect();
    assert_eq!(parse_tnetstring(&deeper), Err(TnetError::TooDeep));
}

/// A seeded xorshift step.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn random_value(rng: &mut u64, depth: usize) -> Tnet {
    let leaf = depth >= 4;
    match xorshift(rng) % if leaf { 5 } else { 7 } {
        0 => Tnet::Bytes(
            (0..xorshift(rng) % 20)
                .map(|_| xorshift(rng) as u8)
                .collect(),
        ),
        1 => Tnet::Int(xorshift(rng) as i64),
        2 => Tnet::Float((xorshift(rng) % 1_000_000) as f64 / 64.0 - 5000.0),
        3 => Tnet::Bool(xorshift(rng) % 2 == 0),
        4 => Tnet::Null,
        5 => Tnet::List(
            (0..xorshift(rng) % 4)
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Tnet::Map(
            (0..xorshift(rng) % 4)
                .map(|_| {
                    let key = (0..xorshift(rng) % 6)
                        .map(|_| xorshift(rng) as u8)
                        .collect();
                    (key, random_value(rng, depth + 1))
                })
                .collect(),
        ),
    }
}

#[test]
fn random_values_round_trip_and_random_damage_never_panics() {
    for seed in 1..3000u64 {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let value = random_value(&mut rng, 0);
        let mut wire = Vec::new();
        encode_tnetstring(&value, &mut wire);
        assert_eq!(parse_tnetstring(&wire), Ok(value), "seed {seed}");
        // Flip, cut or extend the wire: any answer but a panic is fine.
        let at = (xorshift(&mut rng) as usize) % wire.len();
        let mut damaged = wire.clone();
        damaged[at] = xorshift(&mut rng) as u8;
        let _ = parse_tnetstring(&damaged);
        let _ = parse_tnetstring(&wire[..at]);
        wire.push(b'x');
        assert_eq!(parse_tnetstring(&wire), Err(TnetError::TrailingBytes(1)));
    }
}

/// Found by the `tnetstring_roundtrip` fuzz target: the encoder writes a non-finite float,
/// which the parser refuses on purpose (an item becomes JSON); the module doc says so.
#[test]
fn an_encoded_non_finite_float_is_refused_not_round_tripped() {
    for value in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        let mut wire = Vec::new();
        encode_tnetstring(&Tnet::Float(value), &mut wire);
        assert_eq!(parse_tnetstring(&wire), Err(TnetError::BadData("float")));
    }
}
