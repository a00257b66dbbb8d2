//! `ebm experiment`: long runs that write JSON + Markdown + PNG reports.

use crate::args::{LangevinArgs, NoiseArgs, OperatorArgs};
use crate::Context;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use ebm::experiments::composition::{self, CompositionOptions, Row};
use ebm::experiments::eight_gaussians::{self, EightGaussiansOptions};
use ebm::experiments::igebm::{run as run_igebm, IgebmOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub which: Experiment,
}

#[derive(Subcommand)]
pub enum Experiment {
    /// Table 1 of the compositional paper on `shapes`, judged.
    Composition(Box<CompositionArgs>),
    /// Train, sample and judge an energy on eight-gaussians (MMD², modes).
    EightGaussians(EightGaussiansArgs),
    /// IGEBM's abilities on MNIST: conditional generation, classification,
    /// OOD, restoration, split-MNIST and adversarial robustness (about an
    /// hour on 2 cores; --quick: a few minutes).
    IgebmMnist(IgebmArgs),
    /// The diagnostic a shapes concept model must pass before its samples are
    /// judged: lowest-energy classification (categorical, ≥ 0.95) or grid
    /// inference error (continuous, ≤ 0.05) on fresh scenes.
    ConceptCheck(crate::concept_check::ConceptCheckArgs),
    /// Position inference (Table 3 analogue): error of argmin_c Σ E(x|c) on
    /// fresh and cluttered scenes and against the number of views, beside the
    /// shapes judge; energy maps on one- and two-object scenes.
    Inference(crate::inference::InferenceArgs),
    /// Position inference under distribution shift (Table 3 analogue): an
    /// energy and a CNN regressor trained with the same wall time on restricted
    /// scenes, read on sets shifted in colour, shape, size, light and clutter.
    InferenceShifts(crate::inference::ShiftArgs),
    /// Continual concept learning (Table 2 analogue): position, then shape
    /// beside the frozen position model, then colour beside both, judged
    /// after each stage, beside one joint model trained on the stages in turn.
    Continual(crate::continual::ContinualArgs),
    /// Cross-product extrapolation: a size model seen only in a corner and a
    /// position model seen only on large objects, asked for small objects
    /// elsewhere, beside a joint model of the same data.
    Extrapolation(crate::extrapolation::ExtrapolationArgs),
    /// ULA vs MALA vs HMC on the shipped concept models at equal gradient
    /// evaluations: acceptance, ESS, R-hat, judged accuracy.
    Samplers(SamplersArgs),
    /// The divergence guard under aggressive settings: seeds × (step size and
    /// learning rate ×10 and ×100, no gradient clip) on a shapes concept model
    /// and on MNIST; how many runs it recovered or gave up on, and whether any
    /// checkpoint held non-finite weights.
    Stability(StabilityArgs),
    /// COMET: segmentation ARI and object swaps on multi-shapes; with
    /// --global and --beta-vae, MCC/MIG/DCI on shapes beside the β-VAE and a
    /// cross-model recombination picture.
    Comet(CometExperimentArgs),
    /// Trajectories: rollouts of the transition energies against the
    /// feed-forward baseline (Fréchet distance per step), and planning on
    /// them against CEM on the baseline (success, return; episode files).
    Trajectories(crate::trajectories::TrajectoriesExperimentArgs),
}

#[derive(Args)]
pub struct CometExperimentArgs {
    /// The object model (trained on multi-shapes).
    #[arg(long, default_value_os_t = crate::home::shipped("models/comet/multi-shapes.safetensors"))]
    pub model: PathBuf,
    /// A global-factor COMET model trained on shapes (needs --beta-vae).
    #[arg(long, requires = "beta_vae")]
    pub global: Option<PathBuf>,
    /// β-VAE baselines trained on shapes with the same budget (comma separated).
    #[arg(long, requires = "global", value_delimiter = ',')]
    pub beta_vae: Vec<PathBuf>,
    #[arg(long, short, default_value = "experiments/comet")]
    pub out: PathBuf,
    /// Held-out scenes scored.
    #[arg(long, default_value_t = 256)]
    pub images: usize,
    /// Dataset seed of the held-out scenes (the models train on seed 0).
    #[arg(long, default_value_t = 1)]
    pub data_seed: u64,
    /// Another multi-shapes COMET model, trained separately: its object
    /// components are swapped into the model's scenes and judged.
    #[arg(long)]
    pub cross: Option<PathBuf>,
}

