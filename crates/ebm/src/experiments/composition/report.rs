//! JSON and Markdown for Table 1, beside the paper's numbers.

use super::{CompositionOptions, RowResult};
use crate::compose::algebra::PriorUse;
use crate::sample::SamplerDefaults;
use anyhow::Result;
use std::fmt::Write;

/// The paper's Table 1 (MuJoCo scenes; `../shared/REFERENCE.md` §3) per row:
/// (position, colour) accuracies, or the OR rows' (branch 1, branch 2) shares.
fn paper(key: &str) -> Option<(f64, f64)> {
    Some(match key {
        "pos-alone" => (0.984, 0.201),
        "color-alone" => (0.128, 0.997),
        "pos-and-color" => (0.801, 0.8125),
        "pos-and-not-color" => (0.872, 0.096),
        "not-pos-and-color" => (0.033, 0.971),
        "pos-or-pos" => (0.432, 0.413),
        "pos-color-or-pos-color" => (0.210, 0.217),
        _ => return None,
    })
}

/// Targets set by the issue, as readable text.
fn target(key: &str) -> &'static str {
    match key {
        "pos-alone" | "color-alone" | "shape-alone" | "size-alone" => "own factor ≥ 0.97",
        "pos-and-color" => "position ≥ 0.95, colour ≥ 0.95",
        "pos-and-not-color" => "colour ≤ 0.05, position ≥ 0.9",
        "pos-or-pos" | "pos-color-or-pos-color" => "shares 50 ± 7 %, each branch ≥ 0.9 correct",
        "pos-color-shape-size" => "all four ≥ 0.85 jointly",
        _ => "",
    }
}

fn fmt(metrics: &std::collections::BTreeMap<String, f64>, key: &str) -> String {
    metrics.get(key).map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into())
}

/// Everything the report says of how it was made, rows aside: a run
/// resumed into the same folder must match it (`resume::finished_rows`).
/// `prior`: the unconditional model used (explicit or found beside the models) and how.
pub fn settings(
    options: &CompositionOptions,
    prior: Option<&(std::path::PathBuf, PriorUse)>,
    sampler: &SamplerDefaults,
    over_noise: bool,
    marginalised: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "experiment": "composition",
        "models": options.models,
        "judge": options.judge,
        "samples_per_row": options.samples,
        "seed": options.seed,
        "alpha": options.settings.alpha,
        "temperature": options.settings.temperature,
        "langevin": (!over_noise).then_some(&sampler.langevin),
        "noise_annealing": over_noise.then_some(&options.annealing),
        "conjunction": match (prior, options.guidance) {
            (Some((_, PriorUse::Base)), _) => "sum over the prior as a base",
            (Some(_), _) => "product of experts relative to the prior",
            (None, Some(_)) => "guided against each model's null code",
            (None, None) => "sum",
        },
        "prior": prior.map(|(p, _)| p),
        "prior_use": prior.map(|(_, u)| u),
        "guidance": options.guidance,
        "chain_start": sampler.start,
        "or_sampling": options.or_sampling,
        "marginalise": options.marginalise,
        "marginalised_concepts": marginalised,
        "particles": options.particles,
        "keep": options.keep,
        "refine": options.refine,
    })
}

