//! `ebm bench`: how fast ebm samples and trains, beside PyTorch running the
//! same model (bench/langevin_ref.py) in the same command, alternating so
//! drift in the machine's speed hits both alike, and as a fraction of the
//! machine's measured peak (`ebm bench peak`).

mod data;
mod langevin;
mod peak;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ebm::energy::{Compute, ConvConfig};
use ebm::sample::LangevinConfig;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand)]
pub enum BenchWhat {
    /// Langevin sampling steps per second.
    Langevin(TimedArgs),
    /// Training updates per second: one contrastive-divergence update with its chain.
    Train(TimedArgs),
    /// The machine's practical peak GFLOP/s (matmul; 3×3 conv in both layouts).
    Peak(PeakArgs),
    /// Procedural data generation, images per second.
    Data(data::DataBenchArgs),
}

#[derive(Args)]
pub struct PeakArgs {
    /// Seconds of timing per shape.
    #[arg(long, default_value_t = 1.0)]
    pub budget: f64,
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args)]
pub struct TimedArgs {
    /// Comma-separated: cifar (3×32×32, widths 64/128/256), mnist (1×28×28, widths 32/64/64).
    #[arg(long, default_value = "cifar,mnist")]
    pub configs: String,
    /// Comma-separated compute modes: fp32-nchw, fp32-nhwc, bf16-nchw, bf16-nhwc.
    #[arg(long, default_value = "fp32-nchw,fp32-nhwc,bf16-nchw,bf16-nhwc")]
    pub computes: String,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed steps (Langevin steps, or training updates) per configuration.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Langevin steps in each training update's chain (`bench train`).
    #[arg(long, default_value_t = 20)]
    pub chain_steps: usize,
    /// `bench train`: cd (one contrastive-divergence update with its chain)
    /// or dsm (one denoising-score-matching step with its double backward,
    /// on the default denoiser energy).
    #[arg(long, default_value = "cd")]
    pub objective: String,
    /// Python with torch for the reference (default: the one scripts/setup-torch.sh installed).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the PyTorch reference.
    #[arg(long)]
    pub no_reference: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Alternate ebm and PyTorch this many times and keep each one's best
    /// rate, so drift in the machine's speed hits both alike.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct BenchRow {
    /// `langevin` or `train`.
    pub mode: String,
    pub config: String,
    /// `fp32-nchw`, `bf16-nhwc`, …
    pub compute: String,
    pub batch: i64,
    pub steps: usize,
    pub ebm_steps_per_s: f64,
    /// PyTorch in the same compute mode.
    pub pytorch_steps_per_s: Option<f64>,
    /// PyTorch in its fastest mode for this model.
    pub pytorch_best_steps_per_s: Option<f64>,
    /// ebm / PyTorch's best.
    pub ratio_to_pytorch_best: Option<f64>,
    /// ebm / ebm's fp32-nchw on the same model.
    pub speedup_over_fp32: Option<f64>,
    /// Nominal GFLOP of one step (see `ConvConfig::forward_flops`); NaN
    /// where not counted (the denoiser).
    pub gflop_per_step: f64,
    pub ebm_gflops: f64,
    /// ebm's GFLOP/s over this machine's 3×3-conv peak in the same mode.
    pub fraction_of_peak: f64,
}

pub fn architecture(name: &str) -> Result<(ConvConfig, i64)> {
    let (channels, size, widths) = match name {
        "cifar" => (3, 32, vec![64, 128, 256]),
        "mnist" => (1, 28, vec![32, 64, 64]),
        other => bail!("unknown bench configuration '{other}'; choose cifar or mnist"),
    };
    // Residual branches on (gain 0.1, as in the reference) so they cost what they will in training.
    let config = ConvConfig {
        residual_gain: 0.1,
        ..ConvConfig::base(channels, size, &widths)
    };
    Ok((config, 128))
}

/// The sampler settings of the published CIFAR code: λ/2 = 5 on a clipped gradient.
pub fn bench_sampler(steps: usize) -> LangevinConfig {
    LangevinConfig {
        step_size: 10.0,
        noise_std: 0.005,
        steps,
        grad_clip: Some(0.01),
        clamp: Some((0.0, 1.0)),
    }
}

fn default_python() -> PathBuf {
    if let Ok(p) = std::env::var("EBM_TORCH_PYTHON") {
        return PathBuf::from(p);
    }
    crate::home::shipped(".torch-venv/bin/python")
}

