//! `sprites`: dSprites-style binary sprites (spec §3 of `../shared/spec/datasets.md`): one white
//! sprite on black, `1×S×S`, through the shared 4×4 supersampler. Factor values: scale k → 0.5 + 0.1·k,
//! rotation k → 2π·k/40, x, y k → 0.2 + 0.6·k/31; grid index row-major over (shape, scale, rotation, x, y).
//!
//! Sprite-local coordinates: X right, Y up on screen, origin at the unrotated bounding-box centre
//! (x, y). Square |X|, |Y| ≤ 0.15·scale; ellipse (X/0.15·scale)² + (Y/0.075·scale)² ≤ 1; heart
//! (X'² + Y'² − 1)³ − X'²Y'³ ≤ 0 at (X', Y') = (X/k, Y/k + Yc), k = 0.3·scale / (curve width), Yc the
//! middle of the curve's Y range (extent computed numerically once, [`heart_extent`]). Rotation θ is
//! counter-clockwise on screen, so with (p, q) = (u − x, y − v): X = p cos θ + q sin θ, Y = q cos θ − p sin θ.
//!
//! Our choices where the spec is silent: unfiltered sample i draws one grid index `random_range(0..GRID_SIZE)`
//! from stream (seed, 3, i); filtered sample i draws each factor uniformly from its allowed list, in the
//! order shape, scale, rotation, x, y (the distribution rejection sampling of a uniform grid index gives).

use super::raster::supersample;
use super::stream_rng;
use anyhow::{bail, Result};
use rand::Rng;
use std::f64::consts::PI;
use std::sync::OnceLock;

pub const SHAPES: [&str; 3] = ["square", "ellipse", "heart"];
/// Number of values of each factor, in index order (shape, scale, rotation, x, y).
pub const FACTOR_SIZES: [usize; 5] = [3, 6, 40, 32, 32];
pub const FACTOR_NAMES: [&str; 5] = ["shape", "scale", "rotation", "x", "y"];
pub const GRID_SIZE: usize = 737_280;
/// Stream id of this dataset for [`stream_rng`].
pub const STREAM: u64 = 3;
/// Width of every shape at scale 1 (square side, ellipse long axis, heart width).
pub const BASE_WIDTH: f64 = 0.3;

/// Factor indices of one sprite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpriteFactors {
    pub shape: usize,
    pub scale: usize,
    pub rotation: usize,
    pub x: usize,
    pub y: usize,
}

impl SpriteFactors {
    /// Decodes a grid index (None when out of range).
    pub fn from_index(i: usize) -> Option<Self> {
        let (mut rest, mut idx) = (i, [0usize; 5]);
        for k in (0..5).rev() {
            (idx[k], rest) = (rest % FACTOR_SIZES[k], rest / FACTOR_SIZES[k]);
        }
        (i < GRID_SIZE).then_some(Self::from_array(idx))
    }

    /// Grid index, row-major over (shape, scale, rotation, x, y), y fastest.
    pub fn index(&self) -> usize {
        self.to_array().iter().zip(FACTOR_SIZES).fold(0, |acc, (&k, n)| acc * n + k)
    }

    /// linspace(0.5, 1.0, 6).
    pub fn scale_value(&self) -> f64 {
        0.5 + 0.5 * self.scale as f64 / 5.0
    }

    /// 2π·k/40, k ∈ 0..40 (2π excluded).
    pub fn rotation_value(&self) -> f64 {
        2.0 * PI * self.rotation as f64 / 40.0
    }

    /// linspace(0.2, 0.8, 32), as is y.
    pub fn x_value(&self) -> f64 {
        position(self.x)
    }

    pub fn y_value(&self) -> f64 {
        position(self.y)
    }

    /// Indices in factor order (shape, scale, rotation, x, y).
    pub fn to_array(&self) -> [usize; 5] {
        [self.shape, self.scale, self.rotation, self.x, self.y]
    }

    pub fn from_array(a: [usize; 5]) -> Self {
        Self {
            shape: a[0],
            scale: a[1],
            rotation: a[2],
            x: a[3],
            y: a[4],
        }
    }
}

fn position(k: usize) -> f64 {
    0.2 + 0.6 * k as f64 / 31.0
}

/// Filters restrict factors to subsets: each field None = any, Some(list of allowed indices).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpriteFilter {
    pub shape: Option<Vec<usize>>,
    pub scale: Option<Vec<usize>>,
    pub rotation: Option<Vec<usize>>,
    pub x: Option<Vec<usize>>,
    pub y: Option<Vec<usize>>,
}

