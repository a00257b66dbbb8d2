//! Recorded episodes in the spec's interchange format — JSON Lines, one
//! episode per line: `{"env", "start", "goal", "actions", "states"}` with
//! exactly T actions (as given, before clipping) and the T + 1 states the
//! simulator produced — and their replay, which recomputes the states from
//! `start` and `actions`, checks them, and scores return and success.

use super::env::{Action, Env, Point, State};
use crate::names::Named;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Replayed states must match the recorded ones this closely (the spec: 1e-6).
pub const REPLAY_TOLERANCE: f64 = 1e-6;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    pub env: String,
    pub start: State,
    pub goal: Point,
    pub actions: Vec<Action>,
    pub states: Vec<State>,
}

/// What a replay finds.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    pub env: String,
    /// Σₜ rₜ over the recomputed states.
    pub episode_return: f64,
    pub success: bool,
    /// Largest |recorded − recomputed| over every state component.
    pub max_deviation: f64,
}

/// Runs `actions` from `start`: the episode as the format records it.
pub fn rollout(env: Env, start: State, goal: Point, actions: &[Action]) -> Episode {
    let mut states = vec![start];
    for a in actions {
        let next = env.step(states.last().expect("starts non-empty"), a);
        states.push(next);
    }
    Episode {
        env: env.name().into(),
        start,
        goal,
        actions: actions.to_vec(),
        states,
    }
}

impl Episode {
    pub fn environment(&self) -> Result<Env> {
        Env::parse_name(&self.env).map_err(anyhow::Error::msg)
    }

    /// Recomputes the states and checks the recorded ones against them.
    pub fn replay(&self) -> Result<Replay> {
        let env = self.environment()?;
        let t = env.horizon();
        if self.actions.len() != t || self.states.len() != t + 1 {
            bail!(
                "a {} episode has exactly {t} actions and {} states; this one has {} and {}",
                self.env,
                t + 1,
                self.actions.len(),
                self.states.len()
            );
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !finite(&self.start) || !finite(&self.goal) || !self.actions.iter().all(|a| finite(a)) {
            bail!("start, goal and actions must be finite numbers");
        }
        if self.states[0] != self.start {
            bail!("the first state {:?} is not the start {:?}", self.states[0], self.start);
        }
        let replayed = rollout(env, self.start, self.goal, &self.actions);
        let mut max_deviation: f64 = 0.0;
        for (step, (recorded, recomputed)) in self.states.iter().zip(&replayed.states).enumerate() {
            let deviation = recorded.iter().zip(recomputed).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            if deviation.is_nan() || deviation > REPLAY_TOLERANCE {
                bail!("state {step} is {recorded:?} but replaying the actions gives {recomputed:?} (off by {deviation:.3e}, tolerance {REPLAY_TOLERANCE:e})");
            }
            max_deviation = max_deviation.max(deviation);
        }
        let states = &replayed.states;
        Ok(Replay {
            env: self.env.clone(),
            episode_return: states[1..].iter().map(|s| env.reward(s, &self.goal)).sum(),
            success: env.success(&states[t], &self.goal),
            max_deviation,
        })
    }
}

/// Writes episodes as JSON Lines, atomically.
pub fn write_episodes(path: &Path, episodes: &[Episode]) -> Result<()> {
    let mut text = String::new();
    for e in episodes {
        text += &serde_json::to_string(e)?;
        text.push('\n');
    }
    crate::io::write_atomically(path, text.as_bytes())
}

/// Reads a JSON Lines episode file; errors name the file and the line.
pub fn read_episodes(path: &Path) -> Result<Vec<Episode>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read episodes from {}", path.display()))?;
    let mut episodes = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let episode: Episode = serde_json::from_str(line).with_context(|| {
            format!(
                "{} line {}: not an episode ({{\"env\", \"start\", \"goal\", \"actions\", \"states\"}})",
                path.display(),
                i + 1
            )
        })?;
        episode
            .environment()
            .with_context(|| format!("{} line {}", path.display(), i + 1))?;
        episodes.push(episode);
    }
    if episodes.is_empty() {
        bail!("{} holds no episodes", path.display());
    }
    Ok(episodes)
}
