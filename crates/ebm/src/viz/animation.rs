//! Animated GIFs of image grids: a sampling chain, one frame per recorded step.

use super::grid::render_grid;
use anyhow::{ensure, Context, Result};
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};
use std::path::Path;

/// Writes `frames` (each `n·channels·height·width` values in [0, 1], laid out
/// as by [`super::image_grid`]) as a looping GIF, atomically.
#[allow(clippy::too_many_arguments)]
pub fn grid_animation(
    path: &Path,
    frames: &[Vec<f32>],
    n: usize,
    channels: usize,
    height: usize,
    width: usize,
    ncols: usize,
    title: &str,
    scale: u32,
    frame_ms: u32,
) -> Result<()> {
    ensure!(!frames.is_empty(), "an animation needs at least one frame");
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite)?;
        for (i, frame) in frames.iter().enumerate() {
            let caption = format!("{title} ({}/{})", i + 1, frames.len());
            let rgb = render_grid(frame, n, channels, height, width, ncols, None, Some(&caption), scale)?;
            let rgba = RgbaImage::from_fn(rgb.width(), rgb.height(), |x, y| {
                let [r, g, b] = rgb.get_pixel(x, y).0;
                image::Rgba([r, g, b, 255])
            });
            // Hold the last frame so the result can be seen before the loop restarts.
            let ms = if i + 1 == frames.len() { frame_ms * 8 } else { frame_ms };
            encoder
                .encode_frame(Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(ms, 1)))
                .with_context(|| format!("encoding frame {} of {}", i + 1, path.display()))?;
        }
    }
    crate::io::write_atomically(path, &bytes)
}
