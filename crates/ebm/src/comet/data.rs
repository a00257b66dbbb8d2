//! The datasets COMET trains on, with what is known about each image:
//! instance masks (multi-shapes) and generative factors (shapes, sprites).

use crate::data::shapes::{MultiShapes, Shapes};
use crate::data::sprites::Sprites;
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CometData {
    /// Several objects with instance masks (object components).
    MultiShapes,
    /// One object under a light: position, size, shape, colour, light
    /// (global factors).
    Shapes,
    /// dSprites-style: shape, scale, rotation, position (global factors).
    Sprites,
}

crate::named!(CometData, "COMET dataset", [MultiShapes => "multi-shapes", Shapes => "shapes", Sprites => "sprites"]);

/// Ground-truth factors of a batch: names, and values `[n × names.len()]` row-major.
pub struct Factors {
    pub names: Vec<&'static str>,
    pub values: Vec<f64>,
}

impl CometData {
    pub fn channels(self) -> i64 {
        match self {
            CometData::Sprites => 1,
            _ => 3,
        }
    }

    /// Samples start..start+n of the dataset with `seed`, `[n, C, S, S]`.
    pub fn images(self, size: usize, seed: u64, start: u64, n: usize) -> Tensor {
        let pixels = match self {
            CometData::MultiShapes => MultiShapes::new(size, seed).batch(start, n).0,
            CometData::Shapes => Shapes::new(size, seed).batch(start, n).0,
            CometData::Sprites => Sprites::new(size, seed).batch(start, n).0,
        };
        let s = size as i64;
        Tensor::from_slice(&pixels).view([n as i64, self.channels(), s, s])
    }

    /// Instance masks (0 floor, m object) `[n][S·S]`; None where the data has none.
    pub fn instance_masks(self, size: usize, seed: u64, start: u64, n: usize) -> Option<Vec<Vec<u8>>> {
        match self {
            CometData::MultiShapes => Some(
                MultiShapes::new(size, seed)
                    .batch(start, n)
                    .1
                    .iter()
                    .map(|scene| scene.instance_mask(size))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The generative factors of samples start..start+n; None for
    /// multi-shapes (its factors are per object, not per image). Angles are
    /// given as cos and sin so that nearby values stay nearby.
    pub fn factors(self, size: usize, seed: u64, start: u64, n: usize) -> Option<Factors> {
        match self {
            CometData::MultiShapes => None,
            CometData::Shapes => {
                let scenes = Shapes::new(size, seed).batch(start, n).1;
                let names = vec!["x", "y", "size", "shape", "colour", "light", "light cos", "light sin"];
                let values = scenes
                    .iter()
                    .flat_map(|scene| {
                        let (o, l) = (&scene.objects[0], &scene.light);
                        let colour = o.colour.unwrap_or(0) as f64;
                        [o.x, o.y, o.r, o.shape as f64, colour, l.intensity, l.phi.cos(), l.phi.sin()]
                    })
                    .collect();
                Some(Factors { names, values })
            }
            CometData::Sprites => {
                let factors = Sprites::new(size, seed).batch(start, n).1;
                let names = vec!["shape", "scale", "rotation cos", "rotation sin", "x", "y"];
                let values = factors
                    .iter()
                    .flat_map(|f| {
                        // Squares repeat every quarter turn; the angle is as drawn.
                        let angle = f.rotation_value();
                        [f.shape as f64, f.scale_value(), angle.cos(), angle.sin(), f.x_value(), f.y_value()]
                    })
                    .collect();
                Some(Factors { names, values })
            }
        }
    }

    pub fn describe(self, size: usize, seed: u64) -> serde_json::Value {
        serde_json::json!({"dataset": self.name(), "size": size, "seed": seed})
    }
}
