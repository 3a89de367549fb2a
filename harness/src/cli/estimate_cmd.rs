//! `upbench estimate`: the Gaussian estimator on the user's own samples (`.npy`, `[n, K, d]`).

use std::path::Path;

use anyhow::bail;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use tch::{Kind, Tensor};

use super::{EstimateArgs, EstimatorChoice};
use crate::estimate::{
    gaussian, knn, log_entropy_powers, mean_of, Estimate, EstimatorConfig, EstimatorKind, IntervalMethod, Intervals,
    KnnConfig, Shrinkage,
};
use crate::judge::{sample_size_reasons, Reason};

/// Reads samples `[n, K, d]` from a float32/float64 `.npy` file ([`crate::npy::read`]: every
/// error names the file and where in it).
pub fn read_npy3(path: &Path) -> anyhow::Result<Tensor> {
    let array = crate::npy::read(path)?;
    if array.shape.len() != 3 {
        bail!("{}: expected shape [n, K, d], got {:?} (in its header)", path.display(), array.shape);
    }
    Ok(array.to_tensor()?)
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

/// One row of the table before its interval: the per-observation values on all samples and on
/// the first half, what they are and how they were estimated.
struct Row {
    name: String,
    full: Vec<f64>,
    /// On K/2 samples, where that is still estimable.
    half: Option<Vec<f64>>,
    sizes: Sizes,
    note: String,
    quantity: Quantity,
}

/// Estimates U from errors and/or P between samples and reference samples.
pub fn run(args: EstimateArgs) -> anyhow::Result<bool> {
    check_args(&args)?;
    let _no_grad = tch::no_grad_guard();
    tch::manual_seed(args.seed as i64);
    let mut rows = Vec::new();
    if let Some(path) = &args.errors {
        rows.push(uncertainty_row(&args, path)?);
    }
    if let (Some(samples), Some(reference)) = (&args.samples, &args.reference) {
        rows.extend(divergence_rows(&args, samples, reference)?);
    }
    outln!("{}", render(&args, rows));
    Ok(true)
}

/// Refuses a call with nothing to estimate or with k or α out of range, before any file is read.
fn check_args(args: &EstimateArgs) -> anyhow::Result<()> {
    if args.errors.is_none() && args.samples.is_none() {
        bail!("nothing to estimate: give --errors E.npy, or --samples S.npy --reference R.npy");
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) || args.k == 0 {
        bail!("--k must be ≥ 1 and --alpha in (0, 1)");
    }
    Ok(())
}

/// Reads one `.npy` of samples, dequantized when asked.
fn load(args: &EstimateArgs, path: &Path) -> anyhow::Result<Tensor> {
    let x = read_npy3(path)?;
    Ok(match args.dequantize {
        Some(step) => knn::dequantize(&x, step),
        None => x,
    })
}

/// How the estimator is named in the notes.
fn method(args: &EstimateArgs) -> String {
    match args.estimator {
        EstimatorChoice::Gaussian => "Gaussian fit".to_string(),
        EstimatorChoice::Knn => format!("k-NN, k = {}", args.k),
    }
}

/// U = N(X̂ − X | Y) from the errors file `[n, K, d]`.
fn uncertainty_row(args: &EstimateArgs, path: &Path) -> anyhow::Result<Row> {
    let errors = load(args, path)?;
    let (n, k, d) = errors.size3()?;
    check_sizes(path, n, k, args)?;
    let full = log_entropy_power(args, &errors)?;
    check_finite(&full, "the entropy", path)?;
    let half = half_is_estimable(args, k, d).then(|| log_entropy_power(args, &first_half(&errors))).transpose()?;
    let note = match args.estimator {
        EstimatorChoice::Gaussian if Shrinkage::Auto.applies(k, d) => {
            "Gaussian fit, Ledoit–Wolf shrinkage (K < 10·d): biased".to_string()
        }
        EstimatorChoice::Gaussian => "Gaussian fit, Wishart bias-corrected: an upper bound".to_string(),
        EstimatorChoice::Knn => format!("{} (Kozachenko–Leonenko)", method(args)),
    };
    Ok(Row {
        name: "U = N(X̂ − X | Y)".to_string(),
        full,
        half,
        sizes: Sizes { n, k, k_label: k.to_string(), d },
        note,
        quantity: Quantity::LogEntropyPower,
    })
}

/// P between the samples and the reference samples (both `[n, K, d]`, n and d agreeing); for
/// k-NN also the KL divergence as a cross-check.
fn divergence_rows(args: &EstimateArgs, sp: &Path, rp: &Path) -> anyhow::Result<Vec<Row>> {
    let samples = load(args, sp)?;
    let reference = load(args, rp)?;
    let ((n, k, d), (n2, k2, d2)) = (samples.size3()?, reference.size3()?);
    if n != n2 || d != d2 {
        bail!("{} is [{n}, {k}, {d}] but {} is [{n2}, {k2}, {d2}]: n and d must agree", sp.display(), rp.display());
    }
    check_sizes(sp, n, k, args)?;
    check_sizes(rp, n2, k2, args)?;
    let sizes = Sizes { n, k: k.min(k2), k_label: format!("{k} / {k2}"), d };
    let estimable = half_is_estimable(args, k.min(k2), d);
    let full = divergence(args, &reference, &samples, false)?;
    check_finite(&full, "the divergence", sp)?;
    let half =
        estimable.then(|| divergence(args, &first_half(&reference), &first_half(&samples), false)).transpose()?;
    let (name, note) = match args.estimator {
        EstimatorChoice::Gaussian => {
            ("P = E_y D½(reference ‖ samples)".to_string(), "Gaussian fits of both, plug-in".to_string())
        }
        EstimatorChoice::Knn => {
            (format!("P = E_y D_{}(reference ‖ samples)", args.alpha), format!("{} (Póczos–Schneider)", method(args)))
        }
    };
    let mut rows = vec![Row { name, full, half, sizes: sizes.clone(), note, quantity: Quantity::Divergence }];
    if args.estimator == EstimatorChoice::Knn {
        let full = divergence(args, &reference, &samples, true)?;
        let half =
            estimable.then(|| divergence(args, &first_half(&reference), &first_half(&samples), true)).transpose()?;
        rows.push(Row {
            name: "E_y KL(reference ‖ samples)".to_string(),
            full,
            half,
            sizes,
            note: format!("{} (Wang–Kulkarni–Verdú), cross-check", method(args)),
            quantity: Quantity::Divergence,
        });
    }
    Ok(rows)
}

/// The table: each row's mean with its interval at the asked level, the K/2 value and the
/// judge's verdict.
fn render(args: &EstimateArgs, rows: Vec<Row>) -> Table {
    let intervals =
        Intervals { method: IntervalMethod::default(), resamples: 2000, level: args.level, seed: args.seed };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["quantity", "estimate [CI]", "from K/2", "n", "K", "d", "verdict", "notes"]);
    for row in rows {
        table.add_row(table_row(&intervals, row));
    }
    table
}

