//! Sample-quality metrics for 2-D densities.

use crate::data::toy2d::{eight_gaussian_modes, EIGHT_GAUSSIANS_STD};
use serde::Serialize;
use tch::{Kind, Tensor};

/// Squared maximum mean discrepancy between samples `x: [N, D]` and
/// `y: [M, D]` with a Gaussian kernel whose bandwidth is the median pairwise
/// distance of the pooled samples (the median heuristic). Biased
/// (V-statistic) estimate: 0 only for identical sample sets.
pub fn mmd2(x: &Tensor, y: &Tensor) -> f64 {
    let x = x.to_kind(Kind::Double).flatten(1, -1);
    let y = y.to_kind(Kind::Double).flatten(1, -1);
    let pooled = Tensor::cat(&[&x, &y], 0);
    let distances = Tensor::cdist(&pooled, &pooled, 2.0, None::<i64>);
    let n = pooled.size()[0];
    let off_diagonal = distances.masked_select(&Tensor::eye(n, (Kind::Bool, pooled.device())).logical_not());
    let bandwidth = off_diagonal.median().double_value(&[]).max(1e-12);
    let kernel = |a: &Tensor, b: &Tensor| {
        (Tensor::cdist(a, b, 2.0, None::<i64>).square() / (-2.0 * bandwidth * bandwidth))
            .exp()
            .mean(Kind::Double)
            .double_value(&[])
    };
    kernel(&x, &x) + kernel(&y, &y) - 2.0 * kernel(&x, &y)
}

#[derive(Clone, Debug, Serialize)]
pub struct ModeCoverage {
    /// Fraction of samples within 3 std of some mode.
    pub on_mode: f64,
    /// Modes that receive at least a quarter of their fair share (1/32 of all
    /// samples) within 3 std.
    pub modes_hit: usize,
    /// Fraction of samples at each mode (within 3 std).
    pub per_mode: Vec<f64>,
}

/// Mode coverage of eight-gaussians samples `[N, 2]`.
pub fn mode_coverage(samples: &Tensor) -> ModeCoverage {
    let per_mode = mode_shares(samples, 3.0 * EIGHT_GAUSSIANS_STD);
    let fair = 1.0 / per_mode.len() as f64;
    ModeCoverage {
        on_mode: per_mode.iter().sum(),
        modes_hit: per_mode.iter().filter(|&&f| f >= fair / 4.0).count(),
        per_mode,
    }
}

/// Share of samples within `radius` of each eight-gaussians mode.
pub fn mode_shares(samples: &Tensor, radius: f64) -> Vec<f64> {
    let modes = eight_gaussian_modes();
    let n = samples.size()[0] as usize;
    let mut points = vec![0f64; 2 * n];
    samples.to_kind(Kind::Double).contiguous().copy_data(&mut points, 2 * n);
    let mut counts = vec![0usize; modes.len()];
    for p in points.chunks(2) {
        for (k, (mx, my)) in modes.iter().enumerate() {
            if (p[0] - mx).hypot(p[1] - my) < radius {
                counts[k] += 1;
            }
        }
    }
    counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect()
}

/// Area under the ROC curve with `positives` as the positive class: the
/// probability that a random positive scores above a random negative, ties
/// counting half (Mann–Whitney).
pub fn auroc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        // Tied scores share the mean of ranks i+1..=j.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * all[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let (p, n) = (positives.len() as f64, negatives.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}
