//! `shapes`: one object on a lit floor, and `multi-shapes`: several
//! (spec §1–2 of `../shared/spec/datasets.md`, followed to the number).
//!
//! Where the spec is silent we choose, and say so here:
//! - Draw order of sample i's stream (seed, 2, i): L, φ, x, y, r, shape,
//!   colour, then the clutter count and each clutter object (shape, r, x, y, g).
//!   Multi-shapes (seed, 4, i): L, φ, k, then per object x, y (redrawn until
//!   ≥ 0.15 from earlier centres), r, shape, colour.
//! - Filters draw directly from the restricted ranges/class sets, in the same
//!   order, which is the distribution rejection sampling would give.

use super::raster::supersample;
use super::stream_rng;
use anyhow::{bail, Result};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

pub const SHAPE_NAMES: [&str; 3] = ["square", "circle", "triangle"];
pub const COLOUR_NAMES: [&str; 8] = ["red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple"];
pub const COLOURS: [[f64; 3]; 8] = [
    [0.90, 0.15, 0.15],
    [0.15, 0.75, 0.20],
    [0.15, 0.30, 0.90],
    [0.95, 0.85, 0.15],
    [0.85, 0.20, 0.80],
    [0.15, 0.80, 0.85],
    [0.95, 0.55, 0.10],
    [0.50, 0.20, 0.75],
];
/// Range of object centres and half-sizes.
pub const POSITION_RANGE: (f64, f64) = (0.2, 0.8);
pub const SIZE_RANGE: (f64, f64) = (0.10, 0.18);
/// Range of the light's intensity L.
pub const LIGHT_RANGE: (f64, f64) = (0.85, 1.15);
/// Minimum distance between object centres in `multi-shapes`.
pub const MIN_SEPARATION: f64 = 0.15;

/// One object: centre, half-size, shape index and RGB colour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub x: f64,
    pub y: f64,
    pub r: f64,
    pub shape: usize,
    pub rgb: [f64; 3],
    /// Index into [`COLOURS`]; None for grey clutter.
    pub colour: Option<usize>,
}

impl Object {
    /// Whether (u, v) lies inside the object.
    pub fn contains(&self, u: f64, v: f64) -> bool {
        let (dx, dy) = (u - self.x, v - self.y);
        match self.shape {
            0 => dx.abs() <= self.r && dy.abs() <= self.r,
            1 => dx * dx + dy * dy <= self.r * self.r,
            // Apex (x, y − r), base (x ± r, y + r): the half-width grows by
            // 1/2 per unit of depth below the apex.
            _ => dy <= self.r && dy >= -self.r && dx.abs() <= (dy + self.r) / 2.0,
        }
    }

    /// colour · L · (0.75 + 0.25·t), t = clamp(0.5 + 0.5·((u−x)cos φ + (v−y) sin φ)/r, 0, 1).
    fn shade(&self, u: f64, v: f64, light: &Light) -> [f64; 3] {
        let t = (0.5 + 0.5 * ((u - self.x) * light.phi.cos() + (v - self.y) * light.phi.sin()) / self.r).clamp(0.0, 1.0);
        let k = light.intensity * (0.75 + 0.25 * t);
        [self.rgb[0] * k, self.rgb[1] * k, self.rgb[2] * k]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Light {
    /// L ~ U(0.85, 1.15).
    pub intensity: f64,
    /// φ ~ U(0, 2π).
    pub phi: f64,
}

impl Light {
    fn draw(rng: &mut impl Rng) -> Self {
        Self::draw_within(rng, LIGHT_RANGE)
    }

    /// L from `intensity` (a part of [`LIGHT_RANGE`]), φ as always.
    fn draw_within(rng: &mut impl Rng, intensity: (f64, f64)) -> Self {
        Self {
            intensity: range(rng, intensity),
            phi: rng.random_range(0.0..2.0 * PI),
        }
    }

    fn floor(&self, u: f64, v: f64) -> [f64; 3] {
        let (top, bottom) = ([0.40, 0.40, 0.44], [0.62, 0.56, 0.50]);
        let k = self.intensity * (1.0 + 0.12 * ((u - 0.5) * self.phi.cos() + (v - 0.5) * self.phi.sin()));
        [0, 1, 2].map(|c| (top[c] + (bottom[c] - top[c]) * v) * k)
    }
}

/// A scene: light and objects, back to front.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub light: Light,
    pub objects: Vec<Object>,
}

impl Scene {
    /// The 3×S×S image.
    pub fn render(&self, size: usize) -> Vec<f32> {
        supersample::<3>(size, |u, v| match self.objects.iter().rev().find(|o| o.contains(u, v)) {
            Some(object) => object.shade(u, v, &self.light),
            None => self.light.floor(u, v),
        })
    }

