//! `ebm train comet …` and `ebm comet decompose | recombine`.

use crate::train::TrainArgs;
use crate::Context;
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use ebm::comet::data::CometData;
use ebm::comet::decompose::{decompose, MaskSource};
use ebm::comet::descent::start_noise;
use ebm::comet::pictures::decomposition_grid;
use ebm::comet::train::{train, CometTrainConfig, TrainState};
use ebm::comet::{Comet, CometCard, CometConfig, EncoderKind, EnergyKind, ReconstructionLoss, SlotStart, Unroll};
use ebm::io::write_tensor_file;
use std::path::{Path, PathBuf};

/// Flags of `ebm train comet` (with --out, --steps, --batch-size, --lr,
/// --seed, --resume, --latent and --step-size shared with every model).
#[derive(Args)]
pub struct CometFlags {
    /// For `comet`: the images to decompose (multi-shapes: objects; shapes or
    /// sprites: global factors).
    #[arg(long)]
    pub data: Option<CometData>,
    /// For `comet`: components K per image (default 5 for multi-shapes, 2 otherwise).
    #[arg(long)]
    pub components: Option<i64>,
    /// For `comet`: encoder (slots or global; default slots for multi-shapes).
    #[arg(long)]
    pub encoder: Option<EncoderKind>,
    /// For `comet`: where slots start: learned per slot, or sampled from
    /// one learned Gaussian.
    #[arg(long)]
    pub slot_start: Option<SlotStart>,
    /// For `comet`: each component's energy: a network of the image
    /// (network) or Gaussian experts competing for pixels (experts).
    #[arg(long)]
    pub energy: Option<EnergyKind>,
    /// For `comet`: back-propagate through one descent step at a time
    /// (truncated, the published code) or through all of them (full).
    #[arg(long)]
    pub unroll: Option<Unroll>,
    /// For `comet`: loss on the final iterate or summed over all steps.
    #[arg(long)]
    pub recon_loss: Option<ReconstructionLoss>,
    /// For `comet`: descent steps N of the reconstruction.
    #[arg(long)]
    pub descent_steps: Option<usize>,
    /// For `comet`: octaves of sine features of place that Gaussian-expert
    /// fields read beside the coordinates (0: the coordinates alone).
    #[arg(long)]
    pub field_octaves: Option<usize>,
    /// For `comet`: channels of the encoder and energy networks.
    #[arg(long)]
    pub width: Option<i64>,
    /// For `comet` and `beta-vae`: image size (multiple of 8; default 32).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// For `beta-vae`: weight β of the KL term (default 4).
    #[arg(long)]
    pub beta: Option<f64>,
}

fn config(args: &TrainArgs, data: CometData) -> CometConfig {
    let flags = &args.comet;
    let mut config = match data {
        CometData::MultiShapes => CometConfig::objects(),
        _ => CometConfig::global(),
    };
    config.channels = data.channels();
    config.size = flags.image_size.unwrap_or(32) as i64;
    config.components = flags.components.unwrap_or(config.components);
    config.latent = args.latent.unwrap_or(config.latent);
    config.encoder = flags.encoder.unwrap_or(config.encoder);
    config.energy = flags.energy.unwrap_or(config.energy);
    config.slot_start = flags.slot_start.unwrap_or(config.slot_start);
    config.field_octaves = flags.field_octaves.unwrap_or(config.field_octaves);
    if let Some(width) = flags.width {
        (config.encoder_width, config.energy_width) = (width, width);
    }
    let descent = &mut config.descent;
    descent.unroll = flags.unroll.unwrap_or(descent.unroll);
    descent.loss = flags.recon_loss.unwrap_or(descent.loss);
    descent.steps = flags.descent_steps.unwrap_or(descent.steps);
    descent.step_size = args.step_size.unwrap_or(descent.step_size);
    config
}

