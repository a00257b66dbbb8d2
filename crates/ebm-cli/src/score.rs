//! `ebm score`: energies of a user's image set under a trained model,
//! lowest-energy classification against labels, and OOD AUROC against other sets.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use ebm::energy::ConceptKind;
use ebm::infer::{score_sets, ScoreInputs};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A trained model (any checkpoint: unconditional, or conditional on a concept).
    #[arg(long)]
    pub model: PathBuf,
    /// The in-distribution images: an IDX file (gzip or plain), a PNG
    /// directory, a .npy array or a .safetensors file with `images`.
    #[arg(long)]
    pub images: PathBuf,
    /// One label per image (IDX labels, a 1-D integer .npy, or text with an
    /// index or category name per line): lowest-energy classification accuracy.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// An out-of-distribution set, `name=path` or `path` (named by its file
    /// stem); repeat for several. Each gets the AUROC of −E against --images.
    #[arg(long)]
    pub ood: Vec<String>,
    /// Where score.json, the energy CSVs and the histograms go.
    #[arg(short, long, default_value = "runs/score")]
    pub out: PathBuf,
    /// Grid points per component when the model's concept is continuous.
    #[arg(long, default_value_t = 20)]
    pub grid: usize,
}

pub fn run(args: ScoreArgs, context: &crate::Context) -> Result<()> {
    if args.grid < 2 {
        bail!("--grid must be at least 2, got {}", args.grid);
    }
    let model = ebm::checkpoint::load_checkpoint_on(&args.model, context.device)?;
    let (channels, size) = match model.card.architecture.input_shape().as_slice() {
        [c, h, w] if h == w => (*c, *h),
        other => bail!("ebm score reads images; {} takes inputs of shape {other:?}", args.model.display()),
    };
    let read = |path: &PathBuf| -> Result<tch::Tensor> { Ok(ebm::io::read_images(path, channels, size)?.to_device(context.device)) };
    let schema = model.card.concept.as_ref();
    let labels = match (&args.labels, schema.map(|s| &s.kind)) {
        (None, _) => None,
        (Some(path), Some(ConceptKind::Categorical { categories })) => Some(ebm::io::read_labels(path, categories)?),
        (Some(_), _) => bail!(
            "--labels needs a model conditioned on a categorical concept; {} is {}",
            args.model.display(),
            schema.map_or("unconditional".to_string(), |s| format!(
                "conditioned on the continuous '{}'",
                s.name
            ))
        ),
    };
    let mut ood = Vec::new();
    for given in &args.ood {
        let (name, path) = match given.split_once('=') {
            Some((name, path)) if !name.is_empty() => (name.to_string(), PathBuf::from(path)),
            _ => {
                let path = PathBuf::from(given);
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| given.clone());
                (stem, path)
            }
        };
        if ood.iter().any(|(n, _): &(String, _)| n == &name) {
            bail!("two --ood sets are named '{name}'; name them apart with name=path");
        }
        ood.push((name, read(&path)?));
    }
    let inputs = ScoreInputs {
        images: read(&args.images)?,
        labels,
        ood,
        grid: args.grid,
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create the output directory {}", args.out.display()))?;
    let report = score_sets(model.network.as_ref(), schema, &inputs, &args.out)?;
    println!("images {} mean energy {:.4}", report.images, report.mean_energy);
    if let Some(c) = &report.classification {
        println!("accuracy {:.4} ({} images, lowest energy)", c.accuracy, c.images);
    }
    for row in &report.ood {
        println!("AUROC {} {:.4}", row.set, row.auroc);
    }
    println!("wrote {}", args.out.join("score.json").display());
    Ok(())
}
