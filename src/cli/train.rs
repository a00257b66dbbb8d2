//! `ebm train`.

use crate::data::mnist::{load_mnist, Split};
use crate::data::mnist_source::MnistData;
use crate::data::shapes::ShapesFilter;
use crate::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use crate::data::{DataSource, Toy2d, Toy2dKind};
use crate::energy::Architecture;
use crate::experiments::igebm;
use crate::experiments::shapes::{concept_architecture, concept_config, DEFAULT_WIDTHS, RECIPE_CHAIN_START, RECIPE_SPECTRAL_NORM};
use crate::experiments::toy2d::{evaluate_toy, plot_toy, sample_toy, toy_architecture, toy_config};
use crate::sample::ChainStart;
use crate::train::state::{resume, STATE_FILE};
use crate::train::{TrainConfig, Trainer};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// What to train on: a 2-D toy (eight-gaussians, two-moons, rings,
    /// checkerboard, spirals), `shapes` (with --concept) or `mnist`.
    pub dataset: String,
    /// For `shapes`: the one concept the model is conditioned on.
    #[arg(long, value_enum)]
    pub concept: Option<ShapesConcept>,
    /// How image models pool features over space (default: sum).
    #[arg(long, value_enum)]
    pub pool: Option<crate::energy::conv::SpatialPool>,
    /// Where fresh negative chains start: data (random scenes, the default for
    /// shapes) or noise.
    #[arg(long, value_enum)]
    pub chain_start: Option<ChainStart>,
    /// For `mnist`: condition on the digit (a one-hot code).
    #[arg(long)]
    pub conditional: bool,
    /// For `mnist`: the directory with the four IDX files.
    #[arg(long, default_value_os_t = super::judge::default_mnist_dir())]
    pub mnist_dir: PathBuf,
    /// Weight of a supervised cross-entropy term on the logits −E(x | label)
    /// (conditional models with categorical codes only; 0 = pure CD).
    #[arg(long)]
    pub label_ce: Option<f64>,
    /// Std of Gaussian noise added to the training images at every step.
    #[arg(long)]
    pub data_noise: Option<f64>,
    /// For image models: channel widths of the residual blocks, e.g. 32,64,64.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<i64>>,
    /// Directory for the checkpoint (model.safetensors), the training state,
    /// metrics.jsonl and pictures.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Training steps (default 2000; with --resume, the new total).
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the run saved in --out.
    #[arg(long)]
    pub resume: bool,
    /// Langevin step size λ (the drift is λ/2·∇E).
    #[arg(long)]
    pub step_size: Option<f64>,
    /// Langevin noise standard deviation σ (independent of λ).
    #[arg(long)]
    pub noise: Option<f64>,
    /// Langevin steps per training step.
    #[arg(long)]
    pub langevin_steps: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// α of the L2 energy regulariser.
    #[arg(long)]
    pub energy_l2: Option<f64>,
    /// Keep an EMA of the weights with this decay (e.g. 0.999).
    #[arg(long)]
    pub ema: Option<f64>,
    /// Write a checkpoint every N steps (0: at the end only).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: u64,
    /// Langevin chains restart from the replay buffer with this probability.
    #[arg(long)]
    pub reuse: Option<f64>,
    /// Spectral norm on the hidden layers (default: off for 2-D toys, on for images).
    #[arg(long)]
    pub spectral_norm: Option<bool>,
}

/// What `ebm train` was asked to train on.
enum TrainSet {
    Toy(Toy2dKind),
    Shapes(ShapesConcept),
    Mnist { conditional: bool },
}

fn parse_set(args: &TrainArgs) -> Result<TrainSet> {
    let set = match (args.dataset.as_str(), args.concept) {
        ("shapes", Some(concept)) => TrainSet::Shapes(concept),
        ("shapes", None) => bail!("`ebm train shapes` trains one concept model; add --concept pos, color, shape or size"),
        ("mnist", None) => TrainSet::Mnist {
            conditional: args.conditional,
        },
        ("mnist", Some(_)) => bail!("--concept applies to `shapes` only; `ebm train mnist --conditional` conditions on the digit"),
        (name, concept) => match Toy2dKind::from_str(name, true) {
            Ok(kind) if concept.is_none() => TrainSet::Toy(kind),
            Ok(_) => bail!("--concept applies to `shapes` only"),
            Err(_) => bail!("unknown dataset '{name}'; choose shapes, mnist, eight-gaussians, two-moons, rings, checkerboard or spirals"),
        },
    };
    if args.widths.is_some() && matches!(set, TrainSet::Toy(_)) {
        bail!("--widths applies to image models (shapes, mnist) only");
    }
    if args.conditional && !matches!(set, TrainSet::Mnist { .. }) {
        bail!("--conditional applies to `mnist` only");
    }
    Ok(set)
}

/// The command line's overrides on a dataset's default settings.
fn apply_overrides(config: &mut TrainConfig, args: &TrainArgs) -> Result<()> {
    config.checkpoint_every = args.checkpoint_every;
    if args.ema.is_some() {
        config.ema_decay = args.ema;
    }
    let l = &mut config.langevin;
    l.step_size = args.step_size.unwrap_or(l.step_size);
    l.noise_std = args.noise.unwrap_or(l.noise_std);
    l.steps = args.langevin_steps.unwrap_or(l.steps);
    config.lr = args.lr.unwrap_or(config.lr);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.energy_l2 = args.energy_l2.unwrap_or(config.energy_l2);
    config.label_ce_weight = args.label_ce.unwrap_or(config.label_ce_weight);
    config.data_noise = args.data_noise.unwrap_or(config.data_noise);
    config.replay.reuse_prob = args.reuse.unwrap_or(config.replay.reuse_prob);
    if let Err(problem) = config.validate() {
        bail!("invalid training settings: {problem}");
    }
    Ok(())
}

