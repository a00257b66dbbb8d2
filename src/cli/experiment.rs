//! `ebm experiment`: long runs that write JSON + Markdown + PNG reports.

use crate::experiments::igebm::{run as run_igebm, IgebmOptions};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub which: Experiment,
}

#[derive(Subcommand)]
pub enum Experiment {
    /// IGEBM's abilities on MNIST: conditional generation, classification,
    /// OOD, restoration, split-MNIST and adversarial robustness (about an
    /// hour on 2 cores; --quick: a few minutes).
    IgebmMnist(IgebmArgs),
}

#[derive(Args)]
pub struct IgebmArgs {
    /// Small budgets everywhere: checks that everything runs, in minutes.
    #[arg(long)]
    pub quick: bool,
    /// Directory for report.json, report.md, the PNGs and the models.
    #[arg(long, short, default_value = "runs/igebm-mnist")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value_os_t = super::judge::default_mnist_dir())]
    pub mnist_dir: PathBuf,
    /// The 8×8 sklearn digits CSV (an OOD set).
    #[arg(long, default_value_os_t = default_digits_csv())]
    pub digits_csv: PathBuf,
    /// The MNIST judge that reads digits off samples.
    #[arg(long, default_value_os_t = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("judges/mnist.safetensors"))]
    pub judge: PathBuf,
}

/// The digits CSV that ships beside the repository.
pub fn default_digits_csv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sklearn-digits/digits.csv.gz")
}

pub fn run(args: ExperimentArgs) -> Result<()> {
    match args.which {
        Experiment::IgebmMnist(a) => {
            let options = IgebmOptions {
                quick: a.quick,
                out: a.out,
                seed: a.seed,
                mnist_dir: a.mnist_dir,
                digits_csv: a.digits_csv,
                judge: a.judge,
            };
            let report = run_igebm(&options)?;
            println!("{}", crate::experiments::igebm::report::markdown(&report));
            println!("wrote {}/report.md, report.json and the pictures", options.out.display());
            Ok(())
        }
    }
}
