//! Offline transitions as training data for transition energies.
//!
//! A transition energy is written E(Δ | sₜ) — or E(Δ | sₜ, aₜ) for the
//! action-conditional one — over the scaled step Δ = (sₜ₊₁ − sₜ)/[`DELTA_SCALE`]
//! (angles' differences wrapped), with the state (and action) as the code. That
//! is E(sₜ, sₜ₊₁) with sₜ given, and it lets the project's trainer, whose
//! chains move x and keep the code fixed, draw its negatives from p(sₜ₊₁ | sₜ)
//! exactly as CD needs.

use super::env::{wrap, Env, State};
use super::{exploratory_episodes, Episode};
use crate::data::{Batch, DataSource};
use crate::energy::{ConceptKind, ConceptSchema};
use crate::sample::InitNoise;
use rand::Rng;
use tch::Tensor;

/// A step moves positions by at most 0.1 (|v′| ≤ 1) and changes velocities
/// by at most about 0.2 (particle) or 0.4 (reacher): ×10 puts Δ near unit scale.
pub const DELTA_SCALE: f64 = 0.1;

/// Episodes of the exploratory policy a transition model trains on.
pub const OFFLINE_EPISODES: usize = 200;

pub struct Transitions {
    pub env: Env,
    pub conditional: bool,
    seed: u64,
    /// `[N, 4]` states sₜ.
    states: Vec<State>,
    /// `[N, 4]` scaled steps.
    deltas: Vec<[f64; 4]>,
    actions: Vec<[f64; 2]>,
}

/// The scaled step from `s` to `next` (angles wrapped for the reacher).
pub fn delta(env: Env, s: &State, next: &State) -> [f64; 4] {
    let mut d = [0.0; 4];
    for i in 0..4 {
        let raw = next[i] - s[i];
        d[i] = if env == Env::Reacher && i < 2 { wrap(raw) } else { raw } / DELTA_SCALE;
    }
    d
}

/// The state reached by the scaled step `d` from `s`.
pub fn apply_delta(env: Env, s: &State, d: &[f64; 4]) -> State {
    let mut next = [0.0; 4];
    for i in 0..4 {
        let raw = s[i] + d[i] * DELTA_SCALE;
        next[i] = if env == Env::Reacher && i < 2 { wrap(raw) } else { raw };
    }
    next
}

/// What the code of a transition model holds: the state, then the action.
pub fn code_schema(env: Env, conditional: bool) -> ConceptSchema {
    let mut components: Vec<String> = ["s0", "s1", "s2", "s3"].map(String::from).to_vec();
    if conditional {
        components.extend(["a0".to_string(), "a1".to_string()]);
    }
    // One range for every component: the angles' for the reacher, the box's otherwise.
    let range = match env {
        Env::Reacher => (-std::f64::consts::PI, std::f64::consts::PI),
        Env::Particle | Env::Maze => (-1.0, 1.0),
    };
    ConceptSchema {
        name: if conditional { "state-action" } else { "state" }.into(),
        kind: ConceptKind::Continuous { components, range },
    }
}

/// Codes `[B, C]` of a transition model for states (and actions, clipped as
/// the environment clips them), as the model reads them.
pub fn transition_codes(env: Env, states: &[State], actions: Option<&[[f64; 2]]>) -> Tensor {
    let rows = |values: Vec<f64>, width: i64| Tensor::from_slice(&values).view([-1, width]);
    let states = rows(states.iter().flatten().copied().collect(), 4);
    let actions = actions.map(|a| rows(a.iter().flatten().copied().collect(), 2));
    encode_codes(env, &states, actions.as_ref()).to_kind(tch::Kind::Float)
}