pub fn run(args: TrainArgs) -> Result<()> {
    let set = parse_set(&args)?;
    let data: Box<dyn DataSource> = match set {
        TrainSet::Toy(kind) => Box::new(Toy2d::new(kind, args.seed)),
        TrainSet::Shapes(concept) => Box::new(ShapesConceptData::new(
            concept,
            crate::experiments::shapes::IMAGE_SIZE as usize,
            args.seed,
            ShapesFilter::default(),
            args.chain_start.unwrap_or(RECIPE_CHAIN_START),
        )?),
        TrainSet::Mnist { conditional } => Box::new(MnistData::new(
            &load_mnist(&args.mnist_dir, Split::Train)?,
            conditional,
            None,
            args.seed,
        )?),
    };
    let mut trainer = if args.resume {
        resume(&args.out, data.as_ref(), args.steps)?
    } else {
        if args.out.join(STATE_FILE).exists() {
            bail!(
                "{} already holds a training run; pass --resume to continue it, or choose another --out",
                args.out.display()
            );
        }
        let steps = args.steps.unwrap_or(2000);
        let (mut config, architecture) = match set {
            TrainSet::Toy(_) => (toy_config(steps, args.seed), toy_architecture(args.spectral_norm.unwrap_or(false))),
            TrainSet::Shapes(concept) => {
                let widths = args.widths.clone().unwrap_or(DEFAULT_WIDTHS.to_vec());
                let mut architecture = concept_architecture(concept, &widths, args.spectral_norm.unwrap_or(RECIPE_SPECTRAL_NORM));
                if let (Some(pool), Architecture::Conv(conv)) = (args.pool, &mut architecture) {
                    conv.pool = pool;
                }
                (concept_config(steps, args.seed), architecture)
            }
            TrainSet::Mnist { conditional } => {
                let mut architecture = igebm::mnist_architecture(conditional);
                if let (Architecture::Conv(conv), Some(widths)) = (&mut architecture, &args.widths) {
                    conv.widths = widths.clone();
                }
                let mut config = igebm::mnist_config(steps, 32, 20, args.seed);
                // As the experiment: the pure-CD conditional model (the one
                // that draws digits) trains on noisy digits, the others not.
                let pure_cd = args.label_ce.unwrap_or(0.0) == 0.0;
                config.data_noise = if conditional && pure_cd { igebm::DATA_NOISE } else { 0.0 };
                (config, architecture)
            }
        };
        apply_overrides(&mut config, &args)?;
        if let Err(problem) = architecture.validate() {
            bail!("invalid architecture: {problem}");
        }
        tch::manual_seed(args.seed as i64);
        Trainer::new(architecture.build(tch::Device::Cpu), data.as_ref(), config, Some(args.out.clone()))?
    };
    let summary = trainer.run(super::show_progress())?;
    println!(
        "trained {} steps in {:.1}s ({} divergences recovered); E+ {:.3} E- {:.3}",
        summary.steps, summary.seconds, summary.divergences, summary.last.e_pos, summary.last.e_neg
    );
    let picture = args.out.join("samples.png");
    // Pictures and numbers from the weights the checkpoint holds (EMA when on).
    let network = trainer.averaged_network();
    let card = trainer.card();
    match set {
        TrainSet::Toy(kind) => report_toy(network.as_ref(), &card.sampler, kind, &args, &picture, summary.steps)?,
        TrainSet::Shapes(concept) => crate::experiments::shapes::concept_sample_grid(network.as_ref(), concept, &card.sampler, &picture)?,
        TrainSet::Mnist { conditional } => {
            let sampler = igebm::mnist_langevin(100);
            if conditional {
                let _samples = igebm::run::conditional_grid(network.as_ref(), 8, &sampler, args.seed, &picture, "mnist")?;
            } else {
                igebm::run::unconditional_grid(network.as_ref(), &sampler, &picture, args.seed)?;
            }
        }
    }
    println!(
        "wrote {} and {}",
        args.out.join(crate::train::state::MODEL_FILE).display(),
        picture.display()
    );
    Ok(())
}

fn report_toy(
    network: &dyn crate::energy::Network,
    sampler: &crate::sample::SamplerDefaults,
    kind: Toy2dKind,
    args: &TrainArgs,
    picture: &std::path::Path,
    steps: u64,
) -> Result<()> {
    let samples = sample_toy(network, sampler, 1000, 200, 1);
    let evaluation = evaluate_toy(kind, &samples, args.seed);
    let title = format!("{} after {steps} steps", kind.name());
    let data = Toy2d::new(kind, args.seed);
    plot_toy(picture, network, &samples, Some(&data.points(u64::MAX, 500)), &title)?;
    println!(
        "MMD² to fresh data {:.5} (data-vs-data floor {:.5})",
        evaluation.mmd2, evaluation.mmd2_data_floor
    );
    if let Some(c) = &evaluation.coverage {
        println!(
            "modes hit {}/8, {:.1}% of samples within 3σ of a mode",
            c.modes_hit,
            100.0 * c.on_mode
        );
    }
    Ok(())
}
