//! SSE: Server-Sent Events event assembly from lines (WHATWG HTML §9.2.6, the
//! event-stream interpretation).
//!
//! Owns: the `data` buffer of the event being assembled.
//! Must not: see raw bytes (the [`crate::lines::LineSplitter`] does that) or time anything.
//! Invariants: an event is dispatched only at its blank line, so half an event is never
//! counted; comments (`:…`) are reported separately because `:open` marks "held".

/// What one line completed.
#[derive(Debug, PartialEq, Eq)]
pub enum SseItem<'a> {
    /// A comment line, without its leading `:`.
    Comment(&'a [u8]),
    /// A complete event's data (data lines joined by `\n`).
    Event(&'a [u8]),
}

/// Assembles events from lines.
#[derive(Debug, Default, Clone)]
pub struct SseParser {
    data: Vec<u8>,
    has_data: bool,
}

impl SseParser {
    /// Takes one line (without terminator); returns what it completed, if anything.
    pub fn on_line<'a>(&'a mut self, line: &'a [u8]) -> Option<SseItem<'a>> {
        if line.is_empty() {
            if !self.has_data {
                return None;
            }
            self.has_data = false;
            return Some(SseItem::Event(&self.data));
        }
        if let Some(comment) = line.strip_prefix(b":") {
            return Some(SseItem::Comment(comment));
        }
        if let Some(value) = crate::message::sse_data_value(line) {
            if !self.has_data {
                self.data.clear();
            } else {
                self.data.push(b'\n');
            }
            self.has_data = true;
            self.data.extend_from_slice(value);
        }
        // Other fields (event, id, retry) do not carry loadgen's payload.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::LineSplitter;

    fn items(stream: &[u8], splits: &[usize]) -> Vec<String> {
        let mut lines = LineSplitter::default();
        let mut sse = SseParser::default();
        let mut out = Vec::new();
        let mut start = 0;
        for &end in splits.iter().chain(std::iter::once(&stream.len())) {
            lines.feed(&stream[start..end], &mut |line| match sse.on_line(line) {
                Some(SseItem::Comment(c)) => out.push(format!("c:{}", String::from_utf8_lossy(c))),
                Some(SseItem::Event(d)) => out.push(format!("e:{}", String::from_utf8_lossy(d))),
                None => {}
            });
            start = end;
        }
        out
    }

    #[test]
    fn events_and_comments_survive_any_two_split_points() {
        let stream = b":open\n\ndata: 1 2 xx\n\n:\n\nevent: m\ndata:3 4 xx\r\n\r\ndata: a\ndata: b\n\ndata: half";
        let want = ["c:open", "e:1 2 xx", "c:", "e:3 4 xx", "e:a\nb"];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                assert_eq!(items(stream, &[a, b]), want, "splits {a},{b}");
            }
        }
    }
}
