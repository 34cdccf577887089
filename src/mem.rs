//! Page- and cache-line-aligned memory: the allocations under the pools,
//! for callers who need aligned memory of their own.
//!
//! [`AlignedBuf`] is an owned, zero-initialised allocation with any
//! power-of-two alignment. Direct I/O (`O_DIRECT`) and io_uring fixed
//! buffers want page alignment; per-thread data wants cache-line alignment
//! so that two threads never write the same line. The page size is read
//! from the OS once ([`page_size`]), never assumed to be 4096.

use crate::Error;
use std::alloc::{self, Layout};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::OnceLock;

/// The size of a cache line, in bytes, for the target architecture.
///
/// x86-64 lines are 64 bytes, but its adjacent-line prefetcher pulls lines
/// in pairs, so two writers 64 bytes apart still contend; Apple and
/// Neoverse arm64 cores and POWER have 128-byte lines. 128 on those is the
/// value that actually prevents false sharing (crossbeam-utils' `CachePadded`
/// reasons the same way). Everywhere else: 64.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "powerpc64"
))]
pub const CACHE_LINE_SIZE: usize = 128;
/// The size of a cache line, in bytes, for the target architecture.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "powerpc64"
)))]
pub const CACHE_LINE_SIZE: usize = 64;

/// From this size up, allocations ask the OS for transparent huge pages.
pub const HUGE_PAGE_THRESHOLD: usize = 2 << 20;

/// From this size up, memory comes straight from `mmap`: it is zero and
/// page-aligned as the kernel hands it out, and pages are only backed when
/// first touched. (The global allocator zeroes an over-aligned block byte by
/// byte, which made a 6 GiB pool take seconds to build.)
pub const MMAP_THRESHOLD: usize = 256 << 10;

/// The OS page size, read once with `sysconf(_SC_PAGESIZE)`.
///
/// ```
/// let p = iobuf_pool::mem::page_size();
/// assert!(p.is_power_of_two() && p >= 4096);
/// ```
pub fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        #[cfg(all(unix, not(miri)))]
        {
            // SAFETY: sysconf has no preconditions; it only reads a value.
            let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if v > 0 && (v as usize).is_power_of_two() {
                return v as usize;
            }
        }
        // Miri cannot call sysconf; other platforms: the common value.
        4096
    })
}

/// An owned, zero-initialised block of memory with a power-of-two alignment.
///
/// It is freed on drop, is `Send + Sync`, and dereferences to `[u8]`.
///
/// ```
/// use iobuf_pool::mem::AlignedBuf;
/// let mut b = AlignedBuf::new(10_000, iobuf_pool::mem::page_size()).unwrap();
/// assert_eq!(b.as_ptr() as usize % iobuf_pool::mem::page_size(), 0);
/// assert!(b.iter().all(|&x| x == 0));
/// b[0] = 7;
/// assert_eq!(b[0], 7);
/// assert!(AlignedBuf::new(0, 64).is_err());
/// assert!(AlignedBuf::new(64, 3).is_err());
/// ```
pub struct AlignedBuf {
    /// Start of the block; valid for `layout.size()` bytes, all initialised
    /// (zeroed at allocation), owned by this value alone, aligned to
    /// `layout.align()`.
    ptr: NonNull<u8>,
    /// Size and alignment; `size() > 0`.
    layout: Layout,
    /// Where the memory came from, so that drop gives it back there.
    backing: Backing,
}

/// The source of an [`AlignedBuf`]'s memory.
#[derive(Debug, Clone, Copy)]
enum Backing {
    /// The global allocator, with exactly `layout`.
    Heap,
    /// An anonymous private mapping of `len` bytes starting at `ptr` (the
    /// block itself, trimmed to page granularity).
    Mapped { len: usize },
}

