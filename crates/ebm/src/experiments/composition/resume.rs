//! Resuming Table 1 in pieces: the report is rewritten after every row, and
//! a run with `resume` keeps the rows an earlier run of the same settings
//! finished in the same folder. A row's conditions and chains are seeded by
//! its place in [`Row::ALL`], not in the run, so a row is the same numbers
//! whichever rows run with it.

use super::{Row, RowResult};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The report's name in the output folder.
pub const REPORT_FILE: &str = "composition.json";

/// The seed index of `row`: its place in [`Row::ALL`].
pub fn row_index(row: Row) -> u64 {
    Row::ALL.iter().position(|&r| r == row).unwrap_or(Row::ALL.len()) as u64
}

/// The rows of `out/composition.json` that this run asks for, when that
/// report was made with `settings` (everything but its rows); none when
/// there is no report. A report made otherwise is refused, naming the
/// settings that differ, so rows of two settings never mix.
pub fn finished_rows(out: &Path, settings: &serde_json::Value, rows: &[Row]) -> Result<Vec<RowResult>> {
    let path = out.join(REPORT_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {} to resume", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a composition report; remove it or write elsewhere with -o",
            path.display()
        )
    })?;
    let expected = settings.as_object().context("composition settings are not an object")?;
    let differing: Vec<&str> = expected
        .iter()
        .filter(|(key, value)| report.get(key.as_str()) != Some(*value))
        .map(|(key, _)| key.as_str())
        .collect();
    if !differing.is_empty() {
        bail!(
            "{} was made with other settings ({}); resume with the options it was made with, or write elsewhere with -o",
            path.display(),
            differing.join(", ")
        );
    }
    let done: Vec<RowResult> = serde_json::from_value(report.get("rows").cloned().unwrap_or_default())
        .with_context(|| format!("{}: its rows cannot be read; remove it or write elsewhere with -o", path.display()))?;
    Ok(done.into_iter().filter(|r| rows.iter().any(|row| row.key() == r.key)).collect())
}

/// `results` in the order of `rows`.
pub fn in_row_order(results: &mut [RowResult], rows: &[Row]) {
    results.sort_by_key(|r| rows.iter().position(|row| row.key() == r.key));
}
