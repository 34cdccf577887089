//! Refused memory is an `Error`, not an abort: each case runs in a child
//! process (this test binary, re-run on one test) whose address space is
//! capped with `setrlimit(RLIMIT_AS)`, and the parent checks that the child
//! exited normally, having seen `Err`, rather than died of a signal
//! (`SIGABRT` is what an infallible allocation does when refused).
// Miri cannot spawn processes or call setrlimit.
#![cfg(all(unix, not(miri)))]

use iobuf_pool::sync::IndexRing;
use iobuf_pool::{BoundedPool, BufferPool, Error, Tier, MAX_CAPACITY};
use std::process::Command;

/// Set in the child: the name of the case it is to run.
const CHILD_VAR: &str = "IOBUF_ALLOC_LIMIT_CHILD";

/// The child's cap: 2 GiB of address space, far below what the cases ask
/// for (16 GiB of ring slots, 32 GiB of slab, 4 GiB of ring), well above
/// what the test harness itself needs.
const LIMIT: libc::rlim_t = 2 << 30;

/// In the child, caps the address space, runs `case` and reports; in the
/// parent, re-runs this binary on `test` in a child and checks its exit.
fn in_capped_child(test: &str, case: impl FnOnce() -> Result<(), Error>) {
    if std::env::var(CHILD_VAR).as_deref() == Ok(test) {
        let cap = libc::rlimit {
            rlim_cur: LIMIT,
            rlim_max: LIMIT,
        };
        // SAFETY: setrlimit reads one valid rlimit struct; lowering our own
        // limit needs no privilege.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &cap) };
        assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
        let err = case().expect_err("the allocation should have been refused");
        assert!(
            matches!(err, Error::AllocFailed { .. }),
            "refused memory should be AllocFailed, not {err:?}"
        );
        println!("CHILD-SAW-ERR {test}: {err}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, test)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the capped child did not exit cleanly ({:?}; a signal shows as None)\n\
         stdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("CHILD-SAW-ERR {test}:")),
        "the child did not run the case\nstdout:\n{stdout}"
    );
}

#[test]
fn a_pool_of_max_capacity_is_refused_as_an_error() {
    in_capped_child("a_pool_of_max_capacity_is_refused_as_an_error", || {
        BufferPool::new(Tier::Pico, MAX_CAPACITY).map(drop)
    });
}

#[test]
fn a_fifo_pool_of_max_capacity_is_refused_as_an_error() {
    in_capped_child("a_fifo_pool_of_max_capacity_is_refused_as_an_error", || {
        BufferPool::builder(Tier::Nano, MAX_CAPACITY / 2)
            .reuse_slot(false)
            .build()
            .map(drop)
    });
}

#[test]
fn a_ring_of_max_capacity_is_refused_as_an_error() {
    in_capped_child("a_ring_of_max_capacity_is_refused_as_an_error", || {
        IndexRing::full(MAX_CAPACITY).map(drop)
    });
}

#[test]
fn a_bounded_pool_of_2_pow_28_is_refused_as_an_error() {
    in_capped_child("a_bounded_pool_of_2_pow_28_is_refused_as_an_error", || {
        BoundedPool::new(1 << 28, |i| i as u64).map(drop)
    });
}

#[test]
fn bounded_values_are_refused_before_any_is_built() {
    // The ring (2^25 slots, 256 MiB) fits under the cap; 2^24 values of
    // 4 KiB (64 GiB) do not, and no value is built before that is known.
    in_capped_child("bounded_values_are_refused_before_any_is_built", || {
        let mut built = 0usize;
        let r = BoundedPool::new(1 << 24, |_| {
            built += 1;
            [0u8; 4096]
        })
        .map(drop);
        assert_eq!(built, 0, "values were built before the refusal");
        r
    });
}
