//! The joint denoising loss of a set of denoiser concept models on fresh
//! `shapes` scenes, per noise level: how well their product denoises.
//! `cargo run --release --example denoise_probe -- concept=model.safetensors …`

use ebm::checkpoint::load_checkpoint;
use ebm::data::shapes::ShapesFilter;
use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use ebm::data::DataSource;
use ebm::sample::ChainStart;
use ebm::train::denoising::product_denoising_loss;

fn main() -> anyhow::Result<()> {
    let mut models = Vec::new();
    for spec in std::env::args().skip(1) {
        let (name, path) = spec.split_once('=').ok_or_else(|| anyhow::anyhow!("concept=path, got {spec}"))?;
        let concept: ShapesConcept = name.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let data = ShapesConceptData::new(concept, 32, 777, ShapesFilter::default(), ChainStart::Background)?;
        models.push((load_checkpoint(std::path::Path::new(path))?, data));
    }
    let batches: Vec<_> = models.iter().map(|(_, d)| d.batch(0, 256)).collect();
    for sigma in [0.02, 0.05, 0.1, 0.2, 0.35, 0.6] {
        tch::manual_seed(5);
        let sigmas = tch::Tensor::full([256], sigma, (tch::Kind::Float, tch::Device::Cpu));
        let members: Vec<_> = models
            .iter()
            .zip(&batches)
            .map(|((m, _), b)| (m.network.as_denoiser().expect("a denoiser"), b.code.as_ref()))
            .collect();
        let loss = tch::no_grad(|| product_denoising_loss(&members, &batches[0].x, &sigmas, 0.0).double_value(&[]));
        // Per-pixel RMS error of the joint denoiser, in data units.
        println!("sigma {sigma:.2}: rms error {:.4}", (loss * sigma * sigma).sqrt());
    }
    // What the (mean) denoiser makes of a chain's start, 0.5 + σε, under the
    // labels of 8 real scenes: rows σ = 0.6, 0.3, 0.1; the real scenes last.
    let mut rows = Vec::new();
    for sigma in [0.6, 0.3, 0.1] {
        tch::manual_seed(6);
        let start = tch::Tensor::randn([8, 3, 32, 32], (tch::Kind::Float, tch::Device::Cpu)) * sigma + 0.5;
        let sigmas = tch::Tensor::full([8], sigma, (tch::Kind::Float, tch::Device::Cpu));
        let outputs: Vec<_> = models
            .iter()
            .zip(&batches)
            .map(|((m, _), b)| {
                let code = b.code.as_ref().map(|c| c.narrow(0, 0, 8));
                tch::no_grad(|| m.network.as_denoiser().expect("a denoiser").denoise(&start, code.as_ref(), &sigmas))
            })
            .collect();
        rows.push(outputs.iter().fold(start.zeros_like(), |a, d| a + d) / outputs.len() as f64);
    }
    rows.push(batches[0].x.narrow(0, 0, 8));
    let grid = tch::Tensor::cat(&rows, 0).clamp(0.0, 1.0).contiguous();
    let pixels = Vec::<f32>::try_from(grid.flatten(0, -1))?;
    let out = std::path::Path::new("runs/denoise_probe.png");
    ebm::viz::grid::image_grid(
        out,
        &pixels,
        32,
        3,
        32,
        32,
        8,
        None,
        Some("D(0.5 + σε | labels): σ 0.6, 0.3, 0.1; real"),
        3,
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
