//! A β-VAE (Higgins et al. 2017), the disentanglement baseline beside COMET:
//! a Gaussian encoder q(z|x), a Bernoulli decoder p(x|z), trained on
//! recon + β·KL(q(z|x) ‖ N(0, I)); β > 1 presses the latents towards
//! independent factors at some cost in reconstruction.
//!
//! Every random number (initial weights, reparameterisation noise) comes
//! from ChaCha streams below `config.seed`, not libtorch's global generator,
//! so a run is reproducible even while other threads draw from libtorch.

use crate::checkpoint::{check_card_header, copy_checked, FORMAT_VERSION};
use crate::energy::layers::{Conv3, Dense};
use crate::energy::network::{named_parameters, named_variables};
use crate::io::{read_tensor_file, write_tensor_file};
use crate::train::adam::Adam;
use anyhow::{anyhow, bail, Context, Result};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn::VarStore, Device, Kind, Reduction, Tensor};

const BETA_VAE_KIND: &str = "ebm-beta-vae";
/// Streams below `config.seed` (see [`crate::seed`]): initial weights, and
/// the noise of training step `s` at `[NOISE_STREAM, s]`.
const INIT_STREAM: u64 = 0x4256_494E;
const NOISE_STREAM: u64 = 0x4256_4E5A;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BetaVaeConfig {
    pub channels: i64,
    /// Image side; must halve exactly once per width.
    pub size: i64,
    /// One stride-2 3×3 conv (+ ReLU) per width in the encoder, mirrored by
    /// an upsample ×2 + 3×3 conv per width in the decoder.
    pub widths: Vec<i64>,
    pub latent: i64,
    /// Weight of the KL term; 1 is a plain VAE.
    pub beta: f64,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub steps: u64,
    pub seed: u64,
}

impl Default for BetaVaeConfig {
    /// A base for 3×32×32 images: three stride-2 stages (32 → 4), 10 latents
    /// (the paper's dSprites count), β = 4 (its usual choice), Adam at 1e-3.
    fn default() -> Self {
        Self {
            channels: 3,
            size: 32,
            widths: vec![32, 64, 128],
            latent: 10,
            beta: 4.0,
            learning_rate: 1e-3,
            batch_size: 64,
            steps: 20_000,
            seed: 0,
        }
    }
}

impl BetaVaeConfig {
    /// Names the first bad field and how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        let halvings = 1i64 << self.widths.len().min(62);
        let size_fix = format!("use a multiple of {halvings} (one halving per width)");
        let bad_beta = !(self.beta >= 0.0 && self.beta.is_finite());
        let bad_rate = !(self.learning_rate > 0.0 && self.learning_rate.is_finite());
        let checks = [
            (self.channels < 1, "channels", "give the channel count, 3 for RGB"),
            (self.widths.is_empty(), "widths", "give one per stage, e.g. [32, 64, 128]"),
            (self.widths.iter().any(|&w| w < 1), "widths", "make each at least 1"),
            (self.size < 1 || self.size % halvings != 0, "size", &size_fix),
            (self.latent < 1, "latent", "give at least 1 dimension"),
            (bad_beta, "beta", "give a finite β ≥ 0 (1 is a plain VAE)"),
            (bad_rate, "learning_rate", "give a finite rate > 0, e.g. 1e-3"),
            (self.batch_size < 1, "batch_size", "give at least 1"),
            (self.steps < 1, "steps", "give at least 1"),
        ];
        let fields = serde_json::to_value(self).expect("a config serialises");
        match checks.iter().find(|(bad, ..)| *bad) {
            Some((_, field, fix)) => Err(format!("{field} is {}: {fix}", fields[field])),
            None => Ok(()),
        }
    }

    /// Side of the smallest feature map.
    fn bottom(&self) -> i64 {
        self.size >> self.widths.len()
    }
}

/// What a β-VAE's checkpoint says about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BetaVaeCard {
    pub kind: String,
    pub format_version: u32,
    pub written_by: String,
    pub config: BetaVaeConfig,
    pub data: serde_json::Value,
    pub metrics: serde_json::Value,
}

pub struct BetaVae {
    pub config: BetaVaeConfig,
    pub vs: VarStore,
    down: Vec<Conv3>,
    mu: Dense,
    logvar: Dense,
    expand: Dense,
    up: Vec<Conv3>,
}

/// Redraws a weight as `Init::Randn` would (std gain/√fan_in), from `rng`.
fn redraw(weight: &Tensor, gain: f64, rng: &mut impl Rng) {
    let size = weight.size();
    let std = gain / (size[1..].iter().product::<i64>() as f64).sqrt();
    let values: Vec<f32> = (0..weight.numel())
        .map(|_| (rng.sample::<f64, _>(StandardNormal) * std) as f32)
        .collect();
    let values = Tensor::from_slice(&values).view(size.as_slice()).to_device(weight.device());
    tch::no_grad(|| weight.shallow_clone().copy_(&values));
}

/// KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²), summed over the
/// latent and averaged over the batch.
pub fn kl_divergence(mu: &Tensor, logvar: &Tensor) -> Tensor {
    let per_row = (mu.square() + logvar.exp() - 1.0 - logvar).sum_dim_intlist(-1, false, Kind::Float) * 0.5;
    per_row.mean(Kind::Float)
}

impl BetaVae {
    /// A fresh model on `device`, initialised from `config.seed`.
    pub fn new(config: BetaVaeConfig, device: Device) -> Result<Self> {
        config.validate().map_err(|e| anyhow!("β-VAE config is invalid: {e}"))?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let mut rng = crate::seed::rng_at(config.seed, &[INIT_STREAM]);
        // He gain before a ReLU, 1 before a linear output.
        let relu = 2f64.sqrt();
        let mut down = Vec::new();
        let mut width = config.channels;
        for (i, &w) in config.widths.iter().enumerate() {
            down.push(Conv3::new(&(&root / format!("down{i}")), width, w, false, relu));
            width = w;
        }
        let flat = width * config.bottom() * config.bottom();
        let mu = Dense::new(&(&root / "mu"), flat, config.latent, false, 1.0);
        let logvar = Dense::new(&(&root / "logvar"), flat, config.latent, false, 1.0);
        let expand = Dense::new(&(&root / "expand"), config.latent, flat, false, relu);
        let mut up = Vec::new();
        let outs = config.widths.iter().rev().skip(1).copied().chain([config.channels]);
        for (i, out) in outs.enumerate() {
            let gain = if i + 1 == config.widths.len() { 1.0 } else { relu };
            up.push((Conv3::new(&(&root / format!("up{i}")), width, out, false, gain), gain));
            width = out;
        }
        let gains = down
            .iter()
            .map(|c| (&c.weight.raw, relu))
            .chain(up.iter().map(|(c, g)| (&c.weight.raw, *g)));
        let dense = [(&mu, 1.0), (&logvar, 1.0), (&expand, relu)].map(|(d, g)| (&d.weight.raw, g));
        for (weight, gain) in gains.chain(dense) {
            redraw(weight, gain, &mut rng);
        }
        let up = up.into_iter().map(|(c, _)| c).collect();
        Ok(Self {
            config,
            vs,
            down,
            mu,
            logvar,
            expand,
            up,
        })
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// `x: [B, C, S, S]` in [0, 1] → (μ, log σ²), each `[B, latent]`.
    pub fn encode(&self, x: &Tensor) -> (Tensor, Tensor) {
        let mut h = x.to_kind(Kind::Float);
        for conv in &self.down {
            h = h.conv2d(&conv.weight.value(), Some(&conv.bias), [2, 2], [1, 1], [1, 1], 1).relu();
        }
        let h = h.flatten(1, -1);
        (self.mu.forward(&h), self.logvar.forward(&h))
    }

    /// Bernoulli logits `[B, C, S, S]` of p(x|z); kept apart from [`decode`]
    /// so the loss can use the stable BCE-with-logits.
    ///
    /// [`decode`]: BetaVae::decode
    pub fn decode_logits(&self, z: &Tensor) -> Tensor {
        let side = self.config.bottom();
        let width = self.config.widths[self.config.widths.len() - 1];
        let mut h = self.expand.forward(z).relu().view([-1, width, side, side]);
        let last = self.up.len() - 1;
        for (i, conv) in self.up.iter().enumerate() {
            let s = h.size();
            h = conv.forward(&h.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None));
            if i < last {
                h = h.relu();
            }
        }
        h
    }

    /// Mean images `[B, C, S, S]` in [0, 1] for latents `z: [B, latent]`.
    pub fn decode(&self, z: &Tensor) -> Tensor {
        self.decode_logits(z).sigmoid()
    }

    /// (recon, kl) with `eps ~ N(0, I)` of shape `[B, latent]` given: z = μ + σ·ε.
    pub fn loss_with_noise(&self, x: &Tensor, eps: &Tensor) -> (Tensor, Tensor) {
        let x = x.to_kind(Kind::Float);
        let (mu, logvar) = self.encode(&x);
        let z = &mu + (&logvar * 0.5).exp() * eps;
        let logits = self.decode_logits(&z);
        let recon = logits.binary_cross_entropy_with_logits::<Tensor>(&x, None, None, Reduction::Sum) / x.size()[0] as f64;
        (recon, kl_divergence(&mu, &logvar))
    }

    /// (recon, kl): Bernoulli negative log-likelihood summed over pixels and
    /// the analytic KL, both averaged over the batch; the objective is
    /// recon + β·kl. Draws ε from libtorch's generator (training uses
    /// seeded noise through [`loss_with_noise`]).
    ///
    /// [`loss_with_noise`]: BetaVae::loss_with_noise
    pub fn loss(&self, x: &Tensor) -> (Tensor, Tensor) {
        let eps = Tensor::randn([x.size()[0], self.config.latent], (Kind::Float, self.device()));
        self.loss_with_noise(x, &eps)
    }

