//! Step-size adaptation by dual averaging (Hoffman & Gelman 2014, *The
//! No-U-Turn Sampler*, §3.2 and Algorithm 5; Nesterov 2009).
//!
//! The adapted quantity is a length scale ε: the leapfrog step for HMC and
//! √λ for MALA, i.e. the size of one position move (the sampler squares it
//! back into λ). After iteration t with acceptance statistic αₜ:
//!
//! ```text
//! H̄ₜ = (1 − 1/(t + t₀))·H̄ₜ₋₁ + (δ − αₜ)/(t + t₀)
//! log εₜ = μ − (√t/γ)·H̄ₜ            μ = log(10·ε₀)
//! log ε̄ₜ = t^(−κ)·log εₜ + (1 − t^(−κ))·log ε̄ₜ₋₁
//! ```
//!
//! with the paper's constants γ = 0.05, t₀ = 10, κ = 0.75. εₜ is used during
//! warm-up; the averaged ε̄ is the step to freeze afterwards, so that the
//! chain after warm-up is one fixed, valid Metropolis–Hastings kernel.

/// Dual-averaging state for one step size.
#[derive(Clone, Debug, PartialEq)]
pub struct DualAveraging {
    target: f64,
    mu: f64,
    iteration: f64,
    h_bar: f64,
    log_step_bar: f64,
}

const GAMMA: f64 = 0.05;
const T0: f64 = 10.0;
const KAPPA: f64 = 0.75;

impl DualAveraging {
    /// Starts from step `initial` towards mean acceptance `target` ∈ (0, 1).
    pub fn new(initial: f64, target: f64) -> Self {
        assert!(initial > 0.0, "initial step must be positive, got {initial}");
        assert!(target > 0.0 && target < 1.0, "target acceptance must lie in (0, 1), got {target}");
        Self {
            target,
            mu: (10.0 * initial).ln(),
            iteration: 0.0,
            h_bar: 0.0,
            log_step_bar: initial.ln(),
        }
    }

    /// Feeds the acceptance statistic of one iteration; returns the step to
    /// use for the next one.
    pub fn update(&mut self, acceptance: f64) -> f64 {
        // A NaN statistic (every proposal produced NaN energies) counts as
        // a rejection, which shrinks the step.
        let acceptance = if acceptance.is_nan() { 0.0 } else { acceptance.clamp(0.0, 1.0) };
        self.iteration += 1.0;
        let t = self.iteration;
        let eta = 1.0 / (t + T0);
        self.h_bar = (1.0 - eta) * self.h_bar + eta * (self.target - acceptance);
        let log_step = self.mu - t.sqrt() / GAMMA * self.h_bar;
        let weight = t.powf(-KAPPA);
        self.log_step_bar = weight * log_step + (1.0 - weight) * self.log_step_bar;
        log_step.exp()
    }

    /// The averaged step ε̄, to freeze after warm-up.
    pub fn final_step(&self) -> f64 {
        self.log_step_bar.exp()
    }
}
