//! `ebm plan` and `ebm experiment trajectories`. `ebm plan`: episodes of a control environment driven by planning on
//! learned transition energies — the state sequence sampled under
//! ΣE + λ·Σ‖pos − g‖, actions from the action-conditional energy — executed
//! in the environment and written in the spec's episode format.

use crate::Context;
use anyhow::{bail, Result};
use clap::Args;
use ebm::names::Named;
use ebm::trajectories::collocation::collocated_episodes;
use ebm::trajectories::inverse::EnergyInverse;
use ebm::trajectories::models::{load_transition_model, planning_tasks};
use ebm::trajectories::plan::{plan_episodes, PlanConfig};
use ebm::trajectories::plan_sampling::plan_sampler;
use ebm::trajectories::{write_episodes, Env};
use std::path::PathBuf;

#[derive(Args)]
pub struct PlanArgs {
    /// The transition energy E(Δ | s) the state sequence is sampled from.
    #[arg(long)]
    pub model: PathBuf,
    /// The action-conditional energy E(Δ | s, a) whose lowest-energy action
    /// executes each planned step (default: the model's file name with
    /// `-action` before `.safetensors`).
    #[arg(long)]
    pub actions_from: Option<PathBuf>,
    /// particle, maze or reacher (must be the models').
    #[arg(long, value_parser = Env::parse_name)]
    pub env: Env,
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Seed of the tasks (start and goal of each episode) and the planner.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Steps over the sequence per (re)plan.
    #[arg(long)]
    pub plan_steps: Option<usize>,
    /// Steps of each replan after the first, started from the previous
    /// plan (0: every plan from a standing start with --plan-steps).
    #[arg(long)]
    pub replan_steps: Option<usize>,
    /// Replan after executing this many actions (0: open loop).
    #[arg(long)]
    pub replan_every: Option<usize>,
    /// States planned ahead each time (0: to the episode's end).
    #[arg(long)]
    pub plan_horizon: Option<usize>,
    /// Weight λ of the goal cost.
    #[arg(long)]
    pub cost_weight: Option<f64>,
    /// Plan states and actions together on the action-conditional energy
    /// and execute the planned actions (`trajectories::collocation`); the
    /// state energy of --model is then not read.
    #[arg(long)]
    pub collocate: bool,
    /// Remove the energy's per-state offset before planning on it, with
    /// one step of this size toward each transition's mode
    /// (`energy::ModeNormalised`; 0: off; default 0.005 in the maze, 0
    /// elsewhere).
    #[arg(long)]
    pub mode_step: Option<f64>,
    /// After each descent, sample the plans from exp(−objective/T) with
    /// this sampler (mala, hmc or ula; Metropolis-corrected ones print
    /// their acceptance); none by default.
    #[arg(long, value_parser = <ebm::sample::sampler::SamplerKind as ebm::Named>::parse_name)]
    pub sampler: Option<ebm::sample::sampler::SamplerKind>,
    /// Sampler transitions after each descent (with --sampler), the first
    /// half adapting the step size.
    #[arg(long, default_value_t = ebm::trajectories::plan_sampling::PLAN_SAMPLE_STEPS, requires = "sampler")]
    pub sample_steps: usize,
    /// T of exp(−objective/T) (with --sampler).
    #[arg(long, default_value_t = ebm::trajectories::plan_sampling::PLAN_TEMPERATURE, requires = "sampler")]
    pub temperature: f64,
    #[arg(short, long)]
    pub out: PathBuf,
}

/// The planner's settings for `env` (see `PlanConfig::for_env`) with the
/// user's changes.
fn config(args: &PlanArgs) -> PlanConfig {
    let mut config = PlanConfig::for_env(args.env);
    config.seed = args.seed;
    let set = |field: &mut usize, value: Option<usize>| *field = value.unwrap_or(*field);
    set(&mut config.steps, args.plan_steps);
    set(&mut config.replan_every, args.replan_every);
    set(&mut config.replan_steps, args.replan_steps);
    set(&mut config.plan_horizon, args.plan_horizon);
    config.cost_weight = args.cost_weight.unwrap_or(config.cost_weight);
    config.mode_step = args.mode_step.unwrap_or(config.mode_step);
    config.sampler = args.sampler.map(|kind| plan_sampler(kind, args.sample_steps, args.temperature));
    config
}

