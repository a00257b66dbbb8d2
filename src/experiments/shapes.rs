//! Concept models on `shapes`: the architecture and training settings every
//! concept uses, and sampling under a composed energy.

use crate::data::shapes::{COLOUR_NAMES, SHAPE_NAMES};
use crate::data::shapes_concept::ShapesConcept;
use crate::energy::conv::SpatialPool;
use crate::energy::{Activation, Architecture, ConvConfig, Energy};
use crate::sample::{langevin, BufferMode, InitNoise, LangevinConfig, LangevinOptions, ReplayConfig, Sampled, SamplerDefaults};
use crate::train::{GuardConfig, TrainConfig};
use anyhow::Result;
use std::path::Path;
use tch::Tensor;

/// Image side of the concept models (the spec's default, and the judge's).
pub const IMAGE_SIZE: i64 = 32;

/// A small residual energy: three blocks (32 → 16 → 8 → 4 pixels), spectral
/// norm and swish as in IGEBM, sized for CPU training. The position model
/// also sees coordinate channels, since pooling forgets where things are.
pub fn concept_architecture(concept: ShapesConcept, widths: &[i64]) -> Architecture {
    Architecture::Conv(ConvConfig {
        channels: 3,
        size: IMAGE_SIZE,
        widths: widths.to_vec(),
        code_dim: concept.schema().code_dim(),
        activation: Activation::Swish,
        spectral_norm: true,
        pool: SpatialPool::Sum,
        coords: concept == ShapesConcept::Pos,
    })
}

pub const DEFAULT_WIDTHS: [i64; 3] = [32, 64, 64];

/// Training settings for concept models (chosen by the runs in the README).
pub fn concept_config(steps: u64, seed: u64) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: 64,
        lr: 3e-4,
        adam_beta1: 0.0,
        adam_beta2: 0.999,
        energy_l2: 1.0,
        label_ce_weight: 0.0,
        grad_clip_norm: Some(10.0),
        ema_decay: Some(0.99),
        langevin: concept_langevin(30),
        replay: ReplayConfig {
            capacity: 10_000,
            reuse_prob: 0.95,
            mode: BufferMode::Fifo,
        },
        seed,
        checkpoint_every: 500,
        log_every: 10,
        guard: GuardConfig::default(),
    }
}

/// Langevin for images in [0, 1]: IGEBM's per-pixel gradient clip and clamp,
/// a large step because spectral norm keeps ∇ₓE small.
pub fn concept_langevin(steps: usize) -> LangevinConfig {
    LangevinConfig {
        step_size: 20.0,
        noise_std: 0.005,
        steps,
        grad_clip: Some(0.01),
        clamp: Some((0.0, 1.0)),
    }
}

/// `n` images from uniform noise under `energy` (a single model with `code`,
/// or a composition with `code = None`).
pub fn sample_images(
    energy: &dyn Energy,
    code: Option<&Tensor>,
    n: usize,
    langevin_config: &LangevinConfig,
    seed: i64,
    frames: Option<usize>,
) -> Sampled {
    tch::manual_seed(seed);
    let x0 = InitNoise { lo: 0.0, hi: 1.0 }.sample(&[n as i64, 3, IMAGE_SIZE, IMAGE_SIZE]);
    let options = LangevinOptions {
        record_every: frames.map(|f| (langevin_config.steps / f).max(1)),
        ..Default::default()
    };
    langevin(energy, &x0, code, langevin_config, &options)
}

/// A few values of a concept to show, with their labels and codes.
pub fn showcase_values(concept: ShapesConcept) -> Vec<(String, Vec<f32>)> {
    let schema = concept.schema();
    let one_hot = |k: usize, n: usize| (0..n).map(|i| if i == k { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
    match concept {
        ShapesConcept::Color => COLOUR_NAMES
            .iter()
            .enumerate()
            .map(|(k, name)| (name.to_string(), one_hot(k, 8)))
            .collect(),
        ShapesConcept::Shape => SHAPE_NAMES
            .iter()
            .enumerate()
            .map(|(k, name)| (name.to_string(), one_hot(k, 3)))
            .collect(),
        ShapesConcept::Pos => [(0.3, 0.3), (0.7, 0.3), (0.5, 0.5), (0.3, 0.7), (0.7, 0.7)]
            .iter()
            .map(|&(x, y)| (format!("({x},{y})"), schema.encode(&[x, y])))
            .collect(),
        ShapesConcept::Size => [0.10, 0.14, 0.18]
            .iter()
            .map(|&r| (format!("r={r}"), schema.encode(&[r])))
            .collect(),
    }
}

/// Samples per showcase value, a row each, written as a labelled PNG.
pub fn concept_sample_grid(energy: &dyn Energy, concept: ShapesConcept, sampler: &SamplerDefaults, path: &Path) -> Result<()> {
    const PER_ROW: usize = 8;
    let values = showcase_values(concept);
    let mut codes = Vec::new();
    let mut captions = Vec::new();
    for (label, code) in &values {
        for i in 0..PER_ROW {
            codes.extend_from_slice(code);
            captions.push(if i == 0 { label.clone() } else { String::new() });
        }
    }
    let n = values.len() * PER_ROW;
    let code = Tensor::from_slice(&codes).reshape([n as i64, -1]);
    let mut config = sampler.langevin.clone();
    config.steps = SHOWCASE_STEPS;
    let sampled = sample_images(energy, Some(&code), n, &config, 0, None);
    let title = format!("{} model, {} Langevin steps from noise", concept.name(), config.steps);
    write_grid(path, &sampled.x, PER_ROW, &captions, &title)
}

/// Langevin steps from noise for pictures and evaluation.
pub const SHOWCASE_STEPS: usize = 100;

/// Images `[N, 3, S, S]` as a captioned PNG grid.
pub fn write_grid(path: &Path, images: &Tensor, columns: usize, captions: &[String], title: &str) -> Result<()> {
    let size = images.size();
    let mut flat = vec![0f32; images.numel()];
    images.to_kind(tch::Kind::Float).contiguous().copy_data(&mut flat, images.numel());
    let (n, c, h, w) = (size[0] as usize, size[1] as usize, size[2] as usize, size[3] as usize);
    crate::viz::image_grid(path, &flat, n, c, h, w, columns, Some(captions), Some(title), 2)
}
