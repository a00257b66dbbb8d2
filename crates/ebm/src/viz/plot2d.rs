//! 2-D plots: energy landscape + samples ([`scatter_with_energy`]) and multi-series line plots ([`line_plot`]).

use super::font::{draw_text, draw_text_vertical, text_height, text_width};
use super::{blend, data_range, draw_disc, draw_segment, draw_title, fill_rect, new_image, save_png, stroke_rect, viridis, Axes, Rect};
use anyhow::{bail, ensure, Result};
use std::path::Path;

/// Energies sampled on a `resolution`×`resolution` grid over `[xs.0, xs.1] × [ys.0, ys.1]`.
///
/// Orientation: row-major, `energies[r * resolution + c]` is the energy at
/// `x = xs.0 + c·(xs.1−xs.0)/(resolution−1)`, `y = ys.0 + r·(ys.1−ys.0)/(resolution−1)`:
/// row 0 is the bottom edge `y = ys.0` (in the PNG, y increases upward), column 0 the left edge.
/// [`EnergyMap::grid_points`] lists the points in exactly this order.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyMap {
    pub xs: (f64, f64),
    pub ys: (f64, f64),
    pub resolution: usize,
    pub energies: Vec<f64>,
}

impl EnergyMap {
    /// The grid points `(x, y)` in the order of `energies` (see the type's docs).
    pub fn grid_points(xs: (f64, f64), ys: (f64, f64), resolution: usize) -> Vec<(f64, f64)> {
        let step = |lo: f64, hi: f64, i: usize| lo + (hi - lo) * i as f64 / (resolution.max(2) - 1) as f64;
        (0..resolution)
            .flat_map(|r| (0..resolution).map(move |c| (step(xs.0, xs.1, c), step(ys.0, ys.1, r))))
            .collect()
    }

    /// Evaluates `energy(x, y)` on the grid.
    pub fn from_fn(xs: (f64, f64), ys: (f64, f64), resolution: usize, energy: impl Fn(f64, f64) -> f64) -> Self {
        let pts = Self::grid_points(xs, ys, resolution);
        let energies = pts.iter().map(|p| energy(p.0, p.1)).collect();
        EnergyMap {
            xs,
            ys,
            resolution,
            energies,
        }
    }

    fn validate(&self) -> Result<()> {
        ensure!(self.resolution >= 2, "EnergyMap resolution must be >= 2, got {}", self.resolution);
        let (len, n2) = (self.energies.len(), self.resolution * self.resolution);
        ensure!(len == n2, "EnergyMap has {len} energies, expected resolution² = {n2}");
        let ranges_ok = valid_range(self.xs) && valid_range(self.ys);
        ensure!(
            ranges_ok,
            "EnergyMap ranges must be finite and increasing, got {:?} × {:?}",
            self.xs,
            self.ys
        );
        Ok(())
    }

