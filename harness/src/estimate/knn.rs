//! k-nearest-neighbour estimators (`theory.md`, "Estimators"), on libtorch so that one code path
//! serves the CPU and CUDA:
//!
//! - Kozachenko–Leonenko differential entropy, ĥ = ψ(n) − ψ(k) + ln V_d + (d/n)·Σ ln ε_i;
//! - Póczos–Schneider Rényi-α divergence D̂_α(p ‖ q), any α ∈ (0, 1) (½ by default);
//! - Wang–Kulkarni–Verdú KL divergence, D̂(p ‖ q) = (d/n)·Σ ln(ν_i/ρ_i) + ln(m/(n − 1)), for
//!   cross-checks.
//!
//! Neighbours are exact: distances are computed block by block (never an n × m matrix: at most
//! [`KnnConfig::block_values_for`] entries at once) from ‖a‖² + ‖b‖² − 2·a·b in float32 on centred
//! data, the 2k best candidates of each block merged with the running best, and the candidates'
//! distances recomputed directly as ‖a − b‖ in float64 and re-ranked; each row's result is
//! certified against the float32 error bound and searched again in float64 where it is not, so
//! that neither the expansion's cancellation nor float32 rounding can change the k-th distance.
//! Sums of logarithms are float64 and the Rényi sum is taken in log space
//! (d·ln ρ reaches hundreds at d = 243).
//!
//! Ties: a zero k-th neighbour distance (duplicate points, e.g. 8-bit pixels) makes ln ε = −∞.
//! The estimators count such points and return them in [`KnnEstimate::ties`]; the remedy is to
//! dequantise the data (add uniform noise of one quantisation step, [`dequantize`]) and say so.

use tch::{Kind, Tensor};

use super::special::{digamma, ln_gamma, ln_unit_ball_volume};
use super::EstimateError;

/// Settings of the k-NN estimators.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnnConfig {
    /// k, the neighbour rank (≥ 1).
    #[serde(default = "default_k")]
    pub k: usize,
    /// α of the Rényi divergence, in (0, 1); the theory's perception index uses ½.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Largest number of pairwise distances held at once (the memory bound); by default
    /// [`KnnConfig::block_values_for`].
    #[serde(default)]
    pub block_values: Option<i64>,
    /// Correct the entropy's finite-sample bias (off by default): whiten the points, then subtract
    /// the estimator's mean error on standard normal samples of the same n, d and k. Exact in
    /// expectation for every Gaussian law; for others it removes the part of the bias that comes
    /// from n and d, and docs/estimators.md measures what is left. Needs n > d + 1. Cost: the
    /// reference takes max(2, 2¹⁶/n) (at most 16) searches of n points the first time an
    /// (n, d, k) is seen in a process.
    #[serde(default)]
    pub bias_correction: bool,
}

impl KnnConfig {
    /// The block size for points of dimension `d` on `device`: the setting, else 2²⁶ on CUDA and
    /// on the CPU 2²² for d ≥ 128 and otherwise 2¹⁸·(T/2)^(4/3) within [2¹⁸, 2²²] for T
    /// libtorch threads. Measured (docs/gpu-check.md): with 2 threads 2¹⁸ was fastest at d = 16
    /// and 64 and 2²² at d = 243 (21–23× SciPy against 13–14×); with 16 threads at d = 16 the
    /// block's fixed costs dominated at 2¹⁸ (0.34× SciPy at n = 4,096) and 2²² reached parity.
    pub fn block_values_for(&self, device: tch::Device, d: i64) -> i64 {
        if let Some(values) = self.block_values {
            return values;
        }
        if device.is_cuda() {
            return 1 << 26;
        }
        cpu_block_values(d, tch::get_num_threads())
    }
}

/// [`KnnConfig::block_values_for`] on the CPU with `threads` libtorch threads.
fn cpu_block_values(d: i64, threads: i32) -> i64 {
    if d >= 128 {
        return 1 << 22;
    }
    let threads = f64::from(threads.max(1));
    ((f64::from(1 << 18) * (threads / 2.0).powf(4.0 / 3.0)).round() as i64).clamp(1 << 18, 1 << 22)
}

fn default_k() -> usize {
    5
}
fn default_alpha() -> f64 {
    0.5
}

