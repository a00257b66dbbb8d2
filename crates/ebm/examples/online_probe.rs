//! The energy planner's online rounds alone, without the rollouts and the
//! CEM baseline of `ebm experiment trajectories --online`: for diagnosing a
//! round's regression at a fraction of the cost.
//!
//! `cargo run --release --example online_probe -- reacher 2 50 continue|retrain`

use anyhow::{bail, Context, Result};
use ebm::trajectories::online::{online_energy, OnlineConfig};
use ebm::trajectories::plan::PlanConfig;
use ebm::trajectories::Env;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [env, rounds, episodes, mode] = args.as_slice() else {
        bail!("usage: online_probe ENV ROUNDS EPISODES continue|retrain");
    };
    let env: Env = env.parse().map_err(anyhow::Error::msg)?;
    let retrain = match mode.as_str() {
        "continue" => false,
        "retrain" => true,
        other => bail!("mode '{other}': use continue or retrain"),
    };
    let config = OnlineConfig {
        rounds: rounds.parse().context("ROUNDS")?,
        episodes_per_round: episodes.parse().context("EPISODES")?,
        retrain,
        ..OnlineConfig::default()
    };
    tch::set_num_threads(1);
    for round in online_energy(env, &config, &PlanConfig::for_env(env), &[], &ebm::Quiet)?.rounds {
        println!("{}", serde_json::to_string(&round)?);
    }
    Ok(())
}
