//! The dataset registry: which image sets exist, where their files lie under the data directory
//! and their SHA-256 checksums (`benchmarks/datasets.toml`, compiled in), and the check of a data
//! directory against it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The registry file, compiled in.
pub const REGISTRY: &str = include_str!("../../../../benchmarks/datasets.toml");

/// The environment variable naming the data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "UPBENCH_DATA_DIR";

/// One file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetFile {
    /// Path relative to the set's folder, e.g. `hr/img_001.png`.
    pub path: String,
    /// Its name under the set's `source`, e.g. `img_001_SRF_4_HR.png`.
    pub from: String,
    /// Expected SHA-256, hex.
    pub sha256: String,
}

/// One image set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Folder name under the data directory, e.g. `set5`.
    pub name: String,
    /// One line for listings.
    pub description: String,
    /// Base URL of the public copy the files are fetched from.
    pub source: String,
    /// Every file with its checksum.
    pub files: Vec<DatasetFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    set: Vec<Dataset>,
}

/// Why a data directory does not hold a set as registered.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The registry names no such set.
    #[error("unknown dataset '{name}' (known: {known})")]
    UnknownSet {
        /// The name asked for.
        name: String,
        /// Registered names.
        known: String,
    },
    /// A registered file is absent.
    #[error("{path}: missing (dataset {set}); check --data-dir or {DATA_DIR_ENV}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// Its set.
        set: String,
    },
    /// A file is present but its bytes differ from the registry's.
    #[error("{path}: checksum mismatch (dataset {set}): expected {expected}, found {found}; the file is corrupt or a different version")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Its set.
        set: String,
        /// Registered SHA-256.
        expected: String,
        /// Computed SHA-256.
        found: String,
    },
}

/// Every registered set, in registry order.
pub fn datasets() -> Vec<Dataset> {
    toml::from_str::<RegistryFile>(REGISTRY).expect("the compiled-in registry parses (checked by a test)").set
}

/// The set named `name`.
pub fn dataset(name: &str) -> Result<Dataset, DataError> {
    let all = datasets();
    let known = all.iter().map(|d| d.name.clone()).collect::<Vec<_>>().join(", ");
    all.into_iter().find(|d| d.name == name).ok_or(DataError::UnknownSet { name: name.into(), known })
}

/// The data directory: the explicit one, else `UPBENCH_DATA_DIR`, else `./datasets`.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("datasets"))
}

impl Dataset {
    /// The ground-truth images, relative to the set's folder: those under `hr/` when the set
    /// has low-resolution companions, else every image.
    pub fn ground_truths(&self) -> Vec<String> {
        let hr: Vec<String> = self.files.iter().filter(|f| f.path.starts_with("hr/")).map(|f| f.path.clone()).collect();
        if !hr.is_empty() {
            return hr;
        }
        self.files.iter().filter(|f| !f.path.contains('/')).map(|f| f.path.clone()).collect()
    }

    /// The set's stored ×`scale` low-resolution companion of the ground truth `truth` (`hr/x.png`
    /// → `lr_x4/x.png`), when the registry lists one: the file published tables fed the models.
    pub fn stored_lr(&self, truth: &str, scale: usize) -> Option<String> {
        let path = format!("lr_x{scale}/{}", truth.strip_prefix("hr/")?);
        self.files.iter().any(|f| f.path == path).then_some(path)
    }

    /// Whether every ground truth has a stored ×`scale` companion.
    pub fn ships_lr(&self, scale: usize) -> bool {
        let truths = self.ground_truths();
        !truths.is_empty() && truths.iter().all(|t| self.stored_lr(t, scale).is_some())
    }

    /// Checks every file of the set under `data_dir`; all problems, not just the first.
    pub fn verify(&self, data_dir: &Path) -> Vec<DataError> {
        let mut problems = Vec::new();
        for f in &self.files {
            let path = data_dir.join(&self.name).join(&f.path);
            match std::fs::read(&path) {
                Err(_) => problems.push(DataError::Missing { path, set: self.name.clone() }),
                Ok(bytes) => {
                    let found = format!("{:x}", Sha256::digest(&bytes));
                    if found != f.sha256 {
                        problems.push(DataError::Checksum {
                            path,
                            set: self.name.clone(),
                            expected: f.sha256.clone(),
                            found,
                        });
                    }
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_parses_and_lists_the_four_sets() {
        let names: Vec<String> = datasets().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["set5", "set14", "bsd100", "kodak24"]);
        assert_eq!(dataset("set5").unwrap().files.len(), 10);
        assert_eq!(dataset("bsd100").unwrap().files.len(), 200);
        assert!(dataset("div2k").unwrap_err().to_string().contains("known: set5, set14, bsd100, kodak24"));
    }

    #[test]
    fn the_sr_sets_ship_x4_lr_files_and_kodak24_none() {
        for set in ["set5", "set14", "bsd100"] {
            let set = dataset(set).unwrap();
            assert!(set.ships_lr(4) && !set.ships_lr(2), "{}", set.name);
            assert_eq!(set.stored_lr("hr/img_002.png", 4).as_deref(), Some("lr_x4/img_002.png"));
        }
        let kodak = dataset("kodak24").unwrap();
        assert!(!kodak.ships_lr(4) && kodak.stored_lr("kodim01.png", 4).is_none());
    }
}