impl Default for KnnConfig {
    fn default() -> Self {
        KnnConfig { k: default_k(), alpha: default_alpha(), block_values: None, bias_correction: false }
    }
}

/// An estimate from one sample, with the number of points whose k-th neighbour distance was 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnnEstimate {
    /// The value, nats.
    pub nats: f64,
    /// Points with a zero k-th neighbour distance (the estimate is then ±∞ or meaningless).
    pub ties: usize,
}

fn err(e: tch::TchError) -> EstimateError {
    EstimateError::Numeric(e.to_string())
}

fn rows_cols(t: &Tensor) -> Result<(i64, i64), EstimateError> {
    t.size2().map_err(|e| EstimateError::Shape(format!("k-NN input must be [n, d]: {e}")))
}

/// The distance from each query point to its k-th nearest reference point, exactly, float64
/// `[n]`. With `exclude_self`, queries and reference are the same points and each point is not
/// its own neighbour.
pub fn kth_neighbour_distances(
    queries: &Tensor,
    reference: &Tensor,
    k: usize,
    exclude_self: bool,
    block_values: i64,
) -> Result<Tensor, EstimateError> {
    Ok(nearest_distances(queries, reference, k, exclude_self, block_values)?.select(1, k as i64 - 1))
}

/// The distances from each query point to its k nearest reference points, ascending, float64
/// `[n, k]`: column j − 1 is the j-th neighbour distance, so one search serves every k′ ≤ k.
///
/// Candidates are selected in float32 and re-ranked by exact float64 distances; each row's answer
/// is then certified: every point left out had a float32 value of at least the candidates'
/// largest, so its true squared distance is at least that less the float32 error bound, and
/// when that is not beyond the k-th exact distance the row is searched again in float64 (whose
/// bound is ~10⁻¹⁶ of the squared norms). No data can make the float32 shortcut change a
/// distance (points far from their centre, ties at the margin).
pub fn nearest_distances(
    queries: &Tensor,
    reference: &Tensor,
    k: usize,
    exclude_self: bool,
    block_values: i64,
) -> Result<Tensor, EstimateError> {
    let _no_grad = tch::no_grad_guard();
    let (n, d) = rows_cols(queries)?;
    let (m, d_ref) = rows_cols(reference)?;
    let k = k as i64;
    let available = if exclude_self { m - 1 } else { m };
    if d != d_ref {
        return Err(EstimateError::Shape(format!("queries have d = {d}, reference points d = {d_ref}")));
    }
    if k < 1 || k > available {
        return Err(EstimateError::Shape(format!("k = {k} needs more than {available} reference points")));
    }
    // Distances do not change under a common shift; centring keeps ‖x‖² small next to ‖a − b‖²
    // so that the float32 expansion used to *select* candidates stays accurate.
    let center = reference.to_kind(Kind::Double).mean_dim(0, true, Kind::Double);
    let queries = queries.to_kind(Kind::Double) - &center;
    let reference = reference.to_kind(Kind::Double) - &center;
    let search = Search { queries: &queries, reference: &reference, k, exclude_self, block_values };
    // Twice k candidates per point: a float32 rounding error rarely reorders neighbours beyond
    // that margin, and the certificate catches the rows where it does.
    let candidates = (2 * k).min(available);
    let row_block = (block_values / search.column_block(candidates)).max(1);
    let blocks: Vec<(i64, i64)> = (0..n).step_by(row_block as usize).map(|r0| (r0, row_block.min(n - r0))).collect();
    let fast = Selection::new(&queries, &reference, Kind::Float);
    let (mut nearest, mut largest_kept) = (Vec::new(), Vec::new());
    for &(r0, rows) in &blocks {
        let (exact, largest) = search.rows(&fast, r0, rows, candidates);
        nearest.push(exact);
        largest_kept.push(largest);
    }
    let nearest = Tensor::f_cat(&nearest, 0).map_err(err)?;
    if candidates == available {
        return Ok(nearest); // every point was a candidate
    }
    // A point left out had an approximate value ≥ the largest kept, so its true squared distance
    // is at least that less the error bound: beyond the k-th exact distance, the row is certain.
    let floor = Tensor::f_cat(&largest_kept, 0).map_err(err)?.to_kind(Kind::Double) - fast.error_bound();
    let unsure = floor.lt_tensor(&nearest.select(1, k - 1).square());
    let unsure = Vec::<i64>::try_from(unsure.to_kind(Kind::Int64).to_device(tch::Device::Cpu)).map_err(err)?;
    // the blocks float32 cannot vouch for, again in float64
    let unsure_blocks: Vec<(i64, i64)> =
        blocks.into_iter().filter(|&(r0, rows)| unsure[r0 as usize..(r0 + rows) as usize].contains(&1)).collect();
    if !unsure_blocks.is_empty() {
        let precise = Selection::new(&queries, &reference, Kind::Double);
        for (r0, rows) in unsure_blocks {
            let (again, _) = search.rows(&precise, r0, rows, candidates);
            nearest.narrow(0, r0, rows).copy_(&again);
        }
    }
    Ok(nearest)
}

