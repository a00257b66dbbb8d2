//! Adversarial robustness: L∞ and L2 PGD on the cross-entropy of logits
//! (the EBM's −E(x | label), or a plain CNN's outputs), accuracy against the
//! budget for the EBM (classifying directly, and after Langevin refinement
//! per label) and for a CNN classifier trained for the same number of steps
//! at the same batch size.

use super::classify::{accuracy, all_digits, label_energies, predict, Refinement};
use crate::energy::Energy;
use crate::judge::tasks::MnistTask;
use crate::judge::train::{train_judge, JudgeTraining};
use crate::judge::Judge;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use tch::Tensor;

pub use crate::train::adversarial::{pgd, Norm};

pub use crate::train::adversarial::Logits;

/// The EBM's logits −E(x | digit).
pub fn ebm_logits(energy: &dyn Energy) -> impl Fn(&Tensor) -> Tensor + '_ {
    move |x| -label_energies(energy, x, &all_digits())
}

/// Mean cross-entropy of `logits` at `x` against `y`.
pub fn cross_entropy(logits: &Logits, x: &Tensor, y: &Tensor) -> f64 {
    tch::no_grad(|| logits(x).cross_entropy_for_logits(y)).double_value(&[])
}

/// A plain CNN (the judge's architecture) trained on `task`'s training
/// split for `steps` steps of `batch` images.
pub fn train_cnn_baseline(task: &MnistTask, steps: u64, batch: usize, seed: u64) -> Result<Judge> {
    let training = JudgeTraining {
        steps,
        batch,
        lr: 1e-3,
        seed,
        eval_examples: 1,
    };
    Ok(train_judge(task, &training, &crate::progress::Quiet)?.0)
}

#[derive(Clone, Debug, Serialize)]
pub struct RobustnessRow {
    pub norm: Norm,
    pub eps: f64,
    pub ebm: f64,
    /// The EBM classifying after Langevin refinement of the attacked image.
    pub ebm_refined: f64,
    pub cnn: f64,
}

/// Accuracy of each classifier at each budget (each attacked on its own
/// logits; the refined EBM is attacked on the plain EBM's logits).
pub fn robustness_curves(
    energy: &dyn Energy,
    cnn: &Judge,
    x: &Tensor,
    y: &Tensor,
    budgets: &[(Norm, f64)],
    pgd_steps: usize,
    refine: &Refinement,
) -> Vec<RobustnessRow> {
    let ebm = ebm_logits(energy);
    let cnn_logits = |t: &Tensor| cnn.forward(t).remove(0);
    budgets
        .iter()
        .map(|&(norm, eps)| {
            let attacked = pgd(&ebm, x, y, norm, eps, pgd_steps);
            let cnn_attacked = pgd(&cnn_logits, x, y, norm, eps, pgd_steps);
            let cnn_predicted = tch::no_grad(|| cnn_logits(&cnn_attacked)).argmax(-1, false);
            RobustnessRow {
                norm,
                eps,
                ebm: accuracy(&predict(energy, &attacked, &all_digits(), None), y),
                ebm_refined: accuracy(&predict(energy, &attacked, &all_digits(), Some(refine)), y),
                cnn: accuracy(&cnn_predicted, y),
            }
        })
        .collect()
}

/// One PNG per norm: accuracy against budget, three curves.
pub fn plot_robustness(rows: &[RobustnessRow], out_dir: &Path, tag: &str) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for norm in [Norm::Linf, Norm::L2] {
        let of =
            |f: fn(&RobustnessRow) -> f64| -> Vec<(f64, f64)> { rows.iter().filter(|r| r.norm == norm).map(|r| (r.eps, f(r))).collect() };
        let (ebm, refined, cnn) = (of(|r| r.ebm), of(|r| r.ebm_refined), of(|r| r.cnn));
        if ebm.is_empty() {
            continue;
        }
        let file = format!("{tag}-{}.png", if norm == Norm::Linf { "linf" } else { "l2" });
        crate::viz::line_plot(
            &out_dir.join(&file),
            &[("EBM", &ebm), ("EBM + Langevin", &refined), ("CNN", &cnn)],
            &format!("PGD {} on the logits", norm.name()),
            &format!("{} budget ε", norm.name()),
            "test accuracy",
            (640, 420),
        )?;
        files.push(file);
    }
    Ok(files)
}

/// Mean cross-entropy the attack maximises, before and after, for checks.
pub fn attack_gain(logits: &Logits, x: &Tensor, y: &Tensor, norm: Norm, eps: f64, steps: usize) -> (f64, f64) {
    let adv = pgd(logits, x, y, norm, eps, steps);
    (cross_entropy(logits, x, y), cross_entropy(logits, &adv, y))
}
