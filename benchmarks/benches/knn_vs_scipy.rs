//! upbench's k-NN entropy against SciPy's cKDTree (an independent CPU reference) on the same
//! data, side by side in one run: wall time, their ratio, the two estimates (which must agree:
//! same formula, same points), this process's peak resident memory and, on CUDA, the GPU memory
//! it holds (libtorch's caching allocator keeps what it once reserved, so this is its peak).
//!
//! Run through `scripts/bench-knn [--quick] [--device cuda]`, which installs SciPy in `.venv`.
//! Targets (issue [2]): on the CPU not slower than cKDTree for d ≥ 16; on a GPU at least 50×
//! faster at n = 65,536, d = 243.

use std::process::Command;
use std::time::Instant;

use tch::{Device, Kind, Tensor};
use upbench::estimate::knn::{kl_entropy, KnnConfig};

fn write_npy(path: &std::path::Path, x: &Tensor) {
    let (n, d) = x.size2().expect("[n, d]");
    let values = Vec::<f64>::try_from(x.to_device(Device::Cpu).flatten(0, -1)).expect("f64 values");
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write .npy");
}

/// GPU memory this process holds, MiB, as `nvidia-smi` reports it (None without a GPU or tool).
fn gpu_mib() -> Option<f64> {
    let out = Command::new("nvidia-smi")
        .args(["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    let me = std::process::id().to_string();
    String::from_utf8_lossy(&out.stdout).lines().find_map(|line| {
        let (pid, mib) = line.split_once(',')?;
        (pid.trim() == me).then(|| mib.trim().parse().ok()).flatten()
    })
}

/// Peak resident set size of this process, MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let device =
        if args.windows(2).any(|w| w[0] == "--device" && w[1] == "cuda") { Device::Cuda(0) } else { Device::Cpu };
    // (n, d, whether SciPy runs too): the largest CUDA case shows memory staying bounded as n grows
    // (SciPy would take tens of minutes there).
    let cases: Vec<(i64, i64, bool)> = match (quick, device) {
        (true, _) => vec![(4096, 16, true), (8192, 16, true), (8192, 64, true)],
        (false, Device::Cpu) => vec![(4096, 16, true), (16384, 16, true), (16384, 64, true), (16384, 243, true)],
        (false, _) => {
            vec![(16384, 16, true), (16384, 64, true), (16384, 243, true), (65536, 243, true), (262144, 243, false)]
        }
    };
    let k = 5;
    // `--block N`: values per distance block instead of the device's default, for tuning it.
    let block_values = args.windows(2).find(|w| w[0] == "--block").map(|w| w[1].parse::<i64>().expect("--block N"));
    let config = KnnConfig { k, block_values, ..KnnConfig::default() };
    let dir = tempfile_dir();
    println!(
        "Kozachenko–Leonenko entropy (k = {k}) of standard normal samples: upbench on {device:?} ({} threads; \
         values per distance block in the block column) against SciPy's cKDTree \
         (CPU, all cores), same points. Best of 3 runs after a warm-up (upbench), one run of tree + query (SciPy); — where SciPy was not run. GPU MiB: what nvidia-smi says this process holds on the card \
         after the case (the caching allocator keeps its peak).\n",
        tch::get_num_threads()
    );
    println!("| n | d | block | upbench s | SciPy s | speed-up | upbench h (nats) | SciPy h (nats) | peak RSS MiB | GPU MiB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, d, with_reference) in cases {
        tch::manual_seed(n + d);
        let x = Tensor::randn([n, d], (Kind::Double, Device::Cpu));
        let path = dir.join(format!("x-{n}-{d}.npy"));
        if with_reference {
            write_npy(&path, &x);
        }
        let on_device = x.to_device(device);
        kl_entropy(&on_device, &config).expect("warm-up");
        let reps = 3;
        let mut best = f64::INFINITY;
        let mut ours = 0.0;
        for _ in 0..reps {
            if let Device::Cuda(i) = device {
                tch::Cuda::synchronize(i as i64);
            }
            let start = Instant::now();
            ours = kl_entropy(&on_device, &config).expect("estimate").nats;
            if let Device::Cuda(i) = device {
                tch::Cuda::synchronize(i as i64);
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        let (theirs, their_secs) = if with_reference { scipy_reference(&path, k) } else { (f64::NAN, f64::NAN) };
        let mib = |m: Option<f64>| m.map_or("n/a".to_string(), |m| format!("{m:.0}"));
        let (rss, gpu) = (mib(peak_rss_mib()), mib(if device.is_cuda() { gpu_mib() } else { None }));
        let shown = |v: f64, digits: usize| if v.is_nan() { "—".to_string() } else { format!("{v:.digits$}") };
        println!(
            "| {n} | {d} | {} | {best:.3} | {} | {} | {ours:.9} | {} | {rss} | {gpu} |",
            config.block_values_for(device, d),
            shown(their_secs, 3),
            shown(their_secs / best, 2),
            shown(theirs, 9)
        );
        assert!(
            theirs.is_nan() || (ours - theirs).abs() < 1e-6 * ours.abs().max(1.0),
            "estimates disagree: {ours} vs {theirs}"
        );
        let _ = std::fs::remove_file(&path);
    }
}

/// SciPy's estimate and its seconds for the points in `path` (benchmarks/knn_reference.py), NaN
/// when it cannot run.
fn scipy_reference(path: &std::path::Path, k: usize) -> (f64, f64) {
    let out = Command::new("python3")
        .arg("benchmarks/knn_reference.py")
        .arg(path)
        .arg(k.to_string())
        .current_dir(workspace())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let mut it = text.split_whitespace().map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
            (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
        }
        Ok(o) => {
            eprintln!("reference failed: {}", String::from_utf8_lossy(&o.stderr));
            (f64::NAN, f64::NAN)
        }
        Err(e) => {
            eprintln!("cannot run python3 (use scripts/bench-knn): {e}");
            (f64::NAN, f64::NAN)
        }
    }
}

/// The repository root: the current directory when it holds the reference script (a copied
/// checkout, e.g. on a device machine), else the workspace this bench was built in.
fn workspace() -> std::path::PathBuf {
    let here = std::env::current_dir().unwrap_or_default();
    if here.join("benchmarks/knn_reference.py").is_file() {
        return here;
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("upbench-knn-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
