//! `ebm sample` and `ebm info`.

use crate::args::{LangevinArgs, NoiseArgs, OperatorArgs, SamplerArgs};
use crate::sample_chains::{draw_particles, with_branches, Chains};
use crate::Context;
use anyhow::{bail, Result};
use clap::Args;
use ebm::checkpoint::{load_checkpoint, load_checkpoint_on};
use ebm::compose::{compose, parse, ConceptLibrary};
use ebm::energy::{Architecture, ConceptKind};
use ebm::experiments::composition::truth::judge_conditions;
use ebm::experiments::shapes::SHOWCASE_STEPS;
use ebm::experiments::toy2d::plot_toy;
use ebm::sample::{LangevinOptions, Sampled};
use std::path::PathBuf;
use tch::Tensor;

#[derive(Args)]
pub struct SampleArgs {
    /// A checkpoint written by `ebm train`: `path` for one unconditional model,
    /// or `name=path` per concept model (repeat) to sample an --expr over them.
    #[arg(long, required = true)]
    pub model: Vec<String>,
    /// A composition over the concept models, e.g. "pos=(0.3,0.7) & color=red & !shape=circle".
    #[arg(long)]
    pub expr: Option<String>,
    /// Number of samples.
    #[arg(short, default_value_t = 64)]
    pub n: usize,
    /// Output PNG.
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub langevin: LangevinArgs,
    #[command(flatten)]
    pub operators: OperatorArgs,
    #[command(flatten)]
    pub sampler: SamplerArgs,
    #[command(flatten)]
    pub noise_levels: NoiseArgs,
    /// With --expr: take every conjunction relative to this unconditional
    /// model (product of experts, E_u + Σ(Eᵢ − E_u)) instead of the plain sum.
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
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// With --expr: chains per sample; each sample is the one of its M
    /// chains (same OR branch and marginalised codes, other noise) chosen by
    /// --keep. Table 1 with 4: README, "Several chains per sample".
    #[arg(long, default_value_t = 1)]
    pub particles: usize,
    /// Which particle is kept: ranks (the lowest sum of the conjuncts'
    /// ranks), composed (lowest composed energy) or named (lowest energy of
    /// the expression as written). Default: ranks.
    #[arg(long, requires = "particles")]
    pub keep: Option<ebm::experiments::composition::Keep>,
    /// Also show the sampling chain: a .gif animates the chains, a .png lays
    /// frames out as columns (2-D models: mean energy per step).
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// Also keep the samples: a safetensors file with `images` [N, C, H, W]
    /// (vector models: `samples` [N, D]) and, for an --expr, one tensor per
    /// condition of its top-level conjunction named after the shapes judge's
    /// heads, exactly as `ebm judge score --samples` reads it.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Also write one PNG per sample at native resolution: DIR/sample_0000.png, … in sample order.
    #[arg(long)]
    pub png_dir: Option<PathBuf>,
    /// Score the samples with this judge as they are (with --expr: each
    /// condition of its conjunction, and how many satisfy the whole expression).
    #[arg(long)]
    pub judge: Option<PathBuf>,
    /// Models over noise levels: refine these images (a PNG directory, .npy,
    /// or safetensors `images`, e.g. another model's `--save`) instead of
    /// sampling from noise: chains start at image + σε with σ = --refine-sigma
    /// and anneal down from there (SDEdit). Sample i refines image i.
    #[arg(long)]
    pub refine: Option<PathBuf>,
    /// The level --refine starts at: what the images show above this noise is kept.
    #[arg(long, default_value_t = 0.2)]
    pub refine_sigma: f64,
}

