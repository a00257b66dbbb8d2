//! COMET's two networks: the encoder (image → K latents) and the one
//! weight-tied component energy E(x; z).

use super::config::{CometConfig, EncoderKind, SlotStart};
use crate::energy::layers::{Activation, Conv3, Dense, Film};
use tch::nn::{Init, Path};
use tch::Tensor;

const SWISH: Activation = Activation::Swish;

/// Pixel coordinates in [−1, 1], `[B, 2, S, S]` in `like`'s kind and device.
pub fn coordinate_channels(like: &Tensor) -> Tensor {
    let size = like.size();
    let (b, h, w) = (size[0], size[2], size[3]);
    let options = (like.kind(), like.device());
    let ys = Tensor::linspace(-1.0, 1.0, h, options)
        .view([1, 1, h, 1])
        .expand([b, 1, h, w], true);
    let xs = Tensor::linspace(-1.0, 1.0, w, options)
        .view([1, 1, 1, w])
        .expand([b, 1, h, w], true);
    Tensor::cat(&[xs, ys], 1)
}

/// Mean over space, `[B, C, H, W]` → `[B, C]`.
fn spatial_mean(h: &Tensor) -> Tensor {
    h.mean_dim(&[2i64, 3][..], false, h.kind())
}

fn half(h: &Tensor) -> Tensor {
    h.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>)
}

/// A learned layer norm over the last dimension.
struct LayerNorm {
    gain: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    fn new(path: &Path, width: i64) -> Self {
        Self {
            gain: path.var("gain", &[width], Init::Const(1.0)),
            bias: path.var("bias", &[width], Init::Const(0.0)),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let width = *x.size().last().expect("a tensor with dimensions");
        x.layer_norm([width], Some(&self.gain), Some(&self.bias), 1e-5, false)
    }
}

/// Slot attention: K slots compete (softmax over slots) for the feature
/// map's positions, then each slot is updated from a weighted mean of what
/// it won, by a GRU and a residual MLP.
struct SlotAttention {
    /// Learned starting slots `[K, D]` ([`SlotStart::Learned`]), or the
    /// mean `[1, D]` of the Gaussian they are drawn from ([`SlotStart::Sampled`]).
    initial: Tensor,
    /// Log standard deviation `[1, D]` of that Gaussian (sampled start only).
    log_spread: Option<Tensor>,
    slots: i64,
    input_norm: LayerNorm,
    slot_norm: LayerNorm,
    mlp_norm: LayerNorm,
    query: Dense,
    key: Dense,
    value: Dense,
    gru_input: Dense,
    gru_hidden: Dense,
    mlp: (Dense, Dense),
    iterations: usize,
}

impl SlotAttention {
    fn new(path: &Path, slots: i64, width: i64, iterations: usize, start: SlotStart) -> Self {
        let d = width;
        let rows = if start == SlotStart::Learned { slots } else { 1 };
        Self {
            initial: path.var("initial", &[rows, d], Init::Randn { mean: 0.0, stdev: 1.0 }),
            log_spread: (start == SlotStart::Sampled).then(|| path.var("log_spread", &[1, d], Init::Const(0.0))),
            slots,
            input_norm: LayerNorm::new(&(path / "input_norm"), d),
            slot_norm: LayerNorm::new(&(path / "slot_norm"), d),
            mlp_norm: LayerNorm::new(&(path / "mlp_norm"), d),
            query: Dense::new(&(path / "query"), d, d, false, 1.0),
            key: Dense::new(&(path / "key"), d, d, false, 1.0),
            value: Dense::new(&(path / "value"), d, d, false, 1.0),
            gru_input: Dense::new(&(path / "gru_input"), d, 3 * d, false, 1.0),
            gru_hidden: Dense::new(&(path / "gru_hidden"), d, 3 * d, false, 1.0),
            mlp: (
                Dense::new(&(path / "mlp1"), d, d, false, 2f64.sqrt()),
                Dense::new(&(path / "mlp2"), d, d, false, 1.0),
            ),
            iterations,
        }
    }

    /// `features: [B, N, D]` → slots `[B, K, D]`.
    fn forward(&self, features: &Tensor) -> Tensor {
        let b = features.size()[0];
        let d = features.size()[2];
        let inputs = self.input_norm.forward(features);
        let (keys, values) = (self.key.forward(&inputs), self.value.forward(&inputs));
        let mut slots = match &self.log_spread {
            None => self.initial.unsqueeze(0).expand([b, -1, -1], false).contiguous(),
            Some(log_spread) => {
                let noise = Tensor::randn([b, self.slots, d], (features.kind(), features.device()));
                &self.initial + noise * log_spread.exp()
            }
        };
        for _ in 0..self.iterations {
            let queries = self.query.forward(&self.slot_norm.forward(&slots));
            // [B, N, K]: each position's share among the slots.
            let attention = keys
                .matmul(&queries.transpose(1, 2))
                .g_div_scalar((d as f64).sqrt())
                .softmax(-1, keys.kind())
                + 1e-8;
            let weights = &attention / attention.sum_dim_intlist(&[1i64][..], true, attention.kind());
            let updates = weights.transpose(1, 2).matmul(&values);
            slots = self.gru(&updates, &slots);
            let (mlp1, mlp2) = &self.mlp;
            slots = &slots + mlp2.forward(&mlp1.forward(&self.mlp_norm.forward(&slots)).relu());
        }
        slots
    }