    /// Bilinear interpolation at (x, y), with non-finite energies replaced by `fill`.
    fn sample(&self, x: f64, y: f64, fill: f64) -> f64 {
        let n = self.resolution;
        let fx = ((x - self.xs.0) / (self.xs.1 - self.xs.0) * (n - 1) as f64).clamp(0.0, (n - 1) as f64);
        let fy = ((y - self.ys.0) / (self.ys.1 - self.ys.0) * (n - 1) as f64).clamp(0.0, (n - 1) as f64);
        let (c0, r0) = ((fx as usize).min(n - 2), (fy as usize).min(n - 2));
        let (tx, ty) = (fx - c0 as f64, fy - r0 as f64);
        let e = |r: usize, c: usize| Some(self.energies[r * n + c]).filter(|v| v.is_finite()).unwrap_or(fill);
        let top = e(r0, c0) * (1.0 - tx) + e(r0, c0 + 1) * tx;
        let bottom = e(r0 + 1, c0) * (1.0 - tx) + e(r0 + 1, c0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

fn valid_range(r: (f64, f64)) -> bool {
    r.0.is_finite() && r.1.is_finite() && r.1 > r.0
}

/// Square scatter plot of `points` (samples: red dots with dark outline) and `reference` (e.g. data: small
/// grey dots) over an optional energy landscape: the background is the density exp(−E) normalised to its
/// maximum (viridis), overlaid with ~10 light contour lines of E at equally spaced levels between its 2nd
/// and 98th percentiles. Non-finite energies count as the maximum energy. Without a map the background is
/// dark and the range covers all points. `size_px` is the PNG's width and height.
pub fn scatter_with_energy(
    path: &Path,
    map: Option<&EnergyMap>,
    points: &[(f64, f64)],
    reference: &[(f64, f64)],
    title: &str,
    size_px: u32,
) -> Result<()> {
    ensure!((96..=8192).contains(&size_px), "size_px must be in 96..=8192, got {size_px}");
    let (fg, bg) = ([20, 20, 20], [255, 255, 255]);
    let s = (size_px / 500).max(1);
    let ts = s + 1;
    map.map(EnergyMap::validate).transpose()?;
    let all = || points.iter().chain(reference);
    let auto = || (data_range(all().map(|p| p.0), 0.05), data_range(all().map(|p| p.1), 0.05));
    let (xr, yr) = map.map_or_else(auto, |m| (m.xs, m.ys));
    let size = i64::from(size_px);
    let top = i64::from(text_height(ts)) + 10;
    let left = Axes::y_label_width(yr, s) + 4 * i64::from(s) + 8;
    let bottom = i64::from(text_height(s)) + 4 * i64::from(s) + 8;
    let side = (size - left - 12).min(size - top - bottom).max(8);
    let a = Rect::new(left + (size - left - 12 - side) / 2, top, side, side);
    let axes = Axes { area: a, xr, yr };
    let mut img = new_image(size_px, size_px, bg);
    fill_rect(&mut img, a, [24, 24, 36], 1.0);

    if let Some(m) = map {
        let finite = || m.energies.iter().copied().filter(|v| v.is_finite());
        let emax = finite().fold(f64::NEG_INFINITY, f64::max);
        let fill = if emax.is_finite() { emax } else { 0.0 };
        let (w, h) = (a.w() as usize, a.h() as usize);
        let e: Vec<f64> = (0..w * h)
            .map(|i| {
                let x = axes.xr.0 + ((i % w) as f64 + 0.5) / w as f64 * (axes.xr.1 - axes.xr.0);
                let y = axes.yr.1 - ((i / w) as f64 + 0.5) / h as f64 * (axes.yr.1 - axes.yr.0);
                m.sample(x, y, fill)
            })
            .collect();
        let emin = e.iter().copied().fold(f64::INFINITY, f64::min);
        let mut sorted: Vec<f64> = m.energies.iter().map(|v| if v.is_finite() { *v } else { fill }).collect();
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        let (lo, hi) = (pct(0.02), pct(0.98));
        let level = |v: f64| ((v - lo) / (hi - lo).max(1e-300) * 9.0).floor().clamp(-1.0, 10.0) as i32;
        let q: Vec<i32> = e.iter().map(|v| level(*v)).collect();
        for (i, v) in e.iter().enumerate() {
            let (px, py) = (a.x0 + (i % w) as i64, a.y0 + (i / w) as i64);
            fill_rect(&mut img, Rect::new(px, py, 1, 1), viridis((-(v - emin)).exp()), 1.0);
            let edge = (i % w + 1 < w && q[i + 1] != q[i]) || (i + w < w * h && q[i + w] != q[i]);
            if edge && hi > lo {
                blend(&mut img, px, py, [255, 255, 255], 0.45, None);
            }
        }
    }

    let r = (f64::from(size_px) / 220.0).max(2.0);
    for p in reference.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        draw_disc(&mut img, axes.to_px(p.0, p.1), r * 0.6, [190, 190, 190], Some(a));
    }
    for p in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        let c = axes.to_px(p.0, p.1);
        draw_disc(&mut img, c, r + 1.0, [15, 15, 15], Some(a));
        draw_disc(&mut img, c, r, [255, 70, 60], Some(a));
    }
    axes.draw(&mut img, s, fg, None);
    draw_title(&mut img, title, ts, 4, fg);
    save_png(path, &img)
}

/// Distinct series colours (Tableau 10).
#[rustfmt::skip]
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

/// Multi-series line plot of `(name, points)` with axes, ticks, axis labels, a legend and a title.
/// Non-finite points are skipped (the line is broken there); an isolated finite point is drawn as a dot.
/// `size_px` is (width, height) of the PNG.
pub fn line_plot(
    path: &Path,
    series: &[(&str, &[(f64, f64)])],
    title: &str,
    x_label: &str,
    y_label: &str,
    size_px: (u32, u32),
) -> Result<()> {
    let (wpx, hpx) = size_px;
    if !(120..=8192).contains(&wpx) || !(96..=8192).contains(&hpx) {
        bail!("line_plot size must be within 120..=8192 × 96..=8192, got {wpx}×{hpx}");
    }
    let (fg, bg) = ([20, 20, 20], [255, 255, 255]);
    let s = (wpx.min(hpx) / 500).max(1);
    let ts = s + 1;
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = || series.iter().flat_map(|(_, pts)| pts.iter().filter(finite));
    let xr = data_range(all().map(|p| p.0), 0.0);
    let yr = data_range(all().map(|p| p.1), 0.05);
    let th = i64::from(text_height(s));
    let top = i64::from(text_height(ts)) + 12;
    let left = th + 6 + Axes::y_label_width(yr, s) + 4 * i64::from(s) + 6;
    let bottom = 2 * th + 4 * i64::from(s) + 12;
    let (aw, ah) = ((i64::from(wpx) - left - 16).max(8), (i64::from(hpx) - top - bottom).max(8));
    let area = Rect::new(left, top, aw, ah);
    let axes = Axes { area, xr, yr };
    let mut img = new_image(wpx, hpx, bg);
    axes.draw(&mut img, s, fg, Some([232, 232, 232]));

    let lw = 1.5 * f64::from(s) + 0.5;
    for (k, (_, pts)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        for (i, p) in pts.iter().enumerate() {
            if !finite(&p) {
                continue;
            }
            let isolated = |j: Option<usize>| j.and_then(|j| pts.get(j)).is_none_or(|q| !finite(&q));
            match pts.get(i + 1).filter(finite) {
                Some(q) => draw_segment(&mut img, axes.to_px(p.0, p.1), axes.to_px(q.0, q.1), lw, color, Some(area)),
                None if isolated(i.checked_sub(1)) => draw_disc(&mut img, axes.to_px(p.0, p.1), lw, color, Some(area)),
                None => {}
            }
        }
    }
    axes.draw(&mut img, s, fg, None);

    let named: Vec<(usize, &str)> = series.iter().map(|s| s.0).enumerate().filter(|(_, n)| !n.is_empty()).collect();
    if !named.is_empty() {
        let row = th + 4;
        let sw = 18 * i64::from(s);
        let w = named.iter().map(|(_, n)| i64::from(text_width(n, s))).max().unwrap_or(0) + sw + 16;
        let lg = Rect::new(area.x1 - w - 6, area.y0 + 6, w, row * named.len() as i64 + 6);
        fill_rect(&mut img, lg, [255, 255, 255], 0.85);
        stroke_rect(&mut img, lg, [160, 160, 160]);
        for (i, (k, name)) in named.iter().enumerate() {
            let y = lg.y0 + 5 + row * i as i64;
            let cy = (y + i64::from(7 * s) / 2) as f64 + 0.5;
            let (x0, x1) = ((lg.x0 + 5) as f64, (lg.x0 + 5 + sw) as f64);
            draw_segment(&mut img, (x0, cy), (x1, cy), lw, PALETTE[k % PALETTE.len()], None);
            draw_text(&mut img, (lg.x0 + sw + 10) as i32, y as i32, name, s, fg);
        }
    }
    let xl = area.x0 + (area.w() - i64::from(text_width(x_label, s))) / 2;
    draw_text(&mut img, xl as i32, (i64::from(hpx) - th - 4) as i32, x_label, s, fg);
    let yl = area.y0 + (area.h() - i64::from(text_width(y_label, s))) / 2;
    draw_text_vertical(&mut img, 4, yl as i32, y_label, s, fg);
    draw_title(&mut img, title, ts, 5, fg);
    save_png(path, &img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("viz_plot2d_test_{}", std::process::id()))
            .join(name)
    }

