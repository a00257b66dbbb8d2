//! Product-of-experts training (issue #14): several concept models trained
//! together as one model of the scene, p(x | c₁ … c_K) ∝ exp(−Σₖ Eₖ(x | cₖ)).
//!
//! Every step draws one batch of scenes with all K labels (the member data
//! sources are the same scenes under different concepts), runs one Langevin
//! chain on the *sum* of the members' energies under each scene's own
//! labels, and updates each member by its own CD term on those shared
//! negatives: ∂/∂θₖ of mean Σ E(x⁺) − mean Σ E(x⁻) is exactly member k's
//! term, so this is maximum likelihood for the product. A negative that is
//! right for one concept and wrong for another (two half-right objects) is
//! pushed up for every member, which is what a conjunction needs; a model
//! trained alone never sees one.
//!
//! Each member stays an ordinary [`Trainer`] (its own Adam, guard, EMA,
//! checkpoint and card under `out/<concept>/`), so a member checkpoint loads
//! and composes like any other. The product's replay buffer, whose codes
//! are the members' codes side by side, is saved as `out/product_buffer.safetensors`.
//!
//! Trained models can join the chain frozen ([`FrozenPartner`]): a new
//! concept then learns beside them (continual concept learning), and its
//! negatives already carry what the partners draw — an object of the right
//! place and colour whose only fault is the new concept.

use super::{StepMetrics, Trainer};
use crate::compose::algebra::Composed;
use crate::data::Batch;
use crate::energy::Energy;
use crate::io::{read_tensor_file, write_tensor_file};
use crate::progress::Progress;
use crate::sample::{langevin, LangevinOptions, ReplayBuffer};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::time::Instant;
use tch::Tensor;

pub const BUFFER_FILE: &str = "product_buffer.safetensors";

pub struct ProductTrainer<'a> {
    /// One trainer per concept, all on the same scenes, batch size, seed and steps.
    pub members: Vec<Trainer<'a>>,
    /// Trained models in the chain that are not updated.
    partners: Vec<FrozenPartner<'a>>,
    buffer: ReplayBuffer,
    out_dir: Option<PathBuf>,
}

/// A trained concept model that joins the product's chain under each
/// scene's own label and is never updated.
pub struct FrozenPartner<'a> {
    /// Its name in the members' cards (`training.product_of`).
    pub name: String,
    pub model: &'a dyn Energy,
    /// The product's scenes under the partner's concept: where its codes
    /// come from. Built like a member's source (same seed and batch size).
    pub data: &'a dyn crate::data::DataSource,
}

