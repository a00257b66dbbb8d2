//! Disentanglement scores of learned latents against known ground-truth
//! factors: MCC (mean correlation coefficient after a one-to-one matching),
//! MIG (mutual information gap, Chen et al. 2018) and DCI (disentanglement,
//! completeness, informativeness; Eastwood & Williams 2018). Pure Rust on
//! row-major `f64` matrices: latents are N×D, factors N×F, one row per sample.

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

    fn check_shape(&self) {
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

/// One-to-one assignment of rows to distinct columns maximising the summed
/// weight (Kuhn–Munkres). Entry `i` of the result is the column given to
/// row `i`. When there are more rows than columns, only `cols` rows get a
/// column and the rest get `None`; otherwise every row gets `Some`.
///
/// # Panics
/// If a weight is not finite.
pub fn max_weight_assignment(weights: Matrix) -> Vec<Option<usize>> {
    weights.check_shape();
    assert!(
        weights.data.iter().all(|w| w.is_finite()),
        "max_weight_assignment: non-finite weight"
    );
    if weights.rows <= weights.cols {
        let row_to_col = min_cost_assignment(weights.rows, weights.cols, |i, j| -weights.at(i, j));
        row_to_col.into_iter().map(Some).collect()
    } else {
        // Assign the columns to rows on the transpose, then invert.
        let col_to_row = min_cost_assignment(weights.cols, weights.rows, |j, i| -weights.at(i, j));
        let mut row_to_col = vec![None; weights.rows];
        for (col, row) in col_to_row.into_iter().enumerate() {
            row_to_col[row] = Some(col);
        }
        row_to_col
    }
}

/// Hungarian algorithm with row and column potentials for a `rows`×`cols`
/// cost matrix with `rows <= cols`, O(rows²·cols). Rows are added one at a
/// time; each addition grows a shortest augmenting path (Dijkstra-like over
/// reduced costs `cost − u_row − v_col`, which stay ≥ 0) and flips it.
/// Returns the column of each row. Indices are 1-based inside, with row and
/// column 0 as a virtual start.
fn min_cost_assignment(rows: usize, cols: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    debug_assert!(rows <= cols);
    let mut row_potential = vec![0.0; rows + 1];
    let mut col_potential = vec![0.0; cols + 1];
    let mut row_of_col = vec![0usize; cols + 1]; // 0 = unmatched
    let mut previous_col = vec![0usize; cols + 1];
    for row in 1..=rows {
        row_of_col[0] = row;
        let mut current_col = 0;
        let mut slack = vec![f64::INFINITY; cols + 1];
        let mut visited = vec![false; cols + 1];
        // Grow the alternating tree until it reaches a free column.
        loop {
            visited[current_col] = true;
            let current_row = row_of_col[current_col];
            let (mut delta, mut next_col) = (f64::INFINITY, 0);
            for col in 1..=cols {
                if visited[col] {
                    continue;
                }
                let reduced = cost(current_row - 1, col - 1) - row_potential[current_row] - col_potential[col];
                if reduced < slack[col] {
                    slack[col] = reduced;
                    previous_col[col] = current_col;
                }
                if slack[col] < delta {
                    delta = slack[col];
                    next_col = col;
                }
            }
            for col in 0..=cols {
                if visited[col] {
                    row_potential[row_of_col[col]] += delta;
                    col_potential[col] -= delta;
                } else {
                    slack[col] -= delta;
                }
            }
            current_col = next_col;
            if row_of_col[current_col] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the start.
        while current_col != 0 {
            let col = previous_col[current_col];
            row_of_col[current_col] = row_of_col[col];
            current_col = col;
        }
    }
    let mut col_of_row = vec![0; rows];
    for col in 1..=cols {
        if row_of_col[col] != 0 {
            col_of_row[row_of_col[col] - 1] = col - 1;
        }
    }
    col_of_row
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
mod tests {
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
}
