//! `ebm env`: the control environments — episodes of the exploratory
//! policy, and the replay of any recorded episode file.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use ebm::names::Named;
use ebm::trajectories::{exploratory_episodes, read_episodes, write_episodes, Env};
use std::path::PathBuf;

#[derive(Args)]
pub struct EnvArgs {
    #[command(subcommand)]
    pub what: EnvWhat,
}

#[derive(Subcommand)]
pub enum EnvWhat {
    /// Write episodes of the exploratory policy (smoothly varying random actions) as JSON Lines.
    Explore(ExploreArgs),
    /// Replay an episode file: recompute every state from its start and
    /// actions, check the recorded states (to 1e-6), and score return and success.
    Replay(ReplayArgs),
}

#[derive(Args)]
pub struct ExploreArgs {
    /// particle, maze or reacher.
    #[arg(long, value_parser = Env::parse_name)]
    pub env: Env,
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct ReplayArgs {
    pub episodes: PathBuf,
}

pub fn run(args: EnvArgs) -> Result<()> {
    match args.what {
        EnvWhat::Explore(a) => {
            if a.episodes == 0 {
                bail!("--episodes must be at least 1");
            }
            write_episodes(&a.out, &exploratory_episodes(a.env, a.episodes, a.seed))?;
            println!("wrote {} {} episodes to {}", a.episodes, a.env.name(), a.out.display());
            Ok(())
        }
        EnvWhat::Replay(a) => {
            let episodes = read_episodes(&a.episodes)?;
            let mut by_env: Vec<(String, Vec<ebm::trajectories::Replay>)> = Vec::new();
            for (i, e) in episodes.iter().enumerate() {
                let replay = e
                    .replay()
                    .map_err(|err| anyhow::anyhow!("{} episode {}: {err:#}", a.episodes.display(), i + 1))?;
                match by_env.iter_mut().find(|(name, _)| *name == replay.env) {
                    Some((_, list)) => list.push(replay),
                    None => by_env.push((replay.env.clone(), vec![replay])),
                }
            }
            for (env, replays) in &by_env {
                let n = replays.len() as f64;
                let mean_return = replays.iter().map(|r| r.episode_return).sum::<f64>() / n;
                let success = replays.iter().filter(|r| r.success).count() as f64 / n;
                let deviation = replays.iter().map(|r| r.max_deviation).fold(0.0, f64::max);
                println!(
                    "{env}: {} episodes replayed, mean return {mean_return:.3}, success {:.1} %, largest state deviation {deviation:.1e}",
                    replays.len(),
                    100.0 * success
                );
            }
            Ok(())
        }
    }
}
