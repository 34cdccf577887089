//! Every row's identity, defined once: the pools `run` compares (name,
//! description, ours or a baseline), the extra rows (the bare handoff
//! transport, io's fixed-buffer pools), the display order, and the
//! same-run ratios the regression gate checks. Colours are the report's.

/// The pools `run` can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    Iobuf,
    IobufRing,
    IobufFifo,
    IobufCached,
    IobufThreadCache,
    IobufOwned,
    IobufAsync,
    IobufTokio,
    Mutex,
    Crossbeam,
    #[cfg(feature = "peers")]
    ShardedSlab,
    #[cfg(feature = "peers")]
    LockfreeObjectPool,
    #[cfg(feature = "peers")]
    Opool,
    #[cfg(feature = "peers")]
    ObjectPool,
    #[cfg(feature = "peers")]
    ConcurrentQueue,
    #[cfg(feature = "peers")]
    ParkingLot,
    #[cfg(feature = "peers")]
    Lfqueue,
}

/// The name of the row every scenario runs over a thread-local free list
/// (see [`crate::pools::ceiling`]): the harness's own limit.
pub const CEILING: &str = "ceiling";

/// The name of the handoff-only row that measures the queue between
/// producers and consumers with no pool at all.
pub const TRANSPORT: &str = "transport";

/// The `io` rows of iobuf's pools registered with each ring as fixed
/// buffers, reading with READ_FIXED.
pub const IOBUF_FIXED: &str = "iobuf-fixed";
/// As [`IOBUF_FIXED`], through a `LocalCache` per thread.
pub const IOBUF_CACHED_FIXED: &str = "iobuf-cached-fixed";

/// The `burst` row of `BufferPool` moving each burst with
/// `try_get_many` / `put_many` (batch ring operations).
pub const IOBUF_BATCH: &str = "iobuf-batch";
/// As [`IOBUF_BATCH`], on a pool with a thread cache.
pub const IOBUF_TC_BATCH: &str = "iobuf-tc-batch";

/// How many peers (feature `peers`) there are.
#[cfg(feature = "peers")]
const PEERS: usize = 7;
#[cfg(not(feature = "peers"))]
const PEERS: usize = 0;

/// The peers, in display order.
#[cfg(feature = "peers")]
const PEER_KINDS: [PoolKind; PEERS] = [
    PoolKind::ShardedSlab,
    PoolKind::LockfreeObjectPool,
    PoolKind::Opool,
    PoolKind::ObjectPool,
    PoolKind::ConcurrentQueue,
    PoolKind::ParkingLot,
    PoolKind::Lfqueue,
];
#[cfg(not(feature = "peers"))]
const PEER_KINDS: [PoolKind; PEERS] = [];

/// How many of ours and the baselines there are.
const OURS: usize = 10;

/// `N` kinds: ours and the baselines, then the peers.
const fn with_peers<const N: usize>(first: [PoolKind; OURS]) -> [PoolKind; N] {
    let mut all = [PoolKind::Iobuf; N];
    let mut i = 0;
    while i < N {
        all[i] = if i < OURS {
            first[i]
        } else {
            PEER_KINDS[i - OURS]
        };
        i += 1;
    }
    all
}

impl PoolKind {
    pub const ALL: [PoolKind; OURS + PEERS] = with_peers([
        PoolKind::Iobuf,
        PoolKind::IobufRing,
        PoolKind::IobufFifo,
        PoolKind::IobufCached,
        PoolKind::IobufThreadCache,
        PoolKind::IobufOwned,
        PoolKind::IobufAsync,
        PoolKind::IobufTokio,
        PoolKind::Mutex,
        PoolKind::Crossbeam,
    ]);

