//! Asymmetric fences: a *light* fence on a hot path that costs no CPU
//! fence, paired with a rare *heavy* fence that does the work of both.
//!
//! The thread cache (src/thread_cache.rs) uses them so that a thread that
//! waits for a buffer can take the free buffers out of another thread's
//! magazine while that thread's gets and puts stay plain loads and stores.
//! The pattern is a store-then-load on each side (Dekker's): the owner
//! stores `busy` then loads `claim`, the thief stores `claim` then loads
//! `busy`; at least one of them must see the other's store, which
//! ordinarily needs a full fence on both sides.
//!
//! # How
//!
//! On Linux the heavy fence is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! (registered once per process with
//! `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`), as liburcu and folly's
//! `asymmetricHeavyBarrier` use it: when it returns, every thread of the
//! process that was running has executed a full memory barrier
//! (the kernel interrupts it; the interrupt is precise, so the barrier
//! falls *between* two of its instructions), and every thread that was not
//! running has passed a context switch, which is one. The light fence is
//! then a compiler fence: it keeps the compiler from moving the owner's
//! store of `busy` after its load of `claim`, and the kernel's barrier
//! supplies the CPU's half on demand.
//!
//! Why that is enough (owner: `busy = 1; light; r = claim`; thief:
//! `claim = 1; heavy; r' = busy`): the owner's barrier lands at some point
//! of its instruction stream while the thief is inside `membarrier`. If it
//! lands before the owner's load of `claim`, that load follows a full
//! barrier that follows the thief's store, and sees it. If it lands after,
//! the owner's store of `busy` precedes a full barrier that precedes the
//! thief's load, which sees it. Either way one side sees the other: the
//! same outcome as a `SeqCst` fence on both sides.
//!
//! tcmalloc drains per-CPU caches with restartable sequences on top of the
//! same kernel call; restartable sequences would let the owner skip even
//! the `busy` stores, but need per-architecture assembly, which this crate
//! does not carry.
//!
//! # Fallback
//!
//! Where `membarrier` is missing (other systems, kernels before 4.14, a
//! seccomp filter that refuses it), the light fence is a real `SeqCst`
//! fence and the heavy one too: correct, and the owner's path pays a fence
//! per operation. The choice is made once, before the first thread-cached
//! pool exists ([`init`]), and never changes, so every owner and thief
//! agree on it.
//!
//! # Under loom and Miri
//!
//! Neither can run the system call: both fences are `SeqCst` fences there.
//! That models `membarrier` as a `SeqCst` fence that the kernel executes
//! on the owner's behalf at the one point that matters (between its store
//! of `busy` and its load of `claim`); the argument above shows that a
//! barrier anywhere else in the owner's stream gives the thief at least as
//! much. The models in `tests/loom_thread_cache.rs` check the protocol that
//! way.

#[cfg(loom)]
use loom::sync::atomic::{fence, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{fence, Ordering};

/// Whether the heavy fence is `membarrier` (so the light fence may be a
/// compiler fence). Written once by [`init`], before any thread-cached
/// pool exists; each magazine copies it when it is made
/// ([`is_asymmetric`]), so that its light fences read it from the owner's
/// own line rather than through a global (0.3 to 0.8 ns a get-and-put
/// pair on the 2-core machine).
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
static MEMBARRIER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Chooses the fences, once per process: registers for `membarrier` where
/// the kernel has it. Called by every thread-cached pool's constructor,
/// so the choice is made before any light or heavy fence runs.
pub(crate) fn init() {
    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            const QUERY: libc::c_int = 0;
            const PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
            const REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
            // SAFETY: membarrier takes two integers (and a third, the CPU
            // id, only with a flag we do not pass) and touches no memory of
            // ours.
            let supported = unsafe { libc::syscall(libc::SYS_membarrier, QUERY, 0) };
            if supported < 0 || supported & libc::c_long::from(PRIVATE_EXPEDITED) == 0 {
                return;
            }
            // SAFETY: as above.
            let registered =
                unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0) };
            if registered == 0 {
                // Release: pairs with nothing in particular (the Once
                // orders it for every later caller of init); the light
                // fences that read it run after some init returned.
                MEMBARRIER.store(true, Ordering::Release);
            }
        });
    }
}

/// Whether the heavy fence is the kernel's (`membarrier`) rather than the
/// fallback (a `SeqCst` fence on both sides). Fixed once [`init`] has
/// returned: the argument every [`light`] fence is given.
pub(crate) fn is_asymmetric() -> bool {
    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    return MEMBARRIER.load(Ordering::Relaxed);
    #[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
    return false;
}

/// The owner's side: a compiler fence where `membarrier` backs it
/// (`asymmetric`, which the caller read from [`is_asymmetric`] after
/// [`init`]), else a `SeqCst` fence.
#[inline(always)]
pub(crate) fn light(asymmetric: bool) {
    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    {
        if asymmetric {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
            return;
        }
    }
    let _ = asymmetric;
    fence(Ordering::SeqCst);
}

/// The thief's side: orders the caller's earlier accesses before its later
/// ones *and* acts as a full fence in every other thread of the process
/// (see the module docs). `false` if the kernel refused the call (then
/// nothing is ordered in the other threads, and the caller must not rely
/// on it).
#[cold]
pub(crate) fn heavy() -> bool {
    fence(Ordering::SeqCst);
    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    {
        if MEMBARRIER.load(Ordering::Relaxed) {
            const PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
            // SAFETY: as in `init`.
            let done = unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0) };
            fence(Ordering::SeqCst);
            return done == 0;
        }
    }
    true
}
