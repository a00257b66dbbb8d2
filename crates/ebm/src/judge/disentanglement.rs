//! Disentanglement scores of learned latents against known ground-truth
//! factors: MCC (mean correlation coefficient after a one-to-one matching),
//! MIG (mutual information gap, Chen et al. 2018) and DCI (disentanglement,
//! completeness, informativeness; Eastwood & Williams 2018). Pure Rust on
//! row-major `f64` matrices: latents are N×D, factors N×F, one row per sample.

pub use super::assignment::max_weight_assignment;

use serde::Serialize;
use std::cmp::Ordering;

/// A borrowed row-major matrix: entry (i, j) is `data[i * cols + j]`.
/// Rows are samples, columns are latent dimensions or factors.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a> {
    pub rows: usize,
    pub cols: usize,
    pub data: &'a [f64],
}

impl<'a> Matrix<'a> {
    /// Wraps `data` as a `rows`×`cols` matrix.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Self {
        let matrix = Matrix { rows, cols, data };
        matrix.check_shape();
        matrix
    }

    /// Entry at `row`, `col`.
    pub fn at(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.cols + col]
    }

    /// Copy of column `col` (all samples of one latent or factor).
    pub fn column(&self, col: usize) -> Vec<f64> {
        (0..self.rows).map(|row| self.at(row, col)).collect()
    }

    fn columns(&self) -> Vec<Vec<f64>> {
        (0..self.cols).map(|col| self.column(col)).collect()
    }

    pub(crate) fn check_shape(&self) {
        assert_eq!(self.data.len(), self.rows * self.cols, "Matrix: data length is not rows × cols");
    }
}

/// Panics unless both matrices are well formed and have one row per sample
/// in common (a programming error, not a data condition).
fn check_paired(latents: Matrix, factors: Matrix) {
    latents.check_shape();
    factors.check_shape();
    assert_eq!(latents.rows, factors.rows, "latents and factors have different numbers of samples");
}

/// True when every value equals the first (exact test, so that a constant
/// column is never mistaken for a varying one because its mean rounds).
fn is_constant(values: &[f64]) -> bool {
    values.iter().all(|&v| v == values[0])
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// |Pearson correlation| of two equal-length samples; 0 when either is
/// constant (no linear relation can be read off a constant).
fn abs_correlation(x: &[f64], y: &[f64]) -> f64 {
    if is_constant(x) || is_constant(y) {
        return 0.0;
    }
    let (mean_x, mean_y) = (mean(x), mean(y));
    let (mut cross, mut square_x, mut square_y) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        cross += (a - mean_x) * (b - mean_y);
        square_x += (a - mean_x) * (a - mean_x);
        square_y += (b - mean_y) * (b - mean_y);
    }
    (cross / (square_x * square_y).sqrt()).abs()
}

/// Mean correlation coefficient: |Pearson correlation| between every factor
/// and every latent dimension, a one-to-one matching of factors to distinct
/// latents maximising the total |correlation| (Kuhn–Munkres), and the mean of
/// the matched values over the F factors. With fewer latents than factors
/// (D < F) only D factors can be matched; the unmatched ones count as 0, so
/// the score still averages over all F factors. Constant columns correlate 0.
/// NaN when there are fewer than 2 samples, no factors, or non-finite data.
pub fn mcc(latents: Matrix, factors: Matrix) -> f64 {
    check_paired(latents, factors);
    if latents.rows < 2 || factors.cols == 0 {
        return f64::NAN;
    }
    let latent_columns = latents.columns();
    let correlations: Vec<f64> = factors
        .columns()
        .iter()
        .flat_map(|factor| latent_columns.iter().map(move |latent| abs_correlation(factor, latent)))
        .collect();
    if correlations.iter().any(|c| !c.is_finite()) {
        return f64::NAN;
    }
    let table = Matrix::new(&correlations, factors.cols, latents.cols);
    let matched: f64 = max_weight_assignment(table)
        .iter()
        .enumerate()
        .filter_map(|(factor, latent)| latent.map(|latent| table.at(factor, latent)))
        .sum();
    matched / factors.cols as f64
}

/// Discrete codes of a sample: `(code per value, number of codes)`.
type Codes = (Vec<usize>, usize);

