//! Seeds: every random stream derives from the suite's master seed and stable names, so adding
//! a task or a plugin never changes the numbers of the others.

/// A 64-bit seed from `master` and a path of names (FNV-1a over the names, SplitMix64 finaliser).
pub fn derive_seed(master: u64, names: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ master;
    for name in names {
        for b in name.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) >> 1 // non-negative as i64, which libtorch's manual_seed takes
}

/// Serialises users of libtorch's process-wide generator. Seeding and drawing are two calls, so
/// two threads that both seed and draw (two suites run in one process, parallel tests) would
/// interleave and lose reproducibility; [`crate::pipeline::check`] and
/// [`crate::pipeline::run_checked`] hold this lock throughout, and tests that seed hold it too.
pub fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    crate::sync::lock(&LOCK)
}

/// Seeds libtorch's generators, the CPU one and, when CUDA is present, every CUDA device's, so
/// that draws are reproducible on whichever device the run uses. Plugins share these
/// generators (one libtorch per process): the harness reseeds before each of its own draws.
pub fn seed_torch(seed: u64) {
    tch::manual_seed(seed as i64);
    if tch::Cuda::is_available() {
        tch::Cuda::manual_seed_all(seed);
    }
}

#[cfg(test)]
mod tests {
    use super::derive_seed;

    #[test]
    fn distinct_paths_give_distinct_seeds() {
        assert_ne!(derive_seed(1, &["a", "b"]), derive_seed(1, &["ab"]));
        assert_ne!(derive_seed(1, &["a"]), derive_seed(2, &["a"]));
        assert_eq!(derive_seed(5, &["x", "y"]), derive_seed(5, &["x", "y"]));
    }
}