#[derive(Args)]
pub struct StabilityArgs {
    #[arg(long, short, default_value = "experiments/stability")]
    pub out: PathBuf,
    /// Seeds per recipe and setting.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// Training steps per run (the settings blow up within the first few).
    #[arg(long, default_value_t = 10)]
    pub steps: u64,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value_os_t = crate::home::shared_data().join("mnist"))]
    pub mnist_dir: PathBuf,
}

#[derive(Args)]
pub struct SamplersArgs {
    #[arg(long, default_value_os_t = crate::home::shipped("models/shapes"))]
    pub models: PathBuf,
    #[arg(long, default_value_os_t = crate::home::shipped("judges/shapes.safetensors"))]
    pub judge: PathBuf,
    #[arg(long, short, default_value = "experiments/samplers")]
    pub out: PathBuf,
    /// Chains per expression and sampler.
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Gradient evaluations per chain.
    #[arg(long, default_value_t = ebm::experiments::samplers::DEFAULT_GRADIENTS)]
    pub gradients: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args)]
pub struct EightGaussiansArgs {
    /// Output directory.
    #[arg(long, short, default_value = "experiments/eight-gaussians")]
    pub out: PathBuf,
    /// Training steps.
    #[arg(long, default_value_t = 1500)]
    pub steps: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args)]
pub struct CompositionArgs {
    /// Directory with pos, color, shape and size .safetensors concept models
    /// (default: the shipped models/shapes).
    #[arg(long, default_value_os_t = crate::home::shipped("models/shapes"))]
    pub models: PathBuf,
    #[arg(long, default_value_os_t = crate::home::shipped("judges/shapes.safetensors"))]
    pub judge: PathBuf,
    #[arg(long, short, default_value = "experiments/composition")]
    pub out: PathBuf,
    /// Samples per row.
    #[arg(long, default_value_t = 500)]
    pub samples: usize,
    /// Only these rows (e.g. pos-and-color,pos-or-pos); default all.
    #[arg(long, value_delimiter = ',')]
    pub rows: Option<Vec<String>>,
    #[command(flatten)]
    pub langevin: LangevinArgs,
    #[command(flatten)]
    pub operators: OperatorArgs,
    #[command(flatten)]
    pub noise_levels: NoiseArgs,
    /// Take every conjunction relative to this unconditional model (product
    /// of experts, E_u + Σ(Eᵢ − E_u)); `ebm train shapes --prior` trains one.
    #[arg(long)]
    pub prior: Option<PathBuf>,
    /// How --prior enters: relative (every conjunction relative to it, for
    /// concept models trained alone) or base (added once to the whole
    /// expression, for models trained with it by `ebm train shapes --product … --prior`).
    #[arg(long, default_value = "relative", requires = "prior")]
    pub prior_use: ebm::compose::algebra::PriorUse,
    /// Guidance w. With --prior: AND = E_u + w·Σ(Eᵢ − E_u) (default 1, the
    /// product of experts). Without: AND = E₁(∅) + w·Σ(Eᵢ − Eᵢ(∅)), each model
    /// against its own null code (models trained with --code-dropout).
    #[arg(long)]
    pub guidance: Option<f64>,
    /// Chains per sample: each sample is the one of its M chains that ends
    /// at the lowest composed energy (same branches and marginal codes).
    #[arg(long, default_value_t = 1)]
    pub particles: usize,
    /// Which particle is kept: ranks (lowest sum of the conjuncts' ranks
    /// among the particles), composed (lowest composed energy) or named
    /// (lowest energy of the expression as written, marginalised concepts
    /// left out). Default: ranks, or composed with --refine.
    #[arg(long, requires = "particles")]
    pub keep: Option<ebm::experiments::composition::Keep>,
    /// Refine every sample with the denoising-trained models in this
    /// directory (SDEdit): the same expression, branch and marginalised
    /// codes, annealed from --refine-sigma down (README, "Refining samples").
    #[arg(long)]
    pub refine: Option<PathBuf>,
    /// The noise level refinement starts at.
    #[arg(long, default_value_t = 0.1, requires = "refine")]
    pub refine_sigma: f64,
    /// Levels from --refine-sigma down to the refiners' smallest (each
    /// follows the denoisers' Tweedie score, 20 ULA steps).
    #[arg(long, default_value_t = 6, requires = "refine")]
    pub refine_levels: usize,
    /// ULA steps at each refinement level.
    #[arg(long, default_value_t = 5, requires = "refine")]
    pub refine_steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the rows a run with the same settings already wrote to --out
    /// and run only the others (the report is rewritten after every row).
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args)]
pub struct IgebmArgs {
    /// Small budgets everywhere: checks that everything runs, in minutes.
    #[arg(long)]
    pub quick: bool,
    /// Directory for report.json, report.md, the PNGs and the models.
    #[arg(long, short, default_value = "runs/igebm-mnist")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value_os_t = crate::home::shared_data().join("mnist"))]
    pub mnist_dir: PathBuf,
    /// The 8×8 sklearn digits CSV (an OOD set).
    #[arg(long, default_value_os_t = crate::home::shared_data().join("sklearn-digits/digits.csv.gz"))]
    pub digits_csv: PathBuf,
    /// The MNIST judge that reads digits off samples.
    #[arg(long, default_value_os_t = crate::home::shipped("judges/mnist.safetensors"))]
    pub judge: PathBuf,
    /// Evaluate the checkpoints DIR/{uncond,cond-cd,cond-hybrid}.safetensors
    /// (e.g. models/mnist) instead of training them.
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
}