/// One k-NN search's points and settings (float64, centred).
struct Search<'a> {
    queries: &'a Tensor,
    reference: &'a Tensor,
    k: i64,
    exclude_self: bool,
    block_values: i64,
}

/// The points rounded to the precision candidates are selected in, with what bounds its error.
struct Selection {
    queries: Tensor,
    reference: Tensor,
    reference_norms: Tensor,
    /// |approximate − exact| ≤ `relative_error` · (‖a‖² + max ‖b‖²), from the float64 norms.
    relative_error: f64,
    query_norms: Tensor,
    max_reference_norm: f64,
}

impl Selection {
    fn new(queries: &Tensor, reference: &Tensor, kind: Kind) -> Selection {
        let (q, r) = (queries.to_kind(kind), reference.to_kind(kind));
        let reference_norms = r.square().sum_dim_intlist(-1, false, kind);
        // Rounding the inputs, the norms' and the dot product's sums of d terms (γ_d in any order)
        // and the final additions: (2d + 16)·u·(‖a‖² + ‖b‖²) bounds the expansion's error.
        let unit = if kind == Kind::Double { f64::EPSILON / 2.0 } else { f64::from(f32::EPSILON) / 2.0 };
        let d = queries.size()[1] as f64;
        Selection {
            queries: q,
            reference: r,
            reference_norms,
            relative_error: (2.0 * d + 16.0) * unit,
            query_norms: queries.square().sum_dim_intlist(-1, false, Kind::Double),
            max_reference_norm: reference.square().sum_dim_intlist(-1, false, Kind::Double).max().double_value(&[]),
        }
    }

    /// Per query, the largest error of its approximate squared distances `[n]`.
    fn error_bound(&self) -> Tensor {
        (&self.query_norms + self.max_reference_norm) * self.relative_error
    }
}

impl Search<'_> {
    /// Reference points per block of distances.
    fn column_block(&self, width: i64) -> i64 {
        self.reference.size()[0].min(self.block_values.max(width + 1))
    }

    /// For queries `r0 .. r0 + rows`: their k exact nearest distances `[rows, k]`, from the
    /// `width` best candidates of `selection`, and the largest approximate value kept `[rows]`.
    fn rows(&self, selection: &Selection, r0: i64, rows: i64, width: i64) -> (Tensor, Tensor) {
        let m = self.reference.size()[0];
        let col_block = self.column_block(width);
        let q = selection.queries.narrow(0, r0, rows);
        let q_norms = q.square().sum_dim_intlist(-1, false, q.kind()).unsqueeze(1);
        let mut best: Option<(Tensor, Tensor)> = None;
        for c0 in (0..m).step_by(col_block as usize) {
            let cols = col_block.min(m - c0);
            let r = selection.reference.narrow(0, c0, cols);
            let d2 = (&q_norms + selection.reference_norms.narrow(0, c0, cols).unsqueeze(0) - q.matmul(&r.tr()) * 2.0)
                .clamp_min(0.0);
            if self.exclude_self {
                // Global point i sits at local (i − r0, i − c0): the diagonal at offset r0 − c0.
                let _ = d2.diagonal(r0 - c0, 0, 1).fill_(f64::INFINITY);
            }
            let take = width.min(cols);
            let (vals, idx) = d2.topk(take, -1, false, false);
            let idx = idx + c0;
            best = Some(match best {
                None => (vals, idx),
                Some((bv, bi)) => {
                    let (v, pos) = Tensor::cat(&[bv, vals], 1).topk(width.min(bi.size()[1] + take), -1, false, false);
                    (v, Tensor::cat(&[bi, idx], 1).gather(1, &pos, false))
                }
            });
        }
        let (approx, idx) = best.expect("at least one column block");
        let (width, d) = (idx.size()[1], self.queries.size()[1]);
        let exact_q = self.queries.narrow(0, r0, rows);
        let neighbours = self.reference.index_select(0, &idx.flatten(0, -1)).view([rows, width, d]);
        let mut exact = (exact_q.unsqueeze(1) - neighbours).square().sum_dim_intlist(-1, false, Kind::Double).sqrt();
        if self.exclude_self {
            let own = Tensor::arange_start(r0, r0 + rows, (Kind::Int64, idx.device())).unsqueeze(1);
            exact = exact.masked_fill(&idx.eq_tensor(&own), f64::INFINITY);
        }
        (exact.sort(-1, false).0.narrow(1, 0, self.k), approx.amax(1, false))
    }
}

