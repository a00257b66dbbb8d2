//! The full training state (weights, Adam moments, EMA, replay buffer,
//! counters) as named tensors + JSON: the same representation serves the
//! guard's in-memory snapshots and the on-disk `train_state.safetensors`, so
//! resume and roll-back are one mechanism.

use super::{TrainConfig, Trainer};
use crate::checkpoint::{save_checkpoint, ModelCard};
use crate::data::DataSource;
use crate::energy::network::{named_parameters, named_variables, Architecture};
use crate::io::{read_tensor_file, write_tensor_file};
use crate::sample::SamplerDefaults;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Tensor};

pub const MODEL_FILE: &str = "model.safetensors";
pub const STATE_FILE: &str = "train_state.safetensors";
/// The card's `training` key listing the members of the product a model was
/// trained in (`train::product`), absent for a model trained alone.
pub const PRODUCT_OF: &str = "product_of";

pub struct TrainState {
    pub tensors: BTreeMap<String, Tensor>,
    pub meta: serde_json::Value,
}

impl Trainer<'_> {
    /// A deep copy of everything training depends on.
    pub fn state(&self) -> TrainState {
        let mut tensors = BTreeMap::new();
        for (name, t) in named_variables(self.network.var_store()) {
            tensors.insert(format!("model/{name}"), t.detach().copy());
        }
        let names: Vec<String> = named_parameters(self.network.var_store()).into_iter().map(|(n, _)| n).collect();
        for (i, name) in names.iter().enumerate() {
            tensors.insert(format!("adam.m/{name}"), self.adam.m[i].copy());
            tensors.insert(format!("adam.v/{name}"), self.adam.v[i].copy());
            if let Some(ema) = &self.ema {
                tensors.insert(format!("ema/{name}"), ema[i].copy());
            }
        }
        let (buffer_tensors, buffer_meta) = self.buffer.state();
        tensors.extend(buffer_tensors);
        let meta = serde_json::json!({
            "step": self.step,
            "step_size": self.step_size,
            "lr": self.lr,
            "divergences": self.divergences,
            "adam_t": self.adam.t,
            "gap_healthy": self.gap_healthy,
            "buffer": buffer_meta,
            "config": self.config,
            "architecture": self.network.architecture(),
            "data": self.data.describe(),
        });
        TrainState { tensors, meta }
    }

    /// Puts a state taken from a trainer of the same configuration back.
    pub fn restore(&mut self, state: &TrainState) -> Result<()> {
        let get = |key: &str| -> Result<Tensor> {
            state
                .tensors
                .get(key)
                .map(|t| t.shallow_clone())
                .with_context(|| format!("training state lacks tensor '{key}'"))
        };
        // Shapes and values come from a file: check them before tch's copy_
        // (which panics on a mismatch).
        let copy = |target: &mut Tensor, key: &str| -> Result<()> {
            let saved = get(key)?;
            if saved.size() != target.size() {
                bail!("tensor '{key}' has shape {:?}, expected {:?}", saved.size(), target.size());
            }
            if saved.isfinite().all().int64_value(&[]) == 0 {
                bail!("tensor '{key}' holds non-finite values");
            }
            target.copy_(&saved);
            Ok(())
        };
        tch::no_grad(|| -> Result<()> {
            for (name, mut var) in named_variables(self.network.var_store()) {
                copy(&mut var, &format!("model/{name}"))?;
            }
            let names: Vec<String> = named_parameters(self.network.var_store()).into_iter().map(|(n, _)| n).collect();
            for (i, name) in names.iter().enumerate() {
                copy(&mut self.adam.m[i], &format!("adam.m/{name}"))?;
                copy(&mut self.adam.v[i], &format!("adam.v/{name}"))?;
                if let Some(ema) = &mut self.ema {
                    copy(&mut ema[i], &format!("ema/{name}"))?;
                }
            }
            Ok(())
        })?;
        let meta = &state.meta;
        let number = |key: &str| meta[key].as_f64().with_context(|| format!("training state lacks '{key}'"));
        self.step = number("step")? as u64;
        self.step_size = number("step_size")?;
        self.lr = number("lr")?;
        self.divergences = number("divergences")? as u32;
        self.adam.t = number("adam_t")? as u64;
        // States written before the key existed re-arm at the next healthy step.
        self.gap_healthy = meta["gap_healthy"].as_bool().unwrap_or(false);
        if let Some(samples) = state.tensors.get("buffer.samples") {
            let example = self.data.example_shape();
            if samples.dim() == 0 || samples.size()[1..] != example[..] {
                bail!(
                    "replay buffer samples have shape {:?}; the data's examples are [N, {example:?}]",
                    samples.size()
                );
            }
        }
        self.buffer.restore(&state.tensors, &meta["buffer"])?;
        Ok(())
    }

    /// The model card describing the current model.
    pub fn card(&self) -> ModelCard {
        let mut langevin = self.config.langevin.clone();
        langevin.step_size = self.step_size;
        let sampler = SamplerDefaults {
            langevin,
            init: self.data.init_noise(),
            start: self.data.chain_start(),
        };
        let mut card = ModelCard::new(self.network.architecture(), self.data.concept(), self.data.describe(), sampler);
        card.training = serde_json::to_value(&self.config).unwrap_or_default();
        if let Some(training) = card.training.as_object_mut() {
            // How it was computed, for the record; loading does not depend on it.
            training.insert("compute".into(), self.network.compute().label().into());
            if !self.product_of.is_empty() {
                training.insert(PRODUCT_OF.into(), self.product_of.clone().into());
            }
        }
        card.metrics = serde_json::json!({ "steps": self.step, "divergences": self.divergences, "last": self.last_metrics });
        card
    }

    /// Writes `model.safetensors` (the EMA weights when EMA is on) and
    /// `train_state.safetensors` to the output directory, each atomically.
    pub fn save(&self) -> Result<()> {
        let Some(dir) = &self.out_dir else { return Ok(()) };
        let state = self.state();
        let tensors: Vec<(String, Tensor)> = state.tensors.iter().map(|(k, v)| (k.clone(), v.shallow_clone())).collect();
        write_tensor_file(&dir.join(STATE_FILE), &tensors, &state.meta)?;
        save_checkpoint(&dir.join(MODEL_FILE), self.averaged_network().as_ref(), &self.card())
    }

    /// A copy of the network with the EMA weights when EMA is on (what
    /// checkpoints hold), else with the current weights.
    pub fn averaged_network(&self) -> Box<dyn crate::energy::Network> {
        let averaged = self.network.architecture().build(Device::Cpu);
        crate::energy::network::copy_weights(self.network.var_store(), averaged.var_store());
        if let Some(ema) = &self.ema {
            tch::no_grad(|| {
                for ((_, mut p), avg) in named_parameters(averaged.var_store()).into_iter().zip(ema) {
                    p.copy_(avg);
                }
            });
        }
        averaged
    }
}

