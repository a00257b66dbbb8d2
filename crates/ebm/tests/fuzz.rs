//! Fuzzing every reader of user input: the expression language, the
//! checkpoint loader, and the image and label readers get mutated inputs
//! (byte flips, truncations, inserted and deleted bytes, header edits). None
//! may panic; every refusal names the file (or the expression) and a reason;
//! a checkpoint whose tensor bytes changed is never loaded.
//!
//! Cases per kind: `EBM_FUZZ_CASES` (default 2500, 10 000 in all; the README's long run
//! uses 25 000). Counts are printed (`cargo test --test fuzz -- --nocapture`).

mod common;

use common::checkpoint::conditional_conv;
use common::concepts::{concept_models, mlp};
use ebm::checkpoint::{load_checkpoint, save_checkpoint};
use ebm::compose::{parse, resolve, Settings};
use ebm::energy::Energy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use tch::{Kind, Tensor};

fn cases() -> usize {
    std::env::var("EBM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2500)
}

/// What happened to the cases of one kind.
#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    refused: usize,
    accepted: usize,
    panics: Vec<String>,
    unclear: Vec<String>,
}

impl Tally {
    /// Runs one case: `Ok(())` accepted, `Err(message)` refused; a refusal
    /// must contain `must_name` (the file or the expression).
    fn run(&mut self, must_name: &str, case: impl FnOnce() -> Result<(), String>) {
        self.cases += 1;
        match catch_unwind(AssertUnwindSafe(case)) {
            Ok(Ok(())) => self.accepted += 1,
            Ok(Err(message)) => {
                self.refused += 1;
                if !message.contains(must_name) || message.len() < must_name.len() + 12 {
                    self.unclear.push(message);
                }
            }
            Err(payload) => {
                let text = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.panics.push(text);
            }
        }
    }

    fn check(&self, kind: &str) {
        println!(
            "fuzz {kind}: {} cases, {} refused, {} accepted, {} panics",
            self.cases,
            self.refused,
            self.accepted,
            self.panics.len()
        );
        assert!(
            self.panics.is_empty(),
            "{kind}: {} panics, first: {:?}",
            self.panics.len(),
            self.panics.first()
        );
        assert!(
            self.unclear.is_empty(),
            "{kind}: refusals without the input's name: {:?}",
            &self.unclear[..self.unclear.len().min(3)]
        );
    }
}

/// One or a few random edits of `bytes`; edits of the first `header` bytes
/// are favoured (where the structure is).
fn mutate(rng: &mut ChaCha8Rng, bytes: &[u8], header: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.random_range(1..=3) {
        let len = out.len().max(1);
        let at = if rng.random_bool(0.5) {
            rng.random_range(0..header.clamp(1, len))
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..7) {
            0 if at < out.len() => out[at] ^= 1 << rng.random_range(0..8),
            1 if at < out.len() => out[at] = rng.random(),
            2 => out.truncate(rng.random_range(0..=out.len())),
            3 => {
                let inserted: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                out.splice(at.min(out.len())..at.min(out.len()), inserted);
            }
            4 if at < out.len() => {
                let end = (at + rng.random_range(1..32)).min(out.len());
                out.drain(at..end);
            }
            5 if at + 8 <= out.len() => {
                let extreme = [0u64, u64::MAX, u32::MAX as u64, 1 << 40, 255][rng.random_range(0..5)];
                out[at..at + 8].copy_from_slice(&extreme.to_le_bytes());
            }
            _ if at < out.len() && out[at].is_ascii_digit() => out[at] = b'0' + rng.random_range(0..10),
            _ => {}
        }
    }
    out
}

/// A message with its causes, as the command line prints it.
fn message(error: anyhow::Error) -> String {
    format!("{error:#}")
}

#[test]
fn mutated_checkpoints_never_panic_and_edited_ones_never_load() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let (network, card) = conditional_conv();
    let original_path = dir.path().join("original.safetensors");
    save_checkpoint(&original_path, network.as_ref(), &card).unwrap();
    let original = std::fs::read(&original_path).unwrap();
    let data_start = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut tally = Tally::default();
    let mut silent_edits = 0;
    let saved = load_checkpoint(&original_path).unwrap();
    for i in 0..cases() {
        let path = dir.path().join(format!("case-{}.safetensors", i % 8));
        let mutated = mutate(&mut rng, &original, data_start);
        // Same length, same header, different tensor bytes: only the checksum can tell.
        let tensor_edit = mutated.len() == original.len() && mutated[..data_start] == original[..data_start] && mutated != original;
        std::fs::write(&path, &mutated).unwrap();
        let name = path.display().to_string();
        tally.run(&name, || match load_checkpoint(&path) {
            // The checksum covers tensors and card: whatever loads must be the original.
            Ok(loaded) if tensor_edit || loaded.card != saved.card || !same_weights(&loaded, &saved) => {
                silent_edits += 1;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(message(e)),
        });
    }
    tally.check("checkpoint");
    assert_eq!(silent_edits, 0, "edited checkpoints loaded with different content");
}

