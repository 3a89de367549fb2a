//! `upbench estimate`: the Gaussian estimator on the user's own samples (`.npy`, `[n, K, d]`).

use std::path::Path;

use anyhow::{bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use tch::{Kind, Tensor};

use super::{EstimateArgs, EstimatorChoice};
use crate::estimate::{
    gaussian, knn, log_entropy_powers, mean_of, Estimate, EstimatorConfig, EstimatorKind, IntervalMethod, Intervals,
    KnnConfig, Shrinkage,
};
use crate::judge::{sample_size_reasons, Reason};

/// Reads a C-order float32/float64 `.npy` file of rank 3 as a float64 tensor. Every error names
/// the file and where in it the problem is (its header, the data from byte N, value [i, k, j]);
/// no input makes it panic or allocate more than the file holds.
pub fn read_npy3(path: &Path) -> anyhow::Result<Tensor> {
    let at = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("{at}: cannot read"))?;
    let mut rest: &[u8] = &bytes;
    // npyz multiplies the shape unchecked (a panic in debug builds): such a header is an error.
    let parsed = std::panic::catch_unwind(move || npyz::NpyHeader::from_reader(&mut rest).map(|h| (h, rest)));
    let (header, data) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(e)) => bail!("{at}: not a .npy file (its header: {e})"),
        Err(_) => bail!("{at}: not a .npy file (its header declares a shape whose size overflows)"),
    };
    let data_start = bytes.len() - data.len();
    let shape = header.shape().to_vec();
    if shape.len() != 3 {
        bail!("{at}: expected shape [n, K, d], got {shape:?} (in its header)");
    }
    if header.order() != npyz::Order::C {
        bail!("{at}: Fortran-ordered arrays are not supported; save with numpy.ascontiguousarray");
    }
    let descr = header.dtype().descr();
    let item_size: u64 = match descr.trim_matches('\'') {
        "<f8" => 8,
        "<f4" => 4,
        other => bail!("{at}: dtype {other} is not supported (use float32 or float64)"),
    };
    let needed = shape.iter().try_fold(item_size, |acc, &s| acc.checked_mul(s));
    if needed != Some(data.len() as u64) {
        let declared = needed.map_or("more than 2⁶⁴".to_string(), |n| n.to_string());
        bail!(
            "{at}: its header declares shape {shape:?}, {declared} bytes of data from byte {data_start}, but the file holds {} bytes there",
            data.len()
        );
    }
    let file = npyz::NpyFile::with_header(header, data);
    let values: Vec<f64> = match item_size {
        8 => file.into_vec::<f64>(),
        _ => file.into_vec::<f32>().map(|v| v.into_iter().map(f64::from).collect()),
    }
    .with_context(|| format!("{at}: unreadable data from byte {data_start}"))?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let (k, d) = (shape[1] as usize, shape[2] as usize);
        bail!(
            "{at}: value [{}, {}, {}] is {} (NaN and infinities are not samples)",
            i / (k * d),
            i / d % k,
            i % d,
            values[i]
        );
    }
    let shape: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
    Ok(Tensor::f_from_slice(&values)?.f_reshape(&shape)?)
}

fn fmt(e: &Estimate) -> String {
    format!("{:.6} [{:.6}, {:.6}]", e.point, e.ci.lower, e.ci.upper)
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap_or_default()
}

/// ln N per observation (the log entropy power) of samples `[n, K, d]`.
fn log_entropy_power(args: &EstimateArgs, x: &Tensor) -> anyhow::Result<Vec<f64>> {
    let kind = match args.estimator {
        EstimatorChoice::Gaussian => EstimatorKind::Gaussian,
        EstimatorChoice::Knn => EstimatorKind::Knn,
    };
    let config = EstimatorConfig { kind, knn: knn_config(args), ..EstimatorConfig::default() };
    Ok(log_entropy_powers(&config, x)?.per_observation)
}

/// The divergence per observation between `reference` (p) and `samples` (q).
fn divergence(args: &EstimateArgs, reference: &Tensor, samples: &Tensor, kl: bool) -> anyhow::Result<Vec<f64>> {
    let ((_, k2, d), (_, k, _)) = (reference.size3()?, samples.size3()?);
    match args.estimator {
        EstimatorChoice::Gaussian => {
            let (m1, c1) = gaussian::fit(reference, Shrinkage::Auto.applies(k2, d))?;
            let (m2, c2) = gaussian::fit(samples, Shrinkage::Auto.applies(k, d))?;
            Ok(to_vec(&gaussian::d_half(&m1, &c1, &m2, &c2)?))
        }
        EstimatorChoice::Knn => (0..reference.size()[0])
            .map(|y| {
                let (p, q) = (reference.get(y), samples.get(y));
                let est = if kl {
                    knn::kl_divergence(&p, &q, &knn_config(args))?
                } else {
                    knn::renyi_divergence(&p, &q, &knn_config(args))?
                };
                Ok(est.nats)
            })
            .collect(),
    }
}

fn knn_config(args: &EstimateArgs) -> KnnConfig {
    KnnConfig { k: args.k, alpha: args.alpha, block_values: None, bias_correction: args.knn_bias_correction }
}

