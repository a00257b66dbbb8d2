//! Transition energies as files: a checkpoint trained by `ebm train
//! trajectories` knows its environment and whether it reads the action
//! (its card's data description), so a planner can check what it is given.

use super::env::{Env, Point, State};
use crate::energy::Network;
use crate::names::Named;
use anyhow::{bail, Context, Result};
use std::path::Path;

pub struct TransitionModel {
    pub env: Env,
    /// Whether the energy reads the action: E(Δ | s, a) rather than E(Δ | s).
    pub conditional: bool,
    pub network: Box<dyn Network>,
}

/// Loads a transition energy, refusing any other checkpoint with its path
/// and what to pass instead.
pub fn load_transition_model(path: &Path) -> Result<TransitionModel> {
    let loaded = crate::checkpoint::load_checkpoint(path)?;
    let data = &loaded.card.data;
    if data.get("dataset").and_then(|d| d.as_str()) != Some("trajectories") {
        bail!(
            "{} is not a transition energy (its card's dataset is {}); train one with `ebm train trajectories --env E`",
            path.display(),
            data.get("dataset").map_or("missing".to_string(), |d| d.to_string())
        );
    }
    let env_name = data.get("env").and_then(|e| e.as_str()).unwrap_or_default();
    let env = Env::parse_name(env_name).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let conditional = data
        .get("conditional")
        .and_then(|c| c.as_bool())
        .context("the card does not say whether the model reads the action")?;
    Ok(TransitionModel {
        env,
        conditional,
        network: loaded.network,
    })
}

impl TransitionModel {
    /// Checks that this model is for `env` and does (or does not) read the
    /// action; `role` names it in the error.
    pub fn expect(&self, env: Env, conditional: bool, role: &str) -> Result<()> {
        if self.env != env {
            bail!("{role} was trained on {}, not {}", self.env.name(), env.name());
        }
        if self.conditional != conditional {
            let (want, flag) = match conditional {
                true => ("an action-conditional energy", "with --conditional"),
                false => ("an energy of the state alone", "without --conditional"),
            };
            bail!("{role} must be {want} (trained {flag})");
        }
        Ok(())
    }
}

/// `n` tasks drawn as the spec says; task `i` depends only on (seed, i).
pub fn planning_tasks(env: Env, n: usize, seed: u64) -> Vec<(State, Point)> {
    (0..n)
        .map(|i| env.draw_task(&mut crate::seed::rng_at(seed, &[crate::seed::streams::PLANNING_TASK, i as u64])))
        .collect()
}
