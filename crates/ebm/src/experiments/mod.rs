//! Experiments: long runs that write JSON + Markdown + PNG reports, as
//! library functions returning their results (the command only parses
//! arguments and prints).
pub mod comet;
pub mod composition;
pub mod concept_check;
pub mod continual;
pub mod demo;
pub mod eight_gaussians;
pub mod extrapolation;
pub mod igebm;
pub mod inference;
pub mod inference_shifts;
pub mod samplers;
pub mod shapes;
pub mod stability;
pub mod toy2d;
pub mod trajectories;
pub mod trajectories_pictures;