/// The first half of the samples of every observation.
fn first_half(x: &Tensor) -> Tensor {
    x.narrow(1, 0, x.size()[1] / 2)
}

fn check_finite(values: &[f64], what: &str, path: &Path) -> anyhow::Result<()> {
    if values.iter().any(|v| !v.is_finite()) {
        bail!(
            "{}: {what} is not finite for some observation (singular covariance with K ≤ d, or duplicate points: try --dequantize)",
            path.display()
        );
    }
    Ok(())
}

/// What a table row holds, which decides its scale and its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    /// ln N per observation, shown as N = exp(mean).
    LogEntropyPower,
    /// A divergence, nats: below zero beyond its interval it is an estimation failure.
    Divergence,
}

/// n, K and d of a row (`k_label` shows both K of a divergence's two inputs).
#[derive(Debug, Clone)]
struct Sizes {
    n: i64,
    k: i64,
    k_label: String,
    d: i64,
}

/// Refuses inputs no estimate can be made from, naming the file: no observations, fewer than
/// two samples per observation, or (k-NN) no more samples than neighbours.
fn check_sizes(path: &Path, n: i64, k: i64, args: &EstimateArgs) -> anyhow::Result<()> {
    if n == 0 {
        bail!("{}: no observations (n = 0 in [n, K, d]); nothing to estimate", path.display());
    }
    if k < 2 {
        bail!("{}: {k} sample(s) per observation; at least 2 are needed", path.display());
    }
    if args.estimator == EstimatorChoice::Knn && k <= args.k as i64 {
        bail!(
            "{}: {k} samples per observation for the k-NN estimator with k = {}; give more than k",
            path.display(),
            args.k
        );
    }
    Ok(())
}

/// Whether K/2 samples still give an estimate worth printing: more than d for the Gaussian fit
/// (the suite's rule for a valid estimate), more than k for k-NN.
fn half_is_estimable(args: &EstimateArgs, k: i64, d: i64) -> bool {
    match args.estimator {
        EstimatorChoice::Gaussian => k / 2 > d,
        EstimatorChoice::Knn => k / 2 > args.k as i64,
    }
}