/// One row's cells: N = exp(mean) for a log entropy power, the mean for a divergence; INVALID
/// with the judge's reasons (sample sizes, a divergence below zero beyond its interval).
fn table_row(intervals: &Intervals, row: Row) -> Vec<String> {
    let Row { name, full, half, sizes, note, quantity } = row;
    let [est] = intervals.estimate(full.len(), |idx| [mean_of(&full, idx)]);
    // The judge's own rule, for either estimator, as a suite would apply it.
    let mut reasons = sample_size_reasons(sizes.k, sizes.d, sizes.n as usize);
    if quantity == Quantity::Divergence && est.ci.upper < 0.0 {
        reasons.push(Reason::NegativeDivergence { upper: est.ci.upper });
    }
    let half = match half {
        Some(half) => {
            let mean = half.iter().sum::<f64>() / half.len() as f64;
            format!("{:.6}", if quantity == Quantity::LogEntropyPower { mean.exp() } else { mean })
        }
        None => format!("— (K/2 = {} too few)", sizes.k / 2),
    };
    let est = if quantity == Quantity::LogEntropyPower { est.exp() } else { est };
    let verdict = if reasons.is_empty() {
        "valid".to_string()
    } else {
        format!("INVALID: {}", reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    };
    vec![name, fmt(&est), half, sizes.n.to_string(), sizes.k_label, sizes.d.to_string(), verdict, note]
}

#[cfg(test)]
mod tests {
    use super::read_npy3;

    #[test]
    fn samples_must_have_rank_three() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flat.npy");
        crate::npy::write(&path, &tch::Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([2, 3]), false)
            .unwrap();
        let err = format!("{:#}", read_npy3(&path).unwrap_err());
        assert!(err.contains("flat.npy: expected shape [n, K, d], got [2, 3]"), "{err}");
    }
}
