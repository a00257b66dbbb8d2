//! `ebm score`: classification and OOD AUROC on image sets a user brings,
//! and agreement with the experiment's own OOD evaluation.

use std::path::PathBuf;

mod common;
use common::{ebm, repo};

#[test]
fn score_classifies_labelled_scenes_and_ranks_noise_out_of_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let pngs = dir.path().join("scenes");
    assert!(ebm(&["data", "export", "-n", "40", "--seed", "41", "-o", pngs.to_str().unwrap()]).0);
    let truth: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(pngs.join("labels.json")).unwrap()).unwrap();
    let names = ebm::data::shapes::COLOUR_NAMES;
    let labels = dir.path().join("labels.txt");
    let text: String = truth
        .iter()
        .map(|t| format!("{}\n", names[t["color"].as_u64().unwrap() as usize]))
        .collect();
    std::fs::write(&labels, &text).unwrap();
    let noise = dir.path().join("noise.npy");
    ebm::io::write_npy(&noise, &tch::Tensor::rand([40, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu))).unwrap();
    let out = dir.path().join("out");
    let model = repo("models/concepts/color.safetensors");
    let ood = format!("noise={}", noise.display());
    let args = [
        "score",
        "--model",
        model.to_str().unwrap(),
        "--images",
        pngs.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--ood",
        &ood,
        "-o",
        out.to_str().unwrap(),
    ];
    let (ok, printed) = ebm(&args);
    assert!(ok, "{printed}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("score.json")).unwrap()).unwrap();
    let accuracy = report["classification"]["accuracy"].as_f64().unwrap();
    // The read-out colour model classifies 300 fresh scenes at 1.000 (models/concepts/README.md).
    assert!(accuracy >= 0.9, "accuracy {accuracy}");
    let auroc = report["ood"][0]["auroc"].as_f64().unwrap();
    assert!(printed.contains(&format!("AUROC noise {auroc:.4}")), "{printed}");
    assert!((0.0..=1.0).contains(&auroc));
    let csv = std::fs::read_to_string(out.join("energies.csv")).unwrap();
    assert_eq!(csv.lines().count(), 41);
    assert!(csv.starts_with("index,energy,energy|red") && out.join("hist-noise.png").exists());
    // One label short, and images of another size, are refused with the reason.
    std::fs::write(&labels, &text[..text.trim_end().rfind('\n').unwrap() + 1]).unwrap();
    let (ok, printed) = ebm(&args);
    assert!(!ok && printed.contains("39 labels for 40 images"), "{printed}");
    let big = dir.path().join("big");
    assert!(ebm(&["data", "export", "-n", "2", "--size", "40", "-o", big.to_str().unwrap()]).0);
    let mut args = args.to_vec();
    let bad = format!("big={}", big.display());
    args[8] = &bad;
    let (ok, printed) = ebm(&args);
    assert!(!ok && printed.contains("40×40") && !printed.contains("panicked"), "{printed}");
}

#[test]
fn score_on_the_shipped_mnist_model_matches_the_experiments_ood_evaluation() {
    let shared = std::env::var_os("EBM_SHARED_DATA").map_or_else(|| repo("../shared/data"), PathBuf::from);
    let dir = tempfile::tempdir().unwrap();
    let sets = dir.path().join("ood");
    let mnist = shared.join("mnist");
    let digits = shared.join("sklearn-digits/digits.csv.gz");
    let export = [
        "data",
        "mnist-ood",
        "-o",
        sets.to_str().unwrap(),
        "--mnist-dir",
        mnist.to_str().unwrap(),
        "--digits-csv",
        digits.to_str().unwrap(),
    ];
    let (ok, text) = ebm(&export);
    assert!(ok, "{text}");
    // The experiment's own OOD evaluation of the same model on the same benchmark
    // (what `experiments/igebm-mnist/report.json` records for the run that trained it).
    use ebm::experiments::igebm::{ood, run::test_tensors, Budget};
    let model = repo("models/mnist/uncond.safetensors");
    let task = ebm::judge::tasks::MnistTask::load(&mnist, 0).unwrap();
    let (test_x, _) = test_tensors(&task, &Budget::full());
    let small = ebm::data::mnist::load_digits_csv(&digits).unwrap();
    let (positives, benchmark) = ood::ood_benchmark(&test_x, &small, Budget::full().ood_images, 0);
    let loaded = ebm::checkpoint::load_checkpoint(&model).unwrap();
    let evaluated = ood::evaluate_ood(loaded.network.as_ref(), false, &positives, &benchmark, dir.path(), "uncond").unwrap();
    let rows = serde_json::to_value(&evaluated).unwrap();
    let images = sets.join("mnist-test.npy");
    let out = dir.path().join("score");
    // fp32, as the experiment computed (the default --compute auto may be bf16).
    let mut args: Vec<String> = [
        "--compute",
        "fp32",
        "score",
        "--model",
        model.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    for row in rows.as_array().unwrap() {
        let name = row["set"].as_str().unwrap();
        let slug: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        args.extend([
            "--ood".to_string(),
            format!("{name}={}", sets.join(format!("{slug}.npy")).display()),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, printed) = ebm(&args);
    assert!(ok, "{printed}");
    for row in rows.as_array().unwrap() {
        let (name, expected) = (row["set"].as_str().unwrap(), row["auroc"].as_f64().unwrap());
        let line = printed
            .lines()
            .find(|l| l.starts_with(&format!("AUROC {name} ")))
            .unwrap_or_else(|| panic!("{printed}"));
        let got: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(
            (got - expected).abs() < 1e-4,
            "{name}: ebm score {got}, the experiment's report {expected}"
        );
    }
}
