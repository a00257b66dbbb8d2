//! `ebm experiment stability`: the divergence guard under settings meant to
//! blow training up — many seeds of a shapes concept model and of MNIST with
//! the Langevin step size and the learning rate scaled up and every gradient
//! clip removed. Each run ends clean, recovered (the guard restored a
//! snapshot and backed off) or given up (with the guard's message); every
//! checkpoint written is then loaded, which refuses non-finite weights.

use crate::checkpoint::load_checkpoint;
use crate::train::recipe::recipe;
use crate::train::state::MODEL_FILE;
use crate::train::Trainer;
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

pub struct StabilityOptions {
    pub out: PathBuf,
    pub mnist_dir: PathBuf,
    /// Seeds per (model, setting).
    pub seeds: u64,
    /// Training steps per run.
    pub steps: u64,
}

/// How far a setting pushes the recipe.
#[derive(Clone, Debug, Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub step_size_scale: f64,
    pub lr_scale: f64,
    /// Whether the weight-gradient norm clip and the Langevin gradient clip are removed.
    pub no_clip: bool,
}

/// The aggressive setting (×10, no clip) and a harsher one (×100).
pub const SETTINGS: [Setting; 2] = [
    Setting {
        name: "aggressive",
        step_size_scale: 10.0,
        lr_scale: 10.0,
        no_clip: true,
    },
    Setting {
        name: "extreme",
        step_size_scale: 100.0,
        lr_scale: 100.0,
        no_clip: true,
    },
];

/// The recipes run: a shapes concept model and the unconditional MNIST model.
pub const RECIPES: [&str; 2] = ["shapes-color", "mnist"];

#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    pub seed: u64,
    pub divergences: u32,
    /// None: finished; Some: the guard gave up with this message.
    pub gave_up: Option<String>,
    /// Whether a checkpoint was written and loads (finite weights).
    pub checkpoint: CheckpointState,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointState {
    Loads,
    None,
    Refused(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct StabilityRow {
    pub recipe: String,
    pub setting: Setting,
    pub runs: usize,
    pub clean: usize,
    pub recovered: usize,
    pub gave_up: usize,
    pub divergences: u32,
    pub non_finite_checkpoints: usize,
    pub messages: Vec<String>,
    pub outcomes: Vec<RunOutcome>,
}

fn one_run(name: &str, setting: &Setting, seed: u64, options: &StabilityOptions) -> Result<RunOutcome> {
    let mut recipe = recipe(name, options.steps, seed)?;
    let config = &mut recipe.config;
    config.langevin.step_size *= setting.step_size_scale;
    config.lr *= setting.lr_scale;
    if setting.no_clip {
        config.grad_clip_norm = None;
        config.langevin.grad_clip = None;
    }
    config.checkpoint_every = 0;
    let dir = options.out.join("runs").join(format!("{name}-{}-{seed}", setting.name));
    let _ = std::fs::remove_dir_all(&dir);
    let data = recipe.data(&options.mnist_dir)?;
    tch::manual_seed(seed as i64);
    let started = std::time::Instant::now();
    let mut trainer = Trainer::new(
        recipe.architecture.build(tch::Device::Cpu),
        data.as_ref(),
        recipe.config.clone(),
        Some(dir.clone()),
    )?;
    let result = trainer.run(&crate::Quiet);
    let model = dir.join(MODEL_FILE);
    let checkpoint = match (model.exists(), load_checkpoint(&model)) {
        (false, _) => CheckpointState::None,
        (true, Ok(_)) => CheckpointState::Loads,
        (true, Err(e)) => CheckpointState::Refused(format!("{e:#}")),
    };
    let _ = std::fs::remove_dir_all(&dir);
    Ok(RunOutcome {
        seed,
        divergences: trainer.divergences,
        gave_up: result.err().map(|e| format!("{e:#}")),
        checkpoint,
        seconds: started.elapsed().as_secs_f64(),
    })
}

pub fn run(options: &StabilityOptions, progress: &dyn crate::progress::Progress) -> Result<Vec<StabilityRow>> {
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    let task = progress.begin("stability runs", (RECIPES.len() * SETTINGS.len()) as u64 * options.seeds);
    let mut rows = Vec::new();
    for name in RECIPES {
        for setting in &SETTINGS {
            let mut outcomes = Vec::new();
            for seed in 0..options.seeds {
                outcomes.push(one_run(name, setting, seed, options)?);
                task.advance(1);
            }
            rows.push(summarise(name, setting, outcomes));
            write_report(options, &rows)?;
        }
    }
    Ok(rows)
}

fn summarise(name: &str, setting: &Setting, outcomes: Vec<RunOutcome>) -> StabilityRow {
    let finished = |o: &&RunOutcome| o.gave_up.is_none();
    let mut messages: Vec<String> = outcomes.iter().filter_map(|o| o.gave_up.clone()).collect();
    messages.sort();
    messages.dedup();
    StabilityRow {
        recipe: name.into(),
        setting: setting.clone(),
        runs: outcomes.len(),
        clean: outcomes.iter().filter(finished).filter(|o| o.divergences == 0).count(),
        recovered: outcomes.iter().filter(finished).filter(|o| o.divergences > 0).count(),
        gave_up: outcomes.iter().filter(|o| o.gave_up.is_some()).count(),
        divergences: outcomes.iter().map(|o| o.divergences).sum(),
        non_finite_checkpoints: outcomes
            .iter()
            .filter(|o| matches!(&o.checkpoint, CheckpointState::Refused(m) if m.contains("non-finite")))
            .count(),
        messages: messages.into_iter().take(3).collect(),
        outcomes,
    }
}

fn write_report(options: &StabilityOptions, rows: &[StabilityRow]) -> Result<()> {
    let out = &options.out;
    crate::io::write_atomically(&out.join("report.json"), (serde_json::to_string_pretty(rows)? + "\n").as_bytes())?;
    let mut md = String::from("# Divergence guard under aggressive settings\n\n");
    let _ = writeln!(
        md,
        "{} seeds per row, {} steps per run; each setting scales the recipe's Langevin step size and learning rate and removes both gradient clips.\n",
        options.seeds, options.steps
    );
    md += "| recipe | setting | runs | clean | recovered | gave up | divergences | non-finite checkpoints |\n|---|---|---|---|---|---|---|---|\n";
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} (step ×{}, lr ×{}) | {} | {} | {} | {} | {} | {} |",
            r.recipe,
            r.setting.name,
            r.setting.step_size_scale,
            r.setting.lr_scale,
            r.runs,
            r.clean,
            r.recovered,
            r.gave_up,
            r.divergences,
            r.non_finite_checkpoints
        );
    }
    for r in rows.iter().filter(|r| !r.messages.is_empty()) {
        let _ = writeln!(md, "\n{} / {}: the guard gave up with\n", r.recipe, r.setting.name);
        for m in &r.messages {
            let _ = writeln!(md, "> {m}\n");
        }
    }
    md += "\n![divergences per run](divergences.png)\n";
    crate::io::write_atomically(&out.join("report.md"), md.as_bytes())?;
    let series: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let points = r.outcomes.iter().map(|o| (o.seed as f64, o.divergences as f64)).collect();
            (format!("{} {}", r.recipe, r.setting.name), points)
        })
        .collect();
    let refs: Vec<(&str, &[(f64, f64)])> = series.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
    crate::viz::line_plot(
        &out.join("divergences.png"),
        &refs,
        "divergences the guard recovered, per run",
        "seed",
        "divergences",
        (720, 420),
    )
}
