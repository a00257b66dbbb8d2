//! `toy2d`: 2-D densities for sampler and training checks (spec §4).

use super::{stream_rng, Batch, DataSource};
use crate::sample::InitNoise;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Toy2dKind {
    EightGaussians,
    TwoMoons,
    Rings,
    Checkerboard,
    Spirals,
    /// Uniform on a rectangle ([−2, 2]² unless set): a region as a concept.
    Box,
}

crate::named!(Toy2dKind, "2-D density", [
    EightGaussians => "eight-gaussians",
    TwoMoons => "two-moons",
    Rings => "rings",
    Checkerboard => "checkerboard",
    Spirals => "spirals",
    Box => "box",
]);

/// Standard deviation of each eight-gaussians component.
pub const EIGHT_GAUSSIANS_STD: f64 = 0.1;
/// Radius of the circle the eight means lie on.
pub const EIGHT_GAUSSIANS_RADIUS: f64 = 2.0;

/// The eight means, the first at angle 0.
pub fn eight_gaussian_modes() -> Vec<(f64, f64)> {
    (0..8)
        .map(|k| {
            let a = 2.0 * PI * k as f64 / 8.0;
            (EIGHT_GAUSSIANS_RADIUS * a.cos(), EIGHT_GAUSSIANS_RADIUS * a.sin())
        })
        .collect()
}

pub struct Toy2d {
    pub kind: Toy2dKind,
    pub seed: u64,
    /// Eight-gaussians only: the modes drawn from (indices 0..8, counter-
    /// clockwise from angle 0); all eight by default.
    pub modes: Vec<usize>,
    /// Box only: the rectangle (x range, y range).
    pub rect: ((f64, f64), (f64, f64)),
}

impl Toy2d {
    pub fn new(kind: Toy2dKind, seed: u64) -> Self {
        Self {
            kind,
            seed,
            modes: (0..8).collect(),
            rect: ((-2.0, 2.0), (-2.0, 2.0)),
        }
    }

    /// Uniform on the rectangle `x` × `y`, for composition tests.
    pub fn uniform_box(x: (f64, f64), y: (f64, f64), seed: u64) -> anyhow::Result<Self> {
        if !(x.0 < x.1 && y.0 < y.1) || [x.0, x.1, y.0, y.1].iter().any(|v| !v.is_finite()) {
            anyhow::bail!("a box needs finite ranges with low < high, got x {x:?}, y {y:?}");
        }
        Ok(Self {
            rect: (x, y),
            ..Self::new(Toy2dKind::Box, seed)
        })
    }

    /// Eight-gaussians restricted to `modes`, for composition experiments.
    pub fn eight_gaussians_subset(modes: &[usize], seed: u64) -> anyhow::Result<Self> {
        if modes.is_empty() || modes.iter().any(|&m| m >= 8) {
            anyhow::bail!("modes {modes:?} must be a non-empty subset of 0..8");
        }
        Ok(Self {
            modes: modes.to_vec(),
            ..Self::new(Toy2dKind::EightGaussians, seed)
        })
    }

    /// `n` points from stream `index`, as a `[n, 2]` float tensor.
    pub fn points(&self, index: u64, n: usize) -> Tensor {
        let mut rng = stream_rng(self.seed, 1, index);
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let (x, y) = self.point(&mut rng);
            out.push(x as f32);
            out.push(y as f32);
        }
        Tensor::from_slice(&out).reshape([n as i64, 2])
    }

    fn point(&self, rng: &mut impl Rng) -> (f64, f64) {
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        // Two unit normals per point, drawn first so every kind uses the stream alike.
        let (nx, ny): (f64, f64) = (normal.sample(rng), normal.sample(rng));
        match self.kind {
            Toy2dKind::EightGaussians => {
                let modes = eight_gaussian_modes();
                let (mx, my) = modes[self.modes[rng.random_range(0..self.modes.len())]];
                (mx + nx * EIGHT_GAUSSIANS_STD, my + ny * EIGHT_GAUSSIANS_STD)
            }
            Toy2dKind::TwoMoons => {
                // The two interleaved half circles of scikit-learn's make_moons,
                // centred and scaled ×1.5 to span about [−2.3, 2.3].
                let t = rng.random_range(0.0..PI);
                let (x, y) = if rng.random_bool(0.5) {
                    (t.cos(), t.sin())
                } else {
                    (1.0 - t.cos(), 0.5 - t.sin())
                };
                ((x - 0.5) * 1.5 + nx * 0.05, (y - 0.25) * 1.5 + ny * 0.05)
            }
            Toy2dKind::Rings => {
                // Points per ring proportional to its radius (uniform along arc length).
                let u = rng.random_range(0.0..6.0);
                let r = if u < 1.0 {
                    1.0
                } else if u < 3.0 {
                    2.0
                } else {
                    3.0
                };
                let a = rng.random_range(0.0..2.0 * PI);
                (r * a.cos() + nx * 0.05, r * a.sin() + ny * 0.05)
            }
            Toy2dKind::Checkerboard => loop {
                let x: f64 = rng.random_range(-2.0..2.0);
                let y: f64 = rng.random_range(-2.0..2.0);
                if ((x + 2.0).floor() as i64 + (y + 2.0).floor() as i64) % 2 == 0 {
                    break (x, y);
                }
            },
            Toy2dKind::Box => {
                let ((x0, x1), (y0, y1)) = self.rect;
                (rng.random_range(x0..x1), rng.random_range(y0..y1))
            }
            Toy2dKind::Spirals => {
                // Two arms r = θ/π·…, θ ∈ [0.5π, 3.5π], the second rotated by π.
                let t = rng.random_range(0.0f64..1.0).sqrt() * 3.0 * PI + 0.5 * PI;
                let r = t / (3.5 * PI) * 2.8;
                let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                (sign * r * t.cos() + nx * 0.05, sign * r * t.sin() + ny * 0.05)
            }
        }
    }
}

impl DataSource for Toy2d {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        Batch {
            x: self.points(step, batch_size),
            code: None,
        }
    }
    fn example_shape(&self) -> Vec<i64> {
        vec![2]
    }
    fn init_noise(&self) -> InitNoise {
        InitNoise::uniform(-4.0, 4.0)
    }
    fn describe(&self) -> serde_json::Value {
        let mut description = serde_json::json!({ "dataset": "toy2d", "name": self.kind.name(), "seed": self.seed });
        if self.modes.len() < 8 {
            description["modes"] = serde_json::json!(self.modes);
        }
        if self.kind == Toy2dKind::Box {
            description["rect"] = serde_json::json!(self.rect);
        }
        description
    }
}
