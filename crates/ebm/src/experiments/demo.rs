//! The main job (`ebm demo`): concept models trained separately on `shapes`
//! (position, colour, shape, size) are composed by expressions, sampled, and
//! judged; writes `compositions.png` and `report.md` to its output directory.

use crate::compose::{compose, parse, Settings};
use crate::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use crate::energy::Energy;
use crate::experiments::composition::truth::satisfaction;
use crate::experiments::composition::{judge_images, load_refiner, load_shapes_models, refine_samples};
use crate::experiments::shapes::{concept_architecture, concept_config, sample_images, DEFAULT_WIDTHS, IMAGE_SIZE};
use crate::judge::network::Judge;
use crate::train::Trainer;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the demo is given.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Concept checkpoints (pos, color, shape, size .safetensors); trained
    /// into OUT/models when missing.
    pub models: PathBuf,
    pub judge: PathBuf,
    /// Samples per expression.
    pub n: usize,
    /// Training steps per concept when checkpoints must be trained.
    pub train_steps: u64,
    pub seed: u64,
    /// Also write each expression's samples as `expression_<i>.safetensors`
    /// here (what `ebm judge score` reads, with the expression's conditions).
    pub save: Option<PathBuf>,
    /// Also write each expression's samples as PNGs, `expression_<i>/sample_0000.png`, …
    pub png_dir: Option<PathBuf>,
    /// How models trained over noise levels are sampled.
    pub annealing: crate::sample::NoiseAnnealing,
    /// Langevin chains per sample, the one kept by
    /// `composition::Keep::default_for` (the composed energy when refined,
    /// else ranks); models over noise levels run one.
    pub particles: usize,
    /// The expressions composed, sampled and judged (empty: [`EXPRESSIONS`]).
    pub expressions: Vec<String>,
    /// Refine every sample with denoising-trained models
    /// (`composition::refine`); None: the chains' samples as they are.
    pub refine: Option<crate::experiments::composition::RefineOptions>,
}

/// The demo's annealing: 8 levels × 8 steps, a third of `NoiseAnnealing::default()`
/// (seven expressions took 64 s on 2 cores with `models/shapes-denoise`).
pub fn demo_annealing() -> crate::sample::NoiseAnnealing {
    crate::sample::NoiseAnnealing {
        levels: 8,
        steps_per_level: 8,
        ..Default::default()
    }
}

/// What the demo composes: each operator, alone and nested.
pub const EXPRESSIONS: [&str; 7] = [
    "color=red",
    "shape=triangle & color=blue",
    "pos=(0.3,0.3) & color=green",
    "pos=(0.7,0.7) & color=yellow & shape=square & size=0.17",
    "shape=circle & !color=red & !color=orange",
    "(pos=(0.3,0.7) & color=cyan) | (pos=(0.7,0.3) & color=magenta)",
    "pos=(0.5,0.5) & (shape=square | shape=triangle) & !color=purple",
];

fn sampling_description(
    library: &crate::compose::ConceptLibrary,
    sampler: &crate::sample::SamplerDefaults,
    annealing: &crate::sample::NoiseAnnealing,
    prior: Option<crate::compose::algebra::PriorUse>,
    particles: usize,
) -> String {
    let with_prior = match prior {
        Some(crate::compose::algebra::PriorUse::Base) => {
            ", the unconditional model trained with them added once to every expression (E_u + E_expr)"
        }
        Some(crate::compose::algebra::PriorUse::Relative) => ", conjunctions relative to the unconditional prior (E_u + Σ(Eᵢ − E_u))",
        None => "",
    };
    match library.noise_range() {
        Some((lo, hi)) => format!(
            "annealed over the models' noise levels ({} levels from σ = {hi} to {lo}, {} {} steps each at λ = {}·σ², a Tweedie step at the end), the algebra applied at every level{}",
            annealing.levels,
            annealing.steps_per_level,
            annealing.kind,
            annealing.step_scale,
            with_prior
        ),
        None => format!(
            "{} Langevin steps (λ = {}, σ = {}) from the card's chain start{with_prior}; a top-level OR draws one branch per chain; \
             {particles} chain(s) per sample, the one whose conjuncts rank lowest kept",
            sampler.langevin.steps, sampler.langevin.step_size, sampler.langevin.noise_std
        ),
    }
}

