//! Bakes the libtorch library directory into every binary, test and example as
//! an rpath, so nothing needs LD_LIBRARY_PATH at run time.
//!
//! `.cargo/config.toml` sets LIBTORCH to the `.libtorch` link that
//! scripts/setup-torch.sh makes; the link is resolved here so the binary keeps
//! working if the clone moves.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Some(dir) = std::env::var_os("LIBTORCH") {
        println!("cargo:rerun-if-changed={}", PathBuf::from(dir).display());
    }
    let Some(libtorch) = std::env::var_os("LIBTORCH").map(PathBuf::from) else {
        return;
    };
    let lib = libtorch.join("lib");
    let resolved = std::fs::canonicalize(&lib).unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", resolved.display());
}
