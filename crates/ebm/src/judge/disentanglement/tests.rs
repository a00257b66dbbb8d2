//! Tests of the disentanglement scores and the assignment.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const SAMPLES: usize = 4000;
const BINS: usize = 10;

/// Three independent factors per sample (row-major N×3): uniform over 4
/// values, uniform over 6 values, and continuous uniform on [0, 1).
fn sample_factors(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .flat_map(|_| [rng.random_range(0..4) as f64, rng.random_range(0..6) as f64, rng.random::<f64>()])
        .collect()
}

/// Latents (N×5) that are the factors in permuted order (f2, f0, f1 in
/// columns 0, 1, 3) plus N(0, 0.01²) noise, and two pure-noise columns.
fn disentangled_latents(rng: &mut ChaCha8Rng, factors: &[f64]) -> Vec<f64> {
    let mut noise = |scale: f64| scale * rng.sample::<f64, _>(StandardNormal);
    let rows = factors
        .chunks(3)
        .map(|f| [f[2] + noise(0.01), f[0] + noise(0.01), noise(1.0), f[1] + noise(0.01), noise(1.0)]);
    rows.flatten().collect()
}

/// Best total weight over all injective maps of rows to columns (rows <= cols).
fn brute_force_best(weights: Matrix, row: usize, used: &mut Vec<bool>) -> f64 {
    if row == weights.rows {
        return 0.0;
    }
    let mut best = f64::NEG_INFINITY;
    for col in 0..weights.cols {
        if !used[col] {
            used[col] = true;
            best = best.max(weights.at(row, col) + brute_force_best(weights, row + 1, used));
            used[col] = false;
        }
    }
    best
}

fn assignment_total(weights: Matrix, assignment: &[Option<usize>]) -> f64 {
    let cols: Vec<usize> = assignment.iter().flatten().copied().collect();
    let mut distinct = cols.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), cols.len(), "a column is assigned twice: {assignment:?}");
    assignment.iter().enumerate().filter_map(|(i, c)| c.map(|c| weights.at(i, c))).sum()
}

#[test]
fn assignment_beats_greedy_on_hand_example() {
    // Greedy takes (0,0)=0.9 then (2,1)=0.7 and (1,2)=0.3: 1.9. Checking
    // the 24 assignments by hand, the best is row 0→1 (0.8), row 1→0
    // (0.85), row 2→2 (0.6): 2.25.
    let data = [0.9, 0.8, 0.1, 0.0, 0.85, 0.2, 0.3, 0.1, 0.1, 0.7, 0.6, 0.2];
    let weights = Matrix::new(&data, 3, 4);
    let assignment = max_weight_assignment(weights);
    assert_eq!(assignment, vec![Some(1), Some(0), Some(2)]);
    assert!((brute_force_best(weights, 0, &mut vec![false; 4]) - 2.25).abs() < 1e-12);
}

#[test]
fn assignment_matches_brute_force_on_random_matrices() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..50 {
        let data: Vec<f64> = (0..20).map(|_| rng.random::<f64>()).collect();
        let wide = Matrix::new(&data, 4, 5);
        let best = brute_force_best(wide, 0, &mut vec![false; 5]);
        assert!((assignment_total(wide, &max_weight_assignment(wide)) - best).abs() < 1e-12);
        // The 5×4 transpose has the same optimum, leaving one row unassigned.
        let transposed: Vec<f64> = (0..20).map(|i| data[(i % 4) * 5 + i / 4]).collect();
        let tall = Matrix::new(&transposed, 5, 4);
        let assignment = max_weight_assignment(tall);
        assert_eq!(assignment.iter().filter(|c| c.is_none()).count(), 1);
        assert!((assignment_total(tall, &assignment) - best).abs() < 1e-12);
    }
}

#[test]
fn ridge_on_orthogonal_inputs_matches_closed_form() {
    // Orthogonal columns with |x|² = 4: β_j = x_j·y / (4 + λ).
    // y = 2·x0 − x1 gives x0·y = 8, x1·y = −4.
    let inputs = vec![vec![1.0, -1.0, 1.0, -1.0], vec![1.0, 1.0, -1.0, -1.0]];
    let target: Vec<f64> = (0..4).map(|i| 2.0 * inputs[0][i] - inputs[1][i]).collect();
    let beta = &ridge_coefficients(&inputs, &[target], 0.004)[0];
    assert!((beta[0] - 8.0 / 4.004).abs() < 1e-12 && (beta[1] + 4.0 / 4.004).abs() < 1e-12);
}