fn sum_log(t: &Tensor) -> Result<(f64, usize), EstimateError> {
    let ties = i64::try_from(t.le(0.0).sum(Kind::Int64)).map_err(err)? as usize;
    Ok((t.log().sum(Kind::Double).double_value(&[]), ties))
}

/// Kozachenko–Leonenko entropy of the rows of `samples` (`[n, d]`), nats; with
/// [`KnnConfig::bias_correction`], the whitened and Gaussian-calibrated estimate of
/// [`whitened_kl_entropy`] less [`gaussian_reference_bias`].
pub fn kl_entropy(samples: &Tensor, config: &KnnConfig) -> Result<KnnEstimate, EstimateError> {
    let (n, d) = rows_cols(samples)?;
    let block = config.block_values_for(samples.device(), d);
    if !config.bias_correction {
        let eps = kth_neighbour_distances(samples, samples, config.k, true, block)?;
        return kl_entropy_from_distances(&eps, d as usize, config.k);
    }
    let estimate = whitened_kl_entropy(samples, config.k, block)?;
    let bias = gaussian_reference_bias(n, d, config.k, samples.device(), block)?;
    Ok(KnnEstimate { nats: estimate.nats - bias, ties: estimate.ties })
}

/// Kozachenko–Leonenko entropy of the points whitened by their sample covariance Σ̂ = L·Lᵀ, mapped
/// back: ĥ(x) = ĥ_KL(L⁻¹(x − x̄)) + ln det L. Whitening makes the estimate affine-equivariant
/// (ĥ(A·x + b) = ĥ(x) + ln|det A| exactly: the whitened points of A·x are those of x turned by an
/// orthogonal matrix), so its bias on a Gaussian law does not depend on the law's mean or
/// covariance.
pub fn whitened_kl_entropy(samples: &Tensor, k: usize, block_values: i64) -> Result<KnnEstimate, EstimateError> {
    let _no_grad = tch::no_grad_guard();
    let (n, d) = rows_cols(samples)?;
    if n <= d + 1 {
        return Err(EstimateError::Shape(format!(
            "the k-NN bias correction whitens the points and needs more of them than d + 1: n = {n}, d = {d}"
        )));
    }
    let x = samples.to_kind(Kind::Double);
    let (mean, cov) = super::gaussian::fit(&x.unsqueeze(0), false)?;
    let centred = &x - mean;
    let l = cov.squeeze_dim(0).f_linalg_cholesky(false).map_err(|e| {
        EstimateError::Numeric(format!("the sample covariance is singular, so the points cannot be whitened: {e}"))
    })?;
    let white = Tensor::f_linalg_solve_triangular(&l, &centred.tr(), false, true, false).map_err(err)?.tr();
    let ln_det_l = l.diagonal(0, 0, 1).log().sum(Kind::Double).double_value(&[]);
    let eps = kth_neighbour_distances(&white, &white, k, true, block_values)?;
    let estimate = kl_entropy_from_distances(&eps, d as usize, k)?;
    Ok(KnnEstimate { nats: estimate.nats + ln_det_l, ties: estimate.ties })
}

