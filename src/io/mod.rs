//! Files: tensors in safetensors with JSON metadata, written atomically.

pub mod atomic;
pub mod tensors;

pub use atomic::write_atomically;
pub use tensors::{read_tensor_file, write_tensor_file, TensorFile};
