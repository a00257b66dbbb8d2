//! Actions from planned transitions: the environments' exact inverse (an
//! oracle for checking planners) and a learned one, the action-conditional
//! transition energy's lowest-energy action.

use super::env::{Action, Env, State};
use super::transitions::{delta, transition_codes};
use crate::energy::Energy;
use tch::{Kind, Tensor};

/// How planned transitions become actions, for many at once.
pub trait InverseModel {
    fn actions(&self, env: Env, states: &[State], next: &[State]) -> Vec<Action>;
}

/// The environments' own dynamics solved for the action (spec: particle and
/// maze v′ = 0.9v + 0.1a, reacher ω′ = 0.8ω + 0.2a), clipped to [−1, 1]. An
/// oracle: it checks planners against known energies; a learned model's
/// actions come from its own action-conditional energy ([`EnergyInverse`]).
pub struct ExactInverse;

impl ExactInverse {
    pub fn action(env: Env, s: &State, next: &State) -> Action {
        let (keep, gain) = match env {
            Env::Particle | Env::Maze => (0.9, 0.1),
            Env::Reacher => (0.8, 0.2),
        };
        [0, 1].map(|i| ((next[2 + i] - keep * s[2 + i]) / gain).clamp(-1.0, 1.0))
    }
}

impl InverseModel for ExactInverse {
    fn actions(&self, env: Env, states: &[State], next: &[State]) -> Vec<Action> {
        states.iter().zip(next).map(|(s, n)| Self::action(env, s, n)).collect()
    }
}

/// The action a* = argmin_a E(Δ | s, a) of an action-conditional
/// transition energy: the energy on a grid of actions over [−1, 1]², then on
/// a finer grid around the best (two 21 × 21 grids: resolution 0.01,
/// 882 energy evaluations per transition).
pub struct EnergyInverse<'a> {
    pub energy: &'a dyn Energy,
}

/// Points per axis of each grid.
const GRID: usize = 21;

impl EnergyInverse<'_> {
    /// The grid point of lowest energy per transition, within `half` of
    /// each transition's `centre`.
    fn search(&self, env: Env, states: &[State], next: &[State], centres: &[Action], half: f64) -> Vec<Action> {
        let offsets: Vec<f64> = (0..GRID).map(|i| -half + 2.0 * half * i as f64 / (GRID - 1) as f64).collect();
        let (mut rows_s, mut rows_a, mut deltas) = (Vec::new(), Vec::new(), Vec::new());
        for ((s, n), c) in states.iter().zip(next).zip(centres) {
            let d = delta(env, s, n);
            for &dx in &offsets {
                for &dy in &offsets {
                    rows_s.push(*s);
                    rows_a.push([(c[0] + dx).clamp(-1.0, 1.0), (c[1] + dy).clamp(-1.0, 1.0)]);
                    deltas.extend(d.map(|v| v as f32));
                }
            }
        }
        let codes = transition_codes(env, &rows_s, Some(&rows_a));
        let x = Tensor::from_slice(&deltas).view([-1, 4]);
        let energies = tch::no_grad(|| self.energy.energy(&x, Some(&codes))).to_kind(Kind::Double);
        let per_task = (GRID * GRID) as i64;
        let best = Vec::<i64>::try_from(energies.view([-1, per_task]).argmin(1, false)).unwrap_or_default();
        best.iter()
            .enumerate()
            .map(|(i, &k)| rows_a[i * per_task as usize + k as usize])
            .collect()
    }
}

impl InverseModel for EnergyInverse<'_> {
    fn actions(&self, env: Env, states: &[State], next: &[State]) -> Vec<Action> {
        let coarse = self.search(env, states, next, &vec![[0.0, 0.0]; states.len()], 1.0);
        self.search(env, states, next, &coarse, 0.1)
    }
}
