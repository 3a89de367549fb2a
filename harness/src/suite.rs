//! Suite files: what to run, in TOML (format version [`SUITE_FORMAT`]).
//!
//! ```toml
//! seed = 7
//! [sampling]
//! observations = 32              # n: measurements y per task
//! samples_per_observation = 2048 # K: samples per y
//! [[task]]
//! name = "ar1-d16"
//! dim = 16
//! prior = { kind = "ar1", rho = 0.8 }
//! operator = { kind = "denoising", noise_std = 0.5 }
//! [[plugin]]
//! name = "gamma-optimal"
//! params = { gamma = [0.0, 0.5, 1.0] }   # an array sweeps
//! ```
//!
//! Unknown keys and wrong types are errors that name the file, line and column. Compatibility
//! rule: `format` is 1 today; a reader accepts files of its own format or older, and a later
//! format that changes meaning increments it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::estimate::quality::{Better, BuiltIn, Reference, ScriptedMetricSpec};
use crate::estimate::{EstimatorConfig, IntervalMethod, Intervals};
use crate::run::TimingConfig;
use crate::task::images::ImageTaskConfig;
use crate::task::TaskConfig;

/// The suite format this harness reads.
pub const SUITE_FORMAT: u32 = 1;

/// The default suite, compiled in: `upbench run` without a file runs it.
pub const DEFAULT_SUITE: &str = include_str!("../../benchmarks/default.toml");

fn default_format() -> u32 {
    SUITE_FORMAT
}

/// A parsed suite file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// Suite format version.
    #[serde(default = "default_format")]
    pub format: u32,
    /// Name for reports (defaults to the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Master seed; every random stream derives from it and the task and model names.
    pub seed: u64,
    /// How many observations and samples (exact tasks).
    #[serde(default)]
    pub sampling: SamplingConfig,
    /// Estimator settings.
    #[serde(default)]
    pub estimator: EstimatorConfig,
    /// Confidence intervals and verdict tolerance.
    #[serde(default)]
    pub statistics: StatisticsConfig,
    /// Throughput timing.
    #[serde(default = "default_timing")]
    pub timing: TimingConfig,
    /// libtorch's CPU (intra-op) threads for the run; [`DEFAULT_THREADS`] when absent, and
    /// `upbench run --threads` overrides it. Recorded in the manifest (`torch_threads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Seconds one cell (a task × a plugin configuration) may run in its worker process before
    /// it is stopped and recorded as failed; `upbench run --cell-timeout` overrides it (default
    /// `cli::config::DEFAULT_CELL_TIMEOUT_SECS`, six hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_timeout: Option<u64>,
    /// Directories searched for plugins named by `name`, relative to the suite file. The
    /// directory of the `upbench` executable is always searched last.
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
    /// The exact tasks.
    #[serde(rename = "task", default)]
    pub tasks: Vec<TaskConfig>,
    /// The image tasks.
    #[serde(rename = "image_task", default)]
    pub image_tasks: Vec<ImageTaskConfig>,
    /// The plugins and their parameter sweeps.
    #[serde(rename = "plugin")]
    pub plugins: Vec<PluginEntry>,
    /// `[metrics]`: the per-image quality metrics image tasks compute.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[[metric]]`: the suite's own learned metrics, as pinned TorchScript files; image tasks
    /// compute every one, after the built-ins.
    #[serde(rename = "metric", default, skip_serializing_if = "Vec::is_empty")]
    pub user_metrics: Vec<MetricEntry>,
}

/// One `[[metric]]`: a learned per-image metric as a TorchScript file, pinned by its SHA-256
/// (`docs/metrics.md`, "Your own metric"; the calling convention is
/// [`crate::estimate::quality::ScriptedMetric`]'s).
///
/// ```toml
/// [[metric]]
/// name = "lpips"
/// torchscript = "lpips_alex.pt"    # relative to the suite file
/// sha256 = "…"                     # the file's, 64 hex digits
/// reference = "full"               # forward(image, reference); "none": forward(image)
/// better = "lower"                 # or "higher"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricEntry {
    /// The column and record name; letters, digits, `-`, `_` and `.`, not a built-in's.
    pub name: toml::Spanned<String>,
    /// The TorchScript file, relative to the suite file.
    pub torchscript: toml::Spanned<String>,
    /// The file's SHA-256 (lowercase hex).
    pub sha256: toml::Spanned<String>,
    /// Whether the module takes the ground truth too.
    pub reference: Reference,
    /// Which way is better.
    pub better: Better,
}

