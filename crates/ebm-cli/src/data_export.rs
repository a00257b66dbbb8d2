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
