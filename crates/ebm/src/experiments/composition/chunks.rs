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
    pub refiner: Option<Refiner<'a>>,
}

/// Models trained over noise levels that refine another model family's
/// samples (SDEdit): each chain's sample plus noise at `options.sigma`,
/// annealed down the refiners' composition of the same expression, with the
/// chain's own OR branch and marginalised codes ([`ChunkSampler::refined`]).
/// The first family lays the scene out; the refiners, which denoise well
/// but from pure noise often draw no object, redraw its detail.
pub(super) struct Refiner<'a> {
    pub models: &'a ShapesModels<'a>,
    pub partners: &'a [crate::compose::ConceptModel<'a>],
    pub options: &'a super::RefineOptions,
}

/// Which of a sample's particles is kept (`--keep`). The default, ranks,
/// was chosen on validation rows (seed 1, 200 samples, 4 particles; shape
/// alone / size alone / all four jointly): composed 0.750 / 0.960 / 0.465
/// (KID of the four-way row 0.255), named 0.800 / 0.930 / 0.465 (0.255),
/// ranks 0.800 / 0.930 / 0.480 (0.145).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The lowest composed energy: the argmin of exp(−E/T) at the cards' T.
    Composed,
    /// The lowest energy of the expression as written, without the
    /// concepts marginalised into it: those are nuisance values, drawn per
    /// chain, whose energies would otherwise outvote the asked concepts.
    Named,
    /// The lowest sum over the expression's top-level conjuncts of each
    /// one's rank among the particles (ties: the lower named energy). The
    /// models' energies are not calibrated against each other, so a rank
    /// gives every asked concept the same vote whatever its model's scale.
    #[default]
    Ranks,
}

crate::named!(Keep, "particle choice", [Composed => "composed", Named => "named", Ranks => "ranks"]);

impl Keep {
    /// The rule used when none is asked for: ranks for the chains' own
    /// samples, composed when they are refined. Validation (seed 1, 200
    /// samples, 4 particles, refined): size alone 0.995 composed against
    /// 0.875 by ranks, the other rows tied; unrefined, ranks was better.
    pub fn default_for(refined: bool) -> Keep {
        if refined {
            Keep::Composed
        } else {
            Keep::Ranks
        }
    }
}

/// A chunk's images with the composed energy each ended at, and each
/// top-level conjunct's energy without the marginalised concepts (`[B, K]`):
/// one particle per chain, what [`Keep`] chooses among.
pub struct SampledChunk {
    pub x: Tensor,
    pub energy: Tensor,
    conjuncts: Tensor,
}

impl SampledChunk {
    /// Samples `x` scored by the energy they were drawn from (`composed`,
    /// marginalised concepts included) and by the expression as written
    /// (`named`, whose top-level conjuncts the ranks rule compares).
    pub fn scored(x: Tensor, named: &crate::compose::algebra::Composed, composed: &dyn Energy) -> Self {
        let (energy, conjuncts) = tch::no_grad(|| {
            let conjuncts: Vec<Tensor> = named.conjunct_energies(&x).iter().map(|e| e.view([-1])).collect();
            (composed.energy(&x, None).view([-1]), Tensor::stack(&conjuncts, 1))
        });
        Self { x, energy, conjuncts }
    }
}

impl Keep {
    /// Per chain, the index of the particle to keep among `particles`.
    fn choose(self, particles: &[SampledChunk]) -> Tensor {
        let named = stack(particles, &|p| p.conjuncts.sum_dim_intlist(1, false, None));
        let score = match self {
            Keep::Composed => stack(particles, &|p| p.energy.shallow_clone()),
            Keep::Named => named,
            Keep::Ranks => {
                // rank of each particle per chain and conjunct: argsort of argsort over particles.
                let rank = |t: &Tensor| t.argsort(0, false).argsort(0, false).to_kind(tch::Kind::Float);
                let conjuncts = stack(particles, &|p| p.conjuncts.shallow_clone());
                let m = particles.len() as f64;
                rank(&conjuncts).sum_dim_intlist(2, false, None) + rank(&named) * (0.5 / m)
            }
        };
        score.argmin(0, false)
    }