/// `ebm train comet`: trains, writes `out/comet.safetensors`, the state to
/// resume from, the log and a decomposition picture of held-out images.
pub fn run_train(args: &TrainArgs, context: &Context) -> Result<()> {
    let data = args
        .comet
        .data
        .context("`ebm train comet` needs --data multi-shapes, shapes or sprites")?;
    let config = config(args, data);
    config.validate().map_err(|e| anyhow::anyhow!("invalid COMET settings: {e}"))?;
    let defaults = CometTrainConfig::default();
    let train_config = CometTrainConfig {
        steps: args.steps.unwrap_or(defaults.steps),
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        learning_rate: args.lr.unwrap_or(defaults.learning_rate),
        seed: args.seed,
        ..defaults
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let state_path = args.out.join("state.safetensors");
    ebm::seed::seed_torch(args.seed, &[0x494E_4954]);
    let model = Comet::new(config.clone(), context.device).map_err(|e| anyhow::anyhow!("invalid COMET settings: {e}"))?;
    let mut state = match args.resume {
        true => TrainState::load(&state_path, &model)?,
        false if state_path.exists() => bail!(
            "{} exists: pass --resume to continue that run, or choose another --out",
            state_path.display()
        ),
        false => TrainState::new(&model),
    };
    eprintln!("COMET on {data}: {} parameters, {:?}", model.parameter_count(), config);
    let size = config.size as usize;
    let device = context.device;
    let images = |step: u64, n: usize| data.images(size, args.seed, step * n as u64, n).to_device(device);
    let card = CometCard::new(
        config,
        data.describe(size, args.seed),
        serde_json::json!({"config": train_config, "command": std::env::args().collect::<Vec<_>>().join(" ")}),
    );
    let checkpoint = args.out.join("comet.safetensors");
    let mut save = |state: &TrainState| -> Result<()> {
        state.save(&state_path, &model)?;
        let mut card = card.clone();
        card.metrics = serde_json::json!({"step": state.step, "log": state.log.last()});
        model.save(&checkpoint, &card)
    };
    train(&model, &train_config, &mut state, &images, &context.progress, &mut save)?;
    std::fs::write(args.out.join("log.json"), serde_json::to_string_pretty(&state.log)?)?;
    let held_out = data.images(size, args.seed + 1, 0, 8).to_device(device);
    ebm::seed::seed_torch(args.seed, &[0x5049_4354]);
    let parts = decompose(&model, &held_out, &start_noise(&held_out), MaskSource::Image);
    let picture = args.out.join("decomposition.png");
    decomposition_grid(&picture, &held_out, &parts, &format!("COMET on {data}, step {}", state.step))?;
    println!("wrote {} and {}", checkpoint.display(), picture.display());
    Ok(())
}

#[derive(Args)]
pub struct CometArgs {
    #[command(subcommand)]
    pub command: CometCommand,
}

#[derive(Subcommand)]
pub enum CometCommand {
    /// Split images into components: masks, renderings and a picture.
    Decompose(DecomposeArgs),
    /// Rebuild images from chosen components of two image sets, of one
    /// model or of two: image i of --images with image i of --with-images.
    Recombine(RecombineArgs),
}

#[derive(Args)]
pub struct RecombineArgs {
    /// The first COMET checkpoint.
    #[arg(long)]
    pub model: PathBuf,
    /// Images for the first model (PNG directory, .npy or safetensors `images`).
    #[arg(long)]
    pub images: PathBuf,
    /// Components of the first model to keep (default: all).
    #[arg(long, value_delimiter = ',')]
    pub components: Option<Vec<i64>>,
    /// A second checkpoint (default: the first model again).
    #[arg(long)]
    pub with_model: Option<PathBuf>,
    /// Images whose components are added.
    #[arg(long)]
    pub with_images: PathBuf,
    /// Components of the second images to add (default: all).
    #[arg(long, value_delimiter = ',')]
    pub with_components: Option<Vec<i64>>,
    /// Output folder: recombined.png (rows: first, second, recombined) and recombined.safetensors.
    #[arg(long, short)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args)]
pub struct DecomposeArgs {
    /// A COMET checkpoint (from `ebm train comet`).
    #[arg(long)]
    pub model: PathBuf,
    /// Images: a directory of PNGs, a .npy array or a safetensors file with an `images` tensor.
    #[arg(long)]
    pub images: PathBuf,
    #[arg(long, short)]
    pub out: PathBuf,
    /// Seed of the descent's start noise (and of sampled slots).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Take masks at the image (default) or at its reconstruction.
    #[arg(long)]
    pub at_reconstruction: bool,
}

pub fn run(args: CometArgs, context: &Context) -> Result<()> {
    match args.command {
        CometCommand::Decompose(args) => run_decompose(&args, context),
        CometCommand::Recombine(args) => run_recombine(&args, context),
    }
}

/// Latents of `images` under `model`, keeping `chosen` components (checked against K).
fn chosen_latents(model: &Comet, images: &tch::Tensor, chosen: &Option<Vec<i64>>, flag: &str) -> Result<tch::Tensor> {
    let z = model.encode(images).detach();
    let k = model.config.components;
    let Some(chosen) = chosen else { return Ok(z) };
    if let Some(bad) = chosen.iter().find(|&&c| c < 0 || c >= k) {
        bail!("{flag}: component {bad} does not exist; the model has components 0..{}", k - 1);
    }
    Ok(z.index_select(1, &tch::Tensor::from_slice(chosen).to_device(z.device())))
}

fn run_recombine(args: &RecombineArgs, context: &Context) -> Result<()> {
    let (first, _) = Comet::load(&args.model, context.device)?;
    let second = match &args.with_model {
        Some(path) => Some(Comet::load(path, context.device)?.0),
        None => None,
    };
    let other = second.as_ref().unwrap_or(&first);
    if (other.config.channels, other.config.size) != (first.config.channels, first.config.size) {
        bail!(
            "--with-model takes {}×{}×{} images and --model {}×{}×{}; recombined models must draw the same images",
            other.config.channels,
            other.config.size,
            other.config.size,
            first.config.channels,
            first.config.size,
            first.config.size
        );
    }
    let (c, s) = (first.config.channels, first.config.size);
    let a = ebm::io::images::read_images(&args.images, c, s)?.to_device(context.device);
    let b = ebm::io::images::read_images(&args.with_images, c, s)?.to_device(context.device);
    let n = a.size()[0].min(b.size()[0]);
    let (a, b) = (a.narrow(0, 0, n), b.narrow(0, 0, n));
    // Before encoding: sampled slots draw from the generator.
    ebm::seed::seed_torch(args.seed, &[0x5245_434D]);
    let parts = [
        (&first, chosen_latents(&first, &a, &args.components, "--components")?),
        (other, chosen_latents(other, &b, &args.with_components, "--with-components")?),
    ];
    let recombined = ebm::comet::descent::rebuild(&parts, &start_noise(&a));
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let tensors = vec![("images".to_string(), recombined.shallow_clone())];
    write_tensor_file(
        &args.out.join("recombined.safetensors"),
        &tensors,
        &serde_json::json!({"recombined": n}),
    )?;
    let shown = n.min(16);
    let colour = |x: &tch::Tensor| if c == 1 { x.repeat([1, 3, 1, 1]) } else { x.shallow_clone() };
    let rows = vec![
        ("first".to_string(), colour(&a.narrow(0, 0, shown))),
        ("second".to_string(), colour(&b.narrow(0, 0, shown))),
        ("recombined".to_string(), colour(&recombined.narrow(0, 0, shown))),
    ];
    ebm::experiments::shapes::write_labelled_rows(&args.out.join("recombined.png"), &rows, "COMET recombination")?;
    println!("recombined {n} image pairs: {}", args.out.display());
    Ok(())
}

fn run_decompose(args: &DecomposeArgs, context: &Context) -> Result<()> {
    let (model, _) = Comet::load(&args.model, context.device)?;
    let (c, s) = (model.config.channels, model.config.size);
    let images = ebm::io::images::read_images(&args.images, c, s)?.to_device(context.device);
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    ebm::seed::seed_torch(args.seed, &[0x4443_4D50]);
    let source = if args.at_reconstruction {
        MaskSource::Reconstruction
    } else {
        MaskSource::Image
    };
    let parts = decompose(&model, &images, &start_noise(&images), source);
    write_outputs(&args.out, &images, &parts)?;
    println!(
        "decomposed {} images into {} components each: {}",
        images.size()[0],
        parts.masks.size()[1],
        args.out.display()
    );
    Ok(())
}

/// `masks.safetensors` (masks, latents, reconstructions, renderings), a PNG
/// per component mask and rendering, and `decomposition.png`.
fn write_outputs(out: &Path, images: &tch::Tensor, parts: &ebm::comet::decompose::Decomposition) -> Result<()> {
    let tensors = vec![
        ("masks".to_string(), parts.masks.to_kind(tch::Kind::Float)),
        ("latents".to_string(), parts.latents.shallow_clone()),
        ("reconstructions".to_string(), parts.reconstruction.shallow_clone()),
        ("renderings".to_string(), parts.renderings.shallow_clone()),
    ];
    let meta = serde_json::json!({"masks": "[N, K, H, W]: each pixel's share per component (of the energy gradient; for Gaussian-expert energies, of the precision weighted by the colour fit); sums to 1 over K"});
    write_tensor_file(&out.join("masks.safetensors"), &tensors, &meta)?;
    let k = parts.masks.size()[1];
    for i in 0..k {
        ebm::io::samples::write_png_dir(&out.join(format!("mask_{i}")), &parts.masks.select(1, i).unsqueeze(1))?;
        ebm::io::samples::write_png_dir(&out.join(format!("component_{i}")), &parts.renderings.select(1, i))?;
    }
    let shown = images.size()[0].min(16);
    let first = ebm::comet::decompose::Decomposition {
        latents: parts.latents.narrow(0, 0, shown),
        reconstruction: parts.reconstruction.narrow(0, 0, shown),
        masks: parts.masks.narrow(0, 0, shown),
        renderings: parts.renderings.narrow(0, 0, shown),
    };
    decomposition_grid(
        &out.join("decomposition.png"),
        &images.narrow(0, 0, shown),
        &first,
        "COMET decomposition",
    )
}

/// `ebm train beta-vae --data shapes|sprites`: the disentanglement baseline,
/// written to `out/beta-vae.safetensors`.
pub fn run_train_beta_vae(args: &TrainArgs, context: &Context) -> Result<()> {
    use ebm::comet::beta_vae::{train_beta_vae, BetaVaeConfig};
    let data = args.comet.data.context("`ebm train beta-vae` needs --data shapes or sprites")?;
    let defaults = BetaVaeConfig::default();
    let size = args.comet.image_size.unwrap_or(32);
    let config = BetaVaeConfig {
        channels: data.channels(),
        size: size as i64,
        latent: args.latent.unwrap_or(defaults.latent),
        beta: args.comet.beta.unwrap_or(defaults.beta),
        learning_rate: args.lr.unwrap_or(defaults.learning_rate),
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        steps: args.steps.unwrap_or(defaults.steps),
        seed: args.seed,
        ..defaults
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let device = context.device;
    let images = |step: u64, n: usize| data.images(size, args.seed, step * n as u64, n).to_device(device);
    let (model, log) = train_beta_vae(&config, &images, &context.progress)?;
    let path = args.out.join("beta-vae.safetensors");
    let metrics = serde_json::json!({"command": std::env::args().collect::<Vec<_>>().join(" "), "last": log.steps.last()});
    model.save(&path, data.describe(size, args.seed), metrics)?;
    println!("wrote {}", path.display());
    Ok(())
}
