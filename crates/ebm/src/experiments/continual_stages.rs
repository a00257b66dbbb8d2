//! The continual experiment's choices of model for the shape and colour
//! stages, beside the paper's (every stage a CD-trained convolutional model).

use super::shapes::{concept_config, DEFAULT_WIDTHS, IMAGE_SIZE};
use crate::data::shapes_concept::ShapesConcept;
use crate::energy::conv::SpatialPool;
use crate::energy::{Activation, Architecture, ConvConfig, InputView, MlpConfig};
use crate::train::TrainConfig;
use serde::Serialize;

/// The shape stage's model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapeStage {
    /// CD with the label cross-entropy.
    #[default]
    Cd,
    /// A robust shape posterior beside the frozen position model, as the
    /// shipped `models/shapes/shape` (README, "A shape posterior with robust
    /// gradients"): no chain, so [`POSTERIOR_STEPS_PER_CD_STEP`] times the
    /// stage's steps in about the same time. Measured worse here (after
    /// stage 2, shape 0.515 against 0.610; experiments/continual/posterior-shape-stage):
    /// its prior is a 300-step position model of purple squares only.
    Posterior,
}

crate::named!(ShapeStage, "shape stage", [Posterior => "posterior", Cd => "cd"]);

/// A posterior step runs no chain: on 2 threads about 12 a second against
/// about 1 CD step (20 Langevin steps) of the concept recipe.
pub const POSTERIOR_STEPS_PER_CD_STEP: u64 = 10;

/// The guidance scale of the shipped shape posterior, chosen on Table 1's
/// validation rows (models/shapes/README.md); not retuned here.
pub const SHAPE_GUIDANCE_SCALE: f64 = 0.25;

/// The shipped shape posterior's architecture and training settings
/// (models/shapes/README.md) for `steps` steps: cross-entropy on PGD images
/// (ε 0.05, grown over the first sixth), no chain.
pub fn posterior_stage(steps: u64, seed: u64) -> (Architecture, TrainConfig) {
    let architecture = Architecture::Conv(ConvConfig {
        code_dim: ShapesConcept::Shape.schema().code_dim(),
        spectral_norm: false,
        pool: SpatialPool::Max,
        residual_gain: 1.0,
        init_gain: 1.4,
        readout: crate::energy::Readout::Posterior,
        dense_head: 128,
        ..ConvConfig::base(3, IMAGE_SIZE, &DEFAULT_WIDTHS)
    });
    let mut config = concept_config(steps, seed);
    config.checkpoint_every = 0;
    config.label_ce_weight = 1.0;
    config.supervised_warmup = steps;
    config.adam_beta1 = 0.9;
    config.batch_size = 64;
    config.energy_l2 = 0.01;
    config.adversarial_eps = 0.05;
    config.adversarial_ramp = steps / 6;
    (architecture, config)
}

/// The colour stage's model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColourStage {
    /// The concept recipe's convolutional model of the image, as every stage.
    #[default]
    Conv,
    /// An MLP of the object's colour alone ([`InputView::ObjectColour`]): its
    /// energy cannot say where the object is or what shape. Measured worse
    /// (after stage 3, 0.325 / 0.395 / 0.560 against the conv model's 0.385 /
    /// 0.505 / 0.760 on the same threads; experiments/continual/object-colour): CD taught it to fade the
    /// object but for a few pixels of the asked colour, or to paint the edge.
    ObjectColour,
}

crate::named!(ColourStage, "colour stage", [Conv => "conv", ObjectColour => "object-colour"]);

/// Hidden widths of the object-colour model: three numbers in, eight colours
/// out, so a small MLP has room to spare.
pub const OBJECT_COLOUR_HIDDEN: [i64; 2] = [64, 64];

/// The object-colour model: FiLM from the colour code, swish, no spectral
/// norm (the concept recipe's).
pub fn object_colour_architecture() -> Architecture {
    let shape = vec![3, IMAGE_SIZE, IMAGE_SIZE];
    Architecture::Mlp(MlpConfig {
        input_dim: shape.iter().product(),
        hidden: OBJECT_COLOUR_HIDDEN.to_vec(),
        code_dim: ShapesConcept::Color.schema().code_dim(),
        activation: Activation::Swish,
        spectral_norm: false,
        input_shape: shape,
        noise_range: None,
        view: InputView::ObjectColour,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    /// The object-colour model is a valid MLP over `shapes` images with the
    /// colour code, and where an object is does not change its energy.
    #[test]
    fn the_object_colour_model_reads_images_and_not_places() {
        let architecture = object_colour_architecture();
        assert_eq!(architecture.validate(), Ok(()));
        assert_eq!(architecture.input_shape(), vec![3, IMAGE_SIZE, IMAGE_SIZE]);
        let model = architecture.build(Device::Cpu);
        tch::manual_seed(3);
        let x = Tensor::rand([2, 3, IMAGE_SIZE, IMAGE_SIZE], (Kind::Float, Device::Cpu));
        let code = Tensor::eye(8, (Kind::Float, Device::Cpu)).narrow(0, 0, 2);
        let energy = model.energy(&x, Some(&code));
        assert_eq!(energy.size(), vec![2]);
        let moved = model.energy(&x.roll([5i64, 9].as_slice(), [2i64, 3].as_slice()), Some(&code));
        assert!(energy.allclose(&moved, 1e-5, 1e-5, false), "{energy} {moved}");
    }
}
