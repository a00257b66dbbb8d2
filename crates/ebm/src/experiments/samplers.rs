//! `ebm experiment samplers`: ULA against MALA and HMC on the shipped concept
//! models at equal gradient evaluations — acceptance, ESS and R-hat of the
//! energy, time, and how often the shapes judge reads each sample as
//! satisfying its expression.

use crate::compose::{compose, parse, Settings};
use crate::experiments::composition::truth::satisfaction;
use crate::experiments::composition::{judge_images, load_shapes_models};
use crate::experiments::shapes::{start_chains, SHOWCASE_STEPS};
use crate::judge::network::Judge;
use crate::sample::{langevin, sample, summarize, LangevinOptions, SampleOptions, SamplerConfig, SamplerKind};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The expressions compared: one concept, an AND, an OR.
pub const EXPRESSIONS: [&str; 3] = ["color=red", "pos=(0.3,0.7) & color=blue", "pos=(0.25,0.75) | pos=(0.75,0.25)"];

pub struct SamplersOptions {
    pub models: PathBuf,
    pub judge: PathBuf,
    pub out: PathBuf,
    /// Chains per expression and sampler.
    pub samples: usize,
    /// Gradient evaluations per chain (every sampler spends the same).
    pub gradients: usize,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SamplerRow {
    pub expression: String,
    pub sampler: String,
    pub acceptance: f64,
    pub step_size: f64,
    pub temperature: f64,
    pub energy_ess: Option<f64>,
    pub energy_rhat: Option<f64>,
    pub satisfied: f64,
    pub seconds: f64,
}

/// The samplers, each spending `gradients` input gradients per chain.
fn contenders(card: &crate::sample::LangevinConfig, gradients: usize) -> Vec<(String, Option<SamplerConfig>)> {
    let exact = |kind| SamplerConfig::from_langevin(kind, card);
    let adapt = |mut c: SamplerConfig, target: f64, steps: usize| {
        c.steps = steps;
        c.target_accept = Some(target);
        c.warmup = steps / 3;
        c
    };
    let leapfrog = 3;
    vec![
        ("card ULA (clip, σ as trained)".into(), None),
        (
            "ULA at T = σ²/λ".into(),
            Some(SamplerConfig {
                steps: gradients,
                grad_clip: None,
                ..exact(SamplerKind::Ula)
            }),
        ),
        (
            "MALA, card step".into(),
            Some(SamplerConfig {
                steps: gradients,
                ..exact(SamplerKind::Mala)
            }),
        ),
        (
            "MALA, adapted to 0.57".into(),
            Some(adapt(exact(SamplerKind::Mala), 0.57, gradients)),
        ),
        (
            format!("HMC L={leapfrog}, adapted to 0.7"),
            Some(SamplerConfig {
                leapfrog_steps: leapfrog,
                ..adapt(exact(SamplerKind::Hmc), 0.7, (gradients / leapfrog).max(1))
            }),
        ),
    ]
}

/// Runs every expression under every sampler and writes `samplers.{json,md}`.
pub fn run(options: &SamplersOptions) -> Result<Vec<SamplerRow>> {
    let library = load_shapes_models(&options.models)?;
    let models = library.concept_models();
    let (judge, _) = Judge::load(&options.judge)?;
    let mut card = library.sampler();
    card.langevin.steps = options.gradients;
    let mut rows = Vec::new();
    for (e, text) in EXPRESSIONS.iter().enumerate() {
        let energy = compose(text, &models, &Settings::default())?;
        let expr = parse(text).map_err(|err| anyhow::anyhow!("{err}"))?;
        let seed = crate::seed::derive(options.seed, &[crate::seed::streams::EXPRESSION, e as u64]);
        for (name, config) in contenders(&card.langevin, options.gradients) {
            let x0 = start_chains(&card, &library.input_shape(), options.samples, seed)?;
            tch::manual_seed(seed as i64);
            let started = std::time::Instant::now();
            let (x, summary, temperature) = match &config {
                None => (
                    langevin(&energy, &x0, None, &card.langevin, &LangevinOptions::default()).x,
                    None,
                    f64::NAN,
                ),
                Some(c) => {
                    let sampled = sample(
                        &energy,
                        &x0,
                        None,
                        c,
                        &SampleOptions {
                            chain_energies: true,
                            ..Default::default()
                        },
                    );
                    let summary = summarize(&sampled, c.warmup);
                    (sampled.x, Some(summary), c.temperature)
                }
            };
            let seconds = started.elapsed().as_secs_f64();
            let satisfied = satisfaction(&expr, &judge_images(&judge, &x)?)?;
            rows.push(SamplerRow {
                expression: text.to_string(),
                sampler: name,
                acceptance: summary.as_ref().map_or(1.0, |s| s.acceptance),
                step_size: summary.as_ref().map_or(card.langevin.step_size, |s| s.step_size),
                temperature,
                energy_ess: summary.as_ref().and_then(|s| s.energy_ess),
                energy_rhat: summary.as_ref().and_then(|s| s.energy_rhat),
                satisfied,
                seconds,
            });
        }
    }
    write_report(options, &rows)?;
    Ok(rows)
}

fn write_report(options: &SamplersOptions, rows: &[SamplerRow]) -> Result<()> {
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    crate::io::write_atomically(&options.out.join("samplers.json"), serde_json::to_string_pretty(rows)?.as_bytes())?;
    let mut md = String::new();
    writeln!(
        md,
        "# Samplers on the shipped concept models\n\n{} chains per row from empty floors, {} gradient evaluations per chain for every sampler \
         (HMC: proposals × leapfrog steps; adaptation included), seed {}. T = σ²/λ of the card. Satisfied: the shapes judge's reading.\n",
        options.samples, options.gradients, options.seed
    )?;
    writeln!(
        md,
        "| expression | sampler | acceptance | step | energy ESS | R-hat | satisfied | time |\n|---|---|---|---|---|---|---|---|"
    )?;
    let opt = |v: Option<f64>, digits: usize| v.map_or("–".into(), |v| format!("{v:.digits$}"));
    for r in rows {
        writeln!(
            md,
            "| `{}` | {} | {:.3} | {:.2e} | {} | {} | {:.0} % | {:.1} s |",
            r.expression.replace('|', "\\|"),
            r.sampler,
            r.acceptance,
            r.step_size,
            opt(r.energy_ess, 1),
            opt(r.energy_rhat, 2),
            100.0 * r.satisfied,
            r.seconds
        )?;
    }
    crate::io::write_atomically(&options.out.join("samplers.md"), md.as_bytes())
}

/// The default budget: the steps the concept models are sampled with.
pub const DEFAULT_GRADIENTS: usize = SHOWCASE_STEPS;
