//! Buffers held outside any guard: the [`RawBuf`] token, the sealed
//! [`Held`] trait for anything that owns an index, and the pool's raw API
//! (`take_raw`, `put_raw`, `guard`, `raw_bytes`, `raw_from_index`).

use super::*;

impl BufferPool {
    /// This pool's identity, unique among the pools of the process (a
    /// [`RawBuf`] carries it).
    pub fn id(&self) -> u64 {
        self.core().id
    }

    /// Whether `raw` is a buffer of this pool.
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let a = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let b = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let raw = a.take_raw().unwrap();
    /// assert!(a.owns(&raw) && !b.owns(&raw));
    /// a.put_raw(raw).unwrap();
    /// ```
    pub fn owns(&self, raw: &RawBuf) -> bool {
        raw.pool_id == self.core().id
    }

    fn check_owner(&self, raw: &RawBuf) -> Result<(), Error> {
        if self.owns(raw) {
            Ok(())
        } else {
            Err(Error::WrongPool {
                index: raw.index,
                pool_id: raw.pool_id,
            })
        }
    }

    /// Takes a free buffer out of the pool as a [`RawBuf`] token, for
    /// ownership outside any guard (an io_uring submission that owns the
    /// buffer until its completion). Give it back with
    /// [`put_raw`](Self::put_raw) or turn it into a guard with
    /// [`guard`](Self::guard).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
    /// let mut raw = pool.take_raw().unwrap();
    /// pool.raw_bytes_mut(&mut raw).unwrap()[0] = 1;
    /// let guard = pool.guard(raw).unwrap(); // consumes the token
    /// assert_eq!(guard.as_full()[0], 1); // the bytes stay; the guard starts empty
    /// ```
    #[must_use = "a dropped RawBuf keeps its buffer out of the pool for good"]
    pub fn take_raw(&self) -> Option<RawBuf> {
        self.try_get().map(PooledBuf::into_raw)
    }

    /// Gives back a buffer held as a [`RawBuf`].
    ///
    /// # Errors
    /// [`Error::WrongPool`]: the token belongs to another pool; this pool is
    /// unchanged, and the token (consumed) leaves its buffer
    /// out of its own pool. Check with [`owns`](Self::owns) first where that
    /// can happen.
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Error, Tier};
    /// let a = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let b = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let raw = a.take_raw().unwrap();
    /// assert!(matches!(b.put_raw(raw), Err(Error::WrongPool { .. })));
    /// ```
    pub fn put_raw(&self, raw: RawBuf) -> Result<(), Error> {
        // The guard's drop returns through `give_back`, which notifies waiters.
        drop(self.guard(raw)?);
        Ok(())
    }

    /// Turns a [`RawBuf`] of this pool back into a guard that returns the
    /// buffer on drop.
    ///
    /// # Errors
    /// [`Error::WrongPool`]: the token belongs to another pool (as for
    /// [`put_raw`](Self::put_raw)).
    pub fn guard(&self, raw: RawBuf) -> Result<PooledBuf<'_>, Error> {
        self.check_owner(&raw)?;
        // The token owned the index exclusively; now the guard does.
        Ok(PooledBuf::from_owned_index(self, raw.index))
    }

    /// The bytes of the buffer `raw` holds, for as long as `raw` is borrowed.
    ///
    /// # Errors
    /// [`Error::WrongPool`]: the token belongs to another pool.
    pub fn raw_bytes<'s>(&'s self, raw: &'s RawBuf) -> Result<&'s [u8], Error> {
        self.check_owner(raw)?;
        // SAFETY: the token owns the index exclusively (it is out of the free
        // list and in no guard), and it is borrowed shared for 's, so nothing
        // writes the bytes meanwhile; the pool outlives 's.
        Ok(unsafe {
            std::slice::from_raw_parts(self.buffer_ptr_unchecked(raw.index), self.buffer_size())
        })
    }

    /// The bytes of the buffer `raw` holds, mutably, for as long as `raw` is
    /// borrowed.
    ///
    /// # Errors
    /// [`Error::WrongPool`]: the token belongs to another pool.
    pub fn raw_bytes_mut<'s>(&'s self, raw: &'s mut RawBuf) -> Result<&'s mut [u8], Error> {
        self.check_owner(raw)?;
        // SAFETY: the token owns the index exclusively and is borrowed
        // mutably for 's, so this is the only reference to the bytes; the
        // pool outlives 's.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(self.buffer_ptr_unchecked(raw.index), self.buffer_size())
        })
    }

    /// Rebuilds a token from the index [`RawBuf::into_index`] gave (an
    /// io_uring `user_data` that carried it through the kernel).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`]: `index` is not below the capacity
    /// (nothing is made).
    ///
    /// # Safety
    /// `index` came from [`RawBuf::into_index`] on a token of *this* pool,
    /// and no other token, guard or call of this function holds it: each
    /// such index is rebuilt at most once. Rebuilding an index twice, or one
    /// that is free or guarded, hands one buffer to two owners.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
    /// let user_data = pool.take_raw().unwrap().into_index() as u64;
    /// // ... the kernel carries user_data to the completion ...
    /// // SAFETY: user_data came from into_index on this pool, rebuilt once.
    /// let raw = unsafe { pool.raw_from_index(user_data as usize) }.unwrap();
    /// pool.put_raw(raw).unwrap();
    /// ```
    pub unsafe fn raw_from_index(&self, index: usize) -> Result<RawBuf, Error> {
        self.check_range(index)?;
        Ok(RawBuf {
            index,
            pool_id: self.core().id,
        })
    }
}

