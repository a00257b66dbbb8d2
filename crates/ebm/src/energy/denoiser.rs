//! `DenoiserEnergy`: an energy written through a conditional denoiser,
//! E_σ(x | c) = ½‖x − D(x, σ, c)‖² / σ², for training by denoising score
//! matching over noise levels (REFERENCE §5).
//!
//! D is an autoencoder with a bottleneck, not a U-Net: encoder (3×3 conv,
//! then three 4×4 stride-2 convs, dense to `latent` numbers) and decoder
//! (dense, three 4×4 stride-2 transposed convs, 3×3 conv to the image), the
//! code and log σ entering the decoder by FiLM at every resolution and the
//! encoder as an input channel (log σ) — coordinate channels on both ends.
//!
//! Design: a scalar-output energy or a skip-connected denoiser learned, at
//! 10-minute budgets, to denoise the floor and to ignore the code (probes in
//! REFERENCE §5: samples were bare floors). A bottleneck of a few dozen
//! numbers cannot carry the whole image, so D must describe the scene — the
//! object's place, colour and shape — and whatever the code says it need not
//! encode; with the code in the decoder only, the code is the cheapest way
//! to say it. ∇ₓE pulls x towards D's reconstruction: a projection onto
//! scenes the model can draw, which is what composition needs.

use super::compute::{weight_for, Compute};
use super::layers::{require_code, Dense, Film};
use super::network::{Architecture, Network};
use super::Energy;
use serde::{Deserialize, Serialize};
use tch::{nn::Init, nn::Path, nn::VarStore, Device, Kind, Tensor};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenoiserConfig {
    pub channels: i64,
    /// Height = width of the input (a multiple of 8).
    pub size: i64,
    #[serde(default)]
    pub code_dim: i64,
    /// Channels of the first level (the next three have twice as many).
    pub width: i64,
    /// Numbers in the bottleneck.
    pub latent: i64,
    /// The noise levels trained over (log-uniform between them).
    pub sigma_min: f64,
    pub sigma_max: f64,
    /// The energy (and score) is multiplied by this. A member of a product
    /// of K denoisers trained jointly has 1/K: the product's denoiser is the
    /// members' mean, so the plain sum of their scaled energies is what was
    /// trained (`train::denoising::product_denoising_loss`). Omitted at 1.
    #[serde(default = "super::conv::unit_gain", skip_serializing_if = "super::conv::is_unit")]
    pub energy_scale: f64,
}

impl Default for DenoiserConfig {
    /// 3×32×32 images, width 32, bottleneck 32, σ from 0.01 to 0.6.
    fn default() -> Self {
        Self {
            channels: 3,
            size: 32,
            code_dim: 0,
            width: 32,
            latent: 32,
            sigma_min: 0.01,
            sigma_max: 0.6,
            energy_scale: 1.0,
        }
    }
}

/// Width of the embedding of (code, log σ) that every FiLM reads.
const EMBEDDING: i64 = 64;

impl DenoiserConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.channels < 1 || self.size < 8 || self.size % 8 != 0 {
            return Err(format!(
                "the denoiser needs ≥ 1 channel and a size that is a multiple of 8, got {} and {}",
                self.channels, self.size
            ));
        }
        if self.width < 1 || self.latent < 1 || self.code_dim < 0 {
            return Err(format!(
                "width and latent must be ≥ 1 and code_dim ≥ 0, got {}, {}, {}",
                self.width, self.latent, self.code_dim
            ));
        }
        if !(self.energy_scale > 0.0 && self.energy_scale.is_finite()) {
            return Err(format!("energy_scale must be a positive number, got {}", self.energy_scale));
        }
        if !(self.sigma_min > 0.0 && self.sigma_min < self.sigma_max && self.sigma_max.is_finite()) {
            return Err(format!(
                "noise levels need 0 < sigma_min < sigma_max, got {} and {}",
                self.sigma_min, self.sigma_max
            ));
        }
        Ok(())
    }
}

/// A 4×4 stride-2 convolution (or its transpose), PyTorch's layout.
struct Stride2 {
    weight: Tensor,
    bias: Tensor,
    transposed: bool,
}

