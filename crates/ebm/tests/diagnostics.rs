//! ESS and R̂ against series with known answers: AR(1) chains, independent
//! draws, mixed MALA chains and chains stuck in different modes.

mod common;

use common::samplers::*;
use ebm::sample::diagnostics::{by_chain, ess, ess_bulk, rank_rhat, split_rhat};
use ebm::sample::{sample, SampleOptions, SamplerKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

fn ar1_chains(phi: f64, chains: usize, draws: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let stationary_sd = (1.0 - phi * phi).sqrt().recip();
    (0..chains)
        .map(|_| {
            let mut x = stationary_sd * rng.sample::<f64, _>(rand_distr::StandardNormal);
            (0..draws)
                .map(|_| {
                    x = phi * x + rng.sample::<f64, _>(rand_distr::StandardNormal);
                    x
                })
                .collect()
        })
        .collect()
}

#[test]
fn ess_matches_ar1_and_independent_draws() {
    // AR(1) with φ = 0.9: ESS = N(1 − φ)/(1 + φ) = N/19. Tolerance 15%.
    let (chains, draws) = (8, 20_000);
    let expected = (chains * draws) as f64 * 0.1 / 1.9;
    let series = ar1_chains(0.9, chains, draws, 1);
    for (name, value) in [("ess", ess(&series)), ("ess_bulk", ess_bulk(&series))] {
        println!("AR(1) φ = 0.9: {name} {value:.0} vs {expected:.0}");
        assert!((value / expected - 1.0).abs() < 0.15, "{name} {value} vs {expected}");
    }
    let independent = ar1_chains(0.0, 4, 2000, 2);
    let value = ess(&independent);
    println!("independent draws: ESS {value:.0} of 8000");
    assert!((value / 8000.0 - 1.0).abs() < 0.15, "ESS of independent draws {value}");
}

#[test]
fn rhat_is_one_for_mixed_chains_and_large_for_stuck_ones() {
    let _serial = lock();
    let independent = ar1_chains(0.0, 8, 1000, 3);
    let (classic, ranked) = (split_rhat(&independent), rank_rhat(&independent));
    println!("independent draws: split R̂ {classic:.4}, rank R̂ {ranked:.4}");
    assert!(classic < 1.01 && ranked < 1.01);

    // 16 MALA chains on a 2-D Gaussian, their energies as the statistic.
    tch::manual_seed(90);
    let energy = FullGaussian::new([1.0, -2.0], [[1.0, 0.4], [0.4, 0.25]]);
    let x0 = Tensor::rand([16, 2], DOUBLE) * 4.0 - 2.0;
    let options = SampleOptions {
        chain_energies: true,
        ..Default::default()
    };
    let run = sample(&energy, &x0, None, &config(SamplerKind::Mala, 0.1, 3000, 1), &options);
    let energies = run.chain_energies.expect("energies were asked for");
    assert_eq!((energies.len(), energies[0].len()), (3001, 16));
    let chains: Vec<Vec<f64>> = by_chain(&energies[200..]);
    let (classic, ranked) = (split_rhat(&chains), rank_rhat(&chains));
    println!("MALA chains: split R̂ {classic:.4}, rank R̂ {ranked:.4}, ESS {:.0}", ess(&chains));
    assert!(classic < 1.01 && ranked < 1.01);

    // Half the chains in each mode of a well-separated mixture.
    let mixture = Mixture::two([0.7, 0.3], [-4.0, 4.0], 0.5);
    let x0 = Tensor::from_slice(&[-4.0, 4.0].repeat(8)).reshape([16, 1]);
    let run = sample(&mixture, &x0, None, &config(SamplerKind::Mala, 0.1, 500, 1), &every_step());
    let chains = chains_of(&run, 0, column(0));
    let (classic, ranked) = (split_rhat(&chains), rank_rhat(&chains));
    println!("stuck chains: split R̂ {classic:.3}, rank R̂ {ranked:.3}");
    assert!(classic > 1.5 && ranked > 1.5);
}
