//! State file: how many items of each channel the publisher has published, shared by the
//! soak controller (the only writer) and the soak backend processes (readers).
//!
//! Owns: the file layout: per channel, 16 bytes at offset `16 * c`, the count as a
//! little-endian u64 written twice.
//! Must not: know what the counts mean to GRIP (the backend decides).
//! Invariants: a count is recorded only after ringpin accepted the item (so the backend
//! never knows of an item ringpin has not got), and counts only grow. A write is one
//! `pwrite` of both copies; a reader that sees two different copies read across a write
//! and reads again, so it never returns a torn number. The file outlives a backend restart,
//! which is why the backend keeps no state of its own.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes per channel record.
const RECORD_BYTES: u64 = 16;
/// Reads of one record before a reader gives up on seeing two equal copies.
const READ_ATTEMPTS_MAX: usize = 1000;

/// The published-counts file, open for reading or writing.
#[derive(Debug)]
pub(crate) struct PublishedCounts {
    file: File,
}

impl PublishedCounts {
    /// Creates (or truncates) the file with every one of `channels` counts at 0.
    pub(crate) fn create(path: &Path, channels: u64) -> io::Result<PublishedCounts> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(channels * RECORD_BYTES)?;
        Ok(PublishedCounts { file })
    }

    /// Opens an existing file for reading.
    pub(crate) fn open(path: &Path) -> io::Result<PublishedCounts> {
        Ok(PublishedCounts {
            file: File::open(path)?,
        })
    }

    /// Records that channel `c` has `count` items published.
    pub(crate) fn set(&self, c: u64, count: u64) -> io::Result<()> {
        let mut record = [0u8; RECORD_BYTES as usize];
        record[..8].copy_from_slice(&count.to_le_bytes());
        record[8..].copy_from_slice(&count.to_le_bytes());
        self.file.write_all_at(&record, c * RECORD_BYTES)
    }

    /// How many items of channel `c` are published.
    pub(crate) fn get(&self, c: u64) -> io::Result<u64> {
        let mut record = [0u8; RECORD_BYTES as usize];
        for _ in 0..READ_ATTEMPTS_MAX {
            self.file.read_exact_at(&mut record, c * RECORD_BYTES)?;
            let (a, b) = record.split_at(8);
            if a == b {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(a);
                return Ok(u64::from_le_bytes(bytes));
            }
        }
        Err(io::Error::other(format!(
            "channel {c}: the count never read whole"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_written_by_one_handle_are_read_by_another() {
        let path = std::env::temp_dir().join(format!("soak-counts-{}", std::process::id()));
        let writer = PublishedCounts::create(&path, 3).expect("create");
        let reader = PublishedCounts::open(&path).expect("open");
        assert_eq!(reader.get(2).expect("read"), 0);
        writer.set(2, 41).expect("write");
        writer.set(0, 7).expect("write");
        assert_eq!(reader.get(2).expect("read"), 41);
        assert_eq!(reader.get(0).expect("read"), 7);
        assert!(reader.get(3).is_err(), "beyond the last channel");
        let torn = [[1u8; 8], [2u8; 8]].concat();
        std::fs::write(&path, torn).expect("overwrite");
        assert!(
            reader.get(0).is_err(),
            "two different copies never read as a count"
        );
        std::fs::remove_file(&path).expect("clean up");
    }
}
