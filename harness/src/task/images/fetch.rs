//! Fetching a registered set: every file from the set's public source (or a mirror laid out the
//! same way), checked against its SHA-256 before it is written, so a data directory never holds
//! a partial or corrupt file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::registry::Dataset;

/// Why a file could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The download (or the mirror's file) failed.
    #[error("{url}: cannot fetch ({reason}); dataset {set}")]
    Download {
        /// Where from.
        url: String,
        /// Its set.
        set: String,
        /// The transport's message.
        reason: String,
    },
    /// The bytes arrived but are not the registered ones; nothing was written.
    #[error("{url}: checksum mismatch (dataset {set}): expected {expected}, got {found}; {path} was not written")]
    Checksum {
        /// Where from.
        url: String,
        /// Its set.
        set: String,
        /// The file it was meant for.
        path: PathBuf,
        /// Registered SHA-256.
        expected: String,
        /// What arrived.
        found: String,
    },
    /// The data directory could not be written.
    #[error("{path}: cannot write ({reason})")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// What a fetch did.
#[derive(Debug, Default)]
pub struct FetchReport {
    /// Files downloaded and written.
    pub fetched: usize,
    /// Files already present with the right checksum.
    pub present: usize,
    /// Every file that could not be fetched.
    pub problems: Vec<FetchError>,
}

/// The bytes at `url`: `file://` URLs and plain paths are read from disk, `http(s)://` ones
/// downloaded.
fn get(url: &str) -> Result<Vec<u8>, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        let mut response = ureq::get(url).call().map_err(|e| e.to_string())?;
        return response.body_mut().with_config().limit(256 << 20).read_to_vec().map_err(|e| e.to_string());
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    std::fs::read(path).map_err(|e| e.to_string())
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Dataset {
    /// Fetches every file of the set that `data_dir` lacks or holds corrupt, from the set's
    /// `source`, or from `mirror` (a directory or URL holding `<set>/<from>`). Files are written
    /// only after their checksum matches, through a temporary name.
    pub fn fetch(&self, data_dir: &Path, mirror: Option<&str>) -> FetchReport {
        let base = match mirror {
            Some(m) => format!("{}/{}/", m.trim_end_matches('/'), self.name),
            None => format!("{}/", self.source.trim_end_matches('/')),
        };
        let mut report = FetchReport::default();
        for file in &self.files {
            let path = data_dir.join(&self.name).join(&file.path);
            if std::fs::read(&path).is_ok_and(|b| sha256(&b) == file.sha256) {
                report.present += 1;
                continue;
            }
            let url = format!("{base}{}", file.from);
            let bytes = match get(&url) {
                Ok(b) => b,
                Err(reason) => {
                    report.problems.push(FetchError::Download { url, set: self.name.clone(), reason });
                    continue;
                }
            };
            let found = sha256(&bytes);
            if found != file.sha256 {
                report.problems.push(FetchError::Checksum {
                    url,
                    set: self.name.clone(),
                    path,
                    expected: file.sha256.clone(),
                    found,
                });
                continue;
            }
            let partial = path.with_extension("part");
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&partial, &bytes))
                .and_then(|()| std::fs::rename(&partial, &path));
            match written {
                Ok(()) => report.fetched += 1,
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    report.problems.push(FetchError::Write { path, reason: e.to_string() });
                }
            }
        }
        report
    }
}
