//! The training loop.

use super::{adam::Adam, guard::check_step, metrics::MetricsLog, StepMetrics, TrainConfig};
use crate::data::DataSource;
use crate::energy::network::named_parameters;
use crate::energy::Network;
use crate::progress::Progress;
use crate::sample::{langevin, LangevinOptions, ReplayBuffer};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::time::Instant;
use tch::{Kind, Tensor};

pub struct Trainer<'a> {
    pub network: Box<dyn Network>,
    pub config: TrainConfig,
    pub data: &'a dyn DataSource,
    /// Trainable parameters, sorted by name (the order of Adam's moments).
    /// Built once: roll-back and resume copy into these tensors in place.
    pub(super) params: Vec<Tensor>,
    pub(super) adam: Adam,
    pub(super) buffer: ReplayBuffer,
    pub(super) ema: Option<Vec<Tensor>>,
    /// Steps completed.
    pub step: u64,
    /// Current Langevin step size and learning rate (the guard lowers them).
    pub step_size: f64,
    pub lr: f64,
    /// Divergences recovered from so far.
    pub divergences: u32,
    pub(super) snapshot: Option<super::state::TrainState>,
    pub(super) retries_since_snapshot: u32,
    /// The step that last failed: no new snapshot is taken until training
    /// has passed it, so retries of one failure are counted together.
    last_failure: u64,
    pub(super) out_dir: Option<PathBuf>,
    pub(super) log: Option<MetricsLog>,
    pub last_metrics: StepMetrics,
    /// Whether the data's codes are one-hot categories (the cross-entropy
    /// term then enumerates them; continuous codes are contrasted with random ones).
    pub(super) categorical_codes: bool,
    /// The members of the product this model trains in (its card records
    /// them, so sampling can marginalise the partners an expression omits).
    pub(super) product_of: Vec<String>,
    /// Whether a CD step has shown a gap within `guard.max_gap`: only then
    /// is a larger gap a collapse (a run starts, or leaves a supervised
    /// warm-up, with a gap its chains have yet to close).
    pub(super) gap_healthy: bool,
}

pub struct TrainSummary {
    pub steps: u64,
    pub divergences: u32,
    pub last: StepMetrics,
    pub seconds: f64,
}

/// The seed of step `step`: every step reseeds libtorch's generator, so a
/// step's randomness depends only on (seed, step) and a resumed run repeats
/// the uninterrupted one exactly.
pub(super) fn step_seed(seed: u64, step: u64) -> i64 {
    crate::seed::torch_seed(seed, &[step])
}

/// Refuses a batch size (with its replay buffer) that cannot fit in the
/// CPU's memory, before the first step.
fn check_memory(arch: &crate::energy::Architecture, config: &TrainConfig, device: tch::Device) -> Result<()> {
    use crate::memory::{available_bytes, batch_bytes, ensure_fits, Pass};
    if device != tch::Device::Cpu {
        return Ok(());
    }
    let pass = match config.objective {
        super::Objective::Cd => Pass::Training,
        super::Objective::Dsm | super::Objective::Denoise => Pass::SecondOrder,
    };
    let input: i64 = arch.input_shape().iter().product();
    let buffer = 4 * input as u64 * config.replay.capacity as u64;
    let needed = batch_bytes(&[arch], config.batch_size as i64, pass, 0).saturating_add(buffer);
    let what = format!(
        "training with batch size {} (replay buffer {})",
        config.batch_size, config.replay.capacity
    );
    ensure_fits(&what, needed, available_bytes(), "lower --batch-size")
}