impl SpriteFilter {
    fn fields(&self) -> [&Option<Vec<usize>>; 5] {
        [&self.shape, &self.scale, &self.rotation, &self.x, &self.y]
    }

    /// Errors on an empty list or an index out of its factor's range.
    pub fn validate(&self) -> Result<()> {
        for ((field, n), name) in self.fields().into_iter().zip(FACTOR_SIZES).zip(FACTOR_NAMES) {
            let Some(list) = field else { continue };
            if list.is_empty() {
                bail!("sprites filter: empty list for factor `{name}`");
            }
            if let Some(bad) = list.iter().find(|&&k| k >= n) {
                bail!("sprites filter: index {bad} out of range 0..{n} for factor `{name}`");
            }
        }
        Ok(())
    }

    /// Whether the factors satisfy the filter.
    pub fn allows(&self, f: &SpriteFactors) -> bool {
        let (fields, a) = (self.fields(), f.to_array());
        (0..5).all(|k| fields[k].as_ref().is_none_or(|l| l.contains(&a[k])))
    }
}

pub struct Sprites {
    pub size: usize,
    pub seed: u64,
    pub filter: SpriteFilter,
}

impl Sprites {
    pub fn new(size: usize, seed: u64) -> Self {
        let filter = SpriteFilter::default();
        Self { size, seed, filter }
    }

    /// With a filter, validated first.
    pub fn with_filter(size: usize, seed: u64, filter: SpriteFilter) -> Result<Self> {
        filter.validate()?;
        Ok(Self { size, seed, filter })
    }

    /// Factors of random sample i (uniform over the grid, or over the filtered sub-grid: each factor
    /// uniformly from its allowed list). The filter is assumed valid ([`SpriteFilter::validate`]); an
    /// invalid one does not panic: an empty list counts as unrestricted, a bad index wraps modulo the range.
    pub fn factors(&self, i: u64) -> SpriteFactors {
        let mut rng = stream_rng(self.seed, STREAM, i);
        if self.filter == SpriteFilter::default() {
            // The index is < GRID_SIZE, so the decode always succeeds.
            return SpriteFactors::from_index(rng.random_range(0..GRID_SIZE)).unwrap_or(SpriteFactors::from_array([0; 5]));
        }
        let mut idx = [0usize; 5];
        for ((k, field), n) in idx.iter_mut().zip(self.filter.fields()).zip(FACTOR_SIZES) {
            *k = match field {
                Some(list) if !list.is_empty() => list[rng.random_range(0..list.len())] % n,
                _ => rng.random_range(0..n),
            };
        }
        SpriteFactors::from_array(idx)
    }

    /// Renders one sprite, `1×S×S` (row v, column u), values in [0, 1].
    pub fn render(&self, f: &SpriteFactors) -> Vec<f32> {
        let (x, y, half) = (f.x_value(), f.y_value(), 0.5 * BASE_WIDTH * f.scale_value());
        let (sin, cos) = f.rotation_value().sin_cos();
        // Heart: curve units per image unit, and the middle of the curve's Y range.
        let (hw, y0, y1) = heart_extent();
        let (heart_k, heart_yc) = (half / hw, 0.5 * (y0 + y1));
        supersample::<1>(self.size, |u, v| {
            let (p, q) = (u - x, y - v);
            let (lx, ly) = (p * cos + q * sin, -p * sin + q * cos);
            let inside = match f.shape {
                0 => lx.abs() <= half && ly.abs() <= half,
                1 => (lx / half).powi(2) + (ly / (0.5 * half)).powi(2) <= 1.0,
                _ => heart(lx / heart_k, ly / heart_k + heart_yc) <= 0.0,
            };
            [if inside { 1.0 } else { 0.0 }]
        })
    }

    /// Image and factors of random sample i.
    pub fn sample(&self, i: u64) -> (Vec<f32>, SpriteFactors) {
        let f = self.factors(i);
        (self.render(&f), f)
    }

    /// Samples start..start+n, images contiguous `n×1×S×S`, rendered in parallel.
    pub fn batch(&self, start: u64, n: usize) -> (Vec<f32>, Vec<SpriteFactors>) {
        use rayon::prelude::*;
        let (images, factors): (Vec<Vec<f32>>, Vec<SpriteFactors>) =
            (start..start + n as u64).into_par_iter().map(|i| self.sample(i)).unzip();
        (images.concat(), factors)
    }
}

