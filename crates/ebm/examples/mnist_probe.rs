//! Tuning probe for the MNIST energies of `ebm experiment igebm-mnist`:
//! trains one model with the experiment's recipe, overridden from the
//! command line, and prints test classification (lowest energy) and mean
//! OOD AUROC every few steps, so recipes can be compared in minutes.
//!
//! cargo run --release --example mnist_probe -- steps=300 ce=1 sn=false gain=1 head=true init=2 lr=1e-3
//!
//! Other modes: `ceonly=true` (cross-entropy alone, no sampling),
//! `split=true` (one split-MNIST sequence, shared layers frozen after the
//! first task; `freeze=false` trains every weight, `hidden=800,800` widens
//! the MLP), `restore=PATH` (restoration and generation of a saved model
//! under other sampler settings), `buffer=PATH` (the replay buffer of a
//! saved `train_state.safetensors`, judged).

use ebm::data::mnist::load_digits_csv;
use ebm::data::mnist_source::{labelled_tensors, MnistData};
use ebm::experiments::igebm::classify::{accuracy, all_digits, predict};
use ebm::experiments::igebm::ood::{auroc, build_ood_sets, ood_scores};
use ebm::experiments::igebm::{mnist_architecture, mnist_config};
use ebm::judge::tasks::MnistTask;
use ebm::train::Trainer;
use std::collections::HashMap;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let get = |key: &str, default: &str| args.get(key).cloned().unwrap_or_else(|| default.to_string());
    let num = |key: &str, default: &str| {
        get(key, default).parse::<f64>().unwrap_or_else(|_| {
            eprintln!("{key}= wants a number");
            std::process::exit(2)
        })
    };
    tch::set_num_threads(num("threads", "2") as i32);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let task = MnistTask::load(&root.join("../../../shared/data/mnist"), 0)?;
    let conditional = get("cond", "true") == "true";
    let data = MnistData::new(&task.train, conditional, None, 0)?;
    let mut architecture = mnist_architecture(conditional);
    if let ebm::energy::Architecture::Conv(c) = &mut architecture {
        c.spectral_norm = get("sn", "true") == "true";
        c.residual_gain = num("gain", "0");
        c.code_head = get("head", "false") == "true";
        c.init_gain = num("init", "1");
        c.widths = get("widths", "16,32,64").split(',').map(|w| w.parse().unwrap_or(16)).collect();
    }
    let mut config = mnist_config(
        num("steps", "300") as u64,
        num("batch", "32") as usize,
        num("langevin", "20") as usize,
        0,
    );
    config.label_ce_weight = num("ce", "0");
    config.lr = num("lr", "3e-4");
    config.energy_l2 = num("l2", "1");
    config.langevin.step_size = num("lambda", "20");
    config.langevin.noise_std = num("sigma", "0.005");
    config.langevin.grad_clip = Some(num("clip", "0.01")).filter(|c| *c > 0.0);
    config.replay.reuse_prob = num("reuse", "0.95");
    config.data_noise = num("data_noise", &config.data_noise.to_string());
    tch::manual_seed(0);
    let probe_data = ProbeData {
        inner: &data,
        init_power: num("init_pow", &ebm::data::mnist_source::MNIST_INIT.power.to_string()),
    };
    let mut trainer = Trainer::new(architecture.build(tch::Device::Cpu), &probe_data, config.clone(), None)?;
    let (x, y) = labelled_tensors(&task.test, &(0..1000).collect::<Vec<_>>());
    let small = load_digits_csv(&root.join("../../../shared/data/sklearn-digits/digits.csv.gz"))?;
    let sets = build_ood_sets(&x.narrow(0, 500, 500), &small, 300, 0);
    if let Some(path) = args.get("buffer") {
        return buffer_mode(path);
    }
    if let Some(path) = args.get("restore") {
        return restore_mode(path, &task, &num);
    }
    if get("split", "false") == "true" {
        use ebm::experiments::igebm::continual::{split_architecture, split_mnist_run, task_config, SplitMethod};
        let (tx, ty) = labelled_tensors(&task.test, &(0..2000).collect::<Vec<_>>());
        let mut config = task_config(
            num("steps", "100") as u64,
            32,
            num("langevin", "20") as usize,
            num("seed", "0") as u64,
        );
        config.lr = num("lr", "1e-3");
        config.langevin.step_size = num("lambda", "20");
        config.replay.reuse_prob = num("reuse", "0.95");
        config.energy_l2 = num("l2", "1");
        config.replay.reuse_codes = get("relabel", "true") != "true";
        config.data_noise = num("data_noise", &config.data_noise.to_string());
        if get("reservoir", "true") != "true" {
            config.replay.mode = ebm::sample::BufferMode::Fifo;
        }
        let arch = if get("arch", "mlp") == "mlp" {
            let mut arch = split_architecture();
            if let ebm::energy::Architecture::Mlp(m) = &mut arch {
                m.hidden = get("hidden", "400,400").split(',').map(|w| w.parse().unwrap_or(400)).collect();
            }
            arch
        } else {
            architecture.clone()
        };
        let started = std::time::Instant::now();
        let method = if get("freeze", "true") == "true" {
            SplitMethod::FrozenShared
        } else {
            SplitMethod::AllWeights
        };
        let run = split_mnist_run(&task.train, &tx, &ty, &arch, &config, method)?;
        println!("{run:?} in {:.0}s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    if get("ceonly", "false") == "true" {
        // Cross-entropy of −E alone: how fast the architecture learns to classify.
        use tch::nn::OptimizerConfig;
        let net = trainer.network.as_ref();
        let mut optimizer = tch::nn::Adam::default().build(net.var_store(), num("lr", "3e-4"))?;
        for step in 0..config.steps {
            let batch = ebm::data::DataSource::batch(&data, step, 32);
            let Some(code) = &batch.code else {
                anyhow::bail!("ceonly=true needs cond=true");
            };
            let logits = -ebm::experiments::igebm::classify::label_energies(net, &batch.x, &all_digits());
            let loss = logits.cross_entropy_for_logits(&code.argmax(-1, false));
            optimizer.backward_step(&loss);
            if (step + 1) % 20 == 0 {
                let acc = accuracy(&predict(net, &x, &all_digits(), None), &y);
                println!("{} ce {:.3} acc {acc:.3}", step + 1, loss.double_value(&[]));
            }
        }
        return Ok(());
    }
    let every = num("every", "50") as u64;
    let eval_ood = get("ood", "true") == "true";
    let judge = (get("gen", "false") == "true")
        .then(|| ebm::judge::Judge::load(&root.join("../../judges/mnist.safetensors")).map(|j| j.0))
        .transpose()?;
    let started = std::time::Instant::now();
    while trainer.step < config.steps {
        let m = trainer.step()?;
        if trainer.step % every == 0 || trainer.step == config.steps {
            let report = |name: &str, net: &dyn ebm::Energy| {
                let acc = if conditional {
                    accuracy(&predict(net, &x, &all_digits(), None), &y)
                } else {
                    f64::NAN
                };
                if let Some(judge) = &judge {
                    tch::manual_seed(0);
                    let labels: Vec<i64> = (0..10).flat_map(|d| [d; 10]).collect();
                    let asked = tch::Tensor::from_slice(&labels);
                    let x0 = ebm::data::DataSource::fresh_chains(&probe_data, 1_000_000, 100);
                    let sampler = ebm::sample::LangevinConfig {
                        steps: num("sample_steps", "60") as usize,
                        ..config.langevin.clone()
                    };
                    let code = ebm::data::mnist_source::digit_codes(&labels);
                    let samples = ebm::sample::langevin(net, &x0, Some(&code), &sampler, &Default::default()).x;
                    let _ = ebm::experiments::shapes::write_grid(
                        std::path::Path::new(&format!("/tmp/probe-gen-{}-{}.png", get("tag", "x"), name.trim())),
                        &samples,
                        10,
                        &vec![String::new(); 100],
                        "gen",
                    );
                    let judged = accuracy(&ebm::experiments::igebm::classify::judge_digits(judge, &samples), &asked);
                    println!("  {name}: generation judged {judged:.3}");
                }
                if !eval_ood {
                    println!("  {name}: acc {acc:.3}");
                    return;
                }
                let inside = ood_scores(net, &x.narrow(0, 0, 500), conditional);
                let aurocs: Vec<f64> = sets
                    .iter()
                    .map(|s| auroc(&inside, &ood_scores(net, &s.images, conditional)))
                    .collect();
                let mean = aurocs.iter().sum::<f64>() / aurocs.len() as f64;
                let aurocs: Vec<String> = aurocs.iter().map(|a| format!("{a:.2}")).collect();
                println!("  {name}: acc {acc:.3} ood mean {mean:.3} [{}]", aurocs.join(" "));
            };
            println!(
                "step {} ({:.0}s) E+ {:.3} E- {:.3} div {}",
                trainer.step,
                started.elapsed().as_secs_f64(),
                m.e_pos,
                m.e_neg,
                trainer.divergences
            );
            report("live", trainer.network.as_ref());
            report("ema ", trainer.averaged_network().as_ref());
        }
    }
    Ok(())
}

