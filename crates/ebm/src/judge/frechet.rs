//! Fréchet distance between two sets of vectors, each summarised by a
//! Gaussian: ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) — IGEBM scores multi-step
//! rollouts with it, step by step, because it compares distributions and so
//! does not punish a model for predicting one of several possible futures.
//!
//! Pure f64 on small dimensions (states have 4): the matrix square root
//! goes through Jacobi eigen-decompositions of symmetric matrices, using
//! Tr((Σ₁Σ₂)^½) = Tr((Σ₁^½ Σ₂ Σ₁^½)^½), whose argument is symmetric.

type Matrix = Vec<Vec<f64>>;

/// The Fréchet distance between the Gaussians fitted to `a` and `b` (rows
/// are samples; all rows have one length). NaN if either set is empty.
pub fn frechet_distance(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let (mean_a, cov_a) = moments(a);
    let (mean_b, cov_b) = moments(b);
    let shift: f64 = mean_a.iter().zip(&mean_b).map(|(x, y)| (x - y).powi(2)).sum();
    let root_a = psd_sqrt(&cov_a);
    let middle = multiply(&multiply(&root_a, &cov_b), &root_a);
    let cross: f64 = symmetric_eigenvalues(&middle).iter().map(|l| l.max(0.0).sqrt()).sum();
    let trace = |m: &Matrix| (0..m.len()).map(|i| m[i][i]).sum::<f64>();
    (shift + trace(&cov_a) + trace(&cov_b) - 2.0 * cross).max(0.0)
}

/// Mean and (population) covariance of the rows.
fn moments(rows: &[Vec<f64>]) -> (Vec<f64>, Matrix) {
    let (n, d) = (rows.len() as f64, rows[0].len());
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let mut cov = vec![vec![0.0; d]; d];
    for r in rows {
        for i in 0..d {
            for j in 0..d {
                cov[i][j] += (r[i] - mean[i]) * (r[j] - mean[j]) / n;
            }
        }
    }
    (mean, cov)
}

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    let d = a.len();
    (0..d)
        .map(|i| (0..d).map(|j| (0..d).map(|k| a[i][k] * b[k][j]).sum()).collect())
        .collect()
}

/// The square root of a symmetric positive semi-definite matrix (negative
/// eigenvalues from rounding are taken as 0).
fn psd_sqrt(m: &Matrix) -> Matrix {
    let (values, vectors) = jacobi(m);
    let d = m.len();
    let roots: Vec<f64> = values.iter().map(|l| l.max(0.0).sqrt()).collect();
    (0..d)
        .map(|i| {
            (0..d)
                .map(|j| (0..d).map(|k| vectors[i][k] * roots[k] * vectors[j][k]).sum())
                .collect()
        })
        .collect()
}

fn symmetric_eigenvalues(m: &Matrix) -> Vec<f64> {
    jacobi(m).0
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic
/// Jacobi rotations: exact to rounding for the small matrices used here.
fn jacobi(m: &Matrix) -> (Vec<f64>, Matrix) {
    let d = m.len();
    let mut a = m.clone();
    let mut v: Matrix = (0..d).map(|i| (0..d).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j].powi(2))
            .sum();
        let scale: f64 = (0..d).map(|i| a[i][i].powi(2)).sum::<f64>().max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                rotate(&mut a, &mut v, p, q, c, s);
            }
        }
    }
    ((0..d).map(|i| a[i][i]).collect(), v)
}

/// A ← JᵀAJ and V ← VJ for the rotation J in the (p, q) plane.
fn rotate(a: &mut Matrix, v: &mut Matrix, p: usize, q: usize, c: f64, s: f64) {
    for row in a.iter_mut() {
        let (akp, akq) = (row[p], row[q]);
        row[p] = c * akp - s * akq;
        row[q] = s * akp + c * akq;
    }
    let (row_p, row_q) = (a[p].clone(), a[q].clone());
    for (k, (apk, aqk)) in row_p.into_iter().zip(row_q).enumerate() {
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
    }
    for row in v.iter_mut() {
        let (vp, vq) = (row[p], row[q]);
        row[p] = c * vp - s * vq;
        row[q] = s * vp + c * vq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn gaussian(n: usize, mean: &[f64], std: &[f64], seed: u64) -> Vec<Vec<f64>> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut normal = || -> f64 { rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng) };
        (0..n)
            .map(|_| mean.iter().zip(std).map(|(m, s)| m + s * normal()).collect())
            .collect()
    }

    #[test]
    fn identical_sets_are_at_distance_zero() {
        let a = gaussian(500, &[0.3, -1.0, 2.0, 0.0], &[1.0, 0.5, 2.0, 0.1], 1);
        assert!(frechet_distance(&a, &a) < 1e-9, "{}", frechet_distance(&a, &a));
    }

    #[test]
    fn matches_the_closed_form_for_diagonal_gaussians() {
        // Diagonal: Σ (μ₁ − μ₂)² + (σ₁ − σ₂)² per axis.
        let (m1, s1): ([f64; 4], [f64; 4]) = ([0.0, 1.0, -2.0, 0.5], [1.0, 2.0, 0.5, 1.5]);
        let (m2, s2): ([f64; 4], [f64; 4]) = ([1.0, 1.0, 0.0, 0.5], [2.0, 0.5, 0.5, 1.0]);
        let expected: f64 = (0..4).map(|i| (m1[i] - m2[i]).powi(2) + (s1[i] - s2[i]).powi(2)).sum();
        let measured = frechet_distance(&gaussian(40_000, &m1, &s1, 2), &gaussian(40_000, &m2, &s2, 3));
        assert!((measured - expected).abs() < 0.05 * expected, "{measured} vs {expected}");
    }

    #[test]
    fn the_square_root_of_a_correlated_covariance_squares_back() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let b: Matrix = (0..4).map(|_| (0..4).map(|_| rng.random_range(-1.0..1.0)).collect()).collect();
        let transpose: Matrix = (0..4).map(|i| (0..4).map(|j| b[j][i]).collect()).collect();
        let m = multiply(&b, &transpose);
        let root = psd_sqrt(&m);
        let back = multiply(&root, &root);
        for i in 0..4 {
            for j in 0..4 {
                assert!((back[i][j] - m[i][j]).abs() < 1e-10, "{back:?} vs {m:?}");
            }
        }
    }
}
