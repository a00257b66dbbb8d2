//! Argument groups that several commands share, each turned into the
//! library's plain settings value.

use ebm::compose::algebra::{DEFAULT_ALPHA, DEFAULT_TEMPERATURE};
use ebm::compose::Settings;
use ebm::sample::{LangevinConfig, LangevinOverrides, SamplerConfig, SamplerKind};

/// Changes to a model card's sampler; an absent flag keeps the card's value.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LangevinArgs {
    /// Sampler steps (default: 200 for 2-D models, 30 for images).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Langevin step size λ (default: the model card's).
    #[arg(long)]
    pub step_size: Option<f64>,
    /// Langevin noise std σ (default: the model card's).
    #[arg(long)]
    pub noise: Option<f64>,
    /// Per-pixel clip of ∇ₓE before each step; 0 turns it off (default: the card's).
    #[arg(long)]
    pub grad_clip: Option<f64>,
}

impl LangevinArgs {
    pub fn overrides(&self) -> LangevinOverrides {
        LangevinOverrides {
            steps: self.steps,
            step_size: self.step_size,
            noise: self.noise,
            grad_clip: self.grad_clip,
        }
    }
}

/// Weights of the composition operators.
#[derive(Clone, Debug, clap::Args)]
pub struct OperatorArgs {
    /// α of NOT (E_pos − α·E_neg).
    #[arg(long, default_value_t = DEFAULT_ALPHA)]
    pub alpha: f64,
    /// Temperature T of OR (−T·logsumexp(−E/T)).
    #[arg(long, default_value_t = DEFAULT_TEMPERATURE)]
    pub temperature: f64,
    /// Accept continuous values outside the range each model was trained on.
    #[arg(long)]
    pub allow_extrapolation: bool,
    /// How a top-level OR is sampled: ancestral (each chain draws a branch
    /// with equal probability and samples it alone: the exact mixture when
    /// the branches' normalisers are equal) or energy (Langevin on the
    /// soft-min, the paper's; it sent every chain to one branch here).
    #[arg(long, default_value = "ancestral")]
    pub or_sampling: ebm::compose::mixture::OrSampling,
    /// Which models join an expression that omits their concept, each under
    /// a random code per chain (its concept marginalised): auto (the models
    /// trained together as a product, whose cards say so), on (every model
    /// given) or off (only the models the expression names).
    #[arg(long, default_value = "auto")]
    pub marginalise: ebm::compose::marginal::Marginalise,
}

impl OperatorArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            alpha: self.alpha,
            temperature: self.temperature,
            allow_extrapolation: self.allow_extrapolation,
        }
    }
}

/// Which sampler draws the samples. Without `--sampler` (and without
/// `--anneal`) the card's unadjusted Langevin runs as trained.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SamplerArgs {
    /// ula, mala or hmc: the card's Langevin move as a proper sampler of
    /// exp(−E/T) with T = σ²/λ (λ = σ²), Metropolis-corrected for mala and hmc.
    #[arg(long)]
    pub sampler: Option<SamplerKind>,
    /// HMC: leapfrog steps per proposal.
    #[arg(long, default_value_t = 5)]
    pub leapfrog: usize,
    /// HMC: partial momentum refresh ρ (1: a fresh momentum every proposal).
    #[arg(long, default_value_t = 1.0)]
    pub momentum_refresh: f64,
    /// Adapt the step towards this mean acceptance during --warmup (dual averaging), then freeze it.
    #[arg(long)]
    pub target_accept: Option<f64>,
    /// Warm-up steps (adaptation only; left out of the statistics). Default: a third of the steps when adapting.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Target temperature T (default: the card's σ²/λ).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Anneal: start at this many times the target temperature and cool
    /// geometrically over --anneal-levels levels, splitting the steps evenly.
    #[arg(long)]
    pub anneal: Option<f64>,
    #[arg(long, default_value_t = 5)]
    pub anneal_levels: usize,
}

impl SamplerArgs {
    /// The sampler for a card's Langevin settings, or None for the card's own chain.
    pub fn config(&self, langevin: &LangevinConfig) -> anyhow::Result<Option<SamplerConfig>> {
        let kind = match (self.sampler, self.anneal) {
            (None, None) => return Ok(None),
            (kind, _) => kind.unwrap_or(SamplerKind::Ula),
        };
        let mut config = SamplerConfig::from_langevin(kind, langevin);
        config.leapfrog_steps = self.leapfrog;
        config.momentum_refresh = self.momentum_refresh;
        config.target_accept = self.target_accept;
        config.warmup = self
            .warmup
            .unwrap_or(if self.target_accept.is_some() { config.steps / 3 } else { 0 });
        if let Some(t) = self.temperature {
            config.temperature = t;
        }
        if let Some(factor) = self.anneal {
            if !(factor >= 1.0 && factor.is_finite()) || self.anneal_levels < 2 {
                anyhow::bail!("--anneal takes a start factor ≥ 1 and --anneal-levels at least 2");
            }
        }
        config.validate().map_err(|e| anyhow::anyhow!("invalid sampler settings: {e}"))?;
        Ok(Some(config))
    }
}

/// How models trained over noise levels (--objective denoise/dsm) are
/// annealed from σ_max down; the Langevin flags do not apply to them.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NoiseArgs {
    /// Levels from σ_max to σ_min, geometric (default 12).
    #[arg(long)]
    pub noise_levels: Option<usize>,
    /// Sampler steps per level (default 20).
    #[arg(long)]
    pub steps_per_level: Option<usize>,
    /// λ = scale·σ² at each level (default 0.4).
    #[arg(long)]
    pub level_step_scale: Option<f64>,
    /// The sampler at each level: ula (default), mala or hmc.
    #[arg(long)]
    pub level_sampler: Option<SamplerKind>,
    /// T at every level: exp(−E_σ/T) (default 1).
    #[arg(long)]
    pub level_temperature: Option<f64>,
    /// What chains follow at each level: exact (∇ₓE_σ, default) or tweedie
    /// (each denoiser's score (D − x)/σ², without D's Jacobian).
    #[arg(long)]
    pub level_gradient: Option<ebm::energy::LevelGradient>,
    /// Enter each noise level by a probability-flow (DDIM) Euler step from
    /// the level before, then run the level's sampler.
    #[arg(long)]
    pub level_predictor: bool,
}

impl NoiseArgs {
    pub fn annealing(&self) -> anyhow::Result<ebm::sample::NoiseAnnealing> {
        let base = ebm::sample::NoiseAnnealing::default();
        let annealing = ebm::sample::NoiseAnnealing {
            levels: self.noise_levels.unwrap_or(base.levels),
            steps_per_level: self.steps_per_level.unwrap_or(base.steps_per_level),
            step_scale: self.level_step_scale.unwrap_or(base.step_scale),
            kind: self.level_sampler.unwrap_or(base.kind),
            temperature: self.level_temperature.unwrap_or(base.temperature),
            gradient: self.level_gradient.unwrap_or(base.gradient),
            predictor: self.level_predictor || base.predictor,
            ..base
        };
        annealing
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid annealing settings: {e}"))?;
        Ok(annealing)
    }
}