    /// Per chain, the kept particle's image and composed energy.
    pub fn keep(self, particles: Vec<SampledChunk>) -> SampledChunk {
        let index = self.choose(&particles);
        let pick = |t: &Tensor| {
            let mut shape = t.size();
            shape[0] = 1;
            let mut view = vec![1, index.size()[0]];
            view.extend(std::iter::repeat_n(1, shape.len() - 2));
            t.gather(0, &index.view(view.as_slice()).expand(shape.as_slice(), false), false)
                .squeeze_dim(0)
        };
        SampledChunk {
            x: pick(&stack(&particles, &|p| p.x.shallow_clone())),
            energy: pick(&stack(&particles, &|p| p.energy.shallow_clone())),
            conjuncts: pick(&stack(&particles, &|p| p.conjuncts.shallow_clone())),
        }
    }
}

/// Samples from `particles` runs of `draw(seed)` (particle 0 at `seed`, the
/// others at seeds derived from it), per chain the one `keep` chooses by
/// their energies under `named` (the expression as written) and `composed`
/// (what the chains sampled). One particle is `draw(seed)` itself.
pub fn keep_of_particles(
    particles: usize,
    keep: Keep,
    seed: u64,
    (named, composed): (&crate::compose::algebra::Composed, &dyn Energy),
    draw: &mut dyn FnMut(u64) -> anyhow::Result<Tensor>,
) -> anyhow::Result<Tensor> {
    let mut scored = Vec::new();
    for particle in 0..particles.max(1) {
        let seed = match particle {
            0 => seed,
            p => crate::seed::derive(seed, &[crate::seed::streams::PARTICLE, p as u64]),
        };
        let x = draw(seed)?;
        if particles <= 1 {
            return Ok(x);
        }
        scored.push(SampledChunk::scored(x, named, composed));
    }
    Ok(keep.keep(scored).x)
}

/// One tensor per particle, stacked along a new first dimension.
fn stack(particles: &[SampledChunk], f: &dyn Fn(&SampledChunk) -> Tensor) -> Tensor {
    Tensor::stack(&particles.iter().map(f).collect::<Vec<_>>(), 0)
}