impl MetricEntry {
    /// What the estimator needs, the path resolved against `base_dir` (the suite's folder).
    pub fn spec(&self, base_dir: &Path) -> ScriptedMetricSpec {
        let path = Path::new(self.torchscript.get_ref());
        ScriptedMetricSpec {
            name: self.name.get_ref().clone(),
            path: if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) },
            sha256: self.sha256.get_ref().to_ascii_lowercase(),
            reference: self.reference,
            better: self.better,
        }
    }

    /// Its name is usable (a CSV column, no built-in's) and its checksum has the form of one;
    /// the byte offset and text of what is wrong otherwise.
    fn problem(&self) -> Option<(usize, String)> {
        let name = self.name.get_ref();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || !name.chars().all(allowed) {
            let message = format!("metric name '{name}' must be letters, digits, '-', '_' or '.'");
            return Some((self.name.span().start, message));
        }
        if BuiltIn::parse(name).is_some() {
            let message = format!("metric name '{name}' is a built-in metric's; choose another name");
            return Some((self.name.span().start, message));
        }
        let sha = self.sha256.get_ref();
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            let message = format!("metric '{name}': sha256 must be 64 hex digits (sha256sum FILE), got '{sha}'");
            return Some((self.sha256.span().start, message));
        }
        None
    }
}

/// `[metrics]`: which per-image quality metrics (`docs/metrics.md`) image tasks compute on each
/// configuration's outputs and on the ground truth.
///
/// ```toml
/// [metrics]
/// measures = ["niqe", "brisque", "st-lpips"]   # or "none"
/// ```
///
/// Without it, every built-in metric whose parameter file is in the models directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `"none"`, or a list of `niqe`, `brisque`, `st-lpips`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<toml::Spanned<toml::Value>>,
}

/// Which metrics a suite asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsChoice {
    /// No `[metrics]` choice: every built-in metric whose parameter file is present.
    Default,
    /// These, in this order (empty: `"none"`).
    Chosen(Vec<BuiltIn>),
}

impl MetricsConfig {
    /// The choice, or the byte offset and text of what is wrong with it.
    pub fn choice(&self) -> Result<MetricsChoice, (usize, String)> {
        let Some(spanned) = &self.measures else { return Ok(MetricsChoice::Default) };
        let at = spanned.span().start;
        let known = || BuiltIn::ALL.map(BuiltIn::suite_name).join(", ");
        match spanned.get_ref() {
            toml::Value::String(s) if s == "none" => Ok(MetricsChoice::Chosen(Vec::new())),
            toml::Value::Array(items) => {
                let mut chosen = Vec::new();
                for item in items {
                    let name = item.as_str().ok_or_else(|| (at, format!("metrics measures: {item} is not a name")))?;
                    let metric = BuiltIn::parse(name).ok_or_else(|| {
                        (at, format!("unknown metric '{name}' in [metrics] measures; known: {}", known()))
                    })?;
                    if chosen.contains(&metric) {
                        return Err((at, format!("metric '{name}' is named twice in [metrics] measures")));
                    }
                    chosen.push(metric);
                }
                Ok(MetricsChoice::Chosen(chosen))
            }
            other => Err((at, format!("[metrics] measures must be \"none\" or a list of {}; got {other}", known()))),
        }
    }
}

/// libtorch CPU threads when neither the suite nor the command line says. Runs at one count are
/// reproducible bit for bit, but counts split libtorch's parallel sums differently, so results
/// at 1 and 2 threads differ in the last digits: a fixed default (not the core count) gives the
/// same numbers on every CPU machine. More threads (`--threads`) speed many-core runs and are
/// recorded in the manifest. CUDA work does not depend on it.
pub const DEFAULT_THREADS: usize = 1;

/// Sample counts of the exact tasks (image tasks have their own).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// n: measurements per task (the bootstrap's units).
    pub observations: usize,
    /// K: samples per measurement for stochastic models, and posterior draws per measurement.
    pub samples_per_observation: usize,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig { observations: 32, samples_per_observation: 2048 }
    }
}

fn default_timing() -> TimingConfig {
    TimingConfig::default()
}

