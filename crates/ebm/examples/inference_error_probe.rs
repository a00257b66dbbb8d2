//! Position inference by a denoiser's error over noise levels, on
//! validation scenes of the inference-shifts base set (seed 777, never the
//! test seed 4242): which levels and weighting to use.
//! `cargo run --release --example inference_error_probe -- DENOISER.safetensors [N]`

use ebm::checkpoint::load_checkpoint;
use ebm::data::shapes::Shapes;
use ebm::energy::ConceptSchema;
use ebm::experiments::inference::{markdown, position_inference, PositionModel, TestSet};
use ebm::experiments::inference_shifts::base_filter;
use ebm::infer::{DenoisingError, DenoisingErrorConfig};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or_else(|| anyhow::anyhow!("usage: DENOISER.safetensors [N]"))?;
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(40);
    // The fastest mode this CPU computes well, as the `ebm` command's default.
    ebm::energy::compute::set_default(ebm::energy::Compute::fastest(tch::Device::Cpu));
    tch::set_num_threads(1);
    let model = load_checkpoint(std::path::Path::new(&path))?;
    let denoiser = model
        .network
        .as_denoiser()
        .ok_or_else(|| anyhow::anyhow!("{path} is not a denoiser"))?;
    let schema: ConceptSchema = model.card.concept.clone().ok_or_else(|| anyhow::anyhow!("no concept"))?;
    let configs = [("L4-p1", 4, None, 1.0), ("L4-p0", 4, None, 0.0), ("L8-p0", 8, None, 0.0)];
    let errors: Vec<DenoisingError> = configs
        .iter()
        .map(|&(_, levels, range, sigma_power)| {
            let config = DenoisingErrorConfig {
                levels,
                range,
                sigma_power,
                ..DenoisingErrorConfig::default()
            };
            DenoisingError::new(denoiser, &config)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut models = vec![PositionModel {
        name: "smallest level".into(),
        key: "smallest".into(),
        energy: model.network.as_ref(),
        schema: schema.clone(),
    }];
    for ((name, ..), error) in configs.iter().zip(&errors) {
        models.push(PositionModel {
            name: name.to_string(),
            key: name.to_string(),
            energy: error,
            schema: schema.clone(),
        });
    }
    let set = TestSet {
        name: "validation (seed 777)".into(),
        shapes: Shapes {
            filter: base_filter(),
            ..Shapes::new(32, 777)
        },
        views: vec![1],
    };
    let out = std::path::PathBuf::from("runs/inference-error-probe");
    std::fs::create_dir_all(&out)?;
    let started = std::time::Instant::now();
    let rows = position_inference(&models, &[], &[set], n, &out)?;
    print!("{}", markdown(&rows));
    println!("{:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
