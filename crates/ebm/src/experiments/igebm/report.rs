//! The experiment's results as JSON and Markdown.

use super::continual::{SplitSummary, PAPER, PAPER_EBM_STD};
use super::ood::OodRow;
use super::restore::RestoreRow;
use super::robustness::RobustnessRow;
use super::{restore_langevin, Budget};
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct ModelTraining {
    pub model: String,
    pub steps: u64,
    pub seconds: f64,
    pub divergences: u32,
    pub e_pos: f64,
    pub e_neg: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    pub model: String,
    pub what: String,
    pub value: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OodTable {
    pub model: String,
    pub rows: Vec<OodRow>,
    pub mean: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub value: f64,
    pub bar: f64,
    pub met: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct IgebmReport {
    pub quick: bool,
    pub seed: u64,
    pub budget: Budget,
    pub seconds: f64,
    pub training: Vec<ModelTraining>,
    /// Where the three models were loaded from (`--models`); None: trained by this run.
    pub models_from: Option<String>,
    /// Judge accuracy of class-conditional samples (asked digit = judged digit).
    pub generation: Vec<Scored>,
    pub classification: Vec<Scored>,
    pub ood: Vec<OodTable>,
    pub restoration: Vec<RestoreRow>,
    /// The model the restoration chains ran under.
    pub restoration_model: String,
    /// Chains of every digit started at test digits, judged as that digit.
    pub cross_class: Scored,
    /// One summary per way of training (every weight; shared layers frozen).
    pub split_mnist: Vec<SplitSummary>,
    pub robustness: Vec<RobustnessRow>,
    pub pictures: Vec<String>,
    pub targets: Vec<TargetCheck>,
}

/// The targets for the full run, checked against `report`.
pub fn check_targets(report: &IgebmReport) -> Vec<TargetCheck> {
    let best_classification = report.classification.iter().map(|s| s.value).fold(f64::NAN, f64::max);
    let best_ood = report.ood.iter().map(|t| t.mean).fold(f64::NAN, f64::max);
    let best_split = report.split_mnist.iter().map(|s| s.mean).fold(f64::NAN, f64::max);
    let inpainting_gain = report.restoration.first().map_or(f64::NAN, |r| r.psnr_after - r.psnr_before);
    [
        ("classification accuracy (best model)", best_classification, 0.95),
        ("mean OOD AUROC (best model)", best_ood, 0.95),
        ("split-MNIST mean accuracy (best method)", best_split, 0.80),
        ("inpainting PSNR gain, dB", inpainting_gain, 3.0),
    ]
    .into_iter()
    .map(|(target, value, bar)| TargetCheck {
        target: target.into(),
        value,
        bar,
        met: value >= bar,
    })
    .collect()
}

fn pct(v: f64) -> String {
    format!("{:.2} %", 100.0 * v)
}

/// The report as Markdown.
pub fn markdown(r: &IgebmReport) -> String {
    let mut md = String::new();
    let run = if r.quick {
        "quick run (--quick): small budgets, numbers are indicative only"
    } else {
        "full run"
    };
    let _ = writeln!(
        md,
        "# IGEBM abilities on MNIST\n\n{run}; seed {}; {:.0} s in all.\n",
        r.seed, r.seconds
    );
    md.push_str(
        "Models: `uncond` (pure CD), `cond-cd` (digit-conditional, pure CD as in IGEBM), `cond-hybrid` \
         (digit-conditional, CD plus a cross-entropy term on the logits −E(x | digit): an addition, not IGEBM's recipe).\n\n",
    );
    md.push_str("## Training\n\n");
    if let Some(dir) = &r.models_from {
        let _ = writeln!(
            md,
            "Not trained by this run: the three models were loaded from `{dir}` (`--models`); the rows are their cards' training records.\n"
        );
    }
    md.push_str("| model | steps | seconds | divergences | E+ | E− |\n|---|---|---|---|---|---|\n");
    for t in &r.training {
        let seconds = if t.seconds.is_finite() {
            format!("{:.0}", t.seconds)
        } else {
            "—".into()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {seconds} | {} | {:.3} | {:.3} |",
            t.model, t.steps, t.divergences, t.e_pos, t.e_neg
        );
    }
    md.push_str("\n## Conditional generation (judge reads the asked digit)\n\n| model | what | accuracy |\n|---|---|---|\n");
    for s in &r.generation {
        let _ = writeln!(md, "| {} | {} | {} |", s.model, s.what, pct(s.value));
    }
    md.push_str(
        "\nChance is 10 %. Grids: `samples-*.png`.\n\n## Classification by lowest energy\n\n| model | how | accuracy |\n|---|---|---|\n",
    );
    for s in &r.classification {
        let _ = writeln!(md, "| {} | {} | {} |", s.model, s.what, pct(s.value));
    }
    md.push_str("\n## Out-of-distribution detection (AUROC of −E, MNIST test digits positive)\n\n");
    if let Some(first) = r.ood.first() {
        let _ = writeln!(
            md,
            "| set | {} |",
            r.ood.iter().map(|t| t.model.as_str()).collect::<Vec<_>>().join(" | ")
        );
        let _ = writeln!(md, "|---|{}", "---|".repeat(r.ood.len()));
        for (i, row) in first.rows.iter().enumerate() {
            let cells: Vec<String> = r.ood.iter().map(|t| format!("{:.3}", t.rows[i].auroc)).collect();
            let _ = writeln!(md, "| {} | {} |", row.set, cells.join(" | "));
        }
        let means: Vec<String> = r.ood.iter().map(|t| format!("**{:.3}**", t.mean)).collect();
        let _ = writeln!(md, "| mean | {} |", means.join(" | "));
    }
    md.push_str("\nConditional models score −min over the ten digits of E(x | digit). Histograms: `ood-*-hist-*.png`.\n\n");
    let _ = writeln!(
        md,
        "## Restoration ({}; chains under the EBM's own label for the corrupted input)\n",
        r.restoration_model
    );
    md.push_str("| task | PSNR before | PSNR after | gain | judge before | judge after |\n|---|---|---|---|---|---|\n");
    for row in &r.restoration {
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.2} | {:+.2} | {} | {} |",
            row.task,
            row.psnr_before,
            row.psnr_after,
            row.psnr_after - row.psnr_before,
            pct(row.judge_before),
            pct(row.judge_after)
        );
    }
    let _ = writeln!(
        md,
        "\nPSNR in dB against the clean digit, of the sampler's input and its result ({} Langevin steps, λ = {}, {}); inpainting starts from the masked digit (unknown half black).",
        r.budget.restore_steps,
        restore_langevin(1).step_size,
        restore_langevin(1).grad_clip.map_or("no gradient clip".to_string(), |c| format!("gradient clip {c}"))
    );
    let _ = writeln!(
        md,
        "Cross-class mapping ({}, {}): the judge reads the digit each chain ran under on **{}** (chance 10 %).\n",
        r.cross_class.model,
        r.cross_class.what,
        pct(r.cross_class.value)
    );
    md.push_str("Pictures: `restoration.png`, `cross-class.png`.\n\n## Split-MNIST incremental class learning\n\n");
    let seeds = r
        .split_mnist
        .first()
        .map(|s| s.runs.iter().map(|r| r.seed).collect::<Vec<_>>())
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "Five tasks of two digits with {}-step Langevin negatives, negatives only under the current task's labels, \
         final classification over all ten labels. Seeds {seeds:?}. Pure CD, no supervised term, no replay of data.\n\n\
         | method | steps a task | accuracy |\n|---|---|---|",
        r.budget.split_langevin_steps,
    );
    for s in &r.split_mnist {
        let _ = writeln!(
            md,
            "| **this EBM: {}** | {} | **{:.2} ± {:.2} %** |",
            s.method.describe(),
            s.steps_per_task,
            100.0 * s.mean,
            100.0 * s.std
        );
    }
    for (name, value) in PAPER {
        let std = if name.starts_with("EBM") {
            format!(" ± {PAPER_EBM_STD}")
        } else {
            String::new()
        };
        let _ = writeln!(md, "| {name} (paper) | | {value:.2}{std} % |");
    }
    md.push_str("\nAccuracy per digit after the last task (mean over seeds):\n\n| method | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in &r.split_mnist {
        let per_digit: Vec<String> = (0..10)
            .map(|d| {
                let values: Vec<f64> = s.runs.iter().filter_map(|run| run.final_per_digit.get(d).copied()).collect();
                format!("{:.0}", 100.0 * values.iter().sum::<f64>() / values.len().max(1) as f64)
            })
            .collect();
        let _ = writeln!(md, "| {:?} | {} |", s.method, per_digit.join(" | "));
    }
    md.push_str("\n## Adversarial robustness (PGD on the logits; EBM = cond-hybrid)\n\n| norm | ε | EBM | EBM + Langevin | CNN |\n|---|---|---|---|---|\n");
    for row in &r.robustness {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            row.norm.name(),
            row.eps,
            pct(row.ebm),
            pct(row.ebm_refined),
            pct(row.cnn)
        );
    }
    md.push_str("\nPlots: `robustness-linf.png`, `robustness-l2.png`.\n\n## Targets of issue #5 (meant for the full run)\n\n| target | value | bar | met |\n|---|---|---|---|\n");
    for t in &r.targets {
        let _ = writeln!(
            md,
            "| {} | {:.3} | {} | {} |",
            t.target,
            t.value,
            t.bar,
            if t.met { "yes" } else { "no" }
        );
    }
    md
}

/// Writes `report.json` and `report.md` into `out`.
pub fn write_report(out: &Path, report: &IgebmReport) -> Result<()> {
    crate::io::atomic::write_atomically(&out.join("report.json"), serde_json::to_string_pretty(report)?.as_bytes())?;
    crate::io::atomic::write_atomically(&out.join("report.md"), markdown(report).as_bytes())
}