    pub fn save(&self, path: &Path, data: serde_json::Value, metrics: serde_json::Value) -> Result<()> {
        let card = BetaVaeCard {
            kind: BETA_VAE_KIND.into(),
            format_version: FORMAT_VERSION,
            written_by: format!("ebm {}", env!("CARGO_PKG_VERSION")),
            config: self.config.clone(),
            data,
            metrics,
        };
        let tensors = named_variables(&self.vs);
        write_tensor_file(path, &tensors, &serde_json::to_value(&card)?).with_context(|| format!("saving β-VAE {}", path.display()))
    }

    /// Loads onto the CPU through the same checks as every checkpoint.
    pub fn load(path: &Path) -> Result<(Self, BetaVaeCard)> {
        let context = || format!("β-VAE checkpoint {} is unusable", path.display());
        let file = read_tensor_file(path).with_context(context)?;
        let card: BetaVaeCard = serde_json::from_value(file.metadata)
            .map_err(|e| anyhow!("its card is malformed: {e}"))
            .with_context(context)?;
        check_card_header(&card.kind, BETA_VAE_KIND, card.format_version, &card.written_by).with_context(context)?;
        let model = BetaVae::new(card.config.clone(), Device::Cpu).with_context(context)?;
        copy_checked(&file.tensors, &model.vs).with_context(context)?;
        Ok((model, card))
    }
}

/// Losses of one training step (before its update).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLosses {
    pub step: u64,
    pub recon: f64,
    pub kl: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLog {
    /// One entry per step.
    pub steps: Vec<StepLosses>,
}

/// ε for training step `step`: the same for the same seed on any device.
fn step_noise(config: &BetaVaeConfig, step: u64, rows: i64, device: Device) -> Tensor {
    let mut rng = crate::seed::rng_at(config.seed, &[NOISE_STREAM, step]);
    let values: Vec<f32> = (0..rows * config.latent).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
    Tensor::from_slice(&values).view([rows, config.latent]).to_device(device)
}

/// Refuses a batch the model cannot read, naming the step.
fn check_batch(config: &BetaVaeConfig, step: u64, x: &Tensor) -> Result<()> {
    let (b, c, s) = (config.batch_size as i64, config.channels, config.size);
    if x.size() != [b, c, s, s] {
        bail!("batch {step} has shape {:?}, expected [{b}, {c}, {s}, {s}]", x.size());
    }
    // NaN passes here (comparisons with it are false) and is caught as a
    // non-finite loss.
    let (lo, hi) = (x.min().double_value(&[]), x.max().double_value(&[]));
    if lo < 0.0 || hi > 1.0 {
        bail!("batch {step} has values in [{lo}, {hi}]; the Bernoulli decoder needs images in [0, 1]");
    }
    Ok(())
}

/// Trains a β-VAE with Adam on `images(step, batch_size)` (batch `step`,
/// deterministic), on the device of the first batch.
pub fn train_beta_vae(
    config: &BetaVaeConfig,
    images: &dyn Fn(u64, usize) -> Tensor,
    progress: &dyn crate::progress::Progress,
) -> Result<(BetaVae, TrainLog)> {
    config.validate().map_err(|e| anyhow!("β-VAE config is invalid: {e}"))?;
    let mut batch = Some(images(0, config.batch_size));
    let device = batch.as_ref().map_or(Device::Cpu, |x| x.device());
    let model = BetaVae::new(config.clone(), device)?;
    let params: Vec<Tensor> = named_parameters(&model.vs).into_iter().map(|(_, t)| t).collect();
    let mut adam = Adam::new(&params, 0.9, 0.999);
    let mut log = TrainLog::default();
    let task = progress.begin("β-VAE", config.steps);
    for step in 0..config.steps {
        let x = batch.take().unwrap_or_else(|| images(step, config.batch_size)).to_device(device);
        check_batch(config, step, &x)?;
        let eps = step_noise(config, step, config.batch_size as i64, device);
        let (recon, kl) = model.loss_with_noise(&x, &eps);
        let loss = &recon + &kl * config.beta;
        let (r, k) = (recon.double_value(&[]), kl.double_value(&[]));
        if !(r + config.beta * k).is_finite() {
            bail!(
                "β-VAE training diverged at step {step}: recon {r}, kl {k}; check the images, or lower learning_rate ({})",
                config.learning_rate
            );
        }
        let grads = Tensor::run_backward(&[&loss], &params, false, false);
        adam.step(&params, &grads, config.learning_rate);
        log.steps.push(StepLosses { step, recon: r, kl: k });
        task.advance(1);
        if step % 50 == 0 {
            task.set_message(&format!("recon {r:.2} kl {k:.3}"));
        }
    }
    Ok((model, log))
}

#[cfg(test)]
mod tests;
