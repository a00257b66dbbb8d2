//! One interface to three samplers of p(x) ∝ exp(−E(x | code)/T): unadjusted
//! Langevin (ULA), Metropolis-adjusted Langevin (MALA) and Hamiltonian Monte
//! Carlo (HMC), with optional step-size adaptation during a warm-up.
//!
//! # The step size λ
//!
//! `step_size` λ means the same for every kind: the variance of one
//! Langevin move in units of the tempered energy U = E/T.
//!
//! - ULA: x ← x − (λ/2)·clip(∇E(x))/T + √λ·ε, run through [`langevin`] with
//!   its λ' = λ/T and σ = √λ. This is a proper Langevin discretisation of
//!   exp(−E/T) (unlike a freely chosen σ, see [`langevin`]), biased by O(λ).
//!   Steps are projected onto the clamp box; every step counts as accepted.
//! - MALA: the same move as a proposal, corrected by Metropolis–Hastings
//!   (see [`super::mala`]); ULA is MALA with every proposal accepted.
//! - HMC: leapfrog step ε = √λ, L = `leapfrog_steps` of them per proposal
//!   (see [`super::hmc`]); HMC with L = 1 and full refresh is exactly MALA,
//!   draw for draw.
//!
//! MALA and HMC reject proposals that leave the clamp box (exact for the
//! target restricted to the box); `grad_clip` applies to ULA only, since
//! clipping the gradient of a corrected sampler would only lower its
//! acceptance.
//!
//! # Adaptation
//!
//! With `target_accept = Some(δ)`, the first `warmup` steps adapt one global
//! step (shared by all chains) by dual averaging on the mean acceptance
//! probability across chains ([`super::adapt`]); at the end of warm-up the
//! step is frozen at the averaged value, so the chain after warm-up is a
//! fixed Metropolis–Hastings kernel. ULA has no acceptance to adapt to and
//! ignores `target_accept`.
//!
//! Randomness comes from torch's global generator (`randn_like`, `rand`), so
//! a caller's `tch::manual_seed` fixes every draw.

use super::adapt::DualAveraging;
use super::hmc::Hmc;
use super::langevin::{langevin, LangevinConfig, LangevinOptions};
use super::mala::mala_step;
use super::target::{Point, Target};
use crate::energy::Energy;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplerKind {
    /// Unadjusted Langevin: fast, biased by O(λ).
    Ula,
    /// Metropolis-adjusted Langevin.
    #[default]
    Mala,
    /// Hamiltonian Monte Carlo.
    Hmc,
}

crate::named!(SamplerKind, "sampler", [Ula => "ula", Mala => "mala", Hmc => "hmc"]);

/// How to sample; see the module documentation for the meaning of λ.
///
/// `Default`: MALA, λ = 0.01, 100 steps, 10 leapfrog steps (HMC only), full
/// momentum refresh, T = 1, no clamp, no gradient clip, no adaptation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    /// λ: the variance of one Langevin move in units of E/T (HMC: ε = √λ).
    pub step_size: f64,
    /// Transitions in all, warm-up included.
    pub steps: usize,
    /// HMC: leapfrog steps L per proposal.
    pub leapfrog_steps: usize,
    /// HMC: ρ in p ← √(1 − ρ²)·p + ρ·ξ; 1.0 draws a fresh momentum each time.
    pub momentum_refresh: f64,
    /// T: the target is exp(−E/T).
    pub temperature: f64,
    /// Box [lo, hi] for every entry: ULA projects onto it, MALA and HMC
    /// reject proposals outside it.
    pub clamp: Option<(f64, f64)>,
    /// ULA only: clip each element of ∇ₓE to [−c, c].
    pub grad_clip: Option<f64>,
    /// Mean acceptance probability to adapt the step to during warm-up
    /// (MALA and HMC); `None` keeps `step_size` throughout.
    pub target_accept: Option<f64>,
    /// Leading steps that adapt the step (when `target_accept` is set) and
    /// are left out of the acceptance statistics.
    pub warmup: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            kind: SamplerKind::Mala,
            step_size: 0.01,
            steps: 100,
            leapfrog_steps: 10,
            momentum_refresh: 1.0,
            temperature: 1.0,
            clamp: None,
            grad_clip: None,
            target_accept: None,
            warmup: 0,
        }
    }
}

impl SamplerConfig {
    /// The Metropolis-corrected (or plain) counterpart of a card's
    /// [`LangevinConfig`] x ← x − (λ'/2)∇E + σε: temperature T = σ²/λ' and
    /// step λ = σ², so the proposal is the card's move exactly (without its
    /// gradient clip, which only ULA applies) and MALA/HMC sample the
    /// exp(−E/T) that the card's chain approximates.
    pub fn from_langevin(kind: SamplerKind, langevin: &LangevinConfig) -> Self {
        let variance = langevin.noise_std * langevin.noise_std;
        Self {
            kind,
            step_size: variance,
            steps: langevin.steps,
            temperature: variance / langevin.step_size,
            clamp: langevin.clamp,
            grad_clip: langevin.grad_clip,
            ..Self::default()
        }
    }

