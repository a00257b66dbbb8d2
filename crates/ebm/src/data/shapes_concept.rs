//! `shapes` as training data for one concept model: images paired with the
//! code of a single factor (position, colour, shape or size), so each concept
//! is learned alone and composed with the others only at sampling time.

use super::shapes::{Scene, Shapes, ShapesFilter, COLOUR_NAMES, POSITION_RANGE, SHAPE_NAMES, SIZE_RANGE};
use super::{Batch, DataSource};
use crate::energy::{ConceptKind, ConceptSchema};
use crate::sample::{ChainStart, InitNoise};
use tch::Tensor;

/// A factor of `shapes`, under the name expressions use for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapesConcept {
    /// Object centre (x, y), continuous.
    Pos,
    /// One of the 8 colours.
    Color,
    /// Square, circle or triangle.
    Shape,
    /// Half-size r, continuous.
    Size,
}

crate::named!(ShapesConcept, "concept", [Pos => "pos" | "position", Color => "color" | "colour", Shape => "shape", Size => "size"]);

impl ShapesConcept {
    pub const ALL: [ShapesConcept; 4] = [Self::Pos, Self::Color, Self::Shape, Self::Size];

    pub fn schema(self) -> ConceptSchema {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        let kind = match self {
            Self::Pos => ConceptKind::Continuous {
                components: names(&["x", "y"]),
                range: POSITION_RANGE,
            },
            Self::Size => ConceptKind::Continuous {
                components: names(&["r"]),
                range: SIZE_RANGE,
            },
            Self::Color => ConceptKind::Categorical {
                categories: names(&COLOUR_NAMES),
            },
            Self::Shape => ConceptKind::Categorical {
                categories: names(&SHAPE_NAMES),
            },
        };
        ConceptSchema {
            name: self.name().into(),
            kind,
        }
    }
}

/// `shapes` images with the codes of one concept.
pub struct ShapesConceptData {
    pub shapes: Shapes,
    pub concept: ShapesConcept,
    pub start: ChainStart,
    schema: ConceptSchema,
}

/// `n` random scenes of the full `shapes` distribution (any colour, shape,
/// position, size), from their own stream, or with `empty` only their lit
/// floors: where chains start when a model edits scenes rather than
/// painting from noise.
pub fn random_scenes(size: usize, seed: u64, start: u64, n: usize, empty: bool) -> Tensor {
    let shapes = Shapes::new(size, crate::seed::derive(seed, &[crate::seed::streams::CHAIN_START]));
    let pixels = if empty {
        let scenes: Vec<Scene> = (0..n as u64)
            .map(|i| Scene {
                objects: Vec::new(),
                ..shapes.scene(start + i)
            })
            .collect();
        scenes.iter().flat_map(|s| s.render(size)).collect()
    } else {
        shapes.batch(start, n).0
    };
    let s = size as i64;
    Tensor::from_slice(&pixels).reshape([n as i64, 3, s, s])
}

impl ShapesConceptData {
    pub fn new(concept: ShapesConcept, size: usize, seed: u64, filter: ShapesFilter, start: ChainStart) -> anyhow::Result<Self> {
        filter.validate()?;
        let mut shapes = Shapes::new(size, seed);
        shapes.filter = filter;
        Ok(Self {
            shapes,
            concept,
            start,
            schema: concept.schema(),
        })
    }
}

impl ShapesConceptData {
    /// The codes `[n, C]` of this concept for the labelled object of each scene.
    fn codes_of(&self, scenes: &[Scene]) -> Tensor {
        let dim = self.schema.code_dim() as usize;
        let mut code = Vec::with_capacity(scenes.len() * dim);
        for scene in scenes {
            let object = scene.objects.last().expect("a shapes scene has its object");
            let mut one_hot = |index: usize| (0..dim).for_each(|k| code.push(if k == index { 1.0 } else { 0.0 }));
            match self.concept {
                ShapesConcept::Pos => code.extend(self.schema.encode(&[object.x, object.y])),
                ShapesConcept::Size => code.extend(self.schema.encode(&[object.r])),
                ShapesConcept::Color => one_hot(object.colour.expect("the labelled object has a colour")),
                ShapesConcept::Shape => one_hot(object.shape),
            }
        }
        Tensor::from_slice(&code).reshape([scenes.len() as i64, dim as i64])
    }

    /// Batch number `step`'s images `[n, 3, S, S]` and scenes.
    fn scenes(&self, step: u64, batch_size: usize) -> (Tensor, Vec<Scene>) {
        let (pixels, scenes) = self.shapes.batch(step * batch_size as u64, batch_size);
        let s = self.shapes.size as i64;
        (Tensor::from_slice(&pixels).reshape([batch_size as i64, 3, s, s]), scenes)
    }
}

