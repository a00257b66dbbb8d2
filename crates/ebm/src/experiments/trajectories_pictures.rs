//! Pictures of `ebm experiment trajectories`: Fréchet distance per rollout
//! step, and executed paths of both planners (over the maze's walls).

use crate::trajectories::env::WALLS;
use crate::trajectories::{Env, Episode};
use anyhow::Result;
use std::path::Path;

/// Episodes drawn per planner in the paths picture.
const PATHS_DRAWN: usize = 4;

type Points = Vec<(f64, f64)>;

fn wall_outlines() -> Vec<Points> {
    WALLS
        .iter()
        .map(|w| vec![(w[0], w[2]), (w[1], w[2]), (w[1], w[3]), (w[0], w[3]), (w[0], w[2])])
        .collect()
}

fn path(env: Env, episode: &Episode) -> Points {
    episode.states.iter().map(|s| env.position(s)).map(|p| (p[0], p[1])).collect()
}

pub fn draw(out: &Path, env: Env, frechet: &[(String, Vec<f64>)], planned: &[Episode], baseline: &[Episode]) -> Result<()> {
    let curves: Vec<(String, Points)> = frechet
        .iter()
        .map(|(name, values)| (name.clone(), values.iter().enumerate().map(|(t, v)| ((t + 1) as f64, *v)).collect()))
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = curves.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
    let title = format!("{}: Frechet distance of rollouts to the true states", env.name());
    crate::viz::line_plot(
        &out.join(format!("frechet-{}.png", env.name())),
        &series,
        &title,
        "step",
        "Fréchet distance",
        (720, 480),
    )?;

    // One series per planner (paths joined by breaks), so each has one colour.
    let joined = |paths: Vec<Points>| paths.join(&(f64::NAN, f64::NAN));
    let mut named: Vec<(String, Points)> = Vec::new();
    for (label, episodes) in [("EBM planner", planned), ("feed-forward + CEM", baseline)] {
        named.push((
            label.to_string(),
            joined(episodes.iter().take(PATHS_DRAWN).map(|e| path(env, e)).collect()),
        ));
    }
    let goals = planned.iter().take(PATHS_DRAWN).map(|e| vec![(e.goal[0], e.goal[1])]).collect();
    named.push(("goals".to_string(), joined(goals)));
    if env == Env::Maze {
        named.push(("walls".to_string(), joined(wall_outlines())));
    }
    let series: Vec<(&str, &[(f64, f64)])> = named.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
    let title = format!("{}: executed paths (dots: goals)", env.name());
    crate::viz::line_plot(
        &out.join(format!("paths-{}.png", env.name())),
        &series,
        &title,
        "x",
        "y",
        (640, 640),
    )
}
