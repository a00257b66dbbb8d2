//! Trainable energies: the [`Network`] trait and the serialisable
//! [`Architecture`] that rebuilds one from a checkpoint.

use super::{Compute, ConvConfig, ConvEnergy, DenoiserConfig, DenoiserEnergy, Energy, MlpConfig, MlpEnergy};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

/// An energy with parameters. The parameters live in a `VarStore` owned by the
/// network, so a network is a plain value: build it from an [`Architecture`],
/// copy weights in or out by name.
pub trait Network: Energy {
    fn var_store(&self) -> &VarStore;
    fn var_store_mut(&mut self) -> &mut VarStore;
    fn architecture(&self) -> Architecture;
    /// One power-iteration step for every spectrally normalised weight. The
    /// trainer calls it once per step; sampling never does (see `spectral`).
    fn power_iteration(&self);
    /// The network as a denoiser-shaped energy, for the `denoise` objective.
    fn as_denoiser(&self) -> Option<&DenoiserEnergy> {
        None
    }
    /// How the network computes (precision, layout; see `compute`). Networks
    /// without convolutions ignore it: their matmuls are too small to gain.
    fn set_compute(&mut self, compute: Compute) {
        let _ = compute;
    }
    fn compute(&self) -> Compute {
        Compute::REFERENCE
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Architecture {
    Mlp(MlpConfig),
    Conv(ConvConfig),
    Denoiser(DenoiserConfig),
}

impl Architecture {
    /// Width of the code the network is conditioned on (0: unconditional).
    pub fn code_dim(&self) -> i64 {
        match self {
            Architecture::Mlp(c) => c.code_dim,
            Architecture::Conv(c) => c.code_dim,
            Architecture::Denoiser(c) => c.code_dim,
        }
    }

    /// Shape of one input, without the batch dimension.
    pub fn input_shape(&self) -> Vec<i64> {
        match self {
            Architecture::Mlp(c) if c.input_shape.is_empty() => vec![c.input_dim],
            Architecture::Mlp(c) => c.input_shape.clone(),
            Architecture::Conv(c) => vec![c.channels, c.size, c.size],
            Architecture::Denoiser(c) => vec![c.channels, c.size, c.size],
        }
    }

    /// Checks the numbers make a buildable network.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Architecture::Mlp(c) => c.validate(),
            Architecture::Conv(c) => c.validate(),
            Architecture::Denoiser(c) => c.validate(),
        }
    }

    /// A freshly initialised network (float32 on the CPU unless moved).
    pub fn build(&self, device: Device) -> Box<dyn Network> {
        match self {
            Architecture::Mlp(c) => Box::new(MlpEnergy::new(c.clone(), device)),
            Architecture::Conv(c) => Box::new(ConvEnergy::new(c.clone(), device)),
            Architecture::Denoiser(c) => Box::new(DenoiserEnergy::new(c.clone(), device)),
        }
    }
}

/// All variables of a network (trainable and buffers) sorted by name, so that
/// every iteration over parameters has one fixed order.
pub fn named_variables(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Trainable variables only, sorted by name.
pub fn named_parameters(vs: &VarStore) -> Vec<(String, Tensor)> {
    named_variables(vs).into_iter().filter(|(_, t)| t.requires_grad()).collect()
}

/// Stops training every parameter whose name `keep_training` rejects (a
/// trainer built afterwards leaves it as it is); returns how many were
/// frozen.
pub fn freeze_parameters(vs: &VarStore, keep_training: &dyn Fn(&str) -> bool) -> usize {
    let mut frozen = 0;
    for (name, var) in named_parameters(vs) {
        if !keep_training(&name) {
            let _ = var.set_requires_grad(false);
            frozen += 1;
        }
    }
    frozen
}

/// Copies every variable of `from` into `to` (same architecture).
pub fn copy_weights(from: &VarStore, to: &VarStore) {
    let source: std::collections::HashMap<_, _> = from.variables().into_iter().collect();
    tch::no_grad(|| {
        for (name, mut dst) in named_variables(to) {
            let src = &source[&name];
            dst.copy_(&src.to_kind(dst.kind()));
        }
    });
}

/// Copy of a convolutional or denoiser network with its energy multiplied
/// by `scale` (`ConvConfig::energy_scale`, the guidance scale of a posterior
/// read-out; `DenoiserConfig::energy_scale`, a product member's 1/K); the
/// weights are the same.
pub fn with_energy_scale(net: &dyn Network, scale: f64) -> Result<Box<dyn Network>, String> {
    let architecture = match net.architecture() {
        Architecture::Conv(config) => Architecture::Conv(ConvConfig {
            energy_scale: scale,
            ..config
        }),
        Architecture::Denoiser(config) => Architecture::Denoiser(DenoiserConfig {
            energy_scale: scale,
            ..config
        }),
        _ => return Err("only convolutional and denoiser energies have an energy_scale".into()),
    };
    architecture.validate()?;
    let scaled = architecture.build(net.var_store().device());
    copy_weights(net.var_store(), scaled.var_store());
    Ok(scaled)
}

/// Copy of a network with its weights cast to `kind` (e.g. BFloat16 for
/// sampling). Inputs are cast on the way in and energies cast back, so the
/// caller's chain state keeps its own precision.
pub fn cast_network(net: &dyn Network, kind: Kind) -> Box<dyn Network> {
    let mut copy = net.architecture().build(net.var_store().device());
    copy_weights(net.var_store(), copy.var_store());
    copy.var_store_mut().set_kind(kind);
    copy
}
