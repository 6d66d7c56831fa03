//! HTTP/1.1 heads and bodies: `parse_request`, `parse_response` and `BodyDecoder`.

use arbitrary::{Arbitrary, Unstructured};
use ringpin::http::{
    encode_chunk, encode_request_head, encode_response_head, parse_request, parse_response,
    reason_phrase, BodyDecoder, BodyKind, HeadLimits, ParseError, LAST_CHUNK,
};

/// The limits a head is parsed under: the three real ones and a tiny one that puts every
/// bound within the fuzzer's reach.
const LIMITS: [HeadLimits; 4] = [
    HeadLimits::CLIENT,
    HeadLimits::ORIGIN,
    HeadLimits::PUBLISH,
    HeadLimits {
        head_bytes_max: 96,
        uri_bytes_max: 16,
        headers_max: 3,
    },
];

/// Limits no encoded head in these checks reaches.
const UNBOUNDED: HeadLimits = HeadLimits {
    head_bytes_max: 1 << 30,
    uri_bytes_max: 1 << 30,
    headers_max: 4096,
};

/// Shorter prefixes of a complete head, as earlier reads would have delivered it.
fn prefixes(used: usize) -> Vec<usize> {
    let mut cuts = vec![0, used / 2, used.saturating_sub(1)];
    cuts.retain(|&cut| cut < used);
    cuts.dedup();
    cuts
}

/// Every request head: within its limits, the same across reads, and re-encoded to itself.
pub fn request_head(data: &[u8]) {
    for limits in &LIMITS {
        match parse_request(data, limits) {
            Ok(Some((head, used))) => {
                assert!(used <= data.len() && used <= limits.head_bytes_max);
                assert!(head.target.len() <= limits.uri_bytes_max);
                assert!(head.headers.len() <= limits.headers_max);
                for cut in prefixes(used) {
                    let early = parse_request(&data[..cut], limits);
                    assert_eq!(early, Ok(None), "a prefix of {cut} bytes of a head");
                }
                let _ = head.body_kind();
                let _ = (head.is_keep_alive(), head.expects_continue(), head.host());
                let _ = (head.path(), head.is_websocket_upgrade());
                let _ = ringpin::ws::parse_client_handshake(&head);
                let mut normalized = head.clone();
                if normalized.normalize_for_proxy().is_ok() {
                    let _ = (normalized.host(), normalized.path());
                }
                let mut out = Vec::new();
                encode_request_head(&head, &mut out);
                let again = parse_request(&out, &UNBOUNDED);
                assert_eq!(
                    again,
                    Ok(Some((head, out.len()))),
                    "re-encoded request head"
                );
            }
            Ok(None) => assert!(data.len() < limits.head_bytes_max),
            Err(error) => check_error(&error),
        }
    }
}

/// Every response head: within its limits, the same across reads, and re-encoded to itself.
pub fn response_head(data: &[u8]) {
    for limits in &LIMITS {
        match parse_response(data, limits) {
            Ok(Some((head, used))) => {
                assert!(used <= data.len() && used <= limits.head_bytes_max);
                assert!(head.headers.len() <= limits.headers_max);
                assert!((100..=999).contains(&head.status));
                for cut in prefixes(used) {
                    let early = parse_response(&data[..cut], limits);
                    assert_eq!(early, Ok(None), "a prefix of {cut} bytes of a head");
                }
                let _ = (head.body_kind("GET"), head.body_kind("HEAD"));
                let _ = head.is_keep_alive();
                let mut out = Vec::new();
                encode_response_head(&head, &mut out);
                let mut expected = head;
                if expected.reason.is_empty() {
                    expected.reason = reason_phrase(expected.status).to_owned();
                }
                let again = parse_response(&out, &UNBOUNDED);
                assert_eq!(
                    again,
                    Ok(Some((expected, out.len()))),
                    "re-encoded response head"
                );
            }
            Ok(None) => assert!(data.len() < limits.head_bytes_max),
            Err(error) => check_error(&error),
        }
    }
}

