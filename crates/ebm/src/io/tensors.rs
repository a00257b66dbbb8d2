//! Named tensors + JSON metadata in one safetensors file.
//!
//! Parsing uses the pure-Rust `safetensors` crate, which validates the header
//! against the file length, so a truncated or corrupt file is an error with a
//! reason rather than a crash inside libtorch.

use super::write_atomically;
use anyhow::{anyhow, bail, Context, Result};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::{Kind, Tensor};

/// The key in the safetensors metadata that holds our JSON document.
const METADATA_KEY: &str = "ebm";

pub struct TensorFile {
    /// Sorted by name.
    pub tensors: BTreeMap<String, Tensor>,
    pub metadata: serde_json::Value,
}

fn dtype_of(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Half => Dtype::F16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        other => bail!("tensors of kind {other:?} cannot be saved"),
    })
}

fn kind_of(dtype: Dtype) -> Result<Kind> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F16 => Kind::Half,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        other => bail!("unsupported tensor dtype {other:?}"),
    })
}

/// Writes tensors and metadata atomically.
pub fn write_tensor_file(path: &Path, tensors: &[(String, Tensor)], metadata: &serde_json::Value) -> Result<()> {
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let tensor = tensor.detach().to_device(tch::Device::Cpu).contiguous();
        let dtype = dtype_of(tensor.kind()).with_context(|| format!("tensor {name}"))?;
        let numel = tensor.numel();
        let mut bytes = vec![0u8; numel * tensor.kind().elt_size_in_bytes()];
        tensor
            .f_copy_data_u8(&mut bytes, numel)
            .with_context(|| format!("reading tensor {name}"))?;
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        buffers.push((name.clone(), dtype, shape, bytes));
    }
    let views: Vec<(String, TensorView)> = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| Ok((name.clone(), TensorView::new(*dtype, shape.clone(), bytes)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let mut meta = HashMap::new();
    meta.insert(METADATA_KEY.to_string(), serde_json::to_string(metadata)?);
    let bytes = safetensors::serialize(views, Some(meta))?;
    write_atomically(path, &bytes)
}

/// Reads a file written by [`write_tensor_file`]. Errors name the path.
pub fn read_tensor_file(path: &Path) -> Result<TensorFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes).with_context(|| format!("{} is not a valid ebm tensor file", path.display()))
}

fn parse(bytes: &[u8]) -> Result<TensorFile> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| anyhow!("bad safetensors header: {e}"))?;
    let text = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| anyhow!("no '{METADATA_KEY}' metadata: it was not written by ebm"))?;
    let metadata = serde_json::from_str(text).map_err(|e| anyhow!("metadata is not valid JSON: {e}"))?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| anyhow!("bad safetensors data (truncated?): {e}"))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let kind = kind_of(view.dtype()).with_context(|| format!("tensor {name}"))?;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let tensor = Tensor::f_from_data_size(view.data(), &shape, kind).with_context(|| format!("tensor {name}"))?;
        tensors.insert(name, tensor);
    }
    Ok(TensorFile { tensors, metadata })
}

/// FNV-1a (64-bit): a corruption check, not a signature.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Every tensor's name, shape and bytes, in name order.
    fn feed_tensors<'a>(&mut self, tensors: impl IntoIterator<Item = (&'a String, &'a Tensor)>) -> Result<()> {
        let mut sorted: Vec<(&String, &Tensor)> = tensors.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (name, tensor) in sorted {
            self.feed(name.as_bytes());
            for d in tensor.size() {
                self.feed(&d.to_le_bytes());
            }
            let t = tensor.detach().to_device(tch::Device::Cpu).contiguous();
            let numel = t.numel();
            let mut bytes = vec![0u8; numel * t.kind().elt_size_in_bytes()];
            t.f_copy_data_u8(&mut bytes, numel)
                .with_context(|| format!("reading tensor {name}"))?;
            self.feed(&bytes);
        }
        Ok(())
    }
}

/// FNV-1a over the tensors alone (`fnv1a64:…`): what checkpoints carried
/// before their cards were covered too; still verified on load.
pub fn tensor_checksum<'a>(tensors: impl IntoIterator<Item = (&'a String, &'a Tensor)>) -> Result<String> {
    let mut fnv = Fnv::new();
    fnv.feed_tensors(tensors)?;
    Ok(format!("{TENSORS_ONLY}{:016x}", fnv.0))
}

/// FNV-1a over the tensors and then `card` (`fnv1a64+card:…`), so an edit
/// of either — a flipped byte inside a finite weight, a digit of a sampler
/// setting — is caught on load.
pub fn content_checksum<'a>(tensors: impl IntoIterator<Item = (&'a String, &'a Tensor)>, card: &str) -> Result<String> {
    let mut fnv = Fnv::new();
    fnv.feed_tensors(tensors)?;
    fnv.feed(card.as_bytes());
    Ok(format!("{WITH_CARD}{:016x}", fnv.0))
}

/// Prefixes of the two checksum kinds.
pub const TENSORS_ONLY: &str = "fnv1a64:";
pub const WITH_CARD: &str = "fnv1a64+card:";