/// Runs the reference script once over every configuration and mode asked;
/// returns (config, compute label) → steps/s.
fn run_reference(args: &TimedArgs, mode: &str, configs: &[&str], computes: &[Compute]) -> Result<Vec<(String, String, f64)>> {
    let python = args.python.clone().unwrap_or_else(default_python);
    let script = crate::home::shipped("bench/langevin_ref.py");
    let mut results = Vec::new();
    for compute in computes {
        let precision = compute.precision.name();
        let layout = if compute.channels_last { "nhwc" } else { "nchw" };
        let output = std::process::Command::new(&python)
            .arg(&script)
            .args([
                "--mode",
                mode,
                "--configs",
                &configs.join(","),
                "--precisions",
                precision,
                "--layouts",
                layout,
            ])
            .args(["--warmup", &args.warmup.to_string(), "--steps", &args.steps.to_string()])
            .args(["--chain-steps", &args.chain_steps.to_string()])
            .args(["--threads", &tch::get_num_threads().to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| {
                format!(
                    "cannot run {} (run scripts/setup-torch.sh, or pass --python, or --no-reference)",
                    python.display()
                )
            })?;
        if !output.status.success() {
            bail!("the PyTorch reference failed ({})", output.status);
        }
        for line in String::from_utf8_lossy(&output.stdout).lines().filter(|l| l.starts_with('{')) {
            let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("bad reference output line: {line}"))?;
            let config = v["config"]
                .as_str()
                .with_context(|| format!("reference output lacks 'config': {line}"))?;
            let rate = v["steps_per_s"].as_f64().context("reference output lacks steps_per_s")?;
            results.push((config.to_string(), compute.label(), rate));
        }
    }
    Ok(results)
}

fn parse_computes(text: &str, device: tch::Device) -> Result<Vec<Compute>> {
    text.split(',')
        .map(|c| Compute::parse(c, device).map_err(anyhow::Error::msg))
        .collect()
}

/// Nominal GFLOP of one step: a Langevin step is a forward pass and an
/// input gradient (2F); a CD update is its chain plus E⁺ and E⁻ forward
/// with input and weight gradients (2F·chain + 2·3F).
fn gflop_per_step(mode: &str, config: Option<&ConvConfig>, batch: i64, chain_steps: usize) -> f64 {
    let forward = config.map_or(f64::NAN, |c| c.forward_flops(batch) / 1e9);
    match mode {
        "langevin" => 2.0 * forward,
        _ => forward * (2.0 * chain_steps as f64 + 6.0),
    }
}

/// The bench model of a configuration name (`denoiser`: none, the dsm step builds its own).
fn bench_model(name: &str) -> Result<(Option<ConvConfig>, i64)> {
    match name {
        "denoiser" => Ok((None, 128)),
        _ => architecture(name).map(|(config, batch)| (Some(config), batch)),
    }
}

fn time_ebm(mode: &str, config: Option<&ConvConfig>, batch: i64, compute: Compute, args: &TimedArgs, device: tch::Device) -> Result<f64> {
    match (mode, config) {
        ("langevin", Some(config)) => langevin::time_langevin(config, batch, compute, args.warmup, args.steps, device),
        ("train", Some(config)) => langevin::time_cd_update(config, batch, compute, (args.warmup, args.steps, args.chain_steps), device),
        ("dsm", _) => langevin::time_dsm_step(batch, compute, (args.warmup, args.steps), device),
        _ => bail!("the {mode} bench has no model '{}'", args.configs),
    }
}

