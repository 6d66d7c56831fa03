//! Grip-Keep-Alive bodies and their schedule.
//!
//! Owns: decoding the `format=cstring` keep-alive data, the jittered period between
//! keep-alive writes, and `KeepAliveSchedule`, which decides when a stream hold's next
//! keep-alive is due (the hold loop in `shard/hold.rs` only sleeps until then and writes).
//! Must not: read the clock or pick random numbers; the caller passes both in, so the
//! schedule is deterministic under test.
//! Invariants: a jittered period is never longer than the configured timeout and never
//! shorter than the timeout minus `limits::KEEP_ALIVE_JITTER_MAX`.

use std::time::{Duration, Instant};

use super::error::{invalid, InstructError};
use super::instruct::{KeepAlive, KeepAliveMode};
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

/// When a stream hold's keep-alives are due (PUSHPIN.md §2.2): a jittered period after the
/// last write (`mode=idle`, so a busy stream never gets one) or after the last keep-alive
/// (`mode=interval`). A new period is drawn after each keep-alive, so a deadline computed
/// twice within one period is the same, and never moves backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAliveSchedule {
    mode: KeepAliveMode,
    timeout: Duration,
    /// This period's length, `timeout` minus its jitter.
    period: Duration,
    /// The start of this period: the hold's start or the last keep-alive.
    from: Instant,
}

impl KeepAliveSchedule {
    /// The schedule of a hold that starts at `now`; `random` draws the first period's jitter.
    pub fn new(keep_alive: &KeepAlive, now: Instant, random: u64) -> KeepAliveSchedule {
        KeepAliveSchedule {
            mode: keep_alive.mode,
            timeout: keep_alive.timeout,
            period: jittered_period(keep_alive.timeout, random),
            from: now,
        }
    }

    /// When the next keep-alive is due, given the hold's last write of anything else
    /// (`None` before the first one).
    pub fn next_deadline(&self, last_write: Option<Instant>) -> Instant {
        let base = match (self.mode, last_write) {
            (KeepAliveMode::Idle, Some(at)) => at.max(self.from),
            _ => self.from,
        };
        base + self.period
    }

    /// The hold's timer fired at `now`. True when a keep-alive is due: the caller writes it,
    /// and the next period starts now with jitter drawn from `random`. False when a write
    /// since the timer was armed moved the deadline (idle mode): the caller sleeps again.
    pub fn on_timer(&mut self, now: Instant, last_write: Option<Instant>, random: u64) -> bool {
        if self.next_deadline(last_write) > now {
            return false;
        }
        self.from = now;
        self.period = jittered_period(self.timeout, random);
        true
    }
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

    fn schedule(mode: KeepAliveMode, timeout_secs: u64, now: Instant) -> KeepAliveSchedule {
        let keep_alive = KeepAlive {
            data: bytes::Bytes::from_static(b":\n\n"),
            timeout: Duration::from_secs(timeout_secs),
            mode,
        };
        KeepAliveSchedule::new(&keep_alive, now, 0)
    }

    #[test]
    fn idle_keep_alives_restart_after_every_write() {
        let t0 = Instant::now();
        let s = |n| Duration::from_secs(n);
        let mut k = schedule(KeepAliveMode::Idle, 20, t0);
        assert_eq!(k.next_deadline(None), t0 + s(20));
        assert_eq!(k.next_deadline(Some(t0 + s(15))), t0 + s(35));
        assert!(
            !k.on_timer(t0 + s(20), Some(t0 + s(15)), 0),
            "a write moved it"
        );
        assert!(k.on_timer(t0 + s(35), Some(t0 + s(15)), 0));
        assert_eq!(
            k.next_deadline(Some(t0 + s(15))),
            t0 + s(55),
            "from the keep-alive"
        );
    }

    #[test]
    fn interval_keep_alives_ignore_writes() {
        let t0 = Instant::now();
        let s = |n| Duration::from_secs(n);
        let mut k = schedule(KeepAliveMode::Interval, 20, t0);
        assert_eq!(k.next_deadline(Some(t0 + s(19))), t0 + s(20));
        assert!(!k.on_timer(t0 + s(19), None, 0));
        assert!(k.on_timer(t0 + s(20), Some(t0 + s(19)), 0));
        assert_eq!(k.next_deadline(None), t0 + s(40));
    }

    /// A seeded xorshift step, for the simulation below.
    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn random_writes_and_timers_never_bring_a_keep_alive_early_or_late() {
        for seed in 1..2000u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let t0 = Instant::now();
            let timeout = Duration::from_secs(1 + xorshift(&mut rng) % 60);
            let floor = timeout.saturating_sub(KEEP_ALIVE_JITTER_MAX);
            let mode = if seed % 2 == 0 {
                KeepAliveMode::Idle
            } else {
                KeepAliveMode::Interval
            };
            let mut k = schedule(mode, timeout.as_secs(), t0);
            let (mut now, mut last_write, mut last_sent) = (t0, None::<Instant>, t0);
            for _ in 0..200 {
                now += Duration::from_millis(xorshift(&mut rng) % (2 * timeout.as_millis() as u64));
                if xorshift(&mut rng) % 3 == 0 {
                    last_write = Some(now);
                    continue;
                }
                let due = k.next_deadline(last_write);
                if !k.on_timer(now, last_write, xorshift(&mut rng)) {
                    assert!(now < due, "seed {seed}: a due keep-alive was skipped");
                    continue;
                }
                let quiet_since = match (mode, last_write) {
                    (KeepAliveMode::Idle, Some(w)) => w.max(last_sent),
                    _ => last_sent,
                };
                assert!(
                    now - quiet_since >= floor,
                    "seed {seed}: a keep-alive came early"
                );
                last_sent = now;
                let deadline = k.next_deadline(last_write);
                assert!(
                    deadline - now <= timeout,
                    "seed {seed}: a period over the timeout"
                );
                assert!(
                    deadline - now >= floor,
                    "seed {seed}: a period under the floor"
                );
            }
        }
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