#[test]
fn concentration_extremes() {
    assert!((concentration(&[0.0, 3.0, 0.0], 3) - 1.0).abs() < 1e-12);
    assert!(concentration(&[2.0, 2.0, 2.0], 3).abs() < 1e-12);
    // Two equal weights among four outcomes: 1 − ln 2 / ln 4 = 1/2.
    assert!((concentration(&[1.0, 0.0, 1.0, 0.0], 4) - 0.5).abs() < 1e-12);
    assert!(concentration(&[0.0, 0.0], 2).is_nan());
}

#[test]
fn mcc_counts_unmatched_factors_as_zero_and_ignores_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let factors = sample_factors(&mut rng, 500);
    let factors = Matrix::new(&factors, 500, 3);
    // Latents: factor 2 exactly, then a constant column (correlation 0).
    let latents: Vec<f64> = (0..500).flat_map(|i| [factors.at(i, 2), 5.0]).collect();
    let score = mcc(Matrix::new(&latents, 500, 2), factors);
    // Factor 2 goes to latent 0 (|r| = 1); one other factor gets the
    // constant latent (|r| = 0); the third is unmatched (0). Matching a
    // chance correlation instead would lose the 1. Mean over 3: 1/3.
    assert!((score - 1.0 / 3.0).abs() < 1e-12, "MCC = {score}");
    let swapped: Vec<f64> = latents.chunks(2).flat_map(|r| [r[1], r[0]]).collect();
    assert_eq!(mcc(Matrix::new(&swapped, 500, 2), factors), score);
}

#[test]
fn disentangled_latents_score_high() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let train_factors = sample_factors(&mut rng, SAMPLES);
    let train_latents = disentangled_latents(&mut rng, &train_factors);
    let test_factors = sample_factors(&mut rng, SAMPLES);
    let test_latents = disentangled_latents(&mut rng, &test_factors);
    let (latents, factors) = (Matrix::new(&train_latents, SAMPLES, 5), Matrix::new(&train_factors, SAMPLES, 3));
    // Each factor's partner has |r| ≈ 1 − 0.5·(0.01/std)² > 0.999.
    assert!(mcc(latents, factors) > 0.99);
    // Discrete factors: the partner latent puts each value in its own
    // bin, so MI = H(factor); unrelated latents carry only plug-in bias,
    // about (bins − 1)(values − 1)/(2N) ≈ 0.006 nats against H ≈ 1.4–1.8,
    // so the gap exceeds 0.98. The continuous factor is binned on a
    // range ~6 % wider for the latent, so bins straddle, roughly
    // H(f | latent bin) ≲ ln 2 and gap ≳ 1 − ln 2 / ln 10 ≈ 0.7.
    let gaps = mutual_information_gaps(latents, factors, BINS);
    assert!(gaps[0] > 0.98 && gaps[1] > 0.98 && gaps[2] > 0.7, "gaps = {gaps:?}");
    assert!(mig(latents, factors, BINS) > 0.88);
    let scores = dci(
        latents,
        factors,
        Matrix::new(&test_latents, SAMPLES, 5),
        Matrix::new(&test_factors, SAMPLES, 3),
    );
    assert!(scores.disentanglement > 0.9 && scores.completeness > 0.9, "{scores:?}");
    // R² ≈ 1 − (0.01/std)² ≥ 0.998 for every factor.
    assert!(scores.informativeness > 0.99, "{scores:?}");
}

