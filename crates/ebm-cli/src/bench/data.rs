//! `ebm bench data`: images/s of each procedural generator, against one
//! Langevin step of the 3×32×32 bench model.

use super::{architecture, langevin::time_langevin};
use anyhow::{bail, Result};
use clap::Args;
use ebm::energy::Compute;
use std::time::Instant;

#[derive(Args)]
pub struct DataBenchArgs {
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Images per dataset.
    #[arg(short, default_value_t = 4096)]
    pub n: usize,
}

/// Images/s of each generator, and a training batch's generation time
/// against one Langevin step of the 3×32×32 bench model.
pub fn bench_data(args: DataBenchArgs) -> Result<()> {
    use ebm::data::{shapes::MultiShapes, shapes::Shapes, sprites::Sprites};
    if args.n == 0 || !(8..=256).contains(&args.size) {
        bail!("need -n ≥ 1 and --size in 8..=256");
    }
    let (config, batch) = architecture("cifar")?;
    let langevin_step = 1.0 / time_langevin(&config, batch, Compute::REFERENCE, 1, 3, tch::Device::Cpu)?;
    println!(
        "data generation at {}px on {} threads; one Langevin step of the 32px model takes {:.0} ms",
        args.size,
        rayon::current_num_threads(),
        langevin_step * 1e3
    );
    let timed = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        args.n as f64 / started.elapsed().as_secs_f64()
    };
    let rates = [
        ("shapes", timed(&|| drop(Shapes::new(args.size, 0).batch(0, args.n)))),
        ("multi-shapes", timed(&|| drop(MultiShapes::new(args.size, 0).batch(0, args.n)))),
        ("sprites", timed(&|| drop(Sprites::new(args.size, 0).batch(0, args.n)))),
    ];
    println!(
        "{:<13} {:>10} {:>16} {:>22}",
        "dataset", "images/s", "ms per 128", "% of a Langevin step"
    );
    for (name, rate) in rates {
        let per_batch = batch as f64 / rate;
        println!(
            "{:<13} {:>10.0} {:>16.1} {:>21.2}%",
            name,
            rate,
            per_batch * 1e3,
            100.0 * per_batch / langevin_step
        );
    }
    Ok(())
}
