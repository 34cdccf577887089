//! `IoVec`: the OS `struct iovec`, for vectored I/O and io_uring buffer
//! registration.
//!
//! An [`IoVec`] is a raw (pointer, length) pair with exactly the layout of
//! `libc::iovec`, so a `&[IoVec]` can be passed to `readv`, `writev`,
//! `preadv2` or `io_uring_register_buffers` as it is. It carries no
//! lifetime, because registered buffers are handed to the kernel for longer
//! than any borrow; building one is safe, reading or writing through one is
//! the caller's `unsafe` promise that the memory is alive and not aliased.

use std::io::{IoSlice, IoSliceMut};

/// One I/O vector: the address and length of a buffer.
///
/// ```
/// use iobuf_pool::IoVec;
/// let mut data = *b"hello";
/// let v = IoVec::from_mut_slice(&mut data);
/// assert_eq!(v.len(), 5);
/// // SAFETY: `data` is alive and not borrowed elsewhere.
/// assert_eq!(unsafe { v.as_slice() }, b"hello");
/// ```
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IoVec {
    /// Start of the buffer (`iov_base`).
    base: *mut libc::c_void,
    /// Its length in bytes (`iov_len`).
    len: usize,
}

// The layout must be the OS's, checked at compile time.
const _: () = {
    assert!(std::mem::size_of::<IoVec>() == std::mem::size_of::<libc::iovec>());
    assert!(std::mem::align_of::<IoVec>() == std::mem::align_of::<libc::iovec>());
    assert!(std::mem::offset_of!(IoVec, base) == std::mem::offset_of!(libc::iovec, iov_base));
    assert!(std::mem::offset_of!(IoVec, len) == std::mem::offset_of!(libc::iovec, iov_len));
};

// SAFETY: an IoVec is only an address and a length; every access through it
// is unsafe and carries its own contract, so moving or sharing the pair
// between threads cannot by itself cause a data race.
unsafe impl Send for IoVec {}
// SAFETY: as for Send.
unsafe impl Sync for IoVec {}

impl IoVec {
    /// Describes `buf` for reading from it (writev, WRITE_FIXED).
    pub fn from_slice(buf: &[u8]) -> Self {
        IoVec {
            base: buf.as_ptr() as *mut libc::c_void,
            len: buf.len(),
        }
    }

    /// Describes `buf` for writing into it (readv, READ_FIXED).
    pub fn from_mut_slice(buf: &mut [u8]) -> Self {
        IoVec {
            base: buf.as_mut_ptr() as *mut libc::c_void,
            len: buf.len(),
        }
    }

    /// Describes raw memory. Safe to build; every use is unsafe.
    pub fn from_raw_parts(base: *mut u8, len: usize) -> Self {
        IoVec {
            base: base as *mut libc::c_void,
            len,
        }
    }

    /// One IoVec per buffer, in order.
    ///
    /// ```
    /// let bufs = vec![[0u8; 32]; 4];
    /// let v = iobuf_pool::IoVec::from_buffers(&bufs);
    /// assert_eq!(v.len(), 4);
    /// assert!(v.iter().all(|v| v.len() == 32));
    /// ```
    pub fn from_buffers<B: AsRef<[u8]>>(buffers: &[B]) -> Vec<IoVec> {
        buffers
            .iter()
            .map(|b| IoVec::from_slice(b.as_ref()))
            .collect()
    }

    /// One IoVec per buffer, for reading into them.
    pub fn from_buffers_mut<B: AsMut<[u8]>>(buffers: &mut [B]) -> Vec<IoVec> {
        buffers
            .iter_mut()
            .map(|b| IoVec::from_mut_slice(b.as_mut()))
            .collect()
    }

    /// The start address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base as *mut u8
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the length is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The vector as the OS type.
    pub fn as_raw(&self) -> libc::iovec {
        libc::iovec {
            iov_base: self.base,
            iov_len: self.len,
        }
    }

    /// A pointer to the first vector and their count, for raw `readv`,
    /// `writev` and io_uring calls.
    pub fn addr_len(vecs: &[IoVec]) -> (*const libc::iovec, usize) {
        (vecs.as_ptr() as *const libc::iovec, vecs.len())
    }

    /// Reinterprets a slice of IoVecs as the OS type, without copying.
    pub fn as_raw_slice(vecs: &[IoVec]) -> &[libc::iovec] {
        // SAFETY: IoVec is repr(C) with the layout of libc::iovec (asserted
        // at compile time above), so the same memory is a valid [iovec].
        unsafe { std::slice::from_raw_parts(vecs.as_ptr() as *const libc::iovec, vecs.len()) }
    }

