//! Predictions of a transition energy: sₜ₊₁ drawn from p(· | sₜ [, aₜ]) by
//! Langevin dynamics over the scaled step, from the start noise of its card.

use super::env::{Env, State};
use super::transitions::{apply_delta, transition_codes};
use crate::energy::Energy;
use crate::sample::{langevin, InitNoise, LangevinConfig, LangevinOptions};
use tch::Kind;

/// One predicted next state per (state, action) row; `actions` only for an
/// action-conditional model.
pub fn predict_next(
    energy: &dyn Energy,
    env: Env,
    states: &[State],
    actions: Option<&[[f64; 2]]>,
    sampler: &LangevinConfig,
    init: &InitNoise,
) -> Vec<State> {
    let code = transition_codes(env, states, actions);
    let x0 = init.sample(&[states.len() as i64, 4]);
    let deltas = langevin(energy, &x0, Some(&code), sampler, &LangevinOptions::default()).x;
    let deltas = Vec::<Vec<f64>>::try_from(deltas.to_kind(Kind::Double)).unwrap_or_default();
    states
        .iter()
        .zip(&deltas)
        .map(|(s, d)| apply_delta(env, s, &[d[0], d[1], d[2], d[3]]))
        .collect()
}

/// Mean Euclidean distance between predicted and true states.
pub fn mean_error(predicted: &[State], truth: &[State]) -> f64 {
    let total: f64 = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| p.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt())
        .sum();
    total / predicted.len().max(1) as f64
}

/// One-step predictions on held-out exploratory episodes (a seed stream the
/// training data never uses).
pub struct OneStepCheck {
    pub transitions: usize,
    /// Mean ‖ŝₜ₊₁ − sₜ₊₁‖ of the model's predictions.
    pub model_error: f64,
    /// The same for "nothing moves", ŝₜ₊₁ = sₜ.
    pub copy_error: f64,
    /// The first held-out episode's positions, true and predicted one step ahead.
    pub true_path: Vec<[f64; 2]>,
    pub predicted_path: Vec<[f64; 2]>,
}

pub fn one_step_check(
    energy: &dyn Energy,
    env: Env,
    conditional: bool,
    sampler: &LangevinConfig,
    init: &InitNoise,
    seed: u64,
) -> OneStepCheck {
    let held_out = super::exploratory_episodes(env, 4, crate::seed::derive(seed, &[crate::seed::streams::EVAL_DATA]));
    let (mut states, mut actions, mut next) = (Vec::new(), Vec::new(), Vec::new());
    for e in &held_out {
        states.extend_from_slice(&e.states[..e.actions.len()]);
        actions.extend_from_slice(&e.actions);
        next.extend_from_slice(&e.states[1..]);
    }
    let predicted = predict_next(energy, env, &states, conditional.then_some(actions.as_slice()), sampler, init);
    let first = held_out[0].actions.len();
    OneStepCheck {
        transitions: states.len(),
        model_error: mean_error(&predicted, &next),
        copy_error: mean_error(&states, &next),
        true_path: next[..first].iter().map(|s| env.position(s)).collect(),
        predicted_path: predicted[..first].iter().map(|s| env.position(s)).collect(),
    }
}

/// Sampling for multi-step rollouts of a denoising-trained energy: `steps`
/// Langevin steps of λ 0.01 at `temperature` T (σ² = T·λ), so a prediction
/// is a draw from exp(−E/T); at T = 1 it keeps the spread the model gives
/// the transitions, as the Fréchet score asks.
pub fn rollout_sampler(temperature: f64, steps: usize) -> LangevinConfig {
    LangevinConfig {
        step_size: 0.01,
        noise_std: (0.01 * temperature).sqrt(),
        steps,
        grad_clip: None,
        clamp: Some((-4.0, 4.0)),
    }
}

/// A one-step model: next states from states (and actions, for
/// action-conditional models).
pub type Predictor<'a> = dyn FnMut(&[State], Option<&[super::Action]>) -> Vec<State> + 'a;

/// Multi-step rollouts scored as IGEBM does: every episode's start is run
/// forward `steps` times on the model's own predictions (`predict` maps
/// states, and for action-conditional models the episodes' actions at that
/// step, to next states), and at each step the Fréchet distance is taken
/// between the predicted and the true states across episodes.
pub fn rollout_frechet(episodes: &[super::Episode], steps: usize, conditional: bool, predict: &mut Predictor) -> Vec<f64> {
    let steps = steps.min(episodes.iter().map(|e| e.actions.len()).min().unwrap_or(0));
    let mut states: Vec<State> = episodes.iter().map(|e| e.states[0]).collect();
    let rows = |s: &[State]| s.iter().map(|v| v.to_vec()).collect::<Vec<_>>();
    (0..steps)
        .map(|t| {
            let actions: Vec<super::Action> = episodes.iter().map(|e| e.actions[t]).collect();
            states = predict(&states, conditional.then_some(actions.as_slice()));
            let truth: Vec<State> = episodes.iter().map(|e| e.states[t + 1]).collect();
            crate::judge::frechet::frechet_distance(&rows(&states), &rows(&truth))
        })
        .collect()
}
