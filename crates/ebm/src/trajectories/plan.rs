//! Planning by sampling a whole state sequence (IGEBM's trajectories): with
//! s₁ clamped, s₂ … s_T follow Langevin dynamics on
//! Σₜ E(sₜ, sₜ₊₁) + λ·Σₜ d(pos(sₜ₊₁), g) (d: `cost`), the transition energy read as
//! E(Δₜ | sₜ) over the scaled step (see `transitions`). Actions are then
//! recovered from consecutive planned states, and executed in the
//! environment, replanning every `replan_every` steps (model-predictive).

use super::cost::{GoalCost, TaskCost};
use super::env::{Action, Env, Point, State};
use super::episode::Episode;
use super::inverse::InverseModel;
use super::plan_sampling::{sample_plans, PlanEnergy};
use super::receding::{receding_horizon, shifted, Window};
use super::transitions::{encode_codes, DELTA_SCALE};
use crate::energy::{Energy, ModeNormalised};
use crate::sample::sampler::SamplerConfig;
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
    /// λ of the goal cost Σₜ d(pos(sₜ₊₁), g).
    pub cost_weight: f64,
    /// d: the straight or the geodesic distance (see `cost`).
    pub goal_cost: GoalCost,
    /// Execute this many planned actions, then plan again from the state
    /// reached (the horizon if 0: open loop).
    pub replan_every: usize,
    /// States planned ahead each time (to the episode's end if 0).
    pub plan_horizon: usize,
    /// Steps of every replan after the first, which starts from the
    /// previous plan's remaining states (a warm start) instead of standing
    /// still; 0: `steps` from a standing start every time.
    pub replan_steps: usize,
    /// Each element of the gradient is clipped to [−c, c] (non-finite ones
    /// set to 0): a learned energy far outside its data can be steep enough
    /// to throw a momentum chain to infinity.
    pub grad_clip: f64,
    /// Plan on the energy with its per-state offset removed
    /// ([`ModeNormalised`], one step of this size toward each transition's
    /// mode; 0: the raw energy): the offset's gradient through the code is
    /// a force on the planned states that no data fixed.
    pub mode_step: f64,
    /// After each descent, draw the plans from exp(−objective/T) with this
    /// sampler, started at the descended plans (`plan_sampling`); None:
    /// the descended plans as they are.
    pub sampler: Option<SamplerConfig>,
    pub seed: u64,
}

/// 5000 momentum steps of λ 1e-4 (stable on energies whose curvature per
/// coordinate stays under ~4·10⁴), no noise, goal weight 5, replanning
/// every 10 steps, the whole remaining episode planned each time. Chosen on
/// the quadratic particle energy of `tests/planning.rs`, whose stiff
/// position term needs the small step.
impl Default for PlanConfig {
    fn default() -> Self {
        Self {
            steps: 5000,
            step_size: 1e-4,
            noise: 0.0,
            cost_weight: 5.0,
            goal_cost: GoalCost::Euclidean,
            replan_every: 10,
            plan_horizon: 0,
            replan_steps: 0,
            grad_clip: 100.0,
            mode_step: 0.0,
            sampler: None,
            seed: 0,
        }
    }
}

impl PlanConfig {
    /// The settings for learned transition energies, the base's
    /// differences, chosen on validation tasks (`ebm plan --seed 7`, 20
    /// episodes; the experiments use seed 0):
    /// - 1000 steps: 3000 solved no more particle tasks;
    /// - goal weight 10: particle success 0.70 / 0.90 / 0.85 / 0.40 / 0.05
    ///   at 5 / 10 / 15 / 25 / 50 (return −13.5 / −10.8 / −16.9 / −43.1 /
    ///   −67.1); reacher 1.00 at 5 and 10 (return −14.8 / −10.4);
    /// - for the 200-step maze a window of 50 states, so each plan costs
    ///   what a reacher plan does;
    /// - in the maze, the geodesic goal cost (`GoalCost::for_env`), weight 1
    ///   and 3000 steps (collocation, 20 validation tasks: at weight 10 every
    ///   plan cut a wall's corner and the mass stuck under it, return −263;
    ///   at weight 1 and 1000 steps 9 of 20 reached the top band, −262; at
    ///   weight 1 and 3000 steps all 20 did, −191, none held the goal);
    /// - in the maze, the energy's per-state offset removed (`mode_step`
    ///   0.005; 8 validation tasks): with it, plans drifted along the top
    ///   edge, 0 of 8 held the goal even when started in the top band;
    ///   without it 8 of 8 held it, return −125.6 at weight 1, −72.0 at
    ///   weight 3; at 10 every plan cut the first wall's corner again (0 of 8).
    pub fn for_env(env: Env) -> Self {
        let maze = env == Env::Maze;
        Self {
            steps: if maze { 3000 } else { 1000 },
            cost_weight: if maze { 3.0 } else { 10.0 },
            goal_cost: GoalCost::for_env(env),
            plan_horizon: if maze { 50 } else { 0 },
            mode_step: if maze { 0.005 } else { 0.0 },
            ..Self::default()
        }
    }
}

