//! COMET's configuration: one documented base ([`CometConfig::objects`]) and
//! recipes as differences from it.

use serde::{Deserialize, Serialize};

/// How the encoder turns an image into K latents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderKind {
    /// Convolutions → global mean pool → K·latent numbers (the published
    /// code's encoder for global factors).
    Global,
    /// Slot attention over the feature map (Locatello et al. 2020): K slots
    /// compete for pixels, so each latent describes one region. Replaces the
    /// paper's LSTM with spatial attention; both make components local.
    Slots,
}

crate::named!(EncoderKind, "encoder", [Global => "global", Slots => "slots"]);

/// What each component's energy E(x; zₖ) is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnergyKind {
    /// A convolutional network of x with FiLM from zₖ (the published code's
    /// energy). Cards written before this choice existed read as this.
    #[default]
    Network,
    /// Gaussian experts ([`super::experts`]): zₖ draws a precision and a
    /// colour per pixel; the components compete for pixels.
    Experts,
}

crate::named!(EnergyKind, "energy", [Network => "network", Experts => "experts"]);

/// Where slot attention's slots start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlotStart {
    /// One learned vector per slot: encoding is deterministic, but slot k
    /// tends to claim the same region in every image. Cards written before
    /// this choice existed read as this.
    #[default]
    Learned,
    /// Every slot drawn from one learned Gaussian (Locatello et al.): slots
    /// are interchangeable, so they bind to what is in the image, not to
    /// where. Draws from libtorch's generator: seed it for repeatable codes.
    Sampled,
}

crate::named!(SlotStart, "slot start", [Learned => "learned", Sampled => "sampled"]);

/// How far training back-propagates through the reconstruction descent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unroll {
    /// The published code: the image is detached before every step, so the
    /// gradient passes through one step at a time (still second order:
    /// ∇θ of ∇ₓE). Memory does not grow with the step count.
    Truncated,
    /// Through every step: the exact gradient of the loss.
    Full,
}

crate::named!(Unroll, "unroll", [Truncated => "truncated", Full => "full"]);

/// Which descent iterates the loss compares with the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReconstructionLoss {
    /// ‖x_N − x‖² only (the published code).
    Final,
    /// Σₙ ‖xⁿ − x‖² (the paper's equation).
    AllSteps,
}

crate::named!(ReconstructionLoss, "reconstruction loss", [Final => "final", AllSteps => "all-steps"]);

/// The reconstruction x̂ = N steps of xⁿ = clamp(xⁿ⁻¹ − λ∇ₓΣₖE(xⁿ⁻¹; zₖ), 0, 1)
/// from uniform noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DescentConfig {
    /// N.
    pub steps: usize,
    /// λ. Energies are means over the image, so gradients are small per pixel.
    pub step_size: f64,
    pub unroll: Unroll,
    pub loss: ReconstructionLoss,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CometConfig {
    pub channels: i64,
    pub size: i64,
    /// K: components per image.
    pub components: i64,
    /// Width of each component's latent zₖ.
    pub latent: i64,
    pub encoder: EncoderKind,
    /// Channels of the encoder's convolutions.
    pub encoder_width: i64,
    /// Slot-attention rounds (slots encoder only).
    pub slot_iterations: usize,
    /// Where the slots start (slots encoder only).
    #[serde(default)]
    pub slot_start: SlotStart,
    /// What a component's energy is.
    #[serde(default)]
    pub energy: EnergyKind,
    /// Channels of the energy network.
    pub energy_width: i64,
    /// FiLM residual blocks of the energy network (network: each at half
    /// the resolution of the one before, from S/2; experts: all at full
    /// resolution).
    pub energy_blocks: usize,
    /// Feed pixel coordinates to the network energy: lets a component's
    /// energy depend on where things are, which biases components towards
    /// objects. (Expert fields are drawn over coordinates always.)
    pub coordinates: bool,
    /// Octaves L of sine features the expert fields read beside the
    /// coordinates: sin and cos of 2ˡπ·u and 2ˡπ·v for l < L (Fourier
    /// features, Tancik et al. 2020). Without them a field is a smooth
    /// function of place, and its precision a rounded blob. Cards written
    /// before this field existed read as 0.
    #[serde(default)]
    pub field_octaves: usize,
    pub descent: DescentConfig,
}

