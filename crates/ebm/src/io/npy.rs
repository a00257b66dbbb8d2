//! NumPy `.npy` arrays (format versions 1–3, C order): read into a tensor of
//! the file's dtype, written from f32 tensors. The images and labels readers
//! build on this.

use anyhow::{anyhow, bail, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// Parses a whole `.npy` file: f32, f64, u8, i32 or i64, any shape.
pub fn parse_npy(bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file (no \\x93NUMPY magic)");
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => bail!("unsupported .npy version {v}"),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| anyhow!("truncated or non-text .npy header"))?;
    let field = |key: &str| -> Result<&str> {
        let at = header.find(key).ok_or_else(|| anyhow!("the .npy header has no {key}"))? + key.len();
        Ok(header[at..].trim_start_matches([' ', ':', '\'']).trim_start())
    };
    if field("'fortran_order'")?.starts_with("True") {
        bail!("Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
    }
    let descr = field("'descr'")?;
    let (kind, width) = match descr.get(..3).unwrap_or(descr) {
        "<f4" => (Kind::Float, 4),
        "<f8" => (Kind::Double, 8),
        "|u1" | "<u1" => (Kind::Uint8, 1),
        "<i4" => (Kind::Int, 4),
        "<i8" => (Kind::Int64, 8),
        _ => bail!(
            "unsupported dtype {}; use float32, float64, uint8, int32 or int64 (little-endian)",
            descr.split('\'').next().unwrap_or(descr)
        ),
    };
    let shape = parse_shape(field("'shape'")?)?;
    let count = shape
        .iter()
        .try_fold(1i64, |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_mul(width))
        .ok_or_else(|| anyhow!("the shape {shape:?} is too large"))?;
    let data = &bytes[start + header_len..];
    if data.len() as i64 != count {
        bail!("the array should hold {count} bytes for shape {shape:?} but has {}", data.len());
    }
    Ok(Tensor::f_from_data_size(data, &shape, kind)?)
}

fn parse_shape(text: &str) -> Result<Vec<i64>> {
    let inner = text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| anyhow!("malformed shape in the .npy header"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<i64>() {
            Ok(d) if d >= 0 => Ok(d),
            _ => Err(anyhow!("malformed shape entry '{s}'")),
        })
        .collect()
}

/// Writes `tensor` as a little-endian f32 `.npy` (version 1), atomically.
pub fn write_npy(path: &Path, tensor: &Tensor) -> Result<()> {
    let t = tensor.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
    let dims: Vec<String> = t.size().iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // The data starts on a 64-byte boundary, as NumPy writes it.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    let values = Vec::<f32>::try_from(t.flatten(0, -1))?;
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    super::write_atomically(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_arrays_parse_back_with_their_shape_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let t = Tensor::arange(24, (Kind::Float, tch::Device::Cpu)).view([2, 3, 4]) / 7.0;
        write_npy(&path, &t).unwrap();
        let back = parse_npy(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back.size(), [2, 3, 4]);
        assert!(back.equal(&t));
        write_npy(&path, &Tensor::from_slice(&[1.5f32, -2.0])).unwrap();
        assert_eq!(parse_npy(&std::fs::read(&path).unwrap()).unwrap().size(), [2]);
    }

    #[test]
    fn negative_or_overflowing_shapes_are_refused() {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }\n";
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        assert!(parse_npy(&bytes).unwrap_err().to_string().contains("malformed shape entry '-1'"));
        let huge = bytes.len();
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n";
        bytes.truncate(8);
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        assert!(huge > 0 && parse_npy(&bytes).unwrap_err().to_string().contains("too large"));
    }
}