/// Points drawn in all to measure one bias: the repetitions' mean has about the precision of a
/// single estimate from 2¹⁶ points.
const REFERENCE_POINTS: i64 = 1 << 16;

/// The mean error of [`whitened_kl_entropy`] on n standard normal points in dimension d, nats:
/// by its equivariance the exact bias for every Gaussian law. Measured once per (n, d, k) and
/// kept for the process, from its own seeded generator (the run's libtorch generator is left
/// alone, so results stay reproducible whether or not the value was cached).
pub fn gaussian_reference_bias(
    n: i64,
    d: i64,
    k: usize,
    device: tch::Device,
    block_values: i64,
) -> Result<f64, EstimateError> {
    use rand::SeedableRng;
    static CACHE: std::sync::Mutex<std::collections::BTreeMap<(i64, i64, usize), f64>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    if let Some(&bias) = crate::sync::lock(&CACHE).get(&(n, d, k)) {
        return Ok(bias);
    }
    let repetitions = (REFERENCE_POINTS / n).clamp(2, 16);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(((n as u64) << 32) ^ ((d as u64) << 8) ^ k as u64);
    let exact = d as f64 / 2.0 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
    let mut total = 0.0;
    for _ in 0..repetitions {
        let z = Tensor::from_slice(&standard_normal(&mut rng, (n * d) as usize)).view([n, d]).to_device(device);
        total += whitened_kl_entropy(&z, k, block_values)?.nats - exact;
    }
    let bias = total / repetitions as f64;
    crate::sync::lock(&CACHE).insert((n, d, k), bias);
    Ok(bias)
}

/// `count` independent standard normal values (Box–Muller).
fn standard_normal(rng: &mut impl rand::Rng, count: usize) -> Vec<f64> {
    let mut values = Vec::with_capacity(count + 1);
    while values.len() < count {
        let (u, v) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        let r = (-2.0 * u.ln()).sqrt();
        let (sin, cos) = (2.0 * std::f64::consts::PI * v).sin_cos();
        values.extend([r * cos, r * sin]);
    }
    values.truncate(count);
    values
}

/// Kozachenko–Leonenko entropy from the k-th neighbour distances ε `[n]` of n points in
/// dimension d.
pub fn kl_entropy_from_distances(eps: &Tensor, d: usize, k: usize) -> Result<KnnEstimate, EstimateError> {
    let n = eps.size()[0] as f64;
    let (sum_ln, ties) = sum_log(eps)?;
    let nats = digamma(n) - digamma(k as f64) + ln_unit_ball_volume(d) + d as f64 / n * sum_ln;
    Ok(KnnEstimate { nats, ties })
}

/// ρ_k(i) within p's sample and ν_k(i) from p's points to q's sample.
fn within_and_across(p: &Tensor, q: &Tensor, config: &KnnConfig) -> Result<(Tensor, Tensor), EstimateError> {
    let block = config.block_values_for(p.device(), p.size().last().copied().unwrap_or(1));
    let rho = kth_neighbour_distances(p, p, config.k, true, block)?;
    let nu = kth_neighbour_distances(p, q, config.k, false, block)?;
    Ok((rho, nu))
}

/// Póczos–Schneider estimate of D_α(p ‖ q) from samples of p (`[n, d]`) and q (`[m, d]`):
/// D̂_α = 1/(α − 1)·ln((1/n)·Σ_i [((n − 1)·ρ_k(i)^d)/(m·ν_k(i)^d)]^(1−α)·B_{k,α}),
/// B_{k,α} = Γ(k)²/(Γ(k − α + 1)·Γ(k + α − 1)). With α = ½ this is the perception index's
/// divergence.
pub fn renyi_divergence(p: &Tensor, q: &Tensor, config: &KnnConfig) -> Result<KnnEstimate, EstimateError> {
    let ((_, d), (m, _)) = (rows_cols(p)?, rows_cols(q)?);
    let (rho, nu) = within_and_across(p, q, config)?;
    renyi_from_distances(&rho, &nu, m, d, config.k, config.alpha)
}

