//! `ebm experiment concept-check`: does each concept model know its concept?

use anyhow::{bail, Result};
use clap::Args;
use ebm::data::shapes_concept::ShapesConcept;
use ebm::experiments::concept_check::{check_concept_calibrated, markdown, ConceptCheck};
use std::path::PathBuf;

#[derive(Args)]
pub struct ConceptCheckArgs {
    /// A shapes concept checkpoint (pos, color, shape or size); repeatable.
    #[arg(long)]
    pub model: Vec<PathBuf>,
    /// A directory holding pos, color, shape and size .safetensors: checks
    /// each one there.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Fresh scenes to check on.
    #[arg(short, default_value_t = 500)]
    pub n: usize,
    /// Seed of the scenes (the default is apart from every training seed the recipes use).
    #[arg(long, default_value_t = 9_001)]
    pub seed: u64,
    /// Labelled scenes (another seed) to fit a temperature and one offset
    /// per candidate code on, read beside the raw energies (0: raw only).
    /// CD leaves each code's energy level free, so the raw lowest energy
    /// compares normalisers as well as fits.
    #[arg(long, default_value_t = 1000)]
    pub calibrate: usize,
    /// Write concept-check.json and concept-check.md here.
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: ConceptCheckArgs) -> Result<()> {
    let mut paths = a.model.clone();
    if let Some(dir) = &a.models {
        if !dir.is_dir() {
            bail!(
                "--models {}: not a directory; give one holding pos/color/shape/size.safetensors",
                dir.display()
            );
        }
        let found: Vec<PathBuf> = ShapesConcept::ALL
            .iter()
            .map(|c| dir.join(format!("{}.safetensors", c.name())))
            .filter(|p| p.exists())
            .collect();
        if found.is_empty() {
            bail!("--models {}: holds none of pos/color/shape/size.safetensors", dir.display());
        }
        paths.extend(found);
    }
    if paths.is_empty() {
        bail!("nothing to check: give --model FILE (repeatable) or --models DIR");
    }
    let mut checks: Vec<(String, ConceptCheck)> = Vec::new();
    for path in &paths {
        let model = ebm::checkpoint::load_checkpoint(path)?;
        let Some(schema) = &model.card.concept else {
            bail!("{} is unconditional; the check needs a shapes concept model", path.display());
        };
        let concept: ShapesConcept = schema.name.parse().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let check = check_concept_calibrated(model.network.as_ref(), concept, a.n, a.seed, a.calibrate)?;
        checks.push((path.display().to_string(), check));
    }
    match checks.as_slice() {
        [(_, one)] => println!("{}", serde_json::to_string_pretty(one)?),
        _ => print!("{}", markdown(&checks)),
    }
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out)?;
        let json: Vec<_> = checks
            .iter()
            .map(|(path, c)| serde_json::json!({ "model": path, "check": c }))
            .collect();
        ebm::io::write_atomically(&out.join("concept-check.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
        let header = format!(
            "# Concept check\n\n{} fresh `shapes` scenes (seed {}); calibrated: a temperature and one offset per code fitted on {} labelled scenes of another seed (`infer::offsets`). Categorical: lowest-energy classification; continuous: error of the lowest-energy value on a 20-point grid per axis.\n\n",
            a.n, a.seed, a.calibrate
        );
        ebm::io::write_atomically(&out.join("concept-check.md"), (header + &markdown(&checks)).as_bytes())?;
        println!("wrote {}/concept-check.json and concept-check.md", out.display());
    }
    Ok(())
}