pub fn run(args: ExperimentArgs, context: &Context) -> Result<()> {
    match args.which {
        Experiment::Composition(a) => run_composition(*a, context),
        Experiment::EightGaussians(a) => run_eight_gaussians(a, context),
        Experiment::Samplers(a) => run_samplers(a, context),
        Experiment::Stability(a) => run_stability(a, context),
        Experiment::ConceptCheck(a) => crate::concept_check::run(a),
        Experiment::Inference(a) => crate::inference::run(a, context),
        Experiment::InferenceShifts(a) => crate::inference::run_shifts(a, context),
        Experiment::Continual(a) => crate::continual::run(a, context),
        Experiment::Extrapolation(a) => crate::extrapolation::run(a, context),
        Experiment::IgebmMnist(a) => run_igebm_mnist(a, context),
        Experiment::Comet(a) => run_comet(a, context),
        Experiment::Trajectories(a) => crate::trajectories::run_experiment(a, context),
    }
}

fn run_comet(a: CometExperimentArgs, context: &Context) -> Result<()> {
    cpu_only("comet", context)?;
    let options = ebm::experiments::comet::CometOptions {
        objects: a.model,
        global: a.global.map(|g| (g, a.beta_vae)),
        out: a.out,
        images: a.images,
        batch: 32,
        data_seed: a.data_seed,
        cross: a.cross,
    };
    let report = ebm::experiments::comet::run(&options, &context.progress)?;
    for s in &report.segmentation {
        println!(
            "masks at {}: ARI {:.3}, foreground ARI {:.3}, PSNR {:.2} dB",
            s.masks_at, s.ari, s.foreground_ari, s.psnr
        );
    }
    let w = &report.swaps;
    println!(
        "swaps: {} judged right {:.3}, PSNR {:.2} dB vs reconstruction {:.2} dB",
        w.swaps, w.judged_right, w.psnr, w.reconstruction_psnr
    );
    if let Some(d) = &report.disentanglement {
        for r in &d.rows {
            println!(
                "{}: MCC {:.3}, MIG {:.3}, DCI {:.3}/{:.3}/{:.3}",
                r.model, r.mcc, r.mig, r.dci.disentanglement, r.dci.completeness, r.dci.informativeness
            );
        }
    }
    println!("report: {}", options.out.join("comet.md").display());
    Ok(())
}

fn run_eight_gaussians(a: EightGaussiansArgs, context: &Context) -> Result<()> {
    cpu_only("eight-gaussians", context)?;
    let options = EightGaussiansOptions {
        out: a.out,
        steps: a.steps,
        seed: a.seed,
    };
    print!("{}", eight_gaussians::run(&options, &context.progress)?);
    println!("wrote {}", options.out.display());
    Ok(())
}