/// Póczos–Schneider D̂_α from ρ_k `[n]` (within p's n points) and ν_k `[n]` (to q's m points).
pub fn renyi_from_distances(
    rho: &Tensor,
    nu: &Tensor,
    m: i64,
    d: i64,
    k: usize,
    alpha: f64,
) -> Result<KnnEstimate, EstimateError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(EstimateError::Shape(format!("Rényi order α must be in (0, 1), got {alpha}")));
    }
    let n = rho.size()[0];
    let ties = i64::try_from(rho.le(0.0).logical_or(&nu.le(0.0)).sum(Kind::Int64)).map_err(err)? as usize;
    let log_ratio = (rho.log() - nu.log()) * d as f64 + ((n - 1) as f64).ln() - (m as f64).ln();
    let terms = log_ratio * (1.0 - alpha);
    let log_mean = terms.logsumexp([0].as_slice(), false).double_value(&[]) - (n as f64).ln();
    let k = k as f64;
    let ln_b = 2.0 * ln_gamma(k) - ln_gamma(k - alpha + 1.0) - ln_gamma(k + alpha - 1.0);
    Ok(KnnEstimate { nats: (log_mean + ln_b) / (alpha - 1.0), ties })
}

/// Wang–Kulkarni–Verdú estimate of KL(p ‖ q), for cross-checks.
pub fn kl_divergence(p: &Tensor, q: &Tensor, config: &KnnConfig) -> Result<KnnEstimate, EstimateError> {
    let ((_, d), (m, _)) = (rows_cols(p)?, rows_cols(q)?);
    let (rho, nu) = within_and_across(p, q, config)?;
    kl_divergence_from_distances(&rho, &nu, m, d)
}

/// Wang–Kulkarni–Verdú KL from ρ_k and ν_k, as [`renyi_from_distances`].
pub fn kl_divergence_from_distances(rho: &Tensor, nu: &Tensor, m: i64, d: i64) -> Result<KnnEstimate, EstimateError> {
    let n = rho.size()[0];
    let (ln_nu, ties_nu) = sum_log(nu)?;
    let (ln_rho, ties_rho) = sum_log(rho)?;
    let nats = d as f64 / n as f64 * (ln_nu - ln_rho) + (m as f64 / (n - 1) as f64).ln();
    Ok(KnnEstimate { nats, ties: ties_nu + ties_rho })
}

/// Adds independent uniform noise on [−step/2, step/2) to every value, drawn from libtorch's
/// generator (seed it first). For quantised data (8-bit images: one grey level, step = 1/255 on
/// a [0, 1] scale) this removes ties at the cost of a known entropy shift of d·ln(step) nats for
/// a discrete law (documented wherever it is used).
pub fn dequantize(samples: &Tensor, step: f64) -> Tensor {
    samples + (Tensor::rand_like(samples) - 0.5) * step
}

