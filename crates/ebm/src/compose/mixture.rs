//! Ancestral sampling of an OR. At T = 1, OR is a mixture:
//! exp(−E) = Σₖ exp(−Eₖ) = Σₖ Zₖ·pₖ(x), so a chain can first draw its branch
//! k (with probability Zₖ/ΣZ) and then sample pₖ alone — exact, where
//! Langevin on the soft-min from a common start commits every chain to
//! whichever branch is lower there (the pos₁ ∨ pos₂ row put 100 % of its
//! samples in one branch). Zₖ of energies trained by CD is unknown, so the
//! branches are drawn with equal probability: right when the branches are
//! one model under codes of equal normaliser (a position model's two
//! places), an assumption otherwise.

use super::algebra::Composed;
use rand::Rng;
use tch::Tensor;

/// How a sampler treats a top-level OR. The default is ancestral: on the
/// shapes models, `pos₁ ∨ pos₂` split 0 / 100 % by energy and 49.8 / 50.2 %
/// ancestrally, with 0.99 / 0.98 of each branch correct (500 samples).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrSampling {
    /// Langevin on −T·logsumexp(−Eₖ/T), the compositional paper's way.
    Energy,
    /// Each chain draws one branch (equal probabilities) and samples it.
    #[default]
    Ancestral,
}

crate::named!(OrSampling, "OR sampling", [Energy => "energy", Ancestral => "ancestral"]);

/// `composed` with a top-level OR replaced by one branch per sample, drawn
/// uniformly from `rng` for a batch of `n`; anything else unchanged. The
/// branch each sample drew is returned beside it (None without an OR).
pub fn draw_branches<'a>(composed: Composed<'a>, n: usize, rng: &mut impl Rng) -> (Composed<'a>, Option<Vec<usize>>) {
    match composed {
        Composed::Or { terms, .. } => {
            let branches: Vec<usize> = (0..n).map(|_| rng.random_range(0..terms.len())).collect();
            let index: Vec<i64> = branches.iter().map(|&b| b as i64).collect();
            let select = Composed::Select {
                terms,
                branch: Tensor::from_slice(&index),
            };
            (select, Some(branches))
        }
        other => (other, None),
    }
}