/// The heart's implicit function: ≤ 0 inside (Y up, tip at (0, −1)).
fn heart(x: f64, y: f64) -> f64 {
    (x * x + y * y - 1.0).powi(3) - x * x * y.powi(3)
}

/// Extent of the heart region: (half-width, Y min, Y max), computed once. The region is star-shaped about the origin:
/// along (cos t, sin t), (r² − 1)³/r⁵ increases with r (derivative (r² − 1)²(r² + 5)/r⁶ ≥ 0), so the boundary radius
/// is the unique root of (r² − 1)³/r⁵ = cos²t·sin³t, found by bisection at 2¹⁶ angles t (error ~1e-8).
pub fn heart_extent() -> (f64, f64, f64) {
    static EXTENT: OnceLock<(f64, f64, f64)> = OnceLock::new();
    *EXTENT.get_or_init(|| {
        let (n, mut ext) = (1u32 << 16, (0f64, 0f64, 0f64));
        for k in 0..n {
            let (sin, cos) = (2.0 * PI * k as f64 / n as f64).sin_cos();
            let (mut lo, mut hi) = (1e-6f64, 3.0f64);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if (mid * mid - 1.0).powi(3) / mid.powi(5) < cos * cos * sin.powi(3) {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            ext = (ext.0.max(lo * cos), ext.1.min(lo * sin), ext.2.max(lo * sin));
        }
        ext
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(s: usize, a: [usize; 5]) -> Vec<f32> {
        Sprites::new(s, 0).render(&SpriteFactors::from_array(a))
    }

    /// (mass in pixels, centre u, centre v, var u, var v, cov uv), positions normalised.
    fn moments(img: &[f32], s: usize) -> [f64; 6] {
        let mut m = [0f64; 6];
        for (k, &w) in img.iter().enumerate() {
            let (w, u, v) = (w as f64, ((k % s) as f64 + 0.5) / s as f64, ((k / s) as f64 + 0.5) / s as f64);
            let t = [w, w * u, w * v, w * u * u, w * v * v, w * u * v];
            (0..6).for_each(|q| m[q] += t[q]);
        }
        let (cu, cv) = (m[1] / m[0], m[2] / m[0]);
        [m[0], cu, cv, m[3] / m[0] - cu * cu, m[4] / m[0] - cv * cv, m[5] / m[0] - cu * cv]
    }

    /// Lit pixels: [first column, last column, first row, last row].
    fn lit_box(img: &[f32], s: usize) -> [usize; 4] {
        let cols: Vec<usize> = (0..s).filter(|&i| (0..s).any(|j| img[j * s + i] > 0.0)).collect();
        let rows: Vec<usize> = (0..s).filter(|&j| (0..s).any(|i| img[j * s + i] > 0.0)).collect();
        [cols[0], cols[cols.len() - 1], rows[0], rows[rows.len() - 1]]
    }

    /// Mean pixel mass over an 8×8 sub-grid of positions (averages out the quarter-pixel quantisation).
    fn mean_mass(s: usize, shape: usize, rotation: usize) -> f64 {
        let imgs = (0..64).map(|k| render(s, [shape, 5, rotation, 4 * (k / 8), 4 * (k % 8)]));
        imgs.map(|img| moments(&img, s)[0]).sum::<f64>() / 64.0
    }

    #[test]
    fn index_round_trip_and_values() {
        let idx = |i| SpriteFactors::from_index(i).map(|f| f.to_array());
        assert_eq!((idx(1), idx(32)), (Some([0, 0, 0, 0, 1]), Some([0, 0, 0, 1, 0])));
        assert_eq!(idx(GRID_SIZE - 1), Some([2, 5, 39, 31, 31]));
        assert_eq!((idx(GRID_SIZE), FACTOR_SIZES.iter().product::<usize>()), (None, GRID_SIZE));
        let round_trip = |i| SpriteFactors::from_index(i).map(|f| f.index()) == Some(i);
        assert!((0..GRID_SIZE).step_by(997).all(round_trip));
        let f = SpriteFactors::from_array([1, 5, 10, 31, 0]);
        assert_eq!(f.scale_value(), 1.0);
        assert!((f.rotation_value() - PI / 2.0).abs() < 1e-12 && (f.x_value() - 0.8).abs() < 1e-12 && (f.y_value() - 0.2).abs() < 1e-12);
        let (hw, y0, y1) = heart_extent();
        println!("heart extent: half-width {hw:.9}, Y in [{y0:.9}, {y1:.9}]");
        assert!((y0 + 1.0).abs() < 1e-9 && hw > 1.1 && hw < 1.2 && y1 > 1.2 && y1 < 1.3);
    }

    #[test]
    fn areas_and_centres_match_geometry() {
        for s in [32, 64] {
            let (s2, square, ellipse) = ((s * s) as f64, mean_mass(s, 0, 0), mean_mass(s, 1, 0));
            let (sq, el) = (0.09 * s2, PI * 0.15 * 0.075 * s2);
            println!("S={s}: mean mass of square {square:.3} vs {sq:.3}, of ellipse {ellipse:.3} vs {el:.3}");
            assert!((square / sq - 1.0).abs() < 0.01 && (ellipse / el - 1.0).abs() < 0.01);
            // One square is off by at most one quarter-pixel sub-sample column and row.
            let one = moments(&render(s, [0, 5, 0, 7, 19]), s)[0];
            assert!((one / (0.09 * s2) - 1.0).abs() < 2.0 / (4.0 * 0.3 * s as f64), "{one}");
            assert!((mean_mass(s, 0, 7) / square - 1.0).abs() < 0.01, "rotation changes the area");
            // The square's centre of mass is (x, y) within half a pixel.
            for (x, y, rot) in [(0, 31, 0), (5, 9, 3), (17, 2, 11), (31, 31, 20), (22, 14, 33)] {
                let m = moments(&render(s, [0, 3, rot, x, y]), s);
                let d = (m[1] - position(x)).abs().max((m[2] - position(y)).abs());
                assert!(d <= 0.5 / s as f64, "{m:?}");
            }
            // Heart: positive area, width 0.3·S, lit bounding box centred on (x, y) within a pixel.
            let (img, sf) = (render(s, [2, 5, 0, 13, 21]), s as f64);
            let row = |j: usize| img[j * s..(j + 1) * s].iter().sum::<f32>() as f64;
            let (row_width, w) = ((0..s).map(row).fold(0.0, f64::max), 0.3 * sf);
            let [c0, c1, r0, r1] = lit_box(&img, s);
            let mass = moments(&img, s)[0];
            println!("S={s}: heart mass {mass:.2}, widest row {row_width:.3} vs {w:.3}, lit columns {c0}..={c1}");
            assert!(mass > 0.05 * sf * sf && (row_width - w).abs() < 0.5 && ((c1 + 1 - c0) as f64 - w).abs() <= 2.0);
            assert!(((c0 + c1 + 1) as f64 / (2.0 * sf) - position(13)).abs() <= 1.0 / sf);
            assert!(((r0 + r1 + 1) as f64 / (2.0 * sf) - position(21)).abs() <= 1.0 / sf);
        }
    }

    #[test]
    fn rotation_direction() {
        let (c, px) = (position(15), 1.0 / 64.0);
        // Ellipse: long along u at 0°, along v at 90°; at 45° counter-clockwise its right end rises on
        // screen (v decreases), so u and v are anti-correlated.
        let e = |rot| moments(&render(64, [1, 5, rot, 15, 15]), 64);
        let (e0, e45, e90) = (e(0), e(5), e(10));
        assert!(e0[3] > 3.0 * e0[4] && e90[4] > 3.0 * e90[3] && e45[5] < -0.5 * e45[3], "{e45:?}");
        // Heart: the lobes outweigh the tip, so the centre of mass lies on the lobes' side of (x, y),
        // and the tip is a short lit run, centred on the axis, at the opposite extreme.
        let h = |rot| render(64, [2, 5, rot, 15, 15]);
        let run = |img: &[f32], at: &dyn Fn(usize) -> usize| {
            let lit: Vec<f64> = (0..64).filter(|&k| img[at(k)] > 0.0).map(|k| (k as f64 + 0.5) * px).collect();
            (lit.len(), lit.iter().sum::<f64>() / lit.len() as f64)
        };
        let (img0, img90) = (h(0), h(10));
        let (m0, m90) = (moments(&img0, 64), moments(&img90, 64));
        assert!(m0[2] < c - px && (m0[1] - c).abs() < 0.5 * px, "tip not at the bottom: {m0:?}");
        let (n, centre) = run(&img0, &|i| lit_box(&img0, 64)[3] * 64 + i);
        assert!(n <= 3 && (centre - c).abs() < 1.5 * px, "bottom row: {n} lit around {centre}");
        // 90° counter-clockwise on screen: tip to the right, lobes to the left.
        assert!(m90[1] < c - px && (m90[2] - c).abs() < 0.5 * px, "tip not on the right: {m90:?}");
        let (n, centre) = run(&img90, &|j| j * 64 + lit_box(&img90, 64)[1]);
        assert!(n <= 3 && (centre - c).abs() < 1.5 * px, "right column: {n} lit around {centre}");
        // 180°: tip at the top; 270°: tip on the left.
        assert!(moments(&h(20), 64)[2] > c + px && moments(&h(30), 64)[1] > c + px);
    }

    #[test]
    fn sample_is_independent_of_batching() {
        let sp = Sprites::new(32, 42);
        for i in [3u64, 10, 1000] {
            let ((img, fi), (imgs, fs)) = (sp.sample(i), sp.batch(i - 3, 5));
            assert_eq!((imgs.len(), fs[3]), (5 * 32 * 32, fi));
            assert_eq!(&imgs[3 * 32 * 32..4 * 32 * 32], &img[..]);
        }
        assert_ne!(Sprites::new(32, 43).factors(10), sp.factors(10));
    }

    #[test]
    fn labels_in_range_and_roughly_uniform() {
        let (sp, mut shape_counts) = (Sprites::new(32, 7), [0usize; 3]);
        for fi in (0..6000).map(|i| sp.factors(i)) {
            assert!(fi.to_array().iter().zip(FACTOR_SIZES).all(|(&k, n)| k < n) && fi.index() < GRID_SIZE);
            shape_counts[fi.shape] += 1;
        }
        assert!(shape_counts.iter().all(|&c| (1800..2200).contains(&c)), "{shape_counts:?}");
        assert!(sp.sample(5).0.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }

    #[test]
    fn filters_restrict_and_validate() {
        let only = |k: usize, list: Vec<usize>| {
            let mut fl = SpriteFilter::default();
            *[&mut fl.shape, &mut fl.scale, &mut fl.rotation, &mut fl.x, &mut fl.y][k] = Some(list);
            fl
        };
        let mut filter = only(0, vec![2]);
        (filter.x, filter.rotation) = (Some(vec![0, 31]), Some(vec![0, 10]));
        let sp = Sprites::with_filter(32, 1, filter.clone()).unwrap();
        let fs: Vec<SpriteFactors> = (0..500).map(|i| sp.factors(i)).collect();
        let ok = |fi: &SpriteFactors| filter.allows(fi) && fi.shape == 2 && [0, 31].contains(&fi.x) && [0, 10].contains(&fi.rotation);
        assert!(fs.iter().all(ok));
        assert!(fs.iter().any(|fi| fi.rotation == 10) && fs.iter().any(|fi| fi.rotation == 0));
        for (k, list) in [(1, vec![]), (4, vec![32]), (0, vec![3]), (2, vec![40])] {
            assert!(only(k, list.clone()).validate().is_err() && Sprites::with_filter(32, 1, only(k, list)).is_err());
        }
        assert!(only(1, vec![0, 5]).validate().is_ok() && only(3, (0..32).collect()).validate().is_ok());
        // An invalid filter set directly does not panic.
        let mut bad = Sprites::new(8, 0);
        (bad.filter, bad.filter.x) = (only(0, vec![]), Some(vec![99]));
        assert!(bad.factors(0).x < 32);
    }

    #[test]
    fn ascii_dump() {
        let ramp: Vec<char> = " .:-=+*#%@".chars().collect();
        let list = [[0, 5, 3], [1, 5, 0], [1, 5, 5], [2, 5, 0], [2, 5, 10], [2, 2, 25]];
        for s in [32, 64] {
            let imgs: Vec<Vec<f32>> = list.iter().map(|&[a, b, c]| render(s, [a, b, c, 15, 15])).collect();
            println!("S = {s}, x = y = index 15, (shape, scale, rotation) = {list:?}");
            for j in (0..s).step_by(s / 32) {
                let cell = |img: &Vec<f32>, i: usize| ramp[(img[j * s + i] * 9.0).round() as usize];
                let row = |img: &Vec<f32>| (0..s).step_by(s / 32).map(|i| cell(img, i)).collect::<String>();
                let line: Vec<String> = imgs.iter().map(row).collect();
                if line.iter().any(|l| !l.trim().is_empty()) {
                    println!("|{}|", line.join("|"));
                }
            }
        }
    }
}
