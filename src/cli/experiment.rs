//! `ebm experiment`: long runs that write JSON + Markdown + PNG reports.

use crate::compose::Settings;
use crate::experiments::composition::{self, CompositionOptions, Row};
use crate::experiments::igebm::{run as run_igebm, IgebmOptions};
use crate::sample::LangevinOverrides;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub which: Experiment,
}

#[derive(Subcommand)]
pub enum Experiment {
    /// Table 1 of the compositional paper on `shapes`, judged.
    Composition(CompositionArgs),
    /// Train, sample and judge an energy on eight-gaussians (MMD², modes).
    EightGaussians(super::toy_report::ToyArgs),
    /// IGEBM's abilities on MNIST: conditional generation, classification,
    /// OOD, restoration, split-MNIST and adversarial robustness (about an
    /// hour on 2 cores; --quick: a few minutes).
    IgebmMnist(IgebmArgs),
}

#[derive(Args)]
pub struct CompositionArgs {
    /// Directory with pos, color, shape and size .safetensors concept models.
    #[arg(long, default_value = "models/shapes")]
    pub models: PathBuf,
    #[arg(long, default_value = "judges/shapes.safetensors")]
    pub judge: PathBuf,
    #[arg(long, short, default_value = "experiments/composition")]
    pub out: PathBuf,
    /// Samples per row.
    #[arg(long, default_value_t = 500)]
    pub samples: usize,
    /// Only these rows (e.g. pos-and-color,pos-or-pos); default all.
    #[arg(long, value_delimiter = ',')]
    pub rows: Option<Vec<String>>,
    #[command(flatten)]
    pub langevin: LangevinOverrides,
    #[command(flatten)]
    pub settings: Settings,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
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
        Experiment::Composition(args) => run_composition(args),
        Experiment::EightGaussians(args) => super::toy_report::run(args),
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

fn run_composition(args: CompositionArgs) -> Result<()> {
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let rows = match &args.rows {
        None => Row::ALL.to_vec(),
        Some(keys) => keys
            .iter()
            .map(|k| {
                Row::ALL.iter().copied().find(|r| r.key() == *k).ok_or_else(|| {
                    let all: Vec<String> = Row::ALL.iter().map(|r| r.key()).collect();
                    anyhow::anyhow!("unknown row '{k}'; rows are {}", all.join(", "))
                })
            })
            .collect::<Result<_>>()?,
    };
    let options = CompositionOptions {
        models: args.models,
        judge: args.judge,
        out: args.out,
        samples: args.samples,
        rows,
        langevin: args.langevin,
        settings: args.settings,
        seed: args.seed,
    };
    let results = composition::run(&options, super::show_progress())?;
    for r in &results {
        let metrics: Vec<String> = r.metrics.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
        println!("{:<24} {}", r.key, metrics.join("  "));
    }
    println!("wrote {}", options.out.join("composition.md").display());
    Ok(())
}
