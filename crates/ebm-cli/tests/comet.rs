//! `ebm train comet`, `ebm comet decompose` and `ebm train beta-vae` end to
//! end on tiny settings; bad input is refused with the reason.

mod common;
use common::ebm;

#[test]
fn a_trained_comet_model_decomposes_a_png_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    let train = [
        "--threads",
        "1",
        "train",
        "comet",
        "--data",
        "multi-shapes",
        "--image-size",
        "16",
        "--width",
        "8",
        "--components",
        "3",
        "--latent",
        "4",
        "--descent-steps",
        "2",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--out",
        r,
    ];
    let (ok, text) = ebm(&train);
    assert!(ok, "{text}");
    let model = run.join("comet.safetensors");
    assert!(model.exists() && run.join("decomposition.png").exists() && run.join("log.json").exists());
    // Another run into the same folder must not overwrite it silently.
    let (ok, text) = ebm(&train);
    assert!(!ok && text.contains("--resume"), "{text}");

    let pngs = dir.path().join("pngs");
    let (ok, text) = ebm(&["data", "export", "-n", "3", "--size", "16", "-o", pngs.to_str().unwrap()]);
    assert!(ok, "{text}");
    let out = dir.path().join("parts");
    let m = model.to_str().unwrap();
    let (ok, text) = ebm(&[
        "comet",
        "decompose",
        "--model",
        m,
        "--images",
        pngs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    for file in ["decomposition.png", "mask_0/sample_0000.png", "component_2/sample_0002.png"] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let bytes = std::fs::read(out.join("masks.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let masks = file.tensor("masks").unwrap();
    assert_eq!(masks.shape(), &[3, 3, 16, 16]);
    let values: Vec<f32> = masks
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for image in 0..3 {
        for pixel in 0..256 {
            let total: f32 = (0..3).map(|k| values[(image * 3 + k) * 256 + pixel]).sum();
            assert!((total - 1.0).abs() < 1e-4, "image {image} pixel {pixel}: shares sum to {total}");
        }
    }

    // Recombination: component 0 of each image with components 1 and 2 of the same images.
    let mixed = dir.path().join("mixed");
    let p = pngs.to_str().unwrap();
    let recombine = |first: &str, second: &str| {
        let args = [
            "comet",
            "recombine",
            "--model",
            m,
            "--images",
            p,
            "--components",
            first,
            "--with-images",
            p,
            "--with-components",
            second,
            "--out",
            mixed.to_str().unwrap(),
        ];
        ebm(&args)
    };
    let (ok, text) = recombine("0", "1,2");
    assert!(ok && mixed.join("recombined.png").exists(), "{text}");
    let bytes = std::fs::read(mixed.join("recombined.safetensors")).unwrap();
    assert_eq!(
        safetensors::SafeTensors::deserialize(&bytes)
            .unwrap()
            .tensor("images")
            .unwrap()
            .shape(),
        &[3, 3, 16, 16]
    );
    let (ok, text) = recombine("0", "1,7");
    assert!(!ok && text.contains("component 7 does not exist"), "{text}");

    // Images of the wrong size, and a file that is not a model, are refused.
    let big = dir.path().join("big");
    assert!(ebm(&["data", "export", "-n", "1", "--size", "32", "-o", big.to_str().unwrap()]).0);
    let (ok, text) = ebm(&[
        "comet",
        "decompose",
        "--model",
        m,
        "--images",
        big.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && text.contains("32×32") && text.contains("16×16"), "{text}");
    let (ok, text) = ebm(&[
        "comet",
        "decompose",
        "--model",
        pngs.join("labels.json").to_str().unwrap(),
        "--images",
        big.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && text.contains("labels.json"), "{text}");
}

#[test]
fn comet_training_needs_its_dataset_and_valid_settings() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x");
    let o = o.to_str().unwrap();
    let (ok, text) = ebm(&["train", "comet", "--out", o, "--steps", "1"]);
    assert!(!ok && text.contains("needs --data"), "{text}");
    let (ok, text) = ebm(&["train", "comet", "--data", "multi-shapes", "--image-size", "20", "--out", o]);
    assert!(!ok && text.contains("multiple of 8"), "{text}");
    let (ok, text) = ebm(&["train", "comet", "--data", "pictures", "--out", o]);
    assert!(!ok && text.contains("multi-shapes"), "{text}");
}