impl<'a> ProductTrainer<'a> {
    /// A product of `members`, which must agree on steps, batch size and seed
    /// (so their data sources yield the same scenes at every step) and be at
    /// the same step.
    pub fn new(members: Vec<Trainer<'a>>, out_dir: Option<PathBuf>) -> Result<Self> {
        let Some(first) = members.first() else {
            bail!("a product needs at least one member")
        };
        let shared = |m: &Trainer| {
            (
                m.config.steps,
                m.config.batch_size,
                m.config.seed,
                m.config.supervised_warmup,
                m.step,
            )
        };
        for m in &members {
            if shared(m) != shared(first) {
                bail!("the members of a product must share steps, batch size, seed and supervised warm-up and be at the same step");
            }
            let objective = m.config.objective;
            if objective != first.config.objective || objective == super::Objective::Dsm {
                bail!("a product trains by contrastive divergence or by joint denoising: give every member --objective cd, or every member --objective denoise");
            }
        }
        check_denoising_scales(&members)?;
        let names: Vec<String> = members.iter().map(member_name).collect();
        let mut members = members;
        for m in &mut members {
            m.product_of = names.clone();
        }
        let first = &members[0];
        let mut buffer = ReplayBuffer::new(first.config.replay.clone());
        if let Some(path) = out_dir.as_ref().map(|d| d.join(BUFFER_FILE)).filter(|p| p.exists()) {
            let file = read_tensor_file(&path)?;
            buffer
                .restore(&file.tensors, &file.metadata)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        Ok(Self {
            members,
            partners: Vec::new(),
            buffer,
            out_dir,
        })
    }

    /// The product with `partners` frozen in its chain; the members' cards
    /// list them in `product_of` after the members.
    pub fn with_partners(mut self, partners: Vec<FrozenPartner<'a>>) -> Result<Self> {
        if !partners.is_empty() && self.denoising() {
            bail!("frozen partners join a contrastive-divergence chain; a denoising product trains all its members together (drop --frozen or use --objective cd)");
        }
        for p in &partners {
            if self.members.iter().any(|m| crate::names::same_name(&member_name(m), &p.name)) {
                bail!("'{}' is both trained and a frozen partner; name each concept once", p.name);
            }
        }
        for m in &mut self.members {
            m.product_of.extend(partners.iter().map(|p| p.name.clone()));
        }
        self.partners = partners;
        Ok(self)
    }

    pub fn step_index(&self) -> u64 {
        self.members[0].step
    }

    /// Whether the members train by joint denoising (else by CD).
    fn denoising(&self) -> bool {
        self.members[0].config.objective == super::Objective::Denoise
    }

    /// Takes every member's due snapshot and seeds this step's randomness;
    /// the step, batch size and device.
    fn begin_step(&mut self) -> (u64, usize, tch::Device) {
        for m in &mut self.members {
            m.snapshot_if_due();
        }
        let first = &self.members[0];
        tch::manual_seed(super::trainer::step_seed(first.config.seed, first.step));
        (first.step, first.config.batch_size, first.network.var_store().device())
    }

    /// One product step; the metrics of each member. When the guard rejects
    /// any member's update, every member rolls back, so they stay in step.
    pub fn step(&mut self) -> Result<Vec<StepMetrics>> {
        if self.step_index() < self.members[0].config.supervised_warmup {
            // The supervised warm-up draws no negatives, so there is nothing
            // to share: each member takes its own (guarded) step.
            return self.members.iter_mut().map(|m| m.step()).collect();
        }
        if self.denoising() {
            return self.denoising_step();
        }
        let started = Instant::now();
        let (step, batch_size, device) = self.begin_step();
        let first = &self.members[0];
        let to_device = |batch: Batch| Batch {
            x: batch.x.to_device(device),
            code: batch.code.map(|c| c.to_device(device)),
        };
        let mut batches: Vec<Batch> = self
            .members
            .iter()
            .map(|m| {
                m.network.power_iteration();
                to_device(m.data.batch(step, batch_size))
            })
            .collect();
        // Partners' codes follow the members' in the joint code.
        batches.extend(self.partners.iter().map(|p| to_device(p.data.batch(step, batch_size))));
        // An unconditional member (the product's prior) has no code: width 0.
        let widths: Vec<i64> = batches.iter().map(|b| b.code.as_ref().map_or(0, |c| c.size()[1])).collect();
        let codes: Vec<Tensor> = batches.iter().filter_map(|b| b.code.as_ref().map(|c| c.shallow_clone())).collect();
        let fresh = first.data.fresh_chains(step, batch_size).to_device(device);
        let joint_codes = (!codes.is_empty()).then(|| Tensor::cat(&codes, 1));
        let (x0, joint) = self.buffer.draw(&fresh, joint_codes.as_ref());
        let member_codes = split_codes(joint.as_ref(), &widths);
        let mut sampler = first.config.langevin.clone();
        sampler.step_size = self.members.iter().map(|m| m.step_size).fold(f64::INFINITY, f64::min);
        let models = self
            .members
            .iter()
            .map(|m| m.network.as_ref() as &dyn Energy)
            .chain(self.partners.iter().map(|p| p.model));
        let product = Composed::And(
            models
                .zip(&member_codes)
                .map(|(model, code)| {
                    let leaf = Composed::Leaf {
                        model,
                        code: code.as_ref().map(|c| c.shallow_clone()),
                        label: String::new(),
                    };
                    (1.0, leaf)
                })
                .collect(),
        );
        let negatives = langevin(&product, &x0, None, &sampler, &LangevinOptions::default()).x;
        drop(product);
        let results: Vec<Result<StepMetrics, String>> = self
            .members
            .iter_mut()
            .zip(batches.iter().zip(&member_codes))
            .map(|(m, (batch, code))| m.contrastive_update(batch, &negatives, code.as_ref(), started))
            .collect();
        if results.iter().all(|r| r.is_ok()) {
            self.buffer.push(&negatives, joint.as_ref());
        }
        self.settle(results)
    }

    /// One joint denoising step: the members' denoisers, each under its own
    /// label of the same scenes, trained as one product
    /// ([`super::denoising::product_denoising_loss`]); one backward pass
    /// gives every member its gradient.
    fn denoising_step(&mut self) -> Result<Vec<StepMetrics>> {
        let started = Instant::now();
        let (step, batch_size, device) = self.begin_step();
        let first = &self.members[0];
        let batches: Vec<Batch> = self.members.iter().map(|m| m.data.batch(step, batch_size)).collect();
        let x = batches[0].x.to_device(device);
        let codes: Vec<Option<Tensor>> = batches.iter().map(|b| b.code.as_ref().map(|c| c.to_device(device))).collect();
        let members: Vec<_> = self
            .members
            .iter()
            .zip(&codes)
            .map(|(m, code)| (m.network.as_denoiser().expect("checked by Trainer::new"), code.as_ref()))
            .collect();
        let range = first.network.noise_range().expect("a denoiser has noise levels");
        let sigma = super::denoising::draw_noise_levels(x.size()[0], range, x.kind(), device);
        let loss = super::denoising::product_denoising_loss(&members, &x, &sigma, first.config.sigma_power);
        let params: Vec<Tensor> = self
            .members
            .iter()
            .flat_map(|m| m.parameters().iter().map(|p| p.shallow_clone()))
            .collect();
        let mut grads = super::gradients::parameter_gradients(&loss, &params).into_iter();
        let loss = loss.double_value(&[]);
        let results: Vec<Result<StepMetrics, String>> = self
            .members
            .iter_mut()
            .map(|m| {
                let own = grads.by_ref().take(m.parameters().len()).collect();
                m.apply_gradients(loss, own, started, None)
            })
            .collect();
        self.settle(results)
    }

    /// Records the members' steps; when the guard rejected any member's
    /// update, every member rolls back, so they stay in step.
    fn settle(&mut self, results: Vec<Result<StepMetrics, String>>) -> Result<Vec<StepMetrics>> {
        if let Some(reason) = results.iter().find_map(|r| r.as_ref().err()).cloned() {
            for m in &mut self.members {
                m.recover(&reason)?;
            }
            return Ok(self.members.iter().map(|m| m.last_metrics.clone()).collect());
        }
        let metrics: Vec<StepMetrics> = results.into_iter().map(|r| r.expect("no error above")).collect();
        for (m, metrics) in self.members.iter_mut().zip(&metrics) {
            m.accept(metrics.clone())?;
        }
        Ok(metrics)
    }

    /// Every member's checkpoint and state, and the product's buffer.
    pub fn save(&self) -> Result<()> {
        for m in &self.members {
            m.save()?;
        }
        if let Some(dir) = &self.out_dir {
            let (tensors, meta) = self.buffer.state();
            write_tensor_file(&dir.join(BUFFER_FILE), &tensors, &meta)?;
        }
        Ok(())
    }

    /// Trains until the members' configured number of steps.
    pub fn run(&mut self, progress: &dyn Progress) -> Result<f64> {
        let started = Instant::now();
        let (steps, every) = (self.members[0].config.steps, self.members[0].config.checkpoint_every);
        let bar = progress.begin("train product", steps);
        bar.set_position(self.step_index());
        while self.step_index() < steps {
            let metrics = self.step()?;
            bar.set_position(self.step_index());
            let gaps: Vec<String> = metrics.iter().map(|m| format!("{:.2}/{:.2}", m.e_pos, m.e_neg)).collect();
            bar.set_message(&format!("E+/E- {}", gaps.join(" ")));
            if every > 0 && self.step_index().is_multiple_of(every) && self.step_index() < steps {
                self.save()?;
            }
        }
        drop(bar);
        self.save()?;
        Ok(started.elapsed().as_secs_f64())
    }
}

/// A denoising product of K members is their mean denoiser, so each
/// member's energy must be scaled by 1/K for the plain sum of the saved
/// energies to be what was trained (`DenoiserConfig::energy_scale`).
fn check_denoising_scales(members: &[Trainer]) -> Result<()> {
    let k = members.len();
    if k < 2 || members[0].config.objective != super::Objective::Denoise {
        return Ok(());
    }
    for m in members {
        let scale = match m.network.architecture() {
            crate::energy::Architecture::Denoiser(c) => c.energy_scale,
            _ => bail!("joint denoising needs denoiser networks; '{}' is not one", member_name(m)),
        };
        if (scale * k as f64 - 1.0).abs() > 1e-9 {
            bail!(
                "'{}' has energy scale {scale}; a denoising product of {k} members needs 1/{k} on each (energy::network::with_energy_scale), so that the sum of their energies is the trained mean denoiser",
                member_name(m)
            );
        }
    }
    Ok(())
}

/// A member's name in the card's `product_of`: its concept, or `prior`.
fn member_name(m: &Trainer) -> String {
    m.data.concept().map_or_else(|| "prior".to_string(), |c| c.name)
}

/// The members' codes out of the joint code `[B, Σ widths]`; None for a
/// member of width 0 (unconditional).
fn split_codes(joint: Option<&Tensor>, widths: &[i64]) -> Vec<Option<Tensor>> {
    let mut start = 0;
    widths
        .iter()
        .map(|&w| {
            let code = joint.filter(|_| w > 0).map(|j| j.narrow(1, start, w));
            start += w;
            code
        })
        .collect()
}
