//! `ebm experiment trajectories`: per environment, multi-step rollouts of the
//! transition energies against the feed-forward baseline (Fréchet distance
//! per step, IGEBM §5), and planning on the energies against CEM on the
//! baseline (success and return, the slides' control table), every episode
//! executed in the environment and written in the spec's format.

use crate::sample::sampler::SamplerKind;
use crate::trajectories::collocation::collocated_episodes;
use crate::trajectories::feedforward::{FeedForward, FeedForwardConfig};
use crate::trajectories::inverse::EnergyInverse;
use crate::trajectories::models::{load_transition_model, planning_tasks, TransitionModel};
use crate::trajectories::mpc::{mpc_episodes, CemConfig};
use crate::trajectories::plan::{plan_episodes, PlanConfig, Planned};
use crate::trajectories::plan_sampling::{plan_sampler, PLAN_SAMPLE_STEPS, PLAN_TEMPERATURE};
use crate::trajectories::rollout::{predict_next, rollout_frechet, rollout_sampler};
use crate::trajectories::transitions::Transitions;
use crate::trajectories::{exploratory_episodes, write_episodes, Env, Episode};
use crate::Progress;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::PathBuf;

pub struct TrajectoriesOptions {
    pub envs: Vec<Env>,
    /// Holds `<env>.safetensors` and `<env>-action.safetensors`.
    pub models: PathBuf,
    pub out: PathBuf,
    /// Planned episodes per environment and planner.
    pub episodes: usize,
    /// Held-out exploratory episodes the rollouts start from.
    pub rollout_episodes: usize,
    pub rollout_steps: usize,
    pub seed: u64,
    /// Also run the online setting (the planner gathers its data).
    pub online: Option<crate::trajectories::online::OnlineConfig>,
    /// The planners compared (all three by default, in [`Planner::ALL`] order).
    pub planners: Vec<Planner>,
}

/// The planners of the control table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planner {
    /// States and actions on the action-conditional energy (the EBM planner).
    Collocation,
    /// The same, each plan then sampled by MALA ([`plan_sampler`]).
    CollocationMala,
    /// The same, each plan then sampled by HMC.
    CollocationHmc,
    /// States on the state energy, actions from the action-conditional one.
    States,
    /// CEM on the feed-forward baseline.
    Cem,
}

crate::named!(Planner, "planner", [Collocation => "collocation", CollocationMala => "collocation-mala", CollocationHmc => "collocation-hmc", States => "states", Cem => "cem"]);

#[derive(Serialize)]
pub struct PlanScore {
    pub planner: String,
    pub success: f64,
    pub mean_return: f64,
    pub episodes_file: String,
    /// The plan sampler's mean acceptance (planners that sample).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<f64>,
}

#[derive(Serialize)]
pub struct EnvReport {
    pub env: String,
    /// Fréchet distance per step: (model, values).
    pub frechet: Vec<(String, Vec<f64>)>,
    /// The same averaged over the steps.
    pub mean_frechet: Vec<(String, f64)>,
    /// The temperature each energy's rollouts sampled at, chosen on
    /// validation episodes from [`ROLLOUT_TEMPERATURES`].
    pub rollout_temperatures: Vec<(String, f64)>,
    /// The Langevin chain length each energy's rollouts ran, chosen with
    /// its temperature from [`ROLLOUT_CHAIN_STEPS`].
    pub rollout_chain_steps: Vec<(String, usize)>,
    pub planning: Vec<PlanScore>,
    /// Online runs, one per planner (empty without `options.online`).
    pub online: Vec<super::trajectories_online::OnlinePlanner>,
}

#[derive(Serialize)]
pub struct TrajectoriesReport {
    pub seed: u64,
    pub envs: Vec<EnvReport>,
}

fn load(options: &TrajectoriesOptions, env: Env, conditional: bool) -> Result<TransitionModel> {
    let name = format!("{}{}.safetensors", env.name(), if conditional { "-action" } else { "" });
    let path = options.models.join(&name);
    let model = load_transition_model(&path).with_context(|| {
        format!(
            "the experiment needs {}; train it with `ebm train trajectories --env {}{} --objective dsm --spectral-norm false --steps 20000` (models/trajectories/README.md)",
            path.display(),
            env.name(),
            if conditional { " --conditional" } else { "" }
        )
    })?;
    model.expect(env, conditional, &path.display().to_string())?;
    Ok(model)
}

