//! `list`: what `run` accepts.

use crate::format::human_bytes;
use crate::pools::{self, PoolKind};
use crate::scenario;
use iobuf_pool::Tier;
use std::fmt::Write as _;

/// The text `list` prints.
pub fn text() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Tiers (--tier NAME, repeatable, or all):");
    for t in Tier::ALL {
        let _ = writeln!(s, "  {:<8} {:>8}", t.name(), human_bytes(t.size() as u64));
    }
    let _ = writeln!(s, "\nPools (--pools a,b,…, or all):");
    let w = PoolKind::ALL
        .iter()
        .map(|p| p.name().len())
        .fold(13, usize::max);
    for p in PoolKind::ALL {
        let _ = writeln!(s, "  {:<w$} {}", p.name(), p.description());
    }
    let _ = writeln!(
        s,
        "\nRows that are not --pools values (run adds them by itself):"
    );
    let _ = writeln!(
        s,
        "  {:<14} every scenario, always run: a thread-local free list (a Vec of indices per thread, \
         refilled from and spilled to a locked spare list a chunk at a time; batch calls in burst) through \
         the same worker and checks: the harness's own limit, that every row can be read against",
        pools::CEILING
    );
    let _ = writeln!(
        s,
        "  {:<14} handoff only, always run: the producer→consumer queue with no pool, to subtract",
        pools::TRANSPORT
    );
    let _ = writeln!(
        s,
        "  {:<14} burst only, with iobuf in --pools: a pool without a thread cache moving each burst \
         with try_get_many / put_many (batch ring operations)",
        pools::IOBUF_BATCH
    );
    let _ = writeln!(
        s,
        "  {:<14} burst only, with iobuf-tc in --pools: as {}, on a pool with thread_cache(64)",
        pools::IOBUF_TC_BATCH,
        pools::IOBUF_BATCH
    );
    let _ = writeln!(
        s,
        "  {:<14} io only, with iobuf / iobuf-cached in --pools: the same pool registered with each ring \
         (iobuf_pool::uring::FixedBuffers), reading with READ_FIXED; also {}",
        pools::IOBUF_FIXED,
        pools::IOBUF_CACHED_FIXED
    );
    let _ = writeln!(
        s,
        "\nScenarios (--scenario NAME, or --scenario-file PATH in the same JSON format):"
    );
    for sc in scenario::builtins() {
        let params = serde_json::to_value(&sc)
            .ok()
            .and_then(|v| v.get("params").cloned())
            .map(|p| p.to_string())
            .unwrap_or_default();
        let _ = writeln!(s, "  {:<8} {}", sc.name, sc.description);
        let _ = writeln!(s, "  {:<8} params: {params}", "");
    }
    let _ = writeln!(
        s,
        "\nCheck levels (--check): sampled (default) checks one holding in {} at random (ownership \
         flag, stamps at both ends of the buffer) and drains every pool exactly once after every case; \
         full checks every holding (a stress run; the checks then cost more than the fastest pools).",
        crate::measure::SAMPLED_CHECK_EVERY
    );
    let _ = writeln!(
        s,
        "vs base: a row's throughput ÷ {}'s in the same round, median over the rounds.",
        pools::GATE_BASE
    );
    let _ = writeln!(
        s,
        "compare's gate: each iobuf row's throughput ÷ the first of {} that both runs have, \
         in the same round.",
        pools::GATE_REFERENCES.join(", ")
    );
    let _ = writeln!(
        s,
        "\nThroughput is in pairs/s: one op is one buffer taken and returned (get + put), \
         so the numbers compare across pools and scenarios."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_everything_run_accepts() {
        let text = text();
        for t in Tier::ALL {
            assert!(text.contains(t.name()));
        }
        for p in PoolKind::ALL {
            assert!(text.contains(p.name()));
        }
        for n in scenario::builtin_names() {
            assert!(text.contains(n));
        }
        // Every row a run can print, not only the --pools values.
        assert!(text.contains(pools::IOBUF_CACHED_FIXED));
        for row in [
            pools::IOBUF_FIXED,
            pools::IOBUF_BATCH,
            pools::IOBUF_TC_BATCH,
            pools::CEILING,
            pools::TRANSPORT,
        ] {
            assert!(text.contains(&format!("  {row:<14} ")), "{row}");
        }
        assert!(text.contains("pairs/s"));
    }
}
