//! Faults around training: `ebm train` killed with SIGKILL at random moments
//! and resumed ends bit-identical to an uninterrupted run, and no torn file is
//! ever readable as valid; an unwritable or full output location gives a
//! clear error and leaves the previous checkpoint intact.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const STEPS: &str = "40";

fn train_args(out: &Path) -> Vec<String> {
    let fixed = [
        "--threads",
        "1",
        "train",
        "eight-gaussians",
        "--steps",
        STEPS,
        "--langevin-steps",
        "5",
        "--batch-size",
        "32",
        "--checkpoint-every",
        "5",
        "--seed",
        "3",
        "--out",
    ];
    let mut args: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    args.push(out.display().to_string());
    args
}

fn train(out: &Path, resume: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ebm"));
    command.args(train_args(out)).stdout(Stdio::null()).stderr(Stdio::piped());
    if resume {
        command.arg("--resume");
    }
    command
}

fn tensors(path: &Path) -> std::collections::BTreeMap<String, tch::Tensor> {
    ebm::io::read_tensor_file(path).unwrap_or_else(|e| panic!("{e:#}")).tensors
}

/// Every `.safetensors` under `dir` must read as a whole, valid file.
fn assert_no_torn_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "safetensors") {
            if let Err(e) = ebm::io::read_tensor_file(&path) {
                panic!("after a kill, {} is torn: {e:#}", path.display());
            }
        }
    }
}

/// xorshift64: kill moments that are random but the same on every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn training_killed_at_random_moments_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    let started = Instant::now();
    let status = train(&reference, false).status().unwrap();
    assert!(status.success());
    let full = started.elapsed();
    let expected = tensors(&reference.join("model.safetensors"));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut interruptions = 0;
    for round in 0..3 {
        let run: PathBuf = dir.path().join(format!("run-{round}"));
        let mut kills = 0;
        while kills < 3 {
            let resume = run.join("train_state.safetensors").exists();
            if !resume {
                // Killed before its first checkpoint: nothing was kept, start again.
                let _ = std::fs::remove_dir_all(&run);
            }
            let mut child = train(&run, resume).spawn().unwrap();
            // Somewhere in the first 90 % of a whole run's time: a resumed run
            // has less left to do, so some kills land after it ended.
            let at = full.mul_f64(0.9 * (next(&mut state) % 1000) as f64 / 1000.0);
            std::thread::sleep(at);
            let finished = child.try_wait().unwrap().is_some_and(|s| s.success());
            if !finished {
                child.kill().unwrap();
                kills += 1;
            }
            child.wait().unwrap();
            assert_no_torn_files(&run);
            if finished {
                break;
            }
        }
        interruptions += kills;
        let resume = run.join("train_state.safetensors").exists();
        if !resume {
            let _ = std::fs::remove_dir_all(&run);
        }
        let output = train(&run, resume).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let got = tensors(&run.join("model.safetensors"));
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        for (name, tensor) in &expected {
            assert!(
                got[name].equal(tensor),
                "round {round}: tensor {name} differs from the uninterrupted run"
            );
        }
    }
    println!("{interruptions} SIGKILL interruptions, every run resumed bit-identical");
    assert!(interruptions >= 3, "only {interruptions} kills landed while training ran");
}

#[test]
fn a_full_or_unwritable_output_location_is_refused_and_the_checkpoint_survives() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    assert!(train(&run, false).status().unwrap().success());
    let model = run.join("model.safetensors");
    let before = std::fs::read(&model).unwrap();
    // A file-size limit of 8 KiB stands in for a full disk (SIGXFSZ ignored, so
    // writes fail with EFBIG instead of killing the process).
    let mut args = train_args(&run);
    args[5] = "80".into();
    args.push("--resume".into());
    let script = format!("trap '' XFSZ; ulimit -f 8; exec \"$0\" {}", args.join(" "));
    let output = Command::new("bash")
        .args(["-c", &script, env!("CARGO_BIN_EXE_ebm")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "training past a full disk should fail");
    assert!(text.contains("File too large") && text.contains("is left as it was"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(std::fs::read(&model).unwrap(), before, "the previous checkpoint changed");
    assert_no_torn_files(&run);
    // An output directory under a regular file cannot be created.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let output = train(&file.join("run"), false).output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && text.contains("a-file/run") && !text.contains("panicked"),
        "{text}"
    );
}
