//! The README's library example: train an energy on two-moons, then sample it.
use ebm::data::{DataSource, Toy2d, Toy2dKind};
use ebm::experiments::toy2d::{toy_architecture, toy_config};
use ebm::sample::{langevin, LangevinOptions};
use ebm::{train::Trainer, Energy};

fn main() -> anyhow::Result<()> {
    let data = Toy2d::new(Toy2dKind::TwoMoons, 0);
    let network = toy_architecture(false).build(tch::Device::Cpu);
    let mut trainer = Trainer::new(network, &data, toy_config(300, 0), None)?;
    trainer.run(&ebm::Quiet)?;
    let start = data.init_noise().sample(&[500, 2]);
    let sampler = trainer.card().sampler.langevin;
    let samples = langevin(trainer.network.as_ref(), &start, None, &sampler, &LangevinOptions::default()).x;
    let energy = trainer.network.energy(&samples, None).mean(tch::Kind::Float);
    println!("mean energy of 500 samples: {:.3}", energy.double_value(&[]));
    Ok(())
}
