//! Sampling a row's chains chunk by chunk, optionally as several particles
//! per sample of which the lowest-energy one is kept (`--particles`).

use super::{guide, CompositionOptions, Conditions, Row, ShapesModels};
use crate::compose::algebra::PriorUse;
use crate::compose::marginal::marginalise;
use crate::compose::mixture::{draw_branches, OrSampling};
use crate::energy::Energy;
use crate::experiments::shapes::{sample_images, sample_images_over_noise};
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

/// What sampling one chunk of a row's chains needs.
pub(super) struct ChunkSampler<'a> {
    pub models: &'a ShapesModels<'a>,
    pub options: &'a CompositionOptions,
    pub prior: Option<&'a dyn Energy>,
    pub prior_use: PriorUse,
    pub partners: &'a [crate::compose::ConceptModel<'a>],
    pub sampler: &'a crate::sample::SamplerDefaults,
}

/// A chunk's images with the composed energy each ended at.
pub(super) struct SampledChunk {
    pub x: Tensor,
    pub energy: Tensor,
}

impl SampledChunk {
    /// Per chain, the image of `self` or `other` with the lower energy.
    fn lowest(self, other: SampledChunk) -> SampledChunk {
        let take = other.energy.lt_tensor(&self.energy);
        let mask = take.view([-1, 1, 1, 1]);
        SampledChunk {
            x: other.x.where_self(&mask, &self.x),
            energy: other.energy.where_self(&take, &self.energy),
        }
    }
}

impl ChunkSampler<'_> {
    /// `options.particles` chunks of chains, each chain's sample the
    /// particle that ended lowest, and every particle's acceptance. Every
    /// particle draws the same branches and marginal codes (it runs from
    /// clones of the generators): they differ only in their chains.
    /// Particle 0 uses `seed` itself, so one particle is the plain sampler.
    pub fn lowest_of_particles(
        &self,
        row: Row,
        chunk: &[Conditions],
        (branch_rng, marginal_rng): (&mut ChaCha8Rng, &mut ChaCha8Rng),
        seed: u64,
    ) -> (SampledChunk, Vec<f64>) {
        let (branches, marginals) = (branch_rng.clone(), marginal_rng.clone());
        let mut best: Option<SampledChunk> = None;
        let mut acceptance = Vec::new();
        for particle in 0..self.options.particles.max(1) {
            (*branch_rng, *marginal_rng) = (branches.clone(), marginals.clone());
            let seed = match particle {
                0 => seed,
                p => crate::seed::derive(seed, &[crate::seed::streams::PARTICLE, p as u64]),
            };
            let (sampled, chain_acceptance) = self.sample(row, chunk, (&mut *branch_rng, &mut *marginal_rng), seed);
            acceptance.extend(chain_acceptance);
            best = Some(match best {
                None => sampled,
                Some(best) => best.lowest(sampled),
            });
        }
        (best.expect("at least one particle"), acceptance)
    }

    /// One chain per condition of `chunk` on the row's composed energy (its
    /// OR branches and omitted concepts drawn from the two generators), and
    /// for annealed models the mean acceptance at the smallest noise level.
    fn sample(
        &self,
        row: Row,
        chunk: &[Conditions],
        (branch_rng, marginal_rng): (&mut ChaCha8Rng, &mut ChaCha8Rng),
        seed: u64,
    ) -> (SampledChunk, Option<f64>) {
        let settings = &self.options.settings;
        let plain = self.models.energy(row, chunk, settings.alpha, settings.temperature);
        let energy = guide(plain, self.prior, self.options.guidance, self.prior_use);
        let energy = match self.options.or_sampling {
            OrSampling::Energy => energy,
            OrSampling::Ancestral => draw_branches(energy, chunk.len(), branch_rng).0,
        };
        let energy = marginalise(energy, self.partners, chunk.len(), marginal_rng);
        let (x, acceptance) = if energy.noise_range().is_some() {
            let run = sample_images_over_noise(&energy, None, chunk.len(), &self.options.annealing, seed, None);
            (run.x, Some(run.levels.last().map_or(1.0, |r| r.mean_acceptance)))
        } else {
            (sample_images(&energy, None, chunk.len(), self.sampler, seed, None).x, None)
        };
        let final_energy = tch::no_grad(|| energy.energy(&x, None)).view([-1]);
        (SampledChunk { x, energy: final_energy }, acceptance)
    }
}
