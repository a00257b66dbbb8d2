//! `ebm train shapes --product pos,color`: concept models trained together as
//! a product of experts (`ebm::train::product`), one folder per concept.

use crate::train::{overrides, TrainArgs};
use crate::Context;
use anyhow::{bail, Result};
use ebm::checkpoint::{load_checkpoint, LoadedModel};
use ebm::data::shapes_concept::ShapesConcept;
use ebm::data::DataSource;
use ebm::train::product::{FrozenPartner, ProductTrainer};
use ebm::train::recipe::recipe;
use ebm::train::state::{resume, STATE_FILE};
use ebm::train::Trainer;

pub fn run(args: &TrainArgs, concepts: &[ShapesConcept], context: &Context) -> Result<()> {
    if args.dataset != "shapes" {
        bail!("--product trains shapes concept models together: use `ebm train shapes --product pos,color`");
    }
    let mut seen = std::collections::BTreeSet::new();
    if concepts.len() + args.frozen.len() < 2 || !concepts.iter().all(|c| seen.insert(c.name())) {
        bail!("--product needs two or more different concepts (trained or --frozen), e.g. --product pos,color");
    }
    let frozen = load_frozen(args)?;
    if args.resume && context.device != tch::Device::Cpu {
        bail!("--resume continues a run on the CPU only for now; pass --device cpu");
    }
    // Member names double as folder names and recipe suffixes.
    let mut names: Vec<&str> = concepts.iter().map(|c| c.name()).collect();
    if args.prior {
        names.push("prior");
    }
    let mut recipes = Vec::new();
    let mut sources: Vec<Box<dyn DataSource>> = Vec::new();
    for name in &names {
        let mut r = recipe(&format!("shapes-{name}"), args.steps.unwrap_or(2000), args.seed)?;
        r.apply(&overrides(args))?;
        sources.push(r.data(&args.mnist_dir)?);
        recipes.push(r);
    }
    let mut members = Vec::new();
    for ((name, r), data) in names.iter().zip(&recipes).zip(&sources) {
        let dir = args.out.join(name);
        let member = if args.resume {
            resume(&dir, data.as_ref(), args.steps)?
        } else {
            if dir.join(STATE_FILE).exists() {
                bail!(
                    "{} already holds a training run; pass --resume to continue it, or choose another --out",
                    dir.display()
                );
            }
            tch::manual_seed(args.seed as i64 + members.len() as i64);
            let mut network = match initial_checkpoint(args, name, names.len())? {
                Some(path) => crate::train::initial_weights(&path, &r.architecture, context.device)?,
                None => r.architecture.build(context.device),
            };
            // A denoising product's denoiser is its members' mean: each
            // member's energy is 1/K of its own, so their sum is the product.
            if r.config.objective == ebm::train::Objective::Denoise && names.len() > 1 {
                network = ebm::energy::network::with_energy_scale(network.as_ref(), 1.0 / names.len() as f64)
                    .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            }
            Trainer::new(network, data.as_ref(), r.config.clone(), Some(dir))?
        };
        members.push(member);
    }
    let partners = frozen
        .iter()
        .map(|(name, model, data)| FrozenPartner {
            name: name.clone(),
            model: model.network.as_ref(),
            data: data.as_ref(),
        })
        .collect();
    let mut product = ProductTrainer::new(members, Some(args.out.clone()))?.with_partners(partners)?;
    let seconds = product.run(&context.progress)?;
    let steps = product.step_index();
    let beside = if args.frozen.is_empty() {
        String::new()
    } else {
        format!(
            " beside frozen {}",
            frozen.iter().map(|(n, _, _)| n.as_str()).collect::<Vec<_>>().join(",")
        )
    };
    println!(
        "trained the product of {}{beside} for {steps} steps in {seconds:.1}s",
        names.join(",")
    );
    for (member, concept) in product.members.iter().zip(concepts) {
        let picture = args.out.join(concept.name()).join("samples.png");
        let network = member.averaged_network();
        ebm::experiments::shapes::concept_sample_grid(network.as_ref(), *concept, &member.card().sampler, &picture)?;
        println!(
            "wrote {} and {}",
            args.out.join(concept.name()).join(ebm::train::state::MODEL_FILE).display(),
            picture.display()
        );
    }
    let record =
        serde_json::json!({ "product_of": names, "frozen": args.frozen, "steps": steps, "seconds_this_run": seconds, "seed": args.seed });
    std::fs::write(args.out.join("product.json"), serde_json::to_string_pretty(&record)?)?;
    Ok(())
}

/// A `--frozen` partner: its name, checkpoint, and the product's scenes
/// under its concept (the source of its codes).
type Frozen = (String, LoadedModel, Box<dyn DataSource>);

/// The `--frozen name=checkpoint` partners.
fn load_frozen(args: &TrainArgs) -> Result<Vec<Frozen>> {
    let mut partners = Vec::new();
    for spec in &args.frozen {
        let Some((name, path)) = spec.split_once('=') else {
            bail!("--frozen takes name=checkpoint, e.g. pos=models/shapes/pos.safetensors; got '{spec}'");
        };
        let concept: ShapesConcept = name.parse().map_err(|e| anyhow::anyhow!("--frozen {spec}: {e}"))?;
        let path = std::path::Path::new(path);
        let model = load_checkpoint(path)?;
        let mut r = recipe(&format!("shapes-{}", concept.name()), args.steps.unwrap_or(2000), args.seed)?;
        r.apply(&overrides(args))?;
        let data = r.data(&args.mnist_dir)?;
        if model.card.concept != data.concept() {
            bail!(
                "{} is not a shapes '{}' model (its card says {:?}); --frozen {name}= needs one",
                path.display(),
                concept.name(),
                model.card.concept.as_ref().map(|c| &c.name)
            );
        }
        partners.push((concept.name().to_string(), model, data));
    }
    Ok(partners)
}

/// Where member `name` starts with `--init-from`: the file itself when the
/// product trains one member, else `<dir>/<name>/model.safetensors` (the
/// layout a product's --out has) or `<dir>/<name>.safetensors`.
fn initial_checkpoint(args: &TrainArgs, name: &str, members: usize) -> Result<Option<std::path::PathBuf>> {
    let Some(from) = &args.init_from else { return Ok(None) };
    if members == 1 {
        return Ok(Some(from.clone()));
    }
    let candidates = [
        from.join(name).join(ebm::train::state::MODEL_FILE),
        from.join(format!("{name}.safetensors")),
    ];
    match candidates.iter().find(|p| p.exists()) {
        Some(path) => Ok(Some(path.clone())),
        None => bail!(
            "--init-from {}: a product of several members starts from a folder holding {name}/model.safetensors or {name}.safetensors; neither is there",
            from.display()
        ),
    }
}
