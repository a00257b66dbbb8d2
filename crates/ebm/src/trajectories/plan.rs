//! Planning by sampling a whole state sequence (IGEBM's trajectories): with
//! s₁ clamped, s₂ … s_T follow Langevin dynamics on
//! Σₜ E(sₜ, sₜ₊₁) + λ·Σₜ ‖pos(sₜ₊₁) − g‖, the transition energy read as
//! E(Δₜ | sₜ) over the scaled step (see `transitions`). Actions are then
//! recovered from consecutive planned states, and executed in the
//! environment, replanning every `replan_every` steps (model-predictive).

use super::env::{Action, Env, Point, State};
use super::episode::{rollout, Episode};
use super::transitions::{code_schema, DELTA_SCALE};
use crate::energy::{ConceptKind, Energy};
use tch::{Kind, Tensor};

/// Heavy-ball momentum of the steps: a plan is a long chain of coupled
/// states, badly conditioned for plain gradient steps.
const MOMENTUM: f64 = 0.9;

/// Documented defaults: [`PlanConfig::default`].
#[derive(Clone, Debug, PartialEq)]
pub struct PlanConfig {
    /// Langevin steps over the sequence per (re)plan.
    pub steps: usize,
    /// λ of the drift −λ/2·∇ (per state coordinate).
    pub step_size: f64,
    /// Std of the Langevin noise per step (0: gradient descent).
    pub noise: f64,
    /// λ of the goal cost Σₜ ‖pos(sₜ₊₁) − g‖.
    pub cost_weight: f64,
    /// Execute this many planned actions, then plan again from the state
    /// reached (the horizon if 0: open loop).
    pub replan_every: usize,
    pub seed: u64,
}

/// 5000 momentum steps of λ 1e-4 (stable on energies whose curvature per
/// coordinate stays under ~4·10⁴), no noise, goal weight 5, replanning
/// every 10 steps. Chosen on the quadratic particle energy of
/// `tests/planning.rs`, whose stiff position term needs the small step;
/// not yet measured on learned transition energies.
impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            steps: 5000,
            step_size: 1e-4,
            noise: 0.0,
            cost_weight: 5.0,
            replan_every: 10,
            seed: 0,
        }
    }
}

/// How a planned transition becomes an action.
pub trait InverseModel {
    fn action(&self, env: Env, s: &State, next: &State) -> Action;
}

/// The environments' own dynamics solved for the action (spec: particle and
/// maze v′ = 0.9v + 0.1a, reacher ω′ = 0.8ω + 0.2a), clipped to [−1, 1]. An
/// oracle: it checks planners against known energies; a learned model's
/// actions come from its own action-conditional energy instead.
pub struct ExactInverse;

impl InverseModel for ExactInverse {
    fn action(&self, env: Env, s: &State, next: &State) -> Action {
        let (keep, gain) = match env {
            Env::Particle | Env::Maze => (0.9, 0.1),
            Env::Reacher => (0.8, 0.2),
        };
        [0, 1].map(|i| ((next[2 + i] - keep * s[2 + i]) / gain).clamp(-1.0, 1.0))
    }
}

/// The steered point of each row of `states: [N, 4]`, differentiably.
fn positions(env: Env, states: &Tensor) -> Tensor {
    match env {
        Env::Particle | Env::Maze => states.narrow(1, 0, 2),
        Env::Reacher => {
            let (t1, t2) = (states.select(1, 0), states.select(1, 1));
            let [l1, l2] = super::env::LINKS;
            let x = t1.cos() * l1 + (&t1 + &t2).cos() * l2;
            let y = t1.sin() * l1 + (&t1 + &t2).sin() * l2;
            Tensor::stack(&[x, y], 1)
        }
    }
}

/// `states: [N, 4]` as the transition model's code reads them (the
/// schema's linear map of its range onto [−1, 1]).
fn encode_states(env: Env, states: &Tensor) -> Tensor {
    match code_schema(env, false).kind {
        ConceptKind::Continuous { range: (lo, hi), .. } => (states - lo) * (2.0 / (hi - lo)) - 1.0,
        ConceptKind::Categorical { .. } => unreachable!("transition codes are continuous"),
    }
}

/// The planning objective of a sequence whose first state is clamped.
fn objective(energy: &dyn Energy, env: Env, first: &Tensor, free: &Tensor, goal: &Tensor, cost_weight: f64) -> Tensor {
    let all = Tensor::cat(&[first.shallow_clone(), free.shallow_clone()], 0);
    let count = all.size()[0] - 1;
    let (from, to) = (all.narrow(0, 0, count), all.narrow(0, 1, count));
    let deltas = (&to - &from) / DELTA_SCALE;
    let transitions = energy.energy(&deltas, Some(&encode_states(env, &from))).sum(Kind::Double);
    let distance = (positions(env, &to) - goal)
        .square()
        .sum_dim_intlist(1, false, Kind::Double)
        .clamp_min(1e-12)
        .sqrt();
    transitions + distance.sum(Kind::Double) * cost_weight
}

/// States s₂ … s_{1+horizon} planned from `start` toward `goal`.
pub fn plan_states(energy: &dyn Energy, env: Env, start: &State, goal: &Point, horizon: usize, config: &PlanConfig) -> Vec<State> {
    let row = |s: &[f64]| Tensor::from_slice(s).to_kind(Kind::Double).view([1, -1]);
    let first = row(start);
    let target = row(goal);
    tch::manual_seed(config.seed as i64);
    // The plan starts standing at s₁: every later state equal to it.
    let mut free = first.repeat([horizon as i64, 1]);
    let mut velocity = free.zeros_like();
    for _ in 0..config.steps {
        let var = free.detach().set_requires_grad(true);
        let loss = objective(energy, env, &first, &var, &target, config.cost_weight);
        let grad = Tensor::run_backward(&[loss], &[&var], false, false).remove(0);
        free = tch::no_grad(|| {
            velocity = &velocity * MOMENTUM - grad * (config.step_size / 2.0);
            let drift = var.detach() + &velocity;
            match config.noise > 0.0 {
                true => &drift + drift.randn_like() * config.noise,
                false => drift,
            }
        });
    }
    Vec::<Vec<f64>>::try_from(free)
        .unwrap_or_default()
        .into_iter()
        .map(|s| [s[0], s[1], s[2], s[3]])
        .collect()
}

/// An episode of the environment driven by the planner: plan, execute the
/// first `replan_every` recovered actions, plan again from the state
/// reached, until the horizon.
pub fn plan_episode(energy: &dyn Energy, inverse: &dyn InverseModel, env: Env, start: State, goal: Point, config: &PlanConfig) -> Episode {
    let horizon = env.horizon();
    let chunk = if config.replan_every == 0 { horizon } else { config.replan_every };
    let mut actions: Vec<Action> = Vec::with_capacity(horizon);
    let mut state = start;
    while actions.len() < horizon {
        let remaining = horizon - actions.len();
        let planned = plan_states(energy, env, &state, &goal, remaining, config);
        if planned.is_empty() {
            break; // nothing planned (a tensor that would not convert): stop, never spin
        }
        // Each action steers from the state actually reached toward the
        // planned next one, so small execution errors do not accumulate.
        for next in planned.iter().take(chunk.min(remaining)) {
            let action = inverse.action(env, &state, next);
            actions.push(action);
            state = env.step(&state, &action);
        }
    }
    rollout(env, start, goal, &actions)
}
