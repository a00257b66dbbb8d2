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
}

crate::named!(InputView, "input view", [Rgb => "rgb", Chroma => "chroma"]);

impl InputView {
    pub fn is_rgb(&self) -> bool {
        *self == InputView::Rgb
    }

    /// Channels of the view of a `channels`-channel input.
    pub fn channels(&self, channels: i64) -> i64 {
        match self {
            InputView::Rgb => channels,
            InputView::Chroma => 1,
        }
    }

    /// `[B, C, H, W]` → the view. Chroma's gradient reaches the largest and
    /// the smallest channel of each pixel (shared between ties).
    pub fn apply(&self, x: &Tensor) -> Tensor {
        match self {
            InputView::Rgb => x.shallow_clone(),
            InputView::Chroma => x.amax([1i64].as_slice(), true) - x.amin([1i64].as_slice(), true),
        }
    }
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