/// Estimates U from errors and/or P between samples and reference samples.
pub fn run(args: EstimateArgs) -> anyhow::Result<bool> {
    if args.errors.is_none() && args.samples.is_none() {
        bail!("nothing to estimate: give --errors E.npy, or --samples S.npy --reference R.npy");
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) || args.k == 0 {
        bail!("--k must be ≥ 1 and --alpha in (0, 1)");
    }
    let _no_grad = tch::no_grad_guard();
    tch::manual_seed(args.seed as i64);
    let load = |path: &Path| -> anyhow::Result<Tensor> {
        let x = read_npy3(path)?;
        Ok(match args.dequantize {
            Some(step) => knn::dequantize(&x, step),
            None => x,
        })
    };
    let intervals =
        Intervals { method: IntervalMethod::default(), resamples: 2000, level: args.level, seed: args.seed };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["quantity", "estimate [CI]", "from K/2", "n", "K", "d", "verdict", "notes"]);
    let mut row = |name: &str, full: Vec<f64>, half: Option<Vec<f64>>, sizes: Sizes, note: String, kind: Quantity| {
        let [est] = intervals.estimate(full.len(), |idx| [mean_of(&full, idx)]);
        // The judge's own rule, for either estimator, as a suite would apply it.
        let mut reasons = sample_size_reasons(sizes.k, sizes.d, sizes.n as usize);
        if kind == Quantity::Divergence && est.ci.upper < 0.0 {
            reasons.push(Reason::NegativeDivergence { upper: est.ci.upper });
        }
        let half = match half {
            Some(half) => {
                let mean = half.iter().sum::<f64>() / half.len() as f64;
                format!("{:.6}", if kind == Quantity::LogEntropyPower { mean.exp() } else { mean })
            }
            None => format!("— (K/2 = {} too few)", sizes.k / 2),
        };
        let est = if kind == Quantity::LogEntropyPower { est.exp() } else { est };
        let verdict = if reasons.is_empty() {
            "valid".to_string()
        } else {
            format!("INVALID: {}", reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        };
        table.add_row(vec![
            name.to_string(),
            fmt(&est),
            half,
            sizes.n.to_string(),
            sizes.k_label,
            sizes.d.to_string(),
            verdict,
            note,
        ]);
    };
    let method = match args.estimator {
        EstimatorChoice::Gaussian => "Gaussian fit".to_string(),
        EstimatorChoice::Knn => format!("k-NN, k = {}", args.k),
    };
    if let Some(path) = &args.errors {
        let errors = load(path)?;
        let (n, k, d) = errors.size3()?;
        check_sizes(path, n, k, &args)?;
        let full = log_entropy_power(&args, &errors)?;
        check_finite(&full, "the entropy", path)?;
        let half =
            half_is_estimable(&args, k, d).then(|| log_entropy_power(&args, &first_half(&errors))).transpose()?;
        let note = match args.estimator {
            EstimatorChoice::Gaussian if Shrinkage::Auto.applies(k, d) => {
                "Gaussian fit, Ledoit–Wolf shrinkage (K < 10·d): biased".to_string()
            }
            EstimatorChoice::Gaussian => "Gaussian fit, Wishart bias-corrected: an upper bound".to_string(),
            EstimatorChoice::Knn => format!("{method} (Kozachenko–Leonenko)"),
        };
        row("U = N(X̂ − X | Y)", full, half, Sizes { n, k, k_label: k.to_string(), d }, note, Quantity::LogEntropyPower);
    }
    if let (Some(sp), Some(rp)) = (&args.samples, &args.reference) {
        let samples = load(sp)?;
        let reference = load(rp)?;
        let ((n, k, d), (n2, k2, d2)) = (samples.size3()?, reference.size3()?);
        if n != n2 || d != d2 {
            bail!("{} is [{n}, {k}, {d}] but {} is [{n2}, {k2}, {d2}]: n and d must agree", sp.display(), rp.display());
        }
        check_sizes(sp, n, k, &args)?;
        check_sizes(rp, n2, k2, &args)?;
        let sizes = Sizes { n, k: k.min(k2), k_label: format!("{k} / {k2}"), d };
        let estimable = half_is_estimable(&args, k.min(k2), d);
        let full = divergence(&args, &reference, &samples, false)?;
        check_finite(&full, "the divergence", sp)?;
        let half =
            estimable.then(|| divergence(&args, &first_half(&reference), &first_half(&samples), false)).transpose()?;
        let (name, note) = match args.estimator {
            EstimatorChoice::Gaussian => {
                ("P = E_y D½(reference ‖ samples)".to_string(), "Gaussian fits of both, plug-in".to_string())
            }
            EstimatorChoice::Knn => {
                (format!("P = E_y D_{}(reference ‖ samples)", args.alpha), format!("{method} (Póczos–Schneider)"))
            }
        };
        row(&name, full, half, sizes.clone(), note, Quantity::Divergence);
        if args.estimator == EstimatorChoice::Knn {
            let full = divergence(&args, &reference, &samples, true)?;
            let half = estimable
                .then(|| divergence(&args, &first_half(&reference), &first_half(&samples), true))
                .transpose()?;
            row(
                "E_y KL(reference ‖ samples)",
                full,
                half,
                sizes,
                format!("{method} (Wang–Kulkarni–Verdú), cross-check"),
                Quantity::Divergence,
            );
        }
    }
    outln!("{table}");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::read_npy3;

    /// A valid `.npy` file (format 1.0) of `shape` holding 0, 1, 2, … as float64 (`f8`) or float32.
    fn npy(shape: &[u64], f8: bool) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
        let descr = if f8 { "<f8" } else { "<f4" };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}", dims.join(", "));
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        for i in 0..shape.iter().product::<u64>() {
            if f8 {
                out.extend_from_slice(&(i as f64).to_le_bytes());
            } else {
                out.extend_from_slice(&(i as f32).to_le_bytes());
            }
        }
        out
    }

    /// Reads `bytes` as a file: never a panic; an error names the file.
    fn read_bytes(bytes: &[u8]) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.npy");
        std::fs::write(&path, bytes).unwrap();
        match read_npy3(&path) {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = format!("{e:#}");
                assert!(
                    message.contains(&path.display().to_string()),
                    "an error that does not name the file: {message}"
                );
                Err(message)
            }
        }
    }

    #[test]
    fn a_valid_file_reads_and_its_damage_is_located() {
        let good = npy(&[2, 3, 4], true);
        assert!(read_bytes(&good).is_ok());
        assert!(read_bytes(&npy(&[2, 3, 4], false)).is_ok());
        let short = read_bytes(&good[..good.len() - 8]).unwrap_err();
        assert!(short.contains("192 bytes of data from byte 128") && short.contains("184 bytes there"), "{short}");
        let mut nan = good.clone();
        let at = good.len() - 8 * 5;
        nan[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
        let nan = read_bytes(&nan).unwrap_err();
        assert!(nan.contains("value [1, 1, 3] is NaN"), "{nan}");
        let rank = read_bytes(&npy(&[2, 3], true)).unwrap_err();
        assert!(rank.contains("expected shape [n, K, d], got [2, 3]"), "{rank}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_bytes(&bytes);
        }

        #[test]
        fn damaged_files_never_panic(
            shape in proptest::collection::vec(0u64..4, 1..5),
            f8 in any::<bool>(),
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let mut bytes = npy(&shape, f8);
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let keep = cut.index(bytes.len() + 1);
            let _ = read_bytes(&bytes[..keep.max(bytes.len() / 2)]);
            let _ = read_bytes(&bytes);
        }

        #[test]
        fn headers_with_any_shape_never_panic(dims in proptest::collection::vec(any::<u64>(), 0..5)) {
            let shape: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}", shape.join(", "));
            let mut header = dict.into_bytes();
            while (10 + header.len() + 1) % 64 != 0 {
                header.push(b' ');
            }
            header.push(b'\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(&[0u8; 64]);
            let _ = read_bytes(&bytes);
        }
    }
}
