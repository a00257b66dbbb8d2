//! Image grids: lay out a batch of small images (e.g. samples of an image EBM) in one PNG.

use super::font::{draw_text, text_height, text_width, ADVANCE};
use super::{new_image, save_png};
use anyhow::{ensure, Result};
use image::RgbImage;
use std::path::Path;

const GAP: u32 = 2;
const BG: [u8; 3] = [40, 40, 40];
const FG: [u8; 3] = [235, 235, 235];

/// Pixel layout of a grid; all coordinates in output pixels.
#[derive(Clone, Copy, Debug)]
struct Layout {
    width: u32,
    height: u32,
    /// Top-left corner of cell 0.
    origin: (u32, u32),
    cell: (u32, u32),
    /// Distance between the top-left corners of neighbouring cells.
    pitch: (u32, u32),
    ncols: u32,
    caption_scale: u32,
    title_scale: u32,
}

impl Layout {
    fn new(n: usize, height: usize, width: usize, ncols: usize, captions: bool, title: Option<&str>, scale: u32) -> Result<Self> {
        let too_big = || anyhow::anyhow!("image grid would be too large");
        let ncols = ncols.clamp(1, n.max(1));
        let nrows = n.div_ceil(ncols);
        let cell_w = u32::try_from(width)?.checked_mul(scale).ok_or_else(too_big)?;
        let cell_h = u32::try_from(height)?.checked_mul(scale).ok_or_else(too_big)?;
        let caption_scale = if cell_w >= 160 { 2 } else { 1 };
        let caption_h = if captions { text_height(caption_scale) + 3 } else { 0 };
        let pitch = (cell_w + GAP, cell_h + caption_h + GAP);
        let grid_w = GAP + u32::try_from(ncols)?.checked_mul(pitch.0).ok_or_else(too_big)?;
        let grid_h = GAP + u32::try_from(nrows)?.checked_mul(pitch.1).ok_or_else(too_big)?;
        let title_scale = if grid_w >= 300 { 2 } else { 1 };
        let (title_w, title_h) = match title {
            Some(t) => (text_width(t, title_scale).saturating_add(8), text_height(title_scale) + 6),
            None => (0, 0),
        };
        let width = grid_w.max(title_w);
        let height = grid_h.checked_add(title_h).ok_or_else(too_big)?;
        ensure!(
            u64::from(width) * u64::from(height) <= 1 << 28,
            "image grid would be too large ({width}×{height})"
        );
        let origin = ((width - grid_w) / 2 + GAP, title_h + GAP);
        Ok(Layout {
            width,
            height,
            origin,
            cell: (cell_w, cell_h),
            pitch,
            ncols: ncols as u32,
            caption_scale,
            title_scale,
        })
    }

    /// Top-left pixel of cell `i` (row-major).
    fn cell_origin(&self, i: usize) -> (u32, u32) {
        let (r, c) = (i as u32 / self.ncols, i as u32 % self.ncols);
        (self.origin.0 + c * self.pitch.0, self.origin.1 + r * self.pitch.1)
    }
}

fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Writes `n` images given channel-first as `[n, channels, height, width]` (values in [0, 1], clamped,
/// NaN → 0; `channels` 1 = greyscale or 3 = RGB) as a grid with `ncols` columns. Each image is upscaled
/// by the integer `scale` (nearest neighbour); cells are separated by 2-px gaps on a dark background.
/// `captions[i]` (truncated to the cell width) is written under cell `i`; missing captions are blank.
/// An optional `title` goes on top. Errors if the slice length is not `n·channels·height·width`.
#[allow(clippy::too_many_arguments)]
pub fn image_grid(
    path: &Path,
    images: &[f32],
    n: usize,
    channels: usize,
    height: usize,
    width: usize,
    ncols: usize,
    captions: Option<&[String]>,
    title: Option<&str>,
    scale: u32,
) -> Result<()> {
    let img = render_grid(images, n, channels, height, width, ncols, captions, title, scale)?;
    save_png(path, &img)
}

/// [`image_grid`]'s picture, in memory (e.g. as one frame of an animation).
#[allow(clippy::too_many_arguments)]
pub fn render_grid(
    images: &[f32],
    n: usize,
    channels: usize,
    height: usize,
    width: usize,
    ncols: usize,
    captions: Option<&[String]>,
    title: Option<&str>,
    scale: u32,
) -> Result<RgbImage> {
    ensure!(
        channels == 1 || channels == 3,
        "image_grid: channels must be 1 or 3, got {channels}"
    );
    ensure!(
        n > 0 && height > 0 && width > 0,
        "image_grid: empty batch or image ({n}×{channels}×{height}×{width})"
    );
    ensure!(scale > 0, "image_grid: scale must be >= 1");
    let expected = [n, channels, height, width].iter().try_fold(1usize, |a, b| a.checked_mul(*b));
    ensure!(
        expected == Some(images.len()),
        "image_grid: slice has {} values, expected n·c·h·w = {n}·{channels}·{height}·{width}",
        images.len()
    );
    let lay = Layout::new(n, height, width, ncols, captions.is_some(), title, scale)?;
    let mut img = new_image(lay.width, lay.height, BG);
    let plane = height * width;
    let s = scale as usize;
    for (i, data) in images.chunks_exact(channels * plane).enumerate() {
        let (ox, oy) = lay.cell_origin(i);
        for y in 0..lay.cell.1 as usize {
            for x in 0..lay.cell.0 as usize {
                let k = (y / s) * width + x / s;
                let px = if channels == 1 {
                    [to_u8(data[k]); 3]
                } else {
                    [to_u8(data[k]), to_u8(data[plane + k]), to_u8(data[2 * plane + k])]
                };
                img.put_pixel(ox + x as u32, oy + y as u32, image::Rgb(px));
            }
        }
        if let Some(text) = captions.and_then(|c| c.get(i)) {
            let max_chars = ((lay.cell.0 + 1) / (ADVANCE * lay.caption_scale)) as usize;
            let text: String = text.chars().take(max_chars).collect();
            let tx = ox + (lay.cell.0 - text_width(&text, lay.caption_scale)) / 2;
            draw_text(&mut img, tx as i32, (oy + lay.cell.1 + 2) as i32, &text, lay.caption_scale, FG);
        }
    }
    if let Some(t) = title {
        let tx = (lay.width.saturating_sub(text_width(t, lay.title_scale))) / 2;
        draw_text(&mut img, tx as i32, 3, t, lay.title_scale, FG);
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("viz_grid_test_{}", std::process::id()))
            .join(name)
    }

    #[test]
    fn white_image_lands_in_its_cell() {
        let (n, c, h, w, scale) = (5, 3, 4, 6, 3);
        let mut data = vec![0.0f32; n * c * h * w];
        data[2 * c * h * w..3 * c * h * w].fill(1.0);
        data[4 * c * h * w] = f32::NAN; // image 4, red channel, pixel (0, 0)
        data[4 * c * h * w + h * w] = 7.0; // green clamps to 1
        let caps: Vec<String> = (0..n).map(|i| format!("#{i}")).collect();
        let path = tmp("grid.png");
        image_grid(&path, &data, n, c, h, w, 3, Some(&caps), Some("Samples"), scale).unwrap();
        let lay = Layout::new(n, h, w, 3, true, Some("Samples"), scale).unwrap();
        let out = image::open(&path).unwrap().to_rgb8();
        assert_eq!((out.width(), out.height()), (lay.width, lay.height));
        assert_eq!(lay.width, GAP + 3 * (w as u32 * scale + GAP));
        let (ox, oy) = lay.cell_origin(2);
        for y in 0..h as u32 * scale {
            for x in 0..w as u32 * scale {
                assert_eq!(out.get_pixel(ox + x, oy + y).0, [255, 255, 255]);
            }
        }
        assert_eq!(out.get_pixel(ox - 1, oy).0, BG, "gap left of cell 2");
        let (ox, oy) = lay.cell_origin(1);
        assert_eq!(out.get_pixel(ox, oy).0, [0, 0, 0]);
        let (ox, oy) = lay.cell_origin(4);
        assert_eq!(lay.cell_origin(4).1, lay.cell_origin(1).1 + lay.pitch.1);
        assert_eq!(out.get_pixel(ox + scale - 1, oy).0, [0, 255, 0]);
        assert_eq!(out.get_pixel(ox + scale, oy).0, [0, 0, 0]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn greyscale_without_captions() {
        let (n, h, w) = (4, 2, 2);
        let data: Vec<f32> = (0..n * h * w).map(|i| i as f32 / 15.0).collect();
        let path = tmp("grey.png");
        image_grid(&path, &data, n, 1, h, w, 2, None, None, 1).unwrap();
        let out = image::open(&path).unwrap().to_rgb8();
        assert_eq!((out.width(), out.height()), (2 + 2 * 4, 2 + 2 * 4));
        assert_eq!(out.get_pixel(2 + 4 + 1, 2 + 4 + 1).0, [255; 3]); // image 3, last pixel = 15/15
        assert_eq!(out.get_pixel(2 + 1, 2).0, [17; 3]); // image 0, pixel (0, 1) = 1/15
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bad_inputs_are_errors() {
        let p = tmp("bad.png");
        assert!(image_grid(&p, &[0.0; 11], 1, 3, 2, 2, 1, None, None, 1).is_err());
        assert!(image_grid(&p, &[0.0; 8], 1, 2, 2, 2, 1, None, None, 1).is_err());
        assert!(image_grid(&p, &[], 0, 1, 2, 2, 1, None, None, 1).is_err());
        assert!(image_grid(&p, &[0.0; 4], 1, 1, 2, 2, 1, None, None, 0).is_err());
        assert!(image_grid(&p, &[0.0; 4], usize::MAX, 1, 2, 2, 1, None, None, 1).is_err());
        assert!(!p.exists());
        // ncols larger than n and missing/long captions are fine.
        let caps = vec!["a very long caption indeed".to_string()];
        image_grid(&p, &[0.5; 8], 2, 1, 2, 2, 10, Some(&caps), Some("a title wider than the grid"), 1).unwrap();
        assert_eq!(image::open(&p).unwrap().height(), 2 + 2 + 2 + 9 + 3 + 9 + 6);
        std::fs::remove_file(&p).unwrap();
    }
}
