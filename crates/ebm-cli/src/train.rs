//! `ebm train`: picks a recipe by name, applies the flags once, trains.

use crate::Context;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ebm::data::shapes_concept::ShapesConcept;
use ebm::data::{Toy2d, Toy2dKind};
use ebm::experiments::igebm;
use ebm::experiments::toy2d::{evaluate_toy, plot_toy, sample_toy};
use ebm::sample::ChainStart;
use ebm::train::recipe::{recipe, Dataset, Overrides};
use ebm::train::state::{resume, STATE_FILE};
use ebm::train::Trainer;
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// What to train on: a 2-D toy (eight-gaussians, two-moons, rings,
    /// checkerboard, spirals), `shapes` (with --concept), `mnist`, or
    /// `trajectories` (with --env: transitions of a control environment),
    /// `comet` (with --data: a COMET decomposition model) or `beta-vae`
    /// (with --data: its disentanglement baseline).
    pub dataset: String,
    /// For `shapes`: the one concept the model is conditioned on (pos, color
    /// or colour, shape, size).
    #[arg(long)]
    pub concept: Option<ShapesConcept>,
    /// For `shapes`: train these concept models together as a product of
    /// experts (e.g. pos,color): one chain on the sum of their energies under
    /// each scene's own labels, every member updated on those shared
    /// negatives. --out gets one folder (checkpoint, state) per concept.
    /// With --prior, an unconditional member joins them (out/prior): the
    /// product is then E_u + Σ Eₖ, each concept's energy relative to it.
    #[arg(long, value_delimiter = ',', conflicts_with = "concept")]
    pub product: Option<Vec<ShapesConcept>>,
    /// With --product: trained concept models (name=checkpoint, comma
    /// separated) that join the product's chain under each scene's own label
    /// but are not updated, e.g. --frozen pos=models/shapes/pos.safetensors.
    /// A single --product concept then learns beside them.
    #[arg(long, value_delimiter = ',', requires = "product")]
    pub frozen: Vec<String>,
    /// For `shapes`: train the unconditional model of every scene (no
    /// concept), the prior of a product-of-experts conjunction.
    #[arg(long)]
    pub prior: bool,
    /// How image models pool features over space: sum, mean or max (default:
    /// the recipe's — max for shapes concept models, sum for MNIST).
    #[arg(long)]
    pub pool: Option<ebm::energy::conv::SpatialPool>,
    /// Where fresh negative chains of a shapes concept model start: noise,
    /// data (random scenes) or background (empty floors; the recipe's default).
    #[arg(long)]
    pub chain_start: Option<ChainStart>,
    /// For `mnist`: condition on the digit (a one-hot code); for
    /// `trajectories`: on the action as well as the state.
    #[arg(long)]
    pub conditional: bool,
    /// For `trajectories`: the control environment (particle, maze, reacher).
    #[arg(long)]
    pub env: Option<ebm::trajectories::Env>,
    /// For `mnist`: the directory with the four IDX files.
    #[arg(long, default_value_os_t = crate::judge::default_mnist_dir())]
    pub mnist_dir: PathBuf,
    /// Weight of a supervised cross-entropy term on the logits −E(x | label)
    /// (categorical codes: over every category; continuous: against 7 random
    /// codes; 0 = pure CD).
    #[arg(long)]
    pub label_ce: Option<f64>,
    /// Temperature T of the --label-ce logits −E/T (default 1); about the
    /// energies' spread between codes for a CD model (0.01 for shapes).
    #[arg(long)]
    pub label_ce_temperature: Option<f64>,
    /// Weight of the contrastive-divergence term (default 1; 0 with --label-ce
    /// trains the code distinction alone, a diagnostic).
    #[arg(long)]
    pub cd_weight: Option<f64>,
    /// First steps that train the --label-ce term alone, with no sampling
    /// chain (classifier pre-training of the trunk).
    #[arg(long)]
    pub supervised_warmup: Option<u64>,
    /// Std of Gaussian noise added to the training images at every step.
    #[arg(long)]
    pub data_noise: Option<f64>,
    /// Weight of the ranking term softplus(E(x⁺) − E(x⁺ with a second object))
    /// that teaches a shapes concept model to object to a second object (0: off).
    #[arg(long)]
    pub extra_object_negatives: Option<f64>,
    /// Train the --label-ce term on adversarial images: the worst within this
    /// L∞ distance of each positive, found by PGD (0: off). Makes the code
    /// term's input gradient follow the concept, so it can steer sampling.
    #[arg(long)]
    pub adversarial_eps: Option<f64>,
    /// Steps of that PGD attack (default 3).
    #[arg(long)]
    pub adversarial_steps: Option<usize>,
    /// Grow the attack's radius linearly from 0 over this many first steps.
    #[arg(long)]
    pub adversarial_ramp: Option<u64>,
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
    /// Start from the weights of this checkpoint (same architecture) instead
    /// of a fresh initialisation: a new run, e.g. a CD stage after a
    /// supervised one. Adam's moments and the replay buffer start empty. With
    /// --product: the file (one member) or a product's --out folder.
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Langevin step size λ (the drift is λ/2·∇E).
    #[arg(long)]
    pub step_size: Option<f64>,
    /// Langevin noise standard deviation σ (independent of λ).
    #[arg(long)]
    pub noise: Option<f64>,
    /// Per-pixel clip of the training chains' ∇ₓE; 0 turns it off.
    #[arg(long)]
    pub grad_clip: Option<f64>,
    /// Langevin steps per training step.
    #[arg(long)]
    pub langevin_steps: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// Adam's first-moment decay (the base is 0, as IGEBM trains).
    #[arg(long)]
    pub adam_beta1: Option<f64>,
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
    /// The guard's collapse threshold: a step whose E(x⁻) − E(x⁺) exceeds it
    /// (once a step has been within it) is rolled back; 0 turns it off.
    /// A discriminative model leaving a supervised warm-up separates its
    /// first negatives by more than the recipe's 1.
    #[arg(long)]
    pub max_gap: Option<f64>,
    /// Langevin chains restart from the replay buffer with this probability.
    #[arg(long)]
    pub reuse: Option<f64>,
    /// Spectral norm on the hidden layers (default: off for 2-D toys, on for images).
    #[arg(long)]
    pub spectral_norm: Option<bool>,
    /// Image models: also read the code bilinearly off the pooled features
    /// (E = w·φ + (Uc)·φ, as JEM's −f(x)[y]); the MNIST conditional recipes use it.
    #[arg(long)]
    pub code_head: Option<bool>,
    /// Image models: starting residual gain of every block (0: ReZero, 1: plain).
    #[arg(long)]
    pub residual_gain: Option<f64>,
    /// Image models: scale of the convolutions' initial weights.
    #[arg(long)]
    pub init_gain: Option<f64>,
    /// Image models: how the code reaches the energy — film (every block),
    /// classifier (E(x) − log p(c|x), categorical) or gaussian (E(x) + ‖g(x) − c‖²/2τ², continuous).
    #[arg(long)]
    pub readout: Option<ebm::energy::Readout>,
    /// Image models: a dense layer of this width over the flattened last
    /// feature map instead of spatial pooling (0: pool).
    #[arg(long)]
    pub dense_head: Option<i64>,
    /// Image models: read the input through a fixed Gaussian blur of this std
    /// in pixels, so ∇ₓE is smooth (0: none).
    #[arg(long)]
    pub input_blur: Option<f64>,
    /// The training objective: cd (contrastive divergence, the default),
    /// dsm (denoising score matching on ∇ₓE, second order) or denoise (the
    /// denoiser's own error, first order). dsm and denoise train a
    /// denoiser-shaped energy over noise levels, with no sampling chain.
    #[arg(long)]
    pub objective: Option<ebm::train::Objective>,
    /// Denoising objectives: weight a noise level's loss by σ^power (0: plain DSM).
    #[arg(long)]
    pub sigma_power: Option<f64>,
    /// Denoising objectives: train this fraction of examples under the null
    /// code (zeros), so the model is its own unconditional (for --guidance).
    #[arg(long)]
    pub code_dropout: Option<f64>,
    /// Denoiser: channels of the first level (the next three have twice as many).
    #[arg(long)]
    pub denoiser_width: Option<i64>,
    /// Denoiser: numbers in the bottleneck.
    #[arg(long)]
    pub latent: Option<i64>,
    /// Denoiser: the noise levels trained over, lo,hi (log-uniform).
    #[arg(long, value_parser = parse_sigma_range)]
    pub sigma_range: Option<(f64, f64)>,
    #[command(flatten, next_help_heading = "COMET (ebm train comet)")]
    pub comet: crate::comet::CometFlags,
}

