//! Planning by sampling state sequences, with a known transition energy.

mod common;

use ebm::energy::Energy;
use ebm::trajectories::inverse::{EnergyInverse, ExactInverse, InverseModel};
use ebm::trajectories::plan::{plan_episodes, PlanConfig};
use ebm::trajectories::transitions::DELTA_SCALE;
use ebm::trajectories::Env;
use tch::{Kind, Tensor};

/// The particle's dynamics as a quadratic energy over the scaled step
/// Δ = (s′ − s)/0.1 given s (code = s: the particle's range is [−1, 1]):
/// ½·w·‖a‖² for the action a = (v′ − 0.9v)/0.1 the step implies, ½·B per
/// unit of |a| beyond the action bound 1 squared, and ½·K·‖p′ − p − 0.1v′‖²,
/// which holds positions to the velocities.
struct QuadraticParticle;

const ACTION_WEIGHT: f64 = 0.1;
const CONSISTENCY: f64 = 10000.0;
const BOUND: f64 = 2.0;

impl Energy for QuadraticParticle {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let s = code.expect("a transition energy reads the state");
        let next = s + x * DELTA_SCALE;
        let (p, v) = (s.narrow(1, 0, 2), s.narrow(1, 2, 2));
        let (p2, v2) = (next.narrow(1, 0, 2), next.narrow(1, 2, 2));
        let action = (&v2 - v * 0.9) / 0.1;
        let beyond = (action.abs() - 1.0).relu();
        let slip = p2 - p - &v2 * 0.1;
        let sum = |t: Tensor| t.square().sum_dim_intlist(1, false, Kind::Double);
        let energy = sum(action) * (ACTION_WEIGHT / 2.0) + sum(beyond) * (BOUND / 2.0) + sum(slip) * (CONSISTENCY / 2.0);
        energy.to_kind(x.kind())
    }
}

#[test]
fn the_exact_inverse_recovers_the_action_of_a_step() {
    for env in [Env::Particle, Env::Maze, Env::Reacher] {
        let s = [0.1, -0.2, 0.3, -0.4];
        let a = [0.5, -0.7];
        let next = env.step(&s, &a);
        let recovered = ExactInverse::action(env, &s, &next);
        assert!(
            (recovered[0] - a[0]).abs() < 1e-9 && (recovered[1] - a[1]).abs() < 1e-9,
            "{env:?}: {recovered:?}"
        );
    }
}

/// With the dynamics known as an energy, sampling the sequence under the
/// goal cost and executing the recovered actions reaches the goal.
#[test]
fn the_planner_with_a_quadratic_transition_energy_solves_particle_tasks() {
    let _serial = common::serial();
    let solved = solved_tasks(&QuadraticParticle, 4);
    assert_eq!(solved, 4, "solved {solved} of 4 particle tasks");
}

/// Particle tasks (seed 3) solved by the planner under `energy`.
fn solved_tasks(energy: &dyn Energy, tasks: usize) -> usize {
    let env = Env::Particle;
    let config = PlanConfig::default();
    let mut rng = ebm::seed::rng_at(3, &[0]);
    let tasks: Vec<_> = (0..tasks).map(|_| env.draw_task(&mut rng)).collect();
    let episodes = plan_episodes(energy, &ExactInverse, env, &tasks, &config, &ebm::Quiet).episodes;
    episodes
        .iter()
        .map(|e| e.replay().expect("a planned episode replays").success as usize)
        .sum()
}

/// The particle's exact dynamics as an action-conditional energy:
/// ½·‖Δ − Δ(s, a)‖² with Δ(s, a) the scaled step the environment takes.
struct ExactActionEnergy;

impl Energy for ExactActionEnergy {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let code = code.expect("reads state and action").to_kind(Kind::Double);
        let (v, a) = (code.narrow(1, 2, 2), code.narrow(1, 4, 2));
        let v2 = &v * 0.9 + &a * 0.1;
        let step = Tensor::cat(&[v2.shallow_clone(), (&v2 - &v) / DELTA_SCALE], 1);
        ((x.to_kind(Kind::Double) - step).square().sum_dim_intlist(1, false, Kind::Double) * 0.5).to_kind(x.kind())
    }
}

/// The energy inverse finds the action of a step to its grid's resolution.
#[test]
fn the_energy_inverse_recovers_actions_from_an_action_conditional_energy() {
    let env = Env::Particle;
    let states = [[0.1, -0.2, 0.3, -0.4], [0.5, 0.5, -0.9, 0.2], [-0.3, 0.0, 0.0, 0.0]];
    let actions = [[0.537, -0.71], [-1.0, 0.123], [0.0, 0.999]];
    let next: Vec<_> = states.iter().zip(&actions).map(|(s, a)| env.step(s, a)).collect();
    let recovered = EnergyInverse {
        energy: &ExactActionEnergy,
    }
    .actions(env, &states, &next);
    for (r, a) in recovered.iter().zip(&actions) {
        assert!((r[0] - a[0]).abs() <= 0.006 && (r[1] - a[1]).abs() <= 0.006, "{r:?} vs {a:?}");
    }
}