// SAFETY: AlignedBuf owns its bytes exclusively (like Vec<u8>); moving it to
// another thread moves that ownership.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out `&[u8]`, which is Sync.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates `size` zeroed bytes aligned to `align`.
    ///
    /// Allocations of [`HUGE_PAGE_THRESHOLD`] and more are advised to use
    /// transparent huge pages where the OS has them.
    ///
    /// # Errors
    /// [`Error::ZeroSize`] (`size == 0`), [`Error::BadAlignment`] (`align`
    /// not a power of two), [`Error::Overflow`] (a size that overflows when
    /// rounded up to `align`), or [`Error::AllocFailed`] (the allocator or
    /// the OS refused).
    pub fn new(size: usize, align: usize) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment(align));
        }
        let layout = Layout::from_size_align(size, align).map_err(|_| Error::Overflow)?;
        let buf = if size >= MMAP_THRESHOLD && cfg!(all(unix, not(miri))) {
            Self::map(layout)?
        } else {
            // SAFETY: the layout has a non-zero size, checked above.
            let raw = unsafe { alloc::alloc_zeroed(layout) };
            let ptr = NonNull::new(raw).ok_or(Error::AllocFailed { size })?;
            AlignedBuf {
                ptr,
                layout,
                backing: Backing::Heap,
            }
        };
        if size >= HUGE_PAGE_THRESHOLD {
            buf.advise_huge_pages();
        }
        Ok(buf)
    }

    /// An anonymous mapping holding `layout`: page-rounded, over-mapped by
    /// the alignment when that exceeds a page, and trimmed to the aligned
    /// part, so that the whole mapping is the block.
    #[cfg(all(unix, not(miri)))]
    fn map(layout: Layout) -> Result<Self, Error> {
        let page = page_size();
        let size = layout.size();
        let len = size.checked_add(page - 1).ok_or(Error::Overflow)? & !(page - 1);
        let slack = layout.align().saturating_sub(page);
        let total = len.checked_add(slack).ok_or(Error::Overflow)?;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing touches no existing memory.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(Error::AllocFailed { size });
        }
        let start = raw as usize;
        let aligned = (start + layout.align() - 1) & !(layout.align() - 1);
        let head = aligned - start;
        let tail = total - head - len;
        // SAFETY: [start, aligned) and [aligned + len, start + total) are
        // page-aligned parts of the mapping just made, used by nobody; the
        // block [aligned, aligned + len) stays mapped.
        unsafe {
            if head > 0 {
                libc::munmap(raw, head);
            }
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
        }
        Ok(AlignedBuf {
            // SAFETY: a successful mmap never returns null, and `aligned` is
            // inside the mapping.
            ptr: unsafe { NonNull::new_unchecked(aligned as *mut u8) },
            layout,
            backing: Backing::Mapped { len },
        })
    }

    #[cfg(not(all(unix, not(miri))))]
    fn map(_layout: Layout) -> Result<Self, Error> {
        unreachable!("mmap is only used on unix outside Miri")
    }

    /// Allocates `size` zeroed bytes aligned to the OS page size.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn page_aligned(size: usize) -> Result<Self, Error> {
        Self::new(size, page_size())
    }

    /// Allocates `size` zeroed bytes aligned to [`CACHE_LINE_SIZE`].
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn cache_line_aligned(size: usize) -> Result<Self, Error> {
        Self::new(size, CACHE_LINE_SIZE)
    }

    /// Bytes in the block, read from its layout: no reference to the bytes
    /// is made (a pool asks this while guards borrow parts of its slab).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Always false: a block has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The alignment this block was allocated with.
    pub fn align(&self) -> usize {
        self.layout.align()
    }

    /// A raw pointer to the first byte. Writing through it is allowed only
    /// where no `&[u8]` borrowed from this value is alive.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The pointer without going through a reference to the bytes, so that
    /// a pool can hand out disjoint parts of the block to several owners.
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.ptr
    }

    fn advise_huge_pages(&self) {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            // madvise wants a page-aligned start: advise the whole huge-page
            // aligned part inside the block (where none fits, nothing).
            let huge = HUGE_PAGE_THRESHOLD;
            let start = self.ptr.as_ptr() as usize;
            let end = start + self.layout.size();
            let first = (start + huge - 1) & !(huge - 1);
            let last = end & !(huge - 1);
            if last > first {
                // SAFETY: [first, last) lies inside this live allocation and
                // is page aligned; MADV_HUGEPAGE is only advice and changes no
                // contents. An error (no THP support) is ignored on purpose.
                unsafe {
                    libc::madvise(
                        first as *mut libc::c_void,
                        last - first,
                        libc::MADV_HUGEPAGE,
                    );
                }
            }
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid and initialised for layout.size() bytes and
        // lives as long as self; &self forbids concurrent mutation.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref, and &mut self makes this the only borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        match self.backing {
            // SAFETY: ptr came from alloc_zeroed with exactly this layout and
            // is freed once, here.
            Backing::Heap => unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) },
            Backing::Mapped { len } => {
                #[cfg(all(unix, not(miri)))]
                // SAFETY: [ptr, ptr + len) is exactly what `map` left mapped,
                // and it is unmapped once, here. A failure cannot be acted on
                // in drop and would only leak the range.
                unsafe {
                    libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, len);
                }
                #[cfg(not(all(unix, not(miri))))]
                let _ = len;
            }
        }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("ptr", &self.ptr)
            .field("len", &self.layout.size())
            .field("align", &self.layout.align())
            .finish()
    }
}