impl<'a> Trainer<'a> {
    /// A trainer for a fresh network. With `out_dir`, metrics and checkpoints
    /// are written there.
    pub fn new(network: Box<dyn Network>, data: &'a dyn DataSource, config: TrainConfig, out_dir: Option<PathBuf>) -> Result<Self> {
        if let Err(e) = config.validate() {
            bail!("invalid training configuration: {e}");
        }
        let arch = network.architecture();
        if arch.input_shape() != data.example_shape() {
            bail!(
                "the network takes inputs of shape {:?} but the data has shape {:?}",
                arch.input_shape(),
                data.example_shape()
            );
        }
        let concept_dim = data.code_dim();
        if arch.code_dim() != concept_dim {
            bail!(
                "the network takes codes of width {} but the data's concept has {concept_dim} entries",
                arch.code_dim()
            );
        }
        if config.objective != super::Objective::Cd && network.noise_range().is_none() {
            bail!("the {} objective trains an energy over noise levels: use an architecture that reads σ (--objective with a denoiser network)", crate::names::Named::name(config.objective));
        }
        if config.objective == super::Objective::Denoise && network.as_denoiser().is_none() {
            bail!("the denoise objective reads a denoiser's output: use the denoiser architecture, or --objective dsm for any energy over noise levels");
        }
        if let crate::energy::Architecture::Conv(conv) = &arch {
            let categorical = matches!(data.concept().map(|c| c.kind), Some(crate::energy::ConceptKind::Categorical { .. }));
            if let Err(problem) = conv.readout.check_fits(categorical) {
                bail!(problem);
            }
        }
        if config.label_ce_weight > 0.0 && data.concept().is_none() {
            bail!("label_ce_weight > 0 needs conditional data (a concept with codes); set it to 0 for this data");
        }
        if config.extra_object_weight > 0.0 && data.extra_object_negatives(0, 1).is_none() {
            bail!("extra-object negatives (--extra-object-negatives) exist for shapes concept models only; this data has none");
        }
        check_memory(&arch, &config, network.var_store().device())?;
        let params: Vec<Tensor> = named_parameters(network.var_store()).into_iter().map(|(_, t)| t).collect();
        let adam = Adam::new(&params, config.adam_beta1, config.adam_beta2);
        let ema = config.ema_decay.map(|_| params.iter().map(|p| p.detach().copy()).collect());
        let log = match &out_dir {
            Some(dir) => Some(MetricsLog::open(&dir.join("metrics.jsonl"), None)?),
            None => None,
        };
        Ok(Self {
            buffer: ReplayBuffer::new(config.replay.clone()),
            step_size: config.langevin.step_size,
            lr: config.lr,
            network,
            data,
            params,
            adam,
            ema,
            step: 0,
            divergences: 0,
            snapshot: None,
            retries_since_snapshot: 0,
            last_failure: 0,
            product_of: Vec::new(),
            gap_healthy: false,
            out_dir,
            log,
            last_metrics: StepMetrics::default(),
            categorical_codes: matches!(data.concept().map(|c| c.kind), Some(crate::energy::ConceptKind::Categorical { .. })),
            config,
        })
    }

    /// One contrastive-divergence step; Err(reason) when the guard rejects it
    /// (nothing is updated then).
    fn try_step(&mut self) -> Result<StepMetrics, String> {
        let started = Instant::now();
        tch::manual_seed(step_seed(self.config.seed, self.step));
        self.network.power_iteration();
        // Data sources build on the CPU; chains and batches follow the network.
        let device = self.network.var_store().device();
        let mut batch = self.data.batch(self.step, self.config.batch_size);
        batch.x = batch.x.to_device(device);
        batch.code = batch.code.map(|c| c.to_device(device));
        if self.config.data_noise > 0.0 {
            let noisy = &batch.x + batch.x.randn_like() * self.config.data_noise;
            batch.x = match self.config.langevin.clamp {
                Some((lo, hi)) => noisy.clamp(lo, hi),
                None => noisy,
            };
        }
        if self.step < self.config.supervised_warmup {
            let (cross_entropy, squared) = self.label_terms(&batch);
            let loss = cross_entropy * self.config.label_ce_weight + squared * self.config.energy_l2;
            return self.update(&loss, started, None);
        }
        if self.config.objective != super::Objective::Cd {
            let mut loss = self.denoising_loss(&batch);
            if self.config.label_ce_weight > 0.0 {
                loss += self.label_cross_entropy(&batch) * self.config.label_ce_weight;
            }
            return self.update(&loss, started, None);
        }
        let fresh = self.data.fresh_chains(self.step, self.config.batch_size).to_device(device);
        let fresh_codes = self.data.negative_codes(&batch).map(|c| c.to_device(device));
        let (x0, neg_codes) = self.buffer.draw(&fresh, fresh_codes.as_ref());
        let mut sampler = self.config.langevin.clone();
        sampler.step_size = self.step_size;
        let negatives = langevin(
            self.network.as_ref(),
            &x0,
            neg_codes.as_ref(),
            &sampler,
            &LangevinOptions::default(),
        )
        .x;

        let metrics = self.contrastive_update(&batch, &negatives, neg_codes.as_ref(), started)?;
        self.buffer.push(&negatives, neg_codes.as_ref());
        Ok(metrics)
    }

