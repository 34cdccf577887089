//! The kernel ABI this module needs beyond the `io-uring` crate: the
//! provided-buffer ring's entry and registration layouts, the raw
//! `io_uring_register` call for unregistering in `Drop`, and the duplicate
//! of a ring's descriptor that registrations keep.

use super::UringError;
use io_uring::{cqueue, squeue, types, IoUring};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

// The unregister opcodes of io_uring_register(2), from the kernel's uapi
// (the io-uring crate keeps its `sys` module private). They are ABI and do
// not change.
pub(super) const IORING_UNREGISTER_BUFFERS: libc::c_uint = 1;
pub(super) const IORING_UNREGISTER_PBUF_RING: libc::c_uint = 23;
/// `io_uring_buf_reg.flags`: incremental consumption (Linux 6.12).
pub(super) const IOU_PBUF_RING_INC: u16 = 2;

/// One entry of a provided-buffer ring: the kernel's `struct io_uring_buf`.
/// The `resv` field of entry 0 is the ring's tail.
#[repr(C)]
pub(super) struct RingEntry {
    pub(super) addr: u64,
    pub(super) len: u32,
    pub(super) bid: u16,
    pub(super) resv: u16,
}

const _: () = {
    assert!(std::mem::size_of::<RingEntry>() == 16);
    assert!(std::mem::size_of::<RingEntry>() == std::mem::size_of::<types::BufRingEntry>());
    assert!(std::mem::offset_of!(RingEntry, resv) == 14);
};

/// The kernel's `struct io_uring_buf_reg`, for unregistering a group.
#[repr(C)]
#[derive(Default)]
pub(super) struct BufReg {
    pub(super) ring_addr: u64,
    pub(super) ring_entries: u32,
    pub(super) bgid: u16,
    pub(super) flags: u16,
    pub(super) resv: [u64; 3],
}

const _: () = assert!(std::mem::size_of::<BufReg>() == 40);

pub(super) fn dup_ring_fd<S, C>(
    ring: &IoUring<S, C>,
    what: &'static str,
) -> Result<OwnedFd, UringError>
where
    S: squeue::EntryMarker,
    C: cqueue::EntryMarker,
{
    // SAFETY: the descriptor belongs to `ring`, which is borrowed for this
    // call, so it is open for the borrow's (and the duplication's) length.
    let fd = unsafe { BorrowedFd::borrow_raw(ring.as_raw_fd()) };
    fd.try_clone_to_owned()
        .map_err(|source| UringError::Register { what, source })
}

/// `io_uring_register(fd, opcode, arg, nr)`, for the unregister calls that
/// must run in `Drop`, where no `Submitter` is at hand.
///
/// # Safety
/// `arg` points to `nr` valid objects of the type `opcode` reads (or is null
/// with `nr == 0` where the opcode takes no argument).
pub(super) unsafe fn register_raw(
    fd: &OwnedFd,
    opcode: libc::c_uint,
    arg: *const libc::c_void,
    nr: libc::c_uint,
) -> io::Result<()> {
    // SAFETY: a plain system call on a descriptor we own; `arg` and `nr`
    // are valid for `opcode` by this function's contract.
    let r = unsafe { libc::syscall(libc::SYS_io_uring_register, fd.as_raw_fd(), opcode, arg, nr) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