    pub const fn name(self) -> &'static str {
        match self {
            PoolKind::Iobuf => "iobuf",
            PoolKind::IobufRing => "iobuf-ring",
            PoolKind::IobufFifo => "iobuf-fifo",
            PoolKind::IobufCached => "iobuf-cached",
            PoolKind::IobufThreadCache => "iobuf-tc",
            PoolKind::IobufOwned => "iobuf-owned",
            PoolKind::IobufAsync => "iobuf-async",
            PoolKind::IobufTokio => "iobuf-tokio",
            PoolKind::Mutex => "mutex",
            PoolKind::Crossbeam => "crossbeam",
            #[cfg(feature = "peers")]
            PoolKind::ShardedSlab => "sharded-slab",
            #[cfg(feature = "peers")]
            PoolKind::LockfreeObjectPool => "lockfree-object-pool",
            #[cfg(feature = "peers")]
            PoolKind::Opool => "opool",
            #[cfg(feature = "peers")]
            PoolKind::ObjectPool => "object-pool",
            #[cfg(feature = "peers")]
            PoolKind::ConcurrentQueue => "concurrent-queue",
            #[cfg(feature = "peers")]
            PoolKind::ParkingLot => "parking-lot",
            #[cfg(feature = "peers")]
            PoolKind::Lfqueue => "lfqueue",
        }
    }

    pub fn from_name(s: &str) -> Option<PoolKind> {
        PoolKind::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn description(self) -> &'static str {
        match self {
            PoolKind::Iobuf => {
                "iobuf_pool::BufferPool::new, whatever it gives by default (the pool everyone writes first); PooledBuf guards, returned on drop"
            }
            PoolKind::IobufRing => {
                "iobuf_pool::BufferPool::builder(..).thread_cache(0): no thread cache, the lock-free SCQ ring behind a one-entry reuse slot (the ring's own cost)"
            }
            PoolKind::IobufFifo => {
                "iobuf_pool::BufferPool::builder(..).thread_cache(0).reuse_slot(false): the SCQ ring alone, no reuse slot (what the slot adds or costs)"
            }
            PoolKind::IobufCached => {
                "iobuf_pool::BufferPool behind a LocalCache per thread (DEFAULT_CACHE_SIZE = 64); returns go through the returning thread's cache"
            }
            PoolKind::IobufThreadCache => {
                "iobuf_pool::BufferPool::builder(..).thread_cache(64): plain get and drop, served by the calling thread's own cache (no cache object held)"
            }
            PoolKind::IobufOwned => {
                "iobuf_pool::BufferPool::try_get_owned / get_owned_timeout on BufferPool::new's pool: 'static OwnedBuf guards, each holding a reference to the pool's memory (from the thread's cache)"
            }
            PoolKind::IobufAsync => {
                "iobuf_pool::BufferPool::acquire().await on BufferPool::new's pool, polled by a small thread-parking executor on each thread (the async path's cost without a runtime's)"
            }
            PoolKind::IobufTokio => {
                "iobuf_pool::BufferPool::acquire_owned().await on BufferPool::new's pool, one task per thread on a multi-thread tokio runtime with that many worker threads (pairs only)"
            }
            PoolKind::Mutex => {
                "baseline: std Mutex<Vec<u32>> of free indices over the same page-aligned slab"
            }
            PoolKind::Crossbeam => {
                "baseline: crossbeam-queue ArrayQueue<u32> of free indices over the same slab"
            }
            #[cfg(feature = "peers")]
            PoolKind::ShardedSlab => {
                "peer: sharded-slab 0.1.7 Pool<Entry>, each entry owning one buffer of the same slab, bound on first use; cleared entries return to the shard of the thread that made them"
            }
            #[cfg(feature = "peers")]
            PoolKind::LockfreeObjectPool => {
                "peer: lockfree-object-pool 0.1.6 LinearObjectPool<u32>, each object one buffer index of the same slab"
            }
            #[cfg(feature = "peers")]
            PoolKind::Opool => {
                "peer: opool 0.2.0 concurrent Pool<_, u32> (prefilled), each object one buffer index of the same slab"
            }
            #[cfg(feature = "peers")]
            PoolKind::ObjectPool => {
                "peer: object-pool 0.6.0 Pool<u32> (a locked stack of objects), each object one buffer index of the same slab"
            }
            #[cfg(feature = "peers")]
            PoolKind::ConcurrentQueue => {
                "peer: concurrent-queue 2.5.0 ConcurrentQueue::bounded<u32> of free indices over the same slab"
            }
            #[cfg(feature = "peers")]
            PoolKind::ParkingLot => {
                "peer: parking_lot 0.12.5 Mutex<Vec<u32>> of free indices over the same slab"
            }
            #[cfg(feature = "peers")]
            PoolKind::Lfqueue => {
                "peer: lfqueue 0.8.1 AllocBoundedQueue<u32> (SCQ, power-of-two size) of free indices over the same slab"
            }
        }
    }
}

