//! Recipes: what `ebm train <dataset>` trains — a data source, an
//! architecture and a [`TrainConfig`], each written as its differences from
//! the documented bases ([`TrainConfig::default`], the recipe functions in
//! `experiments`). The command line picks a recipe by name, applies the
//! user's [`Overrides`] once with [`Recipe::apply`], and hands it to the
//! trainer; nothing downstream re-derives a setting.

use super::TrainConfig;
use crate::data::mnist::{load_mnist, Split};
use crate::data::mnist_source::MnistData;
use crate::data::shapes::ShapesFilter;
use crate::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use crate::data::{DataSource, Toy2d, Toy2dKind};
use crate::energy::conv::SpatialPool;
use crate::energy::Architecture;
use crate::experiments::{igebm, shapes, toy2d};
use crate::sample::ChainStart;
use anyhow::{bail, Result};
use std::path::Path;

/// What a recipe trains on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dataset {
    Toy(Toy2dKind),
    /// One `shapes` concept model; chains start as `start` says.
    Shapes {
        concept: ShapesConcept,
        start: ChainStart,
    },
    /// The unconditional `shapes` model (`shapes-prior`): every scene, no code.
    ShapesPrior,
    /// MNIST, conditioned on the digit when `conditional`.
    Mnist {
        conditional: bool,
    },
    /// Offline transitions of a control environment; the energy reads the
    /// action too when `conditional`.
    Trajectories {
        env: crate::trajectories::Env,
        conditional: bool,
    },
}

/// A complete training setup.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// `eight-gaussians`, `shapes-color`, `mnist-cond`, …
    pub name: String,
    pub dataset: Dataset,
    pub architecture: Architecture,
    pub config: TrainConfig,
}

/// The recipes by name: every toy2d density, `shapes-<concept>`, and
/// `mnist` (unconditional, the OOD scorer), `mnist-cond` (pure CD on noisy
/// digits: the generator), `mnist-hybrid` (CD + cross-entropy on clean
/// digits: the classifier) — the three models of `ebm experiment igebm-mnist`.
pub fn recipe(name: &str, steps: u64, seed: u64) -> Result<Recipe> {
    let (dataset, architecture, config) = if name == "shapes-prior" {
        let mut architecture = shapes::concept_architecture(ShapesConcept::Color, &shapes::DEFAULT_WIDTHS, shapes::RECIPE_SPECTRAL_NORM);
        if let Architecture::Conv(conv) = &mut architecture {
            conv.code_dim = 0;
        }
        (Dataset::ShapesPrior, architecture, shapes::concept_config(steps, seed))
    } else if let Some(concept) = name.strip_prefix("shapes-") {
        let concept: ShapesConcept = concept.parse().map_err(anyhow::Error::msg)?;
        let start = shapes::RECIPE_CHAIN_START;
        let architecture = shapes::concept_architecture(concept, &shapes::DEFAULT_WIDTHS, shapes::RECIPE_SPECTRAL_NORM);
        (
            Dataset::Shapes { concept, start },
            architecture,
            shapes::concept_config(steps, seed),
        )
    } else if let Some(variant) = name.strip_prefix("mnist") {
        let (conditional, ce, noise) = match variant {
            "" => (false, 0.0, 0.0),
            "-cond" => (true, 0.0, igebm::DATA_NOISE),
            "-hybrid" => (true, igebm::HYBRID_CE_WEIGHT, 0.0),
            other => bail!("unknown MNIST recipe 'mnist{other}'; choose mnist, mnist-cond or mnist-hybrid"),
        };
        let config = TrainConfig {
            label_ce_weight: ce,
            data_noise: noise,
            ..igebm::mnist_config(steps, 32, 20, seed)
        };
        (Dataset::Mnist { conditional }, igebm::mnist_architecture(conditional), config)
    } else if let Some(rest) = name.strip_prefix("trajectories-") {
        let (env_name, conditional) = match rest.strip_suffix("-action") {
            Some(env) => (env, true),
            None => (rest, false),
        };
        let env: crate::trajectories::Env = env_name.parse().map_err(anyhow::Error::msg)?;
        let (architecture, config) = transition_recipe(env, conditional, steps, seed);
        (Dataset::Trajectories { env, conditional }, architecture, config)
    } else {
        let kind: Toy2dKind = name.parse().map_err(|e: String| {
            anyhow::anyhow!("unknown dataset '{name}'; choose shapes (with a concept), mnist, or a 2-D density: {e}")
        })?;
        (Dataset::Toy(kind), toy2d::toy_architecture(false), toy2d::toy_config(steps, seed))
    };
    Ok(Recipe {
        name: name.to_string(),
        dataset,
        architecture,
        config,
    })
}

