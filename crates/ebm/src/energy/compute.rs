//! How an image network computes: number format and memory layout.
//!
//! Design (issue #19, measured in README "The fast path"): on CPUs with
//! bf16 matrix units (AMX, AVX512-BF16) a 3×3 convolution runs ~4× faster in
//! bf16 than in fp32, and about twice as fast again when activations are
//! stored channels-last (NHWC strides), which is the layout oneDNN's bf16
//! kernels want. Elsewhere bf16 is emulated and slower, so the fast path is
//! chosen by what the machine has ([`Compute::fastest`]), never assumed.
//!
//! Only the compute changes: weights, optimiser state, the chain and the
//! energy stay in the parameters' own precision. A bf16 layer casts its
//! fp32 weight as it uses it (autograd casts the weight gradient back), and
//! the energy is summed over space in fp32, so a bf16 network is the same
//! model as its fp32 self, read through a coarser lens — a checkpoint does
//! not record how it was computed.

use serde::{Deserialize, Serialize};
use std::sync::RwLock;
use tch::{Device, Kind, Tensor};

/// The number format convolutions and activations run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The parameters' own kind (fp32 for every shipped model, f64 in gradient checks).
    Fp32,
    /// bfloat16: fp32's range with an 8-bit mantissa.
    Bf16,
}

crate::named!(Precision, "precision", [Fp32 => "fp32", Bf16 => "bf16"]);

/// Precision and layout together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compute {
    pub precision: Precision,
    /// Activations in NHWC strides (the logical shape stays `[B, C, H, W]`).
    pub channels_last: bool,
}

impl Default for Compute {
    fn default() -> Self {
        Self::REFERENCE
    }
}

impl Compute {
    /// fp32 in NCHW: what every network computes unless told otherwise.
    pub const REFERENCE: Compute = Compute {
        precision: Precision::Fp32,
        channels_last: false,
    };
    /// bf16 in channels-last.
    pub const FAST: Compute = Compute {
        precision: Precision::Bf16,
        channels_last: true,
    };

    /// The fastest mode this device computes well: [`Compute::FAST`] on CUDA
    /// and on CPUs with bf16 matrix units, [`Compute::REFERENCE`] elsewhere.
    pub fn fastest(device: Device) -> Compute {
        match device {
            Device::Cpu if !MatrixUnits::detect().bf16() => Compute::REFERENCE,
            _ => Compute::FAST,
        }
    }

    /// `auto` (see [`Compute::fastest`]), `fp32`, `bf16` (channels-last), or
    /// an explicit `fp32-nchw`, `fp32-nhwc`, `bf16-nchw`, `bf16-nhwc`.
    pub fn parse(text: &str, device: Device) -> Result<Compute, String> {
        let text = text.trim().to_ascii_lowercase();
        let (precision, layout) = match text.split_once('-') {
            Some((p, l)) => (p, Some(l)),
            None => (text.as_str(), None),
        };
        if precision == "auto" && layout.is_none() {
            return Ok(Compute::fastest(device));
        }
        let precision: Precision = precision.parse().map_err(|e| format!("{e} (or auto)"))?;
        let channels_last = match layout {
            None => precision == Precision::Bf16,
            Some("nhwc") | Some("channels-last") => true,
            Some("nchw") => false,
            Some(other) => return Err(format!("unknown layout '{other}' in '{text}'; choose nchw or nhwc")),
        };
        Ok(Compute { precision, channels_last })
    }

    /// The kind activations take in a network whose parameters are
    /// `params`. Only fp32 networks drop to bf16: an f64 network (a
    /// gradient check) keeps f64 whatever the mode.
    pub fn kind(self, params: Kind) -> Kind {
        match (self.precision, params) {
            (Precision::Bf16, Kind::Float) => Kind::BFloat16,
            _ => params,
        }
    }

    /// `x` cast for computing, in this layout.
    pub fn prepare(self, x: &Tensor, params: Kind) -> Tensor {
        let x = x.to_kind(self.kind(params));
        if self.channels_last && x.dim() == 4 {
            channels_last(&x)
        } else {
            x
        }
    }

    /// How it prints: `bf16-nhwc`, `fp32-nchw`.
    pub fn label(self) -> String {
        format!("{}-{}", self.precision.name(), if self.channels_last { "nhwc" } else { "nchw" })
    }
}

/// How networks built from now on compute (see [`set_default`]).
static DEFAULT: RwLock<Compute> = RwLock::new(Compute::REFERENCE);

/// Sets how every network built afterwards computes, the way
/// `tch::set_default_kind` sets a default dtype: the `ebm` command sets it
/// once from `--compute`. The library's own default is
/// [`Compute::REFERENCE`]; code that needs a mode on one network calls
/// `Network::set_compute` on it instead.
pub fn set_default(compute: Compute) {
    *DEFAULT.write().unwrap_or_else(|e| e.into_inner()) = compute;
}

/// The mode new networks compute in.
pub fn default_compute() -> Compute {
    *DEFAULT.read().unwrap_or_else(|e| e.into_inner())
}

/// The same `[B, C, H, W]` tensor stored with NHWC strides (libtorch's
/// `channels_last` memory format; tch has no memory-format argument, so
/// this is the permute / contiguous / permute idiom). Differentiable.
pub fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// A convolution weight (or bias, any rank) as an input `x` wants it: in
/// `x`'s kind, and channels-last when `x` is (oneDNN keeps a chain
/// channels-last only when the weight is too; a 1-channel input is both
/// layouts at once). Differentiable: the gradient is cast back.
pub fn weight_for(weight: &Tensor, x: &Tensor) -> Tensor {
    let weight = weight.to_kind(x.kind());
    if weight.dim() == 4 && is_channels_last(x) {
        channels_last(&weight)
    } else {
        weight
    }
}

/// Whether a `[B, C, H, W]` tensor is stored channels-last.
pub fn is_channels_last(x: &Tensor) -> bool {
    let stride = x.stride();
    x.dim() == 4 && stride[1] == 1 && stride[3] == x.size()[1]
}

/// The CPU's bf16 matrix units, from the kernel's feature flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MatrixUnits {
    /// Advanced Matrix Extensions tiles with bf16 dot products.
    pub amx_bf16: bool,
    /// AVX-512 bf16 dot products (VDPBF16PS).
    pub avx512_bf16: bool,
}

impl MatrixUnits {
    /// Reads `/proc/cpuinfo` (none found where it cannot be read).
    pub fn detect() -> MatrixUnits {
        std::fs::read_to_string("/proc/cpuinfo")
            .map(|text| MatrixUnits::from_cpuinfo(&text))
            .unwrap_or_default()
    }

    /// From the text of `/proc/cpuinfo`: the first `flags` line.
    pub fn from_cpuinfo(text: &str) -> MatrixUnits {
        let flags: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("flags"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, f)| f.split_whitespace().collect())
            .unwrap_or_default();
        MatrixUnits {
            amx_bf16: flags.contains(&"amx_bf16"),
            avx512_bf16: flags.contains(&"avx512_bf16"),
        }
    }

    pub fn bf16(self) -> bool {
        self.amx_bf16 || self.avx512_bf16
    }

    /// `amx_bf16 avx512_bf16`, or `none`.
    pub fn describe(self) -> String {
        let found: Vec<&str> = [(self.amx_bf16, "amx_bf16"), (self.avx512_bf16, "avx512_bf16")]
            .iter()
            .filter(|(has, _)| *has)
            .map(|(_, name)| *name)
            .collect();
        if found.is_empty() {
            "none".into()
        } else {
            found.join(" ")
        }
    }
}