    /// Checks the numbers describe a runnable sampler (the reason otherwise).
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.step_size > 0.0 && self.step_size.is_finite(),
                "the step size must be a positive number",
            ),
            (
                self.temperature > 0.0 && self.temperature.is_finite(),
                "the temperature must be a positive number",
            ),
            (self.leapfrog_steps >= 1, "HMC needs at least one leapfrog step"),
            (
                (0.0..=1.0).contains(&self.momentum_refresh),
                "the momentum refresh must be in [0, 1]",
            ),
            (
                self.target_accept.is_none_or(|a| a > 0.0 && a < 1.0),
                "the target acceptance must be in (0, 1)",
            ),
            (
                self.target_accept.is_none() || self.warmup <= self.steps,
                "the warm-up cannot be longer than the run",
            ),
            (self.clamp.is_none_or(|(lo, hi)| lo < hi), "the clamp box needs low < high"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(message.to_string()),
            None => Ok(()),
        }
    }
}

/// What to record besides the final state.
#[derive(Clone, Copy, Default)]
pub struct SampleOptions<'a> {
    /// Entries where the mask is 1 are held at their starting value
    /// (inpainting); broadcastable to x.
    pub fixed_mask: Option<&'a Tensor>,
    /// Mean energy E (not E/T) of the batch before every step and at the end.
    pub trace: bool,
    /// Every chain's energy before every step and at the end.
    pub chain_energies: bool,
    /// Keep a copy of x every this many steps (and the last).
    pub record_every: Option<usize>,
}

pub struct Run {
    pub x: Tensor,
    /// Per chain: mean acceptance probability α over the steps after
    /// warm-up (all steps when `warmup` = 0; NaN when none follow it).
    /// ULA: 1.
    pub acceptance: Vec<f64>,
    /// Mean of `acceptance` over chains.
    pub mean_acceptance: f64,
    /// λ used at each step (constant after warm-up).
    pub step_sizes: Vec<f64>,
    /// λ after the last step: the frozen step when adapting.
    pub step_size: f64,
    /// Mean energy per step (`steps + 1` values) when tracing.
    pub trace: Vec<f64>,
    /// `[steps + 1][B]` energies when `chain_energies`; see
    /// [`super::diagnostics::by_chain`] to turn them into chains × draws.
    pub chain_energies: Option<Vec<Vec<f64>>>,
    pub frames: Vec<Tensor>,
}

/// Runs `config.steps` transitions of `config.kind` from `x0: [B, ...]`.
pub fn sample(energy: &dyn Energy, x0: &Tensor, code: Option<&Tensor>, config: &SamplerConfig, options: &SampleOptions) -> Run {
    assert!(config.step_size > 0.0, "step size must be positive, got {}", config.step_size);
    if config.target_accept.is_some() {
        assert!(
            config.warmup <= config.steps,
            "warm-up ({}) longer than the run ({})",
            config.warmup,
            config.steps
        );
    }
    let target = Target::new(energy, x0, code, config.temperature, options.fixed_mask, config.clamp);
    let chains = Chains {
        energy,
        code,
        config,
        fixed_mask: options.fixed_mask,
        target,
    };
    let mut state = chains.start(x0);
    let mut adaptation = match (config.target_accept, config.kind) {
        (Some(goal), SamplerKind::Mala | SamplerKind::Hmc) if config.warmup > 0 => Some(DualAveraging::new(config.step_size.sqrt(), goal)),
        _ => None,
    };
    let batch = x0.size()[0];
    let mut recorder = Recorder::new(options);
    let mut alpha_sum = Tensor::zeros([batch], (Kind::Double, x0.device()));
    let (mut step, mut counted) = (config.step_size, 0usize);
    let mut step_sizes = Vec::with_capacity(config.steps);
    for i in 0..config.steps {
        recorder.record(i, &chains, &state);
        let (next, alpha) = chains.step(state, step);
        state = next;
        step_sizes.push(step);
        if i >= config.warmup {
            alpha_sum += alpha;
            counted += 1;
        } else if let Some(adaptation) = adaptation.as_mut() {
            let scale = adaptation.update(alpha.mean(Kind::Double).double_value(&[]));
            let scale = if i + 1 == config.warmup { adaptation.final_step() } else { scale };
            step = scale * scale;
        }
    }
    recorder.finish(&chains, &state);
    let acceptance = Vec::<f64>::try_from(alpha_sum / counted as f64).expect("acceptance to f64");
    let mean_acceptance = acceptance.iter().sum::<f64>() / acceptance.len().max(1) as f64;
    Run {
        x: state.into_x(),
        acceptance,
        mean_acceptance,
        step_sizes,
        step_size: step,
        trace: recorder.trace,
        chain_energies: recorder.chains,
        frames: recorder.frames,
    }
}