/// Writes `composition.json` and `composition.md` for the rows so far.
pub fn write(
    options: &CompositionOptions,
    prior: Option<&(std::path::PathBuf, PriorUse)>,
    sampler: &SamplerDefaults,
    results: &[RowResult],
    over_noise: bool,
    marginalised: &[String],
) -> Result<()> {
    let langevin = &sampler.langevin;
    let mut json = settings(options, prior, sampler, over_noise, marginalised);
    json["rows"] = serde_json::to_value(results)?;
    crate::io::write_atomically(
        &options.out.join("composition.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;

    let mut md = String::new();
    writeln!(md, "# Composition on `shapes` (Table 1)\n")?;
    if over_noise {
        let a = &options.annealing;
        writeln!(
            md,
            "{} samples per row, models trained over noise levels: {} levels from σ_max to σ_min, {} {} steps each following the {} gradient at λ = {}·σ², \
             chains from {} + σ_max·noise, {}; the algebra applied at every level{}; NOT α = {}, OR T = {}; seed {}. \
             Accuracies by the shapes judge: position within 0.1, size within 0.03, colour and shape exact. \
             Each row draws its conditions at random per sample; factors a row does not condition on are scored against random conditions (chance).\n",
            options.samples, a.levels, a.steps_per_level, a.kind, a.gradient, a.step_scale, a.start_mean,
            if a.denoise_last { "a Tweedie step at σ_min" } else { "no final denoising" },
            match (prior, options.guidance) {
                (Some((p, _)), w) => format!(
                    ", conjunctions relative to the prior {} (E_u + w·Σ(Eᵢ − E_u), w = {})",
                    p.display(),
                    w.unwrap_or(1.0)
                ),
                (None, Some(w)) => format!(", conjunctions guided against each model's null code (E₁(∅) + w·Σ(Eᵢ − Eᵢ(∅)), w = {w})"),
                (None, None) => ", conjunctions as plain sums".into(),
            },
            options.settings.alpha, options.settings.temperature, options.seed
        )?;
    } else {
        writeln!(
        md,
        "{} samples per row from {}, {} Langevin steps (λ = {}, σ = {}, per-pixel gradient clip {}); NOT α = {}, OR T = {}; seed {}. \
         Accuracies by the shapes judge: position within 0.1, size within 0.03, colour and shape exact. \
         Each row draws its conditions at random per sample; factors a row does not condition on are scored against random conditions (chance).\n",
        options.samples,
        match sampler.start {
            crate::sample::ChainStart::Data => "random scenes of the dataset",
            crate::sample::ChainStart::Background => "empty floors (random light, no object)",
            crate::sample::ChainStart::Noise => "uniform noise",
        },
        langevin.steps, langevin.step_size, langevin.noise_std, langevin.grad_clip.map_or("none".to_string(), |c| c.to_string()), options.settings.alpha, options.settings.temperature, options.seed
    )?;
    }
    if let (Some((p, prior_use)), false) = (prior, over_noise) {
        let how = match prior_use {
            PriorUse::Base => "added once to every expression as a base (E_u + E_expr)",
            PriorUse::Relative => "every conjunction taken relative to it (E_u + Σ(Eᵢ − E_u))",
        };
        writeln!(md, "Unconditional model {}: {how}.\n", p.display())?;
    }
    if options.particles > 1 {
        writeln!(
            md,
            "Each sample is the one of {} chains (same conditions, branch and marginal codes; different chain noise) chosen by `--keep {}`: {}.\n",
            options.particles,
            options.keep,
            match options.keep {
                super::Keep::Composed => "the lowest composed energy",
                super::Keep::Named => "the lowest energy of the expression as written, marginalised concepts left out",
                super::Keep::Ranks => "the lowest sum of the conjuncts' ranks among the particles",
            }
        )?;
    }
    if !marginalised.is_empty() {
        writeln!(
            md,
            "Concepts a row omits are marginalised (`compose::marginal`): each chain draws its own value of {} from the concept's prior, and that model joins the row's energy.\n",
            marginalised.join(", ")
        )?;
    }
    if options.or_sampling == crate::compose::mixture::OrSampling::Ancestral {
        writeln!(
            md,
            "OR rows sampled ancestrally: each chain draws one branch with equal probability and samples it alone (`compose::mixture`).\n"
        )?;
    }
    writeln!(
        md,
        "| row | expression | position | colour | shape | size | paper pos / col | target | KID (real vs real) | acceptance | time |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for r in results {
        let paper = paper(&r.key).map(|(a, b)| format!("{a} / {b}")).unwrap_or_else(|| "–".into());
        let m = &r.metrics;
        let (pos, col) = if r.metrics.contains_key("branch1_share") {
            (
                format!("split {} / {}", fmt(m, "branch1_share"), fmt(m, "branch2_share")),
                format!("correct {} / {}", fmt(m, "branch1_correct"), fmt(m, "branch2_correct")),
            )
        } else {
            (fmt(m, "position"), fmt(m, "color"))
        };
        writeln!(
            md,
            "| {} | `{}` | {pos} | {col} | {} | {} | {paper} | {} | {} ({}) | {} | {:.0} s |",
            r.key,
            r.formula.replace('|', "\\|"),
            fmt(m, "shape"),
            fmt(m, "size"),
            match m.contains_key("jointly") {
                true => format!("{}; all four right: {}", target(&r.key), fmt(m, "jointly")),
                false => target(&r.key).to_string(),
            },
            fmt(m, "kid"),
            fmt(m, "kid_real_vs_real"),
            m.get("acceptance").map_or("1 (ULA)".to_string(), |a| format!("{a:.2}")),
            r.seconds
        )?;
    }
    writeln!(md, "\nFor `pos-and-not-color` the colour column is how often the negated colour appears; for `not-pos-and-color` the position column is how often the negated position is hit. OR rows give each branch's share of samples (nearest branch by judged position) and the fraction of that branch's samples that are correct. \
         KID: the squared kernel distance (cubic polynomial kernel, unbiased) between the row's samples and real scenes that satisfy the same per-sample conditions, \
         on the shapes judge's penultimate features; in brackets the same between two independent sets of such real scenes, what a perfect sampler reaches at this sample size. \
         Acceptance: the Metropolis acceptance rate (ULA accepts every step).\n")?;
    for r in results {
        writeln!(md, "## {}\n\n`{}`\n\n![{}]({})\n", r.key, r.formula, r.key, r.picture)?;
    }
    crate::io::write_atomically(&options.out.join("composition.md"), md.as_bytes())?;
    Ok(())
}
