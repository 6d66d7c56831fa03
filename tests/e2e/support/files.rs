//! Files a test hands to ringpin: routes files and pushpin.conf in a temp dir of its own.
//!
//! Owns: `TempDir` (created empty, removed on drop unless the test is failing) and the two ways
//! of replacing a file that ringpin's routes watcher must tell apart: a rewrite that moves the
//! modification time forward, and one that keeps it (so only SIGHUP can pick it up).
//! Invariants: every replacement is atomic (write a sibling, then rename), so ringpin never
//! reads a half-written file; the exception is `write_in_place` and `append`, which play a
//! slow writer on purpose.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "ringpin-e2e-{label}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` in this directory (atomically) and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        replace(&path, contents, None);
        path
    }

    /// Replaces `name` with `contents` and a modification time later than the old one, even
    /// on a file system with coarse timestamps: what an editor saving the file does.
    pub fn rewrite(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        let old = modified(&path);
        replace(&path, contents, None);
        if modified(&path) <= old {
            replace(&path, contents, Some(old + Duration::from_secs(1)));
        }
        path
    }

    /// Replaces `name` with `contents` but keeps its old modification time, so a watcher that
    /// polls the time cannot notice; only an explicit reload (SIGHUP) picks the change up.
    pub fn rewrite_keeping_mtime(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        let old = modified(&path);
        replace(&path, contents, Some(old));
        assert_eq!(modified(&path), old, "mtime of {} not kept", path.display());
        path
    }
}

impl TempDir {
    /// Truncates `name` and writes `contents` into the same file (not atomic): the first
    /// step of a slow writer.
    pub fn write_in_place(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Appends `contents` to `name`: a slow writer's next step.
    pub fn append(&self, name: &str, contents: &str) {
        use std::io::Write;
        let path = self.path.join(name);
        File::options()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(contents.as_bytes()))
            .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("(kept {})", self.path.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime of {}: {e}", path.display()))
}

/// Writes a sibling file (with `mtime`, if given) and renames it over `path`.
fn replace(path: &Path, contents: &str, mtime: Option<SystemTime>) {
    let staging = path.with_extension("staging");
    fs::write(&staging, contents).unwrap_or_else(|e| panic!("write {}: {e}", staging.display()));
    if let Some(mtime) = mtime {
        File::options()
            .write(true)
            .open(&staging)
            .and_then(|file| file.set_modified(mtime))
            .unwrap_or_else(|e| panic!("set mtime of {}: {e}", staging.display()));
    }
    fs::rename(&staging, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}