pub fn run(args: SampleArgs, context: &Context) -> Result<()> {
    if args.n == 0 {
        bail!("-n must be at least 1");
    }
    if args.prior.is_some() && args.expr.is_none() {
        bail!("--prior composes an --expr relative to an unconditional model; give --expr too");
    }
    if let Some(w) = args.guidance {
        ebm::compose::algebra::check_guidance(w).map_err(anyhow::Error::msg)?;
    }
    let settings = args.operators.settings();
    settings.validate()?;
    if args.particles == 0 || (args.particles > 1 && args.expr.is_none()) {
        bail!("--particles takes a count ≥ 1 and chooses among chains of an --expr; give --expr, or leave --particles out");
    }
    let library;
    let prior;
    let single;
    let models;
    let composed;
    let mut named = None;
    let (energy, sampler, input_shape, title): (&dyn ebm::energy::Energy, _, _, String) = match &args.expr {
        Some(text) => {
            library = ConceptLibrary::load_on(&args.model, context.device)?;
            models = library.concept_models();
            // Parsed first, so a bad expression is reported before anything else loads.
            drop(compose(text, &models, &settings)?);
            prior = match &args.prior {
                Some(path) => Some(ebm::experiments::composition::load_prior(path, &library.input_shape())?),
                None => None,
            };
            if prior.is_none() && args.guidance.is_some() {
                library.check_null_codes(None)?;
            }
            let mut members: Vec<&Architecture> = library.concepts.iter().map(|c| &c.model.card.architecture).collect();
            members.extend(prior.iter().map(|p| &p.card.architecture));
            let prior_energy = prior.as_ref().map(|p| p.network.as_ref() as &dyn ebm::energy::Energy);
            let written = || -> Result<_> {
                let plain = compose(text, &models, &settings)?;
                Ok(with_branches(
                    &args,
                    ebm::experiments::composition::guide(plain, prior_energy, args.guidance, args.prior_use),
                ))
            };
            if args.particles > 1 {
                named = Some(written()?);
            }
            let partners = library.marginal_partners(args.operators.marginalise);
            let mut rng = ebm::seed::rng_at(args.seed, &[ebm::seed::streams::MARGINAL]);
            composed = ebm::compose::marginal::marginalise(written()?, &partners, args.n, &mut rng);
            check_memory(&members, args.n)?;
            (&composed, library.sampler(), library.input_shape(), text.clone())
        }
        None => {
            if args.model.len() != 1 {
                bail!(
                    "{} models given without --expr; say how to combine them, e.g. --expr \"color=red & shape=square\"",
                    args.model.len()
                );
            }
            let path = PathBuf::from(&args.model[0]);
            single = load_checkpoint_on(&path, context.device)?;
            if let Some(concept) = &single.card.concept {
                bail!(
                    "{} is conditioned on '{}'; say which value with --expr, e.g. --expr \"{}={}\"",
                    path.display(),
                    concept.name,
                    concept.name,
                    example_value(&concept.kind)
                );
            }
            check_memory(&[&single.card.architecture], args.n)?;
            let shape = single.card.architecture.input_shape();
            (single.network.as_ref(), single.card.sampler.clone(), shape, "samples".to_string())
        }
    };
    if energy.noise_range().is_some() {
        if args.particles > 1 {
            bail!("--particles chooses among Langevin chains of contrastive-divergence models; models trained over noise levels take one chain per sample here (`ebm experiment composition --particles` runs both)");
        }
        return sample_over_noise(&args, energy, &input_shape, &title, context);
    }
    if args.refine.is_some() {
        bail!("--refine anneals images down the noise levels of models trained over them (`--objective denoise`); these models have none");
    }
    let is_2d = input_shape == [2];
    let config = args
        .langevin
        .overrides()
        .apply(sampler.langevin.clone(), if is_2d { 200 } else { SHOWCASE_STEPS });
    let options = LangevinOptions {
        trace: true,
        record_every: Some((config.steps / 20).max(1)),
        ..Default::default()
    };
    let chains = Chains {
        sampler: &sampler,
        input_shape: &input_shape,
        config: &config,
        options: &options,
        device: context.device,
    };
    let sampled = draw_particles(&args, energy, named.as_ref(), &chains)?;
    if is_2d {
        let title = format!("{title}: {} samples, {} Langevin steps", args.n, config.steps);
        plot_toy(&args.out, energy, &sampled.x, None, &title)?;
    } else {
        write_image_grid(&args.out, &sampled.x, None, &title)?;
    }
    if let Some(chain) = &args.chain {
        write_chain(chain, &sampled, is_2d, args.n)?;
    }
    println!("wrote {}", args.out.display());
    keep_samples(&args, &sampled.x)
}

