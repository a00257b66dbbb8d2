//! What a run of a sampler is judged by, in one value for reports and the
//! command line: acceptance (overall and its spread over chains), and the
//! effective sample size and split R-hat of the chains' energies after warm-up.

use super::diagnostics::{by_chain, ess, split_rhat};
use super::sampler::Run;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Mean acceptance probability over chains (ULA: 1).
    pub acceptance: f64,
    /// Lowest and highest per-chain acceptance.
    pub acceptance_range: (f64, f64),
    /// The step after warm-up (frozen when adapted).
    pub step_size: f64,
    /// ESS of the energy over all chains (None: too few chains or draws).
    pub energy_ess: Option<f64>,
    /// Split R-hat of the energy (None: too few chains or draws).
    pub energy_rhat: Option<f64>,
    /// Mean energy at the end.
    pub final_energy: Option<f64>,
}

/// Summarises `run`, leaving out the first `warmup` steps of its energies.
pub fn summarize(run: &Run, warmup: usize) -> RunSummary {
    let finite: Vec<f64> = run.acceptance.iter().copied().filter(|a| a.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut energy_ess, mut energy_rhat) = (None, None);
    if let Some(rows) = &run.chain_energies {
        let kept = &rows[warmup.min(rows.len())..];
        let chains = by_chain(kept);
        // ESS splits each chain in two and needs 8 draws; R-hat needs 2 chains.
        if chains.len() >= 2 && kept.len() >= 8 && chains.iter().flatten().all(|e| e.is_finite()) {
            energy_ess = Some(ess(&chains));
            energy_rhat = Some(split_rhat(&chains));
        }
    }
    RunSummary {
        acceptance: run.mean_acceptance,
        acceptance_range: (lo, hi),
        step_size: run.step_size,
        energy_ess,
        energy_rhat,
        final_energy: run.trace.last().copied(),
    }
}
