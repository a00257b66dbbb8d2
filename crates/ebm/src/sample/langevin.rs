//! Langevin dynamics on any [`Energy`].
//!
//! One step: x ← clamp(x − (λ/2)·clip(∇ₓE(x)) + σ·ε), ε ~ N(0, I).
//!
//! Noise semantics: σ (`noise_std`) is set independently of the step size λ,
//! as in the published IGEBM code, not tied to it as σ² = λ in the paper's
//! equation. With σ² = λ the chain targets p ∝ exp(−E); in general it targets
//! exp(−E/T) with temperature T = σ²/λ (for small λ). The published code's
//! `step_lr` is our λ/2.
//!
//! The weights of the energy are never differentiated here: each step asks
//! autograd for ∂E/∂x only, so no parameter gradient is computed or stored.

use crate::energy::Energy;
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LangevinConfig {
    /// λ: the drift is (λ/2)·∇ₓE.
    pub step_size: f64,
    /// σ: standard deviation of the Gaussian noise added each step.
    pub noise_std: f64,
    pub steps: usize,
    /// Clip each element of ∇ₓE to [−c, c] before the step.
    #[serde(default)]
    pub grad_clip: Option<f64>,
    /// Clamp each element of x to [lo, hi] after every step.
    #[serde(default)]
    pub clamp: Option<(f64, f64)>,
}

/// The image sampler (inputs in [0, 1]): λ = 20 with IGEBM's per-pixel
/// gradient clip 0.01 (a pixel moves at most 0.1 a step) and clamp, noise
/// 0.001 as in the compositional code, 20 steps (a training chain).
impl Default for LangevinConfig {
    fn default() -> Self {
        Self {
            step_size: 20.0,
            noise_std: 0.001,
            steps: 20,
            grad_clip: Some(0.01),
            clamp: Some((0.0, 1.0)),
        }
    }
}

/// Where fresh chains start: lo + (hi − lo)·uᵖ per element, u uniform on
/// [0, 1]. A power p > 1 skews the noise toward `lo`, for data that is
/// mostly background (MNIST: mostly black).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitNoise {
    pub lo: f64,
    pub hi: f64,
    /// Cards written before this field start from plain uniform noise.
    #[serde(default = "uniform_power")]
    pub power: f64,
}

fn uniform_power() -> f64 {
    1.0
}

impl InitNoise {
    /// Uniform noise on [lo, hi].
    pub fn uniform(lo: f64, hi: f64) -> Self {
        Self { lo, hi, power: 1.0 }
    }

    pub fn sample(&self, shape: &[i64]) -> Tensor {
        let u = Tensor::rand(shape, (tch::Kind::Float, tch::Device::Cpu));
        let u = if self.power == 1.0 { u } else { u.pow_tensor_scalar(self.power) };
        u * (self.hi - self.lo) + self.lo
    }
}

/// What a model's card recommends for sampling it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerDefaults {
    pub langevin: LangevinConfig,
    pub init: InitNoise,
    /// Where fresh chains start: uniform noise (`init`), or examples of the
    /// training data drawn at random (see [`ChainStart`]).
    #[serde(default)]
    pub start: ChainStart,
}

/// A user's changes to a model card's sampler; `None` keeps the card's value.
#[derive(Clone, Debug, Default)]
pub struct LangevinOverrides {
    /// Langevin steps (default: the caller's, e.g. 200 for 2-D models, 30 for images).
    pub steps: Option<usize>,
    /// Langevin step size λ (default: the model card's).
    pub step_size: Option<f64>,
    /// Langevin noise std σ (default: the model card's).
    pub noise: Option<f64>,
    /// Per-element gradient clip; 0 turns it off (default: the card's).
    pub grad_clip: Option<f64>,
}

impl LangevinOverrides {
    /// `config` with the overrides applied; `default_steps` when no --steps.
    pub fn apply(&self, mut config: LangevinConfig, default_steps: usize) -> LangevinConfig {
        config.steps = self.steps.unwrap_or(default_steps);
        config.step_size = self.step_size.unwrap_or(config.step_size);
        config.noise_std = self.noise.unwrap_or(config.noise_std);
        if let Some(clip) = self.grad_clip {
            config.grad_clip = (clip > 0.0).then_some(clip);
        }
        config
    }
}

/// How fresh chains begin.
///
/// `Data` is contrastive divergence as first defined: negatives start at
/// real examples and are pulled towards the condition. For a conditional
/// model, an example with other concept values is edited into one with the
/// asked value, so the model learns what distinguishes values rather than
/// how to paint a scene from noise; on 2 CPU cores this is the difference
/// between usable concept models in minutes and in hours (README,
/// "Concept models"). Sampling then starts from random scenes too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainStart {
    #[default]
    Noise,
    Data,
    /// The data's background without its objects (for `shapes`: the lit
    /// floor): the composed energy then draws the object, instead of first
    /// having to erase the one a scene already has.
    Background,
}

crate::named!(ChainStart, "chain start", [Noise => "noise", Data => "data", Background => "background"]);

#[derive(Default)]
pub struct LangevinOptions<'a> {
    /// Entries where the mask is 1 are held at their starting value
    /// (inpainting); broadcastable to x.
    pub fixed_mask: Option<&'a Tensor>,
    /// Record the mean energy of the batch before every step and at the end.
    pub trace: bool,
    /// Keep a copy of x every this many steps (and the last), for chain pictures.
    pub record_every: Option<usize>,
}

pub struct Sampled {
    pub x: Tensor,
    /// Mean energy per step (`steps + 1` values) when tracing.
    pub trace: Vec<f64>,
    pub frames: Vec<Tensor>,
}

/// Runs `config.steps` Langevin steps from `x0` under `code`.
pub fn langevin(energy: &dyn Energy, x0: &Tensor, code: Option<&Tensor>, config: &LangevinConfig, options: &LangevinOptions) -> Sampled {
    let code = code.map(|c| c.detach());
    let keep = options.fixed_mask.map(|m| m.ne(0.0));
    let start = x0.detach();
    let mut x = start.copy();
    let mut trace = Vec::new();
    let mut frames = Vec::new();
    let half_step = config.step_size / 2.0;
    for step in 0..config.steps {
        if let Some(every) = options.record_every {
            if step % every.max(1) == 0 {
                frames.push(x.copy());
            }
        }
        let x_var = x.set_requires_grad(true);
        // with_grad: a caller inside no_grad (scoring in chunks) would
        // otherwise leave no graph to differentiate, and libtorch crashes.
        let e = tch::with_grad(|| energy.energy(&x_var, code.as_ref()));
        if options.trace {
            trace.push(e.mean(tch::Kind::Double).double_value(&[]));
        }
        let grad = tch::with_grad(|| Tensor::run_backward(&[e.sum(e.kind())], &[&x_var], false, false)).remove(0);
        x = tch::no_grad(|| {
            let grad = match config.grad_clip {
                Some(c) => grad.clamp(-c, c),
                None => grad,
            };
            let mut next = x_var.detach() - grad * half_step;
            if config.noise_std > 0.0 {
                next += next.randn_like() * config.noise_std;
            }
            if let Some((lo, hi)) = config.clamp {
                next = next.clamp(lo, hi);
            }
            match &keep {
                Some(keep) => start.where_self(keep, &next),
                None => next,
            }
        });
    }
    if options.trace {
        let e = tch::no_grad(|| energy.energy(&x, code.as_ref()));
        trace.push(e.mean(tch::Kind::Double).double_value(&[]));
    }
    if options.record_every.is_some() {
        frames.push(x.copy());
    }
    Sampled { x, trace, frames }
}