/// A buffer held outside any guard: an owned token that names its pool.
///
/// It is neither `Copy` nor `Clone`: one token per taken buffer, so giving
/// it back ([`BufferPool::put_raw`]) or turning it into a guard
/// ([`BufferPool::guard`]) consumes the only one. It carries its pool's
/// [`id`](BufferPool::id), and a pool refuses a token of another pool with
/// [`Error::WrongPool`]. Its bytes are reached through the pool with
/// [`raw_bytes`](BufferPool::raw_bytes) and
/// [`raw_bytes_mut`](BufferPool::raw_bytes_mut), borrowing the token.
///
/// Dropping a token does not return the buffer (it holds no reference to
/// the pool): the buffer stays out of the pool, a leak but never unsound.
///
/// ```compile_fail,E0382
/// // A token cannot be copied, so it cannot be returned twice.
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let raw = pool.take_raw().unwrap();
/// pool.put_raw(raw).unwrap();
/// pool.put_raw(raw).unwrap();
/// ```
///
/// ```compile_fail,E0451
/// // Nor made from an index by safe code.
/// let raw = iobuf_pool::RawBuf { index: 0, pool_id: 1 };
/// ```
#[must_use = "a dropped RawBuf keeps its buffer out of the pool for good"]
#[derive(Debug, PartialEq, Eq)]
pub struct RawBuf {
    /// Owned by this token alone: out of the free list, in no guard.
    pub(super) index: usize,
    /// The [`BufferPool::id`] of the pool it came from.
    pub(super) pool_id: u64,
}

impl RawBuf {
    /// The buffer's index in its pool (its fixed-buffer index when the
    /// pool's [`iovecs`](BufferPool::iovecs) are registered).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The [`BufferPool::id`] of its pool.
    pub fn pool_id(&self) -> u64 {
        self.pool_id
    }

    /// Gives up the token for its bare index, to carry through something
    /// that holds only an integer (an io_uring `user_data`). Safe, since
    /// the buffer simply stays out of the pool; getting it back takes
    /// [`BufferPool::raw_from_index`], which is `unsafe`.
    #[must_use = "the index is the only way left to the buffer"]
    pub fn into_index(self) -> usize {
        self.index
    }
}

/// A buffer whose index its holder owns: a guard or a [`RawBuf`]. The
/// io_uring entry builders take one by reference, so the index they encode
/// is one the caller holds. Sealed: only this crate's types implement it.
pub trait Held: sealed::Sealed {
    /// The buffer's index in its pool.
    fn held_index(&self) -> usize;
    /// The [`BufferPool::id`] of its pool.
    fn held_pool_id(&self) -> u64;
}

pub(crate) mod sealed {
    /// Keeps [`Held`](super::Held) to this crate's types.
    pub trait Sealed {}
}

impl sealed::Sealed for RawBuf {}
impl Held for RawBuf {
    fn held_index(&self) -> usize {
        self.index
    }
    fn held_pool_id(&self) -> u64 {
        self.pool_id
    }
}
