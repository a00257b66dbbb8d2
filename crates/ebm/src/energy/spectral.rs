//! Spectral normalisation: a weight is divided by an estimate of its largest
//! singular value, σ ≈ uᵀ W v, with W flattened to `[out, rest]`.
//!
//! Design: `u` and `v` are persistent buffers saved with the weights, and the
//! power iteration that refines them runs only when asked
//! ([`SpectralNorm::power_iteration`], once per training step), never inside
//! `forward`. So an energy is a pure function of (x, code, parameters): Langevin
//! chains see one fixed function, finite differences in the weights are exact,
//! and a reloaded checkpoint gives bit-identical energies. As in PyTorch's
//! `spectral_norm`, gradients flow through σ with u and v held constant.

use tch::{nn::Path, Tensor};

pub struct SpectralNorm {
    u: Tensor,
    v: Tensor,
}

/// Power iterations run at construction so σ is accurate from the first step.
const INIT_ITERATIONS: usize = 15;

impl SpectralNorm {
    /// Buffers for a weight of shape `[out, ...]`; `weight` seeds the estimate.
    pub fn new(path: &Path, weight: &Tensor) -> Self {
        let out = weight.size()[0];
        let rest = weight.numel() as i64 / out;
        let u = path.zeros_no_train("sn_u", &[out]);
        let v = path.zeros_no_train("sn_v", &[rest]);
        tch::no_grad(|| {
            let mut u0 = u.shallow_clone();
            u0.copy_(&normalise(&Tensor::randn([out], (weight.kind(), weight.device()))));
            let mut v0 = v.shallow_clone();
            v0.copy_(&normalise(&Tensor::randn([rest], (weight.kind(), weight.device()))));
        });
        let sn = Self { u, v };
        for _ in 0..INIT_ITERATIONS {
            sn.power_iteration(weight);
        }
        sn
    }

    /// One power-iteration step on the buffers (no gradient).
    pub fn power_iteration(&self, weight: &Tensor) {
        tch::no_grad(|| {
            let w = weight.reshape([weight.size()[0], -1]);
            let v = normalise(&w.tr().mv(&self.u));
            let u = normalise(&w.mv(&v));
            self.v.shallow_clone().copy_(&v);
            self.u.shallow_clone().copy_(&u);
        });
    }

    /// σ = uᵀ W v (differentiable in W).
    pub fn sigma(&self, weight: &Tensor) -> Tensor {
        let w = weight.reshape([weight.size()[0], -1]);
        self.u.to_kind(weight.kind()).dot(&w.mv(&self.v.to_kind(weight.kind())))
    }

    /// W / σ.
    pub fn apply(&self, weight: &Tensor) -> Tensor {
        weight / self.sigma(weight)
    }
}

fn normalise(t: &Tensor) -> Tensor {
    let norm = t.norm().clamp_min(1e-12);
    t / norm
}
