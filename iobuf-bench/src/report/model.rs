//! The page model: the loaded runs grouped the way the page shows them, per
//! (scenario, tier), then per thread count, each result labelled with the
//! series it belongs to.
//!
//! When the same case and pool appear in several files, the files are runs
//! to put side by side and every series is labelled with its file;
//! otherwise the files are parts of one matrix and are merged.

use std::collections::{BTreeMap, BTreeSet};

use super::palette::Palette;
use crate::document::read::{CaseResult, RunDoc, TierName};
use crate::pools::rank as pool_rank;

/// A result as the report shows it: which series it belongs to.
pub struct Entry<'a> {
    /// The measured case.
    pub result: &'a CaseResult,
    /// Which run of a side-by-side comparison; always 0 when merging.
    pub file: usize,
    /// Legend name: the pool, and in side-by-side mode its file.
    pub series: String,
}

/// One (scenario, tier)'s entries per thread count, in display order.
pub type Group<'a> = BTreeMap<u32, Vec<Entry<'a>>>;

/// Everything the page is drawn from.
pub struct Model<'a> {
    /// A short, unique label per file.
    pub labels: Vec<String>,
    /// Whether the files are runs to compare rather than parts of one.
    pub side_by_side: bool,
    /// Results per (scenario, tier).
    pub groups: BTreeMap<(String, TierName), Group<'a>>,
    /// Pool colours.
    pub palette: Palette,
}

impl<'a> Model<'a> {
    /// Groups the results of `docs`.
    pub fn new(docs: &'a [RunDoc]) -> Model<'a> {
        let labels = file_labels(docs);
        // Side-by-side mode when some (case, pool) is measured by two files.
        let mut seen = BTreeMap::new();
        let mut side_by_side = false;
        for (i, doc) in docs.iter().enumerate() {
            for r in &doc.results {
                if let Some(other) = seen.insert((r.key(), r.pool.clone()), i) {
                    if other != i {
                        side_by_side = true;
                    }
                }
            }
        }
        let mut groups: BTreeMap<(String, TierName), Group> = BTreeMap::new();
        for (file, doc) in docs.iter().enumerate() {
            for r in &doc.results {
                let series = if side_by_side {
                    format!("{} · {}", r.pool, labels[file])
                } else {
                    r.pool.clone()
                };
                groups
                    .entry((r.scenario.clone(), TierName(r.tier.clone())))
                    .or_default()
                    .entry(r.threads)
                    .or_default()
                    .push(Entry {
                        result: r,
                        // Parts of one matrix are one run to the plots and tables.
                        file: if side_by_side { file } else { 0 },
                        series,
                    });
            }
        }
        for group in groups.values_mut() {
            for entries in group.values_mut() {
                entries.sort_by(|a, b| {
                    (pool_rank(&a.result.pool), a.file).cmp(&(pool_rank(&b.result.pool), b.file))
                });
            }
        }
        let palette = Palette::new(
            docs.iter()
                .flat_map(|d| d.results.iter().map(|r| r.pool.as_str())),
        );
        Model {
            labels,
            side_by_side,
            groups,
            palette,
        }
    }

    /// The scenarios measured, in order.
    pub fn scenarios(&self) -> BTreeSet<&String> {
        self.groups.keys().map(|(s, _)| s).collect()
    }
}

/// Throughput of `pool` in run file `file` among one case's entries.
pub fn ops_per_sec(entries: &[Entry<'_>], file: usize, pool: &str) -> Option<f64> {
    entries
        .iter()
        .find(|e| e.file == file && e.result.pool == pool)
        .map(|e| e.result.ops_per_sec)
}

/// A short, unique label per file (its stem, or its position on a clash).
fn file_labels(docs: &[RunDoc]) -> Vec<String> {
    let stems: Vec<String> = docs
        .iter()
        .map(|d| {
            d.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| d.path.display().to_string())
        })
        .collect();
    stems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if stems.iter().filter(|t| *t == s).count() > 1 {
                format!("{s} #{}", i + 1)
            } else {
                s.clone()
            }
        })
        .collect()
}

/// A tier's buffer size in words ("4 KiB"), when the name is a known tier.
pub fn tier_size(tier: &str) -> Option<String> {
    let t: iobuf_pool::Tier = tier.parse().ok()?;
    let size = t.size();
    Some(if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    })
}