/// Models trained over noise levels: annealed from σ_max down (the card's
/// Langevin settings do not apply), printing the acceptance per level.
/// Refuses `-n` chains that cannot fit in memory (about 21 recorded frames
/// of each chain are kept for the chain picture and diagnostics).
fn check_memory(members: &[&Architecture], n: usize) -> Result<()> {
    use ebm::memory::{available_bytes, batch_bytes, ensure_fits, Pass};
    let needed = batch_bytes(members, n as i64, Pass::Sampling, 21);
    ensure_fits(&format!("sampling {n} chains"), needed, available_bytes(), "lower -n")
}

fn sample_over_noise(
    args: &SampleArgs,
    energy: &dyn ebm::energy::Energy,
    input_shape: &[i64],
    title: &str,
    context: &Context,
) -> Result<()> {
    let annealing = args.noise_levels.annealing()?;
    let started = std::time::Instant::now();
    tch::manual_seed(args.seed as i64);
    let options = ebm::sample::SampleOptions {
        record_every: args.chain.as_ref().map(|_| annealing.steps_per_level),
        ..Default::default()
    };
    let shape: Vec<i64> = std::iter::once(args.n as i64).chain(input_shape.iter().copied()).collect();
    let run = match &args.refine {
        None => ebm::sample::sample_noise_levels(energy, &shape, None, &annealing, &options, context.device),
        Some(path) => {
            let start = crate::sample_chains::refine_start(path, args, input_shape)?.to_device(context.device);
            ebm::sample::refine_noise_levels(energy, &start, args.refine_sigma, None, &annealing, &options)
        }
    };
    let acceptance: Vec<String> = run.levels.iter().map(|r| format!("{:.2}", r.mean_acceptance)).collect();
    println!(
        "sampler {} over {} noise levels × {} steps, {:.1} s; acceptance per level {}",
        annealing.kind,
        annealing.levels,
        annealing.steps_per_level,
        started.elapsed().as_secs_f64(),
        acceptance.join(" ")
    );
    write_image_grid(&args.out, &run.x, None, title)?;
    if let Some(chain) = &args.chain {
        let frames = run.level_frames();
        write_chain(
            chain,
            &Sampled {
                x: run.x.shallow_clone(),
                trace: Vec::new(),
                frames,
            },
            false,
            args.n,
        )?;
    }
    println!("wrote {}", args.out.display());
    keep_samples(args, &run.x)
}

/// `--save` and `--png-dir`.
fn keep_samples(args: &SampleArgs, samples: &Tensor) -> Result<()> {
    if let Some(path) = &args.save {
        let conditions = match &args.expr {
            Some(text) => judge_conditions(&parse(text).map_err(|e| anyhow::anyhow!("{e}"))?, args.n),
            None => Vec::new(),
        };
        let about = serde_json::json!({"expression": args.expr, "models": args.model, "seed": args.seed});
        ebm::io::save_samples(path, samples, &conditions, &about)?;
        let names: Vec<&str> = conditions.iter().map(|(n, _)| n.as_str()).collect();
        println!(
            "wrote {} ({} samples; conditions: {})",
            path.display(),
            args.n,
            if names.is_empty() { "none".into() } else { names.join(", ") }
        );
    }
    if let (Some(judge), Some(text)) = (&args.judge, &args.expr) {
        let (judge, _) = ebm::judge::Judge::load(judge)?;
        let expr = parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let conditions = judge_conditions(&expr, args.n);
        crate::judge::print_scores(&ebm::judge::score(&judge, samples, &conditions)?);
        let judged = ebm::experiments::composition::judge_images(&judge, samples)?;
        let satisfied = ebm::experiments::composition::truth::satisfaction(&expr, &judged)?;
        println!("satisfied {:.4} ({} samples)", satisfied, args.n);
    }
    if let Some(dir) = &args.png_dir {
        if samples.dim() != 4 {
            bail!("--png-dir writes images; this model's samples are vectors (use --save)");
        }
        let count = ebm::io::write_png_dir(dir, samples)?;
        println!("wrote {count} PNGs to {}", dir.display());
    }
    Ok(())
}

