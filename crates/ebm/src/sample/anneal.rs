//! Annealed sampling: any of the samplers run down a schedule of levels,
//! each level starting where the previous one ended.
//!
//! A level is a temperature T (for any plain [`Energy`]: the target at that
//! level is exp(−E/T)) or a noise level σ (for an energy trained over noise
//! levels, reached through [`NoiseConditioned`]; the target is
//! exp(−E_σ/T) with T from the config). Each level has its own number of
//! steps and step size λ. The usual choice, and what [`Schedule::noise_levels`]
//! and [`Schedule::temperatures`] build, scales the step with the width of
//! the level's density: λ ∝ σ² for noise levels (Song & Ermon 2019, where
//! E_σ is roughly the data convolved with N(0, σ²)), and λ ∝ T for
//! temperatures (exp(−E/T) is √T times wider, and λ is a move's variance).
//!
//! Every other setting comes from the [`SamplerConfig`], applied per level:
//! with `target_accept` set, each level adapts during its first `warmup`
//! steps, starting from the level's step. HMC's momentum starts afresh at
//! each level. Only the last level of a schedule ending at T = 1 (or at the
//! smallest σ) targets the distribution of interest; annealing is a way to
//! get there from far away, not an exact sampler of it.

use super::sampler::{sample, Run, SampleOptions, SamplerConfig};
use crate::energy::{AtNoiseLevel, Energy, LevelGradient};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// An energy defined at every noise level σ, E_σ(x | code).
pub trait NoiseConditioned {
    /// The energy at noise level `sigma`.
    fn at_level(&self, sigma: f64) -> Box<dyn Energy + '_>;
}

/// Any [`Energy`] as a family over noise levels, through
/// [`Energy::energy_at_noise`] (a composition passes σ to every member),
/// followed along the given gradient.
pub struct NoiseLevels<'a>(pub &'a dyn Energy, pub LevelGradient);

impl NoiseConditioned for NoiseLevels<'_> {
    fn at_level(&self, sigma: f64) -> Box<dyn Energy + '_> {
        Box::new(AtNoiseLevel {
            energy: self.0,
            sigma,
            gradient: self.1,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// T or σ, depending on what is annealed.
    pub value: f64,
    pub steps: usize,
    /// λ at this level.
    pub step_size: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub levels: Vec<Level>,
}

impl Schedule {
    /// λ_ℓ = `step_at_last`·(v_ℓ / v_last)^`power`, `steps_per_level` each.
    pub fn scaled(values: &[f64], steps_per_level: usize, step_at_last: f64, power: f64) -> Self {
        let last = *values.last().expect("a schedule needs at least one level");
        let levels = values
            .iter()
            .map(|&value| Level {
                value,
                steps: steps_per_level,
                step_size: step_at_last * (value / last).powf(power),
            })
            .collect();
        Self { levels }
    }

    /// Noise levels σ (largest first) with λ ∝ σ².
    pub fn noise_levels(sigmas: &[f64], steps_per_level: usize, step_at_last: f64) -> Self {
        Self::scaled(sigmas, steps_per_level, step_at_last, 2.0)
    }

    /// Temperatures (hottest first) with λ ∝ T.
    pub fn temperatures(temperatures: &[f64], steps_per_level: usize, step_at_last: f64) -> Self {
        Self::scaled(temperatures, steps_per_level, step_at_last, 1.0)
    }
}

/// `n` values from `first` to `last` in geometric progression (n ≥ 2).
pub fn geometric(first: f64, last: f64, n: usize) -> Vec<f64> {
    assert!(n >= 2 && first > 0.0 && last > 0.0, "geometric needs n >= 2 and positive ends");
    let ratio = (last / first).powf(1.0 / (n - 1) as f64);
    (0..n)
        .map(|i| if i + 1 == n { last } else { first * ratio.powi(i as i32) })
        .collect()
}

/// What a schedule's levels mean.
#[derive(Clone, Copy)]
pub enum Annealed<'a> {
    /// Levels are temperatures of this energy.
    Temperature(&'a dyn Energy),
    /// Levels are noise levels of this energy.
    Noise(&'a dyn NoiseConditioned),
}

pub struct AnnealedRun {
    /// The state after the last level.
    pub x: Tensor,
    /// One run per level, in schedule order.
    pub levels: Vec<Run>,
}

/// Runs `config` (kind, clamp, adaptation, ...) down `schedule` from `x0`.
pub fn anneal(
    target: Annealed,
    x0: &Tensor,
    code: Option<&Tensor>,
    schedule: &Schedule,
    config: &SamplerConfig,
    options: &SampleOptions,
) -> AnnealedRun {
    let mut x = x0.detach();
    let mut levels = Vec::with_capacity(schedule.levels.len());
    for level in &schedule.levels {
        let mut level_config = SamplerConfig {
            steps: level.steps,
            step_size: level.step_size,
            ..config.clone()
        };
        let run = match target {
            Annealed::Temperature(energy) => {
                level_config.temperature = level.value;
                sample(energy, &x, code, &level_config, options)
            }
            Annealed::Noise(family) => sample(family.at_level(level.value).as_ref(), &x, code, &level_config, options),
        };
        x = run.x.shallow_clone();
        levels.push(run);
    }
    AnnealedRun { x, levels }
}
