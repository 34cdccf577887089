//! IoVecs through real `writev` / `readv` system calls, on a pipe and on a
//! file: the kernel must read and write exactly the bytes the vectors name.
#![cfg(all(unix, not(miri)))]

use iobuf_pool::{IoVec, PooledBuf, Tier};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;

fn writev(fd: i32, vecs: &[IoVec]) -> isize {
    let (addr, n) = IoVec::addr_len(vecs);
    // SAFETY: every vector points into a live buffer the caller borrows for
    // the duration of the call; the kernel only reads them.
    unsafe { libc::writev(fd, addr, n as i32) }
}

fn readv(fd: i32, vecs: &[IoVec]) -> isize {
    let (addr, n) = IoVec::addr_len(vecs);
    // SAFETY: every vector points into a live, exclusively borrowed buffer;
    // the kernel writes at most iov_len bytes into each.
    unsafe { libc::readv(fd, addr, n as i32) }
}

/// A fresh guard (which starts empty) filled to its whole capacity, as a
/// vectored read or write of whole buffers wants it.
fn full(mut buf: PooledBuf<'_>) -> PooledBuf<'_> {
    buf.set_len(buf.capacity()).unwrap();
    buf
}

#[test]
fn writev_then_readv_through_a_pipe() {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (r, w) = (fds[0], fds[1]);

    let parts: [&[u8]; 3] = [b"hello, ", b"vectored ", b"world"];
    let out: Vec<IoVec> = parts.iter().map(|p| IoVec::from_slice(p)).collect();
    assert_eq!(writev(w, &out), 21);

    // Read back into differently sized buffers: the split must follow them.
    let mut a = [0u8; 4];
    let mut b = [0u8; 10];
    let mut c = [0u8; 16];
    let ins = [
        IoVec::from_mut_slice(&mut a),
        IoVec::from_mut_slice(&mut b),
        IoVec::from_mut_slice(&mut c),
    ];
    assert_eq!(readv(r, &ins), 21);
    assert_eq!(&a, b"hell");
    assert_eq!(&b, b"o, vectore");
    assert_eq!(&c[..7], b"d world");
    assert!(c[7..].iter().all(|&x| x == 0));
    // SAFETY: both fds came from pipe above and are closed once.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
}

#[test]
fn pool_buffers_through_a_file() {
    let pool = iobuf_pool::BufferPool::new(Tier::Nano, 4).unwrap();
    let mut bufs: Vec<_> = std::iter::from_fn(|| pool.try_get().map(full)).collect();
    for (i, b) in bufs.iter_mut().enumerate() {
        b.fill(b'a' + i as u8);
    }
    let out: Vec<IoVec> = bufs.iter_mut().map(|b| b.as_iovec()).collect();
    let mut file = tempfile::tempfile().unwrap();
    assert_eq!(writev(file.as_raw_fd(), &out), 4 * 128);

    let mut expected = Vec::new();
    for i in 0..4u8 {
        expected.extend(std::iter::repeat_n(b'a' + i, 128));
    }
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut back = iobuf_pool::mem::AlignedBlocks::page_aligned(2, 256).unwrap();
    let ins = IoVec::from_buffers_mut(&mut back.iter_mut().collect::<Vec<_>>());
    assert_eq!(readv(file.as_raw_fd(), &ins), 512);
    let got: Vec<u8> = back.iter().flatten().copied().collect();
    assert_eq!(got, expected);
}

#[test]
fn std_vectored_io_accepts_converted_vectors() {
    use std::io::{Read, Write};
    let mut file = tempfile::tempfile().unwrap();
    let data = [b"abc".to_vec(), b"defg".to_vec()];
    let vecs = IoVec::from_buffers(&data);
    // SAFETY: `data` is alive and unmodified while the slices are used.
    let slices: Vec<_> = vecs.iter().map(|v| unsafe { v.as_io_slice() }).collect();
    assert_eq!(file.write_vectored(&slices).unwrap(), 7);
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut x = [0u8; 2];
    let mut y = [0u8; 5];
    let mut ios = [
        std::io::IoSliceMut::new(&mut x),
        std::io::IoSliceMut::new(&mut y),
    ];
    let back: Vec<IoVec> = ios.iter_mut().map(IoVec::from).collect();
    assert_eq!(back[1].len(), 5);
    assert_eq!(file.read_vectored(&mut ios).unwrap(), 7);
    assert_eq!(&x, b"ab");
    assert_eq!(&y, b"cdefg");
}