/// Temperatures an energy's rollouts may sample at; each model's is the one
/// with the lowest mean Fréchet distance on validation episodes. Why: a
/// denoising-trained energy that does not read σ models its data blurred
/// by the training noise, so at T = 1 its draws are wider than a
/// deterministic environment's steps (reacher, action-conditional: 0.0038
/// at T = 1, 0.0009 at T = 0.1 on validation), while the unconditional
/// models, whose true next states do spread, need T near 1.
pub const ROLLOUT_TEMPERATURES: [f64; 4] = [1.0, 0.3, 0.1, 0.03];

/// Chain lengths a rollout's Langevin sampler may run, chosen jointly with
/// the temperature. Why: the maze's action-conditional chains, started from
/// uniform noise, had not mixed after 200 steps (validation Fréchet 0.0144
/// at T = 1; 0.0088 after 600 steps, 0.0097 after 1200, 0.0091 after 2400),
/// and started at Δ = 0 instead they settled in a spurious minimum (0.040
/// at T = 0.03).
pub const ROLLOUT_CHAIN_STEPS: [usize; 2] = [200, 1000];

/// The mean of `values` (0 for none).
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// "a, b and c": the candidates a report names.
fn listed<T: std::fmt::Display>(values: &[T]) -> String {
    let words: Vec<String> = values.iter().map(ToString::to_string).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => words.concat(),
    }
}

/// A model's name and its value at each step.
type Curve = (String, Vec<f64>);

/// How an energy's rollouts sample, chosen on validation episodes.
struct RolloutChoice {
    temperature: f64,
    chain_steps: usize,
}

/// Fréchet curves of the two energies and the two feed-forward models, and
/// the temperature and chain length each energy's rollouts were chosen to
/// sample with.
fn rollouts(
    options: &TrajectoriesOptions,
    env: Env,
    energies: [&TransitionModel; 2],
    baselines: [&FeedForward; 2],
) -> (Vec<Curve>, Vec<(String, RolloutChoice)>) {
    let episodes = |stream: &[u64]| exploratory_episodes(env, options.rollout_episodes, crate::seed::derive(options.seed, stream));
    let held_out = episodes(&[crate::seed::streams::EVAL_DATA]);
    let validation = episodes(&[crate::seed::streams::VALIDATION]);
    let init = crate::sample::InitNoise::uniform(-2.0, 2.0);
    let mut curves = Vec::new();
    let mut choices = Vec::new();
    for (i, conditional) in [false, true].into_iter().enumerate() {
        let kind = if conditional { "action-conditional" } else { "unconditional" };
        let label = format!("EBM {kind}");
        let energy = energies[i].network.as_ref();
        let curve = |episodes: &[Episode], choice: &RolloutChoice| {
            let sampler = rollout_sampler(choice.temperature, choice.chain_steps);
            tch::manual_seed(options.seed as i64);
            let mut ebm = |s: &[_], a: Option<&[_]>| predict_next(energy, env, s, a, &sampler, &init);
            rollout_frechet(episodes, options.rollout_steps, conditional, &mut ebm)
        };
        let candidates = ROLLOUT_CHAIN_STEPS.iter().flat_map(|&chain_steps| {
            ROLLOUT_TEMPERATURES
                .iter()
                .map(move |&temperature| RolloutChoice { temperature, chain_steps })
        });
        let choice = candidates
            .map(|c| (mean(&curve(&validation, &c)), c))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(
                RolloutChoice {
                    temperature: 1.0,
                    chain_steps: ROLLOUT_CHAIN_STEPS[0],
                },
                |(_, c)| c,
            );
        curves.push((label.clone(), curve(&held_out, &choice)));
        choices.push((label, choice));
        let mut ff = |s: &[_], a: Option<&[_]>| baselines[i].predict_next(s, a);
        curves.push((
            format!("feed-forward {kind}"),
            rollout_frechet(&held_out, options.rollout_steps, conditional, &mut ff),
        ));
    }
    (curves, choices)
}

