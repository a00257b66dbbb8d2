//! `ebm experiment composition`: Table 1 of the compositional paper on
//! `shapes`. Concept models trained alone are composed per row, sampled from
//! noise, and judged by the shapes judge; the report puts our numbers beside
//! the paper's.

mod chunks;
pub mod realism;
pub mod refine;
pub mod report;
pub mod resume;
pub mod rows;
pub mod truth;

use crate::compose::algebra::PriorUse;
use crate::compose::ConceptLibrary;
use crate::compose::Settings;
use crate::data::shapes_concept::ShapesConcept;
use crate::energy::Energy;
use crate::experiments::shapes::{write_grid, SHOWCASE_STEPS};
use crate::judge::network::Judge;
use crate::sample::LangevinOverrides;
use anyhow::{bail, Result};
pub use chunks::{keep_of_particles, Keep, SampledChunk};
pub use refine::{load_refiner, refine_samples, RefineOptions};
pub use rows::{near, score_row, Conditions, Row, ShapesModels};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

pub struct CompositionOptions {
    pub models: PathBuf,
    pub judge: PathBuf,
    pub out: PathBuf,
    pub samples: usize,
    pub rows: Vec<Row>,
    pub langevin: LangevinOverrides,
    pub settings: Settings,
    pub seed: u64,
    /// How models trained over noise levels are sampled (the Langevin
    /// settings apply to the others).
    pub annealing: crate::sample::NoiseAnnealing,
    /// Take every conjunction relative to this unconditional model
    /// (product of experts) instead of the plain sum.
    pub prior: Option<PathBuf>,
    /// Guidance weight w. With `prior`: AND = E_u + w·Σ(Eᵢ − E_u)
    /// ([`crate::compose::algebra::guided`]; None is w = 1, the product of
    /// experts). Without: each member against its own null code
    /// ([`crate::compose::algebra::null_guided`]). None without a prior: plain sums.
    pub guidance: Option<f64>,
    /// How an OR row is sampled (`compose::mixture`): Langevin on the
    /// soft-min (the paper's) or one branch drawn per chain.
    pub or_sampling: crate::compose::mixture::OrSampling,
    /// How `prior` enters: relative to every conjunction, or as a base.
    pub prior_use: PriorUse,
    /// Which models complete a row that omits their concept (`compose::marginal`).
    pub marginalise: crate::compose::marginal::Marginalise,
    /// Chains per sample; the one `keep` chooses is kept (1: every chain
    /// is a sample).
    pub particles: usize,
    /// Which particle is kept.
    pub keep: Keep,
    /// Refine every kept sample with models trained over noise levels
    /// (SDEdit; `chunks::Refiner`).
    pub refine: Option<RefineOptions>,
    /// Keep the rows an earlier run of the same settings finished in `out`
    /// (`resume::finished_rows`) and run only the others.
    pub resume: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowResult {
    pub key: String,
    pub formula: String,
    pub samples: usize,
    pub metrics: BTreeMap<String, f64>,
    pub seconds: f64,
    pub picture: String,
}

/// Name of the optional unconditional model beside the concept models.
pub const PRIOR_FILE: &str = "prior.safetensors";

/// Name of the optional unconditional model trained together with the
/// concept models in one product (`ebm train shapes --product … --prior`),
/// added once to every expression ([`PriorUse::Base`]).
pub const BASE_FILE: &str = "base.safetensors";

/// The unconditional model file in a models directory, and how it enters:
/// a base (`base.safetensors`) or a prior (`prior.safetensors`).
pub fn unconditional_beside(dir: &Path) -> Option<(PathBuf, PriorUse)> {
    [(BASE_FILE, PriorUse::Base), (PRIOR_FILE, PriorUse::Relative)]
        .into_iter()
        .map(|(file, prior_use)| (dir.join(file), prior_use))
        .find(|(path, _)| path.exists())
}

/// The unconditional model a product-of-experts conjunction is taken
/// relative to (see [`crate::compose::algebra::relative_to_prior`]); it must
/// have no concept and the concept models' inputs.
pub fn load_prior(path: &Path, input_shape: &[i64]) -> Result<crate::checkpoint::LoadedModel> {
    let prior = crate::checkpoint::load_checkpoint(path)?;
    if let Some(concept) = &prior.card.concept {
        bail!(
            "{} is conditioned on '{}'; a prior is an unconditional model (`ebm train shapes --prior`)",
            path.display(),
            concept.name
        );
    }
    let shape = prior.card.architecture.input_shape();
    if shape != input_shape {
        bail!("{} takes inputs {shape:?}, the concept models {input_shape:?}", path.display());
    }
    Ok(prior)
}

/// Loads `pos`, `color`, `shape` and `size` checkpoints from `dir`.
pub fn load_shapes_models(dir: &Path) -> Result<ConceptLibrary> {
    let specs: Vec<String> = ShapesConcept::ALL
        .iter()
        .map(|c| format!("{}={}", c.name(), dir.join(format!("{}.safetensors", c.name())).display()))
        .collect();
    for concept in ShapesConcept::ALL {
        let path = dir.join(format!("{}.safetensors", concept.name()));
        if !path.exists() {
            bail!(
                "{} is missing; train it with `ebm train shapes --concept {} --out DIR` and copy DIR/model.safetensors there",
                path.display(),
                concept.name()
            );
        }
    }
    ConceptLibrary::load(&specs)
}

/// The library's four models by concept.
pub fn shapes_models(library: &ConceptLibrary) -> ShapesModels<'_> {
    let get = |name: &str| -> &dyn Energy {
        library
            .concepts
            .iter()
            .find(|c| c.name == name)
            .expect("load_shapes_models loads all four")
            .model
            .network
            .as_ref()
    };
    ShapesModels {
        pos: get("pos"),
        color: get("color"),
        shape: get("shape"),
        size: get("size"),
    }
}

