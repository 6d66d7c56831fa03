//! Grip-Keep-Alive bodies and their schedule.
//!
//! Owns: decoding the `format=cstring` keep-alive data, and the jittered period between
//! keep-alive writes.
//! Must not: read the clock or pick random numbers; the caller passes both in, so the
//! schedule is deterministic under test.
//! Invariants: a jittered period is never longer than the configured timeout and never
//! shorter than the timeout minus `limits::KEEP_ALIVE_JITTER_MAX`.

use std::time::Duration;

use super::error::{invalid, InstructError};
use crate::limits::KEEP_ALIVE_JITTER_MAX;

/// Decodes `Grip-Keep-Alive: DATA; format=cstring`: `\\`, `\r`, `\n`, `\t` and `\xHH` are
/// unescaped, every other byte is copied; any other escape, or a dangling `\`, is an error.
///
/// Pushpin 1.36 drops unknown escapes silently; ringpin rejects them, so a typo in a
/// backend's keep-alive shows up as a 502 instead of an odd keep-alive body.
pub fn unescape_cstring(s: &str) -> Result<Vec<u8>, InstructError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            out.push(bytes[at]);
            at += 1;
            continue;
        }
        let escaped = match bytes.get(at + 1) {
            Some(b'\\') => b'\\',
            Some(b'r') => b'\r',
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'x') => {
                let hex = bytes.get(at + 2..at + 4).and_then(hex_byte);
                match hex {
                    Some(b) => {
                        out.push(b);
                        at += 4;
                        continue;
                    }
                    None => return Err(invalid("Grip-Keep-Alive cstring", s)),
                }
            }
            _ => return Err(invalid("Grip-Keep-Alive cstring", s)),
        };
        out.push(escaped);
        at += 2;
    }
    Ok(out)
}

/// The period until the next keep-alive: `timeout` shortened by `random` modulo
/// `KEEP_ALIVE_JITTER_MAX` (Pushpin 1.36 shortens each period by a random 0-999 ms), never
/// below zero.
pub fn jittered_period(timeout: Duration, random: u64) -> Duration {
    let jitter_ms_max = KEEP_ALIVE_JITTER_MAX.as_millis() as u64;
    let jitter = Duration::from_millis(random % jitter_ms_max);
    timeout.saturating_sub(jitter)
}

/// Two hex digits as one byte.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&[u8]>) {
        let got = unescape_cstring(input).ok();
        assert_eq!(got.as_deref(), expected, "input {input:?}");
    }

    #[test]
    fn cstring_escapes() {
        check("", Some(b""));
        check("plain", Some(b"plain"));
        check(r"\n", Some(b"\n"));
        check(r"a\r\nb", Some(b"a\r\nb"));
        check(r"\t\\", Some(b"\t\\"));
        check(r"\x3b\x00\xFf", Some(b";\x00\xff"));
        check("é", Some("é".as_bytes()));
    }

    #[test]
    fn malformed_cstrings_are_errors() {
        check(r"\", None);
        check(r"a\q", None);
        check(r#"\""#, None);
        check(r"\x", None);
        check(r"\x4", None);
        check(r"\xg0", None);
        check(r"\x+1", None);
        check(r"\xé", None);
        let e = unescape_cstring(r"\q").expect_err("bad escape");
        assert_eq!(
            e.to_string(),
            r#"invalid Grip-Keep-Alive cstring value "\\q""#
        );
    }

    #[test]
    fn jitter_shortens_by_under_a_second_and_never_goes_negative() {
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let cases = [
            (secs(3), 0, secs(3)),
            (secs(3), 300, ms(2700)),
            (secs(3), 999, ms(2001)),
            (secs(3), 1000, secs(3)),
            (secs(3), 1_000_250, ms(2750)),
            (ms(500), 999, Duration::ZERO),
            (Duration::ZERO, 7, Duration::ZERO),
        ];
        for (timeout, random, want) in cases {
            assert_eq!(
                jittered_period(timeout, random),
                want,
                "{timeout:?} {random}"
            );
        }
    }
}
