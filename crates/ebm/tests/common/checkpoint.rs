//! A tiny conditional conv energy and its card, for checkpoint tests.

use ebm::checkpoint::ModelCard;
use ebm::energy::{Architecture, ConceptKind, ConceptSchema, ConvConfig};
use ebm::sample::{InitNoise, LangevinConfig, SamplerDefaults};

/// An 8×8 RGB conv energy (widths 4, 8) conditioned on a three-colour concept.
pub fn conditional_conv() -> (Box<dyn ebm::Network>, ModelCard) {
    let arch = Architecture::Conv(ConvConfig {
        code_dim: 3,
        ..ConvConfig::base(3, 8, &[4, 8])
    });
    let network = arch.build(tch::Device::Cpu);
    let concept = ConceptSchema {
        name: "colour".into(),
        kind: ConceptKind::Categorical {
            categories: vec!["red".into(), "green".into(), "blue".into()],
        },
    };
    let sampler = SamplerDefaults {
        langevin: LangevinConfig {
            step_size: 10.0,
            noise_std: 0.005,
            steps: 20,
            grad_clip: Some(0.01),
            clamp: Some((0.0, 1.0)),
        },
        init: InitNoise::uniform(0.0, 1.0),
        start: ebm::sample::ChainStart::Noise,
    };
    let card = ModelCard::new(arch, Some(concept), serde_json::json!({"dataset": "test"}), sampler);
    (network, card)
}
