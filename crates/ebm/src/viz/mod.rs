//! PNG plotting with no dependencies beyond the `image` crate: a bitmap font ([`font`]), 2-D energy
//! landscapes / scatter plots and line plots ([`plot2d`]) and image grids ([`grid`]).
//!
//! Every public function writes its PNG atomically (temp file `.<name>.<pid>.tmp` in the target
//! directory, then `rename`), creating parent directories as needed.

pub mod animation;
pub mod font;
pub mod grid;
pub mod histogram;
pub mod plot2d;

pub use animation::grid_animation;
pub use grid::{image_grid, render_grid};
pub use histogram::score_histogram;
pub use plot2d::{line_plot, scatter_with_energy, EnergyMap};

use anyhow::{Context, Result};
use font::{draw_text, text_width};
use image::{ImageFormat, Rgb, RgbImage};
use std::path::Path;

/// Writes `img` as a PNG at `path` atomically, creating parent directories.
pub(crate) fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Png)
        .with_context(|| format!("encoding {}", path.display()))?;
    crate::io::write_atomically(path, bytes.get_ref())
}

/// Half-open pixel rectangle `[x0, x1) × [y0, y1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    pub fn new(x: i64, y: i64, w: i64, h: i64) -> Self {
        let (x0, y0, x1, y1) = (x, y, x + w, y + h);
        Rect { x0, y0, x1, y1 }
    }
    pub fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }
    pub fn w(&self) -> i64 {
        self.x1 - self.x0
    }
    pub fn h(&self) -> i64 {
        self.y1 - self.y0
    }
}

/// Blends `color` over pixel (x, y) with opacity `alpha` (0..=1) if it lies in the image and `clip`.
pub(crate) fn blend(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3], alpha: f64, clip: Option<Rect>) {
    if x < 0 || y < 0 || x >= i64::from(img.width()) || y >= i64::from(img.height()) || alpha.is_nan() || alpha <= 0.0 {
        return;
    }
    if clip.is_some_and(|r| !r.contains(x, y)) {
        return;
    }
    let a = alpha.min(1.0);
    let p = img.get_pixel_mut(x as u32, y as u32);
    for (dst, src) in p.0.iter_mut().zip(color) {
        *dst = (f64::from(*dst) * (1.0 - a) + f64::from(src) * a).round() as u8;
    }
}

pub(crate) fn fill_rect(img: &mut RgbImage, r: Rect, color: [u8; 3], alpha: f64) {
    for y in r.y0.max(0)..r.y1.min(i64::from(img.height())) {
        for x in r.x0.max(0)..r.x1.min(i64::from(img.width())) {
            blend(img, x, y, color, alpha, None);
        }
    }
}

/// 1-pixel outline just inside `r`.
pub(crate) fn stroke_rect(img: &mut RgbImage, r: Rect, color: [u8; 3]) {
    fill_rect(img, Rect::new(r.x0, r.y0, r.w(), 1), color, 1.0);
    fill_rect(img, Rect::new(r.x0, r.y1 - 1, r.w(), 1), color, 1.0);
    fill_rect(img, Rect::new(r.x0, r.y0, 1, r.h()), color, 1.0);
    fill_rect(img, Rect::new(r.x1 - 1, r.y0, 1, r.h()), color, 1.0);
}

/// Anti-aliased thick segment between pixel-space points (pixel centres are at integer + 0.5).
pub(crate) fn draw_segment(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), width: f64, color: [u8; 3], clip: Option<Rect>) {
    let r = width / 2.0;
    let (minx, maxx) = (a.0.min(b.0) - r - 1.0, a.0.max(b.0) + r + 1.0);
    let (miny, maxy) = (a.1.min(b.1) - r - 1.0, a.1.max(b.1) + r + 1.0);
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    if ![minx, maxx, miny, maxy].iter().all(|v| v.is_finite()) || maxx < 0.0 || maxy < 0.0 || minx > w || miny > h {
        return;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for py in (miny.max(0.0) as i64)..=(maxy.min(h) as i64) {
        for px in (minx.max(0.0) as i64)..=(maxx.min(w) as i64) {
            let (cx, cy) = (px as f64 + 0.5, py as f64 + 0.5);
            let t = (((cx - a.0) * dx + (cy - a.1) * dy) / len2.max(1e-300)).clamp(0.0, 1.0);
            let d = ((cx - a.0 - t * dx).powi(2) + (cy - a.1 - t * dy).powi(2)).sqrt();
            blend(img, px, py, color, (r + 0.5 - d).clamp(0.0, 1.0), clip);
        }
    }
}

/// Anti-aliased filled disc of radius `r` centred at pixel-space (cx, cy).
pub(crate) fn draw_disc(img: &mut RgbImage, c: (f64, f64), r: f64, color: [u8; 3], clip: Option<Rect>) {
    draw_segment(img, c, c, 2.0 * r, color, clip);
}

/// "Nice" tick positions (steps of 1, 2 or 5 × 10^k) inside `[lo, hi]`, and the step.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || span.is_infinite() {
        return (vec![lo], 1.0);
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag * [1.0, 2.0, 5.0, 10.0][[1.5, 3.0, 7.0].iter().filter(|t| norm >= **t).count()];
    let first = (lo / step).ceil();
    let end = hi + step * 1e-9;
    (
        (0..100).map(|i| (first + i as f64) * step).take_while(|v| *v <= end).collect(),
        step,
    )
}

