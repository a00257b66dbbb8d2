//! The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996).
//!
//! With U = E/T and step λ, each chain proposes
//!
//! ```text
//! y = x − (λ/2)·∇U(x) + √λ·ε,   ε ~ N(0, I) on the free entries,
//! ```
//!
//! i.e. q(y | x) = N(y; x − (λ/2)∇U(x), λI), and accepts with probability
//!
//! ```text
//! α = min(1, exp(U(x) − U(y)) · q(x | y) / q(y | x)).
//! ```
//!
//! The proposal is asymmetric, so both densities are evaluated; fixed entries
//! neither move nor enter them (their noise and gradient are zero). A
//! proposal leaving the clamp box is rejected (see [`super::target`]).

use super::target::{per_chain_sum, Point, Target};
use tch::{Kind, Tensor};

/// One MALA transition of every chain; returns the new state and the
/// acceptance probability α per chain (`[B]`, f64).
pub(crate) fn mala_step(target: &Target, current: Point, step: f64) -> (Point, Tensor) {
    let noise = target.masked(&current.x.randn_like());
    let proposal = target.point(proposal_mean(&current, step, target.temperature) + noise * step.sqrt());
    let log_alpha = (current.energy.to_kind(Kind::Double) - proposal.energy.to_kind(Kind::Double)) / target.temperature
        + log_proposal_density(&current, &proposal, step, target.temperature)
        - log_proposal_density(&proposal, &current, step, target.temperature);
    let (alpha, accepted) = target.decide(log_alpha, &proposal.x);
    (current.select(&accepted, proposal), alpha)
}

/// x − (λ/2)·∇E(x)/T.
fn proposal_mean(from: &Point, step: f64, temperature: f64) -> Tensor {
    &from.x - &from.grad * (step / (2.0 * temperature))
}

/// log q(to | from) = −‖to − from + (λ/2)∇U(from)‖²/(2λ) per chain, up to
/// the normalising constant (the same for both directions).
fn log_proposal_density(to: &Point, from: &Point, step: f64, temperature: f64) -> Tensor {
    per_chain_sum(&(&to.x - proposal_mean(from, step, temperature)).square()) / (-2.0 * step)
}
