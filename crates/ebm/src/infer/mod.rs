//! Concept inference: the code c* = argmin_c Σᵢ E(xᵢ | c) of a model, found
//! over a set of candidate codes (all categories of a categorical concept, a
//! dense grid over a continuous one's range); and scoring image sets
//! (classification and OOD detection on a user's own data).

pub mod candidates;
pub mod concept;
pub mod denoising_error;
pub mod offsets;
pub mod score;

pub use candidates::{candidate_codes, infer_codes, Candidates};
pub use concept::{infer_concept, write_energy_maps, InferConfig, Inference};
pub use denoising_error::{DenoisingError, DenoisingErrorConfig};
pub use offsets::{fit_code_calibration, fit_code_offsets, offset_argmin, CodeCalibration};
pub use score::{score_sets, ScoreInputs, ScoreReport};
