//! Files: tensors in safetensors with JSON metadata, written atomically.

pub mod atomic;
pub mod images;
pub mod samples;
pub mod tensors;

pub use atomic::write_atomically;
pub use images::read_images;
pub use samples::{save_samples, write_png_dir};
pub use tensors::{read_tensor_file, write_tensor_file, TensorFile};