/// A transition energy E(Δ | sₜ [, aₜ]): the MLP (3 × 128, spectral
/// norm, swish) with the state (and action) as its FiLM code, trained as the
/// 2-D toys are (batch 128, T = σ²/λ = 0.2 chains) over the scaled step.
fn transition_recipe(env: crate::trajectories::Env, conditional: bool, steps: u64, seed: u64) -> (Architecture, TrainConfig) {
    let schema = crate::trajectories::transitions::code_schema(env, conditional);
    let architecture = Architecture::Mlp(crate::energy::MlpConfig {
        input_dim: 4,
        hidden: vec![128, 128, 128],
        code_dim: schema.code_dim(),
        activation: crate::energy::Activation::Swish,
        spectral_norm: true,
        input_shape: vec![],
        noise_range: None,
        view: Default::default(),
    });
    let mut config = toy2d::toy_config(steps, seed);
    config.batch_size = 128;
    config.langevin.clamp = Some((-4.0, 4.0));
    (architecture, config)
}

/// Noise levels of denoising score matching for an MLP energy, in units of
/// its input (transitions: the scaled step, whose components span about ±1).
pub const MLP_SIGMA_RANGE: (f64, f64) = (0.03, 0.3);

/// The network a denoising objective trains: for an image network the
/// denoiser with its input and code; an MLP energy over noise levels.
fn denoiser_for(arch: &Architecture) -> Result<Architecture> {
    match arch {
        Architecture::Conv(conv) => Ok(Architecture::Denoiser(crate::energy::DenoiserConfig {
            channels: conv.channels,
            size: conv.size,
            code_dim: conv.code_dim,
            ..Default::default()
        })),
        Architecture::Denoiser(_) => Ok(arch.clone()),
        // An MLP energy keeps its network and is trained over noise levels.
        Architecture::Mlp(mlp) => Ok(Architecture::Mlp(crate::energy::MlpConfig {
            noise_range: Some(mlp.noise_range.unwrap_or(MLP_SIGMA_RANGE)),
            ..mlp.clone()
        })),
    }
}

