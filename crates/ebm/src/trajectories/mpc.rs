//! The planning baseline: an action-conditional feed-forward dynamics model
//! with a standard sampling-based model-predictive controller — the
//! cross-entropy method over action sequences under the same goal cost
//! Σₜ d(pos(sₜ₊₁), g) as the energy planner, replanning every few steps.

use super::cost::{GoalCost, TaskCost};
use super::env::{Action, Env, Point, State};
use super::episode::Episode;
use super::feedforward::FeedForward;
use super::plan::positions;
use super::receding::{receding_horizon, Window};
use tch::{Kind, Tensor};

/// Documented defaults: [`CemConfig::default`].
#[derive(Clone, Debug, PartialEq)]
pub struct CemConfig {
    /// Action sequences sampled per iteration.
    pub population: usize,
    pub iterations: usize,
    /// The best sequences the next iteration's Gaussian is fitted to.
    pub elites: usize,
    /// Steps planned ahead (to the episode's end if 0).
    pub plan_horizon: usize,
    /// Whether a fixed window keeps its length past the episode's end
    /// rather than shrinking there. The energy planner's does (it then
    /// holds the goal); CEM's shrinks by default: its last plans then
    /// search a few actions, not 50 (maze, seed 0, 100 episodes: 0.85 of
    /// the masses held the goal with the shrinking window, none with the
    /// full one, each stopping about 0.14 from it).
    pub window_past_end: bool,
    /// Execute this many planned actions, then plan again.
    pub replan_every: usize,
    /// Standard deviation of the first iteration's actions.
    pub initial_std: f64,
    /// d of the goal cost (the energy planner's, see `cost`).
    pub goal_cost: GoalCost,
    pub seed: u64,
}

/// 500 sequences × 10 iterations: 5000 model evaluations per planned
/// transition, at least the energy planner's compute (its 1000 steps of a
/// forward and a backward pass over the sequence, about 3000
/// forward-equivalents); 50 elites, replanning every 10 steps as the
/// energy planner does.
impl Default for CemConfig {
    fn default() -> Self {
        Self {
            population: 500,
            iterations: 10,
            elites: 50,
            plan_horizon: 0,
            window_past_end: false,
            replan_every: 10,
            initial_std: 0.7,
            goal_cost: GoalCost::Euclidean,
            seed: 0,
        }
    }
}

impl CemConfig {
    /// Model evaluations (one transition each) per plan of `horizon` steps.
    pub fn evaluations_per_plan(&self, horizon: usize) -> usize {
        self.population * self.iterations * horizon
    }
}

/// The mean action sequences `[B, H, 2]` after CEM from each task's state.
fn cem_plan(model: &FeedForward, env: Env, tasks: &[(State, Point)], horizon: usize, config: &CemConfig) -> Tensor {
    let (b, p, h) = (tasks.len() as i64, config.population as i64, horizon as i64);
    let starts = Tensor::from_slice(&tasks.iter().flat_map(|t| t.0).collect::<Vec<f64>>()).view([b, 1, 4]);
    let goals: Vec<Point> = tasks.iter().map(|t| t.1).collect();
    let task_cost = TaskCost::new(env, &goals, config.goal_cost);
    let mut mean = Tensor::zeros([b, 1, h, 2], (Kind::Double, tch::Device::Cpu));
    let mut std = Tensor::full([b, 1, h, 2], config.initial_std, (Kind::Double, tch::Device::Cpu));
    for _ in 0..config.iterations {
        let actions = (&mean + &std * Tensor::randn([b, p, h, 2], (Kind::Double, tch::Device::Cpu))).clamp(-1.0, 1.0);
        let mut states = starts.expand([b, p, 4], false).reshape([-1, 4]);
        let mut cost = Tensor::zeros([b * p], (Kind::Double, tch::Device::Cpu));
        for t in 0..h {
            let a = actions.select(2, t).reshape([-1, 2]);
            states = model.next_states(&states, Some(&a));
            cost += task_cost.cost(&positions(env, &states).view([b, p, 2])).view([-1]);
        }
        let elites = cost.view([b, p]).argsort(1, false).narrow(1, 0, config.elites as i64);
        let index = elites.view([b, -1, 1, 1]).expand([b, config.elites as i64, h, 2], false);
        let chosen = actions.gather(1, &index, false);
        mean = chosen.mean_dim(1, true, Kind::Double);
        std = chosen.std_dim(1, false, true).clamp_min(0.05);
    }
    mean.squeeze_dim(1)
}

/// Episodes driven by CEM on the feed-forward model, all tasks at once.
pub fn mpc_episodes(
    model: &FeedForward,
    env: Env,
    tasks: &[(State, Point)],
    config: &CemConfig,
    progress: &dyn crate::Progress,
) -> Vec<Episode> {
    tch::manual_seed(config.seed as i64);
    // One row per task: its window's mean actions.
    let plan = |current: &[(State, Point)], window: usize| {
        let means = cem_plan(model, env, current, window, config);
        Vec::<Vec<f64>>::try_from(means.reshape([current.len() as i64, -1])).unwrap_or_default()
    };
    let act = |planned: &Vec<Vec<f64>>, step: usize, _states: &[State]| -> Vec<Action> {
        planned.iter().map(|row| [row[2 * step], row[2 * step + 1]]).collect()
    };
    let label = format!("CEM on {} {env} episodes", tasks.len());
    let window = Window {
        length: config.plan_horizon,
        past_end: config.window_past_end,
    };
    receding_horizon(env, tasks, config.replan_every, window, &label, progress, plan, act)
}