    /// S×S instance mask: 0 floor, m = the front-most of `counted` objects
    /// (1-based, in drawing order) covering the pixel centre.
    pub fn instance_mask(&self, size: usize) -> Vec<u8> {
        let s = size as f64;
        let mut mask = vec![0u8; size * size];
        for j in 0..size {
            for i in 0..size {
                let (u, v) = ((i as f64 + 0.5) / s, (j as f64 + 0.5) / s);
                if let Some(m) = self.objects.iter().rposition(|o| o.contains(u, v)) {
                    mask[j * size + i] = (m + 1) as u8;
                }
            }
        }
        mask
    }
}

/// Restrictions on the main object of `shapes`. Ranges must lie inside the
/// spec's; class lists must be non-empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapesFilter {
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub r: (f64, f64),
    pub shapes: Vec<usize>,
    pub colours: Vec<usize>,
    /// The light's intensity L. Left out of a description when it is the
    /// spec's whole range, so cards written before it existed still match.
    #[serde(default = "light_range", skip_serializing_if = "is_light_range")]
    pub light: (f64, f64),
}

fn light_range() -> (f64, f64) {
    LIGHT_RANGE
}

fn is_light_range(light: &(f64, f64)) -> bool {
    *light == LIGHT_RANGE
}

impl Default for ShapesFilter {
    fn default() -> Self {
        Self {
            x: POSITION_RANGE,
            y: POSITION_RANGE,
            r: SIZE_RANGE,
            shapes: vec![0, 1, 2],
            colours: (0..8).collect(),
            light: LIGHT_RANGE,
        }
    }
}

/// Corners of the position square, for [`ShapesFilter::corner`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

crate::named!(Corner, "corner", [TopLeft => "top-left", TopRight => "top-right", BottomLeft => "bottom-left", BottomRight => "bottom-right"]);

impl ShapesFilter {
    /// Positions only in a corner square holding `fraction` of the area of
    /// the position square [0.2, 0.8]² ("the top-right 10 %": fraction 0.1).
    pub fn corner(mut self, corner: Corner, fraction: f64) -> Self {
        let (lo, hi) = POSITION_RANGE;
        let side = (hi - lo) * fraction.clamp(0.0, 1.0).sqrt();
        let right = matches!(corner, Corner::TopRight | Corner::BottomRight);
        let bottom = matches!(corner, Corner::BottomLeft | Corner::BottomRight);
        self.x = if right { (hi - side, hi) } else { (lo, lo + side) };
        self.y = if bottom { (hi - side, hi) } else { (lo, lo + side) };
        self
    }

    pub fn validate(&self) -> Result<()> {
        let inside = |(a, b): (f64, f64), (lo, hi): (f64, f64)| a <= b && a >= lo - 1e-12 && b <= hi + 1e-12;
        if !inside(self.x, POSITION_RANGE) || !inside(self.y, POSITION_RANGE) {
            bail!(
                "position ranges {:?} × {:?} must lie within [0.2, 0.8] with low ≤ high",
                self.x,
                self.y
            );
        }
        if !inside(self.r, SIZE_RANGE) {
            bail!("size range {:?} must lie within [0.10, 0.18] with low ≤ high", self.r);
        }
        if !inside(self.light, LIGHT_RANGE) {
            bail!("light range {:?} must lie within [0.85, 1.15] with low ≤ high", self.light);
        }
        if self.shapes.is_empty() || self.shapes.iter().any(|&s| s >= SHAPE_NAMES.len()) {
            bail!("shape filter {:?} must name some of 0 square, 1 circle, 2 triangle", self.shapes);
        }
        if self.colours.is_empty() || self.colours.iter().any(|&c| c >= COLOURS.len()) {
            bail!(
                "colour filter {:?} must name some of the 8 colours 0..7 ({})",
                self.colours,
                COLOUR_NAMES.join(", ")
            );
        }
        Ok(())
    }
}

fn range(rng: &mut impl Rng, (lo, hi): (f64, f64)) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

fn pick(rng: &mut impl Rng, options: &[usize]) -> usize {
    options[rng.random_range(0..options.len())]
}

/// The `shapes` dataset.
#[derive(Clone, Debug)]
pub struct Shapes {
    pub size: usize,
    pub seed: u64,
    pub filter: ShapesFilter,
    /// Number of grey clutter objects, drawn uniformly from lo..=hi.
    pub clutter: (usize, usize),
}

impl Shapes {
    pub fn new(size: usize, seed: u64) -> Self {
        Self {
            size,
            seed,
            filter: ShapesFilter::default(),
            clutter: (0, 0),
        }
    }