pub(super) fn score(planner: &str, planned: &Planned, file: &std::path::Path) -> Result<PlanScore> {
    write_episodes(file, &planned.episodes)?;
    let replays: Vec<_> = planned.episodes.iter().map(|e| e.replay()).collect::<Result<_>>()?;
    let n = replays.len().max(1) as f64;
    Ok(PlanScore {
        planner: planner.into(),
        success: replays.iter().filter(|r| r.success).count() as f64 / n,
        mean_return: replays.iter().map(|r| r.episode_return).sum::<f64>() / n,
        episodes_file: file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        acceptance: planned.acceptance,
    })
}

/// Runs each of `options.planners` on the same tasks, writes and scores
/// their episodes; returns the scores and the episodes of the collocation
/// planner and CEM (empty where not run), which the pictures draw.
fn compare_planners(
    options: &TrajectoriesOptions,
    env: Env,
    [energy, actions]: [&TransitionModel; 2],
    feedforward: &FeedForward,
    (plan_config, cem_config): (&PlanConfig, &CemConfig),
    progress: &dyn Progress,
) -> Result<(Vec<PlanScore>, [Vec<Episode>; 2])> {
    let tasks = planning_tasks(env, options.episodes, options.seed);
    let file = |suffix: &str| options.out.join(format!("episodes-{}{suffix}.jsonl", env.name()));
    let mut planning = Vec::new();
    let mut executed: [Vec<Episode>; 2] = [Vec::new(), Vec::new()];
    for &planner in &options.planners {
        let sampled = |kind: SamplerKind| {
            let config = PlanConfig {
                sampler: Some(plan_sampler(kind, PLAN_SAMPLE_STEPS, PLAN_TEMPERATURE)),
                ..plan_config.clone()
            };
            collocated_episodes(actions.network.as_ref(), env, &tasks, &config, progress)
        };
        let (label, planned, suffix) = match planner {
            Planner::Collocation => (
                "EBM (states and actions, collocation)",
                collocated_episodes(actions.network.as_ref(), env, &tasks, plan_config, progress),
                "-ebm",
            ),
            Planner::CollocationMala => ("EBM (collocation, then MALA)", sampled(SamplerKind::Mala), "-ebm-mala"),
            Planner::CollocationHmc => ("EBM (collocation, then HMC)", sampled(SamplerKind::Hmc), "-ebm-hmc"),
            Planner::States => {
                let inverse = EnergyInverse {
                    energy: actions.network.as_ref(),
                };
                let planned = plan_episodes(energy.network.as_ref(), &inverse, env, &tasks, plan_config, progress);
                ("EBM (states, energy inverse)", planned, "-ebm-states")
            }
            Planner::Cem => {
                let episodes = mpc_episodes(feedforward, env, &tasks, cem_config, progress);
                (
                    "feed-forward + CEM",
                    Planned {
                        episodes,
                        acceptance: None,
                    },
                    "-cem",
                )
            }
        };
        planning.push(score(label, &planned, &file(suffix))?);
        match planner {
            Planner::Collocation => executed[0] = planned.episodes,
            Planner::Cem => executed[1] = planned.episodes,
            _ => {}
        }
    }
    Ok((planning, executed))
}

fn run_env(options: &TrajectoriesOptions, env: Env, progress: &dyn Progress) -> Result<EnvReport> {
    let (energy, actions) = (load(options, env, false)?, load(options, env, true)?);
    let ff_config = FeedForwardConfig {
        seed: options.seed,
        ..FeedForwardConfig::default()
    };
    let mut baselines = Vec::new();
    for conditional in [false, true] {
        let mut model = FeedForward::new(env, conditional, &ff_config);
        model.fit(&Transitions::exploratory(env, conditional, options.seed), &ff_config)?;
        baselines.push(model);
    }
    let (frechet, choices) = rollouts(options, env, [&energy, &actions], [&baselines[0], &baselines[1]]);
    let rollout_temperatures = choices.iter().map(|(model, c)| (model.clone(), c.temperature)).collect();
    let rollout_chain_steps = choices.iter().map(|(model, c)| (model.clone(), c.chain_steps)).collect();
    let mean_frechet = frechet.iter().map(|(name, values)| (name.clone(), mean(values))).collect();
    let plan_config = PlanConfig {
        seed: options.seed,
        ..PlanConfig::for_env(env)
    };
    let cem_config = CemConfig {
        plan_horizon: plan_config.plan_horizon,
        goal_cost: plan_config.goal_cost,
        seed: options.seed,
        ..CemConfig::default()
    };
    let (planning, [collocated, baseline]) = compare_planners(
        options,
        env,
        [&energy, &actions],
        &baselines[1],
        (&plan_config, &cem_config),
        progress,
    )?;
    super::trajectories_pictures::draw(&options.out, env, &frechet, &collocated, &baseline)?;
    if env == Env::Reacher && !collocated.is_empty() {
        let gif = options.out.join("reacher-ebm.gif");
        super::trajectories_pictures::reacher_animation(&gif, &collocated, "reacher, EBM planner (collocation)")?;
    }
    let online = match &options.online {
        Some(online) => super::trajectories_online::run_online(options, online, env, (&plan_config, &cem_config), progress)?,
        None => Vec::new(),
    };
    Ok(EnvReport {
        env: env.name().into(),
        frechet,
        mean_frechet,
        rollout_temperatures,
        rollout_chain_steps,
        planning,
        online,
    })
}

