//! Past one machine: a suite's shards merged equal one run bit for bit (timings aside), merge
//! refuses what does not belong together, and a real single-node Slurm cluster (Debian's
//! slurm-wlm, brought up by scripts/slurm-local) runs a sharded suite whose merge equals the
//! local run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use upbench::journal::Journal;

use crate::util::{data_dir, plugins, workspace, SuiteBuilder};

/// Two exact tasks and a small image task, ten cells of different costs.
fn suite() -> SuiteBuilder {
    SuiteBuilder::new(17)
        .name("sharded")
        .task(
            "ar1-d4",
            r#"dim = 4
            prior = { kind = "ar1", rho = 0.6 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .task(
            "white-d8",
            r#"dim = 8
            prior = { kind = "identity" }
            operator = { kind = "denoising", noise_std = 1.0 }"#,
        )
        .image_task(
            "leaves",
            r#"dataset = "dead-leaves"
            images = 8
            image_size = 64
            degradation = { kind = "super-resolution", scale = 4 }
            samples_per_image = 4
            patches = [3]
            inherent = { model = "none" }"#,
        )
        .plugin_with("gamma-optimal", "gamma = [0.25, 1.0]")
        .plugin("posterior-mean")
        .plugin_with("isotropic-noise", "tau = 0.3")
        .plugin("bicubic")
        .plugin_with("gaussian-prior", r#"gamma = [0.0, 1.0], training = "dead-leaves""#)
}

fn upbench() -> Command {
    plugins();
    let mut cmd = Command::cargo_bin("upbench").unwrap();
    cmd.env("UPBENCH_DATA_DIR", data_dir());
    cmd
}

/// Runs `upbench` with `args`, asserting its exit code; returns stderr.
fn expect(args: &[&std::ffi::OsStr], code: i32) -> String {
    let out = upbench().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "upbench {args:?}: {stderr}");
    stderr
}

/// The only run directory under `dir`.
fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// What must not differ between a merged and a whole run: tasks, results (throughput aside) and
/// failures, as JSON.
fn numbers(run_dir: &Path) -> serde_json::Value {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    for result in json["results"].as_array_mut().unwrap() {
        result.as_object_mut().unwrap().remove("timing");
    }
    serde_json::json!({ "tasks": json["tasks"], "results": json["results"], "failures": json["failures"] })
}

fn write_suite(dir: &Path) -> PathBuf {
    suite().write(dir, "sharded.toml")
}

/// Runs `suite` whole, unsharded, into `dir/whole`: the reference the shards must equal.
fn run_whole(suite: &Path, dir: &Path) -> PathBuf {
    let whole = dir.join("whole");
    let os = |s: &str| std::ffi::OsString::from(s);
    expect(
        &[
            os("run").as_os_str(),
            suite.as_os_str(),
            os("--device").as_os_str(),
            os("cpu").as_os_str(),
            os("--quiet").as_os_str(),
            os("--out").as_os_str(),
            whole.as_os_str(),
        ],
        0,
    );
    whole
}

#[test]
fn three_shards_merged_equal_one_run_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = write_suite(tmp.path());
    let whole = run_whole(&suite, tmp.path());
    let os = |s: &str| std::ffi::OsString::from(s);
    let shards = tmp.path().join("shards");
    for i in 1..=3 {
        let shard = format!("{i}/3");
        expect(
            &[
                os("run").as_os_str(),
                suite.as_os_str(),
                os("--shard").as_os_str(),
                os(&shard).as_os_str(),
                os("--device").as_os_str(),
                os("cpu").as_os_str(),
                os("--quiet").as_os_str(),
                os("--out").as_os_str(),
                shards.as_os_str(),
            ],
            0,
        );
    }
    // Every cell in exactly one shard, and no shard idle.
    let dirs: Vec<PathBuf> = (1..=3).map(|i| shards.join(format!("shard-{i}-of-3"))).collect();
    let mut cells: Vec<usize> = Vec::new();
    for dir in &dirs {
        let journal = Journal::read(dir).unwrap();
        let shard = journal.header().unwrap().shard.clone().expect("a shard's header names its part");
        assert!(!shard.cells.is_empty(), "{}: an idle shard", dir.display());
        cells.extend(shard.cells);
    }
    cells.sort_unstable();
    let planned = Journal::read(&dirs[0]).unwrap().header().unwrap().plan.cells.len();
    assert_eq!(cells, (0..planned).collect::<Vec<_>>(), "the shards partition the plan");

    let merged = tmp.path().join("merged");
    let mut args = vec![os("merge")];
    args.extend(dirs.iter().map(|d| d.clone().into_os_string()));
    args.extend([os("--quiet"), os("--out"), merged.clone().into_os_string()]);
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    expect(&refs, 0);
    assert_eq!(numbers(&only_run(&merged)), numbers(&only_run(&whole)));

    // Two of the three: the missing cells are named, with their shard, and nothing is written.
    let partial = tmp.path().join("partial");
    let err = expect(
        &[
            os("merge").as_os_str(),
            dirs[0].as_os_str(),
            dirs[1].as_os_str(),
            os("--out").as_os_str(),
            partial.as_os_str(),
        ],
        1,
    );
    assert!(err.contains("cells are missing") && err.contains("(in a shard not given)"), "{err}");
    assert!(!partial.exists() || std::fs::read_dir(&partial).unwrap().next().is_none());
    // One shard twice, or a run that is no shard: refused.
    let err = expect(
        &[
            os("merge").as_os_str(),
            dirs[0].as_os_str(),
            dirs[0].as_os_str(),
            os("--out").as_os_str(),
            partial.as_os_str(),
        ],
        2,
    );
    assert!(err.contains("shard 1 of 3 is given twice"), "{err}");
    let err = expect(
        &[os("merge").as_os_str(), only_run(&whole).as_os_str(), os("--out").as_os_str(), partial.as_os_str()],
        2,
    );
    assert!(err.contains("not a shard"), "{err}");
    // A shard's directory is made once: running it again points at --resume.
    let err = expect(
        &[
            os("run").as_os_str(),
            suite.as_os_str(),
            os("--shard").as_os_str(),
            os("2/3").as_os_str(),
            os("--device").as_os_str(),
            os("cpu").as_os_str(),
            os("--out").as_os_str(),
            shards.as_os_str(),
        ],
        2,
    );
    assert!(err.contains("--resume"), "{err}");
}

/// A single-node Slurm cluster on this machine for the length of a test, torn down however the
/// test ends.
struct Cluster;

impl Cluster {
    fn up() -> Cluster {
        let out = std::process::Command::new(workspace().join("scripts/slurm-local")).arg("up").output().unwrap();
        assert!(
            out.status.success(),
            "this machine cannot run the Slurm test's cluster (scripts/slurm-local up):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(workspace().join("scripts/slurm-local")).arg("down").status();
    }
}

/// Waits until none of `jobs` is queued or running (at most `limit`).
fn wait_for(jobs: &[String], limit: Duration) {
    let start = Instant::now();
    loop {
        let out = std::process::Command::new("squeue")
            .args(["-h", "-o", "%i"])
            .arg(format!("--jobs={}", jobs.join(",")))
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && listed.is_empty() {
            return;
        }
        assert!(start.elapsed() < limit, "jobs {jobs:?} still queued after {limit:?}: {listed}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn a_suite_sharded_over_a_real_slurm_cluster_merges_into_the_local_run() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = write_suite(tmp.path());
    let whole = run_whole(&suite, tmp.path());

    let _cluster = Cluster::up();
    let submitted = tmp.path().join("slurm");
    let out = upbench()
        .args(["slurm"])
        .arg(&suite)
        .args(["--shards", "3", "--time", "20:00", "--out"])
        .arg(&submitted)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "upbench slurm: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("squeue --jobs="), "{stdout}");
    let run = only_run(&submitted);
    let jobs: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("jobs.json")).unwrap()).unwrap();
    let ids: Vec<String> = ["array", "merge"].iter().map(|k| jobs[k].as_str().unwrap().to_string()).collect();
    wait_for(&ids, Duration::from_secs(600));
    let logs = || {
        let mut text = String::new();
        for entry in std::fs::read_dir(run.join("logs")).unwrap() {
            let path = entry.unwrap().path();
            text += &format!("--- {}\n{}\n", path.display(), std::fs::read_to_string(&path).unwrap_or_default());
        }
        text
    };
    let merged = run.join("merged");
    assert!(merged.is_dir(), "the merge job wrote nothing:\n{}", logs());
    assert_eq!(numbers(&only_run(&merged)), numbers(&only_run(&whole)), "{}", logs());
    // Each job's output where the scripts said, and the scripts kept for editing and resubmission.
    for log in ["shard-1.out", "shard-2.out", "shard-3.out", "merge.out"] {
        assert!(run.join("logs").join(log).is_file(), "no logs/{log}:\n{}", logs());
    }
    let shard_script = std::fs::read_to_string(run.join("shard.sbatch")).unwrap();
    assert!(shard_script.contains("#SBATCH --array=1-3") && shard_script.contains("#SBATCH --time=20:00"));
    assert!(std::fs::read_to_string(run.join("merge.sbatch")).unwrap().contains("merge"));
}
