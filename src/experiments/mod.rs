//! Experiments: long runs that write JSON + Markdown + PNG reports.
pub mod toy2d;