/// Equal-width binning of `values` into `bins` bins spanning the observed
/// [min, max] (the maximum goes into the last bin). The observed range is
/// used because latents have no known scale; a constant column is one bin.
fn equal_width_codes(values: &[f64], bins: usize) -> Codes {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // f64::min/max skip NaN, so low and high are never NaN; an empty or
    // all-NaN column leaves high < low.
    if high <= low {
        return (vec![0; values.len()], 1);
    }
    let width = (high - low) / bins as f64;
    let codes = values
        .iter()
        .map(|&v| (((v - low) / width).floor() as usize).min(bins - 1))
        .collect();
    (codes, bins)
}

/// Codes of a factor: its distinct values when there are at most `2·bins`
/// of them (so categorical and small ordinal factors are not merged by
/// binning), otherwise equal-width bins like the latents.
fn factor_codes(values: &[f64], bins: usize) -> Codes {
    // Fold −0.0 into 0.0 so that equal values share one code.
    let canonical = |v: f64| if v == 0.0 { 0.0 } else { v };
    let mut distinct: Vec<f64> = values.iter().map(|&v| canonical(v)).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
    if distinct.len() > 2 * bins {
        return equal_width_codes(values, bins);
    }
    let code = |v: f64| {
        distinct
            .binary_search_by(|d| d.total_cmp(&canonical(v)))
            .expect("value is among the distinct values")
    };
    (values.iter().map(|&v| code(v)).collect(), distinct.len())
}

/// Shannon entropy in nats of the empirical distribution of `codes`.
fn entropy((codes, count): &Codes) -> f64 {
    let mut histogram = vec![0usize; *count];
    codes.iter().for_each(|&c| histogram[c] += 1);
    let n = codes.len() as f64;
    histogram
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| -(c as f64 / n) * (c as f64 / n).ln())
        .sum()
}

/// Plug-in mutual information in nats between two code sequences, from
/// their joint histogram: Σ p(a,b) ln(p(a,b) / (p(a) p(b))). Clamped at 0
/// against rounding.
fn mutual_information((a, a_count): &Codes, (b, b_count): &Codes) -> f64 {
    let mut joint = vec![0usize; a_count * b_count];
    let (mut a_marginal, mut b_marginal) = (vec![0usize; *a_count], vec![0usize; *b_count]);
    for (&i, &j) in a.iter().zip(b) {
        joint[i * b_count + j] += 1;
        a_marginal[i] += 1;
        b_marginal[j] += 1;
    }
    let n = a.len() as f64;
    let mut information = 0.0;
    for (cell, &count) in joint.iter().enumerate().filter(|(_, &c)| c > 0) {
        let (i, j) = (cell / b_count, cell % b_count);
        let expected = a_marginal[i] as f64 * b_marginal[j] as f64 / n;
        information += count as f64 / n * (count as f64 / expected).ln();
    }
    information.max(0.0)
}

/// Per-factor mutual information gap: (largest − second largest MI between
/// the factor and a latent) / H(factor), with the discretisation of [`mig`].
/// With a single latent the second largest MI is taken as 0. A factor with
/// H = 0 (one value) gets NaN.
///
/// # Panics
/// If `bins == 0` or the matrices do not pair up.
pub fn mutual_information_gaps(latents: Matrix, factors: Matrix, bins: usize) -> Vec<f64> {
    check_paired(latents, factors);
    assert!(bins > 0, "mutual_information_gaps: bins must be positive");
    if latents.rows == 0 {
        return vec![f64::NAN; factors.cols];
    }
    let latent_codes: Vec<Codes> = latents.columns().iter().map(|latent| equal_width_codes(latent, bins)).collect();
    let gap = |factor: &Vec<f64>| {
        let codes = factor_codes(factor, bins);
        let factor_entropy = entropy(&codes);
        if factor_entropy <= 0.0 {
            return f64::NAN;
        }
        let mut informations: Vec<f64> = latent_codes.iter().map(|latent| mutual_information(latent, &codes)).collect();
        informations.sort_by(|a, b| b.total_cmp(a));
        let largest = informations.first().copied().unwrap_or(0.0);
        let second = informations.get(1).copied().unwrap_or(0.0);
        (largest - second) / factor_entropy
    };
    factors.columns().iter().map(gap).collect()
}

/// Mutual information gap (Chen et al. 2018): each latent is cut into `bins`
/// equal-width bins over its observed range; each factor is taken as discrete
/// by its distinct values if it has at most `2·bins` of them, else binned the
/// same way; MI is the plug-in estimate in nats. MIG is the mean of
/// [`mutual_information_gaps`] over the factors with H > 0 (NaN if none).
pub fn mig(latents: Matrix, factors: Matrix, bins: usize) -> f64 {
    let gaps: Vec<f64> = mutual_information_gaps(latents, factors, bins)
        .into_iter()
        .filter(|g| !g.is_nan())
        .collect();
    if gaps.is_empty() {
        f64::NAN
    } else {
        mean(&gaps)
    }
}

