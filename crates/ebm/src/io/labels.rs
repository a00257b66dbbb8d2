//! Class labels a user brings beside their images: an IDX label file (gzip or
//! plain), a 1-D integer `.npy`, or text with one label per line (an index
//! or a category name). Every rejection names the file and why.

use anyhow::{bail, Context, Result};
use std::path::Path;
use tch::Kind;

/// Reads labels as category indices into `categories`, checking each is one.
pub fn read_labels(path: &Path, categories: &[String]) -> Result<Vec<i64>> {
    let labels = read_any(path, categories).with_context(|| format!("cannot read labels from {}", path.display()))?;
    if labels.is_empty() {
        bail!("{}: no labels in the file", path.display());
    }
    if let Some((i, bad)) = labels.iter().enumerate().find(|(_, &l)| l < 0 || l >= categories.len() as i64) {
        bail!(
            "{}: label {bad} (entry {i}) is not a category of the model, whose categories are 0..{} ({})",
            path.display(),
            categories.len().saturating_sub(1),
            categories.join(", ")
        );
    }
    Ok(labels)
}

fn read_any(path: &Path, categories: &[String]) -> Result<Vec<i64>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    if name.ends_with(".npy") {
        let t = super::npy::parse_npy(&std::fs::read(path)?)?;
        if t.dim() != 1 {
            bail!("labels must be a 1-D array, got shape {:?}", t.size());
        }
        if !matches!(t.kind(), Kind::Uint8 | Kind::Int | Kind::Int64) {
            bail!("labels must be integers (uint8, int32 or int64), got {:?}", t.kind());
        }
        Ok(Vec::<i64>::try_from(t.to_kind(Kind::Int64))?)
    } else if name.contains("idx") || name.ends_with(".gz") {
        Ok(crate::data::mnist::read_idx_labels(path)?.into_iter().map(i64::from).collect())
    } else {
        let text = std::fs::read_to_string(path).context("not UTF-8 text (give IDX, .npy or one label per line)")?;
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| match (l.parse::<i64>(), categories.iter().position(|c| c == l)) {
                (Ok(index), _) => Ok(index),
                (_, Some(index)) => Ok(index as i64),
                _ => bail!(
                    "line {}: '{l}' is neither an index nor a category ({})",
                    i + 1,
                    categories.join(", ")
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_labels_take_indices_or_names_and_out_of_range_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let categories: Vec<String> = ["cat", "dog"].map(String::from).to_vec();
        let path = dir.path().join("labels.txt");
        std::fs::write(&path, "1\ncat\n\ndog\n").unwrap();
        assert_eq!(read_labels(&path, &categories).unwrap(), [1, 0, 1]);
        std::fs::write(&path, "0\n2\n").unwrap();
        let error = read_labels(&path, &categories).unwrap_err().to_string();
        assert!(error.contains("label 2 (entry 1)") && error.contains("labels.txt"), "{error}");
        std::fs::write(&path, "cow\n").unwrap();
        assert!(format!("{:#}", read_labels(&path, &categories).unwrap_err()).contains("'cow' is neither"));
    }
}
