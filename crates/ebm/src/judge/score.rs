//! Turning a judge's outputs and intended conditions into the accuracies the
//! papers report.

use super::network::{HeadKind, Judge};
use anyhow::{bail, Result};
use serde::Serialize;
use tch::{Kind, Tensor};

#[derive(Clone, Debug, Serialize)]
pub struct HeadScore {
    pub head: String,
    /// Classes: fraction classified as the condition. Regression: fraction
    /// within the head's tolerance (Euclidean).
    pub accuracy: f64,
    /// Regression only: mean Euclidean error.
    pub mean_error: Option<f64>,
    pub count: usize,
}

/// Scores `images` against `conditions`: (head name, target) with class
/// indices `[N]` (Int64) or values `[N, dims]`. Heads not named are skipped.
pub fn score(judge: &Judge, images: &Tensor, conditions: &[(String, Tensor)]) -> Result<Vec<HeadScore>> {
    let expected = [judge.config.channels, judge.config.size, judge.config.size];
    if images.dim() != 4 || images.size()[1..] != expected {
        bail!(
            "the judge reads images of shape [N, {}, {}, {}], got {:?}",
            expected[0],
            expected[1],
            expected[2],
            images.size()
        );
    }
    let n = images.size()[0];
    // Files may hold u8 or f64 images; the judge computes in f32.
    let images = &images.to_kind(Kind::Float);
    let mut outputs: Vec<Option<Tensor>> = Vec::new();
    for chunk in 0..((n + 255) / 256) {
        let part = images.narrow(0, chunk * 256, 256.min(n - chunk * 256));
        let out = tch::no_grad(|| judge.forward(&part));
        if outputs.is_empty() {
            outputs = out.into_iter().map(Some).collect();
        } else {
            for (acc, o) in outputs.iter_mut().zip(out) {
                *acc = acc.take().map(|a| Tensor::cat(&[a, o], 0));
            }
        }
    }
    let mut scores = Vec::new();
    for (name, target) in conditions {
        let Some(index) = judge.head_index(name) else {
            let names: Vec<&str> = judge.config.heads.iter().map(|h| h.name.as_str()).collect();
            bail!("the judge has no head '{name}'; its heads are {}", names.join(", "));
        };
        let Some(output) = outputs.get(index).and_then(|o| o.as_ref()) else {
            bail!("no images to score")
        };
        check_target(&judge.config.heads[index].kind, name, target, n)?;
        scores.push(score_head(&judge.config.heads[index].kind, name, output, target)?);
    }
    Ok(scores)
}

/// Checks a condition read from a file before it reaches tch (whose
/// shape errors are panics): one row per image, of the head's width, finite;
/// class indices whole and within the head's classes.
fn check_target(kind: &HeadKind, name: &str, target: &Tensor, n: i64) -> Result<()> {
    let rows = target.size().first().copied().unwrap_or(0);
    let (width, expected) = match kind {
        HeadKind::Classes { names } => (1, format!("[{n}] class indices below {}", names.len())),
        HeadKind::Regression { dims, .. } => (*dims, format!("[{n}, {dims}] values")),
    };
    if target.dim() == 0 || rows != n || target.numel() as i64 != n * width {
        bail!(
            "condition '{name}' has shape {:?}; the judge needs {expected}, one row per image",
            target.size()
        );
    }
    let values = target.to_kind(Kind::Double);
    if values.isfinite().all().int64_value(&[]) == 0 {
        bail!("condition '{name}' holds non-finite values");
    }
    if let HeadKind::Classes { names } = kind {
        let classes = names.len();
        let whole = values.eq_tensor(&values.round()).all().int64_value(&[]) == 1;
        let (lo, hi) = (values.min().double_value(&[]), values.max().double_value(&[]));
        if !whole || lo < 0.0 || hi >= classes as f64 {
            bail!("condition '{name}' must hold whole class indices in 0..{classes}, found values in [{lo}, {hi}]");
        }
    }
    Ok(())
}

pub fn score_head(kind: &HeadKind, name: &str, output: &Tensor, target: &Tensor) -> Result<HeadScore> {
    let count = output.size()[0] as usize;
    Ok(match kind {
        HeadKind::Classes { .. } => {
            let correct = output.argmax(-1, false).eq_tensor(&target.to_kind(Kind::Int64).view([-1]));
            HeadScore {
                head: name.into(),
                accuracy: correct.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]),
                mean_error: None,
                count,
            }
        }
        HeadKind::Regression { dims, tolerance } => {
            let target = target.to_kind(Kind::Float).view([-1, *dims]);
            let error = (output - target).square().sum_dim_intlist(-1, false, Kind::Float).sqrt();
            let within = error.le(*tolerance).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
            HeadScore {
                head: name.into(),
                accuracy: within,
                mean_error: Some(error.mean(Kind::Double).double_value(&[])),
                count,
            }
        }
    })
}
