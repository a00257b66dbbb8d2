//! What a convolutional energy reads of its input before its first layer:
//! fixed, differentiable views that build an invariance into a model
//! (colour-blind concepts) or keep its gradient smooth (blur), and the
//! coordinate channels that let pooled features say where things are.

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// The channels an energy reads. A concept that should not depend on
/// colour (where an object is, what shape it is) can be made blind to it:
/// trained on purple squares, a colour-blind position model still places a
/// red circle, so it composes with a colour model learned later (continual
/// learning; the RGB position model placed other colours right 0.214 of
/// the time against 0.593 for purple: experiments/continual).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputView {
    /// The image as it is.
    #[default]
    Rgb,
    /// One channel: chroma, max − min over the colour channels. Every
    /// `shapes` colour has chroma 0.55–0.85 and the floor 0.04–0.12, so an
    /// object stands out whatever its colour; grey clutter vanishes.
    Chroma,
    /// Four numbers: the mean colour of the object's pixels, a pixel counting
    /// by a soft threshold on its chroma ([`object_weight`]), and the share of
    /// the image they cover. It says which colour the object is and nothing
    /// of where or what shape it is, so a colour model reading it cannot move
    /// an object (continual learning: experiments/continual). The share is
    /// there because without it the model's cheapest way to a colour was to
    /// fade the object but for a few pixels of that colour.
    /// Not spatial: for `MlpEnergy` only.
    ObjectColour,
    /// One channel: the chroma, shifted so that the object's centre (its
    /// pixels' mean place, weighted as in [`object_weight`]) sits at the
    /// image centre. A model reading it sees what shape the object is, not
    /// where it is. Its shift depends on every pixel through the soft
    /// threshold, and a CD-trained shape model of it painted chroma speckle
    /// over the floor (experiments/continual/object-centred-shape).
    ObjectCentred,
    /// One channel: the chroma's bounding box. Each row takes the largest
    /// chroma along it, each column the largest down it, and a pixel the
    /// smaller of its row's and its column's: a rectangle of the object's
    /// chroma on the floor's, whatever the object's shape. `shapes` defines
    /// an object's position as its bounding box's centre (for a triangle not
    /// its centroid), so a position model reading this view reads the
    /// label's own definition; through the chroma, the plain view put
    /// triangles 0.039 off (experiments/inference-shifts). Its gradient
    /// reaches one pixel per row and column: made for inference (a model of
    /// already-viewed data), not for sampling through it. One object only:
    /// two draw four rectangles (each one's rows with each one's columns).
    Extent,
}

crate::named!(InputView, "input view", [Rgb => "rgb", Chroma => "chroma", ObjectColour => "object-colour", ObjectCentred => "object-centred", Extent => "extent"]);

/// Chroma at which a pixel counts half as object in [`InputView::ObjectColour`]:
/// the floor's chroma is at most 0.12·1.15·1.12 ≈ 0.155, a shaded object's at
/// least 0.55·0.85·0.75 ≈ 0.35.
pub const OBJECT_CHROMA_THRESHOLD: f64 = 0.25;
/// Width of the soft threshold: the floor's brightest pixel counts 0.009.
pub const OBJECT_CHROMA_WIDTH: f64 = 0.02;

/// How much each pixel of `[B, C, H, W]` counts as object, `[B, 1, H, W]`:
/// a soft step in chroma, so every object pixel counts alike (a chroma
/// power let a few over-saturated pixels outvote the object).
pub fn object_weight(x: &Tensor) -> Tensor {
    ((chroma(x) - OBJECT_CHROMA_THRESHOLD) / OBJECT_CHROMA_WIDTH).sigmoid()
}

impl InputView {
    pub fn is_rgb(&self) -> bool {
        *self == InputView::Rgb
    }

    /// Whether the view is an image (convolutional energies need one).
    pub fn is_spatial(&self) -> bool {
        *self != InputView::ObjectColour
    }

    /// An error naming the fix where a convolutional model (`who`) is asked
    /// to read a view that is not an image.
    pub fn require_spatial(&self, who: &str) -> Result<(), String> {
        match self.is_spatial() {
            true => Ok(()),
            false => Err(format!(
                "{who} is convolutional and reads an image; the {} view is not one (use rgb, chroma, object-centred or extent; object-colour is for MLP energies)",
                crate::names::Named::name(*self)
            )),
        }
    }

    /// Channels of the view of a `channels`-channel input.
    pub fn channels(&self, channels: i64) -> i64 {
        match self {
            InputView::Rgb | InputView::ObjectColour => channels,
            InputView::Chroma | InputView::ObjectCentred | InputView::Extent => 1,
        }
    }

    /// Numbers in the view of one `[C, H, W]` input.
    pub fn output_dim(&self, shape: &[i64]) -> i64 {
        match (self, shape) {
            (InputView::ObjectColour, [c, ..]) => *c + 1,
            (_, [c, rest @ ..]) => self.channels(*c) * rest.iter().product::<i64>(),
            (_, []) => 0,
        }
    }

