//! `ebm sample` and `ebm info`.

use crate::compose::{compose, ConceptLibrary, Settings};
use crate::energy::{load_checkpoint, ConceptKind};
use crate::experiments::shapes::{chain_starts, IMAGE_SIZE, SHOWCASE_STEPS};
use crate::experiments::toy2d::plot_toy;
use crate::sample::{langevin, ChainStart, LangevinOptions, LangevinOverrides, Sampled};
use anyhow::{bail, Result};
use clap::Args;
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
    pub langevin: LangevinOverrides,
    #[command(flatten)]
    pub settings: Settings,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also show the sampling chain: a .gif animates the chains, a .png lays
    /// frames out as columns (2-D models: mean energy per step).
    #[arg(long)]
    pub chain: Option<PathBuf>,
}

pub fn run(args: SampleArgs) -> Result<()> {
    if args.n == 0 {
        bail!("-n must be at least 1");
    }
    args.settings.validate()?;
    let library;
    let single;
    let models;
    let composed;
    let (energy, sampler, input_shape, title): (&dyn crate::energy::Energy, _, _, String) = match &args.expr {
        Some(text) => {
            library = ConceptLibrary::load(&args.model)?;
            models = library.concept_models();
            composed = compose(text, &models, &args.settings)?;
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
            single = load_checkpoint(&path)?;
            if let Some(concept) = &single.card.concept {
                bail!(
                    "{} is conditioned on '{}'; say which value with --expr, e.g. --expr \"{}={}\"",
                    path.display(),
                    concept.name,
                    concept.name,
                    example_value(&concept.kind)
                );
            }
            let shape = single.card.architecture.input_shape();
            (single.network.as_ref(), single.card.sampler.clone(), shape, "samples".to_string())
        }
    };
    let is_2d = input_shape == [2];
    let config = args
        .langevin
        .apply(sampler.langevin.clone(), if is_2d { 200 } else { SHOWCASE_STEPS });
    tch::manual_seed(args.seed as i64);
    let mut shape = vec![args.n as i64];
    shape.extend(input_shape);
    let x0 = match sampler.start {
        ChainStart::Noise => sampler.init.sample(&shape),
        start if shape[1..] == [3, IMAGE_SIZE, IMAGE_SIZE] => chain_starts(start, args.n, args.seed),
        start => bail!("the models start chains from {start:?} scenes, which only `shapes` models (3×{IMAGE_SIZE}×{IMAGE_SIZE}) have"),
    };
    let options = LangevinOptions {
        trace: true,
        record_every: Some((config.steps / 20).max(1)),
        ..Default::default()
    };
    let sampled = langevin(energy, &x0, None, &config, &options);
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
        return crate::viz::line_plot(path, &[("mean energy", &trace)], "Langevin chain", "step", "E", (640, 400));
    }
    let shown = 16.min(n as i64);
    let frames: Vec<Tensor> = sampled.frames.iter().map(|f| f.narrow(0, 0, shown)).collect();
    let is_gif = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gif"));
    if is_gif {
        let size = frames[0].size();
        let flat: Vec<Vec<f32>> = frames.iter().map(to_flat).collect();
        let (c, h, w) = (size[1] as usize, size[2] as usize, size[3] as usize);
        let cols = (shown as f64).sqrt().ceil() as usize;
        crate::viz::grid_animation(path, &flat, shown as usize, c, h, w, cols, "Langevin chain", 3, 120)?;
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
    crate::viz::image_grid(path, &flat, n, c, h, w, cols, None, Some(title), 2)
}

#[derive(Args)]
pub struct InfoArgs {
    /// Checkpoint to describe.
    pub model: PathBuf,
}

pub fn info(args: InfoArgs) -> Result<()> {
    let model = load_checkpoint(&args.model)?;
    println!("{}", serde_json::to_string_pretty(&model.card)?);
    Ok(())
}
