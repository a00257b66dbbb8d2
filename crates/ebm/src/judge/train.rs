//! Training a judge on its task and checking it against its bars.

use super::network::{HeadKind, Judge};
use super::score::{score_head, HeadScore};
use super::tasks::{Bar, JudgeTask, Labelled};
use crate::energy::network::named_parameters;
use crate::train::Adam;
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;
use tch::{Kind, Tensor};

#[derive(Clone, Debug)]
pub struct JudgeTraining {
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Held-out examples to score.
    pub eval_examples: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct BarCheck {
    pub bar: Bar,
    pub passed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct JudgeReport {
    pub task: String,
    pub steps: u64,
    pub seconds: f64,
    pub scores: Vec<HeadScore>,
    pub bars: Vec<BarCheck>,
    pub passed: bool,
}

/// Per-head losses: cross-entropy for classes; squared error in units of
/// the head's tolerance for regression, so heads weigh alike.
fn loss(judge: &Judge, outputs: &[Tensor], targets: &[Tensor]) -> Tensor {
    let mut total = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
    for ((head, out), target) in judge.config.heads.iter().zip(outputs).zip(targets) {
        total += match &head.kind {
            HeadKind::Classes { .. } => out.cross_entropy_for_logits(target),
            HeadKind::Regression { tolerance, .. } => {
                (out - target).square().sum_dim_intlist(-1, false, Kind::Float).mean(Kind::Float) / (tolerance * tolerance)
            }
        };
    }
    total
}

/// Scores of a judge on labelled data, one per head.
pub fn evaluate(judge: &Judge, data: &Labelled) -> Result<Vec<HeadScore>> {
    let outputs = tch::no_grad(|| judge.forward(&data.images));
    judge
        .config
        .heads
        .iter()
        .zip(&outputs)
        .zip(&data.targets)
        .map(|((head, out), target)| score_head(&head.kind, &head.name, out, target))
        .collect()
}

/// Whether each bar is cleared.
pub fn check_bars(bars: &[Bar], scores: &[HeadScore]) -> Vec<BarCheck> {
    bars.iter()
        .map(|bar| {
            let score = scores.iter().find(|s| crate::names::same_name(&s.head, &bar.head));
            let passed = score.is_some_and(|s| {
                bar.min_accuracy.is_none_or(|a| s.accuracy >= a) && bar.max_mean_error.is_none_or(|e| s.mean_error.is_some_and(|m| m <= e))
            });
            BarCheck { bar: bar.clone(), passed }
        })
        .collect()
}

pub fn train_judge(
    task: &dyn JudgeTask,
    training: &JudgeTraining,
    progress: &dyn crate::progress::Progress,
) -> Result<(Judge, JudgeReport)> {
    let started = Instant::now();
    tch::manual_seed(training.seed as i64);
    let judge = Judge::new(task.config());
    let params: Vec<Tensor> = named_parameters(&judge.vs).into_iter().map(|(_, t)| t).collect();
    let mut adam = Adam::new(&params, 0.9, 0.999);
    let bar = progress.begin(task.name(), training.steps);
    for step in 0..training.steps {
        let batch = task.train_batch(step, training.batch);
        let outputs = judge.forward(&batch.images);
        let l = loss(&judge, &outputs, &batch.targets);
        let grads = Tensor::run_backward(&[&l], &params, false, false);
        // Ten times smaller for the last quarter, to settle the regressions.
        let lr = if step * 4 >= training.steps * 3 {
            training.lr / 10.0
        } else {
            training.lr
        };
        adam.step(&params, &grads, lr);
        bar.advance(1);
        if step % 50 == 0 {
            bar.set_message(&format!("loss {:.4}", l.double_value(&[])));
        }
    }
    drop(bar);
    let scores = evaluate(&judge, &task.eval_set(training.eval_examples))?;
    let bars = check_bars(&task.bars(), &scores);
    let passed = bars.iter().all(|b| b.passed);
    let report = JudgeReport {
        task: task.name().into(),
        steps: training.steps,
        seconds: started.elapsed().as_secs_f64(),
        scores,
        bars,
        passed,
    };
    Ok((judge, report))
}