    /// `[B, C, H, W]` → the view. Chroma's gradient reaches the largest and
    /// the smallest channel of each pixel (shared between ties).
    pub fn apply(&self, x: &Tensor) -> Tensor {
        match self {
            InputView::Rgb => x.shallow_clone(),
            InputView::Chroma => chroma(x),
            InputView::ObjectColour => {
                let weight = object_weight(x);
                let dims = [2i64, 3].as_slice();
                let share = weight.mean_dim(dims, true, None);
                // The ε keeps a grey image (no chroma anywhere) finite.
                let colour = (x * &weight).mean_dim(dims, true, None) / (&share + 1e-6);
                Tensor::cat(&[colour, share], 1)
            }
            InputView::ObjectCentred => object_centred(x),
            InputView::Extent => {
                let c = chroma(x);
                let rows = c.amax([3i64].as_slice(), true);
                let columns = c.amax([2i64].as_slice(), true);
                rows.minimum(&columns)
            }
        }
    }
}

/// The chroma of `[B, C, H, W]` moved by the fractional shift that takes the
/// object's centre to the image centre, by linear interpolation written as
/// two matrix products (tent weights), so it is twice differentiable where
/// grid sampling is not. What comes in from outside the image is 0.
fn object_centred(x: &Tensor) -> Tensor {
    let size = x.size();
    let (b, h, w) = (size[0], size[2], size[3]);
    let weight = object_weight(x).squeeze_dim(1);
    let total = weight.sum_dim_intlist([1i64, 2].as_slice(), false, None) + 1e-6;
    let index = |n: i64| Tensor::arange(n, (x.kind(), x.device()));
    // Mean column and row of the object, in pixels; the shift is from the centre.
    let column = (&weight * index(w).view([1, 1, w])).sum_dim_intlist([1i64, 2].as_slice(), false, None) / &total;
    let row = (&weight * index(h).view([1, h, 1])).sum_dim_intlist([1i64, 2].as_slice(), false, None) / &total;
    // tent[b, i, k] = max(0, 1 − |k − (i + shift_b)|): output i reads input i + shift.
    let tent = |n: i64, shift: Tensor| {
        let at = index(n).view([1, n, 1]) + (shift - (n - 1) as f64 / 2.0).view([b, 1, 1]);
        ((index(n).view([1, 1, n]) - at).abs().neg() + 1.0).relu()
    };
    let (rows, columns) = (tent(h, row), tent(w, column));
    rows.matmul(&chroma(x).squeeze_dim(1)).matmul(&columns.transpose(1, 2)).unsqueeze(1)
}

fn chroma(x: &Tensor) -> Tensor {
    x.amax([1i64].as_slice(), true) - x.amin([1i64].as_slice(), true)
}

/// Depthwise Gaussian blur of std `sigma` pixels (kernel radius ⌈2σ⌉,
/// reflected edges so the floor's brightness is kept at the border).
pub fn gaussian_blur(x: &Tensor, sigma: f64) -> Tensor {
    let radius = (2.0 * sigma).ceil() as i64;
    let taps: Vec<f64> = (-radius..=radius)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = taps.iter().sum();
    let taps: Vec<f32> = taps.iter().map(|t| (t / total) as f32).collect();
    let c = x.size()[1];
    let k = 2 * radius + 1;
    let kernel = Tensor::from_slice(&taps).to_kind(x.kind()).to_device(x.device());
    let padded = x.reflection_pad2d([radius, radius, radius, radius]);
    let rows = padded.conv2d(
        &kernel.view([1, 1, 1, k]).repeat([c, 1, 1, 1]),
        None::<Tensor>,
        [1, 1],
        [0, 0],
        [1, 1],
        c,
    );
    rows.conv2d(
        &kernel.view([1, 1, k, 1]).repeat([c, 1, 1, 1]),
        None::<Tensor>,
        [1, 1],
        [0, 0],
        [1, 1],
        c,
    )
}

/// `[B, 2, H, W]`: u (left to right) and v (top to bottom), in [−1, 1] at pixel centres.
pub fn coordinate_channels(x: &Tensor) -> Tensor {
    let size = x.size();
    let (b, h, w) = (size[0], size[2], size[3]);
    let axis = |n: i64| (Tensor::arange(n, (x.kind(), x.device())) + 0.5) * (2.0 / n as f64) - 1.0;
    let u = axis(w).view([1, 1, 1, w]).expand([b, 1, h, w], false);
    let v = axis(h).view([1, 1, h, 1]).expand([b, 1, h, w], false);
    Tensor::cat(&[u, v], 1)
}

/// An energy over images whose model lives in a view's space (trained on
/// [`crate::data::viewed::ViewedSource`]): E(x | c) = E_view(view(x) | c).
pub struct Viewed<'a> {
    pub energy: &'a dyn super::Energy,
    pub view: InputView,
}

impl super::Energy for Viewed<'_> {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        self.energy.energy(&self.view.apply(x), code)
    }
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        self.energy.energies_over_codes(&self.view.apply(x), codes)
    }
    fn energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        self.energy.energy_at_noise(&self.view.apply(x), code, sigma)
    }
    fn tweedie_energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        self.energy.tweedie_energy_at_noise(&self.view.apply(x), code, sigma)
    }
    fn noise_range(&self) -> Option<(f64, f64)> {
        self.energy.noise_range()
    }
}
