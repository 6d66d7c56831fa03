//! BodyDecoder: the message body framing state machine (length, chunked, close-delimited).
//!
//! Owns: turning framed body bytes into body bytes, for requests and responses alike, with
//! chunked framing per RFC 9112 §7.1 (extensions ignored, trailers read and discarded).
//! Must not: read sockets, buffer beyond what the caller hands in, or consume bytes past the
//! end of the body: a pipelined request after it stays in the caller's buffer.
//! Invariants: input may be split at any byte; `decode` gives the same output for every
//! split. Chunked framing requires CRLF everywhere (no bare LF), so no two parsers can
//! disagree on where this body ends. After an error the decoder repeats it; drop it and close.

use super::error::ParseError;
use crate::limits::{CHUNK_SIZE_LINE_BYTES_MAX, CHUNK_TRAILERS_BYTES_MAX};

/// Hex digits a chunk size may have: 16 is all of `u64`, so the size never overflows.
const CHUNK_SIZE_DIGITS_MAX: u8 = 16;

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (never 0: that is `Empty`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the peer closes (responses only).
    CloseDelimited,
}

/// What one `decode` call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeProgress {
    /// Bytes of the input that were framing or body; the rest belongs to the caller.
    pub consumed: usize,
    /// True once the whole body has been read.
    pub done: bool,
}

/// Decodes one message body, fed in pieces.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
}

/// Decoder states. `Done` and `Failed` are final; `decode` in `Done` consumes nothing.
#[derive(Debug)]
enum State {
    /// This many body bytes remain; moves to `Done` at zero.
    Length { remaining: u64 },
    /// Inside chunked framing.
    Chunked(Chunked),
    /// Takes everything; moves to `Done` only through `on_eof`.
    CloseDelimited,
    /// The body is complete.
    Done,
    /// A framing error happened; every later call returns it again.
    Failed(ParseError),
}

/// Chunked framing states, in wire order. `Size` → `Extension`? → `SizeLf` → `Data` →
/// `DataCr` → `DataLf` → `Size` …; a zero size goes `SizeLf` → `Trailers` → `Done`.
#[derive(Debug)]
enum Chunked {
    /// Reading hex digits of the chunk size.
    Size {
        size: u64,
        digits: u8,
        line_bytes: usize,
    },
    /// After the digits: optional whitespace, then a `;ext=value` list (`in_list`) that is
    /// ignored up to the CR.
    Extension {
        size: u64,
        line_bytes: usize,
        in_list: bool,
    },
    /// The size line's CR was read; its LF must follow.
    SizeLf { size: u64 },
    /// This many data bytes of the current chunk remain.
    Data { remaining: u64 },
    /// Chunk data ended; CR must follow.
    DataCr,
    /// Chunk data ended and CR was read; LF must follow.
    DataLf,
    /// After the last chunk: trailer lines until an empty line.
    Trailers {
        bytes: usize,
        line_bytes: usize,
        seen_cr: bool,
    },
}

/// What one byte of chunked framing did.
enum Step {
    Next(Chunked),
    Done,
}

