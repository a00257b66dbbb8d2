//! The online part of `ebm experiment trajectories`: each planner gathers
//! its own data over rounds (`trajectories::online`), and its final models,
//! trained on everything gathered, plan the same fixed-seed evaluation
//! tasks as the offline table. Those episodes are written in the spec's
//! format, so the online comparison is replayed like the offline one.

use super::trajectories::{score, PlanScore, TrajectoriesOptions};
use crate::trajectories::models::planning_tasks;
use crate::trajectories::mpc::CemConfig;
use crate::trajectories::online::{online_energy, online_feedforward, OnlineConfig, OnlineRound, OnlineRun};
use crate::trajectories::plan::{PlanConfig, Planned};
use crate::trajectories::Env;
use crate::Progress;
use anyhow::Result;
use serde::Serialize;

/// One planner's online run as reported.
#[derive(Serialize)]
pub struct OnlinePlanner {
    pub planner: String,
    pub rounds: Vec<OnlineRound>,
    /// The final models on the evaluation tasks (the offline table's).
    pub evaluation: PlanScore,
}

/// Both planners' online runs on `env`; the evaluation episodes go to
/// `episodes-<env>-online-ebm.jsonl` and `episodes-<env>-online-cem.jsonl`.
pub fn run_online(
    options: &TrajectoriesOptions,
    online: &OnlineConfig,
    env: Env,
    (plan_config, cem_config): (&PlanConfig, &CemConfig),
    progress: &dyn Progress,
) -> Result<Vec<OnlinePlanner>> {
    let tasks = planning_tasks(env, options.episodes, options.seed);
    let reported = |planner: &str, suffix: &str, run: OnlineRun| -> Result<OnlinePlanner> {
        let file = options.out.join(format!("episodes-{}-online-{suffix}.jsonl", env.name()));
        let planned = Planned {
            episodes: run.evaluated,
            acceptance: None,
        };
        Ok(OnlinePlanner {
            planner: planner.into(),
            rounds: run.rounds,
            evaluation: score(planner, &planned, &file)?,
        })
    };
    Ok(vec![
        reported("EBM", "ebm", online_energy(env, online, plan_config, &tasks, progress)?)?,
        reported(
            "feed-forward + CEM",
            "cem",
            online_feedforward(env, online, cem_config, &tasks, progress)?,
        )?,
    ])
}

/// The online section of the report: the final models on the evaluation
/// tasks, then the rounds.
pub fn markdown(envs: &[(String, &[OnlinePlanner])], options: &TrajectoriesOptions) -> String {
    if envs.iter().all(|(_, planners)| planners.is_empty()) {
        return String::new();
    }
    let retrain = options.online.as_ref().is_some_and(|o| o.retrain);
    let (seed_episodes, steps) = options.online.as_ref().map_or((0, 0), |o| (o.seed_episodes, o.train_steps));
    let training = match retrain {
        true => "trains the energy again from scratch on all of it (the baseline is refitted so every round)",
        false => "trains the energy further (the baseline is refitted from scratch)",
    };
    let mix = match options.online.as_ref().map_or(0.0, |o| o.exploration_share) {
        share if share > 0.0 => {
            format!(" Each fit repeats the exploratory episodes so that they make up about {share} of its transitions (both planners).")
        }
        _ => String::new(),
    };
    let mut md = format!(
        "\n## Online: the planner gathers its data (slides, online: particle −20.38 vs −850.67, maze −162.97 vs −949.99, reacher −29.87 vs −42.37)\n\n\
         The first models train on {seed_episodes} exploratory episodes. Each round plans fresh tasks with the current models, executes them, adds them to the data and {training}; every fit is {steps} steps.{mix} \
         After the last round each planner's models train once more on everything gathered and plan the offline table's {} evaluation tasks \
         (seed {}; files `episodes-<env>-online-<planner>.jsonl`).\n\n\
         | environment | planner | final models on the evaluation tasks: success | mean return | episodes |\n|---|---|---|---|---|\n",
        options.episodes, options.seed
    );
    for (env, planners) in envs {
        for p in planners.iter() {
            let e = &p.evaluation;
            md += &format!(
                "| {env} | {} | {:.2} | {:.2} | {} |\n",
                p.planner, e.success, e.mean_return, e.episodes_file
            );
        }
    }
    md += "\n| environment | planner | round | transitions trained on | success | mean return |\n|---|---|---|---|---|---|\n";
    for (env, planners) in envs {
        for p in planners.iter() {
            for r in &p.rounds {
                md += &format!(
                    "| {env} | {} | {} | {} | {:.2} | {:.2} |\n",
                    p.planner, r.round, r.transitions, r.success, r.mean_return
                );
            }
        }
    }
    md
}
