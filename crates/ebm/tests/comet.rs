//! COMET: the training gradient through the reconstruction descent matches
//! finite differences in f64 (full unroll and the truncated variant), and
//! decomposition, checkpoints and training behave.

mod common;

use ebm::comet::descent::{descend, reconstruction_loss, Graph};
use ebm::comet::{Comet, CometConfig, EncoderKind, EnergyKind, ReconstructionLoss, SlotStart, Unroll};
use ebm::train::gradients::parameter_gradients as gradients;
use tch::{Device, Kind, Tensor};

/// A model small enough for finite differences: 8-px images, 2 components.
fn tiny(encoder: EncoderKind, unroll: Unroll, loss: ReconstructionLoss) -> Comet {
    tiny_from(tiny_config(encoder, unroll, loss))
}

fn tiny_config(encoder: EncoderKind, unroll: Unroll, loss: ReconstructionLoss) -> CometConfig {
    let mut config = CometConfig::objects();
    config.size = 8;
    config.components = 2;
    config.latent = 3;
    config.encoder = encoder;
    config.encoder_width = 4;
    config.energy_width = 4;
    config.energy_blocks = 1;
    config.slot_iterations = 2;
    config.descent.steps = 3;
    config.descent.unroll = unroll;
    config.descent.loss = loss;
    // The published energy; the experts have their own checks below.
    (config.energy, config.slot_start) = (EnergyKind::Network, SlotStart::Learned);
    config
}

fn tiny_from(config: CometConfig) -> Comet {
    tch::manual_seed(3);
    let mut model = Comet::new(config, Device::Cpu).unwrap();
    model.to_double();
    // Large enough that the descent moves pixels, small enough that few clamp.
    let gain = 0.5 / mean_abs_gradient(&model);
    model.config.descent.step_size = gain;
    model
}

fn images() -> Tensor {
    tch::manual_seed(11);
    Tensor::rand([2, 3, 8, 8], (Kind::Double, Device::Cpu)) * 0.8 + 0.1
}

fn start() -> Tensor {
    tch::manual_seed(12);
    Tensor::rand([2, 3, 8, 8], (Kind::Double, Device::Cpu))
}

fn mean_abs_gradient(model: &Comet) -> f64 {
    let x = start().set_requires_grad(true);
    let z = model.encode(&images()).detach();
    let g = ebm::comet::descent::energy_gradient(&[(model, z)], &x, false);
    g.abs().mean(Kind::Double).double_value(&[]) * 8.0
}

/// Entries to check: a few of every parameter tensor (first, middle, last).
fn probes(model: &Comet) -> Vec<(usize, i64)> {
    let params = model.parameters();
    let mut out = Vec::new();
    for (i, (_, t)) in params.iter().enumerate() {
        let n = t.numel() as i64;
        for j in [0, n / 2, n - 1] {
            out.push((i, j));
        }
    }
    out
}

/// Largest relative error between the analytic gradient and central
/// differences of `objective` over the probed entries.
fn worst_error(model: &Comet, analytic: &[Tensor], objective: &dyn Fn() -> f64) -> f64 {
    let params: Vec<Tensor> = model.parameters().into_iter().map(|(_, t)| t).collect();
    let h = 1e-6;
    let (mut errors, mut scales) = (Vec::new(), Vec::new());
    for (i, j) in probes(model) {
        let flat = params[i].view([-1]);
        let original = flat.double_value(&[j]);
        let set = |v: f64| {
            let _ = tch::no_grad(|| flat.get(j).fill_(v));
        };
        set(original + h);
        let plus = objective();
        set(original - h);
        let minus = objective();
        set(original);
        let numeric = (plus - minus) / (2.0 * h);
        let exact = analytic[i].reshape([-1]).double_value(&[j]);
        errors.push((numeric - exact).abs());
        scales.push(exact.abs());
    }
    // Relative to the largest probed gradient: entries near zero differ only
    // by the differences' rounding (~1e-16·loss/h).
    let scale = scales.iter().cloned().fold(0.0, f64::max);
    assert!(scale > 1e-6, "every probed gradient is ~0 ({scale}): the check would be empty");
    errors.iter().map(|e| e / scale).fold(0.0, f64::max)
}

#[test]
fn full_unroll_gradient_matches_finite_differences() {
    let _serial = common::serial();
    for encoder in [EncoderKind::Slots, EncoderKind::Global] {
        for loss in [ReconstructionLoss::Final, ReconstructionLoss::AllSteps] {
            let model = tiny(encoder, Unroll::Full, loss);
            let (x, x0) = (images(), start());
            let params: Vec<Tensor> = model.parameters().into_iter().map(|(_, t)| t).collect();
            let analytic = gradients(&reconstruction_loss(&model, &x, &x0), &params);
            let objective = || reconstruction_loss(&model, &x, &x0).double_value(&[]);
            let error = worst_error(&model, &analytic, &objective);
            assert!(error < 1e-6, "{encoder:?}/{loss:?}: relative error {error}");
            eprintln!("{encoder:?}/{loss:?}: worst error {error:.1e} of the largest gradient");
        }
    }
}

