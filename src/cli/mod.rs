//! The `ebm` command line.

pub mod bench;
pub mod data;
pub mod demo;
pub mod experiment;
pub mod judge;
pub mod progress;
pub mod sample;
pub mod toy_report;
pub mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "ebm",
    version,
    about = "Energy-based models: train, sample, compose",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads for libtorch's CPU kernels (default: libtorch's choice, one per core).
    #[arg(long, global = true)]
    pub threads: Option<i32>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train an energy model by contrastive divergence.
    Train(train::TrainArgs),
    /// Draw samples from a trained model by Langevin dynamics.
    Sample(sample::SampleArgs),
    /// Print a checkpoint's model card.
    Info(sample::InfoArgs),
    /// Look at the datasets.
    Data(data::DataArgs),
    /// Train judges and score samples with them.
    Judge(judge::JudgeArgs),
    /// Measure speed (beside a PyTorch reference where there is one).
    Bench(bench::BenchArgs),
    /// Long experiments that write JSON + Markdown + PNG reports.
    Experiment(experiment::ExperimentArgs),
    /// The main job: compose concept models on shapes, writing a picture and a report.
    Demo(demo::DemoArgs),
}

/// Progress bars only when a person is watching.
pub fn show_progress() -> bool {
    std::io::stderr().is_terminal()
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(threads) = cli.threads {
        if threads < 1 {
            anyhow::bail!("--threads must be at least 1, got {threads}");
        }
        tch::set_num_threads(threads);
    }
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Info(args) => sample::info(args),
        Command::Bench(args) => bench::run(args),
        Command::Data(args) => data::run(args),
        Command::Judge(args) => judge::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Experiment(args) => experiment::run(args),
    }
}
