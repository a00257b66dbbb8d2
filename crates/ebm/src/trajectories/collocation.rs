//! Planning states and actions together ("collocation") on the
//! action-conditional energy alone: s₂ … s_T and a₁ … a_{T−1} follow the
//! same momentum dynamics on Σₜ E(Δₜ | sₜ, aₜ) + λ·Σₜ d(pos(sₜ₊₁), g), the
//! actions kept in [−1, 1], and the planned actions are executed as they
//! are. Why: the state-only planner asks its inverse for steps the energy
//! never ruled out (it is unshaped far from its data), and the inverse,
//! asked about steps no action makes, answered with actions pointing away
//! from the plan (maze: −1, −1 where the plan went +x). Here every planned
//! step is tied to an action within the environment's range, so an
//! impossible step costs energy under every choice the plan can make.

use super::env::{Env, Point, State};
use super::plan::{planned_episodes, PlanConfig, Planned};
use crate::energy::Energy;

/// One planned step: the state reached, then the action taking the
/// previous state there.
type Step = [f64; 6];

/// Episodes driven by collocated plans on the action-conditional `energy`,
/// all tasks at once, replanning as [`super::plan::plan_episodes`] does.
pub fn collocated_episodes(
    energy: &dyn Energy,
    env: Env,
    tasks: &[(State, Point)],
    config: &PlanConfig,
    progress: &dyn crate::Progress,
) -> Planned {
    let act = |planned: &Vec<Vec<Step>>, step: usize, _states: &[State]| planned.iter().map(|p| [p[step][4], p[step][5]]).collect();
    let label = format!("planning {} {env} episodes (states and actions)", tasks.len());
    planned_episodes(energy, env, tasks, config, &label, progress, act)
}