fn invalid(reason: &'static str) -> ParseError {
    ParseError::InvalidChunk { reason }
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`; `Empty` and `Length(0)` start out done.
    pub fn new(kind: BodyKind) -> BodyDecoder {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length { remaining: n },
            BodyKind::Chunked => State::Chunked(Chunked::Size {
                size: 0,
                digits: 0,
                line_bytes: 0,
            }),
            BodyKind::CloseDelimited => State::CloseDelimited,
        };
        BodyDecoder { state }
    }

    /// Consumes from `input`, appending decoded body bytes to `out`; never consumes bytes past
    /// the end of the body (pipelined data stays in the caller's buffer).
    ///
    /// On error, body bytes decoded before the error in this call may already be in `out`.
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<DecodeProgress, ParseError> {
        let consumed = match &mut self.state {
            State::Done => 0,
            State::Failed(error) => return Err(error.clone()),
            State::CloseDelimited => {
                out.extend_from_slice(input);
                input.len()
            }
            State::Length { remaining } => {
                let take = take_len(*remaining, input.len());
                out.extend_from_slice(&input[..take]);
                *remaining -= take as u64;
                if *remaining == 0 {
                    self.state = State::Done;
                }
                take
            }
            State::Chunked(_) => match self.decode_chunked(input, out) {
                Ok(consumed) => consumed,
                Err(error) => {
                    self.state = State::Failed(error.clone());
                    return Err(error);
                }
            },
        };
        Ok(DecodeProgress {
            consumed,
            done: self.is_done(),
        })
    }

    /// The peer closed: Ok for `CloseDelimited` (then done) and for a finished body;
    /// `UnexpectedEof` otherwise.
    pub fn on_eof(&mut self) -> Result<(), ParseError> {
        match &self.state {
            State::Done => Ok(()),
            State::CloseDelimited => {
                self.state = State::Done;
                Ok(())
            }
            State::Failed(error) => Err(error.clone()),
            State::Length { .. } | State::Chunked(_) => {
                self.state = State::Failed(ParseError::UnexpectedEof);
                Err(ParseError::UnexpectedEof)
            }
        }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Runs the chunked state machine over `input`: data bytes are copied in bulk, framing
    /// bytes are stepped one at a time. Returns the bytes consumed.
    fn decode_chunked(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ParseError> {
        let mut at = 0;
        while at < input.len() {
            let State::Chunked(chunked) = &mut self.state else {
                break;
            };
            if let Chunked::Data { remaining } = chunked {
                let take = take_len(*remaining, input.len() - at);
                out.extend_from_slice(&input[at..at + take]);
                at += take;
                *remaining -= take as u64;
                if *remaining == 0 {
                    *chunked = Chunked::DataCr;
                }
                continue;
            }
            let byte = input[at];
            at += 1;
            self.state = match step(chunked, byte)? {
                Step::Next(next) => State::Chunked(next),
                Step::Done => State::Done,
            };
        }
        Ok(at)
    }
}

/// `remaining` capped to `available`.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

/// One framing byte of chunked encoding (everything except chunk data).
fn step(state: &Chunked, byte: u8) -> Result<Step, ParseError> {
    match *state {
        Chunked::Size {
            size,
            digits,
            line_bytes,
        } => step_size(size, digits, count_line_byte(line_bytes)?, byte),
        Chunked::Extension {
            size,
            line_bytes,
            in_list,
        } => step_extension(size, count_line_byte(line_bytes)?, in_list, byte),
        Chunked::SizeLf { size } => match (byte, size) {
            (b'\n', 0) => Ok(Step::Next(Chunked::Trailers {
                bytes: 0,
                line_bytes: 0,
                seen_cr: false,
            })),
            (b'\n', _) => Ok(Step::Next(Chunked::Data { remaining: size })),
            _ => Err(invalid("missing lf after chunk size")),
        },
        Chunked::Data { .. } => unreachable!("decode_chunked copies data without stepping"),
        Chunked::DataCr if byte == b'\r' => Ok(Step::Next(Chunked::DataLf)),
        Chunked::DataLf if byte == b'\n' => Ok(Step::Next(Chunked::Size {
            size: 0,
            digits: 0,
            line_bytes: 0,
        })),
        Chunked::DataCr | Chunked::DataLf => Err(invalid("missing crlf after chunk data")),
        Chunked::Trailers {
            bytes,
            line_bytes,
            seen_cr,
        } => step_trailers(bytes, line_bytes, seen_cr, byte),
    }
}

/// Counts one more byte of the size line against `CHUNK_SIZE_LINE_BYTES_MAX` (CRLF included).
///
/// Byte number `line_bytes + 1` is allowed while one more byte, the LF, still fits: a line of
/// exactly the limit passes, and a longer one fails at its CR at the latest.
fn count_line_byte(line_bytes: usize) -> Result<usize, ParseError> {
    if line_bytes + 2 > CHUNK_SIZE_LINE_BYTES_MAX {
        return Err(invalid("chunk size line too long"));
    }
    Ok(line_bytes + 1)
}

fn step_size(size: u64, digits: u8, line_bytes: usize, byte: u8) -> Result<Step, ParseError> {
    let next = match (byte as char).to_digit(16) {
        Some(value) => {
            if digits == CHUNK_SIZE_DIGITS_MAX {
                return Err(invalid("chunk size has more than 16 hex digits"));
            }
            Chunked::Size {
                size: (size << 4) | u64::from(value),
                digits: digits + 1,
                line_bytes,
            }
        }
        None if digits == 0 => return Err(invalid("chunk size is not a hex number")),
        None => match byte {
            b'\r' => Chunked::SizeLf { size },
            b';' | b' ' | b'\t' => Chunked::Extension {
                size,
                line_bytes,
                in_list: byte == b';',
            },
            _ => return Err(invalid("invalid byte after chunk size")),
        },
    };
    Ok(Step::Next(next))
}

/// Whitespace may follow the size (RFC 9112 §7.1.1 BWS) but only before a `;`; the extension
/// list itself is skipped, refusing control bytes so that a bare LF cannot hide in it.
fn step_extension(
    size: u64,
    line_bytes: usize,
    in_list: bool,
    byte: u8,
) -> Result<Step, ParseError> {
    let next = |in_list| {
        Ok(Step::Next(Chunked::Extension {
            size,
            line_bytes,
            in_list,
        }))
    };
    match byte {
        b'\r' => Ok(Step::Next(Chunked::SizeLf { size })),
        b';' => next(true),
        b' ' | b'\t' => next(in_list),
        _ if byte.is_ascii_control() => Err(invalid("invalid byte in chunk extension")),
        _ if in_list => next(true),
        _ => Err(invalid("invalid byte after chunk size")),
    }
}

/// Trailer lines are counted against `CHUNK_TRAILERS_BYTES_MAX` and dropped; an empty line
/// (CRLF at the start of a line) ends the body.
fn step_trailers(
    bytes: usize,
    line_bytes: usize,
    seen_cr: bool,
    byte: u8,
) -> Result<Step, ParseError> {
    let bytes = bytes + 1;
    if bytes > CHUNK_TRAILERS_BYTES_MAX {
        return Err(invalid("trailer section too large"));
    }
    match (seen_cr, byte) {
        (true, b'\n') if line_bytes == 0 => Ok(Step::Done),
        (true, b'\n') => Ok(Step::Next(Chunked::Trailers {
            bytes,
            line_bytes: 0,
            seen_cr: false,
        })),
        (true, _) | (false, b'\n') | (false, 0) => Err(invalid("invalid line ending in trailers")),
        (false, b'\r') => Ok(Step::Next(Chunked::Trailers {
            bytes,
            line_bytes,
            seen_cr: true,
        })),
        (false, _) => Ok(Step::Next(Chunked::Trailers {
            bytes,
            line_bytes: line_bytes + 1,
            seen_cr: false,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<(Vec<u8>, usize, bool), ParseError>;

    /// Feeds `pieces` as a caller would: unconsumed bytes stay buffered and are offered again
    /// with the next piece. Returns the body, the bytes consumed and whether it is done.
    fn feed(kind: BodyKind, pieces: &[&[u8]]) -> Outcome {
        let mut decoder = BodyDecoder::new(kind);
        let (mut pending, mut body, mut consumed) = (Vec::new(), Vec::new(), 0);
        for piece in pieces {
            pending.extend_from_slice(piece);
            let progress = decoder.decode(&pending, &mut body)?;
            assert!(
                progress.done || progress.consumed == pending.len(),
                "stalled"
            );
            assert_eq!(progress.done, decoder.is_done());
            pending.drain(..progress.consumed);
            consumed += progress.consumed;
        }
        Ok((body, consumed, decoder.is_done()))
    }

    /// Decodes `input` whole, split at every point, and one byte at a time: all must agree
    /// with `expected` (body, consumed, done) or with the expected error.
    fn check(kind: BodyKind, input: &[u8], expected: Result<(&[u8], usize, bool), ParseError>) {
        let expected: Outcome = expected.map(|(body, n, done)| (body.to_vec(), n, done));
        let shown = String::from_utf8_lossy(input);
        assert_eq!(feed(kind, &[input]), expected, "{kind:?} {shown:?}");
        for at in 0..=input.len() {
            let (head, tail) = input.split_at(at);
            assert_eq!(
                feed(kind, &[head, tail]),
                expected,
                "{kind:?} {shown:?} split {at}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(feed(kind, &bytes), expected, "{kind:?} {shown:?} bytewise");
    }

    fn invalid_chunk(reason: &'static str) -> Result<(&'static [u8], usize, bool), ParseError> {
        Err(ParseError::InvalidChunk { reason })
    }

    #[test]
    fn length_empty_and_close_delimited_bodies() {
        use BodyKind::*;
        check(Empty, b"", Ok((b"", 0, true)));
        check(Empty, b"GET / HTTP/1.1\r\n", Ok((b"", 0, true)));
        check(Length(0), b"next", Ok((b"", 0, true)));
        check(Length(5), b"hello", Ok((b"hello", 5, true)));
        check(Length(5), b"hel", Ok((b"hel", 3, false)));
        check(
            Length(5),
            b"helloGET / HTTP/1.1\r\n",
            Ok((b"hello", 5, true)),
        );
        check(Length(u64::MAX), b"abc", Ok((b"abc", 3, false)));
        check(CloseDelimited, b"", Ok((b"", 0, false)));
        check(CloseDelimited, b"all of it", Ok((b"all of it", 9, false)));
    }

    #[test]
    fn chunked_bodies_decode_at_every_split_point() {
        let ok = |body: &'static [u8], n, done| Ok((body, n, done));
        let c = BodyKind::Chunked;
        check(c, b"5\r\nhello\r\n0\r\n\r\n", ok(b"hello", 15, true));
        check(
            c,
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            ok(b"hello world", 26, true),
        );
        check(c, b"0\r\n\r\nGET / HTTP/1.1\r\n\r\n", ok(b"", 5, true));
        check(c, b"3\r\nabc\r\n0\r\n\r\nPOST", ok(b"abc", 13, true));
        check(
            c,
            b"A\r\n0123456789\r\n0\r\n\r\n",
            ok(b"0123456789", 20, true),
        );
        check(
            c,
            b"a\r\n0123456789\r\n0\r\n\r\n",
            ok(b"0123456789", 20, true),
        );
        check(c, b"0005\r\nhello\r\n0\r\n\r\n", ok(b"hello", 18, true));
        check(
            c,
            b"5;name=value;x\r\nhello\r\n0;last\r\n\r\n",
            ok(b"hello", 33, true),
        );
        check(
            c,
            b"5 ;a=\"q d\"\r\nhello\r\n0\t;z\r\n\r\n",
            ok(b"hello", 27, true),
        );
        check(c, b"2\r\n\r\n\r\n0\r\n\r\n", ok(b"\r\n", 12, true));
        check(
            c,
            b"1\r\nx\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\nNEXT",
            ok(b"x", 25, true),
        );
        check(c, b"5\r\nhel", ok(b"hel", 6, false));
        check(c, b"5\r\nhello\r\n0\r\n", ok(b"hello", 13, false));
        check(c, b"ffffffffffffffff\r\nab", ok(b"ab", 20, false));
        check(c, b"0000000000000001\r\nx\r\n0\r\n\r\n", ok(b"x", 26, true));
    }

    #[test]
    fn malformed_chunked_framing_is_refused_at_every_split_point() {
        let c = BodyKind::Chunked;
        let not_hex = "chunk size is not a hex number";
        let after_size = "invalid byte after chunk size";
        let no_crlf = "missing crlf after chunk data";
        let trailers = "invalid line ending in trailers";
        check(c, b"x\r\n", invalid_chunk(not_hex));
        check(c, b"\r\n", invalid_chunk(not_hex));
        check(c, b";x\r\n", invalid_chunk(not_hex));
        check(c, b"-5\r\n", invalid_chunk(not_hex));
        check(c, b" 5\r\n", invalid_chunk(not_hex));
        check(c, b"0x5\r\n", invalid_chunk(after_size));
        check(c, b"5g\r\n", invalid_chunk(after_size));
        check(c, b"5 x\r\n", invalid_chunk(after_size));
        check(c, b"5\nhello\r\n", invalid_chunk(after_size));
        check(
            c,
            b"5\r\rhello",
            invalid_chunk("missing lf after chunk size"),
        );
        check(
            c,
            b"5;a\nb\r\n",
            invalid_chunk("invalid byte in chunk extension"),
        );
        check(
            c,
            b"5;a\0\r\n",
            invalid_chunk("invalid byte in chunk extension"),
        );
        check(
            c,
            b"5;a\rb\r\n",
            invalid_chunk("missing lf after chunk size"),
        );
        check(c, b"5\r\nhelloX\r\n", invalid_chunk(no_crlf));
        check(c, b"5\r\nhello\n0\r\n\r\n", invalid_chunk(no_crlf));
        check(c, b"5\r\nhello\rX", invalid_chunk(no_crlf));
        check(c, b"3\r\nhello\r\n", invalid_chunk(no_crlf));
        let too_long = "chunk size has more than 16 hex digits";
        check(c, b"00000000000000001\r\nx\r\n", invalid_chunk(too_long));
        check(c, b"10000000000000000\r\n", invalid_chunk(too_long));
        check(c, b"0\r\n\n", invalid_chunk(trailers));
        check(c, b"0\r\nX: 1\n\r\n", invalid_chunk(trailers));
        check(c, b"0\r\nX\rY\r\n\r\n", invalid_chunk(trailers));
        check(c, b"0\r\nX: \0\r\n\r\n", invalid_chunk(trailers));
    }

    #[test]
    fn chunk_size_line_limit_is_inclusive() {
        let line = |ext_bytes: usize| {
            let mut wire = b"5;".to_vec();
            wire.resize(2 + ext_bytes, b'e');
            wire.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
            wire
        };
        // "5;" + extension + CRLF is exactly CHUNK_SIZE_LINE_BYTES_MAX, then one byte more.
        let at_limit = line(CHUNK_SIZE_LINE_BYTES_MAX - 4);
        check(
            BodyKind::Chunked,
            &at_limit,
            Ok((b"hello", at_limit.len(), true)),
        );
        let over = line(CHUNK_SIZE_LINE_BYTES_MAX - 3);
        check(
            BodyKind::Chunked,
            &over,
            invalid_chunk("chunk size line too long"),
        );
    }

    #[test]
    fn trailer_section_limit_is_inclusive() {
        let trailers = |pad: usize| {
            let mut wire = b"1\r\nx\r\n0\r\nX: ".to_vec();
            wire.resize(wire.len() + pad, b't');
            wire.extend_from_slice(b"\r\n\r\n");
            wire
        };
        // "X: " + pad + CRLF + CRLF is exactly CHUNK_TRAILERS_BYTES_MAX, then one byte more.
        let at_limit = trailers(CHUNK_TRAILERS_BYTES_MAX - 7);
        assert_eq!(at_limit.len() - 9, CHUNK_TRAILERS_BYTES_MAX);
        let expected = Ok((b"x".to_vec(), at_limit.len(), true));
        assert_eq!(feed(BodyKind::Chunked, &[&at_limit]), expected);
        let over = trailers(CHUNK_TRAILERS_BYTES_MAX - 6);
        let refused = Err(invalid("trailer section too large"));
        assert_eq!(feed(BodyKind::Chunked, &[&over]), refused);
        let bytes: Vec<&[u8]> = over.chunks(1).collect();
        assert_eq!(feed(BodyKind::Chunked, &bytes), refused);
    }

    #[test]
    fn eof_ends_close_delimited_bodies_and_truncates_others() {
        let eof = Err(ParseError::UnexpectedEof);
        let cases: &[(BodyKind, &[u8], Result<(), ParseError>)] = &[
            (BodyKind::Empty, b"", Ok(())),
            (BodyKind::CloseDelimited, b"abc", Ok(())),
            (BodyKind::Length(5), b"hello", Ok(())),
            (BodyKind::Length(5), b"hel", eof.clone()),
            (BodyKind::Chunked, b"5\r\nhello\r\n0\r\n\r\n", Ok(())),
            (BodyKind::Chunked, b"5\r\nhello\r\n", eof.clone()),
            (BodyKind::Chunked, b"", eof),
        ];
        for (kind, input, expected) in cases {
            let mut decoder = BodyDecoder::new(*kind);
            decoder.decode(input, &mut Vec::new()).expect("valid input");
            assert_eq!(decoder.on_eof(), *expected, "{kind:?} {input:?}");
            assert_eq!(decoder.is_done(), expected.is_ok(), "{kind:?} {input:?}");
            let after = decoder.decode(b"more", &mut Vec::new());
            let expected_after = expected.clone().map(|()| DecodeProgress {
                consumed: 0,
                done: true,
            });
            assert_eq!(after, expected_after, "{kind:?} {input:?}");
        }
    }

    #[test]
    fn a_failed_decoder_repeats_its_error() {
        let mut decoder = BodyDecoder::new(BodyKind::Chunked);
        let error = invalid("chunk size is not a hex number");
        assert_eq!(decoder.decode(b"zz", &mut Vec::new()), Err(error.clone()));
        assert_eq!(
            decoder.decode(b"5\r\n", &mut Vec::new()),
            Err(error.clone())
        );
        assert_eq!(decoder.on_eof(), Err(error));
        assert!(!decoder.is_done());
    }
}
