//! Locks that a panic elsewhere does not poison for everyone after it.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex` even when a thread panicked while holding it. Every value upbench guards is
/// valid after any partial update (a generator to reseed, a cache of finished entries), so a
/// panic in one run, test or plugin call must not make every later lock panic in turn.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_locks() {
        let mutex = Mutex::new(1);
        let panicked = std::thread::scope(|s| {
            s.spawn(|| {
                let mut guard = mutex.lock().unwrap();
                *guard = 2;
                panic!("a panic while holding the lock");
            })
            .join()
            .is_err()
        });
        assert!(panicked && mutex.is_poisoned());
        assert_eq!(*lock(&mutex), 2);
        *lock(&mutex) = 3;
        assert_eq!(*lock(&mutex), 3);
    }
}
