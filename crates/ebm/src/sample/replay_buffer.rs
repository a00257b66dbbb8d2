//! Replay buffer: past negative samples (with their codes), from which most
//! chains restart, so short chains add up to long ones across training.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BufferMode {
    /// Newest samples overwrite the oldest (IGEBM).
    Fifo,
    /// Reservoir sampling: every sample ever pushed is kept with equal
    /// probability (improved-CD code).
    Reservoir,
}

crate::named!(BufferMode, "buffer mode", [Fifo => "fifo", Reservoir => "reservoir"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayConfig {
    pub capacity: usize,
    /// Probability that a chain restarts from the buffer rather than noise.
    pub reuse_prob: f64,
    pub mode: BufferMode,
    /// A chain restarted from the buffer keeps the code it was sampled
    /// under. When false it takes the fresh chain's code instead: split-MNIST
    /// keeps one buffer across tasks, so the model's pictures of old digits
    /// become negatives under the new task's labels (IGEBM samples negatives
    /// only with the current task's labels, from a buffer it maintains).
    #[serde(default = "keep_codes")]
    pub reuse_codes: bool,
}

fn keep_codes() -> bool {
    true
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            reuse_prob: 0.95,
            mode: BufferMode::Fifo,
            reuse_codes: true,
        }
    }
}

pub struct ReplayBuffer {
    pub config: ReplayConfig,
    samples: Option<Tensor>,
    codes: Option<Tensor>,
    len: usize,
    /// Next slot to overwrite (FIFO).
    next: usize,
    /// Samples ever pushed (reservoir).
    seen: u64,
}