fn example_value(kind: &ConceptKind) -> String {
    match kind {
        ConceptKind::Categorical { categories } => categories[0].clone(),
        ConceptKind::Continuous { components, range } => {
            let mid = (range.0 + range.1) / 2.0;
            let values: Vec<String> = components.iter().map(|_| format!("{mid}")).collect();
            if values.len() == 1 {
                values[0].clone()
            } else {
                format!("({})", values.join(","))
            }
        }
    }
}

fn write_chain(path: &std::path::Path, sampled: &Sampled, is_2d: bool, n: usize) -> Result<()> {
    if is_2d {
        let trace: Vec<(f64, f64)> = sampled.trace.iter().enumerate().map(|(i, &e)| (i as f64, e)).collect();
        return ebm::viz::line_plot(path, &[("mean energy", &trace)], "Langevin chain", "step", "E", (640, 400));
    }
    let shown = 16.min(n as i64);
    let frames: Vec<Tensor> = sampled.frames.iter().map(|f| f.narrow(0, 0, shown)).collect();
    let is_gif = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gif"));
    if is_gif {
        let size = frames[0].size();
        let flat: Vec<Vec<f32>> = frames.iter().map(to_flat).collect();
        let (c, h, w) = (size[1] as usize, size[2] as usize, size[3] as usize);
        let cols = (shown as f64).sqrt().ceil() as usize;
        ebm::viz::grid_animation(path, &flat, shown as usize, c, h, w, cols, "Langevin chain", 3, 120)?;
    } else {
        let columns = frames.len();
        write_image_grid(
            path,
            &Tensor::stack(&frames, 1).flatten(0, 1),
            Some(columns),
            "chains (rows) over steps (columns)",
        )?;
    }
    println!("wrote {}", path.display());
    Ok(())
}

fn to_flat(images: &Tensor) -> Vec<f32> {
    let mut flat = vec![0f32; images.numel()];
    images.to_kind(tch::Kind::Float).contiguous().copy_data(&mut flat, images.numel());
    flat
}

/// Images `[N, C, H, W]` in [0, 1] as a PNG grid of `cols` columns (default: square).
pub fn write_image_grid(path: &std::path::Path, images: &Tensor, cols: Option<usize>, title: &str) -> Result<()> {
    let size = images.size();
    let (n, c, h, w) = (size[0] as usize, size[1] as usize, size[2] as usize, size[3] as usize);
    let flat = to_flat(images);
    let cols = cols.unwrap_or((n as f64).sqrt().ceil() as usize);
    ebm::viz::image_grid(path, &flat, n, c, h, w, cols, None, Some(title), 2)
}

#[derive(Args)]
pub struct InfoArgs {
    /// Checkpoint to describe.
    pub model: PathBuf,
    /// Rewrite a checkpoint without a checksum over its tensors and card
    /// (written before checksums, or with a tensors-only one) so that its
    /// card carries one (the tensors are unchanged; the file is replaced atomically).
    #[arg(long)]
    pub add_checksum: bool,
}

pub fn info(args: InfoArgs) -> Result<()> {
    let model = load_checkpoint(&args.model)?;
    let covered = model
        .card
        .tensor_checksum
        .as_deref()
        .is_some_and(|c| c.starts_with(ebm::io::tensors::WITH_CARD));
    if args.add_checksum && !covered {
        ebm::checkpoint::save_checkpoint(&args.model, model.network.as_ref(), &model.card)?;
        let again = load_checkpoint(&args.model)?;
        println!(
            "wrote {} with checksum {}",
            args.model.display(),
            again.card.tensor_checksum.unwrap_or_default()
        );
        return Ok(());
    }
    println!("{}", serde_json::to_string_pretty(&model.card)?);
    Ok(())
}