fn same_weights(a: &ebm::checkpoint::LoadedModel, b: &ebm::checkpoint::LoadedModel) -> bool {
    use ebm::energy::network::named_variables;
    let (a, b) = (named_variables(a.network.var_store()), named_variables(b.network.var_store()));
    a.len() == b.len() && a.iter().zip(&b).all(|((n, x), (m, y))| n == m && x.equal(y))
}

/// Valid files of every image format the readers take: 3 grey 8×8 images.
fn image_files(dir: &Path) -> Vec<(std::path::PathBuf, usize)> {
    let pixels: Vec<u8> = (0..3 * 64).map(|i| (i * 37 % 256) as u8).collect();
    let mut idx = vec![0, 0, 8, 3];
    for d in [3u32, 8, 8] {
        idx.extend(d.to_be_bytes());
    }
    idx.extend(&pixels);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&idx).unwrap();
    let images = Tensor::from_slice(&pixels).view([3, 1, 8, 8]).to_kind(Kind::Float) / 255.0;
    let npy = dir.join("images.npy");
    ebm::io::write_npy(&npy, &images).unwrap();
    let safetensors = dir.join("images.safetensors");
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::U8, vec![3, 1, 8, 8], &pixels).unwrap();
    std::fs::write(&safetensors, safetensors::serialize([("images", view)], None).unwrap()).unwrap();
    let png_dir = dir.join("pngs");
    std::fs::create_dir_all(&png_dir).unwrap();
    let png = png_dir.join("a.png");
    image::GrayImage::from_raw(8, 8, pixels[..64].to_vec()).unwrap().save(&png).unwrap();
    let (plain, zipped) = (dir.join("images-idx3-ubyte"), dir.join("images-idx3-ubyte.gz"));
    std::fs::write(&plain, &idx).unwrap();
    std::fs::write(&zipped, gz.finish().unwrap()).unwrap();
    vec![(plain, 16), (zipped, 10), (npy, 128), (safetensors, 96), (png, 64)]
}

#[test]
fn mutated_image_and_label_files_never_panic_and_are_refused_by_name() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let files = image_files(dir.path());
    let categories: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let labels_text = dir.path().join("labels.txt");
    std::fs::write(&labels_text, "1\n2\n3\n").unwrap();
    let mut labels_idx = vec![0, 0, 8, 1, 0, 0, 0, 3];
    labels_idx.extend([1u8, 2, 3]);
    let labels_idx_path = dir.path().join("labels-idx1-ubyte");
    std::fs::write(&labels_idx_path, &labels_idx).unwrap();
    let (mut images, mut labels) = (Tally::default(), Tally::default());
    for i in 0..cases() {
        let (file, header) = &files[i % files.len()];
        let mutated = mutate(&mut rng, &std::fs::read(file).unwrap(), *header);
        // A mutated PNG sits alone in its own directory (the reader takes the directory).
        let (written, read_from) = if file.extension().is_some_and(|e| e == "png") {
            let case_dir = dir.path().join("png-case");
            std::fs::create_dir_all(&case_dir).unwrap();
            (case_dir.join("a.png"), case_dir)
        } else {
            let name = file.file_name().unwrap().to_string_lossy();
            let path = dir.path().join(format!("case-{name}"));
            (path.clone(), path)
        };
        std::fs::write(&written, &mutated).unwrap();
        let channels = if i % 2 == 0 { 1 } else { 3 };
        images.run(&read_from.display().to_string(), || {
            ebm::io::read_images(&read_from, channels, 8).map(|_| ()).map_err(message)
        });
        let (source, header) = if i % 2 == 0 { (&labels_text, 4) } else { (&labels_idx_path, 8) };
        let path = dir.path().join(source.file_name().unwrap());
        let path = path.with_file_name(format!("case-{}", path.file_name().unwrap().to_string_lossy()));
        std::fs::write(&path, mutate(&mut rng, &std::fs::read(source).unwrap(), header)).unwrap();
        labels.run(&path.display().to_string(), || {
            ebm::io::read_labels(&path, &categories).map(|_| ()).map_err(message)
        });
    }
    images.check("images");
    labels.check("labels");
}

/// A random expression: tokens of the language and some that are not in it.
fn random_expression(rng: &mut ChaCha8Rng) -> String {
    const TOKENS: [&str; 28] = [
        "pos",
        "color",
        "shape",
        "size",
        "=",
        "(",
        ")",
        ",",
        "&",
        "|",
        "!",
        "*",
        " ",
        "red",
        "blue",
        "0.3",
        "0.7",
        "1e308",
        "-0",
        "nan",
        "inf",
        "2",
        "0.5",
        "(0.3,0.7)",
        "é",
        "#",
        "=(",
        "99999999999999999999",
    ];
    let valid = [
        "pos=(0.3,0.7)",
        "color=red",
        "!color=blue",
        "(pos=(0.3,0.7) | color=green)",
        "0.5*color=red",
    ];
    match rng.random_range(0..4) {
        0 => (0..rng.random_range(1..24))
            .map(|_| TOKENS[rng.random_range(0..TOKENS.len())])
            .collect(),
        1 => {
            let depth = rng.random_range(1..400);
            let open = ["(", "!", "2*"][rng.random_range(0..3)].repeat(depth);
            let close = if open.starts_with('(') { ")".repeat(depth) } else { String::new() };
            format!("{open}color=red{close}")
        }
        _ => {
            let joined = (0..rng.random_range(1..5))
                .map(|_| valid[rng.random_range(0..valid.len())])
                .collect::<Vec<_>>()
                .join([" & ", " | "][rng.random_range(0..2)]);
            String::from_utf8_lossy(&mutate(rng, joined.as_bytes(), joined.len())).into_owned()
        }
    }
}

