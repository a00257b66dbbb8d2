//! Atomic file writes: write a temporary file beside the target, flush it to
//! disk, then rename it over the target, so a crash leaves either the old file
//! or the new one, never half of one.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| -> Result<()> {
        let mut file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let untouched = || format!("{} is left as it was", path.display());
        file.write_all(bytes).with_context(|| {
            format!(
                "cannot write {} (is the disk full, or a file-size limit set?); {}",
                tmp.display(),
                untouched()
            )
        })?;
        file.sync_all()
            .with_context(|| format!("cannot flush {} to disk; {}", tmp.display(), untouched()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
