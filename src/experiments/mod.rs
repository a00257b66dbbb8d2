//! Experiments: long runs that write JSON + Markdown + PNG reports.
pub mod composition;
pub mod igebm;
pub mod shapes;
pub mod toy2d;
