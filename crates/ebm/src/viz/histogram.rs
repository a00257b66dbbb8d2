//! Score histograms: several sets of scores as density lines on shared bins
//! (OOD detection draws in-distribution against each other set this way).

use anyhow::Result;
use std::path::Path;

/// Bins over the finite scores of every set.
const BINS: usize = 40;

/// One density line per named set of scores, on bins shared by all sets;
/// non-finite scores are left out of the bins (but count in the total).
pub fn score_histogram(path: &Path, sets: &[(&str, &[f64])], title: &str) -> Result<()> {
    let finite = || sets.iter().flat_map(|(_, s)| s.iter().copied()).filter(|s| s.is_finite());
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let width = ((hi - lo) / BINS as f64).max(1e-12);
    let density = |scores: &[f64]| -> Vec<(f64, f64)> {
        let mut counts = [0usize; BINS];
        for s in scores.iter().filter(|s| s.is_finite()) {
            counts[(((s - lo) / width) as usize).min(BINS - 1)] += 1;
        }
        let total = scores.len().max(1) as f64;
        counts
            .iter()
            .enumerate()
            .map(|(k, &c)| (lo + (k as f64 + 0.5) * width, c as f64 / total))
            .collect()
    };
    let lines: Vec<(&str, Vec<(f64, f64)>)> = sets.iter().map(|(name, s)| (*name, density(s))).collect();
    let series: Vec<(&str, &[(f64, f64)])> = lines.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    super::line_plot(
        path,
        &series,
        title,
        "score −E (higher = more in-distribution)",
        "fraction of images",
        (640, 400),
    )
}
