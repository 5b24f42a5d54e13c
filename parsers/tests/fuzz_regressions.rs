//! Replays the fuzz corpora on the stable toolchain: every seed under
//! `parsers/fuzz/corpus/<target>/` and every kept crasher under
//! `parsers/fuzz/regressions/<target>/` goes through the very harness its cargo-fuzz target
//! runs (`parsers/fuzz/src/lib.rs`, included below), which drives the parsers and asserts their
//! invariants. Needs neither nightly nor libFuzzer. See `parsers/fuzz/README.md`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Runs every file of `kind/<target>/` through its target; returns the failures, each with the
/// file and the panic message.
fn replay(kind: &str) -> (usize, Vec<String>) {
    let mut ran = 0;
    let mut failures = Vec::new();
    for (target, run) in harness::TARGETS {
        for path in files(&fuzz_dir().join(kind).join(target)) {
            let data = match std::fs::read(&path) {
                Ok(data) => data,
                Err(e) => {
                    failures.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            ran += 1;
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "(no message)".to_owned());
                failures.push(format!("{target}: {}: {message}", path.display()));
            }
        }
    }
    (ran, failures)
}

#[test]
fn seed_corpora_replay_without_a_crash() {
    let (ran, failures) = replay("corpus");
    // Every target has seeds: a missing directory would silently test nothing.
    for (target, _) in harness::TARGETS {
        assert!(!files(&fuzz_dir().join("corpus").join(target)).is_empty(), "no seeds for {target}");
    }
    assert!(failures.is_empty(), "{} of {ran} seeds fail:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn kept_crashers_replay_without_a_crash() {
    let (ran, failures) = replay("regressions");
    assert!(failures.is_empty(), "{} of {ran} crashers fail:\n{}", failures.len(), failures.join("\n"));
}