/// Runs the demo; returns the report's Markdown.
pub fn run(args: &DemoOptions, progress: &dyn crate::progress::Progress) -> Result<String> {
    if args.n == 0 || args.particles == 0 {
        anyhow::bail!("-n and --particles must be at least 1");
    }
    // A malformed expression is refused before any model is trained or loaded.
    for text in &args.expressions {
        parse(text).map_err(|e| anyhow::anyhow!("--expr '{text}': {e}"))?;
    }
    let started = Instant::now();
    let models = ensure_models(args, progress)?;
    let library = load_shapes_models(&models)?;
    // A prior beside the concept models makes every conjunction a product of
    // experts; a base (trained with them in one product) is added once.
    let unconditional = crate::experiments::composition::unconditional_beside(&models);
    let prior_use = unconditional.as_ref().map_or(Default::default(), |(_, u)| *u);
    let prior = match &unconditional {
        Some((path, _)) => Some(crate::experiments::composition::load_prior(path, &library.input_shape())?),
        None => None,
    };
    let (judge, _) = Judge::load(&args.judge)?;
    let concept_models = library.concept_models();
    let partners = library.marginal_partners(Default::default());
    let settings = Settings::default();
    let mut sampler = library.sampler();
    sampler.langevin.steps = crate::experiments::shapes::SHOWCASE_STEPS;
    let refine_library = match &args.refine {
        Some(options) => Some(load_refiner(options)?),
        None => None,
    };
    let refiner = match (&refine_library, &args.refine) {
        (Some(library), Some(options)) => Some((library, library.marginal_partners(Default::default()), options)),
        _ => None,
    };
    let mut rows = Vec::new();
    let mut report_rows = Vec::new();
    let expressions: Vec<&str> = match args.expressions.is_empty() {
        true => EXPRESSIONS.to_vec(),
        false => args.expressions.iter().map(String::as_str).collect(),
    };
    for (i, &text) in expressions.iter().enumerate() {
        let began = Instant::now();
        let seed = crate::seed::derive(args.seed, &[crate::seed::streams::EXPRESSION, i as u64]);
        // The expression as written, a top-level OR's branch drawn per chain
        // (compose::mixture; the same branches at every call).
        let written = || -> Result<_> {
            let mut energy = compose(text, &concept_models, &settings)?;
            if let Some(prior) = &prior {
                energy = crate::experiments::composition::guide(energy, Some(prior.network.as_ref()), None, prior_use);
            }
            let mut branch_rng = crate::seed::rng_at(seed, &[crate::seed::streams::BRANCH]);
            Ok(crate::compose::mixture::draw_branches(energy, args.n, &mut branch_rng).0)
        };
        // Product members the expression omits join under random codes (compose::marginal).
        let mut marginal_rng = crate::seed::rng_at(seed, &[crate::seed::streams::MARGINAL]);
        let energy = crate::compose::marginal::marginalise(written()?, &partners, args.n, &mut marginal_rng);
        let images = match energy.noise_range() {
            Some(_) => crate::experiments::shapes::sample_images_over_noise(&energy, None, args.n, &args.annealing, seed, None).x,
            None => {
                let mut draw = |seed| Ok(sample_images(&energy, None, args.n, &sampler, seed, None).x);
                let keep = crate::experiments::composition::Keep::default_for(args.refine.is_some());
                crate::experiments::composition::keep_of_particles(args.particles, keep, seed, (&written()?, &energy), &mut draw)?
            }
        };
        let images = match &refiner {
            Some((library, partners, options)) => {
                let refiners = compose(text, &library.concept_models(), &settings)?;
                let mut branch_rng = crate::seed::rng_at(seed, &[crate::seed::streams::BRANCH]);
                let refiners = crate::compose::mixture::draw_branches(refiners, args.n, &mut branch_rng).0;
                let mut marginal_rng = crate::seed::rng_at(seed, &[crate::seed::streams::MARGINAL]);
                refine_samples(refiners, partners, &energy, &mut marginal_rng, options, seed, &images)
            }
            None => images,
        };
        let judged = judge_images(&judge, &images)?;
        let expr = parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let satisfied = satisfaction(&expr, &judged)?;
        keep_samples(args, i, text, &expr, &images)?;
        rows.push((text.to_string(), images.narrow(0, 0, 8.min(args.n as i64))));
        report_rows.push((text, satisfied, began.elapsed().as_secs_f64()));
        eprintln!("{text}: {:.0} % satisfied", 100.0 * satisfied);
    }
    let picture = args.out.join("compositions.png");
    crate::experiments::shapes::write_labelled_rows(&picture, &rows, "ebm demo: concept models composed at sampling time")?;

    let mut report = String::new();
    writeln!(report, "# ebm demo: composing concept models\n")?;
    writeln!(
        report,
        "Four energy models trained on `shapes`, each conditioned only on its own concept (pos, color, shape, size; `{}`), \
         combined by expressions at sampling time: `&` adds energies, `|` is −T·logsumexp(−E/T) with T = {}, `!` subtracts α = {} × the energy beside a positive term. \
         {} samples per expression, {}. \
         \"Satisfied\" is the fraction of samples the shapes judge reads as making the expression true (position within 0.1, size within 0.03).\n",
        models.display(),
        settings.temperature,
        settings.alpha,
        args.n,
        sampling_description(&library, &sampler, &args.annealing, unconditional.as_ref().map(|(_, u)| *u), args.particles),
    )?;
    if let Some(refine) = &args.refine {
        writeln!(
            report,
            "Each sample is then refined by the denoising-trained models of `{}` (the same expression, branch and marginalised codes): \
             noised to σ = {} and annealed down {} levels.\n",
            refine.models.display(),
            refine.sigma,
            refine.annealing.levels
        )?;
    }
    writeln!(report, "| expression | satisfied | time |\n|---|---|---|")?;
    for (text, satisfied, seconds) in &report_rows {
        writeln!(
            report,
            "| `{}` | {:.0} % | {seconds:.1} s |",
            text.replace('|', "\\|"),
            100.0 * satisfied
        )?;
    }
    writeln!(
        report,
        "\n![compositions](compositions.png)\n\nTotal {:.1} s.",
        started.elapsed().as_secs_f64()
    )?;
    crate::io::write_atomically(&args.out.join("report.md"), report.as_bytes())?;
    Ok(report)
}