fn run_stability(a: StabilityArgs, context: &Context) -> Result<()> {
    cpu_only("stability", context)?;
    if a.seeds == 0 || a.steps == 0 {
        bail!("--seeds and --steps must be at least 1");
    }
    let options = ebm::experiments::stability::StabilityOptions {
        out: a.out,
        mnist_dir: a.mnist_dir,
        seeds: a.seeds,
        steps: a.steps,
    };
    ebm::experiments::stability::run(&options, &context.progress)?;
    print!("{}", std::fs::read_to_string(options.out.join("report.md"))?);
    Ok(())
}

fn run_samplers(a: SamplersArgs, context: &Context) -> Result<()> {
    cpu_only("samplers", context)?;
    if a.samples < 2 || a.gradients < 8 {
        bail!("--samples must be at least 2 and --gradients at least 8 (ESS and R-hat need them)");
    }
    let options = ebm::experiments::samplers::SamplersOptions {
        models: a.models,
        judge: a.judge,
        out: a.out,
        samples: a.samples,
        gradients: a.gradients,
        seed: a.seed,
    };
    ebm::experiments::samplers::run(&options)?;
    print!("{}", std::fs::read_to_string(options.out.join("samplers.md"))?);
    Ok(())
}

fn run_igebm_mnist(a: IgebmArgs, context: &Context) -> Result<()> {
    cpu_only("igebm-mnist", context)?;
    let options = IgebmOptions {
        quick: a.quick,
        out: a.out,
        seed: a.seed,
        mnist_dir: a.mnist_dir,
        digits_csv: a.digits_csv,
        judge: a.judge,
        models: a.models,
    };
    let report = run_igebm(&options, &context.progress)?;
    println!("{}", ebm::experiments::igebm::report::markdown(&report));
    println!("wrote {}/report.md, report.json and the pictures", options.out.display());
    Ok(())
}

fn run_composition(args: CompositionArgs, context: &Context) -> Result<()> {
    cpu_only("composition", context)?;
    if args.samples == 0 || args.particles == 0 {
        bail!("--samples and --particles must be at least 1");
    }
    let rows = match &args.rows {
        None => Row::ALL.to_vec(),
        Some(keys) => keys
            .iter()
            .map(|k| {
                Row::ALL.iter().copied().find(|r| r.key() == *k).ok_or_else(|| {
                    let all: Vec<String> = Row::ALL.iter().map(|r| r.key()).collect();
                    anyhow::anyhow!("unknown row '{k}'; rows are {}", all.join(", "))
                })
            })
            .collect::<Result<_>>()?,
    };
    let options = CompositionOptions {
        models: args.models,
        judge: args.judge,
        out: args.out,
        samples: args.samples,
        rows,
        langevin: args.langevin.overrides(),
        settings: args.operators.settings(),
        seed: args.seed,
        annealing: args.noise_levels.annealing()?,
        prior: args.prior,
        guidance: args.guidance,
        or_sampling: args.operators.or_sampling,
        marginalise: args.operators.marginalise,
        prior_use: args.prior_use,
        particles: args.particles,
        keep: args.keep.unwrap_or(composition::Keep::default_for(args.refine.is_some())),
        refine: args.refine.map(|models| composition::RefineOptions {
            models,
            sigma: args.refine_sigma,
            annealing: ebm::sample::NoiseAnnealing {
                levels: args.refine_levels,
                steps_per_level: args.refine_steps,
                ..composition::refine::refine_annealing()
            },
        }),
        resume: args.resume,
    };
    let results = composition::run(&options, &context.progress)?;
    for r in &results {
        let metrics: Vec<String> = r.metrics.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
        println!("{:<24} {}", r.key, metrics.join("  "));
    }
    println!("wrote {}", options.out.join("composition.md").display());
    Ok(())
}

/// Experiments that still build their tensors on the CPU refuse another device
/// rather than fail inside libtorch on mixed devices.
pub fn cpu_only(name: &str, context: &Context) -> Result<()> {
    if context.device != tch::Device::Cpu {
        bail!(
            "`ebm experiment {name}` runs on the CPU only for now; pass --device cpu (asked: {})",
            ebm::device::device_name(context.device)
        );
    }
    Ok(())
}
