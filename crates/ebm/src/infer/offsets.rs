//! Per-code offsets for lowest-energy classification.
//!
//! A conditional energy trained by contrastive divergence defines
//! p(x | c) = exp(−E(x | c)) / Z_c with its own normaliser per code, and the
//! CD gradient E(x⁺ | c) − E(x⁻ | c) does not change when a constant b_c is
//! added to E(· | c): training leaves each code's level free (only the L2
//! energy penalty pins it, weakly). Bayes' rule then reads
//! argmin_c E(x | c) + log Z_c − log p(c), so lowest-energy classification
//! needs one offset per code. They are fitted here on labelled calibration
//! scenes (apart from the scenes they are judged on) by maximising the
//! likelihood of softmax(−E/T − b), with the temperature T searched too
//! (the energy's scale is as free as its levels): K + 1 numbers, and the
//! energy itself untouched.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Pseudo-count added to each code's observed and expected count: codes no
/// calibration scene chose (cells of a dense grid) stay near their raw level
/// instead of being pushed to infinity.
pub const PSEUDO_COUNT: f64 = 0.5;

/// Fixed-point iterations of the fit.
pub const FIT_ITERATIONS: usize = 500;

/// Log10 of the temperatures searched by [`fit_code_calibration`]: CD
/// energies differ between codes by ~0.01, a posterior read-out by ~1.
pub const LOG10_TEMPERATURES: (f64, f64) = (-5.0, 5.0);

/// Points of the temperature search's coarse grid (then refined).
const TEMPERATURE_GRID: usize = 41;

/// A per-code reading of an energy: classify by argminₖ E(x | k)/T + bₖ.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CodeCalibration {
    pub temperature: f64,
    /// One per candidate code, mean 0.
    pub offsets: Vec<f64>,
    /// Mean negative log-likelihood of the calibration labels under it.
    pub nll: f64,
}

impl CodeCalibration {
    /// The offsets in the energy's own units (T·b): argminₖ E/T + bₖ is
    /// argminₖ E + T·bₖ.
    pub fn energy_offsets(&self) -> Vec<f64> {
        self.offsets.iter().map(|b| b * self.temperature).collect()
    }

    /// The lowest calibrated candidate per row of `[B, K]` energies.
    pub fn argmin(&self, energies: &Tensor) -> Result<Vec<usize>> {
        offset_argmin(energies, &self.energy_offsets())
    }
}

/// Temperature and offsets fitted together by maximum likelihood of
/// softmax(−E/T − b) on labelled calibration rows: the energy's scale is
/// a model's own (CD fixes it only through its L2 penalty), so a reading
/// at T = 1 can be as flat as a coin.
pub fn fit_code_calibration(energies: &Tensor, targets: &[usize]) -> Result<CodeCalibration> {
    let rows = CalibrationRows::new(energies, targets)?;
    let fit = |log_t: f64| -> Result<(f64, CodeCalibration)> {
        let temperature = 10f64.powf(log_t);
        let offsets = rows.offsets(temperature)?;
        let nll = rows.nll(temperature, &offsets);
        Ok((log_t, CodeCalibration { temperature, offsets, nll }))
    };
    let (lo, hi) = LOG10_TEMPERATURES;
    let spacing = (hi - lo) / (TEMPERATURE_GRID - 1) as f64;
    // A coarse grid over log T, then halving steps around its best point.
    let mut best = fit(lo)?;
    let mut tries: Vec<f64> = (1..TEMPERATURE_GRID).map(|i| lo + spacing * i as f64).collect();
    let mut step = spacing;
    for round in 0..=6 {
        if round > 0 {
            step /= 2.0;
            tries = vec![best.0 - step, best.0 + step];
        }
        for &log_t in &tries {
            let candidate = fit(log_t)?;
            if candidate.1.nll < best.1.nll {
                best = candidate;
            }
        }
    }
    Ok(best.1)
}