/// `count` equal blocks carved from one aligned allocation; each block
/// starts on the alignment boundary.
///
/// ```
/// let mut blocks = iobuf_pool::mem::AlignedBlocks::cache_line_aligned(4, 100).unwrap();
/// assert_eq!(blocks.len(), 4);
/// assert_eq!(blocks.block(1).unwrap().len(), 100);
/// blocks.block_mut(2).unwrap()[0] = 1;
/// assert!(blocks.block(4).is_none());
/// ```
#[derive(Debug)]
pub struct AlignedBlocks {
    /// The allocation; `count * stride` bytes.
    mem: AlignedBuf,
    /// Blocks in it; > 0.
    count: usize,
    /// Bytes a block is asked for; > 0, <= stride.
    block_size: usize,
    /// Distance between block starts: block_size rounded up to the
    /// alignment, so every block starts aligned.
    stride: usize,
}

impl AlignedBlocks {
    /// `count` blocks of `block_size` bytes, each starting on a page.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// let blocks = iobuf_pool::mem::AlignedBlocks::page_aligned(3, 100).unwrap();
    /// let page = iobuf_pool::mem::page_size();
    /// assert!(blocks.iter().all(|b| b.as_ptr() as usize % page == 0));
    /// ```
    pub fn page_aligned(count: usize, block_size: usize) -> Result<Self, Error> {
        Self::new(count, block_size, page_size())
    }

    /// `count` blocks of `block_size` bytes, each starting on a cache line
    /// ([`CACHE_LINE_SIZE`]), so no two blocks share one.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// let blocks = iobuf_pool::mem::AlignedBlocks::cache_line_aligned(2, 8).unwrap();
    /// assert_eq!(blocks.block(1).unwrap().as_ptr() as usize % iobuf_pool::mem::CACHE_LINE_SIZE, 0);
    /// ```
    pub fn cache_line_aligned(count: usize, block_size: usize) -> Result<Self, Error> {
        Self::new(count, block_size, CACHE_LINE_SIZE)
    }

