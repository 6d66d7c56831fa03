//! Replays every committed fuzz input on stable Rust, through the same checks the fuzz
//! targets run (`fuzz/src/`, included here), so CI catches a regression without a fuzzer.
//!
//! Inputs: every file under `fuzz/corpus/<target>/` (the seed corpora) and under
//! `fuzz/artifacts/<target>/` (crash and timeout reproducers kept as regression cases).
//! A folder named after no target fails the test, so a renamed target cannot skip its corpus.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of each `<kind>/<target>/` folder, sorted, as (target, path).
fn inputs(kind: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(targets) = fs::read_dir(fuzz_dir().join(kind)) else {
        return out;
    };
    for target in targets.flatten().filter(|e| e.path().is_dir()) {
        let name = target.file_name().to_string_lossy().into_owned();
        for file in fs::read_dir(target.path())
            .expect("readable folder")
            .flatten()
        {
            if file.path().is_file() {
                out.push((name.clone(), file.path()));
            }
        }
    }
    out.sort();
    out
}

fn check(target: &str) -> fn(&[u8]) {
    checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, check)| *check)
        .unwrap_or_else(|| panic!("fuzz/…/{target}/ names no target in fuzz/src/lib.rs"))
}

fn replay(kind: &str) -> usize {
    let inputs = inputs(kind);
    for (target, path) in &inputs {
        let data = fs::read(path).expect("readable input");
        let run = std::panic::catch_unwind(|| check(target)(&data));
        assert!(run.is_ok(), "{} fails its check", path.display());
    }
    inputs.len()
}

#[test]
fn every_corpus_file_passes_its_target_check() {
    let replayed = replay("corpus");
    assert!(replayed > 0, "no corpus under fuzz/corpus");
}

#[test]
fn every_kept_crash_artifact_passes_its_target_check() {
    replay("artifacts");
}

#[test]
fn every_target_has_a_fuzz_target_file_and_a_corpus() {
    for (name, _) in checks::TARGETS {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "{} is missing", target.display());
        let corpus = fuzz_dir().join("corpus").join(name);
        let files = fs::read_dir(&corpus).map_or(0, |d| d.count());
        assert!(files > 0, "{} is empty", corpus.display());
    }
}