/// A flat energy: no dynamics at all, only the goal cost.
struct Flat;

impl Energy for Flat {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        x.sum_dim_intlist(1, false, x.kind()) * 0.0
    }
}

/// With no dynamics in the energy, the goal cost moves the planned
/// positions but nothing ties the velocities to them: they stay at the
/// standing start's 0, the recovered actions are 0, and no task is solved.
#[test]
fn without_the_transition_energy_the_same_tasks_fail() {
    let _serial = common::serial();
    assert_eq!(solved_tasks(&Flat, 4), 0);
}

/// An energy that falls without bound as the step grows, as a learned one
/// may far from its data.
struct Unbounded;

impl Energy for Unbounded {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        x.sum_dim_intlist(1, false, x.kind()) * -100.0
    }
}

/// Plans stay in the states the environment can be in, however the energy
/// pulls (unclamped, this one runs off to ±30 within 1000 steps).
#[test]
fn plans_stay_within_the_state_space() {
    let _serial = common::serial();
    let config = PlanConfig {
        steps: 300,
        ..PlanConfig::default()
    };
    for env in [Env::Particle, Env::Reacher] {
        let task = ([0.2, -0.3, 0.0, 0.0], [0.5, 0.5]);
        let plan = ebm::trajectories::plan::plan_states(&Unbounded, env, &[task], 20, None, &config);
        let bounded = |s: &[f64; 4]| match env {
            Env::Reacher => s[2].abs() <= 1.0 && s[3].abs() <= 1.0,
            _ => s.iter().all(|v| v.abs() <= 1.0),
        };
        assert!(plan[0].iter().all(bounded), "{env:?}: {:?}", plan[0]);
        // The energy did pull: velocities sit at their bound.
        assert!(plan[0].iter().any(|s| s[2] >= 0.99), "{env:?}: {:?}", plan[0]);
    }
}

/// One online round on a tiny budget: models train on the seed episodes,
/// plan, and the executed episodes are scored and counted into the data.
/// Retraining from scratch each round changes the second round only. The
/// final models plan the evaluation tasks given, each episode on its task.
#[test]
fn an_online_round_trains_plans_and_grows_its_data() {
    use ebm::trajectories::online::{online_energy, OnlineConfig};
    let _serial = common::serial();
    let plan = PlanConfig {
        steps: 10,
        ..PlanConfig::for_env(Env::Particle)
    };
    let tasks = ebm::trajectories::models::planning_tasks(Env::Particle, 3, 7);
    let run = |retrain: bool, evaluation: &[_]| {
        let online = OnlineConfig {
            rounds: 2,
            seed_episodes: 2,
            episodes_per_round: 2,
            train_steps: 20,
            retrain,
            exploration_share: 0.5,
            seed: 0,
        };
        online_energy(Env::Particle, &online, &plan, evaluation, &ebm::Quiet).expect("runs")
    };
    let continued = run(false, &tasks);
    let rounds = &continued.rounds;
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0].transitions, 2 * 60);
    assert_eq!(rounds[1].transitions, 4 * 60, "the first round's episodes join the data");
    assert!(rounds.iter().all(|r| r.mean_return.is_finite() && (0.0..=1.0).contains(&r.success)));
    assert_eq!(continued.evaluated.len(), tasks.len());
    for (episode, (start, goal)) in continued.evaluated.iter().zip(&tasks) {
        assert_eq!((episode.start, episode.goal), (*start, *goal));
        assert_eq!(episode.states.len(), Env::Particle.horizon() + 1);
    }
    let retrained = run(true, &[]);
    assert!(retrained.evaluated.is_empty(), "no evaluation tasks, no evaluation");
    assert_eq!(
        retrained.rounds[0].mean_return, rounds[0].mean_return,
        "round 0 trains from scratch either way"
    );
    assert_ne!(
        retrained.rounds[1].mean_return, rounds[1].mean_return,
        "round 1 trains another model"
    );
}

/// [`ExactActionEnergy`] made stiffer: σ ≈ 0.3 in Δ units, the top of the
/// learned energies' noise range, so a step the action does not make costs more
/// than the goal cost can repay.
struct StiffExactAction;

impl Energy for StiffExactAction {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        ExactActionEnergy.energy(x, code) * 10.0
    }
}

/// Collocation (states and actions planned together, the planned actions
/// executed) on the exact action-conditional energy solves particle tasks;
/// on a flat energy nothing ties the actions to the planned states, they
/// stay at 0 and no task is solved.
#[test]
fn collocation_solves_particle_tasks_with_the_exact_action_energy_only() {
    use ebm::trajectories::collocation::collocated_episodes;
    let _serial = common::serial();
    let env = Env::Particle;
    let solved = |energy: &dyn Energy| -> usize {
        let mut rng = ebm::seed::rng_at(3, &[0]);
        let tasks: Vec<_> = (0..4).map(|_| env.draw_task(&mut rng)).collect();
        let episodes = collocated_episodes(energy, env, &tasks, &PlanConfig::for_env(env), &ebm::Quiet).episodes;
        episodes.iter().map(|e| e.replay().expect("replays").success as usize).sum()
    };
    assert_eq!(solved(&StiffExactAction), 4);
    assert_eq!(solved(&Flat), 0);
}

