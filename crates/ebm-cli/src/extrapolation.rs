//! `ebm experiment extrapolation`: cross-product extrapolation of size and position.

use crate::Context;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExtrapolationArgs {
    /// Training steps of each model (the position model, and per coverage
    /// the size model and the joint model).
    #[arg(long, default_value_t = 400)]
    pub steps: u64,
    /// Samples judged per coverage and method.
    #[arg(short, default_value_t = 200)]
    pub n: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Shares of the position square the size model's corner holds.
    #[arg(long, value_delimiter = ',', default_values_t = ebm::experiments::extrapolation::COVERAGES)]
    pub coverages: Vec<f64>,
    #[arg(long, default_value_os_t = crate::home::shipped("judges/shapes.safetensors"))]
    pub judge: PathBuf,
    #[arg(long, short, default_value = "experiments/extrapolation")]
    pub out: PathBuf,
    /// Where trained models are kept and reused (a rerun, or more coverages,
    /// trains only what is missing).
    #[arg(long, default_value = "runs/extrapolation/models")]
    pub models: PathBuf,
}

pub fn run(a: ExtrapolationArgs, context: &Context) -> Result<()> {
    crate::experiment::cpu_only("extrapolation", context)?;
    if a.steps == 0 || a.n == 0 {
        bail!("--steps and -n must be at least 1");
    }
    let options = ebm::experiments::extrapolation::ExtrapolationOptions {
        steps: a.steps,
        samples: a.n,
        seed: a.seed,
        judge: a.judge,
        out: a.out,
        coverages: a.coverages,
        models: a.models,
    };
    let results = ebm::experiments::extrapolation::run(&options, &context.progress)?;
    print!("{}", ebm::experiments::extrapolation::markdown(&options, &results));
    println!("wrote {}", options.out.display());
    Ok(())
}
