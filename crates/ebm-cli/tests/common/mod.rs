//! Helpers shared by the command's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the `ebm` binary; (succeeded, stdout then stderr).
pub fn ebm(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ebm"))
        .args(args)
        .output()
        .expect("the ebm binary runs");
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// Trains a tiny `shapes` concept model through the CLI (two steps: the
/// weights do not matter here, the files and the plumbing do).
pub fn tiny_concept(dir: &Path, concept: &str) -> PathBuf {
    let run = dir.join(concept);
    let (ok, text) = ebm(&[
        "--threads",
        "1",
        "train",
        "shapes",
        "--concept",
        concept,
        "--steps",
        "2",
        "--widths",
        "4,4,4",
        "--batch-size",
        "4",
        "--langevin-steps",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(ok, "training a tiny {concept} model failed:\n{text}");
    run.join("model.safetensors")
}
