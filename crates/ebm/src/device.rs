//! Where computation runs. Every command takes `--device cpu|cuda|cuda:N|auto`;
//! models, data batches and chains follow the device a network was built on.

use tch::Device;

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when libtorch sees one, else CPU).
pub fn parse_device(text: &str) -> Result<Device, String> {
    let text = text.trim().to_ascii_lowercase();
    let cuda_count = tch::Cuda::device_count() as usize;
    let cuda = |index: usize| {
        if index < cuda_count {
            Ok(Device::Cuda(index))
        } else if cuda_count == 0 {
            Err(format!(
                "device '{text}' asked for, but libtorch sees no CUDA device here; use --device cpu (or auto)"
            ))
        } else {
            Err(format!(
                "device '{text}' asked for, but libtorch sees only {cuda_count} CUDA device(s) (cuda:0..cuda:{})",
                cuda_count - 1
            ))
        }
    };
    match text.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available()),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => cuda(index),
            _ => Err(format!("unknown device '{text}'; choose cpu, cuda, cuda:N or auto")),
        },
    }
}

/// How a device is written on the command line.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}
