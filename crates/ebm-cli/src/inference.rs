//! `ebm experiment inference` and `inference-shifts`: position inference
//! (the compositional paper's Table 3 analogue).

use crate::Context;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct InferenceArgs {
    /// Position models as `label=path` (repeat).
    #[arg(long, default_values_t = [
        format!("readout={}", crate::home::shipped("models/concepts/pos.safetensors").display()),
        format!("cd={}", crate::home::shipped("models/shapes/pos.safetensors").display()),
    ])]
    pub model: Vec<String>,
    #[arg(long, default_value_os_t = crate::home::shipped("judges/shapes.safetensors"))]
    pub judge: PathBuf,
    #[arg(long, short, default_value = "experiments/inference")]
    pub out: PathBuf,
    /// Scenes per test set.
    #[arg(short, default_value_t = 300)]
    pub n: usize,
    /// Seed of the test scenes (apart from every training seed).
    #[arg(long, default_value_t = 4_242)]
    pub seed: u64,
}

#[derive(Args)]
pub struct ShiftArgs {
    /// Training steps of the energy (a position denoiser); the CNN regressor
    /// trains for the same wall time.
    #[arg(long, default_value_t = 2000)]
    pub steps: u64,
    /// Scenes per test set.
    #[arg(short, default_value_t = 100)]
    pub n: usize,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the test scenes (apart from every training seed).
    #[arg(long, default_value_t = 4_242)]
    pub test_seed: u64,
    #[arg(long, short, default_value = "experiments/inference-shifts")]
    pub out: PathBuf,
    /// Where the trained energy and regressor are kept and reused.
    #[arg(long, default_value = "runs/inference-shifts/models")]
    pub models: PathBuf,
    /// Noise levels of the second EBM row, the denoiser's error averaged
    /// over levels (geometric over its trained range; chosen on validation
    /// scenes, `examples/inference_error_probe.rs`).
    #[arg(long, default_value_t = 4)]
    pub error_levels: usize,
    /// Weight σ^p of each level's error in that row (1: the training loss's).
    #[arg(long, default_value_t = 1.0)]
    pub error_sigma_power: f64,
    /// What both estimators read: rgb (the image), chroma (a colour-blind
    /// view, max − min over the channels) or extent (the chroma's bounding
    /// box, blind to shape too). Models are cached per view.
    #[arg(long, default_value = "rgb")]
    pub view: ebm::energy::InputView,
}

pub fn run_shifts(a: ShiftArgs, context: &Context) -> Result<()> {
    crate::experiment::cpu_only("inference-shifts", context)?;
    if a.n == 0 || a.steps == 0 {
        bail!("-n and --steps must be at least 1");
    }
    let options = ebm::experiments::inference_shifts::ShiftOptions {
        steps: a.steps,
        n: a.n,
        seed: a.seed,
        test_seed: a.test_seed,
        out: a.out,
        models: a.models,
        view: a.view,
        denoising_error: ebm::infer::DenoisingErrorConfig {
            levels: a.error_levels,
            sigma_power: a.error_sigma_power,
            ..ebm::infer::DenoisingErrorConfig::default()
        },
    };
    let rows = ebm::experiments::inference_shifts::run(&options, &context.progress)?;
    print!("{}", ebm::experiments::inference::markdown(&rows));
    println!("wrote {}", options.out.display());
    Ok(())
}

pub fn run(a: InferenceArgs, context: &Context) -> Result<()> {
    use ebm::experiments::inference::{markdown, position_inference, standard_sets, PositionModel, Regressor};
    crate::experiment::cpu_only("inference", context)?;
    if a.n == 0 {
        bail!("-n must be at least 1");
    }
    let mut loaded = Vec::new();
    for spec in &a.model {
        let (label, path) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--model takes label=path, got '{spec}'"))?;
        let model = ebm::checkpoint::load_checkpoint(std::path::Path::new(path))?;
        let schema = model
            .card
            .concept
            .clone()
            .filter(|c| c.name == "pos")
            .ok_or_else(|| anyhow::anyhow!("{path} is not a position model (its card's concept is not pos)"))?;
        loaded.push((label.to_string(), path.to_string(), model, schema));
    }
    let (judge, _) = ebm::judge::Judge::load(&a.judge)?;
    let models: Vec<PositionModel> = loaded
        .iter()
        .map(|(label, path, model, schema)| PositionModel {
            name: format!("{label} ({path})"),
            key: label.clone(),
            energy: model.network.as_ref(),
            schema: schema.clone(),
        })
        .collect();
    std::fs::create_dir_all(&a.out)?;
    let regressors = [Regressor {
        name: "shapes judge (supervised CNN)".into(),
        judge: &judge,
        view: ebm::energy::InputView::Rgb,
    }];
    let rows = position_inference(&models, &regressors, &standard_sets(a.seed), a.n, &a.out)?;
    let table = markdown(&rows);
    let json = serde_json::json!({"scenes_per_set": a.n, "seed": a.seed, "rows": rows});
    ebm::io::write_atomically(&a.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    ebm::io::write_atomically(&a.out.join("table.md"), table.as_bytes())?;
    print!("{table}");
    println!("wrote {}", a.out.display());
    Ok(())
}
