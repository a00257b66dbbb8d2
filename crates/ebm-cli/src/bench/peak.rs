//! `ebm bench peak`: the practical peak of this machine — the best GFLOP/s
//! libtorch reaches on large matmuls and 3×3 convolutions, per precision and
//! (for convolutions) layout — so every other bench line can say what
//! fraction of the machine it uses.

use anyhow::Result;
use ebm::energy::compute::{channels_last, Compute, MatrixUnits, Precision};
use serde::Serialize;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(Serialize, Clone, Debug)]
pub struct PeakRow {
    /// `matmul` or `conv3x3`.
    pub op: String,
    /// `fp32-nchw`, `bf16-nhwc`, … (matmuls: layout not applicable, `-`).
    pub compute: String,
    /// The shape that reached the best rate.
    pub shape: String,
    pub gflops: f64,
}

/// Seconds per call of `f`, best of repeated timings of at least `budget` s.
fn best_seconds(f: &dyn Fn() -> Tensor, budget: f64) -> f64 {
    for _ in 0..2 {
        drop(f());
    }
    let mut best = f64::INFINITY;
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < budget || best.is_infinite() {
        let t = Instant::now();
        drop(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn kind_of(precision: Precision) -> Kind {
    Compute {
        precision,
        channels_last: false,
    }
    .kind(Kind::Float)
}

/// Best matmul rate over square sizes.
fn matmul_peak(precision: Precision, device: Device, budget: f64) -> PeakRow {
    let mut best = (0.0, 0);
    for n in [512i64, 1024, 2048] {
        let a = Tensor::randn([n, n], (kind_of(precision), device));
        let b = Tensor::randn([n, n], (kind_of(precision), device));
        let seconds = best_seconds(&|| a.matmul(&b), budget);
        let gflops = 2.0 * (n * n * n) as f64 / seconds / 1e9;
        if gflops > best.0 {
            best = (gflops, n);
        }
    }
    PeakRow {
        op: "matmul".into(),
        compute: precision.name().into(),
        shape: format!("{0}×{0}·{0}×{0}", best.1),
        gflops: best.0,
    }
}

/// Best 3×3 convolution rate over the bench model's layer shapes (batch 128).
pub fn conv_peak(compute: Compute, device: Device, budget: f64) -> PeakRow {
    let mut best = (0.0, String::new());
    for (channels, side) in [(64i64, 32i64), (128, 16), (256, 8)] {
        let kind = compute.kind(Kind::Float);
        let mut x = Tensor::randn([128, channels, side, side], (kind, device));
        let mut w = Tensor::randn([channels, channels, 3, 3], (kind, device)) * 0.05;
        if compute.channels_last {
            x = channels_last(&x);
            w = channels_last(&w);
        }
        let seconds = best_seconds(&|| x.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1), budget);
        let gflops = 2.0 * 9.0 * (128 * channels * channels * side * side) as f64 / seconds / 1e9;
        if gflops > best.0 {
            best = (gflops, format!("128×{channels}×{side}×{side}, {channels}→{channels}"));
        }
    }
    PeakRow {
        op: "conv3x3".into(),
        compute: compute.label(),
        shape: best.1,
        gflops: best.0,
    }
}

/// Every compute mode a bench line can run in.
pub fn all_computes() -> Vec<Compute> {
    let mut all = Vec::new();
    for precision in [Precision::Fp32, Precision::Bf16] {
        for channels_last in [false, true] {
            all.push(Compute { precision, channels_last });
        }
    }
    all
}

/// The whole table: matmuls per precision, convolutions per precision and layout.
pub fn measure(device: Device, budget: f64) -> Vec<PeakRow> {
    let mut rows: Vec<PeakRow> = [Precision::Fp32, Precision::Bf16]
        .into_iter()
        .map(|p| matmul_peak(p, device, budget))
        .collect();
    rows.extend(all_computes().into_iter().map(|c| conv_peak(c, device, budget)));
    rows
}

pub fn print(rows: &[PeakRow]) {
    println!("{:<8} {:<10} {:>10}   best shape", "op", "compute", "GFLOP/s");
    for r in rows {
        println!("{:<8} {:<10} {:>10.0}   {}", r.op, r.compute, r.gflops, r.shape);
    }
}

/// What the machine has, printed at the top of every bench.
pub fn describe_machine(device: Device) -> String {
    format!(
        "{} threads on {}; bf16 matrix units: {}; fastest compute here: {}",
        tch::get_num_threads(),
        ebm::device::device_name(device),
        MatrixUnits::detect().describe(),
        Compute::fastest(device).label()
    )
}

pub fn run(device: Device, budget: f64, json: Option<&std::path::Path>) -> Result<()> {
    println!("{}", describe_machine(device));
    let rows = measure(device, budget);
    print(&rows);
    if let Some(path) = json {
        ebm::io::write_atomically(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    Ok(())
}
