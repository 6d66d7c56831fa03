//! Chunked: an incremental decoder for HTTP/1.1 chunked transfer coding (RFC 9112 §7.1).
//!
//! Owns: chunk-size lines, chunk data, the last chunk and trailer section.
//! Must not: buffer data (it hands out slices of its input) or assume that a read
//! boundary, a chunk boundary and a message boundary coincide: two publishes may share
//! one chunk and one publish may straddle reads.
//! Invariants: `feed` consumes every byte it is given until the body ends, then stops,
//! so bytes after the body (the next response on a keep-alive connection) are left over.

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A byte that cannot appear where it appeared.
    Unexpected { byte: u8 },
    /// A chunk size that does not fit in 64 bits.
    SizeOverflow,
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkError::Unexpected { byte } => {
                write!(f, "unexpected byte {byte:#04x} in chunked body")
            }
            ChunkError::SizeOverflow => write!(f, "chunk size over 64 bits"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` counts them (a size line needs at least one).
    Size { value: u64, digits: u8 },
    /// Skipping a chunk extension up to the line end.
    Extension { value: u64 },
    /// Saw `\r` after the size line; expects `\n`.
    SizeLf { value: u64 },
    /// `left` data bytes remain in this chunk.
    Data { left: u64 },
    /// Expects the `\r` (or a lenient bare `\n`) after chunk data.
    DataCr,
    /// Expects the `\n` after chunk data.
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw `\r` on the final empty line; expects `\n`.
    EndLf,
    /// The body is complete.
    Done,
}

/// Incremental chunked-body decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }
}

impl ChunkedDecoder {
    /// True once the last chunk and the trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, handing each run of body data to `on_data`. Returns how many bytes
    /// of `input` belong to the body; that is all of them unless the body ended inside it.
    pub fn feed<'a>(
        &mut self,
        input: &'a [u8],
        on_data: &mut impl FnMut(&'a [u8]),
    ) -> Result<usize, ChunkError> {
        let mut at = 0;
        while at < input.len() && self.state != State::Done {
            if let State::Data { left } = self.state {
                let take = (input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                on_data(&input[at..at + take]);
                at += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { left }
                };
                continue;
            }
            self.state = self.step(input[at])?;
            at += 1;
        }
        Ok(at)
    }

    /// One byte outside chunk data.
    fn step(&self, byte: u8) -> Result<State, ChunkError> {
        let unexpected = Err(ChunkError::Unexpected { byte });
        Ok(match (self.state, byte) {
            (State::Size { value, digits }, b) if b.is_ascii_hexdigit() => {
                let d = u64::from((b as char).to_digit(16).unwrap_or(0));
                let value = value
                    .checked_mul(16)
                    .and_then(|v| v.checked_add(d))
                    .ok_or(ChunkError::SizeOverflow)?;
                State::Size {
                    value,
                    digits: digits.saturating_add(1),
                }
            }
            (State::Size { digits: 0, .. }, _) => return unexpected,
            (State::Size { value, .. }, b';' | b' ' | b'\t') => State::Extension { value },
            (State::Size { value, .. } | State::Extension { value }, b'\r') => {
                State::SizeLf { value }
            }
            (
                State::Size { value, .. } | State::Extension { value } | State::SizeLf { value },
                b'\n',
            ) => {
                if value == 0 {
                    State::TrailerStart
                } else {
                    State::Data { left: value }
                }
            }
            (State::Extension { value }, _) => State::Extension { value },
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataCr | State::DataLf, b'\n') => State::Size {
                value: 0,
                digits: 0,
            },
            (State::TrailerStart, b'\r') => State::EndLf,
            (State::TrailerStart | State::EndLf, b'\n') => State::Done,
            (State::TrailerLine, b'\n') => State::TrailerStart,
            (State::TrailerStart | State::TrailerLine, _) => State::TrailerLine,
            _ => return unexpected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(input: &[u8], splits: &[usize]) -> (Vec<u8>, usize, bool) {
        let mut dec = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut used = 0;
        let mut start = 0;
        for &end in splits.iter().chain(std::iter::once(&input.len())) {
            let n = dec
                .feed(&input[start..end], &mut |d| out.extend_from_slice(d))
                .expect("valid");
            used += n;
            start = end;
            if dec.is_done() {
                break;
            }
        }
        (out, used, dec.is_done())
    }

    const BODY: &[u8] =
        b"5\r\nopen\n\r\n19;ext=1\r\n1 2 xxxxxxxx\n3 4 xxxxxxxx\r\n0\r\nX-T: y\r\n\r\nNEXT";

    #[test]
    fn every_single_and_double_split_decodes_the_same() {
        let (whole, used, done) = decode_split(BODY, &[]);
        assert_eq!(whole, b"open\n1 2 xxxxxxxx\n3 4 xxxxxxxx");
        assert_eq!(used, BODY.len() - 4, "stops before the next response");
        assert!(done);
        for a in 0..BODY.len() {
            for b in a..BODY.len() {
                let (out, used_split, done) = decode_split(BODY, &[a, b]);
                assert_eq!(
                    (out.as_slice(), used_split, done),
                    (whole.as_slice(), used, true),
                    "split {a},{b}"
                );
            }
        }
    }

    #[test]
    fn bare_newlines_are_accepted() {
        let (out, _, done) = decode_split(b"3\nabc\n0\n\n", &[]);
        assert_eq!((out.as_slice(), done), (&b"abc"[..], true));
    }

    #[test]
    fn garbage_size_line_is_an_error() {
        let mut dec = ChunkedDecoder::default();
        assert_eq!(
            dec.feed(b"zz\r\n", &mut |_| {}),
            Err(ChunkError::Unexpected { byte: b'z' })
        );
        let mut dec = ChunkedDecoder::default();
        assert_eq!(
            dec.feed(b"3\r\nabcX", &mut |_| {}),
            Err(ChunkError::Unexpected { byte: b'X' })
        );
        let mut dec = ChunkedDecoder::default();
        assert_eq!(
            dec.feed(b"11111111111111111\r\n", &mut |_| {}),
            Err(ChunkError::SizeOverflow)
        );
    }
}
