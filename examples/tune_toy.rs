use ebm::data::Toy2dKind;
use ebm::experiments::toy2d::*;
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let steps: u64 = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(500);
    let mut cfg = toy_config(steps, 0);
    if let Some(v) = args.get(2) {
        cfg.langevin.step_size = v.parse()?;
    }
    if let Some(v) = args.get(3) {
        cfg.langevin.noise_std = v.parse()?;
    }
    if let Some(v) = args.get(4) {
        cfg.energy_l2 = v.parse()?;
    }
    if let Some(v) = args.get(5) {
        cfg.lr = v.parse()?;
    }
    if let Some(v) = args.get(6) {
        cfg.langevin.steps = v.parse()?;
    }
    if let Some(v) = args.get(7) {
        cfg.batch_size = v.parse()?;
    }
    let sn = args.get(8).map(|s| s == "sn").unwrap_or(false);
    let t = std::time::Instant::now();
    let (net, s) = train_toy(Toy2dKind::EightGaussians, &toy_architecture(sn), cfg.clone(), None, false)?;
    let train_s = t.elapsed().as_secs_f64();
    let sampler = toy_sampler(Toy2dKind::EightGaussians, &cfg.langevin);
    for chain in [cfg.langevin.steps, 200] {
        let x = sample_toy(net.as_ref(), &sampler, 1000, chain, 1);
        radial(&x);
        let ev = evaluate_toy(Toy2dKind::EightGaussians, &x, 0);
        println!(
            "chain {chain}: mmd2 {:.4} floor {:.4} on_mode {:.3} hit {} per {:?}",
            ev.mmd2,
            ev.mmd2_data_floor,
            ev.coverage.as_ref().unwrap().on_mode,
            ev.coverage.as_ref().unwrap().modes_hit,
            ev.coverage
                .as_ref()
                .unwrap()
                .per_mode
                .iter()
                .map(|f| (f * 100.0).round())
                .collect::<Vec<_>>()
        );
    }
    println!("train {train_s:.1}s last {:?} div {}", s.last, s.divergences);
    Ok(())
}
#[allow(dead_code)]
fn radial(x: &tch::Tensor) {
    let r = x.square().sum_dim_intlist(-1, false, tch::Kind::Float).sqrt();
    let mut v = vec![0f32; r.numel()];
    r.copy_data(&mut v, r.numel());
    let mut hist = [0usize; 8];
    for r in v {
        hist[((r / 0.75) as usize).min(7)] += 1;
    }
    println!("radial histogram (bins of 0.75): {hist:?}");
}
