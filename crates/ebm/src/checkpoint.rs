//! Checkpoints: one safetensors file holding the weights (spectral-norm
//! buffers included) and, in its metadata, the JSON model card that says how to
//! rebuild, condition and sample the model. One file, so writing it
//! atomically (temp + rename) makes the whole checkpoint atomic.
//!
//! Loading validates everything and names the file and the problem.
//!
//! The card joins an energy's architecture with its sampler defaults, so this
//! module sits above both `energy` and `sample`.

use crate::energy::network::{named_variables, Architecture, Network};
use crate::energy::{ConceptKind, ConceptSchema};
use crate::io::{read_tensor_file, write_tensor_file};
use crate::sample::SamplerDefaults;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::Device;

pub const FORMAT_VERSION: u32 = 1;
const CARD_KIND: &str = "ebm-energy";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub kind: String,
    pub format_version: u32,
    /// Version of ebm that wrote the file.
    pub written_by: String,
    pub architecture: Architecture,
    /// None: an unconditional energy.
    pub concept: Option<ConceptSchema>,
    /// What the model was trained on (dataset name and parameters).
    pub data: serde_json::Value,
    pub sampler: SamplerDefaults,
    /// The training configuration, as given.
    pub training: serde_json::Value,
    /// Final training metrics, and any evaluation results.
    pub metrics: serde_json::Value,
    /// [`content_checksum`] of the file's tensors and this card (without
    /// this field), written on save and checked on load; older files carry a
    /// tensors-only checksum (still checked) or none (loaded with a notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_checksum: Option<String>,
}

impl ModelCard {
    pub fn new(architecture: Architecture, concept: Option<ConceptSchema>, data: serde_json::Value, sampler: SamplerDefaults) -> Self {
        Self {
            kind: CARD_KIND.into(),
            format_version: FORMAT_VERSION,
            written_by: format!("ebm {}", env!("CARGO_PKG_VERSION")),
            architecture,
            concept,
            data,
            sampler,
            training: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
            tensor_checksum: None,
        }
    }

    /// Checks the card is internally consistent.
    pub fn validate(&self) -> Result<()> {
        check_card_header(&self.kind, CARD_KIND, self.format_version, &self.written_by)?;
        self.architecture
            .validate()
            .map_err(|e| anyhow::anyhow!("its architecture is invalid: {e}"))?;
        let code_dim = self.architecture.code_dim();
        let concept_dim = self.concept.as_ref().map_or(0, |c| c.code_dim());
        // A joint model's codes are several concepts side by side; its data
        // lists them (`joint`), and no single schema describes them.
        let joint = self.concept.is_none() && self.data.get("joint").is_some_and(|j| j.is_array());
        if code_dim != concept_dim && !joint {
            bail!("its network takes a code of width {code_dim} but its concept schema describes {concept_dim} entries");
        }
        // Codes are scaled by the range (ConceptSchema::encode), so it must have width.
        if let Some(ConceptSchema {
            name,
            kind: ConceptKind::Continuous { range: (lo, hi), .. },
        }) = &self.concept
        {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                bail!("concept '{name}' has range ({lo}, {hi}); a continuous concept needs finite low < high");
            }
        }
        let init = &self.sampler.init;
        if !(init.lo.is_finite() && init.hi.is_finite() && init.lo <= init.hi && init.power.is_finite() && init.power > 0.0) {
            bail!(
                "its sampler's start noise (lo {}, hi {}, power {}) is invalid; it needs finite lo ≤ hi and a power > 0",
                init.lo,
                init.hi,
                init.power
            );
        }
        Ok(())
    }
}

/// The checksum of `tensors` with `card` as it serialises without its checksum.
fn content_checksum<'a>(tensors: impl IntoIterator<Item = (&'a String, &'a tch::Tensor)>, card: &ModelCard) -> Result<String> {
    let bare = ModelCard {
        tensor_checksum: None,
        ..card.clone()
    };
    crate::io::tensors::content_checksum(tensors, &serde_json::to_string(&bare)?)
}

pub struct LoadedModel {
    pub card: ModelCard,
    pub network: Box<dyn Network>,
}

/// Writes `network` and `card` atomically to `path`.
pub fn save_checkpoint(path: &Path, network: &dyn Network, card: &ModelCard) -> Result<()> {
    if network.architecture() != card.architecture {
        bail!("internal error: the card's architecture differs from the network's");
    }
    let tensors = named_variables(network.var_store());
    let card = ModelCard {
        tensor_checksum: Some(content_checksum(tensors.iter().map(|(n, t)| (n, t)), card)?),
        ..card.clone()
    };
    let meta = serde_json::to_value(&card)?;
    write_tensor_file(path, &tensors, &meta).with_context(|| format!("saving checkpoint {}", path.display()))
}

