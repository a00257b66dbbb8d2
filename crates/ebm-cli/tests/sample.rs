//! `ebm sample` from the command line: expressions over concept models,
//! several chains per sample, and refinement of saved images; `ebm demo`
//! on the user's own expressions.

use std::path::Path;

mod common;
use common::{ebm, repo, tiny_concept};

#[test]
fn expressions_sample_from_the_command_line_and_bad_ones_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let pos = tiny_concept(dir.path(), "pos");
    let color = tiny_concept(dir.path(), "color");
    let pos_model = format!("pos={}", pos.display());
    let color_model = format!("color={}", color.display());
    let out = dir.path().join("grid.png");
    let chain = dir.path().join("chain.gif");
    let base = |expr: &'static str| -> Vec<String> {
        [
            "sample",
            "--model",
            &pos_model,
            "--model",
            &color_model,
            "--expr",
            expr,
            "-n",
            "4",
            "--steps",
            "3",
            "-o",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let mut args = base("(pos=(0.3,0.7) & color=red) | (pos=(0.7,0.3) & !color=2)");
    args.extend(["--chain".to_string(), chain.display().to_string()]);
    let (ok, text) = ebm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{text}");
    assert!(image::open(&out).is_ok(), "the grid is a readable PNG");
    assert!(std::fs::read(&chain).unwrap().starts_with(b"GIF89a"), "the chain is a GIF");

    let cases = [
        ("hue=red", "no model for concept 'hue' is loaded (loaded: pos, color)"),
        ("color=pink", "'color' has no category 'pink'; its categories are red, green"),
        ("!color=red", "ungrounded NOT"),
        ("pos=(0.3,0.7) &", "^"),
        ("pos=0.3", "'pos' takes 2 number(s) (x, y), got 1"),
    ];
    for (expr, expected) in cases {
        let args = base(expr);
        let (ok, text) = ebm(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!ok, "{expr} should fail");
        assert!(text.contains(expected), "{expr}: expected '{expected}' in:\n{text}");
        assert!(!text.contains("panicked"), "{expr} panicked:\n{text}");
    }
    // A conditional model without an expression says how to give one.
    let (ok, text) = ebm(&["sample", "--model", color.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(!ok && text.contains("--expr \"color=red\""), "{text}");
    // Two models under one name are refused.
    let (ok, text) = ebm(&[
        "sample",
        "--model",
        &pos_model,
        "--model",
        &format!("pos={}", color.display()),
        "--expr",
        "pos=(0.5,0.5)",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && text.contains("two models are named 'pos'"), "{text}");
    // The experiment names what is missing and how to make it.
    let (ok, text) = ebm(&[
        "experiment",
        "composition",
        "--models",
        dir.path().to_str().unwrap(),
        "--samples",
        "2",
    ]);
    assert!(
        !ok && text.contains("pos.safetensors is missing; train it with `ebm train shapes --concept pos"),
        "{text}"
    );
}

/// `ebm sample --particles M`: each sample is one of M chains; particle 0 is
/// the one chain of the same seed, so some kept samples are that chain's and
/// some another's. Without an expression there is nothing to choose by.
#[test]
fn sample_particles_choose_among_chains_and_need_an_expression() {
    let dir = tempfile::tempdir().unwrap();
    let pos = format!("pos={}", tiny_concept(dir.path(), "pos").display());
    let color = format!("color={}", tiny_concept(dir.path(), "color").display());
    let out = dir.path().join("grid.png");
    let run = |particles: &str, keep: &str| {
        let save = dir.path().join(format!("samples-{particles}-{keep}.safetensors"));
        let (ok, text) = ebm(&[
            "sample",
            "--model",
            &pos,
            "--model",
            &color,
            "--expr",
            "pos=(0.3,0.7) & color=red",
            "-n",
            "12",
            "--steps",
            "3",
            "--particles",
            particles,
            "--keep",
            keep,
            "--save",
            save.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "{text}");
        let file = ebm::io::read_tensor_file(&save).unwrap();
        file.tensors["images"].shallow_clone()
    };
    let one = run("1", "ranks");
    for keep in ["ranks", "composed"] {
        let kept = run("4", keep);
        let same: Vec<bool> = (0..12).map(|i| kept.get(i).equal(&one.get(i))).collect();
        assert!(same.iter().any(|s| !s), "--keep {keep}: every sample is particle 0's");
        assert!(
            same.iter().any(|s| *s),
            "--keep {keep}: no sample is particle 0's (1 in 4 expected)"
        );
    }
    let (ok, text) = ebm(&["sample", "--model", &pos, "--particles", "3", "-o", out.to_str().unwrap()]);
    assert!(!ok && text.contains("--particles") && !text.contains("panicked"), "{text}");
}

/// `ebm sample --refine` anneals given images down a denoising model's
/// levels (one output per image, near it at a small level), and refuses
/// models without noise levels, too few images and a non-positive level.
#[test]
fn sample_refine_starts_from_images_and_is_refused_where_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.png");
    let o = out.to_str().unwrap();
    let cd = format!("pos={}", repo("models/shapes/pos.safetensors").display());
    let denoiser = format!("pos={}", repo("models/shapes-denoise/pos.safetensors").display());
    let start = dir.path().join("start.safetensors");
    let expr = "pos=(0.3,0.7)";
    let base = ["--threads", "1", "sample", "--expr", expr, "-o", o];
    let (ok, text) = ebm(&[&base[..], &["--model", &cd, "-n", "4", "--save", start.to_str().unwrap()]].concat());
    assert!(ok, "{text}");
    let refined = dir.path().join("refined.safetensors");
    let refine = ["--model", &denoiser, "--refine", start.to_str().unwrap(), "--noise-levels", "2"];
    let args = [
        &base[..],
        &refine[..],
        &["-n", "4", "--refine-sigma", "0.02", "--save", refined.to_str().unwrap()],
    ]
    .concat();
    let (ok, text) = ebm(&args);
    assert!(ok, "{text}");
    let images = |path: &Path| ebm::io::read_tensor_file(path).unwrap().tensors["images"].shallow_clone();
    let (before, after) = (images(&start), images(&refined));
    assert_eq!(after.size(), vec![4, 3, 32, 32]);
    let moved = (&after - &before).abs().mean(tch::Kind::Float).double_value(&[]);
    assert!(moved > 0.0 && moved < 0.1, "refined from σ = 0.02, pixels moved {moved} on average");
    let refused = [
        (
            [&base[..], &["--model", &cd, "-n", "4", "--refine", start.to_str().unwrap()]].concat(),
            "--refine anneals",
        ),
        ([&base[..], &refine[..], &["-n", "8"]].concat(), "fewer than -n 8"),
        (
            [&base[..], &refine[..], &["-n", "4", "--refine-sigma", "0"]].concat(),
            "--refine-sigma must be",
        ),
    ];
    for (args, expected) in refused {
        let (ok, text) = ebm(&args);
        assert!(!ok && text.contains(expected) && !text.contains("panicked"), "{expected}: {text}");
    }
}

/// `ebm demo --expr` composes, refines and judges the user's expressions
/// instead of the seven, in their order; a malformed one is refused before
/// any model is loaded, with the place of the error.
#[test]
fn demo_runs_the_users_expressions_and_refuses_a_malformed_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = out.to_str().unwrap();
    let exprs = ["color=green & shape=triangle", "pos=(0.3,0.7) | pos=(0.7,0.3)"];
    let (ok, text) = ebm(&[
        "--threads",
        "1",
        "demo",
        "-n",
        "2",
        "--particles",
        "2",
        "--expr",
        exprs[0],
        "--expr",
        exprs[1],
        "--out",
        o,
    ]);
    assert!(ok, "{text}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let rows: Vec<&str> = report.lines().filter(|l| l.starts_with("| `")).collect();
    assert_eq!(rows.len(), 2, "{report}");
    assert!(rows[0].contains("shape=triangle") && rows[1].contains("pos=(0.7,0.3)"), "{report}");
    let (ok, text) = ebm(&["demo", "--expr", "color=red & (shape=", "--out", o]);
    assert!(!ok && text.contains("--expr 'color=red & (shape='") && text.contains('^'), "{text}");
}
