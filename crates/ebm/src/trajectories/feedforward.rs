//! The feed-forward baseline of IGEBM's trajectory experiments: a
//! deterministic dynamics model Δ̂ = f(sₜ [, aₜ]) over the same scaled step
//! and codes as the transition energies, 3 × 128 swish units with spectral
//! norm, trained by mean squared error on the same transitions.

use super::env::{Action, Env, State};
use super::transitions::{apply_deltas, encode_codes, transition_codes, Transitions};
use crate::data::DataSource;
use crate::energy::layers::{Activation, Dense};
use tch::nn::{Adam, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

/// Documented defaults: [`FeedForwardConfig::default`].
#[derive(Clone, Debug, PartialEq)]
pub struct FeedForwardConfig {
    pub hidden: Vec<i64>,
    pub spectral_norm: bool,
    pub steps: u64,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
}

/// IGEBM's baseline: 3 × 128 with spectral norm; 5000 Adam steps of 128
/// transitions at lr 1e-3 (its loss has flattened by then on all three
/// environments' offline data).
impl Default for FeedForwardConfig {
    fn default() -> Self {
        Self {
            hidden: vec![128, 128, 128],
            spectral_norm: true,
            steps: 5000,
            batch_size: 128,
            lr: 1e-3,
            seed: 0,
        }
    }
}

pub struct FeedForward {
    pub env: Env,
    pub conditional: bool,
    vs: VarStore,
    hidden: Vec<Dense>,
    head: Dense,
}

impl FeedForward {
    pub fn new(env: Env, conditional: bool, config: &FeedForwardConfig) -> Self {
        tch::manual_seed(config.seed as i64);
        let vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let mut width = if conditional { 6 } else { 4 };
        let mut hidden = Vec::new();
        for (i, &w) in config.hidden.iter().enumerate() {
            hidden.push(Dense::new(&(&root / format!("hidden{i}")), width, w, config.spectral_norm, 1.0));
            width = w;
        }
        let head = Dense::new(&(&root / "head"), width, 4, false, 1.0);
        Self {
            env,
            conditional,
            vs,
            hidden,
            head,
        }
    }

    /// Predicted scaled steps `[N, 4]` from codes `[N, 4 or 6]` (see
    /// [`encode_codes`]).
    pub fn deltas(&self, codes: &Tensor) -> Tensor {
        let mut h = codes.to_kind(Kind::Float);
        for layer in &self.hidden {
            h = Activation::Swish.apply(&layer.forward(&h));
        }
        self.head.forward(&h)
    }

    /// Next states `[N, 4]` (f64) from states `[N, 4]` and, for the
    /// action-conditional model, actions `[N, 2]`.
    pub fn next_states(&self, states: &Tensor, actions: Option<&Tensor>) -> Tensor {
        let codes = encode_codes(self.env, states, actions.filter(|_| self.conditional));
        let deltas = tch::no_grad(|| self.deltas(&codes)).to_kind(Kind::Double);
        apply_deltas(self.env, &states.to_kind(Kind::Double), &deltas)
    }

    /// One predicted next state per row.
    pub fn predict_next(&self, states: &[State], actions: Option<&[Action]>) -> Vec<State> {
        let codes = transition_codes(self.env, states, actions.filter(|_| self.conditional));
        let deltas = tch::no_grad(|| self.deltas(&codes)).to_kind(Kind::Double);
        let deltas = Vec::<Vec<f64>>::try_from(deltas).unwrap_or_default();
        states
            .iter()
            .zip(&deltas)
            .map(|(s, d)| super::transitions::apply_delta(self.env, s, &[d[0], d[1], d[2], d[3]]))
            .collect()
    }

    /// Trains on `data` by mean squared error of the scaled step; returns
    /// the loss of the last 100 steps' average.
    pub fn fit(&mut self, data: &Transitions, config: &FeedForwardConfig) -> anyhow::Result<f64> {
        let mut optimizer = Adam::default().build(&self.vs, config.lr)?;
        let mut recent = Vec::new();
        for step in 0..config.steps {
            for layer in &self.hidden {
                layer.weight.power_iteration();
            }
            let batch = data.batch(step, config.batch_size);
            let code = batch.code.as_ref().expect("transitions carry codes");
            let loss = (self.deltas(code) - &batch.x).square().mean(Kind::Float);
            optimizer.backward_step(&loss);
            recent.push(loss.double_value(&[]));
            if recent.len() > 100 {
                recent.remove(0);
            }
        }
        let mean = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
        anyhow::ensure!(mean.is_finite(), "the feed-forward baseline diverged (loss {mean})");
        Ok(mean)
    }
}
