//! `ebm data preview`: labelled grids of the datasets.

use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use ebm::data::shapes::{Corner, MultiShapes, Scene, Shapes, ShapesFilter, COLOUR_NAMES, SHAPE_NAMES};
use std::path::PathBuf;

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub what: DataWhat,
}

#[derive(Subcommand)]
pub enum DataWhat {
    /// Write a labelled grid of examples.
    Preview(PreviewArgs),
    /// Write `shapes` scenes with their labels (safetensors or a PNG directory).
    Export(crate::data_export::ExportArgs),
    /// Write the OOD benchmark of `ebm experiment igebm-mnist` (MNIST test positives and each OOD set) as .npy.
    MnistOod(crate::data_export::MnistOodArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DataSet {
    Shapes,
    MultiShapes,
    Sprites,
    /// The MNIST test split (from --mnist-dir).
    Mnist,
}

#[derive(Args)]
pub struct PreviewArgs {
    #[arg(value_enum)]
    pub set: DataSet,
    #[arg(short, long)]
    pub out: PathBuf,
    #[arg(short, default_value_t = 36)]
    pub n: usize,
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub filter: ShapesFilterArgs,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value_os_t = crate::judge::default_mnist_dir())]
    pub mnist_dir: PathBuf,
}

/// Filters of `shapes` (each narrows the spec's distribution).
#[derive(Args, Default)]
pub struct ShapesFilterArgs {
    /// Colours allowed, by name or index (e.g. red,blue).
    #[arg(long, value_delimiter = ',')]
    pub colour: Vec<String>,
    /// Shapes allowed, by name or index (square, circle, triangle).
    #[arg(long, value_delimiter = ',')]
    pub shape: Vec<String>,
    /// Centre x range lo,hi within [0.2, 0.8].
    #[arg(long, value_delimiter = ',')]
    pub x: Vec<f64>,
    /// Centre y range lo,hi within [0.2, 0.8] (v grows downwards).
    #[arg(long, value_delimiter = ',')]
    pub y: Vec<f64>,
    /// Half-size range lo,hi within [0.10, 0.18].
    #[arg(long, value_delimiter = ',')]
    pub size_range: Vec<f64>,
    /// Only positions in this corner square of the position square…
    #[arg(long, value_enum)]
    pub corner: Option<Corner>,
    /// …holding this fraction of its area.
    #[arg(long, default_value_t = 0.1)]
    pub fraction: f64,
    /// Grey clutter objects behind the object: N or LO-HI.
    #[arg(long, default_value = "0")]
    pub clutter: String,
}

fn lookup(kind: &str, given: &[String], names: &[&str]) -> Result<Vec<usize>> {
    given
        .iter()
        .map(|g| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(g))
                .or_else(|| g.parse::<usize>().ok().filter(|&i| i < names.len()))
                .ok_or_else(|| anyhow::anyhow!("unknown {kind} '{g}'; choose from {} (or 0..{})", names.join(", "), names.len() - 1))
        })
        .collect()
}

impl ShapesFilterArgs {
    pub fn to_shapes(&self, size: usize, seed: u64) -> Result<Shapes> {
        let mut filter = match self.corner {
            Some(corner) => ShapesFilter::default().corner(corner, self.fraction),
            None => ShapesFilter::default(),
        };
        if !self.colour.is_empty() {
            filter.colours = lookup("colour", &self.colour, &COLOUR_NAMES)?;
        }
        if !self.shape.is_empty() {
            filter.shapes = lookup("shape", &self.shape, &SHAPE_NAMES)?;
        }
        let pair = |flag: &str, v: &[f64], default: (f64, f64)| match v {
            [] => Ok(default),
            [lo, hi] => Ok((*lo, *hi)),
            _ => Err(anyhow::anyhow!("--{flag} takes two numbers lo,hi; got {} value(s)", v.len())),
        };
        filter.x = pair("x", &self.x, filter.x)?;
        filter.y = pair("y", &self.y, filter.y)?;
        filter.r = pair("size-range", &self.size_range, filter.r)?;
        filter.validate()?;
        let clutter = match self.clutter.split_once('-') {
            Some((lo, hi)) => (lo.trim().parse()?, hi.trim().parse()?),
            None => {
                let n = self
                    .clutter
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--clutter takes N or LO-HI, got '{}'", self.clutter))?;
                (n, n)
            }
        };
        if clutter.0 > clutter.1 {
            bail!("--clutter {}: low above high", self.clutter);
        }
        Ok(Shapes {
            size,
            seed,
            filter,
            clutter,
        })
    }
}

fn caption(scene: &Scene) -> String {
    let o = scene.objects.last().expect("scene has an object");
    let colour = o.colour.map_or("grey", |c| COLOUR_NAMES[c]);
    format!("{} {}", colour, &SHAPE_NAMES[o.shape][..3])
}

pub fn run(args: DataArgs) -> Result<()> {
    let args = match args.what {
        DataWhat::Preview(args) => args,
        DataWhat::Export(args) => return crate::data_export::run(args),
        DataWhat::MnistOod(args) => return crate::data_export::run_mnist_ood(args),
    };
    if args.n == 0 || !(8..=256).contains(&args.size) {
        bail!("need -n ≥ 1 and --size in 8..=256");
    }
    let (pixels, channels, size, captions) = match args.set {
        DataSet::Shapes | DataSet::MultiShapes => {
            let (pixels, scenes) = match args.set {
                DataSet::Shapes => args.filter.to_shapes(args.size, args.seed)?.batch(0, args.n),
                _ => MultiShapes::new(args.size, args.seed).batch(0, args.n),
            };
            let captions: Vec<String> = match args.set {
                DataSet::Shapes => scenes.iter().map(caption).collect(),
                _ => scenes.iter().map(|s| format!("{} objects", s.objects.len())).collect(),
            };
            (pixels, 3, args.size, captions)
        }
        DataSet::Sprites => {
            let (pixels, factors) = ebm::data::sprites::Sprites::new(args.size, args.seed).batch(0, args.n);
            let captions = factors
                .iter()
                .map(|f| format!("{} {:.1}", ebm::data::sprites::SHAPES[f.shape], f.scale_value()))
                .collect();
            (pixels, 1, args.size, captions)
        }
        DataSet::Mnist => {
            let set = ebm::data::mnist::load_mnist(&args.mnist_dir, ebm::data::mnist::Split::Test)?;
            let n = args.n.min(set.len());
            let pixels = set.images[..n * set.rows * set.cols].to_vec();
            (pixels, 1, set.rows, set.labels[..n].iter().map(|l| format!("digit {l}")).collect())
        }
    };
    let n = captions.len();
    let cols = (n as f64).sqrt().ceil() as usize;
    let scale = (96 / size).max(1) as u32;
    ebm::viz::image_grid(
        &args.out,
        &pixels,
        n,
        channels,
        size,
        size,
        cols,
        Some(&captions),
        Some("ebm data preview"),
        scale,
    )?;
    println!("wrote {}", args.out.display());
    Ok(())
}