/// A user's changes to a recipe; `None` keeps the recipe's value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub widths: Option<Vec<i64>>,
    pub pool: Option<SpatialPool>,
    pub spectral_norm: Option<bool>,
    /// Image models: the bilinear code read-out (see `ConvConfig::code_head`).
    pub code_head: Option<bool>,
    pub residual_gain: Option<f64>,
    pub init_gain: Option<f64>,
    pub readout: Option<crate::energy::Readout>,
    pub dense_head: Option<i64>,
    pub input_blur: Option<f64>,
    pub chain_start: Option<ChainStart>,
    pub step_size: Option<f64>,
    pub noise: Option<f64>,
    /// Per-element clip of the training chains' ∇ₓE; 0 turns it off.
    pub grad_clip: Option<f64>,
    pub langevin_steps: Option<usize>,
    pub lr: Option<f64>,
    pub adam_beta1: Option<f64>,
    pub batch_size: Option<usize>,
    pub energy_l2: Option<f64>,
    pub ema: Option<f64>,
    pub label_ce: Option<f64>,
    pub label_ce_temperature: Option<f64>,
    pub cd_weight: Option<f64>,
    pub supervised_warmup: Option<u64>,
    pub data_noise: Option<f64>,
    /// `TrainConfig::extra_object_weight`.
    pub extra_object: Option<f64>,
    /// `TrainConfig::adversarial_eps` and `adversarial_steps`.
    pub adversarial_eps: Option<f64>,
    pub adversarial_steps: Option<usize>,
    pub adversarial_ramp: Option<u64>,
    pub reuse: Option<f64>,
    /// The guard's collapse threshold on E(x⁻) − E(x⁺); 0 turns it off.
    pub max_gap: Option<f64>,
    pub checkpoint_every: Option<u64>,
    /// A denoising objective swaps the recipe's network for a
    /// [`DenoiserConfig`] with the same input and code.
    pub objective: Option<super::Objective>,
    pub sigma_power: Option<f64>,
    pub code_dropout: Option<f64>,
    /// Denoiser: first-level width, bottleneck size, noise range.
    pub denoiser_width: Option<i64>,
    pub latent: Option<i64>,
    pub sigma_range: Option<(f64, f64)>,
}

fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *slot = v.clone();
    }
}