fn parse_sigma_range(text: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = text.split(',').collect();
    let numbers: Vec<f64> = parts.iter().filter_map(|p| p.trim().parse().ok()).collect();
    match numbers[..] {
        [lo, hi] if parts.len() == 2 && lo > 0.0 && lo < hi && hi.is_finite() => Ok((lo, hi)),
        _ => Err(format!(
            "'{text}' is not a noise range: write lo,hi with 0 < lo < hi, e.g. 0.01,0.6"
        )),
    }
}

/// The recipe `ebm train` was asked for, by name (see [`ebm::train::recipe::recipe`]).
fn recipe_name(args: &TrainArgs) -> Result<String> {
    let name = match (args.dataset.as_str(), args.concept) {
        ("shapes", Some(_)) if args.prior => bail!("--prior trains the unconditional model: drop --concept"),
        ("shapes", None) if args.prior => "shapes-prior".into(),
        ("shapes", Some(concept)) => format!("shapes-{}", concept.name()),
        ("shapes", None) => bail!("`ebm train shapes` trains one concept model; add --concept pos, color, shape or size"),
        ("mnist", None) if !args.conditional => "mnist".into(),
        // The experiment's two conditional models: pure CD (the generator) or CD + cross-entropy (the classifier).
        ("mnist", None) if args.label_ce.unwrap_or(0.0) > 0.0 => "mnist-hybrid".into(),
        ("mnist", None) => "mnist-cond".into(),
        ("mnist", Some(_)) => bail!("--concept applies to `shapes` only; `ebm train mnist --conditional` conditions on the digit"),
        ("trajectories", None) => {
            let env = args.env.context("`ebm train trajectories` needs --env particle, maze or reacher")?;
            format!("trajectories-{env}{}", if args.conditional { "-action" } else { "" })
        }
        (_, Some(_)) => bail!("--concept applies to `shapes` only"),
        (name, None) => name.to_string(),
    };
    if args.conditional && !name.starts_with("mnist") && !name.starts_with("trajectories") {
        bail!("--conditional applies to `mnist` and `trajectories` only");
    }
    if args.env.is_some() && !name.starts_with("trajectories") {
        bail!("--env applies to `trajectories` only");
    }
    Ok(name)
}

