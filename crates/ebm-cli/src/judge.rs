//! `ebm judge train` and `ebm judge score`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use ebm::judge::tasks::{JudgeTask, MnistTask, ShapesTask, SpritesTask};
use ebm::judge::train::{train_judge, JudgeTraining};
use ebm::judge::{score, HeadScore, Judge};
use std::path::PathBuf;

#[derive(Args)]
pub struct JudgeArgs {
    #[command(subcommand)]
    pub what: JudgeWhat,
}

#[derive(Subcommand)]
pub enum JudgeWhat {
    /// Train a judge and report its held-out accuracy against its bars.
    Train(JudgeTrainArgs),
    /// Score images against intended conditions.
    Score(JudgeScoreArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum JudgeSet {
    Shapes,
    Sprites,
    Mnist,
}

#[derive(Args)]
pub struct JudgeTrainArgs {
    #[arg(value_enum)]
    pub set: JudgeSet,
    /// Where to write the judge's checkpoint.
    #[arg(short, long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 3000)]
    pub steps: u64,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Directory with the four MNIST IDX files (for `mnist`).
    #[arg(long, default_value_os_t = default_mnist_dir())]
    pub mnist_dir: PathBuf,
}

/// The MNIST that ships beside the repository (`../shared/data/mnist`).
pub fn default_mnist_dir() -> PathBuf {
    crate::home::shared_data().join("mnist")
}

#[derive(Args)]
pub struct JudgeScoreArgs {
    /// The judge's checkpoint.
    #[arg(long)]
    pub judge: PathBuf,
    /// A safetensors file with `images` [N, C, S, S] and one tensor per
    /// condition named after a judge head (class indices [N] or values [N, dims]).
    #[arg(long)]
    pub samples: PathBuf,
}

pub fn print_scores(scores: &[HeadScore]) {
    println!("{:<10} {:>9} {:>11} {:>7}", "head", "accuracy", "mean error", "n");
    for s in scores {
        let error = s.mean_error.map_or("-".to_string(), |e| format!("{e:.4}"));
        println!("{:<10} {:>9.4} {:>11} {:>7}", s.head, s.accuracy, error, s.count);
    }
}

pub fn run(args: JudgeArgs, context: &crate::Context) -> Result<()> {
    match args.what {
        JudgeWhat::Train(args) => {
            let task: Box<dyn JudgeTask> = match args.set {
                JudgeSet::Shapes => Box::new(ShapesTask::new(args.size, args.seed)),
                JudgeSet::Sprites => Box::new(SpritesTask {
                    data: ebm::data::sprites::Sprites::new(args.size, args.seed),
                }),
                JudgeSet::Mnist => Box::new(MnistTask::load(&args.mnist_dir, args.seed)?),
            };
            let training = JudgeTraining {
                steps: args.steps,
                batch: args.batch_size,
                lr: args.lr,
                seed: args.seed,
                eval_examples: 10_000,
            };
            let (judge, report) = train_judge(task.as_ref(), &training, &context.progress)?;
            print_scores(&report.scores);
            for check in &report.bars {
                let bar = &check.bar;
                let want = match (bar.min_accuracy, bar.max_mean_error) {
                    (Some(a), _) => format!("accuracy ≥ {a}"),
                    (_, Some(e)) => format!("mean error ≤ {e}"),
                    _ => String::new(),
                };
                println!("{:<10} {:<22} {}", bar.head, want, if check.passed { "cleared" } else { "MISSED" });
            }
            judge.save(&args.out, task.describe(), serde_json::to_value(&report)?)?;
            println!("trained in {:.0}s; wrote {}", report.seconds, args.out.display());
            if !report.passed {
                bail!("the judge missed a bar; it was saved, but train longer (--steps) before trusting its scores");
            }
            Ok(())
        }
        JudgeWhat::Score(args) => {
            let (judge, _) = Judge::load(&args.judge)?;
            let file = ebm::io::read_tensor_file(&args.samples)?;
            let images = file
                .tensors
                .get("images")
                .with_context(|| format!("{} has no 'images' tensor", args.samples.display()))?;
            let conditions: Vec<(String, tch::Tensor)> = file
                .tensors
                .iter()
                .filter(|(k, _)| k.as_str() != "images")
                .map(|(k, v)| (k.clone(), v.shallow_clone()))
                .collect();
            if conditions.is_empty() {
                bail!(
                    "{} holds no conditions to score against (tensors named after the judge's heads)",
                    args.samples.display()
                );
            }
            print_scores(&score(&judge, images, &conditions)?);
            Ok(())
        }
    }
}
