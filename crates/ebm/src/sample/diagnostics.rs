//! Convergence diagnostics for a scalar statistic of several chains, given as
//! chains × draws: effective sample size and R̂, following Vehtari, Gelman,
//! Simpson, Carpenter & Bürkner (2021), "Rank-normalization, folding, and
//! localization: an improved R̂", as implemented in Stan and ArviZ.
//!
//! - [`ess`]: chains are split in half, autocorrelations are combined
//!   across chains through the multi-chain variance estimate, and the sum is
//!   truncated by Geyer's initial positive sequence, made monotone.
//! - [`split_rhat`]: the classic potential scale reduction on split chains.
//! - [`ess_bulk`], [`rank_rhat`]: the same on rank-normalised draws (and,
//!   for R̂, folded draws too), robust to heavy tails.
//!
//! Autocovariances are summed directly, lag by lag, and only as far as the
//! truncation needs: O(draws × lags). Every chain must have the same length.

/// Turns `[draws][chains]` rows (e.g. a run's per-step energies) into
/// chains × draws.
pub fn by_chain(rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let chains = rows.first().map_or(0, Vec::len);
    (0..chains).map(|c| rows.iter().map(|row| row[c]).collect()).collect()
}

/// Each chain cut into its first and second half (the middle draw of an
/// odd-length chain is dropped).
pub fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut halves = Vec::with_capacity(2 * chains.len());
    for chain in chains {
        let half = chain.len() / 2;
        halves.push(chain[..half].to_vec());
        halves.push(chain[chain.len() - half..].to_vec());
    }
    halves
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample variance with denominator n − 1.
fn variance(values: &[f64]) -> f64 {
    let m = mean(values);
    values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (values.len() as f64 - 1.0)
}

fn check_shape(chains: &[Vec<f64>], min_draws: usize) -> usize {
    assert!(!chains.is_empty(), "no chains");
    let n = chains[0].len();
    assert!(chains.iter().all(|c| c.len() == n), "chains must have equal lengths");
    assert!(n >= min_draws, "need at least {min_draws} draws per chain, got {n}");
    n
}

/// Within-chain variance W and the pooled estimate var⁺ = (n−1)/n·W + B/n.
fn variance_components(chains: &[Vec<f64>]) -> (f64, f64) {
    let n = chains[0].len() as f64;
    let within = mean(&chains.iter().map(|c| variance(c)).collect::<Vec<_>>());
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let between_over_n = if chains.len() > 1 { variance(&means) } else { 0.0 };
    (within, within * (n - 1.0) / n + between_over_n)
}

/// Split R̂ = √(var⁺ / W) (Gelman et al., BDA3 §11.4). NaN for constant chains.
pub fn split_rhat(chains: &[Vec<f64>]) -> f64 {
    check_shape(chains, 4);
    let (within, var_plus) = variance_components(&split_chains(chains));
    (var_plus / within).sqrt()
}

/// Autocovariances γₜ (denominator n) of each chain, computed on demand.
struct Autocovariance {
    centred: Vec<Vec<f64>>,
}

impl Autocovariance {
    fn new(chains: &[Vec<f64>]) -> Self {
        let centred = chains
            .iter()
            .map(|c| {
                let m = mean(c);
                c.iter().map(|v| v - m).collect()
            })
            .collect();
        Self { centred }
    }

    /// Mean over chains of γₜ.
    fn mean_at(&self, lag: usize) -> f64 {
        let per_chain = |c: &Vec<f64>| c.iter().zip(&c[lag..]).map(|(a, b)| a * b).sum::<f64>() / c.len() as f64;
        self.centred.iter().map(per_chain).sum::<f64>() / self.centred.len() as f64
    }
}