    #[test]
    fn grid_points_orientation() {
        let pts = EnergyMap::grid_points((0.0, 2.0), (-1.0, 1.0), 3);
        assert_eq!(pts[0], (0.0, -1.0));
        assert_eq!(pts[1], (1.0, -1.0));
        assert_eq!(pts[3], (0.0, 0.0));
        assert_eq!(pts[8], (2.0, 1.0));
        let m = EnergyMap::from_fn((0.0, 2.0), (-1.0, 1.0), 3, |x, y| x + 10.0 * y);
        assert_eq!(m.energies[5], 2.0);
        assert!((m.sample(0.5, 0.5, 0.0) - 5.5).abs() < 1e-12);
    }

    #[test]
    fn scatter_writes_png_and_handles_non_finite() {
        let mut m = EnergyMap::from_fn((-3.0, 3.0), (-3.0, 3.0), 40, |x, y| (x * x + y * y) / 2.0);
        m.energies[7] = f64::NAN;
        m.energies[100] = f64::INFINITY;
        m.energies[101] = f64::NEG_INFINITY;
        let pts = [(0.0, 0.0), (1.0, -1.0), (f64::NAN, 0.0), (100.0, 100.0)];
        let path = tmp("scatter.png");
        scatter_with_energy(&path, Some(&m), &pts, &[(0.5, 0.5)], "Energy", 300).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (300, 300));
        // The low-energy centre of the map is bright (high density): yellowish in viridis.
        let c = img.get_pixel(img.width() / 2 + 10, img.height() / 2 + 10).0;
        assert!(c[0] > 150 && c[1] > 150, "{c:?}");
        scatter_with_energy(&path, None, &pts, &[], "no map", 200).unwrap();
        scatter_with_energy(&path, None, &[], &[], "", 200).unwrap();
        let all_nan = EnergyMap {
            energies: vec![f64::NAN; 4],
            ..EnergyMap::from_fn((0.0, 1.0), (0.0, 1.0), 2, |_, _| 0.0)
        };
        scatter_with_energy(&path, Some(&all_nan), &[], &[], "nan", 128).unwrap();
        let bad = EnergyMap {
            resolution: 3,
            ..all_nan.clone()
        };
        assert!(scatter_with_energy(&path, Some(&bad), &[], &[], "bad", 128).is_err());
        assert!(scatter_with_energy(&path, None, &[], &[], "tiny", 10).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn line_plot_writes_png() {
        let a: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, (i as f64 / 5.0).sin())).collect();
        let b = [(0.0, 1.0), (f64::NAN, 2.0), (10.0, f64::INFINITY), (20.0, -1.0), (30.0, 0.5)];
        let path = tmp("lines.png");
        line_plot(&path, &[("sin", &a), ("broken", &b)], "Loss", "step", "value", (400, 300)).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (400, 300));
        line_plot(&path, &[], "empty", "", "", (200, 150)).unwrap();
        line_plot(&path, &[("const", &[(1.0, 1.0), (1.0, 1.0)])], "", "x", "y", (200, 150)).unwrap();
        assert!(line_plot(&path, &[], "", "", "", (10, 10)).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