    /// The CD update on positives `batch` against `negatives` (drawn by this
    /// trainer's chain, or by a product's: `ProductTrainer`), with the
    /// regulariser and the optional cross-entropy and extra-object terms.
    pub(super) fn contrastive_update(
        &mut self,
        batch: &crate::data::Batch,
        negatives: &Tensor,
        neg_codes: Option<&Tensor>,
        started: Instant,
    ) -> Result<StepMetrics, String> {
        let device = self.network.var_store().device();
        let e_pos = self.network.energy(&batch.x, batch.code.as_ref());
        let e_neg = self.network.energy(negatives, neg_codes);
        let alpha = self.config.energy_l2;
        let mut loss = (e_pos.mean(Kind::Float) - e_neg.mean(Kind::Float)) * self.config.cd_weight
            + (e_pos.square().mean(Kind::Float) + e_neg.square().mean(Kind::Float)) * alpha;
        if self.config.label_ce_weight > 0.0 {
            loss += self.label_cross_entropy(batch) * self.config.label_ce_weight;
        }
        if self.config.extra_object_weight > 0.0 {
            if let Some(extra) = self.data.extra_object_negatives(self.step, self.config.batch_size) {
                let e_extra = self.network.energy(&extra.to_device(device), batch.code.as_ref());
                loss += (&e_pos - e_extra).softplus().mean(Kind::Float) * self.config.extra_object_weight;
            }
        }
        self.update(&loss, started, Some((&e_pos, &e_neg)))
    }

    /// Back-propagates `loss`, checks the step with the guard and applies
    /// it (Adam, EMA). `energies`: the CD term's E⁺ and E⁻, when there is one.
    fn update(&mut self, loss: &Tensor, started: Instant, energies: Option<(&Tensor, &Tensor)>) -> Result<StepMetrics, String> {
        // The unused prior head of a posterior read-out gets zeros.
        let grads = super::gradients::parameter_gradients(loss, &self.params);
        let mean = |e: &Tensor| e.mean(Kind::Double).double_value(&[]);
        let energies = energies.map(|(p, n)| (mean(p), mean(n)));
        self.apply_gradients(loss.double_value(&[]), grads, started, energies)
    }

    /// The trained parameters, in the order `apply_gradients` takes their gradients.
    pub(super) fn parameters(&self) -> &[Tensor] {
        &self.params
    }

    /// Checks a step whose loss is `loss` and parameter gradients `grads`
    /// with the guard and applies it (clip, Adam, EMA). `energies`: the CD
    /// term's mean E⁺ and E⁻, when there is one.
    pub(super) fn apply_gradients(
        &mut self,
        loss: f64,
        grads: Vec<Tensor>,
        started: Instant,
        energies: Option<(f64, f64)>,
    ) -> Result<StepMetrics, String> {
        let params = &self.params;
        let grad_norm = super::gradients::global_norm(&grads);
        let (e_pos, e_neg) = energies.unwrap_or((0.0, 0.0));
        // The gap means a collapse only where the CD term is trained, and
        // once it has been within the limit.
        let guard = match self.config.cd_weight > 0.0 && self.gap_healthy {
            true => self.config.guard.clone(),
            false => super::GuardConfig {
                max_gap: None,
                ..self.config.guard.clone()
            },
        };
        if let Some(reason) = check_step(loss, e_pos, e_neg, grad_norm, &guard) {
            return Err(reason);
        }
        if energies.is_some() && self.config.guard.max_gap.is_some_and(|max| e_neg - e_pos <= max) {
            self.gap_healthy = true;
        }
        let grads = super::gradients::clip_global_norm(grads, grad_norm, self.config.grad_clip_norm);
        self.adam.step(params, &grads, self.lr);
        if let (Some(ema), Some(decay)) = (&mut self.ema, self.config.ema_decay) {
            tch::no_grad(|| {
                for (avg, p) in ema.iter_mut().zip(params) {
                    let _ = avg.lerp_(p, 1.0 - decay);
                }
            });
        }
        self.step += 1;
        Ok(StepMetrics {
            step: self.step,
            e_pos,
            e_neg,
            gap: e_neg - e_pos,
            loss,
            grad_norm,
            step_ms: started.elapsed().as_secs_f64() * 1e3,
            step_size: self.step_size,
            lr: self.lr,
        })
    }

    /// The denoising objective's loss on the (clean) positives, one noise
    /// level per positive.
    fn denoising_loss(&self, batch: &crate::data::Batch) -> Tensor {
        use super::denoising::{denoising_loss, draw_noise_levels, dsm_loss};
        let range = self.network.noise_range().expect("checked in Trainer::new");
        let sigma = draw_noise_levels(batch.x.size()[0], range, batch.x.kind(), batch.x.device());
        let dropped = batch.code.as_ref().map(|c| match self.config.code_dropout {
            p if p > 0.0 => c * c.rand_like().ge(p).to_kind(c.kind()).narrow(1, 0, 1),
            _ => c.shallow_clone(),
        });
        let (x, code, power) = (&batch.x, dropped.as_ref(), self.config.sigma_power);
        match self.network.as_denoiser() {
            Some(denoiser) if self.config.objective == super::Objective::Denoise => denoising_loss(denoiser, x, code, &sigma, power),
            _ => dsm_loss(self.network.as_ref(), x, code, &sigma, power),
        }
    }

