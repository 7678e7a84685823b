//! Converts a model directory's `model.safetensors` from f32 to f16 (round to nearest, ties to
//! even), for shipping: the library's engine widens f16 weights back to f32 when it loads them,
//! so the file is half the size and the arithmetic is unchanged.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin compact -- MODEL_DIR --out OUT.safetensors
//! # in place (the input is read whole before the output is written):
//! cargo run --release -p verbovka-lab --bin compact -- crates/verbovka/models/default/seed-7 \
//!     --out crates/verbovka/models/default/seed-7/model.safetensors
//! ```
//!
//! Deterministic: the same input gives the same bytes (tensors keep their names and shapes and
//! are written in name order; the header's `__metadata__`, if any, is kept as it is). Refuses a
//! file holding any tensor that is not f32 (an f16 file is already compact), non-finite values,
//! and values too large for f16. Checks the written file by reading it back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use candle_core::safetensors::Load;
use candle_core::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors};

const USAGE: &str = "usage: compact MODEL_DIR --out OUT.safetensors

Converts MODEL_DIR/model.safetensors (MODEL_DIR may also name the file itself) from f32 to f16,
rounding to nearest (ties to even), and writes OUT.safetensors (may be the input: it is read
whole first, and the output is written to a temporary file then renamed). Deterministic.
Refuses non-f32 tensors, non-finite values and values beyond f16's range (65504).";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compact: {e}");
            ExitCode::from(2)
        }
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn run() -> Res<()> {
    use lexopt::prelude::*;
    let (mut input, mut out) = (None::<PathBuf>, None::<PathBuf>);
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next()? {
        match arg {
            Long("out") | Short('o') => out = Some(args.value()?.into()),
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(());
            }
            Value(v) if input.is_none() => input = Some(v.into()),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected()).into()),
        }
    }
    let (input, out) = (input.ok_or(USAGE)?, out.ok_or(USAGE)?);
    let input = if input.is_dir() {
        input.join("model.safetensors")
    } else {
        input
    };
    let bytes = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
    let (compact, report) = compact(&bytes).map_err(|e| format!("{}: {e}", input.display()))?;
    write_atomically(&out, &compact)?;
    check_written(&out, &bytes)?;
    eprintln!(
        "compact: {} ({} bytes, f32) -> {} ({} bytes, f16): {} tensors, {} values; \
         max |f16 - f32| {:.3e}, max relative error {:.3e} (values >= 2^-14), \
         {} values now subnormal, {} nonzero values now zero",
        input.display(),
        bytes.len(),
        out.display(),
        compact.len(),
        report.tensors,
        report.values,
        report.max_abs_error,
        report.max_rel_error,
        report.subnormal,
        report.flushed_to_zero,
    );
    Ok(())
}

/// What rounding to f16 did to the values.
#[derive(Debug, Default)]
struct Report {
    tensors: usize,
    values: usize,
    max_abs_error: f64,
    max_rel_error: f64,
    subnormal: usize,
    flushed_to_zero: usize,
}

/// Smallest positive normal f16 (2^-14).
const F16_MIN_NORMAL: f32 = 6.103_515_6e-5;
/// Largest finite f16.
const F16_MAX: f32 = 65504.0;

