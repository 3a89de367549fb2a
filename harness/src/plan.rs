//! Stage 1: the run as a plan of cells. A cell is one task × one plugin configuration, the unit
//! that runs (in a worker process or in the harness's own), is logged when it completes and is
//! skipped on resume. Its id is derived from its content — the task's definition, the plugin
//! library's SHA-256, the configuration's parameters, the seed and the settings that change
//! numbers — so the same suite with the same binaries always yields the same cells, and a changed
//! plugin or task yields new ones.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use upbench_sdk::TaskKind;

use crate::check::CheckedSuite;
use crate::suite::Suite;

/// One task × one plugin configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the plan: results are assembled in this order, however cells ran.
    pub index: usize,
    /// Content hash (16 hex digits), stable across runs of the same suite and binaries.
    pub id: String,
    /// The task's name in the suite (image tasks: one cell covers every patch side).
    pub task: String,
    /// Exact or image task.
    pub task_type: TaskType,
    /// Index of its `[[plugin]]` entry in the suite.
    pub entry: usize,
    /// The configuration's label (unique within its entry).
    pub label: String,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin library.
    pub library: PathBuf,
    /// SHA-256 of the library file, hex.
    pub library_sha256: String,
    /// A relative cost (about the values its task makes per configuration), to balance shards.
    #[serde(default)]
    pub cost: u64,
}

impl Cell {
    /// How failures name it: the configuration, its library and the cell id.
    pub fn subject(&self) -> String {
        format!("{} ({})", self.label, self.library.display())
    }
}

/// Which kind of `[[task]]` a cell belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskType {
    /// A `[[task]]` with a closed-form posterior.
    #[default]
    Exact,
    /// An `[[image_task]]` on a registered set.
    Image,
}

/// Every cell of a checked suite, in run order: tasks in suite order (exact, then image), and
/// within a task the plugin entries and their sweeps in suite order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The cells.
    pub cells: Vec<Cell>,
}

/// Settings outside the task and plugin that change a cell's numbers; part of every id.
#[derive(Serialize)]
struct Shared<'a> {
    seed: u64,
    sampling: &'a crate::suite::SamplingConfig,
    estimator: &'a crate::estimate::EstimatorConfig,
    statistics: &'a crate::suite::StatisticsConfig,
    threads: usize,
    device: &'a str,
}

impl Plan {
    /// The cells of the runnable tasks and the entries that passed the checks.
    pub fn new(suite: &Suite, checked: &CheckedSuite<'_>, device: tch::Device) -> Plan {
        let file = &suite.file;
        let device = crate::device::device_name(device);
        let shared = Shared {
            seed: file.seed,
            sampling: &file.sampling,
            estimator: &file.estimator,
            statistics: &file.statistics,
            threads: file.threads.unwrap_or(crate::suite::DEFAULT_THREADS),
            device: &device,
        };
        let mut tasks: Vec<(String, TaskType, Option<TaskKind>, serde_json::Value, u64)> = Vec::new();
        let (n, k) = (file.sampling.observations as f64, file.sampling.samples_per_observation as f64);
        for task in file.tasks.iter().filter(|t| checked.runnable(&t.name)) {
            let resolved = task.resolve().ok();
            let kind = resolved.as_ref().map(|(_, _, op)| op.kind());
            let dim = resolved.map_or(1.0, |(d, _, _)| d as f64);
            tasks.push((task.name.clone(), TaskType::Exact, kind, definition(task), (n * k * dim) as u64));
        }
        for task in file.image_tasks.iter().filter(|t| checked.runnable(&t.name)) {
            let kind = Some(task.degradation.kind());
            tasks.push((task.name.clone(), TaskType::Image, kind, definition(task), image_task_cost(task) as u64));
        }
        let mut cells = Vec::new();
        let mut files = FileHashes::default();
        for (name, task_type, kind, definition, cost) in &tasks {
            let Some(kind) = kind else { continue };
            for entry in &checked.entries {
                let plugin = &checked.libraries[entry.library].1;
                if !plugin.metadata.supports(*kind) || !entry.entry.runs_on(name) {
                    continue;
                }
                for config in &entry.configs {
                    let params: Vec<(String, String)> =
                        config.params.entries.iter().map(|p| (p.name.to_string(), p.value.to_string())).collect();
                    let content = serde_json::json!({
                        "task": definition,
                        "plugin": plugin.sha256,
                        "params": params,
                        "files": files.of_paths(plugin, &config.params),
                        "shared": &shared,
                    });
                    cells.push(Cell {
                        index: cells.len(),
                        id: content_id(&content),
                        task: name.clone(),
                        task_type: *task_type,
                        entry: entry.index,
                        label: config.label.clone(),
                        plugin: plugin.name().to_string(),
                        library: plugin.path.clone(),
                        library_sha256: plugin.sha256.clone(),
                        cost: *cost,
                    });
                }
            }
        }
        Plan { cells }
    }