#[test]
fn experts_gradient_matches_finite_differences_with_either_slot_start_and_place_features() {
    let _serial = common::serial();
    // Sampled slots with two octaves of sine features of place.
    for (slot_start, octaves) in [(SlotStart::Learned, 0), (SlotStart::Sampled, 2)] {
        let mut config = tiny_config(EncoderKind::Slots, Unroll::Full, ReconstructionLoss::Final);
        (config.energy, config.slot_start, config.field_octaves) = (EnergyKind::Experts, slot_start, octaves);
        let model = tiny_from(config);
        let (x, x0) = (images(), start());
        // A sampled start draws the slots: the same draw at every evaluation.
        let loss = || {
            tch::manual_seed(21);
            reconstruction_loss(&model, &x, &x0)
        };
        let analytic = gradients(&loss(), &params_of(&model));
        let error = worst_error(&model, &analytic, &|| loss().double_value(&[]));
        assert!(error < 1e-6, "experts, {slot_start:?} start: relative error {error}");
        eprintln!("experts, {slot_start:?} start: worst error {error:.1e} of the largest gradient");
    }
}

#[test]
fn the_experts_descent_reaches_the_precision_weighted_mean_and_masks_weigh_precision_by_colour_fit() {
    let _serial = common::serial();
    use ebm::comet::decompose::component_masks;
    use ebm::comet::model::Conditioned;
    let mut config = tiny_config(EncoderKind::Slots, Unroll::Full, ReconstructionLoss::Final);
    config.energy = EnergyKind::Experts;
    let mut model = tiny_from(config);
    let x = images();
    let z = model.encode(&x).detach();
    let Conditioned::Experts { fields, .. } = model.condition(&z) else {
        panic!("an experts model conditions into fields")
    };
    let alpha = fields.precision.view([2, 2, 1, 8, 8]).detach();
    let mu = fields.mean.view([2, 2, 3, 8, 8]).detach();
    let total = alpha.sum_dim_intlist(&[1i64][..], false, Kind::Double);
    let target = (&alpha * &mu).sum_dim_intlist(&[1i64][..], false, Kind::Double) / &total;
    // Every pixel contracts: λ·Σα / (C·S²) ≤ 1/2.
    model.config.descent.step_size = 0.5 * 192.0 / total.max().double_value(&[]);
    let reached = descend(&[(&model, z.shallow_clone())], &start(), Graph::None, Some(2000))
        .pop()
        .unwrap();
    let gap = (&reached - &target).abs().max().double_value(&[]);
    assert!(gap < 1e-6, "the descent ends {gap} from the precision-weighted mean");
    // Masks: the precision weighted by each component's colour fit at the image.
    use ebm::comet::decompose::EXPERT_FIT_WEIGHT;
    let misfit = (x.unsqueeze(1) - &mu).square().sum_dim_intlist(&[2i64][..], false, Kind::Double);
    let weights = alpha.squeeze_dim(2) * (misfit * -EXPERT_FIT_WEIGHT).exp();
    let shares = &weights / weights.sum_dim_intlist(&[1i64][..], true, Kind::Double);
    let masks = component_masks(&model, &x, &z);
    assert!((&masks - &shares).abs().max().double_value(&[]) < 1e-12);
    // At a pixel, the component whose colour is the pixel's wins more of it
    // than its precision alone gives.
    let plain = alpha.squeeze_dim(2) / &total;
    let x_is_mu0 = mu.select(1, 0);
    let at_mu0 = component_masks(&model, &x_is_mu0, &z).select(1, 0);
    assert!(at_mu0.ge_tensor(&plain.select(1, 0)).all().int64_value(&[]) == 1);
    let sums = masks.sum_dim_intlist(&[1i64][..], false, Kind::Double);
    assert!((sums - 1.0).abs().max().double_value(&[]) < 1e-12);
}

#[test]
fn components_split_across_parts_rebuild_the_same_image() {
    // What cross-model recombination relies on: the descent sums energies
    // over parts, so a model's components may come as one part or several.
    let _serial = common::serial();
    use ebm::comet::descent::rebuild;
    let model = small(6);
    let x = scenes(0, 2);
    tch::manual_seed(4);
    let z = model.encode(&x).detach();
    let x0 = Tensor::rand_like(&x);
    let whole = rebuild(&[(&model, z.shallow_clone())], &x0);
    let split = rebuild(&[(&model, z.narrow(1, 0, 1)), (&model, z.narrow(1, 1, 2))], &x0);
    let gap = (&whole - &split).abs().max().double_value(&[]);
    assert!(gap < 1e-5, "one part and two parts differ by {gap}");
    let moved = (&whole - &x0).abs().mean(Kind::Float).double_value(&[]);
    assert!(moved > 1e-2, "the descent barely moved ({moved})");
}

