//! Parameter gradients as every trainer takes them: one backward pass, a
//! global norm, and the norm clip.

use tch::{Kind, Tensor};

/// ∂loss/∂θ for each parameter. A parameter the loss does not reach (an
/// unused head) gets an undefined gradient from autograd: read it as zero.
pub fn parameter_gradients(loss: &Tensor, params: &[Tensor]) -> Vec<Tensor> {
    Tensor::run_backward(&[loss], params, false, false)
        .into_iter()
        .zip(params)
        .map(|(g, p)| if g.defined() { g } else { p.zeros_like() })
        .collect()
}

/// The Euclidean norm of all gradients together.
pub fn global_norm(grads: &[Tensor]) -> f64 {
    grads
        .iter()
        .map(|g| g.square().sum(Kind::Double).double_value(&[]))
        .sum::<f64>()
        .sqrt()
}

/// Scales `grads` (whose global norm is `norm`) down to norm `max`, if given and exceeded.
pub fn clip_global_norm(grads: Vec<Tensor>, norm: f64, max: Option<f64>) -> Vec<Tensor> {
    match max {
        Some(max) if norm > max => grads.iter().map(|g| g * (max / norm)).collect(),
        _ => grads,
    }
}
