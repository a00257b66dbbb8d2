//! Projected-gradient attacks on a classifier's cross-entropy: the attack of
//! the robustness experiment (`experiments::igebm::robustness`), and the
//! inner maximisation of adversarial training of a concept's code term
//! (`TrainConfig::adversarial_eps`).

use serde::Serialize;
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Norm {
    Linf,
    L2,
}

impl Norm {
    pub fn name(self) -> &'static str {
        match self {
            Norm::Linf => "L∞",
            Norm::L2 => "L2",
        }
    }
}

/// A classifier as a differentiable map from images to logits `[B, K]`.
pub type Logits<'a> = dyn Fn(&Tensor) -> Tensor + 'a;

/// Projected gradient ascent on the cross-entropy within the `norm` ball of
/// radius `eps` around `x` (and within [0, 1], the image box); `steps` steps of size
/// 2.5·eps/steps, from the centre.
pub fn pgd(logits: &Logits, x: &Tensor, y: &Tensor, norm: Norm, eps: f64, steps: usize) -> Tensor {
    if eps <= 0.0 || steps == 0 {
        return x.detach();
    }
    let step = 2.5 * eps / steps as f64;
    let mut adv = x.detach();
    for _ in 0..steps {
        let var = adv.set_requires_grad(true);
        let loss = logits(&var).cross_entropy_for_logits(y);
        let grad = Tensor::run_backward(&[loss], &[&var], false, false).remove(0);
        adv = tch::no_grad(|| {
            let moved = match norm {
                Norm::Linf => var.detach() + grad.sign() * step,
                Norm::L2 => var.detach() + &grad / per_image_l2(&grad).clamp_min(1e-12) * step,
            };
            let delta = &moved - x;
            let delta = match norm {
                Norm::Linf => delta.clamp(-eps, eps),
                Norm::L2 => {
                    let scale = (per_image_l2(&delta) / eps).clamp_min(1.0);
                    &delta / scale
                }
            };
            (x + delta).clamp(0.0, 1.0)
        });
    }
    adv
}

/// L2 norm of each image, shaped `[B, 1, 1, 1]` to broadcast.
fn per_image_l2(t: &Tensor) -> Tensor {
    t.flatten(1, -1)
        .norm_scalaropt_dim(2.0, [1i64].as_slice(), false)
        .view([-1, 1, 1, 1])
}
