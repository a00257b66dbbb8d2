//! `ConvEnergy`: the residual convolutional energy of IGEBM.
//!
//! input conv3×3 → per width: residual block then 2×2 average pool → act →
//! sum (or mean) over space → dense → 1. A block is conv3×3 → FiLM → act →
//! conv3×3, scaled by a learnable residual gain, plus the input (through a
//! 3×3 conv only when the width changes), then act. No normalisation layers:
//! they couple the samples of a batch and hurt sampling.
//!
//! Design: the reference initialises each block's second conv near zero so a
//! block starts as the identity. Under spectral norm a weight's scale cancels
//! (W/σ), so that init alone would do nothing; the block's learnable residual
//! gain, initialised at 0, gives the same start with spectral norm on or off.

use super::compute::Compute;
use super::layers::{require_code, Activation, Conv3, Dense, Film};
use super::network::{Architecture, Network};
use super::readout::{CodeTerm, Readout};
use super::view::{coordinate_channels, gaussian_blur, InputView};
use super::Energy;
use serde::{Deserialize, Serialize};
use tch::{nn::Init, nn::Path, nn::VarStore, Device, Kind, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpatialPool {
    Sum,
    Mean,
    /// Strongest response anywhere: ∇ₓE then concentrates where that
    /// response is (an object) instead of spreading over the whole image.
    Max,
}

crate::named!(SpatialPool, "pooling", [Sum => "sum", Mean => "mean", Max => "max"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvConfig {
    pub channels: i64,
    /// Height = width of the input.
    pub size: i64,
    /// One residual block (followed by 2×2 average pooling) per width.
    pub widths: Vec<i64>,
    #[serde(default)]
    pub code_dim: i64,
    pub activation: Activation,
    pub spectral_norm: bool,
    pub pool: SpatialPool,
    /// Append two coordinate channels (u, v in [−1, 1]) to the input. Spatial
    /// pooling discards where features are, so a model conditioned on
    /// position needs them to tell an object at (0.3, 0.7) from one at (0.7, 0.3).
    #[serde(default)]
    pub coords: bool,
    /// Starting value of every block's residual gain. 0 is ReZero: blocks
    /// start as the identity, and codes (which enter through the residual
    /// branch) act only once Adam has grown a gain, ~lr per step: at lr
    /// 3e-4 a digit code still did nothing after 50 steps (11 % test
    /// accuracy with a cross-entropy term). 1 is a plain residual block.
    #[serde(default)]
    pub residual_gain: f64,
    /// Let the code also read the pooled features directly:
    /// E(x | c) = w·φ(x) + (U c)·φ(x). With FiLM alone, a label reaches the
    /// energy only through products deep in the network, and a digit model
    /// trained with cross-entropy on −E still predicted one class for every
    /// test digit after 60 steps; this bilinear read-out is JEM's
    /// E(x | y) = −f(x)[y] beside the FiLM path.
    #[serde(default)]
    pub code_head: bool,
    /// Scale of the convolutions' initial weights (std = gain/√fan-in). At
    /// 1 a swish network starts with small activations where swish is
    /// nearly linear (x/2), so the energy is close to a linear function of
    /// x and learns to tell digits apart slowly; √2–2 starts it nonlinear.
    #[serde(default = "unit_gain")]
    pub init_gain: f64,
    /// How the code reaches the energy (see `readout`); with a
    /// discriminative read-out the trunk has no FiLM and ignores the code.
    #[serde(default)]
    pub readout: Readout,
    /// Width of a dense layer over the flattened last feature map, in place
    /// of spatial pooling (0: pool). Keeps where and what shape things are,
    /// as the shapes judge's head does.
    #[serde(default)]
    pub dense_head: i64,
    /// Std (pixels) of a fixed Gaussian blur the network reads its input
    /// through (0: none). ∇ₓE is then low-pass too, so gradient steps cannot
    /// write the pixel-level textures that fool a classifier-shaped trunk.
    #[serde(default)]
    pub input_blur: f64,
    /// The channels the network reads (`view`): the image, or a colour-blind
    /// view of it. Not written when RGB, so older cards read back unchanged.
    #[serde(default, skip_serializing_if = "InputView::is_rgb")]
    pub view: InputView,
    /// A constant the energy is multiplied by. For a `posterior` read-out
    /// it is the classifier-guidance scale γ: composed with models that
    /// carry the scene, p(x | c) ∝ p(x)·p(c | x)^γ. Training never sets it
    /// (1); it is chosen afterwards on validation rows and written into the
    /// card (`examples/edit_card.rs`), since a posterior that pulls at full
    /// strength pulls the chain off its partners' scenes.
    /// (Not written when 1, so the cards, and checksums, of files written
    /// before it existed read back unchanged.)
    #[serde(default = "unit_gain", skip_serializing_if = "is_unit")]
    pub energy_scale: f64,
}

pub(super) fn unit_gain() -> f64 {
    1.0
}

pub(super) fn is_unit(value: &f64) -> bool {
    *value == 1.0
}

impl ConvConfig {
    /// The documented base: IGEBM's residual energy on `channels`×`size`²
    /// inputs, one block per width — unconditional, swish, spectral norm,
    /// spatial sum, ReZero blocks (gain 0), FiLM, no coordinates, blur or
    /// dense head. Recipes are their differences from it.
    pub fn base(channels: i64, size: i64, widths: &[i64]) -> Self {
        Self {
            channels,
            size,
            widths: widths.to_vec(),
            code_dim: 0,
            activation: super::Activation::Swish,
            spectral_norm: true,
            pool: SpatialPool::Sum,
            coords: false,
            residual_gain: 0.0,
            code_head: false,
            init_gain: 1.0,
            readout: Readout::Film,
            dense_head: 0,
            input_blur: 0.0,
            view: InputView::Rgb,
            energy_scale: 1.0,
        }
    }

    /// Multiply-adds ×2 of one forward pass over `batch` images: the 3×3
    /// convolutions (input, two per block, a skip where the width changes)
    /// and the dense layers; element-wise work is not counted. An input
    /// gradient costs about as much again, a weight gradient as much again.
    pub fn forward_flops(&self, batch: i64) -> f64 {
        let conv = |inputs: i64, outputs: i64, side: i64| 2.0 * 9.0 * (inputs * outputs * side * side) as f64;
        let inputs = self.channels + if self.coords { 2 } else { 0 };
        let mut total = conv(inputs, self.widths[0], self.size);
        let (mut width, mut side) = (self.widths[0], self.size);
        for &w in &self.widths {
            total += conv(width, w, side) + conv(w, w, side);
            if w != width {
                total += conv(width, w, side);
            }
            width = w;
            side /= 2;
        }
        let features = if self.dense_head > 0 {
            total += 2.0 * (width * side * side * self.dense_head) as f64;
            self.dense_head
        } else {
            width
        };
        (total + 2.0 * features as f64) * batch as f64
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.channels < 1 || self.size < 1 {
            return Err(format!("channels and size must be ≥ 1, got {} and {}", self.channels, self.size));
        }
        if self.widths.is_empty() || self.widths.iter().any(|&w| w < 1) {
            return Err(format!(
                "widths must be a non-empty list of positive numbers, got {:?}",
                self.widths
            ));
        }
        if self.size >> self.widths.len() < 1 {
            return Err(format!(
                "{} downsamplings leave nothing of a {}×{} input; use fewer widths or larger images",
                self.widths.len(),
                self.size,
                self.size
            ));
        }
        if self.code_dim < 0 {
            return Err(format!("code_dim must be ≥ 0, got {}", self.code_dim));
        }
        if self.readout != Readout::Film && (self.code_dim == 0 || self.code_head) {
            return Err(format!(
                "the {} read-out needs a code (code_dim > 0) and replaces the code head (code_head false)",
                crate::names::Named::name(self.readout)
            ));
        }
        if !(self.energy_scale > 0.0 && self.energy_scale.is_finite()) {
            return Err(format!("energy_scale must be a positive number, got {}", self.energy_scale));
        }
        if !(self.input_blur >= 0.0 && self.input_blur <= 4.0) {
            return Err(format!("input_blur is a blur std in pixels in [0, 4], got {}", self.input_blur));
        }
        self.view.require_spatial("this energy")?;
        if self.dense_head < 0 {
            return Err(format!("dense_head must be ≥ 0 (0 pools over space), got {}", self.dense_head));
        }
        if self.code_head && self.code_dim == 0 {
            return Err("code_head reads a code: set code_dim > 0 or code_head false".into());
        }
        Ok(())
    }
}

pub struct ResBlock {
    conv1: Conv3,
    conv2: Conv3,
    film: Option<Film>,
    skip: Option<Conv3>,
    residual_gain: Tensor,
}

impl ResBlock {
    pub fn new(path: &Path, inputs: i64, outputs: i64, config: &ConvConfig) -> Self {
        let (spectral, init) = (config.spectral_norm, config.init_gain);
        Self {
            conv1: Conv3::new(&(path / "conv1"), inputs, outputs, spectral, init),
            // With gain 0, blocks start as the identity through the gain alone (ReZero).
            // Shrinking conv2 as well made a saddle without spectral norm:
            // the gain's gradient is conv2's output and conv2's is the gain,
            // both ~0, so codes (which enter through this branch) were
            // ignored for hundreds of steps.
            conv2: Conv3::new(&(path / "conv2"), outputs, outputs, spectral, init),
            film: (config.code_dim > 0 && config.readout == Readout::Film)
                .then(|| Film::new(&(path / "film"), config.code_dim, outputs, spectral)),
            skip: (inputs != outputs).then(|| Conv3::new(&(path / "skip"), inputs, outputs, spectral, init)),
            residual_gain: path.var("residual_gain", &[1], Init::Const(config.residual_gain)),
        }
    }

    pub fn forward(&self, x: &Tensor, code: Option<&Tensor>, act: Activation) -> Tensor {
        let mut h = self.conv1.forward(x);
        if let (Some(film), Some(code)) = (&self.film, code) {
            h = film.forward(&h, code);
        }
        let h = self.conv2.forward(&act.apply(&h)) * self.residual_gain.to_kind(h.kind());
        let skip = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x.shallow_clone(),
        };
        act.apply(&(h + skip))
    }

    fn power_iteration(&self) {
        self.conv1.weight.power_iteration();
        self.conv2.weight.power_iteration();
        if let Some(skip) = &self.skip {
            skip.weight.power_iteration();
        }
        if let Some(film) = &self.film {
            film.power_iteration();
        }
    }
}

pub struct ConvEnergy {
    config: ConvConfig,
    vs: VarStore,
    input: Conv3,
    blocks: Vec<ResBlock>,
    dense: Option<Dense>,
    head: Dense,
    code_head: Option<Dense>,
    code_term: Option<CodeTerm>,
    compute: Compute,
}

impl ConvEnergy {
    pub fn new(config: ConvConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let inputs = config.view.channels(config.channels) + if config.coords { 2 } else { 0 };
        let input = Conv3::new(&(&root / "input"), inputs, config.widths[0], config.spectral_norm, config.init_gain);
        let mut blocks = Vec::new();
        let mut width = config.widths[0];
        for (i, &w) in config.widths.iter().enumerate() {
            blocks.push(ResBlock::new(&(&root / format!("block{i}")), width, w, &config));
            width = w;
        }
        let spatial = config.size >> config.widths.len();
        let dense = (config.dense_head > 0).then(|| {
            Dense::new(
                &(&root / "dense"),
                width * spatial * spatial,
                config.dense_head,
                false,
                config.init_gain,
            )
        });
        let features = if config.dense_head > 0 { config.dense_head } else { width };
        let head = Dense::new(&(&root / "head"), features, 1, false, 1.0);
        let code_head =
            (config.code_head && config.code_dim > 0).then(|| Dense::new(&(&root / "code_head"), config.code_dim, features, false, 1.0));
        let code_term = CodeTerm::new(&(&root / "code_term"), config.readout, features, config.code_dim);
        Self {
            config,
            vs,
            input,
            blocks,
            dense,
            head,
            code_head,
            code_term,
            compute: super::compute::default_compute(),
        }
    }

    /// The parameters' kind: what energies and pooled features come out in.
    fn param_kind(&self) -> Kind {
        self.head.bias.kind()
    }
}

impl ConvEnergy {
    /// The trunk: `[B, F]` features of `x`, in the parameters' kind. The
    /// convolutions run as `self.compute` says; the spatial sum is taken
    /// in the parameters' kind, so a bf16 trunk's energy is not a sum of
    /// 64 rounded terms.
    fn features(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let kind = self.param_kind();
        let act = self.config.activation;
        let mut h = self.config.view.apply(&x.to_kind(kind));
        if self.config.input_blur > 0.0 {
            h = gaussian_blur(&h, self.config.input_blur);
        }
        if self.config.coords {
            h = Tensor::cat(&[h.shallow_clone(), coordinate_channels(&h)], 1);
        }
        let h = self.compute.prepare(&h, kind);
        let code = code.map(|c| c.to_kind(h.kind()));
        let mut h = self.input.forward(&h);
        for block in &self.blocks {
            h = block.forward(&h, code.as_ref(), act);
            h = h.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None);
        }
        let h = act.apply(&h);
        if let Some(dense) = &self.dense {
            return act.apply(&dense.forward(&h.flatten(1, -1))).to_kind(kind);
        }
        match self.config.pool {
            SpatialPool::Sum => h.sum_dim_intlist([2i64, 3].as_slice(), false, kind),
            SpatialPool::Mean => h.mean_dim([2i64, 3].as_slice(), false, kind),
            SpatialPool::Max => h.flatten(2, 3).amax([2i64].as_slice(), false).to_kind(kind),
        }
    }

    /// The energy from the trunk's features and the code.
    fn output(&self, features: &Tensor, code: Option<&Tensor>) -> Tensor {
        let energy = self.unscaled_output(features, code);
        match self.config.energy_scale {
            1.0 => energy,
            scale => energy * scale,
        }
    }

    fn unscaled_output(&self, features: &Tensor, code: Option<&Tensor>) -> Tensor {
        let kind = self.param_kind();
        if let (true, Some(term), Some(code)) = (self.config.readout.is_posterior(), &self.code_term, code) {
            return term.energy(features, code).to_kind(kind);
        }
        let energy = self.head.forward(features).squeeze_dim(-1);
        match (&self.code_head, &self.code_term, code) {
            (Some(code_head), _, Some(code)) => energy + (features * code_head.forward(code)).sum_dim_intlist(-1, false, kind),
            (_, Some(term), Some(code)) => energy + term.energy(features, code).to_kind(kind),
            _ => energy,
        }
    }

    /// The discriminative read-out's estimate of the concept for each image
    /// (class probabilities or the continuous code); None for FiLM models.
    pub fn predict_code(&self, x: &Tensor) -> Option<Tensor> {
        let term = self.code_term.as_ref()?;
        Some(term.predict(&self.features(x, None)).to_kind(x.kind()))
    }
}

impl Energy for ConvEnergy {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let kind = self.param_kind();
        let code = require_code(code, self.config.code_dim).map(|c| c.to_kind(kind));
        let features = self.features(x, code.as_ref());
        self.output(&features, code.as_ref()).to_kind(x.kind())
    }

    /// A discriminative read-out's trunk ignores the code: one trunk pass
    /// per image serves all K candidates.
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        if self.code_term.is_none() {
            return super::repeated_energies(self, x, codes);
        }
        let (n, k, dim) = (codes.size()[0], codes.size()[1], codes.size()[2]);
        let kind = self.param_kind();
        let features = self.features(x, None);
        let f = features.size()[1];
        let tiled = features.unsqueeze(1).expand([n, k, f], false).reshape([n * k, f]);
        let codes = codes.reshape([n * k, dim]).to_kind(kind);
        self.output(&tiled, Some(&codes)).view([n, k]).to_kind(x.kind())
    }
}

impl Network for ConvEnergy {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn architecture(&self) -> Architecture {
        Architecture::Conv(self.config.clone())
    }
    fn power_iteration(&self) {
        self.input.weight.power_iteration();
        for block in &self.blocks {
            block.power_iteration();
        }
    }
    fn set_compute(&mut self, compute: Compute) {
        self.compute = compute;
    }
    fn compute(&self) -> Compute {
        self.compute
    }
}
