//! Denoising objectives: energies E_σ(x | c) trained over a range of noise
//! levels σ with no sampling chain and no replay buffer (REFERENCE §5).
//!
//! - `dsm`: denoising score matching, ‖σ∇ₓE_σ(x + σε | c) − ε‖² — one
//!   forward pass, one input gradient kept in the graph, one weight gradient
//!   (second order). Works for any energy that reads σ.
//! - `denoise`: for a [`DenoiserEnergy`], the same loss with the score read
//!   off the denoiser, −(x̃ − D(x̃))/σ² (Tweedie's formula), i.e. ‖x − D(x̃)‖²/σ²:
//!   first order, about a third of the cost. It drops the term of ∇ₓE that
//!   goes through D's Jacobian, so it fits the energy's gradient only where D
//!   is the best denoiser.
//!
//! Both weight a level's loss by σ^`sigma_power` (0 is the plain DSM loss,
//! Song & Ermon's λ(σ) = σ²). A bottleneck denoiser cannot reproduce a scene
//! to 0.01, so with 0 the smallest levels dominate the loss; 1 (the default)
//! spreads it over the levels.

use crate::energy::{DenoiserEnergy, Energy};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Contrastive divergence with Langevin negatives (IGEBM).
    #[default]
    Cd,
    /// Denoising score matching on ∇ₓE (second order).
    Dsm,
    /// Denoising through the denoiser of a [`DenoiserEnergy`] (first order).
    Denoise,
}

crate::named!(Objective, "objective", [Cd => "cd", Dsm => "dsm", Denoise => "denoise"]);

/// Default σ weighting power (see the module documentation).
pub const DEFAULT_SIGMA_POWER: f64 = 1.0;

/// `n` noise levels drawn log-uniformly in [lo, hi].
pub fn draw_noise_levels(n: i64, (lo, hi): (f64, f64), kind: Kind, device: tch::Device) -> Tensor {
    let u = Tensor::rand([n], (kind, device));
    (u * (hi / lo).ln() + lo.ln()).exp()
}

/// Per-element loss weights σ^power / D (D: entries per example), so the loss
/// reads as a per-entry mean whatever the image size.
fn level_weights(sigma: &Tensor, power: f64, entries: i64) -> Tensor {
    sigma.pow_tensor_scalar(power) / entries as f64
}

fn entries(x: &Tensor) -> i64 {
    x.size()[1..].iter().product()
}

fn per_example_sum(t: &Tensor) -> Tensor {
    let dims: Vec<i64> = (1..t.dim() as i64).collect();
    t.sum_dim_intlist(dims.as_slice(), false, t.kind())
}

fn broadcast(sigma: &Tensor, x: &Tensor) -> Tensor {
    let mut shape = vec![x.size()[0]];
    shape.resize(x.dim(), 1);
    sigma.view(shape.as_slice())
}

/// ‖σ∇ₓE_σ(x + σε | c) − ε‖², weighted and averaged over the batch; the
/// graph is kept so the weights' gradient can be taken (second order).
pub fn dsm_loss(energy: &dyn Energy, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor, sigma_power: f64) -> Tensor {
    let eps = x.randn_like();
    let noisy = (x + &eps * broadcast(sigma, x)).detach().set_requires_grad(true);
    let e = energy.energy_at_noise(&noisy, code, sigma);
    let grad = Tensor::run_backward(&[e.sum(e.kind())], &[&noisy], true, true).remove(0);
    let residual = grad * broadcast(sigma, x) - eps;
    (per_example_sum(&residual.square()) * level_weights(sigma, sigma_power, entries(x))).mean(x.kind())
}

/// ‖x − D(x + σε)‖²/σ², weighted and averaged over the batch (first order).
pub fn denoising_loss(denoiser: &DenoiserEnergy, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor, sigma_power: f64) -> Tensor {
    product_denoising_loss(&[(denoiser, code)], x, sigma, sigma_power)
}

/// The denoising loss of a product of denoisers, each under its own code,
/// trained as one: their mean (1/K)Σₖ Dₖ(x̃) is the joint denoiser. Its
/// Tweedie score is the mean of theirs, the score of Πₖ pₖ(x̃ | cₖ)^(1/K),
/// so members scaled by 1/K (`DenoiserConfig::energy_scale`) sum to the
/// trained model of the scene given all its labels (product of experts by
/// denoising, issue #14). Not the plain sum x̃ + Σₖ(Dₖ − x̃): a bottleneck
/// denoiser cannot output its input's noise, so each residual Dₖ − x̃
/// carries all of it and the sum K times (measured: error ≈ (K − 1)σ after
/// 4000 steps). One member is exactly [`denoising_loss`].
pub fn product_denoising_loss(members: &[(&DenoiserEnergy, Option<&Tensor>)], x: &Tensor, sigma: &Tensor, sigma_power: f64) -> Tensor {
    let noisy = x + x.randn_like() * broadcast(sigma, x);
    let denoised = |(d, code): &(&DenoiserEnergy, Option<&Tensor>)| d.denoise(&noisy, *code, sigma).to_kind(x.kind());
    let joint = match members {
        [only] => denoised(only),
        _ => members.iter().map(denoised).fold(x.zeros_like(), |sum, d| sum + d) / members.len() as f64,
    };
    let error = (joint - x) / broadcast(sigma, x);
    (per_example_sum(&error.square()) * level_weights(sigma, sigma_power, entries(x))).mean(x.kind())
}