    /// Scene i: clutter first (back), the labelled object last.
    pub fn scene(&self, i: u64) -> Scene {
        let mut rng = stream_rng(self.seed, 2, i);
        let light = Light::draw_within(&mut rng, self.filter.light);
        let f = &self.filter;
        let (x, y, r) = (range(&mut rng, f.x), range(&mut rng, f.y), range(&mut rng, f.r));
        let shape = pick(&mut rng, &f.shapes);
        let colour = pick(&mut rng, &f.colours);
        let main = Object {
            x,
            y,
            r,
            shape,
            rgb: COLOURS[colour],
            colour: Some(colour),
        };
        let count = rng.random_range(self.clutter.0..=self.clutter.1.max(self.clutter.0));
        let mut objects: Vec<Object> = (0..count)
            .map(|_| {
                let shape = rng.random_range(0..3);
                let r = rng.random_range(0.05..0.08);
                let (x, y) = (rng.random_range(0.1..0.9), rng.random_range(0.1..0.9));
                let g = rng.random_range(0.25..0.75);
                Object {
                    x,
                    y,
                    r,
                    shape,
                    rgb: [g, g, g],
                    colour: None,
                }
            })
            .collect();
        objects.push(main);
        Scene { light, objects }
    }

    /// Images `[n, 3, S, S]` (flat) and scenes of samples start..start+n, in parallel.
    pub fn batch(&self, start: u64, n: usize) -> (Vec<f32>, Vec<Scene>) {
        render_batch(start, n, self.size, |i| self.scene(i))
    }

    /// Scene i with a second coloured object of the full distribution, at
    /// least [`MIN_SEPARATION`] from the labelled one, behind or in front of
    /// it at random. `shapes` never holds such a scene (it has one object),
    /// so it is a negative for every concept of scene i's object: what
    /// teaches a concept model to object to a second object
    /// (`TrainConfig::extra_object_weight`).
    pub fn scene_with_extra_object(&self, i: u64) -> Scene {
        let mut scene = self.scene(i);
        let mut rng = stream_rng(self.seed, EXTRA_OBJECT_STREAM, i);
        let main = scene.objects.last().cloned().expect("a shapes scene has its object");
        let extra = draw_separated(&mut rng, std::slice::from_ref(&main));
        let behind = rng.random_bool(0.5);
        scene
            .objects
            .insert(if behind { scene.objects.len() - 1 } else { scene.objects.len() }, extra);
        scene
    }

    /// [`Shapes::scene_with_extra_object`] for samples start..start+n.
    pub fn batch_with_extra_object(&self, start: u64, n: usize) -> (Vec<f32>, Vec<Scene>) {
        render_batch(start, n, self.size, |i| self.scene_with_extra_object(i))
    }
}

/// The random stream of [`Shapes::scene_with_extra_object`]'s second object.
const EXTRA_OBJECT_STREAM: u64 = 6;

/// The `multi-shapes` dataset.
#[derive(Clone, Debug)]
pub struct MultiShapes {
    pub size: usize,
    pub seed: u64,
    /// Objects per scene, drawn uniformly from lo..=hi (at most 4 fit the
    /// separation rule everywhere; more may not).
    pub objects: (usize, usize),
}

impl MultiShapes {
    pub fn new(size: usize, seed: u64) -> Self {
        Self {
            size,
            seed,
            objects: (2, 4),
        }
    }

    pub fn scene(&self, i: u64) -> Scene {
        let mut rng = stream_rng(self.seed, 4, i);
        let light = Light::draw(&mut rng);
        let k = rng.random_range(self.objects.0..=self.objects.1.max(self.objects.0));
        let mut objects: Vec<Object> = Vec::with_capacity(k);
        for _ in 0..k {
            let object = draw_separated(&mut rng, &objects);
            objects.push(object);
        }
        Scene { light, objects }
    }

    pub fn batch(&self, start: u64, n: usize) -> (Vec<f32>, Vec<Scene>) {
        render_batch(start, n, self.size, |i| self.scene(i))
    }
}

/// An object of the full distribution (any shape, colour, size) whose
/// centre is at least [`MIN_SEPARATION`] from every centre in `others`.
fn draw_separated(rng: &mut impl Rng, others: &[Object]) -> Object {
    let (mut x, mut y) = (range(rng, POSITION_RANGE), range(rng, POSITION_RANGE));
    // Redraw until far enough from every earlier centre (bounded: a
    // crowded scene keeps its last draw rather than looping forever).
    for _ in 0..10_000 {
        if others.iter().all(|o| (o.x - x).hypot(o.y - y) >= MIN_SEPARATION) {
            break;
        }
        (x, y) = (range(rng, POSITION_RANGE), range(rng, POSITION_RANGE));
    }
    let r = range(rng, SIZE_RANGE);
    let shape = rng.random_range(0..3);
    let colour = rng.random_range(0..8);
    Object {
        x,
        y,
        r,
        shape,
        rgb: COLOURS[colour],
        colour: Some(colour),
    }
}

fn render_batch(start: u64, n: usize, size: usize, scene: impl Fn(u64) -> Scene + Sync) -> (Vec<f32>, Vec<Scene>) {
    let rendered: Vec<(Vec<f32>, Scene)> = (0..n as u64)
        .into_par_iter()
        .map(|k| {
            let s = scene(start + k);
            (s.render(size), s)
        })
        .collect();
    let mut images = Vec::with_capacity(n * 3 * size * size);
    let mut scenes = Vec::with_capacity(n);
    for (image, s) in rendered {
        images.extend(image);
        scenes.push(s);
    }
    (images, scenes)
}
