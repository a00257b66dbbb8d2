//! The density the Metropolis-corrected samplers (MALA, HMC) target, and the
//! per-chain tensor plumbing they share.
//!
//! Target: π(x) ∝ exp(−E(x | code)/T) on the free entries of x, with the
//! entries where `fixed_mask` is 1 held at their starting value, restricted to
//! the box [lo, hi] when a clamp is set. Proposals with a free entry outside
//! the box are rejected (acceptance 0), which keeps the chain exact for the
//! restricted target, where projecting them onto the box would not.

use crate::energy::Energy;
use tch::{Kind, Tensor};

/// A state of the batch of chains with what the samplers need of it, all
/// detached: E(x) per chain (`[B]`) and ∇ₓE(x), zero on fixed entries.
pub(crate) struct Point {
    pub x: Tensor,
    pub energy: Tensor,
    pub grad: Tensor,
}

pub(crate) struct Target<'a> {
    energy: &'a dyn Energy,
    code: Option<Tensor>,
    pub temperature: f64,
    /// True where an entry is free to move, broadcast to the shape of x.
    free: Option<Tensor>,
    clamp: Option<(f64, f64)>,
}

impl<'a> Target<'a> {
    pub fn new(
        energy: &'a dyn Energy,
        x0: &Tensor,
        code: Option<&Tensor>,
        temperature: f64,
        fixed_mask: Option<&Tensor>,
        clamp: Option<(f64, f64)>,
    ) -> Self {
        assert!(temperature > 0.0, "temperature must be positive, got {temperature}");
        let free = fixed_mask.map(|m| m.eq(0.0).expand_as(x0).contiguous());
        Self {
            energy,
            code: code.map(|c| c.detach()),
            temperature,
            free,
            clamp,
        }
    }

    /// E(x) and ∇ₓE(x) at `x` (one forward and one backward pass).
    pub fn point(&self, x: Tensor) -> Point {
        let x_var = x.detach().set_requires_grad(true);
        // with_grad: a caller inside no_grad would otherwise leave no graph.
        let e = tch::with_grad(|| self.energy.energy(&x_var, self.code.as_ref()));
        let grad = tch::with_grad(|| Tensor::run_backward(&[e.sum(e.kind())], &[&x_var], false, false)).remove(0);
        Point {
            x: x_var.detach(),
            energy: e.detach(),
            grad: self.masked(&grad),
        }
    }

    /// E(x) per chain without a gradient.
    pub fn energy_of(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.energy.energy(x, self.code.as_ref()))
    }

    /// `t` with its fixed entries set to zero (a move that leaves them alone).
    pub fn masked(&self, t: &Tensor) -> Tensor {
        match &self.free {
            Some(free) => t.where_scalarother(free, 0.0),
            None => t.shallow_clone(),
        }
    }

    /// Per chain: whether every free entry of `x` lies in the clamp box.
    pub fn in_box(&self, x: &Tensor) -> Tensor {
        let batch = x.size()[0];
        let Some((lo, hi)) = self.clamp else {
            return Tensor::ones([batch], (Kind::Bool, x.device()));
        };
        let mut inside = x.ge(lo).logical_and(&x.le(hi));
        if let Some(free) = &self.free {
            inside = inside.logical_or(&free.logical_not());
        }
        inside.reshape([batch, -1]).all_dim(1, false)
    }

    /// log u per chain, u uniform on (0, 1), from torch's global generator.
    pub fn log_uniform(&self, x: &Tensor) -> Tensor {
        Tensor::rand([x.size()[0]], (Kind::Double, x.device())).log()
    }

    /// Metropolis decision: accepted chains where log u < log α, with
    /// out-of-box proposals and NaN ratios rejected. Returns (α, accepted).
    pub fn decide(&self, log_alpha: Tensor, proposal: &Tensor) -> (Tensor, Tensor) {
        let valid = self.in_box(proposal).logical_and(&log_alpha.isnan().logical_not());
        let log_alpha = log_alpha.where_scalarother(&valid, f64::NEG_INFINITY);
        let accepted = self.log_uniform(proposal).lt_tensor(&log_alpha);
        (log_alpha.clamp_max(0.0).exp(), accepted)
    }
}

/// Σ over every axis but the first, in f64: one value per chain.
pub(crate) fn per_chain_sum(t: &Tensor) -> Tensor {
    let batch = t.size()[0];
    t.reshape([batch, -1]).sum_dim_intlist(1, false, Kind::Double)
}

/// Per chain: `a` where `take` is true, else `b` (`take`: `[B]` bool).
pub(crate) fn select(take: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    let mut shape = vec![a.size()[0]];
    shape.resize(a.dim(), 1);
    a.where_self(&take.reshape(shape.as_slice()), b)
}

impl Point {
    /// Per chain: the accepted `proposal` where `take`, else `self`.
    pub fn select(self, take: &Tensor, proposal: Point) -> Point {
        Point {
            x: select(take, &proposal.x, &self.x),
            energy: proposal.energy.where_self(take, &self.energy),
            grad: select(take, &proposal.grad, &self.grad),
        }
    }
}
