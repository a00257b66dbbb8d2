//! Rewrites what a checkpoint's card records, tensors untouched; the card
//! and its checksum are rewritten atomically.
//!
//! - `product MEMBERS FILE…`: records the product the files were trained in
//!   (`training.product_of`, which `compose::marginal` reads), for files
//!   trained before cards carried it.
//! - `energy-scale S FILE…`: sets a convolutional energy's `energy_scale`
//!   (the guidance scale of a posterior read-out, chosen on validation rows).
//!
//! cargo run --release --example edit_card -- product pos,color models/shapes/pos.safetensors models/shapes/color.safetensors
//! cargo run --release --example edit_card -- energy-scale 0.25 models/shapes/shape.safetensors

use anyhow::{anyhow, bail, Context, Result};
use ebm::checkpoint::{load_checkpoint, save_checkpoint};
use ebm::energy::network::with_energy_scale;
use std::path::Path;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [what, value, paths @ ..] = args.as_slice() else {
        bail!("usage: edit_card product MEMBERS(e.g. pos,color) CHECKPOINT… | edit_card energy-scale S CHECKPOINT…")
    };
    for path in paths {
        let path = Path::new(path);
        let mut model = load_checkpoint(path)?;
        match what.as_str() {
            "product" => {
                let members: Vec<String> = value.split(',').map(str::to_string).collect();
                let Some(training) = model.card.training.as_object_mut() else {
                    bail!("{}: the card has no training record", path.display())
                };
                training.insert(ebm::train::state::PRODUCT_OF.into(), members.into());
            }
            "energy-scale" => {
                let scale: f64 = value.parse().with_context(|| format!("energy-scale: '{value}' is not a number"))?;
                let scaled =
                    with_energy_scale(model.network.as_ref(), scale).map_err(|problem| anyhow!("{}: {problem}", path.display()))?;
                model.card.architecture = scaled.architecture();
                model.network = scaled;
            }
            other => bail!("unknown edit '{other}': use product or energy-scale"),
        }
        save_checkpoint(path, model.network.as_ref(), &model.card)?;
        println!("{}: {what} {value}", path.display());
    }
    Ok(())
}
