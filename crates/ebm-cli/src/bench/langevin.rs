//! Timing ebm's side: Langevin steps, and training updates with their chains.

use super::bench_sampler;
use anyhow::{bail, Result};
use ebm::data::{Batch, DataSource};
use ebm::energy::{Architecture, Compute, ConvConfig, Network};
use ebm::sample::{langevin, InitNoise, LangevinOptions};
use ebm::train::{TrainConfig, Trainer};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The bench network, computing as `compute` says (fp32 weights).
fn bench_network(config: &ConvConfig, compute: Compute, device: Device) -> Box<dyn Network> {
    tch::manual_seed(0);
    let mut network = Architecture::Conv(config.clone()).build(device);
    network.set_compute(compute);
    network
}

/// Langevin steps/s of a `batch`-chain on the bench network.
pub fn time_langevin(config: &ConvConfig, batch: i64, compute: Compute, warmup: usize, steps: usize, device: Device) -> Result<f64> {
    let network = bench_network(config, compute, device);
    let x0 = Tensor::rand([batch, config.channels, config.size, config.size], (Kind::Float, device));
    let warm = langevin(network.as_ref(), &x0, None, &bench_sampler(warmup), &LangevinOptions::default()).x;
    let started = Instant::now();
    let out = langevin(network.as_ref(), &warm, None, &bench_sampler(steps), &LangevinOptions::default()).x;
    let seconds = started.elapsed().as_secs_f64();
    if out.isfinite().all().int64_value(&[]) == 0 {
        bail!("the {} chain produced non-finite values", compute.label());
    }
    Ok(steps as f64 / seconds)
}

/// Uniform noise images, a fixed batch per step: the data costs nothing, so
/// a timed update is the model's work alone.
struct NoiseImages {
    shape: Vec<i64>,
}

impl DataSource for NoiseImages {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        tch::manual_seed(step as i64);
        let mut shape = vec![batch_size as i64];
        shape.extend(&self.shape);
        Batch {
            x: Tensor::rand(shape, (Kind::Float, Device::Cpu)),
            code: None,
        }
    }
    fn example_shape(&self) -> Vec<i64> {
        self.shape.clone()
    }
    fn init_noise(&self) -> InitNoise {
        InitNoise::uniform(0.0, 1.0)
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"name": "bench-noise"})
    }
}

/// Contrastive-divergence updates/s through ebm's own trainer (power
/// iteration, replay draw, a `chain_steps` Langevin chain, E⁺ and E⁻,
/// backward, guard, Adam), with the reference's sampler.
pub fn time_cd_update(
    config: &ConvConfig,
    batch: i64,
    compute: Compute,
    (warmup, steps, chain_steps): (usize, usize, usize),
    device: Device,
) -> Result<f64> {
    let network = bench_network(config, compute, device);
    let data = NoiseImages {
        shape: vec![config.channels, config.size, config.size],
    };
    let train = TrainConfig {
        batch_size: batch as usize,
        langevin: bench_sampler(chain_steps),
        lr: 1e-4,
        ..TrainConfig::default()
    };
    time_training(network, &data, train, (warmup, steps))
}

/// Denoising-score-matching steps/s on the default denoiser energy
/// (3×32×32, width 32): one forward pass, an input gradient with its graph,
/// and the weight gradient through it (double backward), then Adam.
pub fn time_dsm_step(batch: i64, compute: Compute, (warmup, steps): (usize, usize), device: Device) -> Result<f64> {
    tch::manual_seed(0);
    let config = ebm::energy::DenoiserConfig::default();
    let mut network = Architecture::Denoiser(config.clone()).build(device);
    network.set_compute(compute);
    let data = NoiseImages {
        shape: vec![config.channels, config.size, config.size],
    };
    let train = TrainConfig {
        batch_size: batch as usize,
        objective: ebm::train::Objective::Dsm,
        lr: 1e-4,
        ..TrainConfig::default()
    };
    time_training(network, &data, train, (warmup, steps))
}

/// Updates/s of `steps` training steps after `warmup` untimed ones.
fn time_training(network: Box<dyn Network>, data: &dyn DataSource, train: TrainConfig, (warmup, steps): (usize, usize)) -> Result<f64> {
    let mut trainer = Trainer::new(network, data, train, None)?;
    for _ in 0..warmup {
        trainer.step()?;
    }
    let started = Instant::now();
    for _ in 0..steps {
        trainer.step()?;
    }
    Ok(steps as f64 / started.elapsed().as_secs_f64())
}