impl DataSource for ShapesConceptData {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        let (x, scenes) = self.scenes(step, batch_size);
        Batch {
            x,
            code: Some(self.codes_of(&scenes)),
        }
    }

    fn example_shape(&self) -> Vec<i64> {
        let s = self.shapes.size as i64;
        vec![3, s, s]
    }

    fn concept(&self) -> Option<ConceptSchema> {
        Some(self.schema.clone())
    }

    fn init_noise(&self) -> InitNoise {
        InitNoise::uniform(0.0, 1.0)
    }

    fn chain_start(&self) -> ChainStart {
        self.start
    }

    fn fresh_chains(&self, step: u64, n: usize) -> Tensor {
        match self.start {
            ChainStart::Noise => self
                .init_noise()
                .sample(&[n as i64, 3, self.shapes.size as i64, self.shapes.size as i64]),
            ChainStart::Data => random_scenes(self.shapes.size, self.shapes.seed, step * n as u64, n, false),
            ChainStart::Background => random_scenes(self.shapes.size, self.shapes.seed, step * n as u64, n, true),
        }
    }

    fn extra_object_negatives(&self, step: u64, batch_size: usize) -> Option<Tensor> {
        let (pixels, _) = self.shapes.batch_with_extra_object(step * batch_size as u64, batch_size);
        let s = self.shapes.size as i64;
        Some(Tensor::from_slice(&pixels).reshape([batch_size as i64, 3, s, s]))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "dataset": "shapes",
            "concept": self.concept.name(),
            "size": self.shapes.size,
            "seed": self.shapes.seed,
            "filter": self.shapes.filter,
        })
    }
}

/// `shapes` images with several concepts' codes side by side (in the order
/// given): one joint conditional model of all of them, the baseline that
/// composition is measured against (continual learning, extrapolation).
/// With several filters the scenes are their union: each batch splits evenly
/// between the filtered sets (the first takes any remainder).
pub struct ShapesJointData {
    /// One group per filter; a group's parts share its scenes.
    groups: Vec<Vec<ShapesConceptData>>,
}

impl ShapesJointData {
    pub fn new(concepts: &[ShapesConcept], size: usize, seed: u64, filter: ShapesFilter, start: ChainStart) -> anyhow::Result<Self> {
        Self::union(concepts, size, seed, &[filter], start)
    }

    /// The union of `filters`' scenes. The first set draws from `seed` (so
    /// one filter is exactly [`Self::new`]), later ones from streams of it.
    pub fn union(concepts: &[ShapesConcept], size: usize, seed: u64, filters: &[ShapesFilter], start: ChainStart) -> anyhow::Result<Self> {
        if concepts.is_empty() {
            anyhow::bail!("a joint model needs at least one concept");
        }
        if filters.is_empty() {
            anyhow::bail!("a union of filtered datasets needs at least one filter");
        }
        let groups = filters
            .iter()
            .enumerate()
            .map(|(k, filter)| {
                let seed = match k {
                    0 => seed,
                    _ => crate::seed::derive(seed, &[crate::seed::streams::UNION_PART, k as u64]),
                };
                concepts
                    .iter()
                    .map(|&c| ShapesConceptData::new(c, size, seed, filter.clone(), start))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { groups })
    }

    fn first(&self) -> &ShapesConceptData {
        &self.groups[0][0]
    }
}

impl DataSource for ShapesJointData {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        let k = self.groups.len();
        let (mut xs, mut codes) = (Vec::new(), Vec::new());
        for (g, parts) in self.groups.iter().enumerate() {
            let n = batch_size / k + if g == 0 { batch_size % k } else { 0 };
            if n == 0 {
                continue;
            }
            // Every part of a group has the same scenes (same seed and filter): render once.
            let (x, scenes) = parts[0].scenes(step, n);
            xs.push(x);
            let group: Vec<Tensor> = parts.iter().map(|p| p.codes_of(&scenes)).collect();
            codes.push(Tensor::cat(&group, 1));
        }
        Batch {
            x: Tensor::cat(&xs, 0),
            code: Some(Tensor::cat(&codes, 0)),
        }
    }

    fn example_shape(&self) -> Vec<i64> {
        self.first().example_shape()
    }

    fn code_dim(&self) -> i64 {
        self.groups[0].iter().map(|p| p.schema.code_dim()).sum()
    }

    fn init_noise(&self) -> InitNoise {
        self.first().init_noise()
    }

    fn chain_start(&self) -> ChainStart {
        self.first().start
    }

    fn fresh_chains(&self, step: u64, n: usize) -> Tensor {
        self.first().fresh_chains(step, n)
    }

    fn describe(&self) -> serde_json::Value {
        let concepts: Vec<&str> = self.groups[0].iter().map(|p| p.concept.name()).collect();
        let filters: Vec<&ShapesFilter> = self.groups.iter().map(|g| &g[0].shapes.filter).collect();
        let mut described = serde_json::json!({
            "dataset": "shapes",
            "joint": concepts,
            "size": self.first().shapes.size,
            "seed": self.first().shapes.seed,
            "filter": filters[0],
        });
        if filters.len() > 1 {
            described["union_of_filters"] = serde_json::json!(filters);
        }
        described
    }
}
