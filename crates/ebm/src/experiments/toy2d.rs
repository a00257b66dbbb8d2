//! Training and judging energies on the 2-D toy densities: the foundation's
//! end-to-end check and the first `ebm demo`.

use crate::data::{DataSource, Toy2d, Toy2dKind};
use crate::energy::{Activation, Architecture, Energy, MlpConfig, Network};
use crate::judge::{mmd2, mode_coverage, ModeCoverage};
use crate::sample::{langevin, LangevinConfig, LangevinOptions, SamplerDefaults};
use crate::train::{TrainConfig, TrainSummary, Trainer};
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use tch::Tensor;

/// The MLP used for 2-D toys: three hidden layers of 128, swish.
///
/// Spectral norm is off for toys: it caps the energy's slope at the head's
/// norm, and eight-gaussians needs slopes of ~20 (modes of std 0.1); with it
/// on, 1500 steps left 6 % of samples on a mode, with it off 600 steps reach
/// 94 % (README, "Choosing the toy settings").
pub fn toy_architecture(spectral_norm: bool) -> Architecture {
    Architecture::Mlp(MlpConfig {
        input_dim: 2,
        hidden: vec![128, 128, 128],
        code_dim: 0,
        activation: Activation::Swish,
        spectral_norm,
        input_shape: vec![],
        noise_range: None,
        view: Default::default(),
    })
}

/// Training settings for 2-D toys (chosen by the experiments in the README).
pub fn toy_config(steps: u64, seed: u64) -> TrainConfig {
    TrainConfig {
        steps,
        seed,
        batch_size: 256,
        lr: 3e-3,
        // Temperature σ²/λ = 0.2: cooler than exp(−E) itself, as in IGEBM;
        // at T = 1 (σ² = λ) samples stayed diffuse for every lr and L2 tried.
        langevin: LangevinConfig {
            step_size: 0.05,
            noise_std: 0.1,
            steps: 60,
            grad_clip: None,
            clamp: Some((-5.0, 5.0)),
        },
        checkpoint_every: 0,
        ..TrainConfig::default()
    }
}

/// Settings for 2-D *concept* energies that are composed later: as
/// [`toy_config`] with batch 128 and half of the chains fresh from noise. A
/// composed energy is only as good as each member's energy *away* from its
/// data: with 95 % of chains reused, regions a model never sampled keep
/// spurious basins, and A AND B landed only 56 % in A∩B (README,
/// "Composition on toys").
pub fn concept_toy_config(steps: u64, seed: u64) -> TrainConfig {
    let mut config = toy_config(steps, seed);
    config.batch_size = 128;
    config.replay.reuse_prob = CONCEPT_TOY_REUSE;
    config
}

pub const CONCEPT_TOY_REUSE: f64 = 0.5;

/// Fraction of `n` samples (300 Langevin steps from noise on [−4, 4]², the
/// concept toys' sampler) with |y| ≤ 2 and x satisfying `inside`.
pub fn fraction_in_band(energy: &dyn Energy, n: usize, inside: impl Fn(f64) -> bool) -> f64 {
    let sampler = toy_sampler(Toy2dKind::Box, &concept_toy_config(1, 0).langevin);
    let points = to_points(&sample_toy(energy, &sampler, n, 300, 9));
    points.iter().filter(|(x, y)| inside(*x) && y.abs() <= 2.0).count() as f64 / points.len() as f64
}

/// A concept energy for "x in `x`, |y| ≤ 2": uniform on that rectangle.
pub fn train_box(x: (f64, f64), config: TrainConfig) -> Result<Box<dyn Network>> {
    let data = Toy2d::uniform_box(x, (-2.0, 2.0), config.seed)?;
    tch::manual_seed(config.seed as i64);
    let mut trainer = Trainer::new(toy_architecture(false).build(tch::Device::Cpu), &data, config, None)?;
    trainer.run(&crate::progress::Quiet)?;
    Ok(trainer.network)
}

#[derive(Clone, Debug, Serialize)]
pub struct ToyEvaluation {
    /// MMD² between model samples and fresh data.
    pub mmd2: f64,
    /// MMD² between two fresh data sets of the same size: the floor.
    pub mmd2_data_floor: f64,
    pub coverage: Option<ModeCoverage>,
    pub samples: usize,
}