/// Restoration and generation of a saved model under other sampler settings.
fn restore_mode(path: &str, task: &MnistTask, num: &dyn Fn(&str, &str) -> f64) -> anyhow::Result<()> {
    use ebm::experiments::igebm::classify::{judge_digits, sample_each_digit};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = ebm::checkpoint::load_checkpoint(std::path::Path::new(path))?;
    let judge = ebm::judge::Judge::load(&root.join("../../judges/mnist.safetensors"))?.0;
    let mut sampler = ebm::experiments::igebm::mnist_langevin(num("sample_steps", "60") as usize);
    sampler.step_size = num("lambda", "20");
    sampler.noise_std = num("sigma", "0.005");
    sampler.grad_clip = Some(num("clip", "0.01")).filter(|c| *c > 0.0);
    let (x, y) = labelled_tensors(&task.test, &(0..200).collect::<Vec<_>>());
    let picture = std::path::Path::new("/tmp/mnist-probe-restore.png");
    let energy = model.network.as_ref();
    let rows = ebm::experiments::igebm::restore::evaluate_restoration(energy, &judge, &x, &y, &sampler, 0, Some((picture, 10)))?;
    for r in rows {
        let (before, after) = (r.psnr_before, r.psnr_after);
        println!(
            "{}: {before:.2} -> {after:.2} dB, judge {:.2} -> {:.2}",
            r.task, r.judge_before, r.judge_after
        );
    }
    let sources = x.narrow(0, 0, 100);
    let mapped = ebm::experiments::igebm::restore::cross_class_accuracy(energy, &judge, &sources, &sampler);
    println!("cross-class mapping judged as the target digit {mapped:.3}");
    let (samples, asked) = sample_each_digit(energy, 10, &sampler, 0);
    println!("generation judged {:.3}", accuracy(&judge_digits(&judge, &samples), &asked));
    Ok(())
}

