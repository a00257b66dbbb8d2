//! Judges: small CNNs that read factors off images (a head per factor), used
//! to score generated samples as the papers do.

use crate::checkpoint::{check_card_header, copy_checked, FORMAT_VERSION};
use crate::energy::layers::{Conv3, Dense};
use crate::io::{read_tensor_file, write_tensor_file};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn::VarStore, Device, Tensor};

const JUDGE_KIND: &str = "ebm-judge";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HeadKind {
    /// Logits over named classes.
    Classes { names: Vec<String> },
    /// A real vector; an estimate counts as correct within `tolerance`
    /// (Euclidean).
    Regression { dims: i64, tolerance: f64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub name: String,
    #[serde(flatten)]
    pub kind: HeadKind,
}

impl Head {
    pub fn outputs(&self) -> i64 {
        match &self.kind {
            HeadKind::Classes { names } => names.len() as i64,
            HeadKind::Regression { dims, .. } => *dims,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeConfig {
    pub channels: i64,
    pub size: i64,
    /// Per width: `convs_per_stage` 3×3 convs, each followed by ReLU, then
    /// 2×2 max-pooling.
    pub widths: Vec<i64>,
    /// 1 (tensors `stage{i}.*`) or 2 (`stage{i}.a.*`, `stage{i}.b.*`).
    #[serde(default = "one_conv")]
    pub convs_per_stage: usize,
    pub hidden: i64,
    pub heads: Vec<Head>,
}

fn one_conv() -> usize {
    1
}

impl JudgeConfig {
    fn validate(&self) -> Result<(), String> {
        if !(1..=2).contains(&self.convs_per_stage) {
            return Err(format!("convs_per_stage must be 1 or 2, got {}", self.convs_per_stage));
        }
        if self.channels < 1 || self.size >> self.widths.len() < 1 || self.widths.iter().any(|&w| w < 1) || self.hidden < 1 {
            return Err(format!(
                "channels {}, size {}, widths {:?}, hidden {} do not make a network",
                self.channels, self.size, self.widths, self.hidden
            ));
        }
        if self.heads.is_empty() || self.heads.iter().any(|h| h.outputs() < 1) {
            return Err("a judge needs at least one head with at least one output".into());
        }
        Ok(())
    }
}

pub struct Judge {
    pub config: JudgeConfig,
    pub vs: VarStore,
    stages: Vec<Vec<Conv3>>,
    hidden: Dense,
    heads: Vec<Dense>,
}

/// What a judge's checkpoint says about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JudgeCard {
    pub kind: String,
    pub format_version: u32,
    pub written_by: String,
    pub config: JudgeConfig,
    pub data: serde_json::Value,
    /// Held-out accuracy per head, measured after training.
    pub metrics: serde_json::Value,
}

impl Judge {
    pub fn new(config: JudgeConfig) -> Self {
        let vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let mut stages = Vec::new();
        let mut width = config.channels;
        for (i, &w) in config.widths.iter().enumerate() {
            let path = &root / format!("stage{i}");
            stages.push(match config.convs_per_stage {
                1 => vec![Conv3::new(&path, width, w, false, 2f64.sqrt())],
                _ => vec![
                    Conv3::new(&(&path / "a"), width, w, false, 2f64.sqrt()),
                    Conv3::new(&(&path / "b"), w, w, false, 2f64.sqrt()),
                ],
            });
            width = w;
        }
        let spatial = config.size >> config.widths.len();
        let hidden = Dense::new(&(&root / "hidden"), width * spatial * spatial, config.hidden, false, 2f64.sqrt());
        let heads = config
            .heads
            .iter()
            .map(|h| Dense::new(&(&root / format!("head_{}", h.name)), config.hidden, h.outputs(), false, 1.0))
            .collect();
        Self {
            config,
            vs,
            stages,
            hidden,
            heads,
        }
    }

    /// One output per head: logits `[B, classes]` or estimates `[B, dims]`.
    pub fn forward(&self, images: &Tensor) -> Vec<Tensor> {
        let h = self.features(images);
        self.heads.iter().map(|head| head.forward(&h)).collect()
    }

    /// The penultimate features `[B, hidden]` every head reads (the
    /// realism figure's feature space).
    pub fn features(&self, images: &Tensor) -> Tensor {
        let mut h = images.to_kind(tch::Kind::Float);
        for stage in &self.stages {
            for conv in stage {
                h = conv.forward(&h).relu();
            }
            h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        self.hidden.forward(&h.flatten(1, -1)).relu()
    }

    pub fn head_index(&self, name: &str) -> Option<usize> {
        self.config.heads.iter().position(|h| crate::names::same_name(&h.name, name))
    }

    pub fn save(&self, path: &Path, data: serde_json::Value, metrics: serde_json::Value) -> Result<()> {
        let card = JudgeCard {
            kind: JUDGE_KIND.into(),
            format_version: FORMAT_VERSION,
            written_by: format!("ebm {}", env!("CARGO_PKG_VERSION")),
            config: self.config.clone(),
            data,
            metrics,
        };
        let tensors = crate::energy::network::named_variables(&self.vs);
        write_tensor_file(path, &tensors, &serde_json::to_value(&card)?).with_context(|| format!("saving judge {}", path.display()))
    }

    /// Loads a judge through the same checks as every checkpoint.
    pub fn load(path: &Path) -> Result<(Self, JudgeCard)> {
        let context = || format!("judge checkpoint {} is unusable", path.display());
        let file = read_tensor_file(path).with_context(context)?;
        let card: JudgeCard = serde_json::from_value(file.metadata)
            .map_err(|e| anyhow::anyhow!("its card is malformed: {e}"))
            .with_context(context)?;
        check_card_header(&card.kind, JUDGE_KIND, card.format_version, &card.written_by).with_context(context)?;
        card.config
            .validate()
            .map_err(|e| anyhow::anyhow!("its architecture is invalid: {e}"))
            .with_context(context)?;
        let mut judge = Judge::new(card.config.clone());
        copy_checked(&file.tensors, &judge.vs).with_context(context)?;
        // Shipped judges call a head `colour` (its weights keep that name);
        // it is printed as `color`, and either spelling finds it.
        for head in &mut judge.config.heads {
            head.name = crate::names::canonical(&head.name);
        }
        Ok((judge, card))
    }
}