/// Reads, validates and rebuilds a checkpoint on the CPU.
pub fn load_checkpoint(path: &Path) -> Result<LoadedModel> {
    load_checkpoint_on(path, Device::Cpu)
}

/// Reads, validates and rebuilds a checkpoint on `device`.
pub fn load_checkpoint_on(path: &Path, device: Device) -> Result<LoadedModel> {
    let context = || format!("checkpoint {} is unusable", path.display());
    let file = read_tensor_file(path).with_context(context)?;
    if let Some(kind) = file.metadata.get("kind").and_then(|k| k.as_str()) {
        if kind != CARD_KIND {
            return Err(anyhow::anyhow!("it is not an energy model but {}", other_kind(kind))).with_context(context);
        }
    }
    let card: ModelCard = serde_json::from_value(file.metadata)
        .map_err(|e| anyhow::anyhow!("its model card is malformed: {e}"))
        .with_context(context)?;
    card.validate().with_context(context)?;
    let network = card.architecture.build(device);
    // Structural problems (names, shapes, non-finite values) get their own
    // message first; the checksum then catches edits that leave them intact.
    copy_checked(&file.tensors, network.var_store()).with_context(context)?;
    match &card.tensor_checksum {
        Some(expected) => {
            let (actual, what) = if expected.starts_with(crate::io::tensors::WITH_CARD) {
                (
                    content_checksum(&file.tensors, &card).with_context(context)?,
                    "its tensors and card",
                )
            } else {
                (
                    crate::io::tensors::tensor_checksum(&file.tensors).with_context(context)?,
                    "its tensors",
                )
            };
            if &actual != expected {
                return Err(anyhow::anyhow!(
                    "{what} do not match the checksum in its card ({actual} vs {expected}): the file was corrupted or edited; copy it again or retrain"
                ))
                .with_context(context);
            }
        }
        None => eprintln!(
            "note: {} has no tensor checksum (written by {} before checksums); loaded without that check",
            path.display(),
            card.written_by
        ),
    }
    Ok(LoadedModel { card, network })
}

/// What a file of another card kind is, and the command that takes it.
pub fn other_kind(kind: &str) -> String {
    match kind {
        "ebm-comet" => "a COMET model (kind ebm-comet): use it with `ebm comet decompose` or `ebm comet recombine`".into(),
        "ebm-beta-vae" => "a β-VAE baseline (kind ebm-beta-vae): `ebm experiment comet --beta-vae` reads it".into(),
        "ebm-energy" => "an energy model (kind ebm-energy): use it with `ebm sample`, `ebm infer` or `ebm score`".into(),
        "ebm-judge" => "a judge (kind ebm-judge): use it with `ebm judge score` or `--judge`".into(),
        other => format!("a file of kind '{other}'"),
    }
}

/// Copies a file's tensors into `vs` after checking that every variable is
/// present with its shape and finite values, and that nothing else is there.
/// Every kind of checkpoint (energies, judges) loads through this.
pub fn copy_checked(tensors: &std::collections::BTreeMap<String, tch::Tensor>, vs: &tch::nn::VarStore) -> Result<()> {
    let expected = named_variables(vs);
    let mut problems = Vec::new();
    for (name, var) in &expected {
        match tensors.get(name) {
            None => problems.push(format!("tensor '{name}' is missing")),
            Some(t) if t.size() != var.size() => problems.push(format!(
                "tensor '{name}' has shape {:?}, the architecture needs {:?}",
                t.size(),
                var.size()
            )),
            Some(t) if t.isfinite().all().int64_value(&[]) == 0 => problems.push(format!("tensor '{name}' holds non-finite values")),
            Some(_) => {}
        }
    }
    for name in tensors.keys() {
        if !expected.iter().any(|(n, _)| n == name) {
            problems.push(format!("unexpected tensor '{name}'"));
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    tch::no_grad(|| {
        for (name, mut var) in expected {
            var.copy_(&tensors[&name].to_kind(var.kind()));
        }
    });
    Ok(())
}

/// Checks the kind and format version every card carries.
pub fn check_card_header(kind: &str, expected_kind: &str, version: u32, written_by: &str) -> Result<()> {
    if kind != expected_kind {
        bail!("its card is of kind '{kind}', not '{expected_kind}'");
    }
    if version != FORMAT_VERSION {
        bail!("it has format version {version}, and this ebm reads version {FORMAT_VERSION}; retrain it, or load it with the ebm that wrote it ({written_by})");
    }
    Ok(())
}
