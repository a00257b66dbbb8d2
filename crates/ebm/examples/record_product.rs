//! Records on checkpoints trained in a product before cards carried it
//! (`training.product_of`, which `compose::marginal` reads) which product
//! they were trained in. The tensors are untouched; the card and its
//! checksum are rewritten atomically.
//!
//! cargo run --release --example record_product -- pos,color models/shapes/pos.safetensors models/shapes/color.safetensors

use anyhow::{bail, Result};
use ebm::checkpoint::{load_checkpoint, save_checkpoint};
use std::path::Path;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((members, paths)) = args.split_first() else {
        bail!("usage: record_product MEMBERS(e.g. pos,color) CHECKPOINT...")
    };
    let members: Vec<String> = members.split(',').map(str::to_string).collect();
    for path in paths {
        let path = Path::new(path);
        let mut model = load_checkpoint(path)?;
        let Some(training) = model.card.training.as_object_mut() else {
            bail!("{}: the card has no training record", path.display())
        };
        training.insert(ebm::train::state::PRODUCT_OF.into(), members.clone().into());
        save_checkpoint(path, model.network.as_ref(), &model.card)?;
        println!("{}: product_of {}", path.display(), members.join(","));
    }
    Ok(())
}
