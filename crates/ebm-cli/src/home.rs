//! Where the shipped files (models/, judges/, bench/) and the shared data
//! (`../shared/data` beside the repository) are found: one lookup, never the
//! directory the binary was built in, so a copied or installed `ebm` works.

use std::path::{Path, PathBuf};

/// The `--help` paragraph that says where files are looked up.
pub const HELP: &str = "Shipped models, judges and benchmark scripts are looked up in the ebm repository: \
$EBM_HOME if set, else the repository holding the executable (target/release/ebm inside a clone), \
else the repository holding the current directory. Shared data (MNIST, sklearn digits) is \
$EBM_SHARED_DATA if set, else ../shared/data beside that repository.";

/// True for a directory that looks like an ebm repository.
fn is_home(dir: &Path) -> bool {
    dir.join("judges").is_dir() && dir.join("models").is_dir()
}

fn first_home_above(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| is_home(d)).map(Path::to_path_buf)
}

/// The repository: $EBM_HOME, the executable's, or the current directory's.
/// When none is found, the current directory (paths then fail with their
/// own clear "not found" error naming the file).
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("EBM_HOME") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().ok().and_then(|e| e.canonicalize().ok());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    exe.as_deref()
        .and_then(Path::parent)
        .and_then(first_home_above)
        .or_else(|| first_home_above(&cwd))
        .unwrap_or(cwd)
}

/// A shipped file or directory, e.g. `shipped("judges/shapes.safetensors")`.
pub fn shipped(relative: &str) -> PathBuf {
    home().join(relative)
}

/// The shared data directory (MNIST, sklearn digits).
pub fn shared_data() -> PathBuf {
    match std::env::var_os("EBM_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => home().join("../shared/data"),
    }
}
