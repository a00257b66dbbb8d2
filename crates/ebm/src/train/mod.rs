//! Contrastive-divergence training with a replay buffer, a divergence guard,
//! checkpoints and exact resume.

pub mod adam;
pub mod adversarial;
pub mod denoising;
pub mod gradients;
pub mod guard;
pub mod label_ce;
pub mod metrics;
pub mod product;
pub mod recipe;
pub mod state;
pub mod trainer;

pub use adam::Adam;
pub use denoising::Objective;
pub use guard::GuardConfig;
pub use metrics::StepMetrics;
pub use trainer::{TrainSummary, Trainer};

use crate::sample::{LangevinConfig, ReplayConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// What the loss is: contrastive divergence (the default) or one of
    /// the denoising objectives of [`denoising`] (no chain, no buffer).
    #[serde(default)]
    pub objective: Objective,
    /// Denoising objectives: a noise level's loss is weighted by σ^power.
    #[serde(default = "default_sigma_power")]
    pub sigma_power: f64,
    /// Denoising objectives: the fraction of examples trained under the
    /// null code (all zeros), so the same network is also the unconditional
    /// denoiser that guidance composes against (0: none).
    #[serde(default)]
    pub code_dropout: f64,
    pub steps: u64,
    pub batch_size: usize,
    pub lr: f64,
    /// Adam β1; the IGEBM recipe uses 0 (no momentum: the negatives move).
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    /// α in the loss mean E⁺ − mean E⁻ + α(mean E⁺² + mean E⁻²).
    pub energy_l2: f64,
    /// Weight of an optional supervised term, not part of IGEBM: the
    /// cross-entropy of the logits −E(x⁺ | k) over every category k of a
    /// categorical concept (as in JEM), or, for a continuous concept, over the
    /// positive's own code and `label_ce::CONTRASTED_CODES` − 1 random codes
    /// (a contrastive analogue). It teaches the code's distinction directly
    /// and makes energies comparable across codes. 0 (the default) is pure
    /// contrastive divergence.
    #[serde(default)]
    pub label_ce_weight: f64,
    /// Temperature T of that term's logits −E/T (1: JEM's). A CD energy's
    /// differences between codes sit at its own scale (≈ 0.01 for the shapes
    /// recipe), so at T = 1 the term asks for gaps ~100× larger and its
    /// pull on E(x⁺) collapsed the colour model's chains in 14 steps.
    #[serde(default = "unit_weight")]
    pub label_ce_temperature: f64,
    /// Weight of the contrastive-divergence term mean E⁺ − mean E⁻ (1: IGEBM).
    /// 0 with `label_ce_weight` > 0 trains the code distinction alone — a
    /// diagnostic of whether the architecture can learn it at all.
    #[serde(default = "unit_weight")]
    pub cd_weight: f64,
    /// Train the cross-entropy term alone (no sampling chain, no CD term)
    /// for this many first steps. With a discriminative read-out this is
    /// classifier pre-training of the trunk, ~5× cheaper a step than CD;
    /// a shape model's cross-entropy sat at ln 3 for ~200 steps from scratch.
    #[serde(default)]
    pub supervised_warmup: u64,
    /// Std of Gaussian noise added to the positives at every step (then
    /// clamped to the sampler's box), as JEM does: it smooths the data
    /// distribution, so short chains from noise find digits rather than
    /// high-frequency textures. 0 (the default) trains on the data as is.
    #[serde(default)]
    pub data_noise: f64,
    /// L∞ radius of a projected-gradient attack on the code cross-entropy
    /// (`label_ce_weight`): the term is taken at the worst image within
    /// this distance of each positive (adversarial training, Madry et al.).
    /// A plain classifier's ∇ₓ is an adversarial direction — chains under a
    /// shape posterior drew saturated stripes — while a robust classifier's
    /// input gradient follows what tells the classes apart (Santurkar et al.
    /// 2019), which is what a concept term composed with scene models must
    /// supply. 0 (the default): off.
    #[serde(default)]
    pub adversarial_eps: f64,
    /// Steps of that attack (each of size 2.5·eps/steps).
    #[serde(default = "default_adversarial_steps")]
    pub adversarial_steps: usize,
    /// The radius grows linearly from 0 to `adversarial_eps` over this many
    /// first steps: at the full radius from the start, a shape posterior's
    /// cross-entropy stayed at ln 3 for 1100 steps.
    #[serde(default)]
    pub adversarial_ramp: u64,
    /// Weight of a ranking term against scenes the data never holds (issue
    /// #14): each positive with a second object added (the source's
    /// `extra_object_negatives`), under the positive's own code, with loss
    /// softplus(E(x⁺ | c) − E(x⁺ + object | c)). Concept models trained
    /// alone never saw a negative with two objects, so under AND each drew
    /// its own object; this makes every model object to a second one. The
    /// logistic form saturates once the extra object costs a few units, so
    /// it cannot run the negatives' energies away. 0 (the default): off.
    #[serde(default)]
    pub extra_object_weight: f64,
    /// Clip the global gradient norm to this value.
    pub grad_clip_norm: Option<f64>,
    /// Keep an exponential moving average of the weights with this decay;
    /// checkpoints then hold the averaged weights.
    pub ema_decay: Option<f64>,
    pub langevin: LangevinConfig,
    pub replay: ReplayConfig,
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Write a metrics line every this many steps.
    pub log_every: u64,
    pub guard: GuardConfig,
}