/// DCI scores (Eastwood & Williams 2018), each in [0, 1], higher is better.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Dci {
    /// Importance-weighted mean over latents of how much each latent
    /// concentrates on a single factor.
    pub disentanglement: f64,
    /// Mean over factors of how much each factor is captured by a single latent.
    pub completeness: f64,
    /// Mean over factors of the test R² of the linear predictor.
    pub informativeness: f64,
}

/// Ridge penalty per training sample: λ = 1e-3·N. On standardised inputs the
/// Gram diagonal is N, so this shrinks coefficients by about 0.1 % while
/// keeping the normal equations positive definite when latents are collinear
/// or constant.
const RIDGE_PER_SAMPLE: f64 = 1e-3;

/// Column means and scales (standard deviations) of a training matrix.
/// Constant columns get scale 1, so they standardise to exactly 0.
struct Standardiser {
    means: Vec<f64>,
    scales: Vec<f64>,
}

impl Standardiser {
    fn fit(matrix: Matrix) -> Self {
        let columns = matrix.columns();
        let means: Vec<f64> = columns.iter().map(|c| if is_constant(c) { c[0] } else { mean(c) }).collect();
        let scales = columns
            .iter()
            .zip(&means)
            .map(|(c, &m)| {
                if is_constant(c) {
                    1.0
                } else {
                    (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / c.len() as f64).sqrt()
                }
            })
            .collect();
        Standardiser { means, scales }
    }

    /// Standardised columns of `matrix` using the fitted statistics.
    fn columns(&self, matrix: Matrix) -> Vec<Vec<f64>> {
        let columns = matrix.columns().into_iter().zip(self.means.iter().zip(&self.scales));
        columns.map(|(c, (&m, &s))| c.iter().map(|v| (v - m) / s).collect()).collect()
    }
}

/// In-place lower Cholesky factor of the symmetric positive definite n×n
/// row-major `matrix` (upper triangle left as is).
fn cholesky(matrix: &mut [f64], n: usize) {
    for j in 0..n {
        let pivot = matrix[j * n + j] - (0..j).map(|k| matrix[j * n + k] * matrix[j * n + k]).sum::<f64>();
        matrix[j * n + j] = pivot.sqrt();
        for i in j + 1..n {
            let dot: f64 = (0..j).map(|k| matrix[i * n + k] * matrix[j * n + k]).sum();
            matrix[i * n + j] = (matrix[i * n + j] - dot) / matrix[j * n + j];
        }
    }
}

/// Solves L Lᵀ x = b given the lower factor `lower` from [`cholesky`].
fn cholesky_solve(lower: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| lower[i * n + k] * y[k]).sum::<f64>()) / lower[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| lower[k * n + i] * x[k]).sum::<f64>()) / lower[i * n + i];
    }
    x
}

/// Ridge coefficients without intercept (inputs are centred) for each target:
/// solves (XᵀX + λI) β = Xᵀy once factorised. `result[k][j]` is the weight of
/// input column j for target k.
fn ridge_coefficients(inputs: &[Vec<f64>], targets: &[Vec<f64>], lambda: f64) -> Vec<Vec<f64>> {
    let d = inputs.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut gram = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            gram[i * d + j] = dot(&inputs[i], &inputs[j]) + if i == j { lambda } else { 0.0 };
        }
    }
    cholesky(&mut gram, d);
    targets
        .iter()
        .map(|y| cholesky_solve(&gram, d, &inputs.iter().map(|x| dot(x, y)).collect::<Vec<_>>()))
        .collect()
}

/// 1 − entropy of `weights` normalised to a distribution, with log base
/// `base` so that a uniform spread over `base` outcomes gives 0 and a single
/// outcome gives 1. With `base <= 1` there is no choice to spread over and
/// the score is 1. NaN for all-zero weights.
fn concentration(weights: &[f64], base: usize) -> f64 {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    if base <= 1 {
        return 1.0;
    }
    let entropy: f64 = weights.iter().filter(|&&w| w > 0.0).map(|&w| -(w / total) * (w / total).ln()).sum();
    1.0 - entropy / (base as f64).ln()
}

