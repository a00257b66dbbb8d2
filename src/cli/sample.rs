//! `ebm sample` and `ebm info`.

use crate::energy::{load_checkpoint, Architecture};
use crate::experiments::toy2d::plot_toy;
use crate::sample::{langevin, LangevinOptions};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use tch::Tensor;

#[derive(Args)]
pub struct SampleArgs {
    /// Checkpoint written by `ebm train` (model.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// Number of samples.
    #[arg(short, default_value_t = 1000)]
    pub n: usize,
    /// Output PNG.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Langevin steps from noise (default: 200 for 2-D models, else the card's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Langevin step size λ (default: the model card's).
    #[arg(long)]
    pub step_size: Option<f64>,
    /// Langevin noise std σ (default: the model card's).
    #[arg(long)]
    pub noise: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write a picture of the sampling chain (mean energy per step for
    /// 2-D models, frames of a few chains for images).
    #[arg(long)]
    pub chain: Option<PathBuf>,
}

pub fn run(args: SampleArgs) -> Result<()> {
    if args.n == 0 {
        bail!("-n must be at least 1");
    }
    let model = load_checkpoint(&args.model)?;
    if let Some(concept) = &model.card.concept {
        bail!(
            "{} is conditioned on '{}'; conditional sampling arrives with composition expressions (--expr)",
            args.model.display(),
            concept.name
        );
    }
    let mut config = model.card.sampler.langevin.clone();
    let is_2d = matches!(&model.card.architecture, Architecture::Mlp(c) if c.input_dim == 2);
    config.steps = args.steps.unwrap_or(if is_2d { 200 } else { config.steps });
    config.step_size = args.step_size.unwrap_or(config.step_size);
    config.noise_std = args.noise.unwrap_or(config.noise_std);
    tch::manual_seed(args.seed as i64);
    let mut shape = vec![args.n as i64];
    shape.extend(model.card.architecture.input_shape());
    let x0 = model.card.sampler.init.sample(&shape);
    let options = LangevinOptions {
        trace: true,
        record_every: Some((config.steps / 10).max(1)),
        ..Default::default()
    };
    let sampled = langevin(model.network.as_ref(), &x0, None, &config, &options);
    if is_2d {
        let title = format!("{} samples, {} Langevin steps", args.n, config.steps);
        plot_toy(&args.out, model.network.as_ref(), &sampled.x, None, &title)?;
    } else {
        write_image_grid(&args.out, &sampled.x, None, "samples")?;
    }
    if let Some(chain) = &args.chain {
        if is_2d {
            let trace: Vec<(f64, f64)> = sampled.trace.iter().enumerate().map(|(i, &e)| (i as f64, e)).collect();
            crate::viz::line_plot(chain, &[("mean energy", &trace)], "Langevin chain", "step", "E", (640, 400))?;
        } else {
            let frames: Vec<Tensor> = sampled.frames.iter().map(|f| f.narrow(0, 0, 8.min(args.n as i64))).collect();
            let columns = frames.len();
            write_image_grid(
                chain,
                &Tensor::stack(&frames, 1).flatten(0, 1),
                Some(columns),
                "chains (rows) over steps (columns)",
            )?;
        }
    }
    println!("wrote {}", args.out.display());
    Ok(())
}

/// Images `[N, C, H, W]` in [0, 1] as a PNG grid of `cols` columns (default: square).
pub fn write_image_grid(path: &std::path::Path, images: &Tensor, cols: Option<usize>, title: &str) -> Result<()> {
    let size = images.size();
    let (n, c, h, w) = (size[0] as usize, size[1] as usize, size[2] as usize, size[3] as usize);
    let mut flat = vec![0f32; images.numel()];
    images.to_kind(tch::Kind::Float).contiguous().copy_data(&mut flat, images.numel());
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