    /// `count` blocks of `block_size` bytes, each aligned to `align`.
    ///
    /// # Errors
    /// [`Error::ZeroCount`], [`Error::ZeroSize`], [`Error::BadAlignment`]
    /// (not a power of two), [`Error::Overflow`], or the allocation's own
    /// errors (see [`AlignedBuf::new`]).
    ///
    /// ```
    /// let blocks = iobuf_pool::mem::AlignedBlocks::new(2, 10, 256).unwrap();
    /// assert_eq!(blocks.block(1).unwrap().as_ptr() as usize % 256, 0);
    /// ```
    pub fn new(count: usize, block_size: usize, align: usize) -> Result<Self, Error> {
        if count == 0 {
            return Err(Error::ZeroCount);
        }
        if block_size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment(align));
        }
        let stride = block_size.checked_add(align - 1).ok_or(Error::Overflow)? & !(align - 1);
        let total = stride.checked_mul(count).ok_or(Error::Overflow)?;
        let mem = AlignedBuf::new(total, align)?;
        Ok(AlignedBlocks {
            mem,
            count,
            block_size,
            stride,
        })
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: there is at least one block.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Bytes in one block.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Block `i`, or `None` past the end.
    pub fn block(&self, i: usize) -> Option<&[u8]> {
        (i < self.count).then(|| &self.mem[i * self.stride..][..self.block_size])
    }

    /// Block `i`, mutably, or `None` past the end.
    pub fn block_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let (stride, size) = (self.stride, self.block_size);
        (i < self.count).then(move || &mut self.mem[i * stride..][..size])
    }

    /// All blocks in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).map(move |i| &self.mem[i * self.stride..][..self.block_size])
    }

    /// All blocks, mutably, in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        let size = self.block_size;
        self.mem
            .chunks_mut(self.stride)
            .map(move |c| &mut c[..size])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_comes_from_the_os() {
        let p = page_size();
        assert!(p.is_power_of_two());
        // An independent reading: the kernel's page size of our mappings.
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let kb: usize = smaps
                .lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap();
            assert_eq!(p, kb * 1024);
        }
    }

    #[test]
    fn cache_line_is_a_power_of_two_at_least_64() {
        assert!(CACHE_LINE_SIZE.is_power_of_two() && CACHE_LINE_SIZE >= 64);
    }

    #[test]
    fn allocations_are_aligned_zeroed_and_writable() {
        // Under Miri (every byte checked, some thousand times slower): the
        // allocator's paths still, with fewer sizes and alignments.
        let (aligns, sizes): (&[usize], &[usize]) = if cfg!(miri) {
            (&[1, 64, 4096], &[1, 4097])
        } else {
            (&[1, 2, 8, 64, 128, 4096, 1 << 16], &[1, 7, 64, 4095, 4097])
        };
        for &align in aligns {
            for &size in sizes {
                let mut b = AlignedBuf::new(size, align).unwrap();
                assert_eq!(b.len(), size);
                assert_eq!(b.align(), align);
                assert_eq!(b.as_ptr() as usize % align, 0);
                assert!(b.iter().all(|&x| x == 0));
                b.fill(0xAB);
                assert!(b.iter().all(|&x| x == 0xAB));
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        assert_eq!(AlignedBuf::new(0, 64).unwrap_err(), Error::ZeroSize);
        assert_eq!(AlignedBuf::new(64, 0).unwrap_err(), Error::BadAlignment(0));
        assert_eq!(
            AlignedBuf::new(64, 48).unwrap_err(),
            Error::BadAlignment(48)
        );
        assert_eq!(
            AlignedBuf::new(usize::MAX, 64).unwrap_err(),
            Error::Overflow
        );
        assert_eq!(
            AlignedBuf::new(isize::MAX as usize - 10, 4096).unwrap_err(),
            Error::Overflow
        );
        assert_eq!(AlignedBlocks::new(0, 8, 64).unwrap_err(), Error::ZeroCount);
        assert_eq!(AlignedBlocks::new(8, 0, 64).unwrap_err(), Error::ZeroSize);
        assert_eq!(
            AlignedBlocks::new(8, 8, 100).unwrap_err(),
            Error::BadAlignment(100)
        );
        assert_eq!(
            AlignedBlocks::new(usize::MAX / 2, 4096, 4096).unwrap_err(),
            Error::Overflow
        );
        assert_eq!(
            AlignedBlocks::new(1, usize::MAX, 4096).unwrap_err(),
            Error::Overflow
        );
    }

    #[cfg(not(miri))]
    #[test]
    fn a_refused_allocation_is_an_error() {
        // 2^62 bytes fits a Layout but no machine's memory or address space.
        let size = 1usize << 62;
        assert_eq!(
            AlignedBuf::new(size, 4096).unwrap_err(),
            Error::AllocFailed { size }
        );
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_sized() {
        let align = page_size();
        let mut blocks = AlignedBlocks::page_aligned(3, 100).unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks.block_size(), 100);
        for (i, b) in blocks.iter_mut().enumerate() {
            assert_eq!(b.len(), 100);
            assert_eq!(b.as_ptr() as usize % align, 0);
            b.fill(i as u8 + 1);
        }
        for i in 0..3 {
            assert!(blocks.block(i).unwrap().iter().all(|&x| x == i as u8 + 1));
        }
        assert!(blocks.block(3).is_none());
        assert!(blocks.block_mut(3).is_none());
        let cl = AlignedBlocks::cache_line_aligned(5, 10).unwrap();
        for b in cl.iter() {
            assert_eq!(b.as_ptr() as usize % CACHE_LINE_SIZE, 0);
        }
    }

    #[test]
    fn seed_helpers() {
        let b = AlignedBuf::page_aligned(page_size()).unwrap();
        assert_eq!(b.len(), page_size());
        assert_eq!(b.as_ptr() as usize % page_size(), 0);
        let m = AlignedBuf::new(100, 256).unwrap();
        assert_eq!(m.as_ptr() as usize % 256, 0);
        let c = AlignedBuf::cache_line_aligned(10).unwrap();
        assert_eq!(c.as_ptr() as usize % CACHE_LINE_SIZE, 0);
    }

    #[cfg(not(miri))]
    #[test]
    fn huge_allocations_are_usable() {
        let mut b = AlignedBuf::new(HUGE_PAGE_THRESHOLD * 2, HUGE_PAGE_THRESHOLD).unwrap();
        assert_eq!(b.as_ptr() as usize % HUGE_PAGE_THRESHOLD, 0);
        let n = b.len();
        b[n - 1] = 9;
        assert_eq!(b[n - 1], 9);
    }

    #[cfg(not(miri))]
    #[test]
    fn mapped_allocations_are_aligned_zeroed_and_whole() {
        for (size, align) in [
            (MMAP_THRESHOLD, 1),
            (MMAP_THRESHOLD + 1, 64),
            (3 * MMAP_THRESHOLD + 5, page_size()),
            (MMAP_THRESHOLD, 1 << 21),
            (5 << 20, 1 << 22),
        ] {
            let mut b = AlignedBuf::new(size, align).unwrap();
            assert!(matches!(b.backing, Backing::Mapped { .. }));
            assert_eq!(b.len(), size);
            assert_eq!(b.as_ptr() as usize % align, 0);
            assert!(b.iter().all(|&x| x == 0));
            b.fill(0x5A);
            assert!(b.iter().all(|&x| x == 0x5A));
        }
        assert!(matches!(
            AlignedBuf::new(MMAP_THRESHOLD - 1, 8).unwrap().backing,
            Backing::Heap
        ));
    }

    #[test]
    fn send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<AlignedBuf>();
        check::<AlignedBlocks>();
    }
}
