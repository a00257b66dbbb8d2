//! Analytic targets and helpers shared by the sampler and diagnostics tests.

use ebm::energy::Energy;
use ebm::sample::diagnostics::{by_chain, ess, mcse_mean};
use ebm::sample::{NoiseConditioned, Run, SampleOptions, SamplerConfig, SamplerKind};
use tch::{Kind, Tensor};

pub const DOUBLE: (Kind, tch::Device) = (Kind::Double, tch::Device::Cpu);

/// Tests share torch's global generator, so they run one at a time; the
/// tensors are tiny, so one intra-op thread is fastest (on 2 cores, more
/// threads only spin).
pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    let guard = super::serial();
    tch::set_num_threads(1);
    guard
}

/// N(μ, Σ) with a full covariance: E(x) = ½ (x − μ)ᵀ Σ⁻¹ (x − μ).
pub struct FullGaussian {
    pub mean: Tensor,
    pub precision: Tensor,
}

impl FullGaussian {
    pub fn new(mean: [f64; 2], cov: [[f64; 2]; 2]) -> Self {
        let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
        let inv = [cov[1][1] / det, -cov[0][1] / det, -cov[1][0] / det, cov[0][0] / det];
        Self {
            mean: Tensor::from_slice(&mean),
            precision: Tensor::from_slice(&inv).reshape([2, 2]),
        }
    }
}

impl Energy for FullGaussian {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        let z = x - &self.mean;
        (z.matmul(&self.precision) * &z).sum_dim_intlist(-1, false, Kind::Double) * 0.5
    }
}

/// 1-D mixture Σₖ wₖ N(μₖ, sₖ²) on x: [B, 1].
#[derive(Clone)]
pub struct Mixture {
    pub weights: Vec<f64>,
    pub means: Vec<f64>,
    pub stds: Vec<f64>,
}

impl Mixture {
    pub fn two(weights: [f64; 2], means: [f64; 2], std: f64) -> Self {
        Self {
            weights: weights.to_vec(),
            means: means.to_vec(),
            stds: vec![std; 2],
        }
    }

    pub fn density(&self, x: f64) -> f64 {
        let terms = self.weights.iter().zip(&self.means).zip(&self.stds);
        terms
            .map(|((w, m), s)| w * (-0.5 * ((x - m) / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt()))
            .sum()
    }

    /// P(x > 0), E[x | side] and Var[x | side] for side = x < 0 and x > 0, by
    /// quadrature on a fine grid (error ≪ the tolerances used).
    pub fn side_moments(&self) -> (f64, [(f64, f64); 2]) {
        let (n, lo, hi) = (200_000, -12.0, 12.0);
        let h = (hi - lo) / n as f64;
        let mut sums = [[0.0; 3]; 2];
        for i in 0..n {
            let x = lo + (i as f64 + 0.5) * h;
            let side = usize::from(x > 0.0);
            let p = self.density(x) * h;
            sums[side][0] += p;
            sums[side][1] += p * x;
            sums[side][2] += p * x * x;
        }
        let moments = sums.map(|[p, m1, m2]| (m1 / p, m2 / p - (m1 / p).powi(2)));
        (sums[1][0] / (sums[0][0] + sums[1][0]), moments)
    }
}

impl Energy for Mixture {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        let means = Tensor::from_slice(&self.means);
        let stds = Tensor::from_slice(&self.stds);
        let log_w: Vec<f64> = self.weights.iter().zip(&self.stds).map(|(w, s)| w.ln() - s.ln()).collect();
        let z = (x - means) / stds;
        let log_terms = Tensor::from_slice(&log_w) - z.square() * 0.5;
        -log_terms.logsumexp([1], false)
    }
}

/// The mixture convolved with N(0, σ²): component stds √(s² + σ²).
pub struct SmoothedMixture(pub Mixture);

impl NoiseConditioned for SmoothedMixture {
    fn at_level(&self, sigma: f64) -> Box<dyn Energy + '_> {
        let stds = self.0.stds.iter().map(|s| (s * s + sigma * sigma).sqrt()).collect();
        Box::new(Mixture { stds, ..self.0.clone() })
    }
}

/// Frames `[B, d]` (one per step) → chains × draws of f(frame) for the
/// frames from `skip` on.
pub fn chains_of(run: &Run, skip: usize, f: impl Fn(&Tensor) -> Tensor) -> Vec<Vec<f64>> {
    let rows: Vec<Vec<f64>> = run.frames[skip..]
        .iter()
        .map(|x| Vec::<f64>::try_from(f(x).to_kind(Kind::Double)).unwrap())
        .collect();
    by_chain(&rows)
}

pub fn column(j: i64) -> impl Fn(&Tensor) -> Tensor {
    move |x: &Tensor| x.select(1, j)
}

pub fn pooled_mean(chains: &[Vec<f64>]) -> f64 {
    let all: Vec<f64> = chains.iter().flatten().copied().collect();
    all.iter().sum::<f64>() / all.len() as f64
}

/// Asserts the mean of all draws is within 4 MCSE of `expected`; returns (mean, MCSE, ESS).
pub fn assert_moment(chains: &[Vec<f64>], expected: f64, what: &str) -> (f64, f64, f64) {
    let (mean, mcse, ess) = (pooled_mean(chains), mcse_mean(chains), ess(chains));
    println!("{what}: {mean:.4} vs {expected:.4} (MCSE {mcse:.4}, ESS {ess:.0})");
    assert!(
        (mean - expected).abs() < 4.0 * mcse,
        "{what}: {mean} vs {expected}, 4 MCSE = {}",
        4.0 * mcse
    );
    (mean, mcse, ess)
}

pub fn config(kind: SamplerKind, step_size: f64, steps: usize, leapfrog_steps: usize) -> SamplerConfig {
    SamplerConfig {
        kind,
        step_size,
        steps,
        leapfrog_steps,
        ..SamplerConfig::default()
    }
}

pub fn every_step() -> SampleOptions<'static> {
    SampleOptions {
        record_every: Some(1),
        ..Default::default()
    }
}
