//! Images a user brings: a directory of PNGs, a `.npy` array, a safetensors
//! file with an `images` tensor, or MNIST-style IDX (gzip or plain) — read
//! into `[N, C, H, W]` f32 in [0, 1]. Every rejection names the file and why.

use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// Reads `path` and checks it holds images of `channels` × `size` × `size`
/// (what a model's card says it takes). Grey images are repeated to three
/// channels when the model wants colour.
pub fn read_images(path: &Path, channels: i64, size: i64) -> Result<Tensor> {
    let images = read_any(path).with_context(|| format!("cannot read images from {}", path.display()))?;
    let dims = images.size();
    if images.dim() != 4 || dims[0] == 0 {
        bail!("{}: expected a non-empty batch of images, got shape {dims:?}", path.display());
    }
    let images = match (dims[1], channels) {
        (c, want) if c == want => images,
        (1, 3) => images.repeat([1, 3, 1, 1]),
        (c, want) => bail!("{}: the images have {c} channels but the model takes {want}", path.display()),
    };
    if dims[2] != size || dims[3] != size {
        bail!(
            "{}: the images are {}×{} but the model takes {size}×{size}; resize them first",
            path.display(),
            dims[2],
            dims[3]
        );
    }
    let finite = images.isfinite().all().int64_value(&[]) == 1;
    let (lo, hi) = (images.min().double_value(&[]), images.max().double_value(&[]));
    if !finite || lo < 0.0 || hi > 1.0 {
        bail!(
            "{}: pixel values must be finite and in [0, 1] (u8 images are divided by 255), found [{lo}, {hi}]",
            path.display()
        );
    }
    Ok(images)
}

fn read_any(path: &Path) -> Result<Tensor> {
    if path.is_dir() {
        return read_png_dir(path);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    if name.ends_with(".npy") {
        read_npy(&std::fs::read(path)?)
    } else if name.ends_with(".safetensors") {
        read_safetensors(&std::fs::read(path)?)
    } else if name.contains("idx") || name.ends_with(".gz") {
        let (pixels, n, rows, cols) = crate::data::mnist::read_idx_images(path)?;
        let t = Tensor::from_slice(&pixels).view([n as i64, 1, rows as i64, cols as i64]);
        Ok(t.to_kind(Kind::Float) / 255.0)
    } else {
        bail!("unknown format: give a directory of PNGs, a .npy array, a .safetensors file with an `images` tensor, or an IDX file (…-idx3-ubyte[.gz])")
    }
}

/// Every `*.png` in the directory, in file-name order.
fn read_png_dir(dir: &Path) -> Result<Tensor> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("the directory holds no .png files");
    }
    let mut images = Vec::with_capacity(files.len());
    for file in &files {
        let picture = image::open(file).with_context(|| format!("{} is not a readable image", file.display()))?;
        let rgb = picture.to_rgb8();
        let (w, h) = rgb.dimensions();
        let first = images.first().map(|t: &Tensor| (t.size()[1], t.size()[2]));
        if first.is_some_and(|(fh, fw)| (fh, fw) != (h as i64, w as i64)) {
            bail!(
                "{} is {w}×{h}, unlike the first image; all images must have one size",
                file.display()
            );
        }
        let t = Tensor::from_slice(rgb.as_raw()).view([h as i64, w as i64, 3]).permute([2, 0, 1]);
        images.push(t.to_kind(Kind::Float) / 255.0);
    }
    Ok(Tensor::stack(&images, 0))
}

/// A NumPy `.npy` of f32, f64 or u8, shaped [N, C, H, W], [N, H, W, C]
/// (C ∈ {1, 3}) or [N, H, W].
fn read_npy(bytes: &[u8]) -> Result<Tensor> {
    to_images(super::npy::parse_npy(bytes)?)
}

/// The `images` tensor of a safetensors file (f32, f64 or u8).
fn read_safetensors(bytes: &[u8]) -> Result<Tensor> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| anyhow!("bad safetensors data: {e}"))?;
    let view = file
        .tensor("images")
        .map_err(|_| anyhow!("no `images` tensor (it has: {})", file.names().join(", ")))?;
    let kind = match view.dtype() {
        safetensors::Dtype::F32 => Kind::Float,
        safetensors::Dtype::F64 => Kind::Double,
        safetensors::Dtype::U8 => Kind::Uint8,
        other => bail!("`images` has dtype {other:?}; use F32, F64 or U8"),
    };
    let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
    to_images(Tensor::f_from_data_size(view.data(), &shape, kind)?)
}

/// [N, C, H, W] f32 from the accepted layouts; u8 is scaled to [0, 1].
fn to_images(t: Tensor) -> Result<Tensor> {
    let scaled = if t.kind() == Kind::Uint8 {
        t.to_kind(Kind::Float) / 255.0
    } else {
        t.to_kind(Kind::Float)
    };
    let dims = scaled.size();
    Ok(match dims.as_slice() {
        [_, _, _] => scaled.unsqueeze(1),
        [_, c, _, _] if *c == 1 || *c == 3 => scaled,
        [_, _, _, c] if *c == 1 || *c == 3 => scaled.permute([0, 3, 1, 2]).contiguous(),
        _ => bail!("images must be [N, C, H, W], [N, H, W, C] (C = 1 or 3) or [N, H, W]; got {dims:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn npy_channels_last_u8_becomes_channels_first_in_unit_range() {
        // [1, 2, 2, 3]: pixel (row, col) has channel values 10·(2·row + col) + c.
        let data: Vec<u8> = (0..4u8).flat_map(|p| (0..3u8).map(move |c| 10 * p + c)).collect();
        let t = read_npy(&npy("|u1", "(1, 2, 2, 3)", &data)).unwrap();
        assert_eq!(t.size(), [1, 3, 2, 2]);
        let at = |c: i64, r: i64, k: i64| t.double_value(&[0, c, r, k]);
        assert!((at(2, 1, 0) - 22.0 / 255.0).abs() < 1e-6 && (at(0, 0, 1) - 10.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn malformed_npy_is_refused_with_the_reason() {
        let floats: Vec<u8> = [0.5f32; 4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let short = npy("<f4", "(1, 1, 2, 3)", &floats);
        assert!(read_npy(&short).unwrap_err().to_string().contains("should hold 24 bytes"));
        let wrong = npy("<i2", "(2, 2)", &floats[..8]);
        assert!(read_npy(&wrong).unwrap_err().to_string().contains("unsupported dtype"));
        assert!(read_npy(b"PK\x03\x04 zip file").unwrap_err().to_string().contains("magic"));
    }
}