/// What the judge sees in each image.
pub struct Judged {
    pub pos: Vec<(f64, f64)>,
    pub size: Vec<f64>,
    pub shape: Vec<usize>,
    pub colour: Vec<usize>,
}

pub fn judge_images(judge: &Judge, images: &Tensor) -> Result<Judged> {
    let index = |name: &str| {
        judge
            .head_index(name)
            .ok_or_else(|| anyhow::anyhow!("the judge has no '{name}' head; use judges/shapes.safetensors"))
    };
    let (p, r, s, c) = (index("position")?, index("size")?, index("shape")?, index("color")?);
    let outputs = tch::no_grad(|| judge.forward(images));
    let values = |t: &Tensor| Vec::<f64>::try_from(t.to_kind(Kind::Double).contiguous().view([-1])).expect("a CPU tensor");
    let classes = |t: &Tensor| {
        Vec::<i64>::try_from(t.argmax(-1, false))
            .expect("a CPU tensor")
            .into_iter()
            .map(|k| k as usize)
            .collect()
    };
    let pos = values(&outputs[p]);
    Ok(Judged {
        pos: pos.chunks(2).map(|xy| (xy[0], xy[1])).collect(),
        size: values(&outputs[r]),
        shape: classes(&outputs[s]),
        colour: classes(&outputs[c]),
    })
}

/// Spec §1: a position is correct within 0.1, a size within 0.03.
pub const POSITION_TOLERANCE: f64 = 0.1;
pub const SIZE_TOLERANCE: f64 = 0.03;

/// Runs every requested row and writes the report.
pub fn run(options: &CompositionOptions, progress: &dyn crate::progress::Progress) -> Result<Vec<RowResult>> {
    let library = load_shapes_models(&options.models)?;
    let models = shapes_models(&library);
    let partners = library.marginal_partners(options.marginalise);
    // An explicit --prior, else a base or prior file beside the models (as the demo does).
    let unconditional = match &options.prior {
        Some(path) => Some((path.clone(), options.prior_use)),
        None => unconditional_beside(&options.models),
    };
    let prior_use = unconditional.as_ref().map_or(PriorUse::Relative, |(_, u)| *u);
    let prior = match &unconditional {
        Some((path, _)) => Some(load_prior(path, &library.input_shape())?),
        None => None,
    };
    let (judge, _) = Judge::load(&options.judge)?;
    options.settings.validate()?;
    if let Some(w) = options.guidance {
        crate::compose::algebra::check_guidance(w).map_err(anyhow::Error::msg)?;
        if prior.is_none() {
            // Only the concepts the rows name need a null code.
            let used: Vec<&str> = ShapesConcept::ALL
                .iter()
                .filter(|c| options.rows.iter().any(|r| r.concepts().contains(c)))
                .map(|c| c.name())
                .collect();
            library.check_null_codes(Some(&used))?;
        }
    }
    let refine_library = match &options.refine {
        Some(refine) => Some(load_refiner(refine)?),
        None => None,
    };
    let refine_models = refine_library.as_ref().map(shapes_models);
    let refine_partners = refine_library
        .as_ref()
        .map(|l| l.marginal_partners(options.marginalise))
        .unwrap_or_default();
    let refiner = match (&options.refine, &refine_models) {
        (Some(refine), Some(models)) => Some(chunks::Refiner {
            models,
            partners: &refine_partners,
            options: refine,
        }),
        _ => None,
    };
    let mut sampler = library.sampler();
    sampler.langevin = options.langevin.apply(sampler.langevin, SHOWCASE_STEPS);
    let chunk_sampler = chunks::ChunkSampler {
        models: &models,
        options,
        prior: prior.as_ref().map(|p| p.network.as_ref() as &dyn Energy),
        prior_use,
        partners: &partners,
        sampler: &sampler,
        refiner,
    };
    std::fs::create_dir_all(&options.out).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", options.out.display()))?;
    let marginalised: Vec<String> = partners.iter().map(|p| p.schema.name.clone()).collect();
    let over_noise = library.noise_range().is_some();
    let mut results = match options.resume {
        true => {
            let settings = report::settings(options, unconditional.as_ref(), &sampler, over_noise, &marginalised);
            resume::finished_rows(&options.out, &settings, &options.rows)?
        }
        false => Vec::new(),
    };
    let bar = progress.begin("samples", (options.rows.len() * options.samples) as u64);
    bar.advance((results.len() * options.samples) as u64);
    for &row in &options.rows {
        if results.iter().any(|r| r.key == row.key()) {
            continue;
        }
        results.push(run_row(&chunk_sampler, &judge, row, &*bar)?);
        resume::in_row_order(&mut results, &options.rows);
        // After every row, so that an interrupted run resumes from it.
        report::write(options, unconditional.as_ref(), &sampler, &results, over_noise, &marginalised)?;
    }
    drop(bar);
    report::write(options, unconditional.as_ref(), &sampler, &results, over_noise, &marginalised)?;
    Ok(results)
}