impl Stride2 {
    fn new(path: &Path, inputs: i64, outputs: i64, transposed: bool) -> Self {
        let dims = if transposed {
            [inputs, outputs, 4, 4]
        } else {
            [outputs, inputs, 4, 4]
        };
        let bound = 1.0 / ((inputs * 16) as f64).sqrt();
        let weight = path.var("weight", &dims, Init::Uniform { lo: -bound, up: bound });
        let bias = path.var("bias", &[outputs], Init::Uniform { lo: -bound, up: bound });
        Self { weight, bias, transposed }
    }

    /// In `x`'s kind and layout (see `compute`).
    fn forward(&self, x: &Tensor) -> Tensor {
        let (weight, bias) = (weight_for(&self.weight, x), weight_for(&self.bias, x));
        if self.transposed {
            x.conv_transpose2d(&weight, Some(&bias), [2, 2], [1, 1], [0, 0], 1, [1, 1])
        } else {
            x.conv2d(&weight, Some(&bias), [2, 2], [1, 1], [1, 1], 1)
        }
    }
}

fn conv3(path: &Path, inputs: i64, outputs: i64) -> (Tensor, Tensor) {
    let bound = 1.0 / ((inputs * 9) as f64).sqrt();
    let init = Init::Uniform { lo: -bound, up: bound };
    (
        path.var("weight", &[outputs, inputs, 3, 3], init),
        path.var("bias", &[outputs], init),
    )
}

pub struct DenoiserEnergy {
    config: DenoiserConfig,
    vs: VarStore,
    embed: Dense,
    enc_in: (Tensor, Tensor),
    enc: Vec<Stride2>,
    to_latent: Dense,
    from_latent: Dense,
    dec: Vec<Stride2>,
    films: Vec<Film>,
    dec_out: (Tensor, Tensor),
    compute: Compute,
}

/// A 3×3 convolution, padding 1, in `x`'s kind and layout.
fn conv3_forward((weight, bias): &(Tensor, Tensor), x: &Tensor) -> Tensor {
    x.conv2d(&weight_for(weight, x), Some(weight_for(bias, x)), [1, 1], [1, 1], [1, 1], 1)
}

impl DenoiserEnergy {
    pub fn new(config: DenoiserConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let (w, c) = (config.width, config.channels);
        let cells = 2 * w * (config.size / 8) * (config.size / 8);
        let enc_widths = [(w, 2 * w), (2 * w, 2 * w), (2 * w, 2 * w)];
        let dec_widths = [(2 * w, 2 * w), (2 * w, 2 * w), (2 * w, w)];
        let film_widths = [2 * w, 2 * w, 2 * w, w];
        Self {
            embed: Dense::new(&(&root / "embed"), config.code_dim + 1, EMBEDDING, false, 1.0),
            enc_in: conv3(&(&root / "enc_in"), c + 3, w),
            enc: (0..3)
                .map(|i| Stride2::new(&(&root / format!("enc{i}")), enc_widths[i].0, enc_widths[i].1, false))
                .collect(),
            to_latent: Dense::new(&(&root / "to_latent"), cells, config.latent, false, 1.0),
            from_latent: Dense::new(&(&root / "from_latent"), config.latent, cells, false, 1.0),
            dec: (0..3)
                .map(|i| Stride2::new(&(&root / format!("dec{i}")), dec_widths[i].0, dec_widths[i].1, true))
                .collect(),
            films: (0..4)
                .map(|i| Film::new(&(&root / format!("film{i}")), EMBEDDING, film_widths[i], false))
                .collect(),
            dec_out: conv3(&(&root / "dec_out"), w + 2, c),
            compute: super::compute::default_compute(),
            config,
            vs,
        }
    }

    pub fn config(&self) -> &DenoiserConfig {
        &self.config
    }

