//! Trajectories: the control environments of `spec/environments.md`, their
//! recorded-episode format with replay, the exploratory policy that gathers
//! offline transitions, transition data for energies E(Δ | sₜ [, aₜ]) and
//! their one-step predictions, and planning by sampling state sequences
//! (`plan`). (Multi-step rollout scores build on these.)

pub mod collocation;
pub mod cost;
pub mod env;
pub mod episode;
pub mod feedforward;
pub mod inverse;
pub mod models;
pub mod mpc;
pub mod online;
pub mod plan;
pub mod plan_sampling;
mod receding;
pub mod rollout;
pub mod transitions;

pub use env::{Action, Env, Point, State};
pub use episode::{read_episodes, rollout, write_episodes, Episode, Replay};

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Persistence of the exploratory policy's actions: aₜ = ρ·aₜ₋₁ + √(1 − ρ²)·εₜ,
/// so each component is a smooth N(0, 1) process (clipped to [−1, 1] by the
/// environment) that keeps a direction for about 1/(1 − ρ) = 5 steps.
pub const EXPLORATION_PERSISTENCE: f64 = 0.8;

/// T smoothly varying random actions.
pub fn exploratory_actions(rng: &mut impl rand::Rng, horizon: usize) -> Vec<Action> {
    let rho = EXPLORATION_PERSISTENCE;
    let mut noise = || -> f64 { StandardNormal.sample(rng) };
    let mut a = [noise(), noise()];
    let mut actions = Vec::with_capacity(horizon);
    for _ in 0..horizon {
        actions.push(a);
        a = [
            rho * a[0] + (1.0 - rho * rho).sqrt() * noise(),
            rho * a[1] + (1.0 - rho * rho).sqrt() * noise(),
        ];
    }
    actions
}

/// `n` episodes of the exploratory policy from tasks drawn as the spec says,
/// except that in the maze they start anywhere in free space, at rest:
/// from the tasks' start band alone the data rarely left the bottom band, and
/// the energies knew nothing of the gaps and the upper bands. Episode `i`
/// depends only on (seed, i).
pub fn exploratory_episodes(env: Env, n: usize, seed: u64) -> Vec<Episode> {
    (0..n)
        .map(|i| {
            let mut rng = crate::seed::rng_at(seed, &[crate::seed::streams::EXPLORATION, i as u64]);
            let (mut start, goal) = env.draw_task(&mut rng);
            if env == Env::Maze {
                start = loop {
                    let p = [rng.random_range(-1.0..=1.0), rng.random_range(-1.0..=1.0)];
                    if env.free(&p) {
                        break [p[0], p[1], 0.0, 0.0];
                    }
                };
            }
            rollout(env, start, goal, &exploratory_actions(&mut rng, env.horizon()))
        })
        .collect()
}
