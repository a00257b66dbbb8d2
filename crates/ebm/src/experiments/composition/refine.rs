//! Refining one model family's samples with models trained over noise
//! levels (SDEdit, Meng et al. 2022): each sample plus noise at σ, annealed
//! down the refiners' composition of the same expression, with the OR
//! branch and marginalised codes its chain drew. The contrastive-divergence
//! models lay a scene out (one object, at the asked place, in the asked
//! colour); the denoising models, which from pure noise often draw no
//! object, redraw its detail: the outline of its shape, a clean floor.

use super::load_shapes_models;
use crate::compose::algebra::Composed;
use crate::compose::marginal::{borrow_marginal_codes, marginalise};
use crate::compose::{ConceptLibrary, ConceptModel};
use anyhow::{bail, Result};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use tch::Tensor;

/// A second set of concept models, trained over noise levels, that refines
/// the first set's samples: the same expression (the same OR branch and
/// marginalised codes per chain) annealed from `sigma` down.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RefineOptions {
    /// A directory with `pos`, `color`, `shape` and `size` denoising models.
    pub models: PathBuf,
    /// The level refinement starts at: what a sample shows above it is kept.
    pub sigma: f64,
    pub annealing: crate::sample::NoiseAnnealing,
}

/// The refining models: four denoising-trained concept models.
pub fn load_refiner(refine: &RefineOptions) -> Result<ConceptLibrary> {
    if !(refine.sigma > 0.0 && refine.sigma.is_finite()) {
        bail!("the refinement's starting level must be a positive σ, got {}", refine.sigma);
    }
    refine
        .annealing
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid refinement annealing: {e}"))?;
    let library = load_shapes_models(&refine.models)?;
    if library.noise_range().is_none() {
        bail!(
            "{}: refining models must be trained over noise levels (`ebm train shapes --objective denoise`)",
            refine.models.display()
        );
    }
    Ok(library)
}

/// The refinement's annealing: 6 levels from the starting σ down, each 5
/// ULA steps on the denoisers' Tweedie scores (σ = 0.1 and 5 steps chosen
/// on validation rows, where 10 and 20 steps did no better; README,
/// "Refining samples").
pub fn refine_annealing() -> crate::sample::NoiseAnnealing {
    crate::sample::NoiseAnnealing {
        levels: 6,
        steps_per_level: 5,
        gradient: crate::energy::LevelGradient::Tweedie,
        ..Default::default()
    }
}

/// `x` (sampled under `chains`: a composition with its OR branches drawn and
/// its omitted concepts marginalised) refined under `refiners`, the same
/// expression over the refining models. The refiners' omitted concepts are
/// drawn from `marginal_rng`, then every one the chains also drew, and the
/// OR branches, are taken from `chains` (`borrow_marginal_codes`).
pub fn refine_samples(
    refiners: Composed,
    partners: &[ConceptModel],
    chains: &Composed,
    marginal_rng: &mut ChaCha8Rng,
    options: &RefineOptions,
    seed: u64,
    x: &Tensor,
) -> Tensor {
    let n = x.size()[0] as usize;
    let energy = borrow_marginal_codes(marginalise(refiners, partners, n, marginal_rng), chains);
    crate::seed::seed_torch(seed, &[crate::seed::streams::REFINE]);
    crate::sample::refine_noise_levels(&energy, x, options.sigma, None, &options.annealing, &Default::default()).x
}