/// Effective sample size of the mean of a statistic over all draws of all
/// chains (split first). NaN for constant chains.
pub fn ess(chains: &[Vec<f64>]) -> f64 {
    check_shape(chains, 8);
    let chains = split_chains(chains);
    let n = chains[0].len();
    let (within, var_plus) = variance_components(&chains);
    let acov = Autocovariance::new(&chains);
    // Multi-chain autocorrelation ρ̂ₜ = 1 − (W − mean γₜ)/var⁺ (W with n − 1).
    let rho = |lag: usize| 1.0 - (within - acov.mean_at(lag)) / var_plus;
    let mut rho_hat = vec![0.0; n];
    rho_hat[0] = 1.0;
    let (mut even, mut odd) = (1.0, rho(1));
    rho_hat[1] = odd;
    // Geyer's initial positive sequence: sum pairs while positive.
    let mut t = 1;
    while t + 3 < n && even + odd > 0.0 {
        even = rho(t + 1);
        odd = rho(t + 2);
        if even + odd >= 0.0 {
            rho_hat[t + 1] = even;
            rho_hat[t + 2] = odd;
        }
        t += 2;
    }
    let draws = (chains.len() * n) as f64;
    if t == 1 {
        // Strongly antithetic chains (ρ̂₁ ≤ −1): no pair was summed.
        return draws / (1.0 + odd).max(1.0 / draws.log10());
    }
    let max_t = t - 2;
    if even > 0.0 {
        rho_hat[max_t + 1] = even;
    }
    // Initial monotone sequence: pair sums may not increase.
    let mut t = 1;
    while t + 2 <= max_t {
        let previous = rho_hat[t - 1] + rho_hat[t];
        if rho_hat[t + 1] + rho_hat[t + 2] > previous {
            rho_hat[t + 1] = previous / 2.0;
            rho_hat[t + 2] = previous / 2.0;
        }
        t += 2;
    }
    let tau = -1.0 + 2.0 * rho_hat[..=max_t].iter().sum::<f64>() + rho_hat[max_t + 1];
    draws / tau.max(1.0 / draws.log10())
}

/// Monte Carlo standard error of the mean of all draws: sd / √ESS.
pub fn mcse_mean(chains: &[Vec<f64>]) -> f64 {
    let all: Vec<f64> = chains.iter().flatten().copied().collect();
    (variance(&all) / ess(chains)).sqrt()
}

/// Pooled ranks (ties averaged) mapped to normal scores
/// Φ⁻¹((r − 3/8)/(S + 1/4)), in the chains' shape.
pub fn rank_normalize(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut order: Vec<(f64, usize)> = chains.iter().flatten().copied().zip(0..).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = order.len();
    let mut scores = vec![0.0; total];
    let mut start = 0;
    while start < total {
        let mut end = start + 1;
        while end < total && order[end].0 == order[start].0 {
            end += 1;
        }
        // 1-based average rank of the tied block start..end.
        let rank = (start + end + 1) as f64 / 2.0;
        let score = normal_quantile((rank - 0.375) / (total as f64 + 0.25));
        order[start..end].iter().for_each(|&(_, i)| scores[i] = score);
        start = end;
    }
    let n = chains.first().map_or(0, Vec::len);
    scores.chunks(n.max(1)).map(<[f64]>::to_vec).collect()
}

/// Bulk ESS: [`ess`] of the rank-normalised draws.
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    ess(&rank_normalize(chains))
}

/// Rank-normalised split R̂: the larger of the bulk R̂ (rank-normalised
/// draws) and the tail R̂ (rank-normalised |draw − median|).
pub fn rank_rhat(chains: &[Vec<f64>]) -> f64 {
    let mut all: Vec<f64> = chains.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let median = (all[(all.len() - 1) / 2] + all[all.len() / 2]) / 2.0;
    let folded: Vec<Vec<f64>> = chains.iter().map(|c| c.iter().map(|v| (v - median).abs()).collect()).collect();
    split_rhat(&rank_normalize(chains)).max(split_rhat(&rank_normalize(&folded)))
}

/// Φ⁻¹(p) by Acklam's rational approximation (relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    assert!(p > 0.0 && p < 1.0, "quantile of p = {p} outside (0, 1)");
    let poly = |coeffs: &[f64], x: f64| coeffs.iter().fold(0.0, |acc, c| acc * x + c);
    let tail = |q: f64| poly(&C, q) / (poly(&D, q) * q + 1.0);
    const LOW: f64 = 0.02425;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    }
}