    fn gru(&self, input: &Tensor, hidden: &Tensor) -> Tensor {
        let gi = self.gru_input.forward(input).chunk(3, -1);
        let gh = self.gru_hidden.forward(hidden).chunk(3, -1);
        let reset = (&gi[0] + &gh[0]).sigmoid();
        let update = (&gi[1] + &gh[1]).sigmoid();
        let candidate = (&gi[2] + reset * &gh[2]).tanh();
        (1.0 - &update) * candidate + update * hidden
    }
}

enum Head {
    Global { hidden: Dense, out: Dense },
    Slots { attention: Box<SlotAttention>, out: Dense },
}

/// Image → K latents `[B, K, latent]`.
pub struct Encoder {
    convs: Vec<Conv3>,
    head: Head,
    components: i64,
    latent: i64,
}

impl Encoder {
    pub fn new(path: &Path, config: &CometConfig) -> Self {
        let w = config.encoder_width;
        let (k, l) = (config.components, config.latent);
        let inputs = config.channels + 2;
        let convs = vec![
            Conv3::new(&(path / "conv0"), inputs, w, false, 2f64.sqrt()),
            Conv3::new(&(path / "conv1"), w, w, false, 2f64.sqrt()),
            Conv3::new(&(path / "conv2"), w, w, false, 2f64.sqrt()),
        ];
        let head = match config.encoder {
            EncoderKind::Global => Head::Global {
                hidden: Dense::new(&(path / "hidden"), w, 4 * w, false, 2f64.sqrt()),
                out: Dense::new(&(path / "out"), 4 * w, k * l, false, 1.0),
            },
            EncoderKind::Slots => Head::Slots {
                attention: Box::new(SlotAttention::new(
                    &(path / "slots"),
                    k,
                    w,
                    config.slot_iterations,
                    config.slot_start,
                )),
                out: Dense::new(&(path / "out"), w, l, false, 1.0),
            },
        };
        Self {
            convs,
            head,
            components: k,
            latent: l,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = Tensor::cat(&[x.shallow_clone(), coordinate_channels(x)], 1);
        match &self.head {
            Head::Global { hidden, out } => {
                // Down to S/8 so the pooled features see the whole image.
                for conv in &self.convs {
                    h = half(&SWISH.apply(&conv.forward(&h)));
                }
                let h = SWISH.apply(&hidden.forward(&spatial_mean(&h)));
                out.forward(&h).view([-1, self.components, self.latent])
            }
            Head::Slots { attention, out } => {
                // Full resolution: slots attend to pixels.
                for conv in &self.convs {
                    h = SWISH.apply(&conv.forward(&h));
                }
                let features = h.flatten(2, 3).transpose(1, 2);
                out.forward(&attention.forward(&features))
            }
        }
    }
}

/// A FiLM residual block: conv → FiLM(z) → swish → conv, added to its input.
pub(super) struct FilmBlock {
    conv1: Conv3,
    conv2: Conv3,
    film: Film,
}

impl FilmBlock {
    /// The config's `energy_blocks` blocks of width `energy_width`, FiLM from the latent.
    pub(super) fn stack(path: &Path, config: &CometConfig) -> Vec<Self> {
        let w = config.energy_width;
        (0..config.energy_blocks)
            .map(|i| {
                let p = path / format!("block{i}");
                FilmBlock {
                    conv1: Conv3::new(&(&p / "conv1"), w, w, false, 2f64.sqrt()),
                    conv2: Conv3::new(&(&p / "conv2"), w, w, false, 1.0),
                    film: Film::new(&(&p / "film"), config.latent, w, false),
                }
            })
            .collect()
    }

    pub(super) fn forward(&self, h: &Tensor, z: &Tensor) -> Tensor {
        let branch = self.conv2.forward(&SWISH.apply(&self.film.forward(&self.conv1.forward(h), z)));
        SWISH.apply(&(h + branch))
    }
}

/// E(x; z): `[B, C, S, S]` and `[B, latent]` → `[B]`. One network for every
/// component (weight tying), so components are interchangeable and can be
/// moved between images and models with the same architecture.
pub struct ComponentEnergy {
    input: Conv3,
    blocks: Vec<FilmBlock>,
    out: Dense,
    coordinates: bool,
}

impl ComponentEnergy {
    pub fn new(path: &Path, config: &CometConfig) -> Self {
        let w = config.energy_width;
        let inputs = config.channels + if config.coordinates { 2 } else { 0 };
        Self {
            input: Conv3::new(&(path / "input"), inputs, w, false, 2f64.sqrt()),
            blocks: FilmBlock::stack(path, config),
            out: Dense::new(&(path / "out"), w, 1, false, 1.0),
            coordinates: config.coordinates,
        }
    }

    pub fn forward(&self, x: &Tensor, z: &Tensor) -> Tensor {
        let input = match self.coordinates {
            true => Tensor::cat(&[x.shallow_clone(), coordinate_channels(x)], 1),
            false => x.shallow_clone(),
        };
        let mut h = SWISH.apply(&self.input.forward(&input));
        for block in &self.blocks {
            h = block.forward(&half(&h), z);
        }
        self.out.forward(&spatial_mean(&h)).squeeze_dim(-1)
    }
}