pub(crate) fn overrides(args: &TrainArgs) -> Overrides {
    Overrides {
        widths: args.widths.clone(),
        pool: args.pool,
        spectral_norm: args.spectral_norm,
        code_head: args.code_head,
        residual_gain: args.residual_gain,
        init_gain: args.init_gain,
        readout: args.readout,
        dense_head: args.dense_head,
        input_blur: args.input_blur,
        chain_start: args.chain_start,
        step_size: args.step_size,
        noise: args.noise,
        grad_clip: args.grad_clip,
        langevin_steps: args.langevin_steps,
        lr: args.lr,
        adam_beta1: args.adam_beta1,
        batch_size: args.batch_size,
        energy_l2: args.energy_l2,
        ema: args.ema,
        label_ce: args.label_ce,
        label_ce_temperature: args.label_ce_temperature,
        cd_weight: args.cd_weight,
        supervised_warmup: args.supervised_warmup,
        data_noise: args.data_noise,
        extra_object: args.extra_object_negatives,
        adversarial_eps: args.adversarial_eps,
        adversarial_steps: args.adversarial_steps,
        adversarial_ramp: args.adversarial_ramp,
        reuse: args.reuse,
        max_gap: args.max_gap,
        checkpoint_every: Some(args.checkpoint_every),
        objective: args.objective,
        sigma_power: args.sigma_power,
        code_dropout: args.code_dropout,
        denoiser_width: args.denoiser_width,
        latent: args.latent,
        sigma_range: args.sigma_range,
    }
}