/// The offsets b (one per candidate code, `[K]`) that make
/// softmax(−energies − b) most likely to pick `targets`, the index of each
/// calibration scene's true candidate. `energies` is `[B, K]` (no grad).
///
/// The likelihood is maximal where each code's expected count Σᵢ pᵢₖ equals
/// its observed count; the fit iterates bₖ ← bₖ + log(expectedₖ / observedₖ)
/// (the prior-adjustment fixed point, monotone in the likelihood), which
/// unlike gradient descent does not stall when the model is confident.
/// The offsets are returned with mean 0 (their common shift is free).
pub fn fit_code_offsets(energies: &Tensor, targets: &[usize]) -> Result<Vec<f64>> {
    CalibrationRows::new(energies, targets)?.offsets(1.0)
}

/// Checked calibration rows: the energies in f64 on the CPU, the targets,
/// and each code's observed count plus [`PSEUDO_COUNT`].
struct CalibrationRows {
    energies: Tensor,
    target: Tensor,
    observed: Tensor,
}

impl CalibrationRows {
    fn new(energies: &Tensor, targets: &[usize]) -> Result<Self> {
        let size = energies.size();
        if size.len() != 2 || size[0] != targets.len() as i64 || size[0] == 0 {
            bail!(
                "offsets need [B, K] energies with one target per row and B ≥ 1; got {:?} and {} targets",
                size,
                targets.len()
            );
        }
        let k = size[1];
        if let Some(bad) = targets.iter().find(|&&t| t as i64 >= k) {
            bail!("target {bad} is not one of the {k} candidate codes");
        }
        let energies = energies.to_kind(Kind::Double).to_device(tch::Device::Cpu).detach();
        if !bool::try_from(energies.isfinite().all())? {
            bail!("the calibration energies are not all finite");
        }
        let mut observed = vec![PSEUDO_COUNT; k as usize];
        for &t in targets {
            observed[t] += 1.0;
        }
        let target = Tensor::from_slice(&targets.iter().map(|&t| t as i64).collect::<Vec<_>>());
        Ok(Self {
            energies,
            target,
            observed: Tensor::from_slice(&observed),
        })
    }

    /// The fixed point of [`fit_code_offsets`] for the logits −E/T − b.
    fn offsets(&self, temperature: f64) -> Result<Vec<f64>> {
        let scaled = &self.energies / temperature;
        let mut offsets = Tensor::zeros([self.energies.size()[1]], (Kind::Double, tch::Device::Cpu));
        for _ in 0..FIT_ITERATIONS {
            let expected = (-(&scaled + &offsets))
                .softmax(-1, Kind::Double)
                .sum_dim_intlist(0, false, Kind::Double)
                + PSEUDO_COUNT;
            offsets = &offsets + (expected / &self.observed).log();
            offsets = &offsets - offsets.mean(Kind::Double);
        }
        Ok(Vec::<f64>::try_from(offsets)?)
    }

    /// Mean negative log-likelihood of the targets under softmax(−E/T − b).
    fn nll(&self, temperature: f64, offsets: &[f64]) -> f64 {
        let logits = -(&self.energies / temperature + Tensor::from_slice(offsets));
        logits.cross_entropy_for_logits(&self.target).double_value(&[])
    }
}

/// The index of the lowest `energies + offsets` candidate per row.
pub fn offset_argmin(energies: &Tensor, offsets: &[f64]) -> Result<Vec<usize>> {
    let k = energies.size().last().copied().unwrap_or(0);
    if offsets.len() as i64 != k {
        bail!("{} offsets for {k} candidate codes", offsets.len());
    }
    let shift = Tensor::from_slice(offsets).to_device(energies.device());
    let chosen = (energies.to_kind(Kind::Double) + shift)
        .argmin(-1, false)
        .to_device(tch::Device::Cpu);
    Ok(Vec::<i64>::try_from(chosen)?.into_iter().map(|i| i as usize).collect())
}