/// The truncated loss: each step's input is the fixed iterate of the
/// unperturbed model, so only the step itself depends on θ.
fn truncated_objective(model: &Comet, x: &Tensor, inputs: &[Tensor], loss: ReconstructionLoss) -> f64 {
    let z = model.encode(x);
    let parts = [(model, z)];
    let used: Vec<&Tensor> = match loss {
        ReconstructionLoss::Final => vec![inputs.last().unwrap()],
        ReconstructionLoss::AllSteps => inputs.iter().collect(),
    };
    used.iter()
        .map(|input| {
            let next = descend(&parts, input, Graph::Truncated, Some(1)).pop().unwrap();
            next.mse_loss(x, tch::Reduction::Mean).double_value(&[])
        })
        .sum()
}

#[test]
fn truncated_gradient_matches_finite_differences_of_the_detached_steps() {
    let _serial = common::serial();
    for loss in [ReconstructionLoss::Final, ReconstructionLoss::AllSteps] {
        let model = tiny(EncoderKind::Slots, Unroll::Truncated, loss);
        let (x, x0) = (images(), start());
        let params: Vec<Tensor> = model.parameters().into_iter().map(|(_, t)| t).collect();
        let analytic = gradients(&reconstruction_loss(&model, &x, &x0), &params);
        let z = model.encode(&x).detach();
        let mut inputs = vec![x0.shallow_clone()];
        inputs.extend(descend(&[(&model, z)], &x0, Graph::None, Some(2)));
        let objective = || truncated_objective(&model, &x, &inputs, loss);
        let error = worst_error(&model, &analytic, &objective);
        assert!(error < 1e-6, "{loss:?}: relative error {error}");
        eprintln!("truncated {loss:?}: worst error {error:.1e} of the largest gradient");

        // The truncation is a different gradient from the full unroll's.
        let mut full = tiny(EncoderKind::Slots, Unroll::Full, loss);
        full.config.descent.step_size = model.config.descent.step_size;
        let exact = gradients(&reconstruction_loss(&full, &x, &x0), &params_of(&full));
        let differs = analytic
            .iter()
            .zip(&exact)
            .any(|(a, e)| (a - e).abs().max().double_value(&[]) > 1e-3 * e.abs().max().double_value(&[]).max(1e-9));
        assert!(differs, "{loss:?}: the truncated gradient equals the full one");
    }
}

fn params_of(model: &Comet) -> Vec<Tensor> {
    model.parameters().into_iter().map(|(_, t)| t).collect()
}

/// A small float model on 16-px multi-shapes scenes.
fn small(seed: i64) -> Comet {
    let mut config = CometConfig::objects();
    config.size = 16;
    config.components = 3;
    config.latent = 4;
    config.encoder_width = 8;
    config.energy_width = 8;
    config.descent.steps = 2;
    tch::manual_seed(seed);
    Comet::new(config, Device::Cpu).unwrap()
}

fn scenes(start: u64, n: usize) -> Tensor {
    ebm::comet::data::CometData::MultiShapes.images(16, 0, start, n)
}

#[test]
fn masks_are_shares_that_sum_to_one_and_renderings_are_images() {
    let _serial = common::serial();
    use ebm::comet::decompose::{decompose, MaskSource};
    let model = small(1);
    let x = scenes(0, 3);
    tch::manual_seed(2);
    let parts = decompose(&model, &x, &Tensor::rand_like(&x), MaskSource::Image);
    assert_eq!(parts.masks.size(), vec![3, 3, 16, 16]);
    assert_eq!(parts.renderings.size(), vec![3, 3, 3, 16, 16]);
    let sums = parts.masks.sum_dim_intlist(&[1i64][..], false, Kind::Float);
    assert!((sums - 1.0).abs().max().double_value(&[]) < 1e-5);
    assert!(parts.masks.min().double_value(&[]) >= 0.0);
    let (lo, hi) = (parts.renderings.min().double_value(&[]), parts.renderings.max().double_value(&[]));
    assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi), "renderings in [{lo}, {hi}]");
    // A component's mask follows its own gradient: no two components share
    // one mask on a random model.
    let diff = (parts.masks.select(1, 0) - parts.masks.select(1, 1))
        .abs()
        .mean(Kind::Float)
        .double_value(&[]);
    assert!(diff > 1e-3, "components 0 and 1 have the same mask ({diff})");
}

