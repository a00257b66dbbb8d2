//! The divergence guard: what counts as a blow-up and what to do about it.
//!
//! A step diverges when any energy, the loss or a gradient is non-finite, or
//! when an energy's magnitude passes `max_abs_energy` (with the L2 term,
//! healthy energies stay O(1)–O(10)), or, with `max_gap`, when E(x⁻) − E(x⁺)
//! passes it: the model then tells its chains from data trivially, the
//! chains no longer reach the data and CD has collapsed (a shapes product
//! went from a gap of 0.04 to 9 within 80 steps at step ~1100 and drew
//! artefacts from then on). The trainer then restores the last good
//! snapshot, multiplies the Langevin step size and the learning rate by
//! `backoff`, logs the event, and carries on; after `max_retries` divergences
//! with no good snapshot in between it gives up with a message saying what
//! to change.

use serde::{Deserialize, Serialize};

/// Marks a rejection for a collapsed CD (see `max_gap`): recovery then
/// lowers the learning rate only.
pub const COLLAPSE: &str = "CD collapsed";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardConfig {
    pub max_abs_energy: f64,
    /// Take an in-memory snapshot of the whole training state every this many
    /// healthy steps.
    pub snapshot_every: u64,
    pub backoff: f64,
    pub max_retries: u32,
    /// Largest E(x⁻) − E(x⁺) a step may show (None: unchecked).
    #[serde(default)]
    pub max_gap: Option<f64>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_abs_energy: 1e4,
            snapshot_every: 25,
            backoff: 0.5,
            max_retries: 8,
            max_gap: None,
        }
    }
}

/// Why a step was rejected.
pub fn check_step(loss: f64, e_pos: f64, e_neg: f64, grad_norm: f64, config: &GuardConfig) -> Option<String> {
    for (name, value) in [
        ("loss", loss),
        ("mean E(x+)", e_pos),
        ("mean E(x-)", e_neg),
        ("gradient norm", grad_norm),
    ] {
        if !value.is_finite() {
            return Some(format!("{name} is {value}"));
        }
    }
    for (name, value) in [("mean E(x+)", e_pos), ("mean E(x-)", e_neg)] {
        if value.abs() > config.max_abs_energy {
            return Some(format!("{name} = {value:.3e} exceeds the limit {:.1e}", config.max_abs_energy));
        }
    }
    if let Some(max) = config.max_gap {
        if e_neg - e_pos > max {
            return Some(format!(
                "E(x-) − E(x+) = {:.3} exceeds {max}: the chains no longer reach the data ({COLLAPSE})",
                e_neg - e_pos
            ));
        }
    }
    None
}