/// The network of checkpoint `path`, which must have the recipe's architecture.
pub(crate) fn initial_weights(
    path: &std::path::Path,
    architecture: &ebm::energy::Architecture,
    device: tch::Device,
) -> Result<Box<dyn ebm::energy::Network>> {
    let loaded = ebm::checkpoint::load_checkpoint_on(path, device)?;
    let theirs = loaded.network.architecture();
    if &theirs != architecture {
        bail!(
            "--init-from {}: its architecture differs from this run's ({theirs:?} vs {architecture:?}); pass the same --widths, --readout, --dense-head … it was trained with",
            path.display()
        );
    }
    Ok(loaded.network)
}

pub fn run(args: TrainArgs, context: &Context) -> Result<()> {
    match args.dataset.as_str() {
        "comet" => return crate::comet::run_train(&args, context),
        "beta-vae" => return crate::comet::run_train_beta_vae(&args, context),
        _ => {}
    }
    if let Some(concepts) = args.product.clone() {
        return crate::train_product::run(&args, &concepts, context);
    }
    let mut recipe = recipe(&recipe_name(&args)?, args.steps.unwrap_or(2000), args.seed)?;
    recipe.apply(&overrides(&args))?;
    let data = recipe.data(&args.mnist_dir)?;
    let mut trainer = if args.resume {
        if context.device != tch::Device::Cpu {
            bail!("--resume continues a run on the CPU only for now; pass --device cpu");
        }
        resume(&args.out, data.as_ref(), args.steps)?
    } else {
        if args.out.join(STATE_FILE).exists() {
            bail!(
                "{} already holds a training run; pass --resume to continue it, or choose another --out",
                args.out.display()
            );
        }
        tch::manual_seed(args.seed as i64);
        let network = match &args.init_from {
            Some(path) => initial_weights(path, &recipe.architecture, context.device)?,
            None => recipe.architecture.build(context.device),
        };
        Trainer::new(network, data.as_ref(), recipe.config.clone(), Some(args.out.clone()))?
    };
    let summary = trainer.run(&context.progress)?;
    println!(
        "trained {} steps in {:.1}s ({} divergences recovered); E+ {:.3} E- {:.3}",
        summary.steps, summary.seconds, summary.divergences, summary.last.e_pos, summary.last.e_neg
    );
    let picture = args.out.join("samples.png");
    // Pictures and numbers from the weights the checkpoint holds (EMA when on), on the CPU.
    let network = trainer.averaged_network();
    let card = trainer.card();
    match recipe.dataset {
        Dataset::Toy(kind) => report_toy(network.as_ref(), &card.sampler, kind, &args, &picture, summary.steps)?,
        Dataset::Shapes { concept, .. } => {
            ebm::experiments::shapes::concept_sample_grid(network.as_ref(), concept, &card.sampler, &picture)?
        }
        Dataset::ShapesPrior => {
            let images = ebm::experiments::shapes::sample_images(network.as_ref(), None, 32, &card.sampler, 0, None).x;
            ebm::experiments::shapes::write_grid(&picture, &images, 8, &[], "shapes prior (unconditional)")?
        }
        Dataset::Trajectories { env, conditional } => {
            let check = ebm::trajectories::rollout::one_step_check(
                network.as_ref(),
                env,
                conditional,
                &card.sampler.langevin,
                &card.sampler.init,
                args.seed,
            );
            println!(
                "one step ahead on {} held-out transitions: mean state error {:.4} (nothing moves: {:.4})",
                check.transitions, check.model_error, check.copy_error
            );
            let title = format!("{env}: a held-out episode and the model's one-step predictions");
            let points = |path: &[[f64; 2]]| path.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>();
            let (truth, predicted) = (points(&check.true_path), points(&check.predicted_path));
            let series = [
                ("true positions", truth.as_slice()),
                ("predicted one step ahead", predicted.as_slice()),
            ];
            ebm::viz::line_plot(&picture, &series, &title, "x", "y", (640, 640))?
        }
        Dataset::Mnist { conditional } => {
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
        args.out.join(ebm::train::state::MODEL_FILE).display(),
        picture.display()
    );
    Ok(())
}

fn report_toy(
    network: &dyn ebm::energy::Network,
    sampler: &ebm::sample::SamplerDefaults,
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
