//! A run's provenance at its start ([`manifest`]): what produced each number — the harness's
//! build, libtorch, the device, the suite's statistics settings and every plugin library's
//! checksum.

use crate::check::CheckedSuite;
use crate::device::device_name;
use crate::record::{git_commit, libtorch_build, Manifest, PluginRecord};
use crate::setup::RunPlan;

/// The run's provenance at its start (wall time 0).
pub fn manifest(plan: &RunPlan, checked: &CheckedSuite<'_>, started_at: String) -> Manifest {
    let file = &plan.suite.file;
    Manifest {
        run_id: plan.run_id.clone(),
        suite: plan.suite.name.clone(),
        suite_origin: plan.suite.origin.clone(),
        seed: file.seed,
        started_at,
        wall_secs: 0.0,
        upbench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: git_commit().into(),
        libtorch_version: libtorch_build().0.into(),
        libtorch_cuda: libtorch_build().1.into(),
        device: device_name(plan.device),
        cuda_available: tch::Cuda::is_available(),
        torch_threads: file.threads.unwrap_or(crate::suite::DEFAULT_THREADS) as i32,
        estimator: file.estimator,
        sampling: file.sampling,
        interval_method: file.statistics.interval,
        bootstrap_resamples: file.statistics.bootstrap_resamples,
        confidence_level: file.statistics.confidence_level,
        band_tolerance: file.statistics.band_tolerance,
        plugins: checked
            .libraries
            .iter()
            .map(|(_, p)| PluginRecord {
                name: p.name().into(),
                version: p.metadata.version.to_string(),
                path: p.path.display().to_string(),
                sha256: p.sha256.clone(),
                sdk_version: p.sdk_version.clone(),
            })
            .collect(),
        data_dir: (!file.image_tasks.is_empty()).then(|| plan.data_dir.display().to_string()),
    }
}

/// Now, RFC 3339, UTC, seconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