impl Recipe {
    /// Applies `o`, refusing settings that do not fit the recipe, and
    /// validates the result.
    pub fn apply(&mut self, o: &Overrides) -> Result<()> {
        if let Some(objective) = o.objective {
            self.config.objective = objective;
            if objective != super::Objective::Cd {
                self.architecture = denoiser_for(&self.architecture)?;
            }
        }
        match &mut self.architecture {
            Architecture::Conv(conv) => {
                set(&mut conv.widths, &o.widths);
                set(&mut conv.pool, &o.pool);
                set(&mut conv.spectral_norm, &o.spectral_norm);
                set(&mut conv.code_head, &o.code_head);
                set(&mut conv.residual_gain, &o.residual_gain);
                set(&mut conv.init_gain, &o.init_gain);
                set(&mut conv.readout, &o.readout);
                set(&mut conv.dense_head, &o.dense_head);
                set(&mut conv.input_blur, &o.input_blur);
            }
            Architecture::Mlp(mlp) => {
                let image_only = [
                    o.widths.is_some(),
                    o.pool.is_some(),
                    o.code_head.is_some(),
                    o.residual_gain.is_some(),
                ];
                if image_only
                    .into_iter()
                    .chain([
                        o.init_gain.is_some(),
                        o.readout.is_some(),
                        o.dense_head.is_some(),
                        o.input_blur.is_some(),
                    ])
                    .any(|b| b)
                {
                    bail!("--widths, --pool, --code-head, --residual-gain, --init-gain, --readout, --dense-head and --input-blur apply to image models (shapes, mnist) only");
                }
                set(&mut mlp.spectral_norm, &o.spectral_norm);
                if o.denoiser_width.is_some() || o.latent.is_some() {
                    bail!("--denoiser-width and --latent shape an image denoiser; an MLP energy takes --sigma-range only");
                }
                match (&mut mlp.noise_range, o.sigma_range) {
                    (Some(range), Some(new)) => *range = new,
                    (None, Some(_)) => bail!("--sigma-range sets the noise levels of --objective dsm"),
                    _ => {}
                }
            }
            Architecture::Denoiser(denoiser) => {
                let conv_only = [
                    o.widths.is_some(),
                    o.pool.is_some(),
                    o.spectral_norm.is_some(),
                    o.code_head.is_some(),
                ];
                if conv_only
                    .into_iter()
                    .chain([o.readout.is_some(), o.dense_head.is_some()])
                    .any(|b| b)
                {
                    bail!("--widths, --pool, --spectral-norm, --code-head, --readout and --dense-head set the contrastive network; the denoiser takes --denoiser-width, --latent and --sigma-range");
                }
                set(&mut denoiser.width, &o.denoiser_width);
                set(&mut denoiser.latent, &o.latent);
                if let Some((lo, hi)) = o.sigma_range {
                    (denoiser.sigma_min, denoiser.sigma_max) = (lo, hi);
                }
            }
        }
        if matches!(self.architecture, Architecture::Conv(_))
            && (o.denoiser_width.is_some() || o.latent.is_some() || o.sigma_range.is_some())
        {
            bail!("--denoiser-width, --latent and --sigma-range shape the denoiser: add --objective denoise (or dsm)");
        }
        set(&mut self.config.sigma_power, &o.sigma_power);
        set(&mut self.config.code_dropout, &o.code_dropout);
        match (&mut self.dataset, o.chain_start) {
            (Dataset::Shapes { start, .. }, Some(s)) => *start = s,
            (_, Some(_)) => bail!("--chain-start applies to `shapes` concept models only"),
            _ => {}
        }
        let c = &mut self.config;
        set(&mut c.langevin.step_size, &o.step_size);
        set(&mut c.langevin.noise_std, &o.noise);
        if let Some(clip) = o.grad_clip {
            c.langevin.grad_clip = (clip > 0.0).then_some(clip);
        }
        set(&mut c.langevin.steps, &o.langevin_steps);
        set(&mut c.lr, &o.lr);
        set(&mut c.adam_beta1, &o.adam_beta1);
        set(&mut c.batch_size, &o.batch_size);
        set(&mut c.energy_l2, &o.energy_l2);
        set(&mut c.label_ce_weight, &o.label_ce);
        set(&mut c.label_ce_temperature, &o.label_ce_temperature);
        set(&mut c.cd_weight, &o.cd_weight);
        set(&mut c.supervised_warmup, &o.supervised_warmup);
        set(&mut c.data_noise, &o.data_noise);
        set(&mut c.extra_object_weight, &o.extra_object);
        set(&mut c.adversarial_eps, &o.adversarial_eps);
        set(&mut c.adversarial_steps, &o.adversarial_steps);
        set(&mut c.adversarial_ramp, &o.adversarial_ramp);
        set(&mut c.replay.reuse_prob, &o.reuse);
        set(&mut c.checkpoint_every, &o.checkpoint_every);
        if let Some(gap) = o.max_gap {
            c.guard.max_gap = (gap > 0.0).then_some(gap);
        }
        if o.ema.is_some() {
            c.ema_decay = o.ema;
        }
        if let Err(problem) = c.validate() {
            bail!("invalid training settings: {problem}");
        }
        if let Err(problem) = self.architecture.validate() {
            bail!("invalid architecture: {problem}");
        }
        Ok(())
    }

    /// The recipe's data (MNIST read from `mnist_dir`).
    pub fn data(&self, mnist_dir: &Path) -> Result<Box<dyn DataSource>> {
        let seed = self.config.seed;
        Ok(match self.dataset {
            Dataset::Toy(kind) => Box::new(Toy2d::new(kind, seed)),
            Dataset::Shapes { concept, start } => Box::new(ShapesConceptData::new(
                concept,
                shapes::IMAGE_SIZE as usize,
                seed,
                ShapesFilter::default(),
                start,
            )?),
            Dataset::ShapesPrior => Box::new(crate::data::Unconditional(ShapesConceptData::new(
                ShapesConcept::Color,
                shapes::IMAGE_SIZE as usize,
                seed,
                ShapesFilter::default(),
                shapes::RECIPE_CHAIN_START,
            )?)),
            Dataset::Mnist { conditional } => Box::new(MnistData::new(&load_mnist(mnist_dir, Split::Train)?, conditional, None, seed)?),
            Dataset::Trajectories { env, conditional } => {
                Box::new(crate::trajectories::transitions::Transitions::exploratory(env, conditional, seed))
            }
        })
    }
}