pub fn run(options: &TrajectoriesOptions, progress: &dyn Progress) -> Result<TrajectoriesReport> {
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    let mut envs = Vec::new();
    for &env in &options.envs {
        envs.push(run_env(options, env, progress)?);
    }
    let report = TrajectoriesReport { seed: options.seed, envs };
    crate::io::write_atomically(
        &options.out.join("trajectories.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    crate::io::write_atomically(&options.out.join("trajectories.md"), markdown(&report, options).as_bytes())?;
    Ok(report)
}

/// The slides' control table (total reward, EBM vs feed-forward, offline)
/// and IGEBM's average Fréchet distances, beside ours.
fn markdown(report: &TrajectoriesReport, options: &TrajectoriesOptions) -> String {
    let paper = |env: &str| match env {
        "particle" => "−5.14 vs −6.11",
        "maze" => "−72.07 vs −65.06",
        _ => "−19.38 vs −25.54",
    };
    let mut md = format!(
        "# Trajectories: rollouts and planning\n\nSeed {}; {} planned episodes per environment and planner, executed in the environment (files beside this report; `ebm env replay FILE` recomputes them); rollouts from {} held-out exploratory episodes, {} steps. Models: `{}`.\n\n## Planning (offline data)\n\n| environment | planner | success | mean return | slides (EBM vs FF, offline) |\n|---|---|---|---|---|\n",
        report.seed,
        options.episodes,
        options.rollout_episodes,
        options.rollout_steps,
        options.models.display()
    );
    for e in &report.envs {
        for p in &e.planning {
            let acceptance = p.acceptance.map(|a| format!(" (acceptance {a:.2})")).unwrap_or_default();
            md += &format!(
                "| {} | {}{acceptance} | {:.2} | {:.2} | {} |\n",
                e.env,
                p.planner,
                p.success,
                p.mean_return,
                paper(&e.env)
            );
        }
    }
    md += &format!("\n## Rollouts: Fréchet distance averaged over steps (lower is better)\n\nIGEBM (its own environment): unconditional EBM 5.96 vs FC 33.28; action-conditional 8.97 vs 19.75. Each energy samples at the temperature T and Langevin chain length with the lowest mean Fréchet distance on validation episodes (another seed stream), from {} and from {} steps.\n\n| environment | model | mean Fréchet distance |\n|---|---|---|\n",
        listed(&ROLLOUT_TEMPERATURES),
        listed(&ROLLOUT_CHAIN_STEPS)
    );
    for e in &report.envs {
        for (name, value) in &e.mean_frechet {
            let temperature = e.rollout_temperatures.iter().find(|(model, _)| model == name);
            let chain = e.rollout_chain_steps.iter().find(|(model, _)| model == name);
            let name = match (temperature, chain) {
                (Some((_, t)), Some((_, steps))) => format!("{name} (T = {t}, {steps} steps)"),
                _ => name.clone(),
            };
            md += &format!("| {} | {name} | {value:.5} |\n", e.env);
        }
    }
    let online: Vec<(String, &[super::trajectories_online::OnlinePlanner])> =
        report.envs.iter().map(|e| (e.env.clone(), e.online.as_slice())).collect();
    md += &super::trajectories_online::markdown(&online, options);
    md += "\nPictures: `frechet-<env>.png` (per step), `paths-<env>.png` (executed paths of the first episodes: the collocation planner and CEM), `reacher-ebm.gif` (the first reacher episodes, every second step).\n";
    md
}