#[test]
fn checkpoints_round_trip_and_bad_files_are_refused_with_their_path() {
    let _serial = common::serial();
    use ebm::comet::CometCard;
    let dir = tempfile::tempdir().unwrap();
    let model = small(4);
    let path = dir.path().join("comet.safetensors");
    let card = CometCard::new(
        model.config.clone(),
        serde_json::json!({"dataset": "multi-shapes"}),
        serde_json::Value::Null,
    );
    model.save(&path, &card).unwrap();
    let (loaded, loaded_card) = Comet::load(&path, Device::Cpu).unwrap();
    assert_eq!(loaded_card.config, model.config);
    let x = scenes(5, 2);
    // Sampled slots: the same draw for both.
    let encode = |m: &Comet| {
        tch::manual_seed(9);
        m.encode(&x)
    };
    let same = (encode(&model) - encode(&loaded)).abs().max().double_value(&[]);
    assert_eq!(same, 0.0);
    let bytes = std::fs::read(&path).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let error = format!("{:#}", Comet::load(&truncated, Device::Cpu).err().unwrap());
    assert!(error.contains("truncated.safetensors"), "{error}");
    // An energy checkpoint is not a COMET model.
    let energy = ebm::energy::network::named_variables(&model.vs);
    let wrong = dir.path().join("wrong.safetensors");
    ebm::io::write_tensor_file(&wrong, &energy, &serde_json::json!({"kind": "ebm-energy"})).unwrap();
    let error = format!("{:#}", Comet::load(&wrong, Device::Cpu).err().unwrap());
    assert!(
        error.contains("wrong.safetensors") && error.contains("not a COMET model but an energy model"),
        "{error}"
    );
}

#[test]
fn training_lowers_the_loss_and_resumes_exactly() {
    let _serial = common::serial();
    use ebm::comet::train::{train, CometTrainConfig, TrainState};
    let config = CometTrainConfig {
        steps: 20,
        batch_size: 4,
        learning_rate: 3e-3,
        log_every: 5,
        ..CometTrainConfig::default()
    };
    let images = |step: u64, n: usize| scenes(step * n as u64, n);
    let run = |stop_at: Option<u64>, dir: &std::path::Path| {
        let model = small(6);
        let mut state = TrainState::new(&model);
        if let Some(stop) = stop_at {
            let first = CometTrainConfig {
                steps: stop,
                ..config.clone()
            };
            train(&model, &first, &mut state, &images, &ebm::Quiet, &mut |_| Ok(())).unwrap();
            state.save(&dir.join("state.safetensors"), &model).unwrap();
            let model = small(99); // other weights: the state must restore them
            let mut state = TrainState::load(&dir.join("state.safetensors"), &model).unwrap();
            train(&model, &config, &mut state, &images, &ebm::Quiet, &mut |_| Ok(())).unwrap();
            return (model, state);
        }
        train(&model, &config, &mut state, &images, &ebm::Quiet, &mut |_| Ok(())).unwrap();
        (model, state)
    };
    let dir = tempfile::tempdir().unwrap();
    let (straight, log) = run(None, dir.path());
    let (resumed, _) = run(Some(10), dir.path());
    eprintln!("losses {:?}", log.log.iter().map(|r| r.loss).collect::<Vec<_>>());
    let (first, last) = (log.log[0].loss, log.log.last().unwrap().loss);
    assert!(last < 0.7 * first, "loss {first} → {last}");
    for ((name, a), (_, b)) in straight.parameters().iter().zip(resumed.parameters().iter()) {
        assert_eq!((a - b).abs().max().double_value(&[]), 0.0, "{name} differs after resuming");
    }
}

#[test]
fn the_object_judge_accepts_the_truth_and_rejects_a_missing_or_moved_object() {
    let _serial = common::serial();
    use ebm::data::shapes::MultiShapes;
    use ebm::experiments::comet::objects::object_judged_right;
    let render = |scene: &ebm::data::shapes::Scene| Tensor::from_slice(&scene.render(32)).view([3, 32, 32]);
    let (mut accepted, mut missing, mut moved) = (0, 0, 0);
    let scenes = MultiShapes::new(32, 3).batch(0, 20).1;
    for scene in &scenes {
        let object = scene.objects.last().unwrap().clone();
        let truth = render(scene);
        accepted += object_judged_right(&truth, &truth, &object, scene, 32) as usize;
        let mut without = scene.clone();
        without.objects.pop();
        missing += object_judged_right(&render(&without), &truth, &object, scene, 32) as usize;
        let mut shifted = scene.clone();
        let last = shifted.objects.last_mut().unwrap();
        last.x = if last.x > 0.5 { last.x - 0.2 } else { last.x + 0.2 };
        moved += object_judged_right(&render(&shifted), &truth, &object, scene, 32) as usize;
    }
    assert_eq!(accepted, 20, "the truth itself is judged right");
    assert!(missing <= 1 && moved <= 1, "missing object accepted {missing}/20, moved {moved}/20");
}