/// Formats a tick value with just enough decimals for `step`.
pub(crate) fn format_tick(v: f64, step: f64) -> String {
    let v = if (v / step).abs() < 1e-9 { 0.0 } else { v };
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-4) {
        return format!("{v:.1e}");
    }
    let decimals = (-step.log10() - 1e-9).ceil().clamp(0.0, 8.0) as usize;
    format!("{v:.decimals$}")
}

/// Viridis colormap (perceptually uniform), `t` in [0, 1]; NaN maps to 0.
pub(crate) fn viridis(t: f64) -> [u8; 3] {
    #[rustfmt::skip]
    const TABLE: [[f64; 3]; 9] = [
        [68.0, 1.0, 84.0], [71.0, 44.0, 122.0], [59.0, 82.0, 139.0], [44.0, 113.0, 142.0], [33.0, 145.0, 140.0],
        [40.0, 174.0, 128.0], [94.0, 201.0, 98.0], [170.0, 220.0, 50.0], [253.0, 231.0, 37.0],
    ];
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * (TABLE.len() - 1) as f64;
    let i = (t.floor() as usize).min(TABLE.len() - 2);
    let f = t - i as f64;
    let c = |k: usize| (TABLE[i][k] + (TABLE[i + 1][k] - TABLE[i][k]) * f).round() as u8;
    [c(0), c(1), c(2)]
}

/// Data range of finite values, padded by `pad` of the span (or ±0.5 when degenerate); `[0, 1]` if empty.
pub(crate) fn data_range(vals: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = vals
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 * lo.abs().max(1.0) {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo - pad * (hi - lo), hi + pad * (hi - lo))
    }
}

/// A plot area in pixels with its data ranges.
pub(crate) struct Axes {
    pub area: Rect,
    pub xr: (f64, f64),
    pub yr: (f64, f64),
}

impl Axes {
    pub fn to_px(&self, x: f64, y: f64) -> (f64, f64) {
        let px = self.area.x0 as f64 + (x - self.xr.0) / (self.xr.1 - self.xr.0) * self.area.w() as f64;
        let py = self.area.y1 as f64 - (y - self.yr.0) / (self.yr.1 - self.yr.0) * self.area.h() as f64;
        (px, py)
    }

    /// Widest y tick label in pixels, used to size the left margin before the area is known.
    pub fn y_label_width(yr: (f64, f64), scale: u32) -> i64 {
        let (t, s) = nice_ticks(yr.0, yr.1, 8);
        let width = |v: &f64| i64::from(text_width(&format_tick(*v, s), scale));
        t.iter().map(width).max().unwrap_or(0)
    }

