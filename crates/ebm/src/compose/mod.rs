//! Composition of independently trained energies at sampling time: a logic
//! over concepts (AND, OR, NOT) whose result is itself an [`Energy`], and the
//! expression language that builds one from text.

pub mod algebra;
pub mod expr;
pub mod library;
pub mod marginal;
pub mod mixture;
pub mod resolve;

pub use algebra::Composed;
pub use expr::{parse, Expr, ParseError};
pub use library::{compose, ConceptLibrary, LoadedConcept};
pub use resolve::{resolve, ConceptModel, Settings};
