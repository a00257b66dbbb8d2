//! Small concept models for composition and parser tests: MLP energies
//! over 2-D points, with a position and a colour schema.

use ebm::compose::ConceptModel;
use ebm::energy::{Activation, Architecture, ConceptKind, ConceptSchema, Energy, MlpConfig, Network};

/// An MLP energy on 2-D points taking a code of `code_dim`, in f64.
pub fn mlp(code_dim: i64, seed: i64) -> Box<dyn Network> {
    tch::manual_seed(seed);
    let mut net = Architecture::Mlp(MlpConfig {
        input_dim: 2,
        hidden: vec![16, 16],
        code_dim,
        activation: Activation::Swish,
        spectral_norm: false,
        input_shape: vec![],
        noise_range: None,
        view: Default::default(),
    })
    .build(tch::Device::Cpu);
    net.var_store_mut().double();
    net
}

pub fn colour() -> ConceptSchema {
    ConceptSchema {
        name: "color".into(),
        kind: ConceptKind::Categorical {
            categories: vec!["red".into(), "green".into(), "blue".into()],
        },
    }
}

pub fn position() -> ConceptSchema {
    ConceptSchema {
        name: "pos".into(),
        kind: ConceptKind::Continuous {
            components: vec!["x".into(), "y".into()],
            range: (0.2, 0.8),
        },
    }
}

/// A position model and a colour model, as an expression sees them.
pub fn concept_models<'a>(pos: &'a dyn Network, col: &'a dyn Network) -> [ConceptModel<'a>; 2] {
    let (pos, col): (&dyn Energy, &dyn Energy) = (pos, col);
    [
        ConceptModel {
            schema: position(),
            energy: pos,
            trained_with: None,
        },
        ConceptModel {
            schema: colour(),
            energy: col,
            trained_with: None,
        },
    ]
}
