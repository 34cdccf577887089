//! SIGINT: the first one asks the run to stop at the end of the current
//! measuring window; the case it cuts short is dropped, the finished ones
//! are written marked incomplete (`commands/run.rs`). A second SIGINT
//! falls back to the default action and ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe work here: one atomic store, and putting the
    // default action back so that a second Ctrl-C always ends the process.
    INTERRUPTED.store(true, Ordering::SeqCst);
    // SAFETY: `signal` is async-signal-safe, and SIG_DFL is a valid action.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
}

/// Installs the handler (once, before the run starts).
pub fn install() {
    let handler = on_sigint as extern "C" fn(libc::c_int);
    // SAFETY: the handler only does async-signal-safe work (see above) and
    // has the signature `signal` expects.
    unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
}

/// Whether a SIGINT arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