/// `ebm bench langevin` / `ebm bench train`.
fn run_timed(mode: &str, args: TimedArgs, device: tch::Device) -> Result<()> {
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let configs: Vec<&str> = match mode {
        "dsm" => vec!["denoiser"],
        _ => args.configs.split(',').map(str::trim).collect(),
    };
    let computes = parse_computes(&args.computes, device)?;
    println!("{}", peak::describe_machine(device));
    let peaks: Vec<(String, f64)> = computes
        .iter()
        .map(|c| (c.label(), peak::conv_peak(*c, device, 0.5).gflops))
        .collect();
    let mut rows: Vec<BenchRow> = Vec::new();
    for round in 0..args.rounds.max(1) {
        for config_name in &configs {
            let (config, batch) = bench_model(config_name)?;
            for compute in &computes {
                let rate = time_ebm(mode, config.as_ref(), batch, *compute, &args, device)?;
                eprintln!("round {round}: ebm {mode} {config_name} {}: {rate:.3} steps/s", compute.label());
                let gflop = gflop_per_step(mode, config.as_ref(), batch, args.chain_steps);
                match rows.iter_mut().find(|r| r.config == *config_name && r.compute == compute.label()) {
                    Some(r) => r.ebm_steps_per_s = r.ebm_steps_per_s.max(rate),
                    None => rows.push(BenchRow {
                        mode: mode.into(),
                        config: config_name.to_string(),
                        compute: compute.label(),
                        batch,
                        steps: args.steps,
                        ebm_steps_per_s: rate,
                        pytorch_steps_per_s: None,
                        pytorch_best_steps_per_s: None,
                        ratio_to_pytorch_best: None,
                        speedup_over_fp32: None,
                        gflop_per_step: gflop,
                        ebm_gflops: 0.0,
                        fraction_of_peak: 0.0,
                    }),
                }
            }
        }
        if !args.no_reference {
            for (config, compute, rate) in run_reference(&args, mode, &configs, &computes)? {
                eprintln!("round {round}: pytorch {mode} {config} {compute}: {rate:.3} steps/s");
                if let Some(r) = rows.iter_mut().find(|r| r.config == config && r.compute == compute) {
                    r.pytorch_steps_per_s = Some(r.pytorch_steps_per_s.map_or(rate, |best| best.max(rate)));
                }
            }
        }
    }
    finish_rows(&mut rows, &peaks);
    print_rows(&rows);
    if let Some(path) = &args.json {
        ebm::io::write_atomically(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    Ok(())
}

/// Fills in the comparisons: PyTorch's best mode per model, speed-ups over
/// fp32 NCHW, GFLOP/s and fractions of peak.
fn finish_rows(rows: &mut [BenchRow], peaks: &[(String, f64)]) {
    let snapshot = rows.to_vec();
    for r in rows.iter_mut() {
        let same_model = snapshot.iter().filter(|o| o.config == r.config);
        r.pytorch_best_steps_per_s = same_model.clone().filter_map(|o| o.pytorch_steps_per_s).reduce(f64::max);
        r.ratio_to_pytorch_best = r.pytorch_best_steps_per_s.map(|best| r.ebm_steps_per_s / best);
        r.speedup_over_fp32 = same_model
            .clone()
            .find(|o| o.compute == Compute::REFERENCE.label())
            .map(|o| r.ebm_steps_per_s / o.ebm_steps_per_s);
        r.ebm_gflops = r.gflop_per_step * r.ebm_steps_per_s;
        let peak = peaks.iter().find(|(c, _)| *c == r.compute).map_or(f64::NAN, |p| p.1);
        r.fraction_of_peak = r.ebm_gflops / peak;
    }
}

fn print_rows(rows: &[BenchRow]) {
    println!(
        "{:<8} {:<10} {:>10} {:>10} {:>11} {:>8} {:>8} {:>8} {:>7}",
        "model", "compute", "ebm/s", "torch/s", "torch best", "ratio", "vs fp32", "GFLOP/s", "of peak"
    );
    let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
    for r in rows {
        println!(
            "{:<8} {:<10} {:>10.3} {:>10} {:>11} {:>8} {:>8} {:>8.0} {:>6.1}%",
            r.config,
            r.compute,
            r.ebm_steps_per_s,
            show(r.pytorch_steps_per_s),
            show(r.pytorch_best_steps_per_s),
            show(r.ratio_to_pytorch_best),
            show(r.speedup_over_fp32),
            r.ebm_gflops,
            100.0 * r.fraction_of_peak
        );
    }
}

pub fn run(args: BenchArgs, context: &crate::Context) -> Result<()> {
    match args.what {
        BenchWhat::Langevin(args) => run_timed("langevin", args, context.device),
        BenchWhat::Train(args) => match args.objective.as_str() {
            "cd" => run_timed("train", args, context.device),
            "dsm" => run_timed("dsm", args, context.device),
            other => bail!("unknown --objective '{other}'; choose cd or dsm"),
        },
        BenchWhat::Peak(args) => peak::run(context.device, args.budget, args.json.as_deref()),
        BenchWhat::Data(args) => data::bench_data(args),
    }
}