impl ReplayBuffer {
    pub fn new(config: ReplayConfig) -> Self {
        Self {
            config,
            samples: None,
            codes: None,
            len: 0,
            next: 0,
            seen: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Starting points for a batch: each row of `fresh` (noise, with its code
    /// in `fresh_codes`) is replaced, with probability `reuse_prob`, by a
    /// uniformly chosen stored sample together with the code it was made with.
    pub fn draw(&self, fresh: &Tensor, fresh_codes: Option<&Tensor>) -> (Tensor, Option<Tensor>) {
        let batch = fresh.size()[0];
        let (Some(samples), true) = (&self.samples, self.len > 0) else {
            return (fresh.shallow_clone(), fresh_codes.map(|c| c.shallow_clone()));
        };
        let reuse = Tensor::rand([batch], (Kind::Float, fresh.device())).lt(self.config.reuse_prob);
        let index = Tensor::randint(self.len as i64, [batch], (Kind::Int64, fresh.device()));
        let stored = samples.index_select(0, &index);
        let mut shape = vec![batch];
        shape.resize(fresh.dim(), 1);
        let x = stored.where_self(&reuse.reshape(&shape[..]), fresh);
        let codes = match (&self.codes, fresh_codes) {
            (Some(stored_codes), Some(fresh_codes)) if self.config.reuse_codes => {
                let stored = stored_codes.index_select(0, &index);
                Some(stored.where_self(&reuse.unsqueeze(-1), fresh_codes))
            }
            _ => fresh_codes.map(|c| c.shallow_clone()),
        };
        (x, codes)
    }

    /// Stores a batch of samples and their codes.
    pub fn push(&mut self, x: &Tensor, codes: Option<&Tensor>) {
        let x = x.detach();
        let codes = codes.map(|c| c.detach());
        let capacity = self.config.capacity as i64;
        if self.samples.is_none() {
            let mut shape = x.size();
            shape[0] = capacity;
            self.samples = Some(Tensor::zeros(&shape[..], (x.kind(), x.device())));
            self.codes = codes
                .as_ref()
                .map(|c| Tensor::zeros([capacity, c.size()[1]], (c.kind(), c.device())));
        }
        let batch = x.size()[0] as usize;
        let slots: Vec<(i64, i64)> = (0..batch)
            .filter_map(|row| self.slot_for_next().map(|slot| (row as i64, slot)))
            .collect();
        if slots.is_empty() {
            return;
        }
        let rows = Tensor::from_slice(&slots.iter().map(|s| s.0).collect::<Vec<_>>());
        let targets = Tensor::from_slice(&slots.iter().map(|s| s.1).collect::<Vec<_>>());
        if let Some(samples) = &mut self.samples {
            let _ = samples.index_copy_(0, &targets, &x.index_select(0, &rows));
        }
        if let (Some(stored), Some(codes)) = (&mut self.codes, &codes) {
            let _ = stored.index_copy_(0, &targets, &codes.index_select(0, &rows));
        }
    }

    /// The slot the next pushed sample goes to, or None if reservoir sampling
    /// discards it.
    fn slot_for_next(&mut self) -> Option<i64> {
        let capacity = self.config.capacity;
        self.seen += 1;
        match self.config.mode {
            BufferMode::Fifo => {
                let slot = self.next;
                self.next = (self.next + 1) % capacity;
                self.len = (self.len + 1).min(capacity);
                Some(slot as i64)
            }
            BufferMode::Reservoir => {
                if self.len < capacity {
                    self.len += 1;
                    return Some(self.len as i64 - 1);
                }
                let j = Tensor::randint(self.seen as i64, [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0]);
                (j < capacity as i64).then_some(j)
            }
        }
    }

    /// Tensors and counters for saving with the training state.
    pub fn state(&self) -> (Vec<(String, Tensor)>, serde_json::Value) {
        let mut tensors = Vec::new();
        if let Some(s) = &self.samples {
            tensors.push(("buffer.samples".to_string(), s.narrow(0, 0, self.len.max(1) as i64).copy()));
        }
        if let Some(c) = &self.codes {
            tensors.push(("buffer.codes".to_string(), c.narrow(0, 0, self.len.max(1) as i64).copy()));
        }
        let meta = serde_json::json!({ "len": self.len, "next": self.next, "seen": self.seen });
        (tensors, meta)
    }

    /// Restores what [`ReplayBuffer::state`] saved.
    pub fn restore(&mut self, tensors: &std::collections::BTreeMap<String, Tensor>, meta: &serde_json::Value) -> Result<()> {
        let get = |key: &str| {
            meta.get(key)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| anyhow::anyhow!("replay buffer state lacks '{key}'"))
        };
        let (len, next, seen) = (get("len")? as usize, get("next")? as usize, get("seen")?);
        if len > self.config.capacity || next >= self.config.capacity.max(1) {
            bail!("replay buffer state (len {len}) does not fit capacity {}", self.config.capacity);
        }
        // The tensors come from a file: shapes are checked before tch sees them.
        let capacity = self.config.capacity as i64;
        let rows = |t: &Tensor, name: &str, dims: std::ops::RangeInclusive<usize>| -> Result<i64> {
            let r = t.size().first().copied().unwrap_or(0);
            if !dims.contains(&(t.dim())) || r < len as i64 || r > capacity {
                bail!(
                    "replay buffer tensor '{name}' has shape {:?}; it needs {len} to {capacity} rows",
                    t.size()
                );
            }
            Ok(r)
        };
        let sample_rows = tensors
            .get("buffer.samples")
            .map(|t| rows(t, "buffer.samples", 2..=5))
            .transpose()?;
        let code_rows = tensors.get("buffer.codes").map(|t| rows(t, "buffer.codes", 2..=2)).transpose()?;
        if sample_rows.is_some() && code_rows.is_some() && sample_rows != code_rows {
            bail!("replay buffer samples and codes have different numbers of rows");
        }
        *self = ReplayBuffer::new(self.config.clone());
        if let Some(samples) = tensors.get("buffer.samples") {
            let mut shape = samples.size();
            shape[0] = self.config.capacity as i64;
            let full = Tensor::zeros(&shape[..], (samples.kind(), samples.device()));
            full.narrow(0, 0, samples.size()[0]).copy_(samples);
            self.samples = Some(full);
        }
        if let Some(codes) = tensors.get("buffer.codes") {
            let full = Tensor::zeros([self.config.capacity as i64, codes.size()[1]], (codes.kind(), codes.device()));
            full.narrow(0, 0, codes.size()[0]).copy_(codes);
            self.codes = Some(full);
        }
        self.len = len;
        self.next = next;
        self.seen = seen;
        Ok(())
    }
}