/// [`ExactActionEnergy`] × 50 plus an offset 30·y of the state alone — what
/// training by denoising leaves free: it does not change which step is
/// likely, but its gradient through the code drags every planned state
/// down harder than the goal (weight 10) pulls.
struct OffsetExactAction;

const OFFSET_CURVATURE: f64 = 50.0;

impl Energy for OffsetExactAction {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let y = code.expect("reads state and action").select(1, 1).to_kind(x.kind());
        ExactActionEnergy.energy(x, code) * OFFSET_CURVATURE + y * 30.0
    }
}

/// Planning on the mode-normalised energy (`PlanConfig::mode_step`) removes
/// the offset's pull: the same tasks that fail on the raw energy are solved.
#[test]
fn a_per_state_offset_misleads_collocation_until_it_is_removed() {
    use ebm::trajectories::collocation::collocated_episodes;
    let _serial = common::serial();
    let env = Env::Particle;
    let solved = |mode_step: f64| -> usize {
        let mut rng = ebm::seed::rng_at(3, &[0]);
        let tasks: Vec<_> = (0..4).map(|_| env.draw_task(&mut rng)).collect();
        let config = PlanConfig {
            mode_step,
            ..PlanConfig::for_env(env)
        };
        let episodes = collocated_episodes(&OffsetExactAction, env, &tasks, &config, &ebm::Quiet).episodes;
        episodes.iter().map(|e| e.replay().expect("replays").success as usize).sum()
    };
    let raw = solved(0.0);
    assert_eq!(solved(1.0 / OFFSET_CURVATURE), 4);
    assert!(raw <= 2, "the offset's pull should defeat most plans; {raw} of 4 solved");
}

/// Plans sampled by MALA and by HMC after the descent (`PlanConfig::sampler`)
/// still solve the tasks the descent solves, and the Metropolis correction
/// reports an acceptance its adaptation steered near its target.
#[test]
fn sampled_plans_solve_particle_tasks_and_report_acceptance() {
    use ebm::sample::sampler::SamplerKind;
    use ebm::trajectories::collocation::collocated_episodes;
    use ebm::trajectories::plan_sampling::plan_sampler;
    let _serial = common::serial();
    let env = Env::Particle;
    for kind in [SamplerKind::Mala, SamplerKind::Hmc] {
        let mut rng = ebm::seed::rng_at(3, &[0]);
        let tasks: Vec<_> = (0..4).map(|_| env.draw_task(&mut rng)).collect();
        let config = PlanConfig {
            sampler: Some(plan_sampler(kind, 40, 0.1)),
            ..PlanConfig::for_env(env)
        };
        let planned = collocated_episodes(&StiffExactAction, env, &tasks, &config, &ebm::Quiet);
        let solved: usize = planned.episodes.iter().map(|e| e.replay().expect("replays").success as usize).sum();
        assert_eq!(solved, 4, "{kind:?}");
        let acceptance = planned.acceptance.expect("a sampler reports its acceptance");
        assert!((0.3..0.95).contains(&acceptance), "{kind:?} acceptance {acceptance}");
    }
}

/// The online fit's mix repeats the seed episodes up to the asked share and
/// leaves the data as gathered without one.
#[test]
fn online_mix_repeats_the_exploratory_episodes_to_their_share() {
    use ebm::trajectories::online::{mixed, OnlineConfig};
    let data = ebm::trajectories::exploratory_episodes(Env::Particle, 16, 3);
    let config = |share| OnlineConfig {
        seed_episodes: 4,
        exploration_share: share,
        ..OnlineConfig::default()
    };
    assert_eq!(mixed(&data, &config(0.0)), data);
    let half = mixed(&data, &config(0.5));
    assert_eq!(half.len(), 24, "12 planned episodes and the 4 seeds three times");
    for copy in 0..3 {
        assert_eq!(half[copy * 4..copy * 4 + 4], data[..4]);
    }
    assert_eq!(half[12..], data[4..]);
    let rare = mixed(&data, &config(0.01));
    assert_eq!(rare.len(), 16, "each seed episode stays at least once");
    let seeds_only = mixed(&data[..4], &config(0.5));
    assert_eq!(seeds_only.len(), 4, "nothing planned yet, nothing to balance");
    let plan = PlanConfig::for_env(Env::Particle);
    let refused = ebm::trajectories::online::online_energy(Env::Particle, &config(1.0), &plan, &[], &ebm::Quiet);
    assert!(refused.is_err_and(|e| e.to_string().contains("below 1")), "a share of 1 is refused");
}