    /// Continues from another trainer's replay buffer (split-MNIST hands one
    /// buffer from task to task); this trainer's replay settings apply.
    pub fn set_replay_buffer(&mut self, mut buffer: ReplayBuffer) {
        buffer.config = self.config.replay.clone();
        self.buffer = buffer;
    }

    /// The network and the replay buffer, for a next stage of training.
    pub fn into_parts(self) -> (Box<dyn Network>, ReplayBuffer) {
        (self.network, self.buffer)
    }

    /// One step, with the divergence guard around it.
    pub fn step(&mut self) -> Result<StepMetrics> {
        self.snapshot_if_due();
        match self.try_step() {
            Ok(metrics) => {
                self.accept(metrics.clone())?;
                Ok(metrics)
            }
            Err(reason) => {
                self.recover(&reason)?;
                Ok(self.last_metrics.clone())
            }
        }
    }

    /// Takes the guard's snapshot when one is due (before a step).
    pub(super) fn snapshot_if_due(&mut self) {
        let past_failure = self.step >= self.last_failure;
        if self.snapshot.is_none() || (self.step.is_multiple_of(self.config.guard.snapshot_every) && past_failure) {
            self.snapshot = Some(self.state());
            self.retries_since_snapshot = 0;
        }
    }

    /// Records a step that the guard let through.
    pub(super) fn accept(&mut self, metrics: StepMetrics) -> Result<()> {
        if self.step.is_multiple_of(self.config.log_every) {
            if let Some(log) = &self.log {
                log.write(&metrics)?;
            }
        }
        self.last_metrics = metrics;
        Ok(())
    }

    pub(super) fn recover(&mut self, reason: &str) -> Result<()> {
        self.divergences += 1;
        self.retries_since_snapshot += 1;
        let failed_at = self.step + 1;
        self.last_failure = self.last_failure.max(failed_at);
        let guard = self.config.guard.clone();
        if self.retries_since_snapshot > guard.max_retries {
            bail!(
                "training diverged {} times in a row at step {failed_at} ({reason}) even after lowering the Langevin step size to {:.3e} and the learning rate to {:.3e}; \
                 try a smaller --step-size or --lr, a larger energy_l2, or more Langevin steps",
                self.retries_since_snapshot,
                self.step_size,
                self.lr
            );
        }
        // The lowered settings and the event count outlive the roll-back. A
        // collapse keeps the Langevin step: shorter chains reach the data less.
        let step_backoff = if reason.contains(super::guard::COLLAPSE) {
            1.0
        } else {
            guard.backoff
        };
        let (step_size, lr, divergences) = (self.step_size * step_backoff, self.lr * guard.backoff, self.divergences);
        let snapshot = self.snapshot.take().expect("a snapshot is taken before every step");
        self.restore(&snapshot)
            .map_err(|e| anyhow::anyhow!("cannot roll back after a divergence: {e}"))?;
        self.step_size = step_size;
        self.lr = lr;
        self.divergences = divergences;
        self.snapshot = Some(snapshot);
        let event = serde_json::json!({
            "event": "divergence", "step": self.step, "failed_at": failed_at, "reason": reason,
            "new_step_size": step_size, "new_lr": lr,
        });
        eprintln!("warning: step {failed_at} diverged ({reason}); rolled back to step {} and lowered the step size to {step_size:.3e}, lr to {lr:.3e}", self.step);
        if let Some(log) = &self.log {
            log.write(&event)?;
        }
        Ok(())
    }

    /// Trains until `config.steps`, reporting each step to `progress`.
    pub fn run(&mut self, progress: &dyn Progress) -> Result<TrainSummary> {
        let started = Instant::now();
        let bar = progress.begin("train", self.config.steps);
        bar.set_position(self.step);
        while self.step < self.config.steps {
            let m = self.step()?;
            bar.set_position(self.step);
            bar.set_message(&format!("E+ {:.3} E- {:.3}", m.e_pos, m.e_neg));
            let every = self.config.checkpoint_every;
            if every > 0 && self.step.is_multiple_of(every) && self.step < self.config.steps {
                self.save()?;
            }
        }
        drop(bar);
        if self.out_dir.is_some() {
            self.save()?;
        }
        Ok(TrainSummary {
            steps: self.step,
            divergences: self.divergences,
            last: self.last_metrics.clone(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