/// Two continuous factors and latents either equal to them (plus small
/// noise) or rotated by an angle drawn from [π/6, π/3].
fn two_factor_scores(rotate: bool) -> (f64, Dci) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let angle = if rotate {
        rng.random_range(std::f64::consts::PI / 6.0..std::f64::consts::PI / 3.0)
    } else {
        0.0
    };
    let (sin, cos) = angle.sin_cos();
    let sample = |rng: &mut ChaCha8Rng| {
        let factors: Vec<f64> = (0..2 * SAMPLES).map(|_| rng.random::<f64>()).collect();
        let latents: Vec<f64> = factors
            .chunks(2)
            .flat_map(|f| [cos * f[0] - sin * f[1], sin * f[0] + cos * f[1]])
            .map(|v| v + 0.01 * rng.sample::<f64, _>(StandardNormal))
            .collect();
        (latents, factors)
    };
    let (train_latents, train_factors) = sample(&mut rng);
    let (test_latents, test_factors) = sample(&mut rng);
    let (latents, factors) = (Matrix::new(&train_latents, SAMPLES, 2), Matrix::new(&train_factors, SAMPLES, 2));
    let test = (Matrix::new(&test_latents, SAMPLES, 2), Matrix::new(&test_factors, SAMPLES, 2));
    (mig(latents, factors, BINS), dci(latents, factors, test.0, test.1))
}

#[test]
fn rotated_latents_score_lower_than_aligned() {
    let (aligned_mig, aligned) = two_factor_scores(false);
    let (rotated_mig, rotated) = two_factor_scores(true);
    // Rotation by θ ∈ [30°, 60°] gives |coefficients| ∝ (cos θ, sin θ), so
    // each latent's importance is at best split 0.63/0.37, concentration
    // ≤ 1 − H₂(0.634) ≈ 0.05; both factors are still fully predictable.
    assert!(
        aligned.disentanglement > 0.9 && rotated.disentanglement < 0.1,
        "{aligned:?} {rotated:?}"
    );
    assert!(rotated.informativeness > 0.99);
    assert!(rotated_mig < aligned_mig - 0.3, "MIG aligned {aligned_mig}, rotated {rotated_mig}");
}

#[test]
fn mig_matches_hand_computation() {
    // With 2 bins, the latent columns code as a = [0,0,1,1],
    // b = [0,1,0,1], c = [0,0,0,1]; the factor has values 10,10,20,20
    // (H = ln 2). MI(a) = ln 2, MI(b) = 0, and for c the joint counts
    // (0,10):2, (0,20):1, (1,20):1 give
    // MI = ½ ln(½ / (¾·½)) + ¼ ln(¼ / (¾·½)) + ¼ ln(¼ / (¼·½)) = ¾ ln(4/3).
    // Gap = (ln 2 − ¾ ln(4/3)) / ln 2.
    let latents = [0.0, -1.0, 5.0, 0.2, 3.0, 5.0, 0.9, -1.0, 5.0, 1.0, 3.0, 6.0];
    let factor = [10.0, 10.0, 20.0, 20.0];
    let expected = 1.0 - 0.75 * (4.0f64 / 3.0).ln() / 2.0f64.ln();
    let score = mig(Matrix::new(&latents, 4, 3), Matrix::new(&factor, 4, 1), 2);
    assert!((score - expected).abs() < 1e-12, "MIG = {score}, expected {expected}");
}

#[test]
fn independent_latents_have_near_zero_mig() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let factors = sample_factors(&mut rng, SAMPLES);
    let latents: Vec<f64> = (0..SAMPLES * 4).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
    let score = mig(Matrix::new(&latents, SAMPLES, 4), Matrix::new(&factors, SAMPLES, 3), BINS);
    // Only plug-in bias differences, ≲ 0.02 nats against H ≥ 1.4 nats.
    assert!(score.abs() < 0.05, "MIG = {score}");
}

#[test]
fn constant_factor_is_skipped_and_empty_input_is_nan() {
    let latents = [0.0, 1.0, 2.0, 3.0];
    let factors = [0.0, 7.0, 1.0, 7.0, 0.0, 7.0, 1.0, 7.0];
    let gaps = mutual_information_gaps(Matrix::new(&latents, 4, 1), Matrix::new(&factors, 4, 2), 2);
    // Latent bins {0,1} and {2,3} vs factor values 0,1,0,1: MI = 0, and
    // one latent means the second MI is 0, so the gap is 0.
    assert_eq!(gaps[0], 0.0);
    assert!(gaps[1].is_nan());
    assert!(mig(Matrix::new(&[], 0, 1), Matrix::new(&[], 0, 1), 4).is_nan());
    assert!(mcc(Matrix::new(&[], 0, 1), Matrix::new(&[], 0, 1)).is_nan());
}
