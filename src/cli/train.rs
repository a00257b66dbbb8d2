//! `ebm train`.

use crate::data::{Toy2d, Toy2dKind};
use crate::experiments::toy2d::{evaluate_toy, plot_toy, sample_toy, toy_architecture, toy_config};
use crate::train::state::{resume, STATE_FILE};
use crate::train::Trainer;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// What to train on.
    #[arg(value_enum)]
    pub dataset: Toy2dKind,
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
    /// Spectral norm on the hidden layers (off by default for 2-D toys).
    #[arg(long)]
    pub spectral_norm: bool,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let data = Toy2d::new(args.dataset, args.seed);
    let mut trainer = if args.resume {
        resume(&args.out, &data, args.steps)?
    } else {
        if args.out.join(STATE_FILE).exists() {
            bail!(
                "{} already holds a training run; pass --resume to continue it, or choose another --out",
                args.out.display()
            );
        }
        let mut config = toy_config(args.steps.unwrap_or(2000), args.seed);
        config.checkpoint_every = args.checkpoint_every;
        config.ema_decay = args.ema;
        let l = &mut config.langevin;
        l.step_size = args.step_size.unwrap_or(l.step_size);
        l.noise_std = args.noise.unwrap_or(l.noise_std);
        l.steps = args.langevin_steps.unwrap_or(l.steps);
        config.lr = args.lr.unwrap_or(config.lr);
        config.batch_size = args.batch_size.unwrap_or(config.batch_size);
        config.energy_l2 = args.energy_l2.unwrap_or(config.energy_l2);
        tch::manual_seed(args.seed as i64);
        let network = toy_architecture(args.spectral_norm).build(tch::Device::Cpu);
        Trainer::new(network, &data, config, Some(args.out.clone()))?
    };
    let summary = trainer.run(super::show_progress())?;
    let card = trainer.card();
    let samples = sample_toy(trainer.network.as_ref(), &card.sampler, 1000, 200, 1);
    let evaluation = evaluate_toy(args.dataset, &samples, args.seed);
    let picture = args.out.join("samples.png");
    let title = format!("{} after {} steps", args.dataset.name(), summary.steps);
    plot_toy(
        &picture,
        trainer.network.as_ref(),
        &samples,
        Some(&data.points(u64::MAX, 500)),
        &title,
    )?;
    println!(
        "trained {} steps in {:.1}s ({} divergences recovered); E+ {:.3} E- {:.3}",
        summary.steps, summary.seconds, summary.divergences, summary.last.e_pos, summary.last.e_neg
    );
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
    println!(
        "wrote {} and {}",
        args.out.join(crate::train::state::MODEL_FILE).display(),
        picture.display()
    );
    Ok(())
}