    /// The bytes it describes.
    ///
    /// # Safety
    /// The memory must be alive for `'a`, initialised, and not written by
    /// anyone while the slice lives.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees the memory is alive, initialised and
        // not mutated for 'a.
        unsafe { std::slice::from_raw_parts(self.base as *const u8, self.len) }
    }

    /// The bytes it describes, mutably.
    ///
    /// # Safety
    /// The memory must be alive for `'a` and reachable through no other
    /// reference while the slice lives.
    pub unsafe fn as_mut_slice<'a>(&self) -> &'a mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: the caller guarantees the memory is alive and unaliased.
        unsafe { std::slice::from_raw_parts_mut(self.base as *mut u8, self.len) }
    }

    /// As a `std::io::IoSlice`, for `Write::write_vectored`.
    ///
    /// # Safety
    /// As [`IoVec::as_slice`].
    pub unsafe fn as_io_slice<'a>(&self) -> IoSlice<'a> {
        // SAFETY: forwarded to the caller.
        IoSlice::new(unsafe { self.as_slice() })
    }

    /// As a `std::io::IoSliceMut`, for `Read::read_vectored`.
    ///
    /// # Safety
    /// As [`IoVec::as_mut_slice`].
    pub unsafe fn as_io_slice_mut<'a>(&self) -> IoSliceMut<'a> {
        // SAFETY: forwarded to the caller.
        IoSliceMut::new(unsafe { self.as_mut_slice() })
    }
}

impl<'a> From<&IoSlice<'a>> for IoVec {
    fn from(s: &IoSlice<'a>) -> Self {
        IoVec::from_slice(s)
    }
}

impl<'a> From<&mut IoSliceMut<'a>> for IoVec {
    fn from(s: &mut IoSliceMut<'a>) -> Self {
        IoVec::from_mut_slice(s)
    }
}

impl From<libc::iovec> for IoVec {
    fn from(v: libc::iovec) -> Self {
        IoVec::from_raw_parts(v.iov_base as *mut u8, v.iov_len)
    }
}

impl From<IoVec> for libc::iovec {
    fn from(v: IoVec) -> Self {
        v.as_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_slice_it_came_from() {
        let mut data = [1u8, 2, 3, 4];
        let ptr = data.as_mut_ptr();
        let v = IoVec::from_mut_slice(&mut data);
        assert_eq!(v.as_ptr(), ptr);
        assert_eq!(v.len(), 4);
        assert!(!v.is_empty());
        // SAFETY: data is alive and not otherwise borrowed.
        unsafe { v.as_mut_slice()[0] = 9 };
        assert_eq!(data[0], 9);
        let empty = IoVec::from_slice(&[]);
        assert!(empty.is_empty());
        // SAFETY: zero length: no memory is read.
        assert_eq!(unsafe { empty.as_slice() }, &[] as &[u8]);
    }

    #[test]
    fn converts_to_and_from_std_io_slices() {
        let a = *b"abc";
        let io = IoSlice::new(&a);
        let v = IoVec::from(&io);
        assert_eq!(v.as_ptr() as *const u8, a.as_ptr());
        // SAFETY: a is alive and unmodified.
        assert_eq!(&*unsafe { v.as_io_slice() }, b"abc");

        let mut b = [0u8; 3];
        let vm = IoVec::from(&mut IoSliceMut::new(&mut b));
        // SAFETY: b is alive; the IoSliceMut that borrowed it is gone.
        unsafe { vm.as_io_slice_mut() }.copy_from_slice(b"xyz");
        assert_eq!(&b, b"xyz");
    }

    #[test]
    fn raw_round_trip_and_addr_len() {
        let bufs = vec![vec![0u8; 8], vec![0u8; 16]];
        let vecs = IoVec::from_buffers(&bufs);
        let (addr, n) = IoVec::addr_len(&vecs);
        assert_eq!(n, 2);
        assert_eq!(addr as *const IoVec, vecs.as_ptr());
        let raw = IoVec::as_raw_slice(&vecs);
        assert_eq!(raw[1].iov_len, 16);
        assert_eq!(raw[0].iov_base as *const u8, bufs[0].as_ptr());
        let back: IoVec = raw[1].into();
        assert_eq!(back, vecs[1]);
        let os: libc::iovec = vecs[0].into();
        assert_eq!(os.iov_len, 8);
    }

    #[test]
    fn from_buffers_mut_points_into_each_buffer() {
        let mut bufs = [[0u8; 4]; 3];
        let vecs = IoVec::from_buffers_mut(&mut bufs);
        for (i, v) in vecs.iter().enumerate() {
            // SAFETY: bufs is alive; each vector covers a distinct buffer.
            unsafe { v.as_mut_slice() }.fill(i as u8);
        }
        assert_eq!(bufs, [[0; 4], [1; 4], [2; 4]]);
    }
}