/// The replay buffer of a saved training state: judged against the codes it
/// was sampled under, and a grid of its first 100 samples.
fn buffer_mode(path: &str) -> anyhow::Result<()> {
    use ebm::experiments::igebm::classify::judge_digits;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let judge = ebm::judge::Judge::load(&root.join("../../judges/mnist.safetensors"))?.0;
    let tensors: HashMap<String, tch::Tensor> = tch::Tensor::read_safetensors(path)?.into_iter().collect();
    let samples = &tensors["buffer.samples"];
    let n = samples.size()[0];
    println!("buffer of {n}");
    if let Some(codes) = tensors.get("buffer.codes") {
        let asked = codes.argmax(-1, false);
        let recent = samples.narrow(0, 0, n.min(2000));
        let judged = accuracy(&judge_digits(&judge, &recent), &asked.narrow(0, 0, n.min(2000)));
        println!("buffer judged as its codes {judged:.3}");
    }
    let shown = samples.narrow(0, 0, n.min(100));
    let captions = vec![String::new(); shown.size()[0] as usize];
    ebm::experiments::shapes::write_grid(std::path::Path::new("/tmp/mnist-probe-buffer.png"), &shown, 10, &captions, "buffer")?;
    Ok(())
}

/// The MNIST source with another start-noise power.
struct ProbeData<'a> {
    inner: &'a MnistData,
    init_power: f64,
}

impl ebm::data::DataSource for ProbeData<'_> {
    fn batch(&self, step: u64, batch_size: usize) -> ebm::data::Batch {
        self.inner.batch(step, batch_size)
    }
    fn example_shape(&self) -> Vec<i64> {
        self.inner.example_shape()
    }
    fn concept(&self) -> Option<ebm::energy::ConceptSchema> {
        self.inner.concept()
    }
    fn init_noise(&self) -> ebm::sample::InitNoise {
        ebm::sample::InitNoise {
            power: self.init_power,
            ..self.inner.init_noise()
        }
    }
    fn describe(&self) -> serde_json::Value {
        self.inner.describe()
    }
}