/// One row: its conditions drawn, sampled chunk by chunk, judged, scored,
/// and its grid written.
fn run_row(chunk_sampler: &chunks::ChunkSampler, judge: &Judge, row: Row, bar: &dyn crate::progress::Task) -> Result<RowResult> {
    let options = chunk_sampler.options;
    let r = resume::row_index(row);
    let started = std::time::Instant::now();
    let mut rng = crate::seed::rng_at(options.seed, &[crate::seed::streams::ROW, r]);
    let conditions: Vec<Conditions> = (0..options.samples).map(|_| Conditions::draw(&mut rng, row)).collect();
    let mut branch_rng = crate::seed::rng_at(options.seed, &[crate::seed::streams::ROW, r, crate::seed::streams::BRANCH]);
    let mut marginal_rng = crate::seed::rng_at(options.seed, &[crate::seed::streams::ROW, r, crate::seed::streams::MARGINAL]);
    let (mut images, mut final_energies) = (Vec::new(), Vec::new());
    let mut acceptance = Vec::new();
    for (c, chunk) in conditions.chunks(CHUNK).enumerate() {
        let seed = crate::seed::derive(options.seed, &[crate::seed::streams::ROW, r, crate::seed::streams::CHUNK, c as u64]);
        // The refiner draws the same branches and marginal codes.
        let (branches, marginals) = (branch_rng.clone(), marginal_rng.clone());
        let (best, chain_acceptance) = chunk_sampler.chosen_of_particles(row, chunk, (&mut branch_rng, &mut marginal_rng), seed);
        acceptance.extend(chain_acceptance);
        final_energies.push(best.energy);
        images.push(chunk_sampler.refined(row, chunk, (branches, marginals), seed, best.x));
        bar.advance(chunk.len() as u64);
    }
    let images = Tensor::cat(&images, 0);
    let judged = judge_images(judge, &images)?;
    let mut metrics = score_row(row, &conditions, &judged);
    let (kid, kid_floor) = realism::realism(judge, row, &conditions, &images, options.seed);
    metrics.insert("kid".into(), kid);
    metrics.insert("kid_real_vs_real".into(), kid_floor);
    // The composed energy the kept chains ended at.
    metrics.insert(
        "final_energy".into(),
        Tensor::cat(&final_energies, 0).mean(Kind::Double).double_value(&[]),
    );
    if !acceptance.is_empty() {
        metrics.insert("acceptance".into(), acceptance.iter().sum::<f64>() / acceptance.len() as f64);
    }
    let picture = format!("{}.png", row.key());
    let shown = 32.min(options.samples);
    let captions: Vec<String> = conditions[..shown].iter().map(|c| c.caption(row)).collect();
    write_grid(
        &options.out.join(&picture),
        &images.narrow(0, 0, shown as i64),
        8,
        &captions,
        row.formula(),
    )?;
    Ok(RowResult {
        key: row.key(),
        formula: row.formula().into(),
        samples: options.samples,
        metrics,
        seconds: started.elapsed().as_secs_f64(),
        picture,
    })
}

/// The composition as sampled: over `prior` as a base, or relative to it
/// (guided by w, default 1), else null-code guided by w, else as written.
pub fn guide<'a>(
    composed: crate::compose::algebra::Composed<'a>,
    prior: Option<&'a dyn Energy>,
    guidance: Option<f64>,
    prior_use: PriorUse,
) -> crate::compose::algebra::Composed<'a> {
    use crate::compose::algebra::{guided, null_guided, over_base, relative_to_prior};
    match (prior, guidance) {
        (Some(prior), _) if prior_use == PriorUse::Base => over_base(composed, prior),
        (Some(prior), w) => relative_to_prior(guided(composed, w.unwrap_or(1.0)), prior),
        (None, Some(w)) => null_guided(composed, w),
        (None, None) => composed,
    }
}

/// Chains sampled at once (memory stays small; codes are per sample).
const CHUNK: usize = 250;