impl ChunkSampler<'_> {
    /// `options.particles` chunks of chains, each chain's sample the
    /// particle chosen by `options.keep`, and every particle's acceptance.
    /// Every particle draws the same branches and marginal codes (it runs
    /// from clones of the generators): they differ only in their chains.
    /// Particle 0 uses `seed` itself, so one particle is the plain sampler.
    pub fn chosen_of_particles(
        &self,
        row: Row,
        chunk: &[Conditions],
        (branch_rng, marginal_rng): (&mut ChaCha8Rng, &mut ChaCha8Rng),
        seed: u64,
    ) -> (SampledChunk, Vec<f64>) {
        let (branches, marginals) = (branch_rng.clone(), marginal_rng.clone());
        let mut particles = Vec::new();
        let mut acceptance = Vec::new();
        for particle in 0..self.options.particles.max(1) {
            (*branch_rng, *marginal_rng) = (branches.clone(), marginals.clone());
            let seed = match particle {
                0 => seed,
                p => crate::seed::derive(seed, &[crate::seed::streams::PARTICLE, p as u64]),
            };
            let (sampled, chain_acceptance) = self.sample(row, chunk, (&mut *branch_rng, &mut *marginal_rng), seed);
            acceptance.extend(chain_acceptance);
            particles.push(sampled);
        }
        (self.options.keep.keep(particles), acceptance)
    }

    /// `x` refined by `self.refiner` (if any) under its composition of
    /// `row`, with the OR branches and marginalised codes the chains drew
    /// (the generators as they were before the chunk) and the refiners'
    /// own omitted concepts drawn after them.
    pub fn refined(
        &self,
        row: Row,
        chunk: &[Conditions],
        (mut branch_rng, mut marginal_rng): (ChaCha8Rng, ChaCha8Rng),
        seed: u64,
        x: Tensor,
    ) -> Tensor {
        let Some(refiner) = &self.refiner else { return x };
        let chains = self.expression(row, chunk, &mut branch_rng.clone());
        let chains = marginalise(chains, self.partners, chunk.len(), &mut marginal_rng.clone());
        let settings = &self.options.settings;
        let plain = refiner.models.energy(row, chunk, settings.alpha, settings.temperature);
        let refiners = match self.options.or_sampling {
            OrSampling::Energy => plain,
            OrSampling::Ancestral => draw_branches(plain, chunk.len(), &mut branch_rng).0,
        };
        super::refine_samples(refiners, refiner.partners, &chains, &mut marginal_rng, refiner.options, seed, &x)
    }

    /// The row's energy as written, its top-level OR's branch drawn per chain.
    fn expression(&self, row: Row, chunk: &[Conditions], branch_rng: &mut ChaCha8Rng) -> crate::compose::algebra::Composed<'_> {
        let settings = &self.options.settings;
        let plain = self.models.energy(row, chunk, settings.alpha, settings.temperature);
        let energy = guide(plain, self.prior, self.options.guidance, self.prior_use);
        match self.options.or_sampling {
            OrSampling::Energy => energy,
            OrSampling::Ancestral => draw_branches(energy, chunk.len(), branch_rng).0,
        }
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
        let named = self.expression(row, chunk, &mut branch_rng.clone());
        let energy = self.expression(row, chunk, branch_rng);
        let energy = marginalise(energy, self.partners, chunk.len(), marginal_rng);
        let (x, acceptance) = if energy.noise_range().is_some() {
            let run = sample_images_over_noise(&energy, None, chunk.len(), &self.options.annealing, seed, None);
            (run.x, Some(run.levels.last().map_or(1.0, |r| r.mean_acceptance)))
        } else {
            (sample_images(&energy, None, chunk.len(), self.sampler, seed, None).x, None)
        };
        (SampledChunk::scored(x, &named, &energy), acceptance)
    }
}

#[cfg(test)]
mod tests {
    use super::{Keep, SampledChunk};
    use tch::Tensor;

    /// Three particles of two chains; chain 1 is chain 0 with the particles'
    /// conjuncts in reverse order. Each rule keeps another particle.
    fn particles() -> Vec<SampledChunk> {
        let conjuncts = [[1.0f32, 1.0, 1.0], [2.0, 0.0, 0.0], [-100.0, 5.0, 5.0]];
        let composed = [[0.0f32, 2.0], [1.0, 1.0], [2.0, 0.0]];
        (0..3)
            .map(|p| SampledChunk {
                x: Tensor::full([2, 1, 2, 2], p as f64, (tch::Kind::Float, tch::Device::Cpu)),
                energy: Tensor::from_slice(&composed[p]),
                conjuncts: Tensor::from_slice2(&[conjuncts[p], conjuncts[2 - p]]),
            })
            .collect()
    }

    fn kept(keep: Keep) -> Vec<f64> {
        let chosen = keep.keep(particles());
        let energy = Vec::<f64>::try_from(chosen.energy.to_kind(tch::Kind::Double)).unwrap();
        let x = Vec::<f64>::try_from(chosen.x.mean_dim([1i64, 2, 3].as_slice(), false, tch::Kind::Double)).unwrap();
        // The kept image and energy come from the same particle.
        let composed = [[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]];
        for (chain, &p) in x.iter().enumerate() {
            assert_eq!(energy[chain], composed[p as usize][chain]);
        }
        x
    }

    #[test]
    fn each_rule_keeps_its_particle_per_chain() {
        // composed: lowest composed energy (chain 0: particle 0; chain 1: particle 2).
        assert_eq!(kept(Keep::Composed), [0.0, 2.0]);
        // named: lowest sum of the conjuncts (−90 for particle 2 in chain 0, particle 0 in chain 1).
        assert_eq!(kept(Keep::Named), [2.0, 0.0]);
        // ranks: particle 1 ranks 2, 0, 0 (sum 2) against 3 and 4 in both chains.
        assert_eq!(kept(Keep::Ranks), [1.0, 1.0]);
    }
}
