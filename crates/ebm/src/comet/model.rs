//! A COMET model as a plain value: its configuration and its variables, with
//! a checkpoint (one safetensors file, card in the metadata) like every
//! other model of the project.

use super::config::{CometConfig, EnergyKind};
use super::experts::{ExpertField, ExpertFields};
use super::network::{ComponentEnergy, Encoder};
use crate::checkpoint::{check_card_header, copy_checked, FORMAT_VERSION};
use crate::energy::network::named_variables;
use crate::io::{read_tensor_file, write_tensor_file};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn::VarStore, Device, Kind, Tensor};

const COMET_KIND: &str = "ebm-comet";

pub struct Comet {
    pub config: CometConfig,
    pub vs: VarStore,
    encoder: Encoder,
    energy: EnergyNet,
}

enum EnergyNet {
    Network(ComponentEnergy),
    Experts(ExpertField),
}

/// Latents `[B, K, latent]` made ready for repeated energy evaluations:
/// the expert fields do not depend on x, so a descent draws them once.
pub enum Conditioned {
    Latents(Tensor),
    Experts { fields: ExpertFields, b: i64, k: i64 },
}

/// What a COMET checkpoint says about its model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CometCard {
    pub kind: String,
    pub format_version: u32,
    pub written_by: String,
    pub config: CometConfig,
    /// The data it was trained on (dataset name and parameters).
    pub data: serde_json::Value,
    /// The training configuration and command, as given.
    pub training: serde_json::Value,
    pub metrics: serde_json::Value,
}

impl CometCard {
    pub fn new(config: CometConfig, data: serde_json::Value, training: serde_json::Value) -> Self {
        Self {
            kind: COMET_KIND.into(),
            format_version: FORMAT_VERSION,
            written_by: format!("ebm {}", env!("CARGO_PKG_VERSION")),
            config,
            data,
            training,
            metrics: serde_json::Value::Null,
        }
    }
}

impl Comet {
    /// A freshly initialised model (libtorch's generator decides the
    /// weights: seed it first for reproducible runs).
    pub fn new(config: CometConfig, device: Device) -> Result<Self, String> {
        config.validate()?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let encoder = Encoder::new(&(&root / "encoder"), &config);
        let path = &root / "energy";
        let energy = match config.energy {
            EnergyKind::Network => EnergyNet::Network(ComponentEnergy::new(&path, &config)),
            EnergyKind::Experts => EnergyNet::Experts(ExpertField::new(&path, &config)),
        };
        Ok(Self {
            config,
            vs,
            encoder,
            energy,
        })
    }

    /// Converts every variable to f64 (gradient checks).
    pub fn to_double(&mut self) {
        self.vs.set_kind(Kind::Double);
    }

    /// Images `[B, C, S, S]` → latents `[B, K, latent]`.
    pub fn encode(&self, images: &Tensor) -> Tensor {
        self.encoder.forward(images)
    }

    /// Eₖ for every component: `x` `[B, C, S, S]` (shared by the components)
    /// or `[B, K, C, S, S]` (one image per component), `z` `[B, K, latent]`
    /// → `[B, K]`.
    pub fn component_energies(&self, x: &Tensor, z: &Tensor) -> Tensor {
        self.energies_given(&self.condition(z), x)
    }

    /// Prepares latents `[B, K, latent]` for [`Comet::energies_given`].
    pub fn condition(&self, z: &Tensor) -> Conditioned {
        let zs = z.size();
        match &self.energy {
            EnergyNet::Network(_) => Conditioned::Latents(z.shallow_clone()),
            EnergyNet::Experts(field) => Conditioned::Experts {
                fields: field.fields(&z.reshape([zs[0] * zs[1], zs[2]])),
                b: zs[0],
                k: zs[1],
            },
        }
    }

    /// Eₖ `[B, K]` of conditioned latents at `x` (shapes as
    /// [`Comet::component_energies`]).
    pub fn energies_given(&self, conditioned: &Conditioned, x: &Tensor) -> Tensor {
        match (&self.energy, conditioned) {
            (_, Conditioned::Experts { fields, b, k }) => fields.energies(x, *b, *k),
            (EnergyNet::Network(network), Conditioned::Latents(z)) => {
                let zs = z.size();
                let (b, k) = (zs[0], zs[1]);
                let per_component = match x.dim() {
                    4 => x.unsqueeze(1).expand([b, k, -1, -1, -1], false),
                    _ => x.shallow_clone(),
                };
                let xs = per_component.size();
                let flat = per_component.reshape([b * k, xs[2], xs[3], xs[4]]);
                network.forward(&flat, &z.reshape([b * k, zs[2]])).view([b, k])
            }
            (EnergyNet::Experts(_), Conditioned::Latents(z)) => self.energies_given(&self.condition(z), x),
        }
    }

    /// Each pixel's share per component `[B, K, S, S]` for Gaussian-expert
    /// energies (see [`ExpertFields::shares`]); `None` for a network energy.
    pub fn precision_shares(&self, z: &Tensor, x: Option<&Tensor>, fit_weight: f64) -> Option<Tensor> {
        match self.condition(z) {
            Conditioned::Experts { fields, b, k } => Some(fields.shares(b, k, x, fit_weight)),
            Conditioned::Latents(_) => None,
        }
    }

    /// Trainable variables, sorted by name (the order Adam's moments keep).
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        named_variables(&self.vs).into_iter().filter(|(_, t)| t.requires_grad()).collect()
    }

    pub fn parameter_count(&self) -> i64 {
        self.parameters().iter().map(|(_, t)| t.numel() as i64).sum()
    }

    /// Writes the model atomically with `card` (whose config must be the model's).
    pub fn save(&self, path: &Path, card: &CometCard) -> Result<()> {
        anyhow::ensure!(
            card.config == self.config,
            "internal error: the card's config differs from the model's"
        );
        let tensors = named_variables(&self.vs);
        write_tensor_file(path, &tensors, &serde_json::to_value(card)?).with_context(|| format!("saving COMET model {}", path.display()))
    }

    /// Loads a checkpoint through the same checks as every model: kind,
    /// version, a valid config, every tensor present, shaped and finite.
    pub fn load(path: &Path, device: Device) -> Result<(Self, CometCard)> {
        let context = || format!("COMET checkpoint {} is unusable", path.display());
        let file = read_tensor_file(path).with_context(context)?;
        if let Some(kind) = file.metadata.get("kind").and_then(|k| k.as_str()) {
            if kind != COMET_KIND {
                return Err(anyhow::anyhow!(
                    "it is not a COMET model but {}",
                    crate::checkpoint::other_kind(kind)
                ))
                .with_context(context);
            }
        }
        let card: CometCard = serde_json::from_value(file.metadata)
            .map_err(|e| anyhow::anyhow!("its card is malformed: {e}"))
            .with_context(context)?;
        check_card_header(&card.kind, COMET_KIND, card.format_version, &card.written_by).with_context(context)?;
        let model = Self::new(card.config.clone(), device)
            .map_err(|e| anyhow::anyhow!("its architecture is invalid: {e}"))
            .with_context(context)?;
        copy_checked(&file.tensors, &model.vs).with_context(context)?;
        Ok((model, card))
    }
}