/// The batch of chains as each kind keeps it.
enum State {
    Ula(Tensor),
    Mala(Point),
    Hmc(Point, Hmc),
}

impl State {
    fn x(&self) -> &Tensor {
        match self {
            State::Ula(x) => x,
            State::Mala(point) | State::Hmc(point, _) => &point.x,
        }
    }

    fn into_x(self) -> Tensor {
        match self {
            State::Ula(x) => x,
            State::Mala(point) | State::Hmc(point, _) => point.x,
        }
    }
}

/// Everything a transition needs besides the state.
struct Chains<'a> {
    energy: &'a dyn Energy,
    code: Option<&'a Tensor>,
    config: &'a SamplerConfig,
    fixed_mask: Option<&'a Tensor>,
    target: Target<'a>,
}

impl Chains<'_> {
    fn start(&self, x0: &Tensor) -> State {
        let x0 = x0.detach().copy();
        match self.config.kind {
            SamplerKind::Ula => State::Ula(x0),
            SamplerKind::Mala => State::Mala(self.target.point(x0)),
            SamplerKind::Hmc => State::Hmc(
                self.target.point(x0),
                Hmc::new(self.config.leapfrog_steps, self.config.momentum_refresh),
            ),
        }
    }

    /// One transition with step λ = `step`; the acceptance probability per chain.
    fn step(&self, state: State, step: f64) -> (State, Tensor) {
        match state {
            State::Ula(x) => {
                let ones = Tensor::ones([x.size()[0]], (Kind::Double, x.device()));
                (State::Ula(self.ula_step(&x, step)), ones)
            }
            State::Mala(point) => {
                let (point, alpha) = mala_step(&self.target, point, step);
                (State::Mala(point), alpha)
            }
            State::Hmc(point, mut hmc) => {
                let (point, alpha) = hmc.step(&self.target, point, step.sqrt());
                (State::Hmc(point, hmc), alpha)
            }
        }
    }

    /// One step of the existing [`langevin`] with λ' = λ/T and σ = √λ.
    fn ula_step(&self, x: &Tensor, step: f64) -> Tensor {
        let config = LangevinConfig {
            step_size: step / self.config.temperature,
            noise_std: step.sqrt(),
            steps: 1,
            grad_clip: self.config.grad_clip,
            clamp: self.config.clamp,
        };
        let options = LangevinOptions {
            fixed_mask: self.fixed_mask,
            ..Default::default()
        };
        langevin(self.energy, x, self.code, &config, &options).x
    }

    /// E per chain at the current state (cached for MALA and HMC).
    fn energy(&self, state: &State) -> Tensor {
        match state {
            State::Ula(x) => self.target.energy_of(x),
            State::Mala(point) | State::Hmc(point, _) => point.energy.shallow_clone(),
        }
    }
}

/// Traces, per-chain energies and frames, as asked.
struct Recorder {
    trace: Vec<f64>,
    chains: Option<Vec<Vec<f64>>>,
    frames: Vec<Tensor>,
    want_trace: bool,
    record_every: Option<usize>,
}

impl Recorder {
    fn new(options: &SampleOptions) -> Self {
        Self {
            trace: Vec::new(),
            chains: options.chain_energies.then(Vec::new),
            frames: Vec::new(),
            want_trace: options.trace,
            record_every: options.record_every,
        }
    }

    fn energies(&mut self, chains: &Chains, state: &State) {
        if !self.want_trace && self.chains.is_none() {
            return;
        }
        let e = chains.energy(state).to_kind(Kind::Double);
        if self.want_trace {
            self.trace.push(e.mean(Kind::Double).double_value(&[]));
        }
        if let Some(rows) = self.chains.as_mut() {
            rows.push(Vec::<f64>::try_from(e.flatten(0, -1)).expect("energies to f64"));
        }
    }

    /// Before step `step`.
    fn record(&mut self, step: usize, chains: &Chains, state: &State) {
        if matches!(self.record_every, Some(every) if step.is_multiple_of(every.max(1))) {
            self.frames.push(state.x().copy());
        }
        self.energies(chains, state);
    }

    /// After the last step.
    fn finish(&mut self, chains: &Chains, state: &State) {
        if self.record_every.is_some() {
            self.frames.push(state.x().copy());
        }
        self.energies(chains, state);
    }
}
