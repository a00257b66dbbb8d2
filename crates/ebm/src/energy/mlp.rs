//! `MlpEnergy`: an energy over vectors (2-D toys, trajectories).

use super::layers::{require_code, Activation, Dense, Film};
use super::network::{Architecture, Network};
use super::view::InputView;
use super::Energy;
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Tensor};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    pub input_dim: i64,
    /// Widths of the hidden layers.
    pub hidden: Vec<i64>,
    /// Width of the conditioning code; 0 for an unconditional energy.
    #[serde(default)]
    pub code_dim: i64,
    pub activation: Activation,
    pub spectral_norm: bool,
    /// Shape of one input when it is not a flat vector (e.g. `[1, 28, 28]`
    /// for MNIST images, as IGEBM's split-MNIST model is an MLP); inputs are
    /// flattened to `input_dim`. Empty means `[input_dim]`.
    #[serde(default)]
    pub input_shape: Vec<i64>,
    /// The noise levels [σ_min, σ_max] of denoising score matching, when the
    /// energy was trained so. The network does not read σ: one energy for
    /// every level, which suits a narrow range around sharply concentrated
    /// data (transitions of deterministic dynamics). Absent from cards of
    /// CD-trained energies, which keep their checksums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_range: Option<(f64, f64)>,
    /// What the first layer reads of an image input (`input_shape` `[C, H, W]`):
    /// the input, or a view of it (e.g. the object's colour alone). Not
    /// written when the input itself, so older cards read back unchanged.
    #[serde(default, skip_serializing_if = "InputView::is_rgb")]
    pub view: InputView,
}

impl MlpConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.input_dim < 1 {
            return Err(format!("input_dim must be ≥ 1, got {}", self.input_dim));
        }
        if self.hidden.is_empty() || self.hidden.iter().any(|&w| w < 1) {
            return Err(format!(
                "hidden widths must be a non-empty list of positive numbers, got {:?}",
                self.hidden
            ));
        }
        if self.code_dim < 0 {
            return Err(format!("code_dim must be ≥ 0, got {}", self.code_dim));
        }
        if let Some((lo, hi)) = self.noise_range {
            if !(lo > 0.0 && lo < hi && hi.is_finite()) {
                return Err(format!("noise_range must be 0 < lo < hi, got ({lo}, {hi})"));
            }
        }
        if !self.input_shape.is_empty() && self.input_shape.iter().product::<i64>() != self.input_dim {
            return Err(format!(
                "input_shape {:?} does not hold input_dim = {} numbers",
                self.input_shape, self.input_dim
            ));
        }
        if !self.view.is_rgb() && self.input_shape.len() != 3 {
            return Err(format!(
                "the {} view reads images: set input_shape to [C, H, W], got {:?}",
                crate::names::Named::name(self.view),
                self.input_shape
            ));
        }
        Ok(())
    }

    /// Width of what the first layer reads.
    fn read_dim(&self) -> i64 {
        match self.view {
            InputView::Rgb => self.input_dim,
            view => view.output_dim(&self.input_shape),
        }
    }
}

struct Hidden {
    dense: Dense,
    film: Option<Film>,
}

pub struct MlpEnergy {
    config: MlpConfig,
    vs: VarStore,
    hidden: Vec<Hidden>,
    head: Dense,
}

impl MlpEnergy {
    pub fn new(config: MlpConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let mut width = config.read_dim();
        let mut hidden = Vec::new();
        for (i, &w) in config.hidden.iter().enumerate() {
            let path = &root / format!("hidden{i}");
            let dense = Dense::new(&path, width, w, config.spectral_norm, 1.0);
            let film = (config.code_dim > 0).then(|| Film::new(&(&path / "film"), config.code_dim, w, config.spectral_norm));
            hidden.push(Hidden { dense, film });
            width = w;
        }
        // The head stays unnormalised: it sets the energy's overall scale.
        let head = Dense::new(&(&root / "head"), width, 1, false, 1.0);
        Self { config, vs, hidden, head }
    }
}

impl Energy for MlpEnergy {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let kind = self.head.bias.kind();
        let code = require_code(code, self.config.code_dim).map(|c| c.to_kind(kind));
        let mut h = match self.config.view {
            InputView::Rgb => x.to_kind(kind),
            view => {
                let shape: Vec<i64> = [&[-1][..], &self.config.input_shape].concat();
                view.apply(&x.to_kind(kind).reshape(shape.as_slice()))
            }
        }
        .flatten(1, -1);
        for layer in &self.hidden {
            h = layer.dense.forward(&h);
            if let (Some(film), Some(code)) = (&layer.film, &code) {
                h = film.forward(&h, code);
            }
            h = self.config.activation.apply(&h);
        }
        self.head.forward(&h).squeeze_dim(-1).to_kind(x.kind())
    }

    fn noise_range(&self) -> Option<(f64, f64)> {
        self.config.noise_range
    }
}

impl Network for MlpEnergy {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn architecture(&self) -> Architecture {
        Architecture::Mlp(self.config.clone())
    }
    fn power_iteration(&self) {
        for layer in &self.hidden {
            layer.dense.weight.power_iteration();
            if let Some(film) = &layer.film {
                film.power_iteration();
            }
        }
    }
}