fn unit_weight() -> f64 {
    1.0
}

fn default_adversarial_steps() -> usize {
    3
}

fn default_sigma_power() -> f64 {
    denoising::DEFAULT_SIGMA_POWER
}

/// The base every recipe changes (IGEBM's choices where they apply): batch
/// 32, contrastive divergence, Adam(β1 0, β2 0.999) at lr 1e-3, L2 energy regulariser α 0.1,
/// pure contrastive divergence (no cross-entropy, no data noise), global
/// gradient-norm clip 10, no weight average, the image sampler of
/// [`LangevinConfig::default`], IGEBM's replay buffer (10 000, reuse 0.95),
/// seed 0, a checkpoint every 500 steps, metrics every 10. Recipes
/// (`experiments::toy2d::toy_config`, `experiments::shapes::concept_config`,
/// `experiments::igebm::mnist_config`) are written as their differences from it.
impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            objective: Objective::Cd,
            sigma_power: denoising::DEFAULT_SIGMA_POWER,
            code_dropout: 0.0,
            steps: 2000,
            batch_size: 32,
            lr: 1e-3,
            adam_beta1: 0.0,
            adam_beta2: 0.999,
            energy_l2: 0.1,
            label_ce_weight: 0.0,
            label_ce_temperature: 1.0,
            cd_weight: 1.0,
            supervised_warmup: 0,
            data_noise: 0.0,
            extra_object_weight: 0.0,
            adversarial_eps: 0.0,
            adversarial_steps: default_adversarial_steps(),
            adversarial_ramp: 0,
            grad_clip_norm: Some(10.0),
            ema_decay: None,
            langevin: LangevinConfig::default(),
            replay: ReplayConfig::default(),
            seed: 0,
            checkpoint_every: 500,
            log_every: 10,
            guard: GuardConfig::default(),
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (self.batch_size > 0, "batch_size must be ≥ 1"),
            (self.lr > 0.0 && self.lr.is_finite(), "lr must be a positive number"),
            ((0.0..1.0).contains(&self.adam_beta1), "adam_beta1 must be in [0, 1)"),
            ((0.0..1.0).contains(&self.adam_beta2), "adam_beta2 must be in [0, 1)"),
            (self.energy_l2 >= 0.0, "energy_l2 must be ≥ 0"),
            (
                self.cd_weight >= 0.0 && self.cd_weight.is_finite(),
                "cd_weight must be a number ≥ 0",
            ),
            (
                self.data_noise >= 0.0 && self.data_noise.is_finite(),
                "data_noise must be a number ≥ 0",
            ),
            (
                self.extra_object_weight >= 0.0 && self.extra_object_weight.is_finite(),
                "extra_object_weight must be a number ≥ 0",
            ),
            (
                (0.0..=1.0).contains(&self.adversarial_eps),
                "adversarial_eps is an L∞ radius in image units: a number in [0, 1]",
            ),
            (
                self.adversarial_eps == 0.0 || (self.label_ce_weight > 0.0 && self.adversarial_steps > 0),
                "adversarial_eps attacks the label cross-entropy: set label_ce_weight > 0 (--label-ce) and adversarial_steps ≥ 1",
            ),
            (
                self.label_ce_weight >= 0.0 && self.label_ce_weight.is_finite(),
                "label_ce_weight must be a number ≥ 0",
            ),
            (
                self.label_ce_temperature > 0.0 && self.label_ce_temperature.is_finite(),
                "label_ce_temperature must be a number > 0",
            ),
            (
                self.supervised_warmup == 0 || self.label_ce_weight > 0.0,
                "supervised_warmup trains the label cross-entropy alone: set label_ce_weight > 0 (--label-ce)",
            ),
            (
                self.langevin.step_size > 0.0 && self.langevin.step_size.is_finite(),
                "the Langevin step size must be a positive number",
            ),
            (self.langevin.noise_std >= 0.0, "the Langevin noise std must be ≥ 0"),
            (self.replay.capacity > 0, "the replay buffer capacity must be ≥ 1"),
            ((0.0..=1.0).contains(&self.replay.reuse_prob), "reuse_prob must be in [0, 1]"),
            (
                self.ema_decay.is_none_or(|d| (0.0..1.0).contains(&d)),
                "ema_decay must be in [0, 1)",
            ),
            (self.log_every > 0, "log_every must be ≥ 1"),
            (self.sigma_power.is_finite(), "sigma_power must be a number"),
            ((0.0..1.0).contains(&self.code_dropout), "code_dropout must be in [0, 1)"),
            (
                self.code_dropout == 0.0 || self.objective != Objective::Cd,
                "code_dropout applies to the denoising objectives (--objective denoise or dsm)",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err(msg.to_string()),
            None => Ok(()),
        }
    }
}
