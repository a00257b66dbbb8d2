//! Hamiltonian Monte Carlo with leapfrog integration and optional partial
//! momentum refresh (Horowitz 1991, "generalised HMC").
//!
//! Hamiltonian: H(x, p) = E(x)/T + ½‖p‖² (unit mass). One transition:
//!
//! 1. Momentum: p ← a·p + ρ·ξ with ξ ~ N(0, I), ρ = `momentum_refresh`
//!    and a = √(1 − ρ²), which keeps N(0, I) invariant. ρ = 1 is the usual
//!    full refresh (p ← ξ); smaller ρ keeps part of the previous momentum.
//! 2. L leapfrog steps of size ε: half kick, (drift, kick)×L with the last
//!    kick halved. The integrator is volume-preserving and reversible.
//! 3. Accept (x', p') with probability min(1, exp(H(x, p) − H(x', p'))).
//!    On rejection the momentum is negated (p ← −p), which makes the
//!    partially refreshed chain exact; with full refresh it is redrawn
//!    anyway.
//!
//! Fixed entries get zero momentum and zero gradient, so they never move and
//! add nothing to the kinetic energy. Out-of-box end points are rejected.

use super::target::{per_chain_sum, select, Point, Target};
use crate::energy::Energy;
use tch::{Kind, Tensor};

/// The HMC kernel's own state: the momentum carried between transitions
/// when the refresh is partial.
pub(crate) struct Hmc {
    leapfrog_steps: usize,
    refresh: f64,
    momentum: Option<Tensor>,
}

impl Hmc {
    pub fn new(leapfrog_steps: usize, refresh: f64) -> Self {
        assert!(leapfrog_steps >= 1, "HMC needs at least one leapfrog step");
        assert!(
            refresh > 0.0 && refresh <= 1.0,
            "momentum refresh must lie in (0, 1], got {refresh}"
        );
        Self {
            leapfrog_steps,
            refresh,
            momentum: None,
        }
    }

    /// One transition of every chain with leapfrog step `step`; returns the
    /// new state and the acceptance probability per chain (`[B]`, f64).
    pub fn step(&mut self, target: &Target, current: Point, step: f64) -> (Point, Tensor) {
        let fresh = target.masked(&current.x.randn_like());
        let p0 = match self.momentum.take() {
            Some(p) if self.refresh < 1.0 => p * (1.0 - self.refresh * self.refresh).sqrt() + fresh * self.refresh,
            _ => fresh,
        };
        let (proposal, p1) = leapfrog_points(target, &current, &p0, step, self.leapfrog_steps);
        let log_alpha = total_energy(&current, &p0, target.temperature) - total_energy(&proposal, &p1, target.temperature);
        let (alpha, accepted) = target.decide(log_alpha, &proposal.x);
        if self.refresh < 1.0 {
            self.momentum = Some(select(&accepted, &p1, &(-p0)));
        }
        (current.select(&accepted, proposal), alpha)
    }
}

/// `n` leapfrog steps of size `eps` from (`start`, `p`) on H = E/T + ½‖p‖².
pub(crate) fn leapfrog_points(target: &Target, start: &Point, p: &Tensor, eps: f64, n: usize) -> (Point, Tensor) {
    let kick = eps / target.temperature;
    let mut p = p - &start.grad * (kick / 2.0);
    let mut point = target.point(&start.x + &p * eps);
    for _ in 1..n {
        p -= &point.grad * kick;
        point = target.point(&point.x + &p * eps);
    }
    p -= &point.grad * (kick / 2.0);
    (point, p)
}

/// H(x, p) per chain, in f64.
fn total_energy(point: &Point, p: &Tensor, temperature: f64) -> Tensor {
    point.energy.to_kind(Kind::Double) / temperature + per_chain_sum(&p.square()) / 2.0
}

/// `n_steps` leapfrog steps of size `eps` on H(x, p) = E(x | code)/T + ½‖p‖²
/// from (x, p); returns the end point (x', p'). For checking the integrator
/// (reversibility, energy error) and for custom kernels.
pub fn leapfrog(
    energy: &dyn Energy,
    x: &Tensor,
    p: &Tensor,
    code: Option<&Tensor>,
    eps: f64,
    n_steps: usize,
    temperature: f64,
) -> (Tensor, Tensor) {
    assert!(n_steps >= 1, "leapfrog needs at least one step");
    let target = Target::new(energy, x, code, temperature, None, None);
    let start = target.point(x.detach());
    let (end, p) = leapfrog_points(&target, &start, &p.detach(), eps, n_steps);
    (end.x, p)
}

/// H(x, p) = E(x | code)/T + ½‖p‖² per chain (`[B]`, f64).
pub fn hamiltonian(energy: &dyn Energy, x: &Tensor, p: &Tensor, code: Option<&Tensor>, temperature: f64) -> Tensor {
    let e = tch::no_grad(|| energy.energy(x, code));
    e.to_kind(Kind::Double) / temperature + per_chain_sum(&p.square()) / 2.0
}