pub fn run(args: PlanArgs, context: &Context) -> Result<()> {
    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    if !(args.temperature > 0.0 && args.temperature.is_finite()) || args.sample_steps == 0 {
        bail!("--temperature must be a positive number and --sample-steps at least 1");
    }
    let actions_from = args.actions_from.clone().unwrap_or_else(|| {
        let stem = args.model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        args.model.with_file_name(format!("{stem}-action.safetensors"))
    });
    // The state model first: its card names a wrong choice of --model.
    let model = match args.collocate {
        true => None,
        false => {
            let model = load_transition_model(&args.model)?;
            model.expect(args.env, false, &format!("--model {}", args.model.display()))?;
            Some(model)
        }
    };
    let actions = load_transition_model(&actions_from)?;
    actions.expect(args.env, true, &format!("--actions-from {}", actions_from.display()))?;
    let tasks = planning_tasks(args.env, args.episodes, args.seed);
    let config = config(&args);
    let planned = match model {
        None => collocated_episodes(actions.network.as_ref(), args.env, &tasks, &config, &context.progress),
        Some(model) => {
            let inverse = EnergyInverse {
                energy: actions.network.as_ref(),
            };
            plan_episodes(model.network.as_ref(), &inverse, args.env, &tasks, &config, &context.progress)
        }
    };
    write_episodes(&args.out, &planned.episodes)?;
    let replays: Vec<_> = planned.episodes.iter().map(|e| e.replay()).collect::<Result<_>>()?;
    let n = replays.len() as f64;
    let acceptance = planned
        .acceptance
        .map(|a| format!(", sampler acceptance {a:.3}"))
        .unwrap_or_default();
    println!(
        "{}: {} episodes, success {:.1} %, mean return {:.3}{acceptance}; wrote {} (check it with `ebm env replay {}`)",
        args.env.name(),
        replays.len(),
        100.0 * replays.iter().filter(|r| r.success).count() as f64 / n,
        replays.iter().map(|r| r.episode_return).sum::<f64>() / n,
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

#[derive(Args)]
pub struct TrajectoriesExperimentArgs {
    /// Environments (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = <ebm::trajectories::Env as ebm::Named>::parse_name, default_value = "particle,reacher,maze")]
    pub envs: Vec<ebm::trajectories::Env>,
    /// Folder holding `<env>.safetensors` and `<env>-action.safetensors`.
    #[arg(long, default_value_os_t = crate::home::shipped("models/trajectories"))]
    pub models: PathBuf,
    #[arg(long, short, default_value = "experiments/trajectories")]
    pub out: PathBuf,
    /// Planned episodes per environment and planner.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Held-out exploratory episodes the rollouts start from.
    #[arg(long, default_value_t = 200)]
    pub rollout_episodes: usize,
    #[arg(long, default_value_t = 20)]
    pub rollout_steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also run the online setting: rounds of planning, executing, and
    /// training on the gathered data (4 rounds of 50 episodes by default).
    #[arg(long)]
    pub online: bool,
    /// Online rounds (with --online).
    #[arg(long, requires = "online")]
    pub online_rounds: Option<usize>,
    /// Planned episodes per online round (with --online; default 50).
    #[arg(long, requires = "online")]
    pub online_episodes: Option<usize>,
    /// Exploratory episodes the first online models train on (with --online;
    /// default 20; the offline models train on 200).
    #[arg(long, requires = "online")]
    pub online_seed_episodes: Option<usize>,
    /// Training steps of both planners' models at every fit (with --online;
    /// default 4000; the offline action energies trained 8000).
    #[arg(long, requires = "online")]
    pub online_steps: Option<u64>,
    /// Continue the online energy's training each round instead of training
    /// it from scratch on all data (the default, as the baseline is refitted).
    #[arg(long, requires = "online")]
    pub online_continue: bool,
    /// Share of each online fit's transitions drawn from the exploratory
    /// seed episodes, by repeating them (with --online; both planners;
    /// default 0.5; 0: the data as gathered). At least 0, below 1.
    #[arg(long, requires = "online")]
    pub online_exploration_share: Option<f64>,
    /// Planners compared (comma separated): collocation (the EBM planner),
    /// states (state energy + energy inverse), cem (feed-forward + CEM).
    #[arg(long, value_delimiter = ',', value_parser = <ebm::experiments::trajectories::Planner as ebm::Named>::parse_name, default_value = "collocation,states,cem")]
    pub planners: Vec<ebm::experiments::trajectories::Planner>,
    /// No offline planner runs: rollouts only (and the online rounds with
    /// --online).
    #[arg(long, conflicts_with = "planners")]
    pub no_planning: bool,
}

pub fn run_experiment(a: TrajectoriesExperimentArgs, context: &Context) -> Result<()> {
    crate::experiment::cpu_only("trajectories", context)?;
    if a.episodes == 0 || a.rollout_episodes < 2 || a.rollout_steps == 0 {
        bail!("--episodes and --rollout-steps must be at least 1, --rollout-episodes at least 2");
    }
    let online_counts = [
        ("--online-rounds", a.online_rounds.map(|v| v as u64)),
        ("--online-episodes", a.online_episodes.map(|v| v as u64)),
        ("--online-seed-episodes", a.online_seed_episodes.map(|v| v as u64)),
        ("--online-steps", a.online_steps),
    ];
    if let Some((flag, _)) = online_counts.iter().find(|(_, v)| *v == Some(0)) {
        bail!("{flag} must be at least 1");
    }
    if let Some(share) = a.online_exploration_share.filter(|s| !(s.is_finite() && *s >= 0.0 && *s < 1.0)) {
        bail!("--online-exploration-share {share}: give a share of at least 0 and below 1 (0.5 is the default, 0 the data as gathered)");
    }
    let options = ebm::experiments::trajectories::TrajectoriesOptions {
        envs: a.envs,
        models: a.models,
        out: a.out,
        episodes: a.episodes,
        rollout_episodes: a.rollout_episodes,
        rollout_steps: a.rollout_steps,
        seed: a.seed,
        online: a.online.then(|| {
            let base = ebm::trajectories::online::OnlineConfig::default();
            ebm::trajectories::online::OnlineConfig {
                rounds: a.online_rounds.unwrap_or(base.rounds),
                episodes_per_round: a.online_episodes.unwrap_or(base.episodes_per_round),
                seed_episodes: a.online_seed_episodes.unwrap_or(base.seed_episodes),
                train_steps: a.online_steps.unwrap_or(base.train_steps),
                retrain: !a.online_continue,
                exploration_share: a.online_exploration_share.unwrap_or(base.exploration_share),
                seed: a.seed,
            }
        }),
        planners: if a.no_planning { Vec::new() } else { a.planners },
    };
    let report = ebm::experiments::trajectories::run(&options, &context.progress)?;
    for e in &report.envs {
        for p in &e.planning {
            println!(
                "{} {}: success {:.2}, mean return {:.2}",
                e.env, p.planner, p.success, p.mean_return
            );
        }
        for (name, value) in &e.mean_frechet {
            println!("{} {name}: mean Fréchet distance {value:.5}", e.env);
        }
    }
    println!("report: {}", options.out.join("trajectories.md").display());
    Ok(())
}