/// The device-independent reference of [`kth_neighbour_distances`] for tests: brute force on
/// the CPU over all pairs.
#[cfg(test)]
fn brute_force_kth(q: &Tensor, r: &Tensor, k: usize, exclude_self: bool) -> Vec<f64> {
    let q = Vec::<Vec<f64>>::try_from(q.to_device(tch::Device::Cpu)).unwrap();
    let r = Vec::<Vec<f64>>::try_from(r.to_device(tch::Device::Cpu)).unwrap();
    q.iter()
        .enumerate()
        .map(|(i, a)| {
            let mut dist: Vec<f64> = r
                .iter()
                .enumerate()
                .filter(|(j, _)| !(exclude_self && *j == i))
                .map(|(_, b)| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt())
                .collect();
            dist.sort_by(f64::total_cmp);
            dist[k - 1]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn normal(n: i64, d: i64, seed: i64) -> Tensor {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(seed);
        Tensor::randn([n, d], (Kind::Double, Device::Cpu))
    }

    #[test]
    fn cpu_blocks_grow_with_threads_and_dimension_from_the_two_core_default() {
        assert_eq!(cpu_block_values(16, 2), 1 << 18);
        assert_eq!(cpu_block_values(64, 1), 1 << 18);
        assert_eq!(cpu_block_values(16, 16), 1 << 22);
        assert_eq!(cpu_block_values(16, 64), 1 << 22);
        let four = cpu_block_values(16, 4);
        assert!(four > 1 << 18 && four < 1 << 20, "{four}");
        assert_eq!(cpu_block_values(243, 2), 1 << 22);
        let set = KnnConfig { block_values: Some(1000), ..KnnConfig::default() };
        assert_eq!(set.block_values_for(Device::Cpu, 243), 1000);
        assert_eq!(KnnConfig::default().block_values_for(Device::Cuda(0), 16), 1 << 26);
    }

    #[test]
    fn blocked_neighbours_equal_brute_force_for_any_block_size() {
        let q = normal(37, 3, 1);
        let r = normal(53, 3, 2);
        for block in [1i64, 7, 100, 1 << 20] {
            for (k, same) in [(1, false), (4, false), (3, true)] {
                let reference = if same { &q } else { &r };
                let got =
                    Vec::<f64>::try_from(kth_neighbour_distances(&q, reference, k, same, block).unwrap()).unwrap();
                let want = brute_force_kth(&q, reference, k, same);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-12, "block {block}, k {k}: {g} vs {w}");
                }
            }
        }
    }

    /// Two clusters 2·10⁴ apart, each 10⁻² wide: centred on their common mean every point has a
    /// squared norm of 10⁸, so float32's expansion errs by more than the squared distances within
    /// a cluster and picks its candidates at random. The certificate sends those rows to float64.
    #[test]
    fn rows_float32_cannot_rank_are_searched_again_in_float64() {
        let spread = normal(120, 4, 5) * 1e-2;
        let sides = Tensor::cat(
            &[
                Tensor::full([60, 1], 1e4, (Kind::Double, Device::Cpu)),
                Tensor::full([60, 1], -1e4, (Kind::Double, Device::Cpu)),
            ],
            0,
        );
        let points = spread + sides;
        for (k, block) in [(1, 1 << 20), (3, 1 << 20), (4, 50)] {
            let got = Vec::<f64>::try_from(kth_neighbour_distances(&points, &points, k, true, block).unwrap()).unwrap();
            let want = brute_force_kth(&points, &points, k, true);
            for (g, w) in got.iter().zip(&want) {
                assert!((g / w - 1.0).abs() < 1e-9, "k {k}, block {block}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn small_distances_survive_cancellation() {
        // Points far from the origin, 1e-7 apart: ‖a‖² + ‖b‖² − 2a·b loses them, the exact
        // recomputation does not.
        let base = Tensor::from_slice(&[1e4f64, -2e4, 3e4]).reshape([1, 3]);
        let near = &base + Tensor::from_slice(&[1e-7f64, 0.0, 0.0]).reshape([1, 3]);
        let far = &base + 1.0;
        let points = Tensor::cat(&[base.shallow_clone(), near, far], 0);
        let eps = Vec::<f64>::try_from(kth_neighbour_distances(&points, &points, 1, true, 1 << 20).unwrap()).unwrap();
        assert!((eps[0] - 1e-7).abs() < 1e-9, "{eps:?}");
    }

    #[test]
    fn ties_are_counted() {
        let points = Tensor::from_slice(&[0.0f64, 0.0, 1.0, 2.0, 3.0]).reshape([5, 1]);
        let est = kl_entropy(&points, &KnnConfig { k: 1, ..KnnConfig::default() }).unwrap();
        assert_eq!(est.ties, 2);
        assert_eq!(est.nats, f64::NEG_INFINITY);
    }

    #[test]
    fn kl_entropy_of_gaussians_is_close_to_exact() {
        for d in [1i64, 4, 8] {
            let x = normal(10_000, d, 7 + d);
            let est = kl_entropy(&x, &KnnConfig::default()).unwrap();
            let exact = 0.5 * d as f64 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
            assert!((est.nats / exact - 1.0).abs() < 0.02, "d = {d}: {} vs {exact}", est.nats);
        }
    }

    #[test]
    fn kl_entropy_at_d_16_is_within_the_studied_two_percent() {
        // docs/estimators.md: +4.7 % in entropy power, +1.6 % in entropy, at d = 16, n = 16,000,
        // k = 5 (SciPy's cKDTree gives the same +1.6 %, theory.md).
        let x = normal(16_000, 16, 99);
        let est = kl_entropy(&x, &KnnConfig::default()).unwrap();
        let exact = 8.0 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
        let rel = est.nats / exact - 1.0;
        assert!(rel > 0.0 && rel < 0.02, "relative error {rel}");
    }

    /// A fixed anisotropic map: scales 0.1 to 3 along a rotated basis, and its ln|det|.
    fn anisotropic(d: i64) -> (Tensor, f64) {
        let scales = Tensor::linspace(0.1f64.ln(), 3f64.ln(), d, (Kind::Double, Device::Cpu)).exp();
        let (q, _) = Tensor::linalg_qr(&normal(d, d, 99), "reduced");
        let a = q.matmul(&scales.diag(0));
        (a, scales.log().sum(Kind::Double).double_value(&[]))
    }

    #[test]
    fn whitened_entropy_moves_by_exactly_ln_det_under_an_affine_map() {
        let x = normal(500, 6, 11);
        let (a, ln_det) = anisotropic(6);
        let y = x.matmul(&a.tr()) + 5.0;
        let hx = whitened_kl_entropy(&x, 3, 1 << 18).unwrap().nats;
        let hy = whitened_kl_entropy(&y, 3, 1 << 18).unwrap().nats;
        assert!((hy - hx - ln_det).abs() < 1e-9, "{hy} − {hx} vs ln|det A| = {ln_det}");
    }

    #[test]
    fn bias_correction_makes_an_anisotropic_gaussian_exact_at_d_16() {
        // docs/estimators.md: uncorrected, +7.0 % in entropy power at d = 16, n = 4000, k = 5
        // on N(0, I); corrected it is within a few tenths of a percent on every Gaussian.
        let d = 16;
        let (a, ln_det) = anisotropic(d);
        let x = normal(4000, d, 21).matmul(&a.tr());
        let exact = d as f64 / 2.0 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln() + ln_det;
        let power_error = |h: f64| (2.0 * (h - exact) / d as f64).exp() - 1.0;
        let plain = kl_entropy(&x, &KnnConfig::default()).unwrap().nats;
        let config = KnnConfig { bias_correction: true, ..KnnConfig::default() };
        let corrected = kl_entropy(&x, &config).unwrap().nats;
        assert!(power_error(plain) > 0.04, "uncorrected error {}", power_error(plain));
        assert!(power_error(corrected).abs() < 0.01, "corrected error {}", power_error(corrected));
        assert_eq!(kl_entropy(&x, &config).unwrap().nats, corrected, "the cached bias changed the result");
    }

    #[test]
    fn bias_correction_needs_more_points_than_dimensions() {
        let x = normal(10, 12, 5);
        let config = KnnConfig { bias_correction: true, k: 2, ..KnnConfig::default() };
        let message = kl_entropy(&x, &config).unwrap_err().to_string();
        assert!(message.contains("n = 10, d = 12"), "{message}");
    }

    #[test]
    fn renyi_half_between_two_gaussians_is_close_to_the_closed_form() {
        // D½(N(0, I) ‖ N(μ, 2I)) in d = 2 with μ = (1, 0).
        let p = normal(8000, 2, 3);
        let q = normal(8000, 2, 4) * 2f64.sqrt() + Tensor::from_slice(&[1.0f64, 0.0]);
        let est = renyi_divergence(&p, &q, &KnnConfig::default()).unwrap();
        let exact = crate::estimate::gaussian::d_half(
            &Tensor::from_slice(&[0.0f64, 0.0]),
            &Tensor::eye(2, (Kind::Double, Device::Cpu)),
            &Tensor::from_slice(&[1.0f64, 0.0]),
            &(Tensor::eye(2, (Kind::Double, Device::Cpu)) * 2.0),
        )
        .unwrap()
        .double_value(&[]);
        assert!((est.nats - exact).abs() < 0.03, "{} vs {exact}", est.nats);
        let kl = kl_divergence(&p, &q, &KnnConfig::default()).unwrap();
        // KL(N(0, I) ‖ N(μ, 2I)) = ½[tr(Σ2⁻¹Σ1) + μᵀΣ2⁻¹μ − d + ln(|Σ2|/|Σ1|)] = ½[1 + ½ − 2 + 2 ln 2]
        let kl_exact = 0.5 * (1.0 + 0.5 - 2.0 + 2.0 * 2f64.ln());
        assert!((kl.nats - kl_exact).abs() < 0.03, "{} vs {kl_exact}", kl.nats);
    }
}
