//! The optional supervised term of `TrainConfig::label_ce_weight`: the
//! cross-entropy of the logits −E(x⁺ | c) over candidate codes.

use super::Trainer;
use tch::{Kind, Tensor};

/// Codes each positive is contrasted against in the cross-entropy term of a
/// continuous concept (its own and this many minus one random ones).
pub const CONTRASTED_CODES: i64 = 8;

/// Spread of the nearby contrasted codes, in code units (codes span [−1, 1];
/// the judge's position tolerance, 0.1 of the image, is 0.33 of them).
pub const PERTURBED_CODE_STD: f64 = 0.15;

impl Trainer<'_> {
    /// Cross-entropy of the logits −E(x⁺ | c) over candidate codes c (see
    /// `TrainConfig::label_ce_weight`), against the positives' own codes.
    pub(super) fn label_cross_entropy(&self, batch: &crate::data::Batch) -> Tensor {
        self.label_terms(batch).0
    }

    /// The cross-entropy and the mean squared energy over every candidate
    /// code. The cross-entropy fixes only differences between codes, so alone
    /// (the supervised warm-up) it drives energies without bound — a warm-up
    /// of 2000 steps left a colour model at E ≈ −300, whose Langevin chains
    /// then blew up the first CD steps; the warm-up adds the second term
    /// under the recipe's `energy_l2`, as CD does.
    pub(super) fn label_terms(&self, batch: &crate::data::Batch) -> (Tensor, Tensor) {
        let Some(code) = &batch.code else {
            let zero = Tensor::zeros([], (Kind::Float, batch.x.device()));
            return (zero.shallow_clone(), zero);
        };
        let (n, dim) = (code.size()[0], code.size()[1]);
        // Categorical: every category. Continuous: the true code first, then
        // CONTRASTED_CODES − 1 others, half drawn uniformly over the code
        // range [−1, 1] and half near the true code (σ = PERTURBED_CODE_STD),
        // so the distinction is taught both coarse and fine.
        let (candidates, target) = if self.categorical_codes {
            let all = Tensor::eye(dim, (Kind::Float, code.device()))
                .unsqueeze(0)
                .expand([n, dim, dim], false);
            (all, code.argmax(-1, false))
        } else {
            let far = (CONTRASTED_CODES - 1) / 2;
            let near = CONTRASTED_CODES - 1 - far;
            let uniform = Tensor::rand([n, far, dim], (Kind::Float, code.device())) * 2.0 - 1.0;
            let nearby =
                (code.unsqueeze(1) + Tensor::randn([n, near, dim], (Kind::Float, code.device())) * PERTURBED_CODE_STD).clamp(-1.0, 1.0);
            let all = Tensor::cat(&[code.unsqueeze(1), uniform, nearby], 1);
            (all, Tensor::zeros([n], (Kind::Int64, code.device())))
        };
        let x = self.adversarial_positives(&batch.x, &candidates, &target);
        let energies = self.network.energies_over_codes(&x, &candidates);
        let squared = energies.square().mean(Kind::Float);
        let logits = -energies / self.config.label_ce_temperature;
        (logits.cross_entropy_for_logits(&target), squared)
    }

    /// The positives, or with `adversarial_eps` > 0 the images within that
    /// L∞ distance (and the image box [0, 1]) that most raise the cross-entropy.
    fn adversarial_positives(&self, x: &Tensor, candidates: &Tensor, target: &Tensor) -> Tensor {
        let ramp = self.config.adversarial_ramp;
        let grown = if self.step < ramp { self.step as f64 / ramp as f64 } else { 1.0 };
        let eps = self.config.adversarial_eps * grown;
        if eps == 0.0 {
            return x.shallow_clone();
        }
        let temperature = self.config.label_ce_temperature;
        let logits = |x: &Tensor| -self.network.energies_over_codes(x, candidates) / temperature;
        super::adversarial::pgd(
            &logits,
            x,
            target,
            super::adversarial::Norm::Linf,
            eps,
            self.config.adversarial_steps,
        )
    }
}
