//! Files: tensors in safetensors with JSON metadata, written atomically;
//! images, labels and `.npy` arrays a user brings.

pub mod atomic;
pub mod images;
pub mod labels;
pub mod npy;
pub mod samples;
pub mod tensors;

pub use atomic::write_atomically;
pub use images::read_images;
pub use labels::read_labels;
pub use npy::{parse_npy, write_npy};
pub use samples::{save_samples, write_png_dir};
pub use tensors::{read_tensor_file, write_tensor_file, TensorFile};
