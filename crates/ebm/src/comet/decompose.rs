//! Decomposition: what each component explains. A component's mask is its
//! share of the per-pixel energy gradient (or, for Gaussian experts, of the
//! precision weighted by its colour fit); its rendering is the descent on its energy alone.

use super::descent::rebuild;
use super::model::Comet;
use tch::{Kind, Tensor};

/// Where the per-component gradients are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskSource {
    /// At the image itself.
    Image,
    /// At the model's reconstruction of it (what the components agreed on).
    Reconstruction,
}

pub struct Decomposition {
    /// `[B, K, latent]`.
    pub latents: Tensor,
    /// `[B, C, S, S]`.
    pub reconstruction: Tensor,
    /// `[B, K, S, S]`: each pixel's share per component, summing to 1 over K.
    pub masks: Tensor,
    /// `[B, K, C, S, S]`: the descent on each component's energy alone.
    pub renderings: Tensor,
}

/// |∂Eₖ/∂x| summed over channels, as each pixel's share among the
/// components `[B, K, S, S]`. A pixel no component cares about (all
/// gradients zero) is shared equally.
pub fn gradient_masks(model: &Comet, x: &Tensor, z: &Tensor) -> Tensor {
    let (b, k) = (z.size()[0], z.size()[1]);
    let xs = x.size();
    let copies = x
        .detach()
        .unsqueeze(1)
        .expand([b, k, xs[1], xs[2], xs[3]], false)
        .contiguous()
        .set_requires_grad(true);
    let energy = model.component_energies(&copies, &z.detach()).sum(x.kind());
    let gradient = Tensor::run_backward(&[energy], &[&copies], false, false).remove(0);
    let magnitude = gradient.abs().sum_dim_intlist(&[2i64][..], false, x.kind());
    let total = magnitude.sum_dim_intlist(&[1i64][..], true, x.kind());
    let equal = Tensor::full_like(&magnitude, 1.0 / k as f64);
    (&magnitude / total.clamp_min(1e-20)).where_self(&total.gt(0.0), &equal)
}

/// β of the Gaussian-expert masks αₖ·exp(−β‖x − μₖ‖²): how much a
/// component's colour fit at the pixel counts beside its precision. Chosen
/// on validation scenes (dataset seed 2, 128; models/comet/README.md):
/// foreground ARI at the image 0.713, 0.754, 0.766, 0.726, 0.698, 0.685 for
/// β = 0, 3, 10, 30, 100, 300. The fit trims the precision's rounded blobs
/// to the pixels whose colour the component draws.
pub const EXPERT_FIT_WEIGHT: f64 = 10.0;

/// Each pixel's share per component `[B, K, S, S]`: for Gaussian-expert
/// energies the precision share weighted by the colour fit at `x`
/// ([`EXPERT_FIT_WEIGHT`]; the gradient of the component that explains a
/// pixel vanishes there, its pull does not), else [`gradient_masks`].
pub fn component_masks(model: &Comet, x: &Tensor, z: &Tensor) -> Tensor {
    match tch::no_grad(|| model.precision_shares(&z.detach(), Some(x), EXPERT_FIT_WEIGHT)) {
        Some(shares) => shares,
        None => gradient_masks(model, x, z),
    }
}

/// The component owning each pixel (largest share), `[B, S, S]` int64.
pub fn segmentation(masks: &Tensor) -> Tensor {
    masks.argmax(1, false).to_kind(Kind::Int64)
}

/// Decomposes `images` with descents started from `start` (uniform noise
/// shaped like the images; the same start for every component rendering).
pub fn decompose(model: &Comet, images: &Tensor, start: &Tensor, source: MaskSource) -> Decomposition {
    let (latents, reconstruction, masks) = segment(model, images, start, source);
    let k = latents.size()[1];
    let renderings = (0..k)
        .map(|i| {
            let alone = latents.narrow(1, i, 1);
            rebuild(&[(model, alone)], start)
        })
        .collect::<Vec<_>>();
    Decomposition {
        latents,
        reconstruction,
        masks,
        renderings: Tensor::stack(&renderings, 1),
    }
}

/// Latents, reconstruction and masks, without the per-component renderings
/// (which cost a descent per component).
pub fn segment(model: &Comet, images: &Tensor, start: &Tensor, source: MaskSource) -> (Tensor, Tensor, Tensor) {
    let latents = model.encode(images).detach();
    let reconstruction = rebuild(&[(model, latents.shallow_clone())], start);
    let at = match source {
        MaskSource::Image => images.shallow_clone(),
        MaskSource::Reconstruction => reconstruction.shallow_clone(),
    };
    let masks = component_masks(model, &at, &latents);
    (latents, reconstruction, masks)
}

/// Peak signal-to-noise ratio per image (dB) of `x` against `reference`, both in [0, 1].
pub fn psnr(x: &Tensor, reference: &Tensor) -> Vec<f64> {
    let mse = (x - reference).square().flatten(1, -1).mean_dim(&[1i64][..], false, Kind::Double);
    Vec::<f64>::try_from(mse.clamp_min(1e-12).log10() * -10.0).unwrap_or_default()
}
