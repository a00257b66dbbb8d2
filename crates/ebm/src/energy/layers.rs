//! Building blocks: dense and 3×3 convolution layers with optional spectral
//! norm, FiLM conditioning, activations.

use super::compute::weight_for;
use super::spectral::SpectralNorm;
use serde::{Deserialize, Serialize};
use tch::{nn::Init, nn::Path, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// x·sigmoid(x); smooth, which the IGEBM authors found stabilises training.
    Swish,
    /// max(x, 0.2x).
    LeakyRelu,
}

crate::named!(Activation, "activation", [Swish => "swish", LeakyRelu => "leaky-relu"]);

impl Activation {
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Swish => x * x.sigmoid(),
            Activation::LeakyRelu => x.maximum(&(x * 0.2)),
        }
    }
}

/// A weight tensor, divided by its spectral norm when one is attached.
pub struct Weight {
    pub raw: Tensor,
    spectral: Option<SpectralNorm>,
}

impl Weight {
    fn new(path: &Path, dims: &[i64], init: Init, spectral: bool) -> Self {
        let raw = path.var("weight", dims, init);
        let spectral = spectral.then(|| SpectralNorm::new(path, &raw));
        Self { raw, spectral }
    }

    pub fn value(&self) -> Tensor {
        match &self.spectral {
            Some(sn) => sn.apply(&self.raw),
            None => self.raw.shallow_clone(),
        }
    }

    pub fn power_iteration(&self) {
        if let Some(sn) = &self.spectral {
            sn.power_iteration(&self.raw);
        }
    }
}

fn fan_in_init(fan_in: i64, gain: f64) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: gain / (fan_in as f64).sqrt(),
    }
}

pub struct Dense {
    pub weight: Weight,
    pub bias: Tensor,
}

impl Dense {
    /// `init_gain` scales the default 1/√fan_in init; it matters only without
    /// spectral norm, which removes a weight's scale.
    pub fn new(path: &Path, inputs: i64, outputs: i64, spectral: bool, init_gain: f64) -> Self {
        let weight = Weight::new(path, &[outputs, inputs], fan_in_init(inputs, init_gain), spectral);
        let bias = path.var("bias", &[outputs], Init::Const(0.0));
        Self { weight, bias }
    }

    /// Computes in `x`'s kind: a bf16 input casts the (fp32) weight as it
    /// is used, and autograd casts its gradient back (see `compute`).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        x.linear(&self.weight.value().to_kind(kind), Some(&self.bias.to_kind(kind)))
    }
}

pub struct Conv3 {
    pub weight: Weight,
    pub bias: Tensor,
}

impl Conv3 {
    pub fn new(path: &Path, inputs: i64, outputs: i64, spectral: bool, init_gain: f64) -> Self {
        let weight = Weight::new(path, &[outputs, inputs, 3, 3], fan_in_init(inputs * 9, init_gain), spectral);
        let bias = path.var("bias", &[outputs], Init::Const(0.0));
        Self { weight, bias }
    }

    /// Computes in `x`'s kind and layout (as [`Dense::forward`]).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let weight = weight_for(&self.weight.value(), x);
        x.conv2d(&weight, Some(weight_for(&self.bias, x)), [1, 1], [1, 1], [1, 1], 1)
    }
}

/// FiLM: a per-channel gain and bias computed linearly from the code,
/// h ↦ h·(1 + g(c)) + b(c). The gain is centred on 1 so a zero code is neutral.
pub struct Film {
    gain: Dense,
    bias: Dense,
}

impl Film {
    pub fn new(path: &Path, code_dim: i64, channels: i64, spectral: bool) -> Self {
        Self {
            gain: Dense::new(&(path / "gain"), code_dim, channels, spectral, 1.0),
            bias: Dense::new(&(path / "bias"), code_dim, channels, spectral, 1.0),
        }
    }

    /// `h: [B, C, ...]`, `code: [B, code_dim]`.
    pub fn forward(&self, h: &Tensor, code: &Tensor) -> Tensor {
        // In h's kind, so a bf16 trunk stays bf16 (an fp32 gain would promote it).
        let code = &code.to_kind(h.kind());
        let mut shape = vec![h.size()[0], h.size()[1]];
        shape.resize(h.dim(), 1);
        let gain = self.gain.forward(code).reshape(&shape[..]) + 1.0;
        let bias = self.bias.forward(code).reshape(&shape[..]);
        h * gain + bias
    }

    pub fn power_iteration(&self) {
        self.gain.weight.power_iteration();
        self.bias.weight.power_iteration();
    }
}

/// Brings a code to the network's dtype, or complains if a conditional network
/// got none (a programming error: user input is validated at the CLI/checkpoint
/// boundary before it reaches a network).
pub fn require_code(code: Option<&Tensor>, code_dim: i64) -> Option<&Tensor> {
    if code_dim == 0 {
        return None;
    }
    let code = code.expect("this energy is conditional: pass a code of shape [B, code_dim]");
    assert_eq!(code.size().last().copied(), Some(code_dim), "code has the wrong width");
    Some(code)
}