    /// The cells of shard `index` of `count` (0-based): every cell lands in exactly one shard,
    /// the same for every process that plans the same suite. Cells go, costliest first, to the
    /// shard whose load (costs, plus a build of the cell's task where the shard has none of its
    /// cells yet) stays lowest, ties to the lowest shard: a greedy longest-processing-time
    /// balance that keeps a task's cells together when that costs nothing.
    pub fn shard(&self, index: usize, count: usize) -> Vec<usize> {
        let count = count.max(1);
        let mut order: Vec<&Cell> = self.cells.iter().collect();
        order.sort_by(|a, b| b.cost.cmp(&a.cost).then(a.index.cmp(&b.index)));
        let mut load = vec![0u64; count];
        let mut tasks: Vec<Vec<&str>> = vec![Vec::new(); count];
        let mut assigned = vec![Vec::new(); count];
        for cell in order {
            // Building a task (its data, N(X|Y)) costs about a configuration's evaluation.
            let placed = |s: usize| load[s] + if tasks[s].contains(&cell.task.as_str()) { 0 } else { cell.cost };
            let best = (0..count).min_by_key(|&s| (placed(s), s)).unwrap_or(0);
            load[best] = placed(best) + cell.cost;
            if !tasks[best].contains(&cell.task.as_str()) {
                tasks[best].push(&cell.task);
            }
            assigned[best].push(cell.index);
        }
        let mut mine = std::mem::take(&mut assigned[index.min(count - 1)]);
        mine.sort_unstable();
        mine
    }

    /// What changed from `before` to this plan, one line per cell that only one of them has
    /// (a changed plugin binary or task changes ids): empty when they agree.
    pub fn differences(&self, before: &Plan) -> Vec<String> {
        let mut lines = Vec::new();
        let has = |plan: &Plan, id: &str| plan.cells.iter().any(|c| c.id == id);
        for old in before.cells.iter().filter(|c| !has(self, &c.id)) {
            let now = self.cells.iter().find(|c| c.task == old.task && c.entry == old.entry && c.label == old.label);
            lines.push(match now {
                Some(now) if now.library_sha256 != old.library_sha256 => format!(
                    "{} on {}: plugin library {} changed (SHA-256 {} then, {} now)",
                    old.label,
                    old.task,
                    now.library.display(),
                    short(&old.library_sha256),
                    short(&now.library_sha256)
                ),
                Some(_) => format!("{} on {}: its task or settings changed", old.label, old.task),
                None => format!("- {} on {}: no longer in the suite", old.label, old.task),
            });
        }
        for new in self.cells.iter().filter(|c| !has(before, &c.id)) {
            if !before.cells.iter().any(|c| c.task == new.task && c.entry == new.entry && c.label == new.label) {
                lines.push(format!("+ {} on {}: not in the interrupted run", new.label, new.task));
            }
        }
        lines
    }
}

