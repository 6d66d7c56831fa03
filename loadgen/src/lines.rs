//! Lines: split a byte stream into `\n`-terminated lines, across arbitrary read boundaries.
//!
//! Owns: the partial line carried between reads.
//! Must not: allocate when a read holds only complete lines (the common case), or let a
//! peer grow the carried line without bound.
//! Invariants: a line is handed out without its `\n` and without a `\r` before it.

/// Longest line carried between reads; longer lines are cut here (and then fail to parse
/// as messages, which is counted, rather than growing memory).
pub const LINE_BYTES_MAX: usize = 1 << 20;

/// Carries the unterminated tail of the stream between `feed` calls.
#[derive(Debug, Default, Clone)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Splits `data`, calling `on_line` for each completed line.
    pub fn feed(&mut self, mut data: &[u8], on_line: &mut impl FnMut(&[u8])) {
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                on_line(strip_cr(&data[..nl]));
            } else {
                self.push_partial(&data[..nl]);
                on_line(strip_cr(&self.partial));
                self.partial.clear();
            }
            data = &data[nl + 1..];
        }
        self.push_partial(data);
    }

    fn push_partial(&mut self, bytes: &[u8]) {
        let room = LINE_BYTES_MAX.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(data: &[u8], at: usize) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut lines = Vec::new();
        s.feed(&data[..at], &mut |l| lines.push(l.to_vec()));
        s.feed(&data[at..], &mut |l| lines.push(l.to_vec()));
        lines
    }

    #[test]
    fn lines_survive_any_split_point() {
        let data = b"open\n1 2 xx\r\n\n3 4 xx\ntail";
        let want: Vec<Vec<u8>> = vec![
            b"open".to_vec(),
            b"1 2 xx".to_vec(),
            vec![],
            b"3 4 xx".to_vec(),
        ];
        for at in 0..=data.len() {
            assert_eq!(split_all(data, at), want, "split at {at}");
        }
    }

    #[test]
    fn an_endless_line_is_cut_at_the_limit() {
        let mut s = LineSplitter::default();
        let chunk = vec![b'x'; 1 << 16];
        for _ in 0..40 {
            s.feed(&chunk, &mut |_| panic!("no newline yet"));
        }
        let mut len = 0;
        s.feed(b"\n", &mut |l| len = l.len());
        assert_eq!(len, LINE_BYTES_MAX);
    }
}
