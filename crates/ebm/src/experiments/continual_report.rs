//! The continual experiment's report as Markdown.

use super::composition::POSITION_TOLERANCE;
use super::continual::{ColourStage, ContinualOptions, ShapeStage, StageResult, POSTERIOR_STEPS_PER_CD_STEP, SHAPE_GUIDANCE_SCALE};
use crate::energy::InputView;

pub fn markdown(options: &ContinualOptions, results: &[StageResult]) -> String {
    let mut md = format!(
        "# Continual concept learning (Table 2 analogue)\n\n`ebm experiment continual --steps {} -n {} --seed {} --shape-stage {} --view {} --colour-stage {}{}`. \
         Stage 1: position on purple squares; stage 2: shape on purple objects of every shape; stage 3: colour on every scene. \
         Composed: each stage trains one new concept model beside the earlier ones, frozen (`--frozen`), and the conjunction of all \
         models so far is sampled. Joint: one model conditioned on position, shape and colour, trained on the stages in turn. \
         After stage k, {} samples ask for a position (uniform, 0.05 inside the range, as Table 1), and a random shape (stage ≥ 2, else a square) and colour (stage 3, \
         else purple); the shapes judge scores them (position within {POSITION_TOLERANCE}).\n\n\
         | method | after stage | learned | position | shape | colour | training | samples |\n|---|---|---|---|---|---|---|---|\n",
        options.steps,
        options.samples,
        options.seed,
        crate::names::Named::name(options.shape_stage),
        crate::names::Named::name(options.view),
        crate::names::Named::name(options.colour_stage),
        options
            .shape_view
            .map_or(String::new(), |v| format!(" --shape-view {}", crate::names::Named::name(v))),
        options.samples
    );
    if options.view != InputView::Rgb {
        md.insert_str(
            md.find("| method").unwrap_or(md.len()),
            &format!(
                "The position and shape models read the {} view of the image (colour-blind); the joint model reads the image.\n\n",
                crate::names::Named::name(options.view)
            ),
        );
    }
    if let Some(view) = options.shape_view {
        md.insert_str(
            md.find("| method").unwrap_or(md.len()),
            &format!(
                "The shape model reads the {} view (`--shape-view`).\n\n",
                crate::names::Named::name(view)
            ),
        );
    }
    if options.colour_stage == ColourStage::Conv && options.view != InputView::Rgb {
        md.insert_str(md.find("| method").unwrap_or(md.len()), "The colour model reads the image.\n\n");
    }
    if options.colour_stage == ColourStage::ObjectColour {
        md.insert_str(
            md.find("| method").unwrap_or(md.len()),
            "The colour model is an MLP of the object-colour view (the mean colour of the pixels whose chroma marks them as \
             object, and the share of the image they cover): it knows nothing of where the object is or what shape.\n\n",
        );
    }
    if options.shape_stage == ShapeStage::Posterior {
        md.insert_str(
            md.find("| method").unwrap_or(md.len()),
            &format!(
                "The shape stage trains a robust shape posterior (README, \"A shape posterior with robust gradients\"): \
                 {}× the steps, no chain, guidance scale {SHAPE_GUIDANCE_SCALE}.\n\n",
                POSTERIOR_STEPS_PER_CD_STEP
            ),
        );
    }
    for r in results {
        md += &format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.0} s | [{}]({}) |\n",
            r.method, r.stage, r.learned, r.position, r.shape, r.colour, r.train_seconds, r.picture, r.picture
        );
    }
    md += "| paper, EBM after stage 3 | 3 | colour | 0.781 | 0.703 | 0.521 | | |\n";
    md += "\nPosition accuracy after stage 3 by the colour asked: purple (the position stage's only colour) against every other colour.\n\n| method | purple | other colours |\n|---|---|---|\n";
    let shown = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    for r in results.iter().filter(|r| r.stage == 3) {
        md += &format!(
            "| {} | {} | {} |\n",
            r.method,
            shown(r.position_purple),
            shown(r.position_other_colours)
        );
    }
    md
}