/// Display order of the pools: ours first, then the baselines, then the
/// peers.
pub const DISPLAY_ORDER: [PoolKind; OURS + PEERS] = with_peers([
    PoolKind::Iobuf,
    PoolKind::IobufRing,
    PoolKind::IobufFifo,
    PoolKind::IobufCached,
    PoolKind::IobufThreadCache,
    PoolKind::IobufOwned,
    PoolKind::IobufAsync,
    PoolKind::IobufTokio,
    PoolKind::Crossbeam,
    PoolKind::Mutex,
]);

/// The row every row is divided by in "vs base" (tables, JSON, exports):
/// a plain lock-free queue of indices that every run has.
pub const GATE_BASE: &str = PoolKind::Crossbeam.name();

/// The rows the gate divides every iobuf row by, the first that both
/// sides have: the ceiling (the harness alone over a thread-local list),
/// then crossbeam for documents without one. The ceiling shares nothing
/// between threads, so it is the steadiest row from one process to the
/// next: on the 2-core machine crossbeam's throughput moved by up to 20%
/// between processes (its buffers cycle through 2 MiB, so its speed
/// depends on where they land), and the gate on `iobuf/crossbeam` raised
/// false alarms in 14% of pairs of runs at a 5% threshold; on
/// `iobuf/ceiling`, 3% (`iobuf-bench/README.md`, "What it can catch").
pub const GATE_REFERENCES: [&str; 2] = [CEILING, GATE_BASE];

/// Whether the row named `pool` is one of ours (gated) rather than a
/// baseline or the transport (context): every iobuf pool, `-fixed` rows
/// included.
pub fn is_iobuf(pool: &str) -> bool {
    pool == PoolKind::Iobuf.name() || pool.starts_with("iobuf-")
}

/// Sort key of the row named `pool`: the pools in [`DISPLAY_ORDER`], then
/// every other row by name.
pub fn rank(pool: &str) -> (usize, &str) {
    match DISPLAY_ORDER.iter().position(|p| p.name() == pool) {
        Some(i) => (i, ""),
        None => (DISPLAY_ORDER.len(), pool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ordered_and_classified() {
        assert_eq!(rank("iobuf"), (0, ""));
        assert_eq!(rank("crossbeam"), (8, ""));
        assert_eq!(rank("mutex"), (9, ""));
        assert_eq!(rank(TRANSPORT), (DISPLAY_ORDER.len(), TRANSPORT));
        assert!(is_iobuf(IOBUF_CACHED_FIXED) && is_iobuf("iobuf-fifo"));
        assert!(is_iobuf(IOBUF_BATCH) && is_iobuf(IOBUF_TC_BATCH) && is_iobuf("iobuf-tc"));
        assert!(!is_iobuf(TRANSPORT) && !is_iobuf("crossbeam"));
        for p in PoolKind::ALL {
            assert!(DISPLAY_ORDER.contains(&p));
            let other =
                matches!(p, PoolKind::Mutex | PoolKind::Crossbeam) || PEER_KINDS.contains(&p);
            assert_eq!(is_iobuf(p.name()), !other, "{}", p.name());
        }
        assert!(!is_iobuf(GATE_BASE) && !is_iobuf(CEILING));
    }
}