fn check_error(error: &ParseError) {
    let status = error.status();
    assert!((400..=599).contains(&status), "{error:?} gets {status}");
    let _ = error.reason_phrase();
}

/// Feeds `input` to a decoder of `kind` the way a connection does: each read is appended to
/// what the decoder left, the decoder consumes what it can, and reading stops once it is done.
/// Returns the body, the bytes consumed, whether it finished, or the error.
pub fn decode_in_pieces(
    kind: BodyKind,
    input: &[u8],
    sizes: &[u8],
) -> Result<(Vec<u8>, usize, bool), ParseError> {
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    let mut pending = Vec::new();
    let mut consumed = 0;
    for piece in super::pieces(input, sizes) {
        if decoder.is_done() {
            break;
        }
        pending.extend_from_slice(piece);
        let progress = decoder.decode(&pending, &mut body)?;
        assert!(progress.consumed <= pending.len());
        pending.drain(..progress.consumed);
        consumed += progress.consumed;
    }
    Ok((body, consumed, decoder.is_done()))
}

/// The body decoder gives the same body, the same end and the same error for every split.
pub fn body_decoder(data: &[u8]) {
    let (kind, rest) = match data {
        [1, rest @ ..] => (BodyKind::CloseDelimited, rest),
        [2, high, low, rest @ ..] => {
            let length = u16::from_be_bytes([*high, *low]);
            (BodyKind::Length(u64::from(length)), rest)
        }
        [_, rest @ ..] => (BodyKind::Chunked, rest),
        [] => return,
    };
    let (sizes, input) = rest.split_at(rest.len().min(4));
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    let whole = decoder.decode(input, &mut body);
    let split = decode_in_pieces(kind, input, sizes);
    match (whole, split) {
        (Ok(progress), Ok((split_body, consumed, done))) => {
            assert_eq!(split_body, body, "body differs when split");
            assert_eq!((consumed, done), (progress.consumed, progress.done));
            assert!(progress.done || progress.consumed == input.len());
            if let BodyKind::Length(n) = kind {
                assert!(body.len() as u64 <= n);
            }
            let eof = decoder.on_eof();
            let clean = progress.done || kind == BodyKind::CloseDelimited;
            assert_eq!(eof.is_ok(), clean, "{kind:?} at eof");
        }
        (Err(whole), Err(split)) => {
            assert_eq!(whole, split, "error differs when split");
            check_error(&whole);
        }
        (whole, split) => panic!("whole gives {whole:?}, split gives {split:?}"),
    }
}

/// A chunked body as `encode_chunk` writes it, with what may surround it on the wire.
#[derive(Arbitrary, Debug)]
struct ChunkedBody {
    chunks: Vec<Vec<u8>>,
    /// A chunk extension on the last chunk's size line.
    extension: bool,
    /// A trailer field after the last chunk.
    trailer: bool,
    /// Bytes of a pipelined request after the body.
    after: Vec<u8>,
    sizes: Vec<u8>,
}

/// Encoded chunks decode to their data in any split, and the decoder stops at the body's end.
pub fn chunked_roundtrip(data: &[u8]) {
    let Ok(input) = ChunkedBody::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mut wire = Vec::new();
    for chunk in &input.chunks {
        wire.extend_from_slice(&encode_chunk(chunk));
    }
    match (input.extension, input.trailer) {
        (false, false) => wire.extend_from_slice(LAST_CHUNK),
        (extension, trailer) => {
            wire.extend_from_slice(if extension {
                b"0;name=\"v\"\r\n"
            } else {
                b"0\r\n"
            });
            if trailer {
                wire.extend_from_slice(b"Expires: never\r\n");
            }
            wire.extend_from_slice(b"\r\n");
        }
    }
    let body_bytes = wire.len();
    wire.extend_from_slice(&input.after);
    let decoded = decode_in_pieces(BodyKind::Chunked, &wire, &input.sizes);
    let (body, consumed, done) = decoded.expect("an encoded body decodes");
    assert_eq!(body, input.chunks.concat());
    assert_eq!((consumed, done), (body_bytes, true));
}