/// Test R² of each factor's linear predictor, clamped to [0, 1]; factors
/// constant on the test set (R² undefined) are left out.
fn test_r_squared(inputs: &[Vec<f64>], targets: &[Vec<f64>], coefficients: &[Vec<f64>]) -> Vec<f64> {
    let fit = |target: &Vec<f64>, beta: &Vec<f64>| {
        let target_mean = mean(target);
        let (mut residual, mut total) = (0.0, 0.0);
        for (i, &y) in target.iter().enumerate() {
            let prediction: f64 = inputs.iter().zip(beta).map(|(x, b)| b * x[i]).sum();
            residual += (y - prediction) * (y - prediction);
            total += (y - target_mean) * (y - target_mean);
        }
        (1.0 - residual / total).clamp(0.0, 1.0)
    };
    targets
        .iter()
        .zip(coefficients)
        .filter(|(target, _)| !is_constant(target))
        .map(|(t, b)| fit(t, b))
        .collect()
}

/// Disentanglement and completeness from `importance[j][k]` (latent j,
/// factor k), as documented on [`dci`].
fn disentanglement_and_completeness(importance: &[Vec<f64>], factors: usize) -> (f64, f64) {
    let total: f64 = importance.iter().flatten().sum();
    let disentanglement: f64 = importance
        .iter()
        .map(|row| (row.iter().sum::<f64>(), row))
        .filter(|(row_total, _)| *row_total > 0.0)
        .map(|(row_total, row)| row_total / total * concentration(row, factors))
        .sum();
    let completeness: Vec<f64> = (0..factors)
        .map(|k| concentration(&importance.iter().map(|row| row[k]).collect::<Vec<_>>(), importance.len()))
        .filter(|c| !c.is_nan())
        .collect();
    (
        if total > 0.0 { disentanglement } else { f64::NAN },
        if completeness.is_empty() { f64::NAN } else { mean(&completeness) },
    )
}

/// DCI with ridge regression as the importance model. Per factor, the
/// standardised factor is regressed on the standardised latents (train
/// statistics, applied to test too) with λ = 1e-3·N_train; importance
/// R[j][k] = |coefficient of latent j for factor k|. A linear model is used
/// for determinism and speed; it cannot credit nonlinear encodings.
/// * informativeness: mean over factors of the test R² clamped to [0, 1]
///   (factors constant on the test set are skipped);
/// * disentanglement: Σ_j ρ_j (1 − H_F(P_j·)), P_j· the latent's importances
///   normalised over factors, ρ_j its share of total importance;
/// * completeness: mean over factors of 1 − H_D(P_·k), P_·k the factor's
///   importances normalised over latents (factors with zero importance skipped).
///
/// Entropies use log base F (resp. D); with one factor (one latent) that
/// term is 1. All fields are NaN with fewer than 2 training samples, no
/// latents or no factors.
///
/// # Panics
/// If train or test matrices do not pair up, or train and test differ in
/// numbers of latents or factors.
pub fn dci(train_latents: Matrix, train_factors: Matrix, test_latents: Matrix, test_factors: Matrix) -> Dci {
    check_paired(train_latents, train_factors);
    check_paired(test_latents, test_factors);
    assert_eq!(
        train_latents.cols, test_latents.cols,
        "dci: train and test latents differ in dimension"
    );
    assert_eq!(
        train_factors.cols, test_factors.cols,
        "dci: train and test factors differ in number"
    );
    let (d, f) = (train_latents.cols, train_factors.cols);
    if train_latents.rows < 2 || d == 0 || f == 0 {
        return Dci {
            disentanglement: f64::NAN,
            completeness: f64::NAN,
            informativeness: f64::NAN,
        };
    }
    let latent_scaler = Standardiser::fit(train_latents);
    let factor_scaler = Standardiser::fit(train_factors);
    let lambda = RIDGE_PER_SAMPLE * train_latents.rows as f64;
    let coefficients = ridge_coefficients(&latent_scaler.columns(train_latents), &factor_scaler.columns(train_factors), lambda);
    let r_squared = test_r_squared(
        &latent_scaler.columns(test_latents),
        &factor_scaler.columns(test_factors),
        &coefficients,
    );
    let importance: Vec<Vec<f64>> = (0..d).map(|j| (0..f).map(|k| coefficients[k][j].abs()).collect()).collect();
    let (disentanglement, completeness) = disentanglement_and_completeness(&importance, f);
    Dci {
        disentanglement,
        completeness,
        informativeness: if r_squared.is_empty() { f64::NAN } else { mean(&r_squared) },
    }
}

#[cfg(test)]
mod tests;