/// The f16 safetensors file of the f32 file `bytes`.
fn compact(bytes: &[u8]) -> Res<(Vec<u8>, Report)> {
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    let metadata: Option<HashMap<String, String>> = header.metadata().clone();
    let tensors = SafeTensors::deserialize(bytes)?;
    let mut names = tensors.names();
    names.sort_unstable();
    if names.is_empty() {
        return Err("holds no tensors".into());
    }
    // Refuse before converting anything.
    for name in &names {
        let dtype = tensors.tensor(name)?.dtype();
        if dtype != Dtype::F32 {
            return Err(format!(
                "tensor {name} is {dtype:?}; compact converts f32 files only{}",
                if dtype == Dtype::F16 {
                    " (this one is already f16)"
                } else {
                    ""
                }
            )
            .into());
        }
    }
    let mut report = Report::default();
    let mut out: Vec<(String, Tensor)> = Vec::with_capacity(names.len());
    for name in names {
        let view = tensors.tensor(name)?;
        let full = view.load(&Device::Cpu)?;
        let half = full.to_dtype(DType::F16)?;
        let a = full.flatten_all()?.to_vec1::<f32>()?;
        let b = half.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        for (&x, &y) in a.iter().zip(&b) {
            if !x.is_finite() {
                return Err(format!("tensor {name} holds a non-finite value ({x})").into());
            }
            if x.abs() > F16_MAX || !y.is_finite() {
                return Err(format!("tensor {name}: {x} is beyond f16's range").into());
            }
            let err = (f64::from(y) - f64::from(x)).abs();
            report.max_abs_error = report.max_abs_error.max(err);
            if x.abs() >= F16_MIN_NORMAL {
                report.max_rel_error = report.max_rel_error.max(err / f64::from(x.abs()));
            }
            if y != 0.0 && y.abs() < F16_MIN_NORMAL {
                report.subnormal += 1;
            }
            if x != 0.0 && y == 0.0 {
                report.flushed_to_zero += 1;
            }
        }
        report.tensors += 1;
        report.values += a.len();
        out.push((name.to_string(), half));
    }
    Ok((safetensors::serialize(out, metadata)?, report))
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Res<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".compact-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

/// Reads `path` back: every tensor of the f32 file `original` is there, f16, same shape, and
/// equal to the f32 value rounded to f16.
fn check_written(path: &Path, original: &[u8]) -> Res<()> {
    let written = std::fs::read(path)?;
    let (a, b) = (
        SafeTensors::deserialize(original)?,
        SafeTensors::deserialize(&written)?,
    );
    let (mut na, mut nb) = (a.names(), b.names());
    na.sort_unstable();
    nb.sort_unstable();
    if na != nb {
        return Err(format!("{}: tensor names differ from the input's", path.display()).into());
    }
    for name in na {
        let (x, y) = (a.tensor(name)?, b.tensor(name)?);
        if y.dtype() != Dtype::F16 || x.shape() != y.shape() {
            return Err(format!("{}: tensor {name} was not written as f16", path.display()).into());
        }
        let want = x.load(&Device::Cpu)?.to_dtype(DType::F16)?;
        let got = y.load(&Device::Cpu)?;
        let same = want
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .zip(got.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
            .all(|(p, q)| p.to_bits() == q.to_bits());
        if !same {
            return Err(format!("{}: tensor {name} reads back different", path.display()).into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_file(tensors: &[(&str, Vec<f32>, Vec<usize>)]) -> Vec<u8> {
        let t: Vec<(String, Tensor)> = tensors
            .iter()
            .map(|(n, v, s)| {
                (
                    n.to_string(),
                    Tensor::from_vec(v.clone(), s.as_slice(), &Device::Cpu).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(t, None).unwrap()
    }

    #[test]
    fn rounds_to_nearest_and_is_deterministic() {
        // 1 + 2^-11 is halfway between f16 1.0 and 1 + 2^-10: ties to even gives 1.0;
        // 1 + 3·2^-11 ties to 1 + 2^-9.
        let input = f32_file(&[
            (
                "b",
                vec![1.0 + 2f32.powi(-11), 1.0 + 3.0 * 2f32.powi(-11)],
                vec![2],
            ),
            ("a", vec![0.1, -2.5, 0.0, 1e-6], vec![2, 2]),
        ]);
        let (out, report) = compact(&input).unwrap();
        assert_eq!(out, compact(&input).unwrap().0);
        assert_eq!(report.tensors, 2);
        assert_eq!(report.values, 6);
        let st = SafeTensors::deserialize(&out).unwrap();
        let b = st.tensor("b").unwrap();
        assert_eq!(b.dtype(), Dtype::F16);
        let bits: Vec<u16> = b
            .data()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(bits, [0x3c00, 0x3c02]);
        let a = st.tensor("a").unwrap();
        assert_eq!(a.shape(), [2, 2]);
        let bits: Vec<u16> = a
            .data()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        // 0.1 -> 0x2e66; -2.5 exact; 0; 1e-6 is subnormal in f16 (16 · 2^-24 ≈ 9.5e-7).
        assert_eq!(bits, [0x2e66, 0xc100, 0x0000, 0x0011]);
        assert_eq!(report.subnormal, 1);
    }

    #[test]
    fn refuses_f16_and_out_of_range() {
        let input = f32_file(&[("w", vec![1.0, 2.0], vec![2])]);
        let (f16, _) = compact(&input).unwrap();
        let e = compact(&f16).unwrap_err().to_string();
        assert!(e.contains("already f16"), "{e}");
        let e = compact(&f32_file(&[("w", vec![1e6], vec![1])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("range"), "{e}");
        let e = compact(&f32_file(&[("w", vec![f32::NAN], vec![1])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite"), "{e}");
    }
}