/// Draws `n` samples from fresh noise with the model's sampler settings run
/// for `steps_factor`× as many steps (long chains from noise, no buffer).
pub fn sample_toy(energy: &dyn Energy, sampler: &SamplerDefaults, n: usize, steps: usize, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let x0 = sampler.init.sample(&[n as i64, 2]);
    let mut config = sampler.langevin.clone();
    config.steps = steps;
    langevin(energy, &x0, None, &config, &LangevinOptions::default()).x
}

/// MMD² against fresh data (and mode coverage for eight-gaussians).
pub fn evaluate_toy(kind: Toy2dKind, samples: &Tensor, seed: u64) -> ToyEvaluation {
    let n = samples.size()[0] as usize;
    let data = Toy2d::new(kind, crate::seed::derive(seed, &[crate::seed::streams::EVAL_DATA]));
    let fresh = data.points(0, n);
    let other = data.points(1, n);
    ToyEvaluation {
        mmd2: mmd2(samples, &fresh),
        mmd2_data_floor: mmd2(&other, &fresh),
        coverage: (kind == Toy2dKind::EightGaussians).then(|| mode_coverage(samples)),
        samples: n,
    }
}

/// Trains a toy energy from scratch.
pub fn train_toy(
    kind: Toy2dKind,
    architecture: &Architecture,
    config: TrainConfig,
    out_dir: Option<PathBuf>,
    progress: &dyn crate::progress::Progress,
) -> Result<(Box<dyn Network>, TrainSummary)> {
    tch::manual_seed(config.seed as i64);
    let data = Toy2d::new(kind, config.seed);
    let network = architecture.build(tch::Device::Cpu);
    let mut trainer = Trainer::new(network, &data, config, out_dir)?;
    let summary = trainer.run(progress)?;
    Ok((trainer.network, summary))
}

/// The data source's sampler defaults with the given Langevin settings.
pub fn toy_sampler(kind: Toy2dKind, langevin: &LangevinConfig) -> SamplerDefaults {
    SamplerDefaults {
        langevin: langevin.clone(),
        init: Toy2d::new(kind, 0).init_noise(),
        start: crate::sample::ChainStart::Noise,
    }
}

/// Tensor `[N, 2]` to points.
pub fn to_points(x: &Tensor) -> Vec<(f64, f64)> {
    let n = x.size()[0] as usize;
    let mut flat = vec![0f64; 2 * n];
    x.to_kind(tch::Kind::Double).contiguous().copy_data(&mut flat, 2 * n);
    flat.chunks(2).map(|p| (p[0], p[1])).collect()
}

/// Energy of a 2-D model on a grid over [−lim, lim]², in the order
/// [`crate::viz::EnergyMap`] expects.
pub fn energy_map(energy: &dyn Energy, lim: f64, resolution: usize) -> crate::viz::EnergyMap {
    let points = crate::viz::EnergyMap::grid_points((-lim, lim), (-lim, lim), resolution);
    let flat: Vec<f32> = points.iter().flat_map(|&(x, y)| [x as f32, y as f32]).collect();
    let grid = Tensor::from_slice(&flat).reshape([points.len() as i64, 2]);
    let e = tch::no_grad(|| energy.energy(&grid, None)).to_kind(tch::Kind::Double);
    let mut energies = vec![0f64; points.len()];
    e.copy_data(&mut energies, points.len());
    crate::viz::EnergyMap {
        xs: (-lim, lim),
        ys: (-lim, lim),
        resolution,
        energies,
    }
}

/// Samples over the model's energy landscape, with data in grey.
pub fn plot_toy(path: &std::path::Path, energy: &dyn Energy, samples: &Tensor, data: Option<&Tensor>, title: &str) -> Result<()> {
    let map = energy_map(energy, 3.5, 200);
    let reference = data.map(to_points).unwrap_or_default();
    crate::viz::scatter_with_energy(path, Some(&map), &to_points(samples), &reference, title, 640)
}
