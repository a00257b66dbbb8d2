//! `ebm bench langevin`: Langevin steps/s of our ConvEnergy beside the same
//! model in PyTorch (bench/langevin_ref.py), run one after the other in one
//! command with the same thread count.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ebm::energy::conv::SpatialPool;
use ebm::energy::network::{cast_network, named_parameters};
use ebm::energy::{Activation, Architecture, ConvConfig, Network};
use ebm::sample::{langevin, LangevinConfig, LangevinOptions};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;
use tch::{Kind, Tensor};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand)]
pub enum BenchWhat {
    /// Langevin sampling steps per second.
    Langevin(LangevinBenchArgs),
    /// Procedural data generation, images per second.
    Data(DataBenchArgs),
}

#[derive(Args)]
pub struct DataBenchArgs {
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Images per dataset.
    #[arg(short, default_value_t = 4096)]
    pub n: usize,
}

/// Images/s of each generator, and a training batch's generation time
/// against one Langevin step of the 3×32×32 bench model.
fn bench_data(args: DataBenchArgs) -> Result<()> {
    use ebm::data::{shapes::MultiShapes, shapes::Shapes, sprites::Sprites};
    if args.n == 0 || !(8..=256).contains(&args.size) {
        bail!("need -n ≥ 1 and --size in 8..=256");
    }
    let (config, batch) = architecture("cifar")?;
    let langevin_step = 1.0 / time_ours(&config, batch, "fp32", 1, 3, tch::Device::Cpu)?;
    println!(
        "data generation at {}px on {} threads; one Langevin step of the 32px model takes {:.0} ms",
        args.size,
        rayon::current_num_threads(),
        langevin_step * 1e3
    );
    let timed = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        args.n as f64 / started.elapsed().as_secs_f64()
    };
    let rates = [
        ("shapes", timed(&|| drop(Shapes::new(args.size, 0).batch(0, args.n)))),
        ("multi-shapes", timed(&|| drop(MultiShapes::new(args.size, 0).batch(0, args.n)))),
        ("sprites", timed(&|| drop(Sprites::new(args.size, 0).batch(0, args.n)))),
    ];
    println!(
        "{:<13} {:>10} {:>16} {:>22}",
        "dataset", "images/s", "ms per 128", "% of a Langevin step"
    );
    for (name, rate) in rates {
        let per_batch = batch as f64 / rate;
        println!(
            "{:<13} {:>10.0} {:>16.1} {:>21.2}%",
            name,
            rate,
            per_batch * 1e3,
            100.0 * per_batch / langevin_step
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct LangevinBenchArgs {
    /// Comma-separated: cifar (3×32×32, widths 64/128/256), mnist (1×28×28, widths 32/64/64).
    #[arg(long, default_value = "cifar,mnist")]
    pub configs: String,
    /// Comma-separated: fp32, bf16.
    #[arg(long, default_value = "fp32,bf16")]
    pub precisions: String,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed steps per configuration.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
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
pub struct BenchResult {
    pub config: String,
    pub precision: String,
    pub batch: i64,
    pub steps: usize,
    pub ebm_steps_per_s: f64,
    pub pytorch_steps_per_s: Option<f64>,
    /// ebm / PyTorch.
    pub ratio: Option<f64>,
}

fn architecture(name: &str) -> Result<(ConvConfig, i64)> {
    let (channels, size, widths) = match name {
        "cifar" => (3, 32, vec![64, 128, 256]),
        "mnist" => (1, 28, vec![32, 64, 64]),
        other => bail!("unknown bench configuration '{other}'; choose cifar or mnist"),
    };
    Ok((
        ConvConfig {
            channels,
            size,
            widths,
            code_dim: 0,
            activation: Activation::Swish,
            spectral_norm: true,
            pool: SpatialPool::Sum,
            coords: false,
            residual_gain: 0.0,
            code_head: false,
            init_gain: 1.0,
            readout: ebm::energy::Readout::Film,
            dense_head: 0,
            input_blur: 0.0,
        },
        128,
    ))
}

/// The sampler settings of the published CIFAR code: λ/2 = 5 on a clipped gradient.
fn bench_sampler(steps: usize) -> LangevinConfig {
    LangevinConfig {
        step_size: 10.0,
        noise_std: 0.005,
        steps,
        grad_clip: Some(0.01),
        clamp: Some((0.0, 1.0)),
    }
}

fn time_ours(config: &ConvConfig, batch: i64, precision: &str, warmup: usize, steps: usize, device: tch::Device) -> Result<f64> {
    tch::manual_seed(0);
    let network = Architecture::Conv(config.clone()).build(device);
    // As in the reference: residual branches switched on so they cost what they will in training.
    for (name, mut p) in named_parameters(network.var_store()) {
        if name.ends_with("residual_gain") {
            let _ = tch::no_grad(|| p.fill_(0.1));
        }
    }
    let network: Box<dyn Network> = match precision {
        "fp32" => network,
        "bf16" => cast_network(network.as_ref(), Kind::BFloat16),
        other => bail!("unknown precision '{other}'; choose fp32 or bf16"),
    };
    let x0 = Tensor::rand([batch, config.channels, config.size, config.size], (Kind::Float, device));
    let warm = langevin(network.as_ref(), &x0, None, &bench_sampler(warmup), &LangevinOptions::default()).x;
    let started = Instant::now();
    let out = langevin(network.as_ref(), &warm, None, &bench_sampler(steps), &LangevinOptions::default()).x;
    let seconds = started.elapsed().as_secs_f64();
    if out.isfinite().all().int64_value(&[]) == 0 {
        bail!("the {precision} chain produced non-finite values");
    }
    Ok(steps as f64 / seconds)
}

fn default_python() -> PathBuf {
    if let Ok(p) = std::env::var("EBM_TORCH_PYTHON") {
        return PathBuf::from(p);
    }
    crate::home::shipped(".torch-venv/bin/python")
}

/// Runs the reference script; returns (config, precision) → steps/s.
fn run_reference(args: &LangevinBenchArgs) -> Result<Vec<(String, String, f64)>> {
    let python = args.python.clone().unwrap_or_else(default_python);
    let script = crate::home::shipped("bench/langevin_ref.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .args(["--configs", &args.configs, "--precisions", &args.precisions])
        .args(["--warmup", &args.warmup.to_string(), "--steps", &args.steps.to_string()])
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
    let mut results = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("bad reference output line: {line}"))?;
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .with_context(|| format!("reference output lacks '{k}': {line}"))
        };
        results.push((
            field("config")?,
            field("precision")?,
            v["steps_per_s"].as_f64().context("reference output lacks steps_per_s")?,
        ));
    }
    Ok(results)
}

pub fn run(args: BenchArgs, context: &crate::Context) -> Result<()> {
    let args = match args.what {
        BenchWhat::Langevin(args) => args,
        BenchWhat::Data(args) => return bench_data(args),
    };
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let configs: Vec<&str> = args.configs.split(',').map(str::trim).collect();
    let precisions: Vec<&str> = args.precisions.split(',').map(str::trim).collect();
    println!("Langevin steps/s on {} threads", tch::get_num_threads());
    let mut results: Vec<BenchResult> = Vec::new();
    for round in 0..args.rounds.max(1) {
        for config_name in &configs {
            let (config, batch) = architecture(config_name)?;
            for precision in &precisions {
                let rate = time_ours(&config, batch, precision, args.warmup, args.steps, context.device)?;
                eprintln!("round {round}: ebm {config_name} {precision}: {rate:.3} steps/s");
                match results.iter_mut().find(|r| r.config == *config_name && r.precision == *precision) {
                    Some(r) => r.ebm_steps_per_s = r.ebm_steps_per_s.max(rate),
                    None => results.push(BenchResult {
                        config: config_name.to_string(),
                        precision: precision.to_string(),
                        batch,
                        steps: args.steps,
                        ebm_steps_per_s: rate,
                        pytorch_steps_per_s: None,
                        ratio: None,
                    }),
                }
            }
        }
        if !args.no_reference {
            for (config, precision, rate) in run_reference(&args)? {
                if let Some(r) = results.iter_mut().find(|r| r.config == config && r.precision == precision) {
                    r.pytorch_steps_per_s = Some(r.pytorch_steps_per_s.map_or(rate, |best| best.max(rate)));
                }
            }
        }
    }
    for r in &mut results {
        r.ratio = r.pytorch_steps_per_s.map(|torch| r.ebm_steps_per_s / torch);
    }
    println!(
        "{:<8} {:<6} {:>6} {:>12} {:>12} {:>8}",
        "model", "prec", "batch", "ebm step/s", "torch step/s", "ratio"
    );
    for r in &results {
        let torch = r.pytorch_steps_per_s.map_or("-".into(), |v| format!("{v:.3}"));
        let ratio = r.ratio.map_or("-".into(), |v| format!("{v:.3}"));
        println!(
            "{:<8} {:<6} {:>6} {:>12.3} {:>12} {:>8}",
            r.config, r.precision, r.batch, r.ebm_steps_per_s, torch, ratio
        );
    }
    if let Some(path) = &args.json {
        ebm::io::write_atomically(path, serde_json::to_string_pretty(&results)?.as_bytes())?;
    }
    Ok(())
}