    /// Box, ticks and tick labels; `grid` draws faint lines across the area at each tick.
    pub fn draw(&self, img: &mut RgbImage, scale: u32, fg: [u8; 3], grid: Option<[u8; 3]>) {
        let a = self.area;
        let (xt, xs) = nice_ticks(self.xr.0, self.xr.1, ((a.w() / 80) as usize).clamp(3, 8));
        let tick = 4 * i64::from(scale);
        for v in &xt {
            let px = self.to_px(*v, 0.0).0.round().clamp(a.x0 as f64, (a.x1 - 1) as f64) as i64;
            if let Some(g) = grid {
                fill_rect(img, Rect::new(px, a.y0, 1, a.h()), g, 1.0);
            }
            fill_rect(img, Rect::new(px, a.y1, 1, tick), fg, 1.0);
            let label = format_tick(*v, xs);
            let lx = px - i64::from(text_width(&label, scale)) / 2;
            draw_text(img, lx as i32, (a.y1 + tick + 2) as i32, &label, scale, fg);
        }
        let (yt, ys) = nice_ticks(self.yr.0, self.yr.1, ((a.h() / 60) as usize).clamp(3, 8));
        for v in &yt {
            let py = self.to_px(0.0, *v).1.round().clamp(a.y0 as f64, (a.y1 - 1) as f64) as i64;
            if let Some(g) = grid {
                fill_rect(img, Rect::new(a.x0, py, a.w(), 1), g, 1.0);
            }
            fill_rect(img, Rect::new(a.x0 - tick, py, tick, 1), fg, 1.0);
            let label = format_tick(*v, ys);
            let lx = a.x0 - tick - 3 - i64::from(text_width(&label, scale));
            draw_text(img, lx as i32, (py - i64::from(7 * scale) / 2) as i32, &label, scale, fg);
        }
        stroke_rect(img, Rect::new(a.x0 - 1, a.y0 - 1, a.w() + 2, a.h() + 2), fg);
    }
}

pub(crate) fn draw_title(img: &mut RgbImage, title: &str, scale: u32, y: i64, fg: [u8; 3]) {
    let x = (i64::from(img.width()) - i64::from(text_width(title, scale))) / 2;
    draw_text(img, x.max(2) as i32, y as i32, title, scale, fg);
}

pub(crate) fn new_image(w: u32, h: u32, bg: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(bg))
}

/// Pictures stacked top to bottom (centred) under a title, saved as one PNG.
pub fn save_stacked(path: &Path, pictures: &[RgbImage], title: &str) -> Result<()> {
    const BG: [u8; 3] = [40, 40, 40];
    let title_h = font::text_height(2) + 8;
    let width = pictures.iter().map(|p| p.width()).max().unwrap_or(0).max(text_width(title, 2) + 8);
    let height = title_h + pictures.iter().map(|p| p.height()).sum::<u32>();
    let mut img = new_image(width, height, BG);
    draw_text(&mut img, ((width - text_width(title, 2)) / 2) as i32, 4, title, 2, [235, 235, 235]);
    let mut y = title_h;
    for picture in pictures {
        image::imageops::replace(&mut img, picture, i64::from((width - picture.width()) / 2), i64::from(y));
        y += picture.height();
    }
    save_png(path, &img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_save_creates_dirs_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("viz_mod_test_{}", std::process::id()));
        let path = dir.join("a/b/img.png");
        save_png(&path, &new_image(7, 5, [1, 2, 3])).unwrap();
        let back = image::open(&path).unwrap();
        assert_eq!((back.width(), back.height()), (7, 5));
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("a/b")).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ticks_are_nice() {
        let (t, s) = nice_ticks(-3.0, 3.0, 5);
        assert_eq!(s, 1.0);
        assert_eq!(t, vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]);
        let (t, s) = nice_ticks(0.0, 0.93, 5);
        assert_eq!(s, 0.2);
        assert_eq!(t.len(), 5);
        assert_eq!(format_tick(t[1], s), "0.2");
        assert_eq!(format_tick(-1e-17, 0.5), "0.0");
        assert_eq!(format_tick(20.0, 10.0), "20");
        assert_eq!(nice_ticks(1.0, 1.0, 5).0, vec![1.0]);
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5).0.len(), 1);
    }

    #[test]
    fn colormap_endpoints_and_nan() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
    }

    #[test]
    fn drawing_clips_without_panicking() {
        let mut img = new_image(10, 10, [0, 0, 0]);
        draw_segment(&mut img, (-50.0, -50.0), (60.0, 60.0), 3.0, [255, 0, 0], None);
        draw_segment(&mut img, (f64::NAN, 0.0), (1.0, 1.0), 3.0, [255, 0, 0], None);
        draw_disc(&mut img, (5.0, 5.0), 2.0, [0, 255, 0], Some(Rect::new(0, 0, 5, 5)));
        assert_eq!(img.get_pixel(5, 5).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(4, 4).0[1], 255);
        fill_rect(&mut img, Rect::new(-5, -5, 100, 100), [9, 9, 9], 1.0);
        assert_eq!(img.get_pixel(9, 9).0, [9, 9, 9]);
    }
}
