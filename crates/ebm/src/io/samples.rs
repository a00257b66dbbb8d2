//! Samples handed to other tools: a safetensors file with `images`
//! `[N, C, H, W]` (or `samples` `[N, D]` for vector models) plus one tensor per
//! condition named after a judge head — exactly what `ebm judge score` reads —
//! and a directory of one PNG per sample at native resolution.

use super::write_tensor_file;
use anyhow::{bail, Context, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// Writes `samples` (`[N, C, H, W]` images or `[N, D]` vectors) and the
/// conditions they were drawn under, atomically.
pub fn save_samples(path: &Path, samples: &Tensor, conditions: &[(String, Tensor)], metadata: &serde_json::Value) -> Result<()> {
    let name = match samples.dim() {
        4 => "images",
        2 => "samples",
        d => bail!("samples must be [N, C, H, W] images or [N, D] vectors, got {d} dimensions"),
    };
    let n = samples.size()[0];
    let mut tensors = vec![(name.to_string(), samples.to_kind(Kind::Float))];
    for (head, value) in conditions {
        if value.size().first() != Some(&n) {
            bail!("condition '{head}' has {:?} rows for {n} samples", value.size().first());
        }
        tensors.push((head.clone(), value.shallow_clone()));
    }
    write_tensor_file(path, &tensors, metadata).with_context(|| format!("writing samples to {}", path.display()))
}

/// Writes `images` `[N, C, H, W]` in [0, 1] as `dir/sample_0000.png`, … in
/// sample order (1 channel: grey, 3: RGB), rounding to the nearest of 256 levels.
pub fn write_png_dir(dir: &Path, images: &Tensor) -> Result<usize> {
    let size = images.size();
    if size.len() != 4 || !(size[1] == 1 || size[1] == 3) {
        bail!("PNG samples need [N, 1 or 3, H, W] images, got {size:?}");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (n, c, h, w) = (size[0] as usize, size[1] as usize, size[2] as u32, size[3] as u32);
    let bytes = (images.to_device(tch::Device::Cpu).to_kind(Kind::Float).clamp(0.0, 1.0) * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    let mut flat = vec![0u8; bytes.numel()];
    let len = flat.len();
    bytes.copy_data(&mut flat, len);
    let per = (h * w) as usize * c;
    for i in 0..n {
        let path = dir.join(format!("sample_{i:04}.png"));
        let pixels = flat[i * per..(i + 1) * per].to_vec();
        let color = if c == 1 {
            image::ExtendedColorType::L8
        } else {
            image::ExtendedColorType::Rgb8
        };
        let mut encoded = Vec::new();
        image::codecs::png::PngEncoder::new(&mut encoded)
            .write_image(&pixels, w, h, color)
            .with_context(|| format!("encoding {}", path.display()))?;
        super::write_atomically(&path, &encoded)?;
    }
    Ok(n)
}

use image::ImageEncoder as _;