#[test]
fn random_expressions_never_panic_and_errors_quote_the_expression() {
    let _serial = common::serial();
    let (pos_net, col_net) = (mlp(2, 1), mlp(3, 2));
    let models = concept_models(pos_net.as_ref(), col_net.as_ref());
    let x = Tensor::randn([4, 2], (Kind::Double, tch::Device::Cpu));
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut tally = Tally::default();
    let mut non_finite = Vec::new();
    for _ in 0..cases() {
        let text = random_expression(&mut rng);
        tally.run(&text, || {
            let expr = parse(&text).map_err(|e| e.to_string())?;
            let composed = resolve(&text, &expr, &models, &Settings::default()).map_err(|e| e.to_string())?;
            let energy = tch::no_grad(|| composed.energy(&x, None));
            if energy.isfinite().all().int64_value(&[]) == 0 {
                non_finite.push(text.clone());
            }
            Ok(())
        });
    }
    tally.check("expressions");
    assert!(
        non_finite.is_empty(),
        "accepted expressions with non-finite energies: {non_finite:?}"
    );
}

#[test]
fn mutated_training_states_never_panic_on_resume() {
    use ebm::data::{Toy2d, Toy2dKind};
    use ebm::experiments::toy2d::{toy_architecture, toy_config};
    use ebm::train::state::{resume, STATE_FILE};
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = Toy2d::new(Toy2dKind::EightGaussians, 3);
    let mut config = toy_config(4, 3);
    (config.batch_size, config.langevin.steps, config.replay.capacity) = (16, 2, 64);
    let original_dir = dir.path().join("original");
    let network = toy_architecture(false).build(tch::Device::Cpu);
    ebm::train::Trainer::new(network, &data, config, Some(original_dir.clone()))
        .unwrap()
        .run(&ebm::Quiet)
        .unwrap();
    let original = std::fs::read(original_dir.join(STATE_FILE)).unwrap();
    let header = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let case_dir = dir.path().join("case");
    std::fs::create_dir_all(&case_dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut tally = Tally::default();
    for _ in 0..cases() / 5 {
        let path = case_dir.join(STATE_FILE);
        std::fs::write(&path, mutate(&mut rng, &original, header)).unwrap();
        tally.run(&case_dir.display().to_string(), || {
            resume(&case_dir, &data, Some(8)).map(|_| ()).map_err(message)
        });
    }
    tally.check("training states");
}

/// Random tensors in place of a samples file's images and conditions.
fn random_tensor(rng: &mut ChaCha8Rng, n: i64, typical: &[i64]) -> Tensor {
    let kind = [Kind::Float, Kind::Double, Kind::Uint8, Kind::Int64][rng.random_range(0..4)];
    let shape: Vec<i64> = match rng.random_range(0..4) {
        0 => std::iter::once(n).chain(typical.iter().copied()).collect(),
        1 => vec![],
        _ => (0..rng.random_range(1..5)).map(|_| rng.random_range(0..5)).collect(),
    };
    let t = Tensor::rand(&shape[..], (Kind::Float, tch::Device::Cpu)) * rng.random_range(1..20) as f64;
    let t = if rng.random_bool(0.1) { t.full_like(f64::NAN) } else { t };
    t.to_kind(kind)
}

#[test]
fn judge_score_never_panics_on_the_tensors_of_a_samples_file() {
    let _serial = common::serial();
    let judge_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../judges/shapes.safetensors");
    let (judge, _) = ebm::judge::Judge::load(&judge_path).unwrap();
    let heads: Vec<(String, Vec<i64>)> = judge.config.heads.iter().map(|h| (h.name.clone(), vec![h.outputs()])).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let mut tally = Tally::default();
    for _ in 0..cases() / 5 {
        let n = rng.random_range(0..4);
        let images = random_tensor(&mut rng, n, &[3, 32, 32]);
        let conditions: Vec<(String, Tensor)> = (0..rng.random_range(1..3))
            .map(|_| {
                let (name, width) = &heads[rng.random_range(0..heads.len())];
                let typical: &[i64] = if rng.random_bool(0.5) { &[] } else { width };
                (name.clone(), random_tensor(&mut rng, n, typical))
            })
            .collect();
        tally.run("", || ebm::judge::score(&judge, &images, &conditions).map(|_| ()).map_err(message));
    }
    tally.check("judge conditions");
}