    /// D(x, σ, c): the denoised image, `sigma: [B]`, in the parameters'
    /// kind; the convolutions run as `self.compute` says.
    pub fn denoise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        self.decode(&self.encode(x, sigma), code, sigma)
    }

    /// The bottleneck `[B, latent]` of `x` at level σ. The code does not
    /// enter the encoder, so inference over many codes encodes each image
    /// once and decodes it under every code.
    pub fn encode(&self, x: &Tensor, sigma: &Tensor) -> Tensor {
        let kind = self.embed.bias.kind();
        let (b, s) = (x.size()[0], self.config.size);
        let log_sigma = sigma.to_kind(kind).log().view([b, 1, 1, 1]);
        let level = log_sigma.expand([b, 1, s, s], false);
        let plain_coords = coordinate_channels(b, s, kind, x.device());
        let h = self.compute.prepare(&Tensor::cat(&[x.to_kind(kind), plain_coords, level], 1), kind);
        let mut h = conv3_forward(&self.enc_in, &h).silu();
        for conv in &self.enc {
            h = conv.forward(&h).silu();
        }
        self.to_latent.forward(&h.flatten(1, -1))
    }

    /// The image the decoder draws from bottleneck `z` under the code and σ.
    pub fn decode(&self, z: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        let kind = self.embed.bias.kind();
        let (b, s, w) = (z.size()[0], self.config.size, self.config.width);
        let log_sigma = sigma.to_kind(kind).log().view([b, 1]);
        let conditioning = match require_code(code, self.config.code_dim) {
            Some(code) => Tensor::cat(&[code.to_kind(kind), log_sigma], 1),
            None => log_sigma,
        };
        let embedding = self.embed.forward(&conditioning).silu();
        let coords = self.compute.prepare(&coordinate_channels(b, s, kind, z.device()), kind);
        let h = self.from_latent.forward(z).view([b, 2 * w, s / 8, s / 8]);
        let mut h = self.films[0].forward(&self.compute.prepare(&h, kind), &embedding).silu();
        for (conv, film) in self.dec.iter().zip(&self.films[1..]) {
            h = film.forward(&conv.forward(&h), &embedding).silu();
        }
        conv3_forward(&self.dec_out, &Tensor::cat(&[h, coords], 1)).to_kind(kind)
    }
}

/// `[B, 2, S, S]`: u and v in [−1, 1] (the corners, as torch.linspace does).
fn coordinate_channels(b: i64, s: i64, kind: Kind, device: Device) -> Tensor {
    let axis = Tensor::linspace(-1.0, 1.0, s, (kind, device));
    let u = axis.view([1, 1, 1, s]).expand([b, 1, s, s], false);
    let v = axis.view([1, 1, s, 1]).expand([b, 1, s, s], false);
    Tensor::cat(&[u, v], 1)
}

impl Energy for DenoiserEnergy {
    /// The energy at the smallest trained noise level (the data's).
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let sigma = Tensor::full([x.size()[0]], self.config.sigma_min, (x.kind(), x.device()));
        self.energy_at_noise(x, code, &sigma)
    }

    fn energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        let kind = self.embed.bias.kind();
        let residual = x.to_kind(kind) - self.denoise(x, code, sigma);
        let variance = sigma.to_kind(kind).square() / self.config.energy_scale;
        (residual.square().sum_dim_intlist([1i64, 2, 3].as_slice(), false, kind) / (variance * 2.0)).to_kind(x.kind())
    }

    /// ½‖x − D‖²/σ² in value; in x its gradient is (x − D)/σ² with D held
    /// fixed, so one forward pass of D and no backward pass through it.
    fn tweedie_energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        let kind = self.embed.bias.kind();
        let residual = tch::no_grad(|| x.to_kind(kind) - self.denoise(x, code, sigma));
        let sigma = sigma.detach().to_kind(kind);
        let variance = sigma.square() / self.config.energy_scale;
        let dims = [1i64, 2, 3];
        let value = residual.square().sum_dim_intlist(dims.as_slice(), false, kind) / (&variance * 2.0);
        // Zero in value, (x − D)/σ² in gradient.
        let moved = x.to_kind(kind) - x.detach().to_kind(kind);
        let pull = (moved * &residual / variance.view([-1, 1, 1, 1])).sum_dim_intlist(dims.as_slice(), false, kind);
        (value + pull).to_kind(x.kind())
    }

    fn noise_range(&self) -> Option<(f64, f64)> {
        Some((self.config.sigma_min, self.config.sigma_max))
    }
}

impl Network for DenoiserEnergy {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn architecture(&self) -> Architecture {
        Architecture::Denoiser(self.config.clone())
    }
    fn power_iteration(&self) {}
    fn set_compute(&mut self, compute: Compute) {
        self.compute = compute;
    }
    fn compute(&self) -> Compute {
        self.compute
    }
    fn as_denoiser(&self) -> Option<&DenoiserEnergy> {
        Some(self)
    }
}
