//! Experiments: long runs that write JSON + Markdown + PNG reports, as
//! library functions returning their results (the command only parses
//! arguments and prints).
pub mod comet;
pub mod composition;
pub mod concept_check;
pub mod continual;
mod continual_report;
mod continual_stages;
pub mod demo;
pub mod eight_gaussians;
pub mod extrapolation;
pub mod igebm;
pub mod inference;
pub mod inference_shifts;
pub mod samplers;
pub mod shapes;
pub mod stability;
pub mod toy2d;
pub mod trajectories;
pub mod trajectories_online;
pub mod trajectories_pictures;

/// A trained model, its card and its training seconds.
pub type Trained = (Box<dyn crate::energy::Network>, crate::checkpoint::ModelCard, f64);

/// The model kept at `path`, or `train`ed now and kept there (the training
/// seconds travel in the card's metrics), so a rerun trains only what is
/// missing. Returns the network, its sampler and its training seconds.
pub fn cached_model(
    path: &std::path::Path,
    train: impl FnOnce() -> anyhow::Result<Trained>,
) -> anyhow::Result<(Box<dyn crate::energy::Network>, crate::sample::SamplerDefaults, f64)> {
    if path.exists() {
        let loaded = crate::checkpoint::load_checkpoint(path)?;
        let seconds = loaded.card.metrics["train_seconds"].as_f64().unwrap_or(f64::NAN);
        return Ok((loaded.network, loaded.card.sampler, seconds));
    }
    let (network, mut card, seconds) = train()?;
    card.metrics["train_seconds"] = seconds.into();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    crate::checkpoint::save_checkpoint(path, network.as_ref(), &card)?;
    Ok((network, card.sampler, seconds))
}