/// Continues the run whose state is in `dir`, on `data` (which must be the
/// source it was trained on). Training then goes on to `steps` if given, else
/// to the configured number of steps.
pub fn resume<'a>(dir: &Path, data: &'a dyn DataSource, steps: Option<u64>) -> Result<Trainer<'a>> {
    let path = dir.join(STATE_FILE);
    if !path.exists() {
        bail!(
            "cannot resume: {} does not exist (was the run started with this output directory?)",
            path.display()
        );
    }
    let file = read_tensor_file(&path)?;
    let context = || format!("training state {} is unusable", path.display());
    let mut config: TrainConfig = serde_json::from_value(file.metadata["config"].clone()).with_context(context)?;
    let architecture: Architecture = serde_json::from_value(file.metadata["architecture"].clone()).with_context(context)?;
    if file.metadata["data"] != data.describe() {
        bail!(
            "cannot resume {}: it was trained on {} but this run uses {}",
            dir.display(),
            file.metadata["data"],
            data.describe()
        );
    }
    if let Some(steps) = steps {
        config.steps = steps;
    }
    let mut trainer = Trainer::new(architecture.build(Device::Cpu), data, config, None)?;
    trainer
        .restore(&TrainState {
            tensors: file.tensors,
            meta: file.metadata,
        })
        .with_context(context)?;
    trainer.out_dir = Some(dir.to_path_buf());
    trainer.log = Some(super::metrics::MetricsLog::open(&dir.join("metrics.jsonl"), Some(trainer.step))?);
    Ok(trainer)
}
