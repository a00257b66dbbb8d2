//! Sampling an energy trained over noise levels (or a composition of such
//! energies): chains start as noise at the largest σ, run down a geometric
//! schedule of levels with any of the samplers (λ ∝ σ²), and finish with one
//! Tweedie step at the smallest level, x̂ = x − σ²∇ₓE_σ(x), which removes
//! the last level's noise (for a denoiser-shaped energy it is D(x) up to
//! D's Jacobian term, and exactly D(x) with [`LevelGradient::Tweedie`]).

use super::anneal::{anneal, geometric, Annealed, NoiseConditioned, NoiseLevels, Schedule};
use super::sampler::{Run, SampleOptions, SamplerConfig, SamplerKind};
use crate::energy::{AtNoiseLevel, Energy, LevelGradient};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// How to anneal down the noise levels; see [`NoiseAnnealing::default`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoiseAnnealing {
    /// Levels from σ_max to σ_min (geometric).
    pub levels: usize,
    pub steps_per_level: usize,
    /// λ at level σ is `step_scale`·σ² (λ: the variance of one move, in the
    /// units of [`SamplerConfig`]).
    pub step_scale: f64,
    pub kind: SamplerKind,
    /// Chains start at `start_mean` + σ_max·ε (data in [0, 1]: 0.5).
    pub start_mean: f64,
    /// Finish with the Tweedie step at σ_min and clamp to [0, 1].
    pub denoise_last: bool,
    /// T at every level: the chain samples exp(−E_σ/T).
    pub temperature: f64,
    /// Box for every entry (ULA projects, MALA/HMC reject). A NOT subtracts
    /// an energy that grows without bound away from data; unboxed, a
    /// `shape=circle & !color=red & !color=orange` chain ran to infinity.
    pub clamp: Option<(f64, f64)>,
    /// The gradient chains follow at each level (and the final Tweedie step
    /// takes): the exact ∇ₓE_σ, or the denoisers' Tweedie scores.
    pub gradient: LevelGradient,
    /// Move between levels by one Euler step of the probability-flow ODE,
    /// x ← x − (σ − σ')·σ∇ₓE_σ(x) (with Tweedie scores: DDIM's
    /// x ← D + (σ'/σ)(x − D)), before the level's sampler steps. Without it
    /// a chain enters the next level where the last one left it, and with
    /// denoisers whose D shrinks an unsure object towards the floor, each
    /// level's chain settles at that shrunken D plus noise.
    pub predictor: bool,
}

impl Default for NoiseAnnealing {
    /// 12 levels × 20 ULA steps at λ = 0.4σ², starting from 0.5 + σ_max·ε,
    /// Tweedie step at the end, chains boxed to [−0.5, 1.5]: the schedule of the first probes that drew
    /// objects of the asked colour (README, "Denoising-trained models").
    fn default() -> Self {
        Self {
            levels: 12,
            steps_per_level: 20,
            step_scale: 0.4,
            kind: SamplerKind::Ula,
            start_mean: 0.5,
            denoise_last: true,
            temperature: 1.0,
            clamp: Some((-0.5, 1.5)),
            gradient: LevelGradient::Exact,
            predictor: false,
        }
    }
}

impl NoiseAnnealing {
    pub fn validate(&self) -> Result<(), String> {
        if self.levels < 2 || self.steps_per_level < 1 {
            return Err(format!(
                "annealing needs ≥ 2 levels and ≥ 1 step per level, got {} and {}",
                self.levels, self.steps_per_level
            ));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(format!("the temperature must be a positive number, got {}", self.temperature));
        }
        if !(self.step_scale > 0.0 && self.step_scale.is_finite()) {
            return Err(format!("the step scale must be a positive number, got {}", self.step_scale));
        }
        Ok(())
    }

    /// The schedule over `range` = (σ_min, σ_max).
    pub fn schedule(&self, (lo, hi): (f64, f64)) -> Schedule {
        Schedule::noise_levels(&geometric(hi, lo, self.levels), self.steps_per_level, self.step_scale * lo * lo)
    }
}

pub struct NoiseLevelRun {
    /// The samples (after the Tweedie step when asked for).
    pub x: Tensor,
    /// One run per level, largest σ first (acceptance per level).
    pub levels: Vec<Run>,
}

impl NoiseLevelRun {
    /// The state at the end of each level that recorded frames.
    pub fn level_frames(&self) -> Vec<Tensor> {
        self.levels
            .iter()
            .filter_map(|r| r.frames.last().map(|f| f.shallow_clone()))
            .collect()
    }
}

