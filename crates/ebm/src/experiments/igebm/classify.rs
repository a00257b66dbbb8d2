//! Classification by lowest energy over the labels, optionally after a few
//! Langevin steps per label in a small box around the input; and the
//! per-class sample grid judged by the MNIST judge.

use crate::data::mnist_source::{digit_codes, DIGITS, MNIST_INIT};
use crate::energy::Energy;
use crate::judge::Judge;
use crate::sample::{langevin, LangevinConfig, LangevinOptions};
use tch::{Kind, Tensor};

/// Rows per forward pass when scoring many images, to bound memory.
const CHUNK: i64 = 256;

/// Energies `[B, L]` of each image under each label, differentiable in `x`
/// (PGD attacks the logits −E through this).
pub fn label_energies(energy: &dyn Energy, x: &Tensor, labels: &[i64]) -> Tensor {
    let (n, l) = (x.size()[0], labels.len() as i64);
    let repeated = x.repeat_interleave_self_int(l, 0, None);
    let codes = digit_codes(labels).repeat([n, 1]);
    energy.energy(&repeated, Some(&codes)).view([n, l])
}

/// `f` applied to chunks of the rows of `x`, results concatenated (no autograd).
pub fn in_chunks(x: &Tensor, f: impl Fn(&Tensor) -> Tensor) -> Tensor {
    let n = x.size()[0];
    let parts: Vec<Tensor> = (0..n)
        .step_by(CHUNK as usize)
        .map(|start| tch::no_grad(|| f(&x.narrow(0, start, CHUNK.min(n - start)))))
        .collect();
    Tensor::cat(&parts, 0)
}

/// All ten digits as labels.
pub fn all_digits() -> Vec<i64> {
    (0..DIGITS).collect()
}

/// How classification runs: plain lowest energy, or after `steps` Langevin
/// steps under each label, each step projected back into the L∞ box of
/// radius `radius` around the input (the IGEBM recipe against adversarial
/// perturbations).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refinement {
    pub steps: usize,
    pub radius: f64,
    pub langevin: LangevinConfig,
}

/// Energies `[B, L]` after refining each image under each label.
pub fn refined_label_energies(energy: &dyn Energy, x: &Tensor, labels: &[i64], refine: &Refinement) -> Tensor {
    let one_step = LangevinConfig {
        steps: 1,
        ..refine.langevin.clone()
    };
    let (lo, hi) = ((x - refine.radius).clamp_min(0.0), (x + refine.radius).clamp_max(1.0));
    let columns: Vec<Tensor> = labels
        .iter()
        .map(|&label| {
            let code = digit_codes(&vec![label; x.size()[0] as usize]);
            let mut current = x.detach();
            for _ in 0..refine.steps {
                let moved = langevin(energy, &current, Some(&code), &one_step, &LangevinOptions::default()).x;
                current = moved.clamp_tensor(Some(&lo), Some(&hi));
            }
            tch::no_grad(|| energy.energy(&current, Some(&code)))
        })
        .collect();
    Tensor::stack(&columns, 1)
}

/// Labels (from `labels`) of lowest energy for each image, with or without refinement.
pub fn predict(energy: &dyn Energy, x: &Tensor, labels: &[i64], refine: Option<&Refinement>) -> Tensor {
    let energies = in_chunks(x, |chunk| match refine {
        Some(r) => refined_label_energies(energy, chunk, labels, r),
        None => label_energies(energy, chunk, labels),
    });
    Tensor::from_slice(labels).index_select(0, &energies.argmin(-1, false))
}

/// Fraction of `predicted` equal to `truth`.
pub fn accuracy(predicted: &Tensor, truth: &Tensor) -> f64 {
    predicted
        .eq_tensor(truth)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[])
}

/// `per_class` samples of each digit from MNIST's start noise
/// ([`MNIST_INIT`]), labels alongside: `([10·per_class, 1, 28, 28], [10·per_class])`.
pub fn sample_each_digit(energy: &dyn Energy, per_class: usize, langevin_config: &LangevinConfig, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let labels: Vec<i64> = (0..DIGITS).flat_map(|d| std::iter::repeat_n(d, per_class)).collect();
    let x0 = MNIST_INIT.sample(&[labels.len() as i64, 1, 28, 28]);
    let code = digit_codes(&labels);
    let x = langevin(energy, &x0, Some(&code), langevin_config, &LangevinOptions::default()).x;
    (x, Tensor::from_slice(&labels))
}

/// The judge's digit predictions.
pub fn judge_digits(judge: &Judge, images: &Tensor) -> Tensor {
    in_chunks(images, |chunk| judge.forward(chunk).remove(0)).argmax(-1, false)
}
