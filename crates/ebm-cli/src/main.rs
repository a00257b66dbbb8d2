//! The `ebm` command: argument parsing, progress display and file layout over
//! the `ebm` library, which knows nothing of them.

mod args;
mod bench;
mod comet;
mod concept_check;
mod continual;
mod data;
mod data_export;
mod demo;
mod env;
mod experiment;
mod extrapolation;
mod home;
mod infer;
mod inference;
mod judge;
mod progress;
mod sample;
mod sample_chains;
mod score;
mod train;
mod train_product;
mod trajectories;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ebm",
    version,
    about = "Energy-based models: train, sample, compose",
    propagate_version = true,
    after_help = home::HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads for libtorch's CPU kernels (default: libtorch's choice, one per core).
    #[arg(long, global = true)]
    pub threads: Option<i32>,
    /// Where to compute: cpu, cuda, cuda:N, or auto (CUDA when libtorch sees one).
    #[arg(long, global = true, default_value = "cpu", value_parser = ebm::device::parse_device)]
    pub device: tch::Device,
    /// How image networks compute: auto (bf16 channels-last where the CPU
    /// has bf16 matrix units or on CUDA, else fp32), fp32, bf16, or an
    /// explicit fp32-nchw, fp32-nhwc, bf16-nchw, bf16-nhwc.
    #[arg(long, global = true, default_value = "auto")]
    pub compute: String,
}

/// What every command gets besides its own arguments.
pub struct Context {
    pub device: tch::Device,
    /// Bars for the library's long loops.
    pub progress: progress::Bars,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train an energy model by contrastive divergence.
    Train(Box<train::TrainArgs>),
    /// Draw samples from a trained model by Langevin dynamics.
    Sample(Box<sample::SampleArgs>),
    /// Infer concepts of images by minimising each concept model's energy over its code.
    Infer(infer::InferArgs),
    /// Score your own images with a model: energies, classification against labels, OOD AUROC.
    Score(score::ScoreArgs),
    /// Print a checkpoint's model card.
    Info(sample::InfoArgs),
    /// Look at the datasets.
    Data(data::DataArgs),
    /// The control environments: exploratory episodes, and replaying episode files.
    Env(env::EnvArgs),
    /// Plan episodes of a control environment on learned transition energies
    /// and write them in the spec's episode format.
    Plan(trajectories::PlanArgs),
    /// Train judges and score samples with them.
    Judge(judge::JudgeArgs),
    /// Measure speed (beside a PyTorch reference where there is one).
    Bench(bench::BenchArgs),
    /// Long experiments that write JSON + Markdown + PNG reports.
    Experiment(experiment::ExperimentArgs),
    /// COMET: decompose images into energy components, and recombine them.
    Comet(comet::CometArgs),
    /// The main job: compose concept models on shapes, writing a picture and a report.
    Demo(demo::DemoArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(threads) = cli.threads {
        if threads < 1 {
            anyhow::bail!("--threads must be at least 1, got {threads}");
        }
        tch::set_num_threads(threads);
    }
    let compute = ebm::energy::Compute::parse(&cli.compute, cli.device).map_err(|e| anyhow::anyhow!("--compute: {e}"))?;
    ebm::energy::compute::set_default(compute);
    let context = Context {
        device: cli.device,
        progress: progress::Bars::when_watched(),
    };
    match cli.command {
        Command::Train(args) => train::run(*args, &context),
        Command::Sample(args) => sample::run(*args, &context),
        Command::Infer(args) => infer::run(args, &context),
        Command::Score(args) => score::run(args, &context),
        Command::Info(args) => sample::info(args),
        Command::Bench(args) => bench::run(args, &context),
        Command::Data(args) => data::run(args),
        Command::Env(args) => env::run(args),
        Command::Plan(args) => trajectories::run(args, &context),
        Command::Judge(args) => judge::run(args, &context),
        Command::Comet(args) => comet::run(args, &context),
        Command::Demo(args) => demo::run(args, &context),
        Command::Experiment(args) => experiment::run(args, &context),
    }
}

fn main() {
    // Output piped into `head` and closed early ends the process quietly, as
    // for any Unix tool, instead of a panic in println!.
    // SAFETY: restoring the default disposition of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