/// `[statistics]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticsConfig {
    /// How confidence intervals are formed (`estimate::intervals`): Student-t with jackknife
    /// standard errors by default, or the percentile bootstrap.
    #[serde(default)]
    pub interval: IntervalMethod,
    /// Resamples of the percentile bootstrap (unused by the jackknife).
    #[serde(default = "default_resamples")]
    pub bootstrap_resamples: usize,
    /// Interval coverage.
    #[serde(default = "default_level")]
    pub confidence_level: f64,
    /// Relative tolerance of the optimal-band call.
    #[serde(default = "default_tolerance")]
    pub band_tolerance: f64,
}

fn default_resamples() -> usize {
    1000
}
fn default_level() -> f64 {
    0.95
}
fn default_tolerance() -> f64 {
    0.02
}

impl StatisticsConfig {
    /// The interval settings, with `seed` for the bootstrap's resampling.
    pub fn intervals(&self, seed: u64) -> Intervals {
        Intervals { method: self.interval, resamples: self.bootstrap_resamples, level: self.confidence_level, seed }
    }
}

impl Default for StatisticsConfig {
    fn default() -> Self {
        StatisticsConfig {
            interval: IntervalMethod::default(),
            bootstrap_resamples: default_resamples(),
            confidence_level: default_level(),
            band_tolerance: default_tolerance(),
        }
    }
}

/// One `[[plugin]]`: by name (searched in the plugin directories) or by path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// The plugin's metadata name.
    #[serde(default)]
    pub name: Option<String>,
    /// A library file, relative to the suite file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The tables' name for this entry's configurations, followed by the parameters it sweeps
    /// (default: the plugin's name followed by every parameter the entry sets).
    #[serde(default)]
    pub label: Option<String>,
    /// The tasks, by name, this entry runs on (default: every task the plugin solves).
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
    /// Parameter values; arrays sweep.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Spanned<toml::Value>>,
}

impl PluginEntry {
    /// Whether the entry runs on the task named `task` (when the plugin solves it).
    pub fn runs_on(&self, task: &str) -> bool {
        self.tasks.as_ref().is_none_or(|tasks| tasks.iter().any(|t| t == task))
    }

    /// How the suite refers to it.
    pub fn reference(&self) -> String {
        match (&self.name, &self.path) {
            (Some(n), _) => n.clone(),
            (None, Some(p)) => p.display().to_string(),
            (None, None) => "<unnamed plugin>".into(),
        }
    }
}

/// Why a suite file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// Unreadable file.
    #[error("{path}: cannot read suite file: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error (in the message, so not also a `source`: error chains would print it twice).
        cause: std::io::Error,
    },
    /// TOML syntax, unknown key or wrong type: toml's message names line and column.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// toml's message.
        message: String,
    },
    /// Well-formed but inconsistent.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// A suite with where it came from (for messages and relative paths).
#[derive(Debug, Clone)]
pub struct Suite {
    /// The parsed file.
    pub file: SuiteFile,
    /// The name shown in reports.
    pub name: String,
    /// The file's path, or `<default>` for the embedded suite.
    pub origin: String,
    /// Directory relative paths resolve against.
    pub base_dir: PathBuf,
    /// The text, for line and column look-ups.
    pub text: String,
}

impl Suite {
    /// Reads and parses the suite at `path`.
    pub fn load(path: &Path) -> Result<Suite, SuiteError> {
        let text =
            std::fs::read_to_string(path).map_err(|cause| SuiteError::Read { path: path.to_path_buf(), cause })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("suite").to_string();
        Suite::parse(&text, &path.display().to_string(), base, &stem)
    }

    /// The embedded default suite; its relative paths resolve against `base_dir`.
    pub fn embedded_default(base_dir: PathBuf) -> Result<Suite, SuiteError> {
        Suite::parse(DEFAULT_SUITE, "<default suite>", base_dir, "default")
    }