/// `save` and `png_dir` for expression `i`.
fn keep_samples(args: &DemoOptions, i: usize, text: &str, expr: &crate::compose::Expr, images: &tch::Tensor) -> Result<()> {
    if let Some(dir) = &args.save {
        let conditions = crate::experiments::composition::truth::judge_conditions(expr, args.n);
        let about = serde_json::json!({"expression": text, "seed": args.seed});
        crate::io::save_samples(&dir.join(format!("expression_{i}.safetensors")), images, &conditions, &about)?;
    }
    if let Some(dir) = &args.png_dir {
        crate::io::write_png_dir(&dir.join(format!("expression_{i}")), images)?;
    }
    Ok(())
}

/// The directory holding all four concept checkpoints: `--models` when it
/// has them, else OUT/models, training whatever is missing there.
fn ensure_models(args: &DemoOptions, progress: &dyn crate::progress::Progress) -> Result<PathBuf> {
    let has = |dir: &Path, c: ShapesConcept| dir.join(format!("{}.safetensors", c.name())).exists();
    if ShapesConcept::ALL.iter().all(|&c| has(&args.models, c)) {
        return Ok(args.models.clone());
    }
    let dir = args.out.join("models");
    for concept in ShapesConcept::ALL {
        if has(&dir, concept) {
            continue;
        }
        eprintln!(
            "{} has no {}.safetensors; training it ({} steps; `ebm train shapes --concept {}` does the same)",
            args.models.display(),
            concept.name(),
            args.train_steps,
            concept.name()
        );
        let data = ShapesConceptData::new(
            concept,
            IMAGE_SIZE as usize,
            args.seed,
            Default::default(),
            crate::experiments::shapes::RECIPE_CHAIN_START,
        )?;
        let run_dir = dir.join(format!("{}-run", concept.name()));
        tch::manual_seed(args.seed as i64);
        let network =
            concept_architecture(concept, &DEFAULT_WIDTHS, crate::experiments::shapes::RECIPE_SPECTRAL_NORM).build(tch::Device::Cpu);
        let mut trainer = Trainer::new(network, &data, concept_config(args.train_steps, args.seed), Some(run_dir.clone()))?;
        trainer.run(progress)?;
        let target = dir.join(format!("{}.safetensors", concept.name()));
        std::fs::copy(run_dir.join(crate::train::state::MODEL_FILE), &target)
            .with_context(|| format!("copying the checkpoint to {}", target.display()))?;
    }
    Ok(dir)
}
