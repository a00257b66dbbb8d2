//! Training metrics, one JSON object per line.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StepMetrics {
    pub step: u64,
    pub e_pos: f64,
    pub e_neg: f64,
    /// E⁻ − E⁺: how much higher the model's samples sit than the data.
    pub gap: f64,
    pub loss: f64,
    pub grad_norm: f64,
    pub step_ms: f64,
    pub step_size: f64,
    pub lr: f64,
}

pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens `path` for appending; with `keep_until`, first drops lines of
    /// steps after it (a resumed run rewrites what it repeats).
    pub fn open(path: &Path, keep_until: Option<u64>) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        if let (Some(last), true) = (keep_until, path.exists()) {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let kept: String = text
                .lines()
                .filter(|line| {
                    serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_some_and(|s| s <= last)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            crate::io::write_atomically(path, kept.as_bytes())?;
        } else if keep_until.is_none() && path.exists() {
            std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
        }
        Ok(Self { path: path.to_path_buf() })
    }

    pub fn write(&self, value: &impl Serialize) -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        writeln!(file, "{}", serde_json::to_string(value)?).with_context(|| format!("cannot write {}", self.path.display()))
    }
}
