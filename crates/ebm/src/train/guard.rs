//! The divergence guard: what counts as a blow-up and what to do about it.
//!
//! A step diverges when any energy, the loss or a gradient is non-finite, or
//! when an energy's magnitude passes `max_abs_energy` (with the L2 term,
//! healthy energies stay O(1)–O(10)). The trainer then restores the last good
//! snapshot, multiplies the Langevin step size and the learning rate by
//! `backoff`, logs the event, and carries on; after `max_retries` divergences
//! with no good snapshot in between it gives up with a message saying what
//! to change.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardConfig {
    pub max_abs_energy: f64,
    /// Take an in-memory snapshot of the whole training state every this many
    /// healthy steps.
    pub snapshot_every: u64,
    pub backoff: f64,
    pub max_retries: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_abs_energy: 1e4,
            snapshot_every: 25,
            backoff: 0.5,
            max_retries: 8,
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
    None
}
