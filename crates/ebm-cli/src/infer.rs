//! `ebm infer`: the MAP value of each concept model's concept for every
//! scene of an image set (a PNG directory, .npy, safetensors or IDX).

use anyhow::{bail, Context as _, Result};
use clap::Args;
use ebm::compose::ConceptLibrary;
use ebm::data::shapes_concept::ShapesConcept;
use ebm::energy::ConceptKind;
use ebm::experiments::concept_check::calibrate_on_shapes;
use ebm::infer::{infer_concept, write_energy_maps, InferConfig};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InferArgs {
    /// A concept model, `name=path` or bare `path` (the card's concept name); repeat for several.
    #[arg(long, required = true)]
    pub model: Vec<String>,
    /// The images: a directory of PNGs, a .npy array, a .safetensors file with
    /// `images`, or an IDX file; sizes and channels are checked against the model.
    #[arg(long)]
    pub images: PathBuf,
    /// Consecutive images that show one scene (e.g. under different lights):
    /// their energies are summed, one answer per scene.
    #[arg(long, default_value_t = 1)]
    pub views: usize,
    /// Grid points per component of a continuous concept (the paper: 20 × 20 for position).
    #[arg(long, default_value_t = 20)]
    pub grid: usize,
    /// Local-search steps after the grid (0: the grid point alone).
    #[arg(long, default_value_t = 30)]
    pub refine_steps: usize,
    /// Write one JSON object per scene (input order), each concept under its name.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write each scene beside its energy map (2-D concepts such as position).
    #[arg(long)]
    pub maps: Option<PathBuf>,
    /// Fit a temperature and one offset per candidate code on this many
    /// labelled `shapes` scenes (seed 77777) before reading the lowest
    /// energy: a CD model's levels per code are free, and its raw reading
    /// can be far off (the shipped colour model: 0.58 raw, 0.99 calibrated).
    /// 0: raw energies. Shapes concept models only.
    #[arg(long, default_value_t = 0)]
    pub calibrate: usize,
}

/// Seed of the labelled scenes `--calibrate` fits on.
const CALIBRATION_SEED: u64 = 77_777;

pub fn run(args: InferArgs, context: &crate::Context) -> Result<()> {
    if args.views == 0 || args.grid < 2 {
        bail!("--views must be ≥ 1 and --grid ≥ 2");
    }
    let library = ConceptLibrary::load_on(&args.model, context.device)?;
    let shape = library.input_shape();
    let (channels, size) = match shape.as_slice() {
        [c, h, w] if h == w => (*c, *h),
        other => bail!("ebm infer reads images; these models take inputs of shape {other:?}"),
    };
    let images = ebm::io::read_images(&args.images, channels, size)?.to_device(context.device);
    let plain = InferConfig {
        grid: args.grid,
        views: args.views,
        refine_steps: args.refine_steps,
        offsets: None,
    };
    let scenes = images.size()[0] as usize / args.views.max(1);
    let mut rows: Vec<serde_json::Map<String, serde_json::Value>> = vec![Default::default(); scenes];
    for concept in &library.concepts {
        let schema = concept
            .model
            .card
            .concept
            .clone()
            .with_context(|| format!("{} is not a concept model (its card names no concept)", concept.path.display()))?;
        let config = match args.calibrate {
            0 => plain.clone(),
            scenes => {
                let network = concept.model.network.as_ref();
                let shapes_concept: ShapesConcept = schema
                    .name
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--calibrate draws labelled shapes scenes; {}: {e}", concept.path.display()))?;
                let calibration = calibrate_on_shapes(network, shapes_concept, args.grid, scenes, CALIBRATION_SEED)?;
                eprintln!(
                    "{}: calibrated on {scenes} scenes, temperature {:.3e}",
                    concept.name, calibration.temperature
                );
                InferConfig {
                    offsets: Some(calibration.energy_offsets()),
                    ..plain.clone()
                }
            }
        };
        let inference = infer_concept(concept.model.network.as_ref(), &schema, &images, &config)?;
        for (row, value) in rows.iter_mut().zip(&inference.values) {
            let json = match &schema.kind {
                ConceptKind::Categorical { categories } => serde_json::json!(categories[value[0] as usize]),
                ConceptKind::Continuous { components, .. } if components.len() == 1 => serde_json::json!(value[0]),
                ConceptKind::Continuous { .. } => serde_json::json!(value),
            };
            row.insert(concept.name.clone(), json);
        }
        if let (Some(path), ConceptKind::Continuous { components, range }) = (&args.maps, &schema.kind) {
            if components.len() == 2 {
                write_energy_maps(path, &images.to_device(tch::Device::Cpu), &inference, args.views, args.grid, *range)?;
                println!("wrote {}", path.display());
            }
        }
    }
    let lines = rows.iter().map(serde_json::to_string).collect::<Result<Vec<String>, _>>()?;
    match &args.out {
        Some(path) => {
            ebm::io::write_atomically(path, format!("[\n{}\n]\n", lines.join(",\n")).as_bytes())?;
            println!(
                "inferred {} concept(s) for {scenes} scene(s); wrote {}",
                library.concepts.len(),
                path.display()
            );
        }
        None => lines.iter().for_each(|l| println!("{l}")),
    }
    Ok(())
}
