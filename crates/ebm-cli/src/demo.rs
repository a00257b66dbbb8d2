//! `ebm demo`: the command-line face of [`ebm::experiments::demo`].

use crate::home::shipped;
use anyhow::Result;
use clap::Args;
use ebm::experiments::demo::{self, DemoOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, short, default_value = "demo")]
    pub out: PathBuf,
    /// Concept checkpoints (pos, color, shape, size .safetensors); trained
    /// into OUT/models when missing (default: the shipped models/shapes).
    #[arg(long, default_value_os_t = shipped("models/shapes"))]
    pub models: PathBuf,
    #[arg(long, default_value_os_t = shipped("judges/shapes.safetensors"))]
    pub judge: PathBuf,
    /// Samples per expression.
    #[arg(short, default_value_t = 16)]
    pub n: usize,
    /// Training steps per concept when checkpoints must be trained.
    #[arg(long, default_value_t = ebm::experiments::shapes::RECIPE_STEPS)]
    pub train_steps: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Langevin chains per sample, the one with the lowest composed energy
    /// kept when refined, else the one whose conjuncts rank lowest (README,
    /// "Several chains per sample"); 1 for one chain.
    #[arg(long, default_value_t = 4)]
    pub particles: usize,
    /// An expression to compose instead of the demo's seven, e.g.
    /// `--expr 'pos=(0.3,0.7) & color=red & !shape=circle'`; repeatable.
    #[arg(long = "expr")]
    pub expressions: Vec<String>,
    /// Denoising-trained models that refine every sample (README, "Refining
    /// samples"); `--no-refine` shows the chains' samples as they are.
    #[arg(long, default_value_os_t = shipped("models/shapes-denoise-product"))]
    pub refine: PathBuf,
    #[arg(long)]
    pub no_refine: bool,
    /// The noise level refinement starts at.
    #[arg(long, default_value_t = 0.1)]
    pub refine_sigma: f64,
    /// ULA steps at each of the refinement's 6 levels.
    #[arg(long, default_value_t = 5)]
    pub refine_steps: usize,
    /// Also write each expression's samples to DIR/expression_<i>.safetensors
    /// (`images` plus the expression's conditions, as `ebm judge score` reads them).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Also write each expression's samples as PNGs under DIR/expression_<i>/.
    #[arg(long)]
    pub png_dir: Option<PathBuf>,
}

pub fn run(args: DemoArgs, context: &crate::Context) -> Result<()> {
    crate::experiment::cpu_only("demo", context)?;
    let options = DemoOptions {
        out: args.out,
        models: args.models,
        judge: args.judge,
        n: args.n,
        train_steps: args.train_steps,
        seed: args.seed,
        save: args.save,
        png_dir: args.png_dir,
        annealing: demo::demo_annealing(),
        particles: args.particles,
        expressions: args.expressions,
        refine: (!args.no_refine).then(|| ebm::experiments::composition::RefineOptions {
            models: args.refine,
            sigma: args.refine_sigma,
            annealing: ebm::sample::NoiseAnnealing {
                steps_per_level: args.refine_steps,
                ..ebm::experiments::composition::refine::refine_annealing()
            },
        }),
    };
    let report = demo::run(&options, &context.progress)?;
    print!("{report}");
    println!(
        "wrote {} and {}",
        options.out.join("compositions.png").display(),
        options.out.join("report.md").display()
    );
    Ok(())
}
