//! `ebm experiment continual`: continual concept learning (Table 2 analogue).

use crate::Context;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ContinualArgs {
    /// Training steps per stage (each new concept model, and the joint model on each stage).
    #[arg(long, default_value_t = 300)]
    pub steps: u64,
    /// Samples judged after each stage.
    #[arg(short, default_value_t = 200)]
    pub n: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_os_t = crate::home::shipped("judges/shapes.safetensors"))]
    pub judge: PathBuf,
    #[arg(long, short, default_value = "experiments/continual")]
    pub out: PathBuf,
    /// How the shape stage learns: cd (CD with the label cross-entropy) or
    /// posterior (a robust shape posterior, with 10× the steps since it runs no chain).
    #[arg(long, default_value = "cd")]
    pub shape_stage: ebm::experiments::continual::ShapeStage,
    /// What the position and shape models read: rgb (the image) or chroma
    /// (a colour-blind view, max − min over the channels), so concepts
    /// learned on purple objects hold for every colour. The colour model
    /// and the joint baseline always read the image.
    #[arg(long, default_value = "rgb")]
    pub view: ebm::energy::InputView,
    /// The colour stage's model: conv (the concept recipe's network of the
    /// image) or object-colour (an MLP of the object's mean colour alone,
    /// blind to where it is and what shape).
    #[arg(long, default_value = "conv")]
    pub colour_stage: ebm::experiments::continual::ColourStage,
    /// What the shape model reads, if not --view: e.g. object-centred (the
    /// chroma shifted so the object sits at the centre, blind to where it is).
    #[arg(long)]
    pub shape_view: Option<ebm::energy::InputView>,
}

pub fn run(a: ContinualArgs, context: &Context) -> Result<()> {
    crate::experiment::cpu_only("continual", context)?;
    if a.steps == 0 || a.n == 0 {
        bail!("--steps and -n must be at least 1");
    }
    let options = ebm::experiments::continual::ContinualOptions {
        steps: a.steps,
        samples: a.n,
        seed: a.seed,
        judge: a.judge,
        out: a.out,
        shape_stage: a.shape_stage,
        view: a.view,
        colour_stage: a.colour_stage,
        shape_view: a.shape_view,
    };
    let results = ebm::experiments::continual::run(&options, &context.progress)?;
    print!("{}", ebm::experiments::continual::markdown(&options, &results));
    println!("wrote {}", options.out.display());
    Ok(())
}