impl CometConfig {
    /// The base: objects in 3×32×32 scenes (multi-shapes), K = 5 slots of
    /// latent 16 (the published CLEVR setting: 5 components, latent 16,
    /// 5 descent steps, coordinate channels), one detached step at a time.
    /// Gaussian-expert energies and sampled slots: on validation scenes
    /// their components are objects, where the published network energy's
    /// split the image by colour and learned slots by region
    /// (models/comet/README.md). Global keeps the network energy.
    pub fn objects() -> Self {
        Self {
            channels: 3,
            size: 32,
            components: 5,
            latent: 16,
            encoder: EncoderKind::Slots,
            encoder_width: 32,
            slot_iterations: 3,
            slot_start: SlotStart::Sampled,
            energy: EnergyKind::Experts,
            energy_width: 32,
            energy_blocks: 2,
            coordinates: true,
            field_octaves: 0,
            descent: DescentConfig {
                steps: 5,
                step_size: 200.0,
                unroll: Unroll::Truncated,
                loss: ReconstructionLoss::Final,
            },
        }
    }

    /// Global factors (shapes, sprites): the base with a convolutional
    /// encoder, the published network energy and 2 components of latent 32
    /// (the published default is 2 of 64 at 64 px; our scenes are 32 px
    /// with ≤ 7 factors).
    pub fn global() -> Self {
        Self {
            components: 2,
            latent: 32,
            encoder: EncoderKind::Global,
            slot_start: SlotStart::Learned,
            energy: EnergyKind::Network,
            ..Self::objects()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("channels", self.channels),
            ("size", self.size),
            ("components", self.components),
            ("latent", self.latent),
            ("encoder width", self.encoder_width),
            ("energy width", self.energy_width),
        ];
        if let Some((name, value)) = positive.iter().find(|(_, v)| *v < 1) {
            return Err(format!("{name} must be at least 1, got {value}"));
        }
        if self.size % 8 != 0 {
            return Err(format!(
                "the image size must be a multiple of 8 (the encoder halves it three times), got {}",
                self.size
            ));
        }
        if self.energy_blocks < 1 || self.size >> self.energy_blocks < 1 {
            return Err(format!(
                "energy blocks must be between 1 and log2(size), got {}",
                self.energy_blocks
            ));
        }
        if self.field_octaves > 0 && self.energy != EnergyKind::Experts {
            return Err("field octaves shape Gaussian-expert fields: use them with the experts energy".into());
        }
        if self.field_octaves > 6 {
            return Err(format!(
                "field octaves above 6 are finer than a pixel at 32 px, got {}",
                self.field_octaves
            ));
        }
        if self.descent.steps < 1 {
            return Err("the reconstruction needs at least 1 descent step".into());
        }
        if !(self.descent.step_size.is_finite() && self.descent.step_size > 0.0) {
            return Err(format!("the descent step size must be positive, got {}", self.descent.step_size));
        }
        if self.encoder == EncoderKind::Slots && self.slot_iterations < 1 {
            return Err("slot attention needs at least 1 iteration".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both bases are valid; place features are refused beyond a pixel's
    /// scale and on the network energy, which does not read them.
    #[test]
    fn field_octaves_are_checked() {
        assert_eq!(CometConfig::objects().validate(), Ok(()));
        assert_eq!(CometConfig::global().validate(), Ok(()));
        let fine = CometConfig {
            field_octaves: 7,
            ..CometConfig::objects()
        };
        assert!(fine.validate().unwrap_err().contains("finer than a pixel"));
        let network = CometConfig {
            field_octaves: 2,
            ..CometConfig::global()
        };
        assert!(network.validate().unwrap_err().contains("experts"));
    }
}