/// [`transition_codes`] on tensors — `states: [N, 4]`, `actions: [N, 2]` —
/// differentiably and in their kind: the schema's linear map of its range
/// onto [−1, 1], the actions clipped to [−1, 1] first.
pub fn encode_codes(env: Env, states: &Tensor, actions: Option<&Tensor>) -> Tensor {
    let (lo, hi) = match code_schema(env, false).kind {
        ConceptKind::Continuous { range, .. } => range,
        ConceptKind::Categorical { .. } => unreachable!("transition codes are continuous"),
    };
    let encode = |t: &Tensor| (t - lo) * (2.0 / (hi - lo)) - 1.0;
    match actions {
        Some(a) => Tensor::cat(&[encode(states), encode(&a.clamp(-1.0, 1.0))], 1),
        None => encode(states),
    }
}

/// [`apply_delta`] on tensors: `states: [N, 4]` moved by scaled steps `[N, 4]`.
pub fn apply_deltas(env: Env, states: &Tensor, deltas: &Tensor) -> Tensor {
    let next = states + deltas * DELTA_SCALE;
    match env {
        Env::Reacher => {
            let pi = std::f64::consts::PI;
            // wrap into (−π, π] as `env::wrap` does: π − (π − θ) mod 2π.
            let angles = (next.narrow(1, 0, 2) * -1.0 + pi).remainder(2.0 * pi) * -1.0 + pi;
            Tensor::cat(&[angles, next.narrow(1, 2, 2)], 1)
        }
        Env::Particle | Env::Maze => next,
    }
}

impl Transitions {
    /// Every transition of `episodes`.
    pub fn from_episodes(env: Env, episodes: &[Episode], conditional: bool, seed: u64) -> Self {
        let mut data = Transitions {
            env,
            conditional,
            seed,
            states: Vec::new(),
            deltas: Vec::new(),
            actions: Vec::new(),
        };
        for e in episodes {
            for (t, a) in e.actions.iter().enumerate() {
                let (s, next) = (&e.states[t], &e.states[t + 1]);
                data.states.push(*s);
                data.deltas.push(delta(env, s, next));
                data.actions.push(a.map(|v| v.clamp(-1.0, 1.0)));
            }
        }
        data
    }

    /// The offline data: [`OFFLINE_EPISODES`] exploratory episodes.
    pub fn exploratory(env: Env, conditional: bool, seed: u64) -> Self {
        Self::from_episodes(env, &exploratory_episodes(env, OFFLINE_EPISODES, seed), conditional, seed)
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

impl DataSource for Transitions {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        let mut rng = crate::seed::rng_at(self.seed, &[crate::seed::streams::TRANSITION_BATCH, step]);
        let picks: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..self.len())).collect();
        let x: Vec<f32> = picks.iter().flat_map(|&i| self.deltas[i].map(|v| v as f32)).collect();
        let states: Vec<State> = picks.iter().map(|&i| self.states[i]).collect();
        let actions: Vec<[f64; 2]> = picks.iter().map(|&i| self.actions[i]).collect();
        Batch {
            x: Tensor::from_slice(&x).view([batch_size as i64, 4]),
            code: Some(transition_codes(self.env, &states, self.conditional.then_some(actions.as_slice()))),
        }
    }

    fn example_shape(&self) -> Vec<i64> {
        vec![4]
    }

    fn concept(&self) -> Option<ConceptSchema> {
        Some(code_schema(self.env, self.conditional))
    }

    fn init_noise(&self) -> InitNoise {
        InitNoise::uniform(-2.0, 2.0)
    }

    fn describe(&self) -> serde_json::Value {
        let mut description = serde_json::json!({
            "dataset": "trajectories",
            "env": self.env.name(),
            "conditional": self.conditional,
            "episodes": OFFLINE_EPISODES,
            "transitions": self.len(),
            "policy": "exploratory (AR(1) actions, persistence 0.8)",
            "delta_scale": DELTA_SCALE,
            "seed": self.seed,
        });
        if self.env == Env::Maze {
            // Named only where it differs from the tasks' starts, so the other
            // environments' descriptions (and their resumes) stay as they were.
            description["starts"] = "free space, uniform".into();
        }
        description
    }
}