    /// Parses suite text.
    pub fn parse(text: &str, origin: &str, base_dir: PathBuf, stem: &str) -> Result<Suite, SuiteError> {
        let file: SuiteFile = toml::from_str(text).map_err(|e| SuiteError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let suite = Suite {
            name: file.name.clone().unwrap_or_else(|| stem.to_string()),
            file,
            origin: origin.to_string(),
            base_dir,
            text: text.to_string(),
        };
        suite.validate()?;
        Ok(suite)
    }

    /// An error located at byte `offset` of the text.
    pub fn error_at(&self, offset: usize, message: String) -> SuiteError {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        SuiteError::Invalid { path: self.origin.clone(), line, column, message }
    }

    /// The byte offset of the first `needle` in the text (0 when absent), for [`Suite::error_at`].
    pub fn offset_of(&self, needle: &str) -> usize {
        self.text.find(needle).unwrap_or(0)
    }

    /// The byte offset of the `index`-th `[[plugin]]` header (0 when the entries are written
    /// another way), for [`Suite::error_at`].
    pub fn plugin_entry_offset(&self, index: usize) -> usize {
        self.text.match_indices("[[plugin]]").nth(index).map_or(0, |(at, _)| at)
    }

    fn validate(&self) -> Result<(), SuiteError> {
        let f = &self.file;
        if f.format > SUITE_FORMAT {
            return Err(self.error_at(
                self.offset_of("format"),
                format!("suite format {} is newer than this harness reads ({SUITE_FORMAT}); upgrade upbench", f.format),
            ));
        }
        if f.cell_timeout == Some(0) {
            return Err(self.error_at(self.offset_of("cell_timeout"), "cell_timeout must be at least 1 second".into()));
        }
        if f.sampling.observations < 2 {
            return Err(self.error_at(
                self.offset_of("observations"),
                "observations must be at least 2 (32 or more for tight intervals)".into(),
            ));
        }
        if f.sampling.samples_per_observation < 2 {
            return Err(self.error_at(
                self.offset_of("samples_per_observation"),
                "samples_per_observation must be at least 2".into(),
            ));
        }
        if !(f.statistics.confidence_level > 0.0 && f.statistics.confidence_level < 1.0) {
            return Err(self.error_at(self.offset_of("confidence_level"), "confidence_level must be in (0, 1)".into()));
        }
        if f.statistics.bootstrap_resamples < 100 {
            return Err(
                self.error_at(self.offset_of("bootstrap_resamples"), "bootstrap_resamples must be at least 100".into())
            );
        }
        if f.threads == Some(0) {
            return Err(self.error_at(self.offset_of("threads"), "threads must be at least 1".into()));
        }
        self.validate_timing()?;
        self.file.metrics.choice().map_err(|(at, message)| self.error_at(at, message))?;
        self.validate_user_metrics()?;
        let mut names = std::collections::HashSet::new();
        for task in &f.image_tasks {
            if !names.insert(task.name.as_str()) {
                return Err(self.error_at(
                    self.offset_of(&format!("\"{}\"", task.name)),
                    format!("task name '{}' is used twice", task.name),
                ));
            }
        }
        for task in &f.tasks {
            if !names.insert(task.name.as_str()) {
                return Err(self.error_at(
                    self.offset_of(&format!("\"{}\"", task.name)),
                    format!("task name '{}' is used twice", task.name),
                ));
            }
            task.resolve().map_err(|e| self.error_at(self.offset_of(&format!("\"{}\"", task.name)), e.to_string()))?;
        }
        for p in &f.plugins {
            if p.name.is_some() == p.path.is_some() {
                return Err(self.error_at(
                    self.offset_of("[[plugin]]"),
                    format!("plugin '{}' needs exactly one of `name` and `path`", p.reference()),
                ));
            }
        }
        if (f.tasks.is_empty() && f.image_tasks.is_empty()) || f.plugins.is_empty() {
            return Err(
                self.error_at(0, "a suite needs at least one [[task]] or [[image_task]], and one [[plugin]]".into())
            );
        }
        Ok(())
    }

    /// The `[[metric]]` entries: names usable and distinct, checksums of the right form (the
    /// files themselves are checked by `check`).
    fn validate_user_metrics(&self) -> Result<(), SuiteError> {
        let metrics = &self.file.user_metrics;
        for (i, metric) in metrics.iter().enumerate() {
            if let Some((at, message)) = metric.problem() {
                return Err(self.error_at(at, message));
            }
            if metrics[..i].iter().any(|m| m.name.get_ref() == metric.name.get_ref()) {
                let message = format!("metric name '{}' is used by two [[metric]] entries", metric.name.get_ref());
                return Err(self.error_at(metric.name.span().start, message));
            }
        }
        Ok(())
    }

    /// The `[timing]` table: criterion's least sample size, a budget of at least 0 and positive
    /// warm-up and measurement times.
    fn validate_timing(&self) -> Result<(), SuiteError> {
        let t = &self.file.timing;
        if t.sample_size < 10 {
            return Err(self.error_at(
                self.offset_of("sample_size"),
                "timing sample_size must be at least 10 (criterion's least)".into(),
            ));
        }
        for (key, value) in
            [("budget_secs", t.budget_secs), ("warm_up_secs", t.warm_up_secs), ("measurement_secs", t.measurement_secs)]
        {
            let least_zero = key == "budget_secs";
            if !value.is_finite() || value < 0.0 || (!least_zero && value == 0.0) {
                let bound = if least_zero { "at least 0 (0: no extra calls)" } else { "positive" };
                return Err(self.error_at(self.offset_of(key), format!("timing {key} must be {bound}, got {value}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "seed = 1\n[sampling]\nobservations = 8\nsamples_per_observation = 64\n[[task]]\nname = \"t\"\npreset = \"example-1\"\n[[plugin]]\nname = \"posterior-mean\"\n";

    #[test]
    fn embedded_default_parses() {
        Suite::embedded_default(PathBuf::from(".")).unwrap();
    }

    #[test]
    fn minimal_suite_gets_defaults() {
        let s = Suite::parse(MINIMAL, "m.toml", PathBuf::new(), "m").unwrap();
        assert_eq!(s.name, "m");
        assert_eq!(s.file.statistics.confidence_level, 0.95);
        assert_eq!(s.file.timing, crate::run::TimingConfig::default());
    }

    #[test]
    fn knn_estimator_settings_parse() {
        let text = MINIMAL.replace("[[task]]", "[estimator]\nkind = \"knn\"\nknn = { k = 3, alpha = 0.25 }\n[[task]]");
        let s = Suite::parse(&text, "k.toml", PathBuf::new(), "k").unwrap();
        assert_eq!(s.file.estimator.kind, crate::estimate::EstimatorKind::Knn);
        assert_eq!((s.file.estimator.knn.k, s.file.estimator.knn.alpha), (3, 0.25));
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = MINIMAL.replace("[[task]]\nname = \"t\"", "[[task]]\nname = \"t\"\ndimension = 3");
        let err = Suite::parse(&text, "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.starts_with("s.toml: "), "{err}");
        assert!(err.contains("line 7, column 1"), "{err}");
        assert!(err.contains("unknown field `dimension`"), "{err}");
    }

    #[test]
    fn wrong_type_names_line_and_column() {
        let text = MINIMAL.replace("observations = 8", "observations = \"eight\"");
        let err = Suite::parse(&text, "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.contains("line 3, column 16"), "{err}");
    }

    #[test]
    fn metrics_are_chosen_by_name_and_a_bad_name_is_located() {
        let with = |m: &str| MINIMAL.replace("[[task]]", &format!("[metrics]\nmeasures = {m}\n[[task]]"));
        let s = Suite::parse(MINIMAL, "s.toml", PathBuf::new(), "s").unwrap();
        assert_eq!(s.file.metrics.choice(), Ok(MetricsChoice::Default));
        let s = Suite::parse(&with("[\"st-lpips\", \"niqe\"]"), "s.toml", PathBuf::new(), "s").unwrap();
        assert_eq!(s.file.metrics.choice(), Ok(MetricsChoice::Chosen(vec![BuiltIn::StLpips, BuiltIn::Niqe])));
        let s = Suite::parse(&with("\"none\""), "s.toml", PathBuf::new(), "s").unwrap();
        assert_eq!(s.file.metrics.choice(), Ok(MetricsChoice::Chosen(Vec::new())));
        let err = Suite::parse(&with("[\"niqe\", \"lpips\"]"), "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.starts_with("s.toml:6:12: unknown metric 'lpips'"), "{err}");
        let err = Suite::parse(&with("\"all\""), "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.starts_with("s.toml:6:12: [metrics] measures must be"), "{err}");
        let err = Suite::parse(&with("[\"niqe\", \"niqe\"]"), "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.contains("named twice"), "{err}");
        let text = MINIMAL.replace("[[task]]", "[metrics]\nmeasure = \"none\"\n[[task]]");
        let err = Suite::parse(&text, "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.contains("unknown field `measure`") && err.contains("line 6"), "{err}");
    }

    #[test]
    fn user_metrics_parse_and_bad_entries_are_located() {
        let sha = "ab".repeat(32);
        let entry = |name: &str, extra: &str| {
            format!("[[metric]]\nname = \"{name}\"\ntorchscript = \"m.pt\"\nsha256 = \"{sha}\"\nreference = \"full\"\nbetter = \"lower\"\n{extra}")
        };
        let parse =
            |metrics: &str| Suite::parse(&format!("{MINIMAL}{metrics}"), "s.toml", PathBuf::from("/suites"), "s");
        let s = parse(&(entry("lpips", "") + &entry("dists", ""))).unwrap();
        let spec = s.file.user_metrics[0].spec(&s.base_dir);
        assert_eq!((spec.name.as_str(), spec.path), ("lpips", PathBuf::from("/suites/m.pt")));
        assert_eq!((spec.reference, spec.better, spec.sha256), (Reference::Full, Better::Lower, sha.clone()));
        let err = |metrics: &str| parse(metrics).unwrap_err().to_string();
        // MINIMAL has 9 lines, then each entry's 6 from `[[metric]]`
        let e = err(&entry("niqe", ""));
        assert!(e.starts_with("s.toml:11:8: metric name 'niqe' is a built-in metric's"), "{e}");
        let e = err(&(entry("a", "") + &entry("a", "")));
        assert!(e.starts_with("s.toml:17:8: metric name 'a' is used by two [[metric]] entries"), "{e}");
        let e = err(&entry("a,b", ""));
        assert!(e.starts_with("s.toml:11:8: metric name 'a,b' must be"), "{e}");
        let e = err(&entry("a", "").replace(&sha, "abc"));
        assert!(e.starts_with("s.toml:13:10: metric 'a': sha256 must be 64 hex digits"), "{e}");
        let e = err(&entry("a", "").replace("\"full\"", "\"partial\""));
        assert!(e.contains("line 14, column 13") && e.contains("unknown variant `partial`"), "{e}");
        let e = err(&entry("a", "weights = 1\n"));
        assert!(e.contains("line 16") && e.contains("unknown field `weights`"), "{e}");
        let e = err(&entry("a", "").replace("sha256 = ", "sha = "));
        assert!(e.contains("sha"), "{e}");
    }

    #[test]
    fn inconsistent_values_are_located() {
        let text = MINIMAL.replace("observations = 8", "observations = 1");
        let err = Suite::parse(&text, "s.toml", PathBuf::new(), "s").unwrap_err().to_string();
        assert!(err.starts_with("s.toml:3:1: observations must be at least 2"), "{err}");
    }
}

#[cfg(test)]
mod parser_properties {
    use proptest::prelude::*;

    use super::{Suite, DEFAULT_SUITE};

    /// Whether `message` points into the file: `path:line:column` or TOML's "line N, column M".
    fn located(message: &str) -> bool {
        let after_origin = message.strip_prefix("suite.toml:").is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            parts.next().is_some_and(|l| l.parse::<usize>().is_ok())
                && parts.next().is_some_and(|c| c.parse::<usize>().is_ok())
        });
        after_origin || (message.contains("suite.toml") && message.contains("line ") && message.contains("column "))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any edit of a real suite parses or fails with an error naming the file and a position.
        #[test]
        fn edited_suites_never_panic_and_errors_are_located(
            start in any::<prop::sample::Index>(),
            removed in 0usize..40,
            inserted in "[a-z0-9_=\\[\\]{}\"'.,# \\n-]{0,12}",
        ) {
            let at = start.index(DEFAULT_SUITE.len());
            let at = (0..=at).rev().find(|&i| DEFAULT_SUITE.is_char_boundary(i)).unwrap_or(0);
            let end = (at + removed..=DEFAULT_SUITE.len()).find(|&i| DEFAULT_SUITE.is_char_boundary(i)).unwrap_or(DEFAULT_SUITE.len());
            let text = format!("{}{}{}", &DEFAULT_SUITE[..at], inserted, &DEFAULT_SUITE[end..]);
            if let Err(e) = Suite::parse(&text, "suite.toml", ".".into(), "suite") {
                let message = e.to_string();
                prop_assert!(located(&message), "not located: {}", message);
            }
        }

        /// Arbitrary text too.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            if let Err(e) = Suite::parse(&text, "suite.toml", ".".into(), "suite") {
                let message = e.to_string();
                prop_assert!(located(&message), "not located: {}", message);
            }
        }
    }
}