/// The steered point of each row of `states: [N, 4]`, differentiably.
pub(crate) fn positions(env: Env, states: &Tensor) -> Tensor {
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

/// The two terms of the planning objective of sequences `free: [B, H, W]`
/// following the clamped `first: [B, 1, 4]`: the transition energies
/// `[B·H]` and the goal costs `[B, H]` (unweighted). W is 4 (states; the
/// energy is E(Δ | s)) or 6 (states then the actions taking each previous
/// state to them; the energy is E(Δ | s, a)).
fn objective_terms(energy: &dyn Energy, env: Env, first: &Tensor, free: &Tensor, cost: &TaskCost) -> (Tensor, Tensor) {
    let states = free.narrow(2, 0, 4);
    let all = Tensor::cat(&[first.shallow_clone(), states], 1);
    let horizon = free.size()[1];
    let flat = |t: Tensor| t.reshape([-1, 4]);
    let (from, to) = (flat(all.narrow(1, 0, horizon)), flat(all.narrow(1, 1, horizon)));
    let deltas = wrapped_difference(env, &to, &from) / DELTA_SCALE;
    let actions = (free.size()[2] == 6).then(|| free.narrow(2, 4, 2).reshape([-1, 2]));
    // The code stays in the graph: with it detached (its gradient is
    // partly a function of s that training never fixed) particle
    // validation tasks went from 14 to 0 of 20.
    let codes = encode_codes(env, &from, actions.as_ref());
    let transitions = energy.energy(&deltas, Some(&codes));
    let distance = cost.cost(&positions(env, &to).view([-1, horizon, 2]));
    (transitions, distance)
}

/// The planning objective of all plans, summed: one number.
fn objective(energy: &dyn Energy, env: Env, first: &Tensor, free: &Tensor, cost: &TaskCost, cost_weight: f64) -> Tensor {
    let (transitions, distance) = objective_terms(energy, env, first, free, cost);
    transitions.sum(Kind::Double) + distance.sum(Kind::Double) * cost_weight
}

/// The planning objective per plan, `[B]`: what a sampler over plans reads.
pub(crate) fn plan_objectives(energy: &dyn Energy, env: Env, first: &Tensor, free: &Tensor, cost: &TaskCost, cost_weight: f64) -> Tensor {
    let (transitions, distance) = objective_terms(energy, env, first, free, cost);
    let transitions = transitions.to_kind(Kind::Double).view([free.size()[0], -1]);
    (transitions + distance * cost_weight).sum_dim_intlist(1, false, Kind::Double)
}

/// `to − from`, with the reacher's angle differences wrapped (a plan may
/// carry its angles past ±π).
fn wrapped_difference(env: Env, to: &Tensor, from: &Tensor) -> Tensor {
    let difference = to - from;
    match env {
        Env::Reacher => {
            let pi = std::f64::consts::PI;
            let angles = (difference.narrow(1, 0, 2) * -1.0 + pi).remainder(2.0 * pi) * -1.0 + pi;
            Tensor::cat(&[angles, difference.narrow(1, 2, 2)], 1)
        }
        Env::Particle | Env::Maze => difference,
    }
}

/// States s₂ … s_{1+horizon} planned from each start toward its goal, all
/// tasks in one batch.
///
/// `warm`: a starting plan per task (`horizon` states each); without one,
/// plans start standing at s₁ (every later state equal to it) and run
/// `config.steps`, with one `config.replan_steps` (when set).
pub fn plan_states(
    energy: &dyn Energy,
    env: Env,
    tasks: &[(State, Point)],
    horizon: usize,
    warm: Option<&[Vec<State>]>,
    config: &PlanConfig,
) -> Vec<Vec<State>> {
    let warm: Option<Vec<Vec<f64>>> = warm.map(|plans| plans.iter().map(|p| p.concat()).collect());
    plan_rows(energy, env, tasks, horizon, 4, warm.as_deref(), config)
        .0
        .iter()
        .map(|plan| plan.chunks(4).map(|s| std::array::from_fn(|i| s[i])).collect())
        .collect()
}

/// Plans of `width` numbers per step (4: states; 6: states and actions),
/// each task's flattened: from `warm` (with `config.replan_steps`) or
/// standing still at s₁ with zero actions (with `config.steps`).
pub(crate) fn plan_rows(
    energy: &dyn Energy,
    env: Env,
    tasks: &[(State, Point)],
    horizon: usize,
    width: i64,
    warm: Option<&[Vec<f64>]>,
    config: &PlanConfig,
) -> (Vec<Vec<f64>>, Option<f64>) {
    let first = Tensor::from_slice(&tasks.iter().flat_map(|t| t.0).collect::<Vec<f64>>()).view([-1, 1, 4]);
    let goals: Vec<Point> = tasks.iter().map(|t| t.1).collect();
    let cost = TaskCost::new(env, &goals, config.goal_cost);
    tch::manual_seed(config.seed as i64);
    let (free, steps) = match warm {
        Some(plans) if config.replan_steps > 0 => (
            Tensor::from_slice(&plans.concat()).view([-1, horizon as i64, width]),
            config.replan_steps,
        ),
        _ => {
            let standing = first.repeat([1, horizon as i64, 1]);
            let actions = Tensor::zeros([tasks.len() as i64, horizon as i64, width - 4], (Kind::Double, tch::Device::Cpu));
            (Tensor::cat(&[standing, actions], 2), config.steps)
        }
    };
    let normalised = ModeNormalised {
        step_size: config.mode_step,
        ..ModeNormalised::new(energy)
    };
    let energy: &dyn Energy = if config.mode_step > 0.0 { &normalised } else { energy };
    let free = descend(energy, env, &first, free, &cost, steps, config);
    let (free, acceptance) = match &config.sampler {
        Some(sampler) => {
            let plan = PlanEnergy {
                energy,
                env,
                first,
                cost: &cost,
                cost_weight: config.cost_weight,
                shape: (horizon as i64, width),
            };
            let (sampled, acceptance) = sample_plans(&plan, &free, sampler);
            (sampled, Some(acceptance))
        }
        None => (free, None),
    };
    let values = Vec::<f64>::try_from(free.reshape([-1])).unwrap_or_default();
    let plans = values.chunks(horizon * width as usize).map(|plan| plan.to_vec()).collect();
    (plans, acceptance)
}

/// `steps` momentum steps (with noise if set) on the objective from the
/// plans `free: [B, H, W]`, each projected back into the state space (and
/// the actions into [−1, 1]).
pub(crate) fn descend(
    energy: &dyn Energy,
    env: Env,
    first: &Tensor,
    mut free: Tensor,
    cost: &TaskCost,
    steps: usize,
    config: &PlanConfig,
) -> Tensor {
    let mut velocity = free.zeros_like();
    for _ in 0..steps {
        let var = free.detach().set_requires_grad(true);
        let loss = objective(energy, env, first, &var, cost, config.cost_weight);
        let grad = Tensor::run_backward(&[loss], &[&var], false, false).remove(0);
        free = tch::no_grad(|| {
            let grad = grad.nan_to_num(0.0, 0.0, 0.0).clamp(-config.grad_clip, config.grad_clip);
            velocity = &velocity * MOMENTUM - grad * (config.step_size / 2.0);
            let drift = var.detach() + &velocity;
            let moved = match config.noise > 0.0 {
                true => &drift + drift.randn_like() * config.noise,
                false => drift,
            };
            let states = within_state_space(env, &moved.narrow(2, 0, 4));
            match moved.size()[2] {
                4 => states,
                _ => Tensor::cat(&[states, moved.narrow(2, 4, 2).clamp(-1.0, 1.0)], 2),
            }
        });
    }
    free
}

/// Episodes of the environment driven by the planner, all tasks at once:
/// plan, execute the first `replan_every` recovered actions, plan again
/// from the states reached (warm-started from the previous plan when
/// `replan_steps` is set), until the horizon.
pub fn plan_episodes(
    energy: &dyn Energy,
    inverse: &dyn InverseModel,
    env: Env,
    tasks: &[(State, Point)],
    config: &PlanConfig,
    progress: &dyn crate::Progress,
) -> Planned {
    // Each action steers from the state actually reached toward the
    // planned next one, so small execution errors do not accumulate.
    let act = |planned: &Vec<Vec<State>>, step: usize, states: &[State]| {
        let next: Vec<State> = planned.iter().map(|p| p[step]).collect();
        inverse.actions(env, states, &next)
    };
    let label = format!("planning {} {env} episodes", tasks.len());
    planned_episodes(energy, env, tasks, config, &label, progress, act)
}

/// A planner's episodes, with what its sampler reports.
pub struct Planned {
    pub episodes: Vec<Episode>,
    /// The plan sampler's mean acceptance over every (re)plan (MALA, HMC;
    /// 1 for ULA); None without a sampler (`PlanConfig::sampler`).
    pub acceptance: Option<f64>,
}

/// Episodes from plans of `W` numbers per step ([`plan_rows`]), every
/// replan warm-started from the previous plan's rest when
/// `config.replan_steps` is set, the executed actions from `act`.
pub(crate) fn planned_episodes<const W: usize>(
    energy: &dyn Energy,
    env: Env,
    tasks: &[(State, Point)],
    config: &PlanConfig,
    label: &str,
    progress: &dyn crate::Progress,
    act: impl FnMut(&Vec<Vec<[f64; W]>>, usize, &[State]) -> Vec<Action>,
) -> Planned {
    let chunk = match config.replan_every {
        0 => env.horizon(),
        k => k,
    };
    let mut previous: Option<Vec<Vec<[f64; W]>>> = None;
    let mut acceptances = Vec::new();
    let plan = |current: &[(State, Point)], window: usize| {
        let warm: Option<Vec<Vec<f64>>> = previous
            .as_ref()
            .map(|plans| plans.iter().map(|p| shifted(p, chunk.min(p.len()), window).concat()).collect());
        let (rows, acceptance) = plan_rows(energy, env, current, window, W as i64, warm.as_deref(), config);
        acceptances.extend(acceptance);
        let planned: Vec<Vec<[f64; W]>> = rows
            .iter()
            .map(|row| row.chunks(W).map(|c| std::array::from_fn(|i| c[i])).collect())
            .collect();
        previous = Some(planned.clone());
        planned
    };
    // The energy planner's fixed windows run past the episode's end: cut
    // there, its last plans had no reason to hold the goal after their final
    // state (maze validation: the mass drifted off it in the last steps).
    let window = Window {
        length: config.plan_horizon,
        past_end: true,
    };
    let episodes = receding_horizon(env, tasks, chunk, window, label, progress, plan, act);
    let acceptance = (!acceptances.is_empty()).then(|| acceptances.iter().sum::<f64>() / acceptances.len() as f64);
    Planned { episodes, acceptance }
}

/// Plans `[B, H, 4]` clamped to the states the environment can be in:
/// positions in the box and velocities within ±1 (|v′| ≤ 0.9|v| + 0.1 for
/// the mass, 0.8|ω| + 0.2 for the arm), angles free. A learned energy is
/// only shaped near its data; outside, nothing stops it falling without
/// bound, and an unclamped plan ran off to ±30 within 1000 steps.
fn within_state_space(env: Env, plans: &Tensor) -> Tensor {
    match env {
        Env::Particle | Env::Maze => plans.clamp(-1.0, 1.0),
        Env::Reacher => Tensor::cat(&[plans.narrow(2, 0, 2), plans.narrow(2, 2, 2).clamp(-1.0, 1.0)], 2),
    }
}