/// SHA-256s of the files that path parameters name (a TorchScript module, say): part of a
/// cell's content, so that a changed file makes new cells. Each file is read once per plan.
#[derive(Default)]
struct FileHashes(std::collections::BTreeMap<String, String>);

impl FileHashes {
    /// `(parameter, SHA-256)` for every path parameter of `params` (`missing` for a file that
    /// cannot be read: the model's construction says why).
    fn of_paths(
        &mut self,
        plugin: &crate::plugin::LoadedPlugin,
        params: &upbench_sdk::Params,
    ) -> Vec<(String, String)> {
        let paths = plugin.metadata.params.iter().filter(|s| s.kind == upbench_sdk::ParamKind::PATH);
        paths
            .filter_map(|spec| {
                let path = params.text(&spec.name).ok()?;
                let hash = self.0.entry(path.to_string()).or_insert_with(|| {
                    std::fs::read(path)
                        .map_or_else(|_| "missing".to_string(), |bytes| format!("{:x}", Sha256::digest(bytes)))
                });
                Some((spec.name.to_string(), hash.clone()))
            })
            .collect()
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A relative cost of one configuration on an image task: images × K × pixels × patch sides
/// (registered sets: their image count and a typical 2.5·10⁵ pixels).
fn image_task_cost(task: &crate::task::images::ImageTaskConfig) -> f64 {
    let (images, pixels) = if task.dataset == crate::task::images::DEAD_LEAVES {
        let side = task.image_size.unwrap_or(192) as f64;
        (task.images.unwrap_or(8) as f64, side * side)
    } else {
        let registered = crate::task::images::registry::dataset(&task.dataset).map_or(1, |s| s.ground_truths().len());
        (task.images.unwrap_or(registered).min(registered) as f64, 2.5e5)
    };
    images * task.samples_per_image as f64 * pixels * task.patches.len().max(1) as f64
}

/// A task's definition as JSON (its suite table, defaults filled in by serde).
fn definition(task: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(task).unwrap_or(serde_json::Value::Null)
}

/// The first 16 hex digits of the SHA-256 of `content`'s JSON with object keys sorted (by hand:
/// serde_json keeps insertion order when any crate in the build enables `preserve_order`).
fn content_id(content: &serde_json::Value) -> String {
    let mut text = String::new();
    canonical(content, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{content_id, Cell, Plan};

    fn cell(index: usize, id: &str, label: &str, sha: &str) -> Cell {
        Cell {
            index,
            id: id.into(),
            task: "t".into(),
            label: label.into(),
            library: "libp.so".into(),
            library_sha256: sha.into(),
            ..Cell::default()
        }
    }

    #[test]
    fn differences_name_changed_libraries_and_lost_or_new_cells() {
        let before = Plan { cells: vec![cell(0, "a", "p(x=1)", "aaaa"), cell(1, "b", "p(x=2)", "aaaa")] };
        assert!(before.differences(&before).is_empty());
        let rebuilt = Plan { cells: vec![cell(0, "c", "p(x=1)", "bbbb"), cell(1, "d", "p(x=3)", "bbbb")] };
        let lines = rebuilt.differences(&before);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("p(x=1) on t: plugin library libp.so changed (SHA-256 aaaa then, bbbb now)"));
        assert!(lines[1].starts_with("- p(x=2) on t"));
        assert!(lines[2].starts_with("+ p(x=3) on t"));
    }

    #[test]
    fn ids_follow_content_not_key_order() {
        let a = serde_json::json!({"x": 1, "y": [1, 2]});
        let b: serde_json::Value = serde_json::from_str(r#"{"y": [1, 2], "x": 1}"#).unwrap();
        assert_eq!(content_id(&a), content_id(&b));
        assert_ne!(content_id(&a), content_id(&serde_json::json!({"x": 2, "y": [1, 2]})));
        assert_eq!(content_id(&a).len(), 16);
    }
}
