//! How `ebm sample` runs its Langevin chains: the card's chain or the
//! sampler `--sampler`/`--anneal` ask for, one per sample or `--particles`
//! per sample of which `--keep` chooses.

use crate::args::SamplerArgs;
use crate::sample::SampleArgs;
use anyhow::Result;
use ebm::compose::algebra::Composed;
use ebm::experiments::composition::keep_of_particles;
use ebm::experiments::shapes::start_chains;
use ebm::sample::{
    anneal, geometric, langevin, sample, summarize, Annealed, LangevinConfig, LangevinOptions, SampleOptions, Sampled, Schedule,
};
use tch::Tensor;

/// How `ebm sample` starts and runs its Langevin chains.
pub(crate) struct Chains<'a> {
    pub sampler: &'a ebm::sample::SamplerDefaults,
    pub input_shape: &'a [i64],
    pub config: &'a LangevinConfig,
    pub options: &'a LangevinOptions<'a>,
    pub device: tch::Device,
}

/// One chain per sample, or `--particles` chains per sample (particle 0 is
/// the one chain of `--seed`) of which `--keep` chooses by their energies
/// under `named`, the expression as written; the trace and the chain
/// picture are particle 0's.
pub(crate) fn draw_particles(args: &SampleArgs, energy: &dyn ebm::Energy, named: Option<&Composed>, chains: &Chains) -> Result<Sampled> {
    let mut first: Option<Sampled> = None;
    let mut run_chain = |seed: u64| -> Result<Tensor> {
        let x0 = start_chains(chains.sampler, chains.input_shape, args.n, seed)?.to_device(chains.device);
        tch::manual_seed(seed as i64);
        let sampled = draw(energy, &x0, chains.config, &args.sampler, chains.options)?;
        let x = sampled.x.shallow_clone();
        first.get_or_insert(sampled);
        Ok(x)
    };
    let x = match named {
        Some(named) => keep_of_particles(
            args.particles,
            args.keep.unwrap_or_default(),
            args.seed,
            (named, energy),
            &mut run_chain,
        )?,
        None => run_chain(args.seed)?,
    };
    let mut sampled = first.expect("at least one particle");
    sampled.x = x;
    Ok(sampled)
}

/// `composed` with its top-level OR's branch drawn per chain when OR is
/// sampled ancestrally (the same branches every call: the stream is seeded).
pub(crate) fn with_branches<'a>(args: &SampleArgs, composed: Composed<'a>) -> Composed<'a> {
    match args.operators.or_sampling {
        ebm::compose::mixture::OrSampling::Ancestral => {
            let mut rng = ebm::seed::rng_at(args.seed, &[ebm::seed::streams::BRANCH]);
            ebm::compose::mixture::draw_branches(composed, args.n, &mut rng).0
        }
        ebm::compose::mixture::OrSampling::Energy => composed,
    }
}

/// Runs the card's Langevin chain, or the sampler `--sampler`/`--anneal`
/// ask for, printing its diagnostics (acceptance, ESS and R-hat of the energy).
fn draw(
    energy: &dyn ebm::Energy,
    x0: &Tensor,
    langevin_config: &LangevinConfig,
    args: &SamplerArgs,
    options: &LangevinOptions,
) -> Result<Sampled> {
    let Some(config) = args.config(langevin_config)? else {
        return Ok(langevin(energy, x0, None, langevin_config, options));
    };
    let options = SampleOptions {
        fixed_mask: None,
        trace: true,
        chain_energies: true,
        record_every: options.record_every,
    };
    let started = std::time::Instant::now();
    let runs = match args.anneal {
        None => vec![sample(energy, x0, None, &config, &options)],
        Some(factor) => {
            let temperatures = geometric(config.temperature * factor, config.temperature, args.anneal_levels);
            let per_level = (config.steps / args.anneal_levels).max(1);
            let schedule = Schedule::temperatures(&temperatures, per_level, config.step_size);
            anneal(Annealed::Temperature(energy), x0, None, &schedule, &config, &options).levels
        }
    };
    let last = runs.last().expect("at least one level");
    let warmup = if runs.len() == 1 { config.warmup } else { 0 };
    let summary = summarize(last, warmup);
    println!(
        "sampler {} ({} levels), T {:.3e}, step {:.3e}, {:.1} s",
        config.kind,
        runs.len(),
        config.temperature,
        summary.step_size,
        started.elapsed().as_secs_f64()
    );
    println!(
        "acceptance {:.4} (chains {:.3}–{:.3})",
        summary.acceptance, summary.acceptance_range.0, summary.acceptance_range.1
    );
    match (summary.energy_ess, summary.energy_rhat) {
        (Some(ess), Some(rhat)) => println!("energy ESS {ess:.1}, split R-hat {rhat:.3}"),
        _ => println!("energy ESS and R-hat need at least 2 chains and 8 steps after warm-up"),
    }
    let trace = runs.iter().flat_map(|r| r.trace.iter().copied()).collect();
    let frames = runs.iter().flat_map(|r| r.frames.iter().map(|f| f.shallow_clone())).collect();
    Ok(Sampled {
        x: last.x.shallow_clone(),
        trace,
        frames,
    })
}

/// The first `-n` images of `path`, of the models' shape, for `--refine`.
pub fn refine_start(path: &std::path::Path, args: &crate::sample::SampleArgs, input_shape: &[i64]) -> Result<tch::Tensor> {
    if !(args.refine_sigma > 0.0 && args.refine_sigma.is_finite()) {
        anyhow::bail!("--refine-sigma must be a positive noise level, got {}", args.refine_sigma);
    }
    let (channels, size) = match input_shape {
        [c, h, w] if h == w => (*c, *h),
        other => anyhow::bail!("--refine reads images; these models take inputs of shape {other:?}"),
    };
    let images = ebm::io::read_images(path, channels, size)?;
    let available = images.size()[0] as usize;
    if available < args.n {
        anyhow::bail!(
            "{} holds {available} images, fewer than -n {}; lower -n or give more images",
            path.display(),
            args.n
        );
    }
    Ok(images.narrow(0, 0, args.n as i64))
}