/// Samples `energy` (which must have a noise range) from fresh noise of
/// `shape` = [B, ...]; torch's global generator supplies every draw.
pub fn sample_noise_levels(
    energy: &dyn Energy,
    shape: &[i64],
    code: Option<&Tensor>,
    annealing: &NoiseAnnealing,
    options: &SampleOptions,
    device: tch::Device,
) -> NoiseLevelRun {
    let range = energy
        .noise_range()
        .expect("sample_noise_levels needs an energy trained over noise levels");
    let x0 = Tensor::randn(shape, (tch::Kind::Float, device)) * range.1 + annealing.start_mean;
    anneal_down(energy, &x0, range, code, annealing, options)
}

/// Refines `start` (`[B, ...]`, e.g. another model's samples) by the noise
/// levels below `sigma` (SDEdit, Meng et al. 2022): chains start at
/// start + σε and anneal from σ (at most σ_max) down to σ_min, so what the
/// start says above the noise at σ — where the object is, its colour — is
/// kept, and the levels below redraw the detail.
pub fn refine_noise_levels(
    energy: &dyn Energy,
    start: &Tensor,
    sigma: f64,
    code: Option<&Tensor>,
    annealing: &NoiseAnnealing,
    options: &SampleOptions,
) -> NoiseLevelRun {
    let (lo, hi) = energy
        .noise_range()
        .expect("refine_noise_levels needs an energy trained over noise levels");
    let top = sigma.clamp(lo, hi);
    let x0 = start.to_kind(tch::Kind::Float) + start.randn_like() * top;
    anneal_down(energy, &x0, (lo, top), code, annealing, options)
}

/// Anneals `x0` from `range.1` down to `range.0`, then the Tweedie step.
fn anneal_down(
    energy: &dyn Energy,
    x0: &Tensor,
    range: (f64, f64),
    code: Option<&Tensor>,
    annealing: &NoiseAnnealing,
    options: &SampleOptions,
) -> NoiseLevelRun {
    let config = SamplerConfig {
        kind: annealing.kind,
        temperature: annealing.temperature,
        clamp: annealing.clamp,
        ..SamplerConfig::default()
    };
    let family = NoiseLevels(energy, annealing.gradient);
    let schedule = annealing.schedule(range);
    let run = match annealing.predictor {
        false => anneal(Annealed::Noise(&family), x0, code, &schedule, &config, options),
        true => anneal_with_predictor(&family, x0, code, &schedule, &config, options),
    };
    let x = if annealing.denoise_last {
        tweedie(
            &AtNoiseLevel {
                energy,
                sigma: range.0,
                gradient: annealing.gradient,
            },
            &run.x,
            code,
            range.0,
        )
        .clamp(0.0, 1.0)
    } else {
        run.x
    };
    NoiseLevelRun { x, levels: run.levels }
}

/// [`anneal`] one level at a time, each level entered by the
/// probability-flow Euler step from the level before.
fn anneal_with_predictor(
    family: &NoiseLevels,
    x0: &Tensor,
    code: Option<&Tensor>,
    schedule: &Schedule,
    config: &SamplerConfig,
    options: &SampleOptions,
) -> super::anneal::AnnealedRun {
    let mut x = x0.shallow_clone();
    let mut levels = Vec::with_capacity(schedule.levels.len());
    let mut previous: Option<f64> = None;
    for level in &schedule.levels {
        if let Some(sigma) = previous {
            let at = family.at_level(sigma);
            // x − (σ − σ')σ∇E = x − (1 − σ'/σ)·σ²∇E: a Tweedie step scaled.
            let denoised = tweedie(at.as_ref(), &x, code, sigma);
            x = &x + (denoised - &x) * (1.0 - level.value / sigma);
            if let Some((lo, hi)) = config.clamp {
                x = x.clamp(lo, hi);
            }
        }
        let one = Schedule {
            levels: vec![level.clone()],
        };
        let run = anneal(Annealed::Noise(family), &x, code, &one, config, options);
        x = run.x.shallow_clone();
        levels.extend(run.levels);
        previous = Some(level.value);
    }
    super::anneal::AnnealedRun { x, levels }
}

/// x − σ²∇ₓE(x): the posterior mean of the clean x under E_σ.
pub fn tweedie(energy: &dyn Energy, x: &Tensor, code: Option<&Tensor>, sigma: f64) -> Tensor {
    let x = x.detach().set_requires_grad(true);
    let e = energy.energy(&x, code);
    let grad = Tensor::run_backward(&[e.sum(e.kind())], &[&x], false, false).remove(0);
    (x.detach() - grad * (sigma * sigma)).detach()
}
