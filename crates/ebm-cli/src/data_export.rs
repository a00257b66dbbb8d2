//! `ebm data export`: `shapes` scenes with their labels, for other tools and
//! for `ebm infer` / `ebm score` (safetensors `images` plus one tensor per label).

use crate::data::ShapesFilterArgs;
use anyhow::{bail, Result};
use clap::Args;
use ebm::data::shapes::Scene;
use std::path::PathBuf;
use tch::Tensor;

#[derive(Args)]
pub struct ExportArgs {
    /// A .safetensors file (images [N·views, 3, S, S]; pos [N, 2], size, shape,
    /// color, light, phi per image) or a directory (one PNG per image and labels.json).
    #[arg(short, long)]
    pub out: PathBuf,
    #[arg(short, default_value_t = 100)]
    pub n: usize,
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Render each scene under this many lights (its other factors fixed), consecutively.
    #[arg(long, default_value_t = 1)]
    pub views: usize,
    #[command(flatten)]
    pub filter: ShapesFilterArgs,
}

pub fn run(args: ExportArgs) -> Result<()> {
    if args.n == 0 || args.views == 0 || !(8..=256).contains(&args.size) {
        bail!("need -n ≥ 1, --views ≥ 1 and --size in 8..=256");
    }
    let shapes = args.filter.to_shapes(args.size, args.seed)?;
    let (images, views) = ebm::experiments::inference::scenes_under_lights(&shapes, args.n, args.views);
    let main = |v: &Scene| v.objects.last().expect("a shapes scene has its object").clone();
    let floats = |f: &dyn Fn(&Scene) -> f32| Tensor::from_slice(&views.iter().map(f).collect::<Vec<f32>>());
    let labels = vec![
        (
            "pos".to_string(),
            Tensor::from_slice(&views.iter().flat_map(|v| [main(v).x as f32, main(v).y as f32]).collect::<Vec<_>>()).view([-1, 2]),
        ),
        ("size".to_string(), floats(&|v| main(v).r as f32)),
        (
            "shape".to_string(),
            Tensor::from_slice(&views.iter().map(|v| main(v).shape as i64).collect::<Vec<_>>()),
        ),
        (
            "color".to_string(),
            Tensor::from_slice(&views.iter().map(|v| main(v).colour.unwrap_or(0) as i64).collect::<Vec<_>>()),
        ),
        ("light".to_string(), floats(&|v| v.light.intensity as f32)),
        ("phi".to_string(), floats(&|v| v.light.phi as f32)),
    ];
    let metadata = serde_json::json!({"dataset": "shapes", "seed": args.seed, "size": args.size, "scenes": args.n, "views": args.views});
    if args.out.extension().is_some_and(|e| e == "safetensors") {
        let mut tensors = vec![("images".to_string(), images)];
        tensors.extend(labels);
        ebm::io::write_tensor_file(&args.out, &tensors, &metadata)?;
    } else {
        ebm::io::write_png_dir(&args.out, &images)?;
        let rows: Vec<serde_json::Value> = views
            .iter()
            .map(|v| {
                let o = main(v);
                serde_json::json!({"pos": [o.x, o.y], "size": o.r, "shape": o.shape, "color": o.colour, "light": v.light.intensity, "phi": v.light.phi})
            })
            .collect();
        ebm::io::write_atomically(&args.out.join("labels.json"), serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    println!("wrote {} images of {} scenes to {}", views.len(), args.n, args.out.display());
    Ok(())
}

#[derive(Args)]
pub struct MnistOodArgs {
    /// Directory for `mnist-test.npy` (the positives), their labels, and one `.npy` per OOD set.
    #[arg(short, long)]
    pub out: PathBuf,
    /// The seed of `ebm experiment igebm-mnist` whose sets to rebuild.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The experiment's budget: the full run's sets, or --quick's.
    #[arg(long)]
    pub quick: bool,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value_os_t = crate::judge::default_mnist_dir())]
    pub mnist_dir: PathBuf,
    /// The 8×8 sklearn digits CSV (an OOD set).
    #[arg(long, default_value_os_t = crate::home::shared_data().join("sklearn-digits/digits.csv.gz"))]
    pub digits_csv: PathBuf,
}

/// `ebm data mnist-ood`: the exact OOD benchmark of `ebm experiment
/// igebm-mnist` as `.npy` files, so `ebm score` can be checked against its report.
pub fn run_mnist_ood(args: MnistOodArgs) -> Result<()> {
    use ebm::experiments::igebm::{ood::ood_benchmark, run::test_tensors, Budget};
    let budget = if args.quick { Budget::quick() } else { Budget::full() };
    let task = ebm::judge::tasks::MnistTask::load(&args.mnist_dir, args.seed)?;
    let small_digits = ebm::data::mnist::load_digits_csv(&args.digits_csv)?;
    let (test_x, test_y) = test_tensors(&task, &budget);
    let (positives, sets) = ood_benchmark(&test_x, &small_digits, budget.ood_images, args.seed);
    let labels = Vec::<i64>::try_from(test_y.narrow(0, 0, positives.size()[0]))?;
    let text: String = labels.iter().map(|l| format!("{l}\n")).collect();
    ebm::io::write_atomically(&args.out.join("mnist-test-labels.txt"), text.as_bytes())?;
    ebm::io::write_npy(&args.out.join("mnist-test.npy"), &positives)?;
    let mut ood_flags = Vec::new();
    for set in &sets {
        let slug: String = set.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let path = args.out.join(format!("{slug}.npy"));
        ebm::io::write_npy(&path, &set.images)?;
        ood_flags.push(format!("--ood '{}={}'", set.name, path.display()));
    }
    println!(
        "wrote {} positives and {} OOD sets to {}; score them with\n  ebm score --model M --images {} {}",
        positives.size()[0],
        sets.len(),
        args.out.display(),
        args.out.join("mnist-test.npy").display(),
        ood_flags.join(" ")
    );
    Ok(())
}
