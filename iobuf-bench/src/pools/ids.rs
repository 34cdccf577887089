//! Every row's identity, defined once: the pools `run` compares (name,
//! description, ours or a baseline), the extra rows (the bare handoff
//! transport, io's fixed-buffer pools), the display order, and the
//! same-run ratios the regression gate checks. Colours are the report's.

/// The pools `run` can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    Iobuf,
    IobufFifo,
    IobufCached,
    Mutex,
    Crossbeam,
}

/// The name of the handoff-only row that measures the queue between
/// producers and consumers with no pool at all.
pub const TRANSPORT: &str = "transport";

/// The `io` rows of iobuf's pools registered with each ring as fixed
/// buffers, reading with READ_FIXED.
pub const IOBUF_FIXED: &str = "iobuf-fixed";
/// As [`IOBUF_FIXED`], through a `LocalCache` per thread.
pub const IOBUF_CACHED_FIXED: &str = "iobuf-cached-fixed";

impl PoolKind {
    pub const ALL: [PoolKind; 5] = [
        PoolKind::Iobuf,
        PoolKind::IobufFifo,
        PoolKind::IobufCached,
        PoolKind::Mutex,
        PoolKind::Crossbeam,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            PoolKind::Iobuf => "iobuf",
            PoolKind::IobufFifo => "iobuf-fifo",
            PoolKind::IobufCached => "iobuf-cached",
            PoolKind::Mutex => "mutex",
            PoolKind::Crossbeam => "crossbeam",
        }
    }

    pub fn from_name(s: &str) -> Option<PoolKind> {
        PoolKind::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    /// A baseline is what a user would write without iobuf.
    pub fn is_baseline(self) -> bool {
        matches!(self, PoolKind::Mutex | PoolKind::Crossbeam)
    }

    pub fn description(self) -> &'static str {
        match self {
            PoolKind::Iobuf => {
                "iobuf::BufferPool: lock-free SCQ ring of indices behind a one-entry reuse slot; Buf guards, returned on drop"
            }
            PoolKind::IobufFifo => {
                "iobuf::BufferPool::new_fifo: the SCQ ring alone, no reuse slot (what the slot adds or costs)"
            }
            PoolKind::IobufCached => {
                "iobuf::BufferPool behind a LocalCache per thread (DEFAULT_CACHE_SIZE = 64); returns go through the returning thread's cache"
            }
            PoolKind::Mutex => {
                "baseline: std Mutex<Vec<u32>> of free indices over the same page-aligned slab"
            }
            PoolKind::Crossbeam => {
                "baseline: crossbeam-queue ArrayQueue<u32> of free indices over the same slab"
            }
        }
    }
}

/// Display order of the pools: ours first, then the baselines.
pub const DISPLAY_ORDER: [PoolKind; 5] = [
    PoolKind::Iobuf,
    PoolKind::IobufFifo,
    PoolKind::IobufCached,
    PoolKind::Crossbeam,
    PoolKind::Mutex,
];

/// Same-run throughput ratios the default gate uses: (ours, baseline).
pub const GATE_RATIOS: [(&str, &str); 4] = [
    (PoolKind::Iobuf.name(), PoolKind::Crossbeam.name()),
    (PoolKind::Iobuf.name(), PoolKind::Mutex.name()),
    (PoolKind::IobufFifo.name(), PoolKind::Crossbeam.name()),
    (PoolKind::IobufCached.name(), PoolKind::Crossbeam.name()),
];

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
        assert_eq!(rank("mutex"), (4, ""));
        assert_eq!(rank(TRANSPORT), (5, TRANSPORT));
        assert!(is_iobuf(IOBUF_CACHED_FIXED) && is_iobuf("iobuf-fifo"));
        assert!(!is_iobuf(TRANSPORT) && !is_iobuf("crossbeam"));
        for p in PoolKind::ALL {
            assert!(DISPLAY_ORDER.contains(&p));
            assert_eq!(is_iobuf(p.name()), !p.is_baseline(), "{}", p.name());
        }
        for (ours, base) in GATE_RATIOS {
            assert!(is_iobuf(ours) && !is_iobuf(base));
        }
    }
}
