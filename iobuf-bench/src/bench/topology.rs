//! Where worker threads run: the allowed CPUs, ordered by the placement
//! asked for (siblings of one core together, or every core once first).

use crate::host::cpu_topology;

/// How worker threads are placed on CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Neighbouring threads on neighbouring logical CPUs.
    Compact,
    /// One thread per physical core (and socket) before any sibling.
    Spread,
    /// No pinning.
    None,
}

/// The CPUs this process may run on, ordered for `mode`.
pub fn placement(mode: Pin) -> Vec<core_affinity::CoreId> {
    if mode == Pin::None {
        return Vec::new();
    }
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    // (package, core, cpu): siblings of one physical core share the first two.
    let mut topo: Vec<(usize, usize, core_affinity::CoreId)> = ids
        .into_iter()
        .map(|c| {
            (
                cpu_topology(c.id, "physical_package_id").unwrap_or(0),
                cpu_topology(c.id, "core_id").unwrap_or(c.id),
                c,
            )
        })
        .collect();
    topo.sort_by_key(|&(pkg, core, c)| (pkg, core, c.id));
    match mode {
        Pin::Compact | Pin::None => topo.into_iter().map(|t| t.2).collect(),
        Pin::Spread => {
            // Rank each CPU among its core's siblings, then take every core's
            // first sibling (alternating packages) before any second one.
            let mut ranked = Vec::with_capacity(topo.len());
            for (i, &(pkg, core, c)) in topo.iter().enumerate() {
                let rank = topo[..i]
                    .iter()
                    .filter(|&&(p, k, _)| p == pkg && k == core)
                    .count();
                ranked.push((rank, core, pkg, c));
            }
            ranked.sort_by_key(|&(rank, core, pkg, c)| (rank, core, pkg, c.id));
            ranked.into_iter().map(|t| t.3).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_compact_place_every_allowed_cpu_once() {
        let mut a: Vec<usize> = placement(Pin::Compact).iter().map(|c| c.id).collect();
        let mut b: Vec<usize> = placement(Pin::Spread).iter().map(|c| c.id).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        assert!(!a.is_empty());
        assert!(placement(Pin::None).is_empty());
    }
}
