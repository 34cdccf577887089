//! The spread of each result's throughput, where the run document has one.
//!
//! A run of one round has none. A run of repeated rounds keeps it in one of
//! these shapes, read in this order, per entry of `results`:
//! - `rounds`: an array of per-round results, each with `ops_per_sec`
//!   (or an array of plain numbers): the spread is their min and max;
//! - `ops_per_sec_min` and `ops_per_sec_max`;
//! - `spread`: `{"min": …, "max": …}`.
//!
//! Anything else, or values that are not finite, means no spread.

use serde_json::Value;
use std::path::Path;

/// Lowest and highest throughput of one result over its rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The slowest round's ops/s.
    pub min: f64,
    /// The fastest round's ops/s.
    pub max: f64,
}

/// The spread of every entry of the document's `results`, in order (empty
/// when the file has no such array).
pub fn load(path: &Path) -> Result<Vec<Option<Spread>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    Ok(from_doc(&value))
}

/// [`load`] on a parsed document.
pub fn from_doc(doc: &Value) -> Vec<Option<Spread>> {
    doc.get("results")
        .and_then(Value::as_array)
        .map(|results| results.iter().map(of_result).collect())
        .unwrap_or_default()
}

fn of_result(r: &Value) -> Option<Spread> {
    let spread = if let Some(rounds) = r.get("rounds").and_then(Value::as_array) {
        let values: Vec<f64> = rounds
            .iter()
            .filter_map(|x| x.get("ops_per_sec").unwrap_or(x).as_f64())
            .collect();
        if values.is_empty() {
            return None;
        }
        Spread {
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    } else if let (Some(min), Some(max)) = (
        r.get("ops_per_sec_min").and_then(Value::as_f64),
        r.get("ops_per_sec_max").and_then(Value::as_f64),
    ) {
        Spread { min, max }
    } else {
        let s = r.get("spread")?;
        Spread {
            min: s.get("min")?.as_f64()?,
            max: s.get("max")?.as_f64()?,
        }
    };
    (spread.min.is_finite() && spread.max.is_finite() && spread.min <= spread.max).then_some(spread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_shape_reads_and_a_single_round_has_none() {
        let doc = json!({"results": [
            {"ops_per_sec": 5.0, "rounds": [{"ops_per_sec": 4.0}, {"ops_per_sec": 6.5}, {"ops_per_sec": 5.0}]},
            {"ops_per_sec": 5.0, "rounds": [3.0, 7.0]},
            {"ops_per_sec": 5.0, "ops_per_sec_min": 4.5, "ops_per_sec_max": 5.5},
            {"ops_per_sec": 5.0, "spread": {"min": 1.0, "max": 9.0}},
            {"ops_per_sec": 5.0},
            {"ops_per_sec": 5.0, "spread": {"min": 9.0, "max": 1.0}},
        ]});
        let s = from_doc(&doc);
        assert_eq!(s[0], Some(Spread { min: 4.0, max: 6.5 }));
        assert_eq!(s[1], Some(Spread { min: 3.0, max: 7.0 }));
        assert_eq!(s[2], Some(Spread { min: 4.5, max: 5.5 }));
        assert_eq!(s[3], Some(Spread { min: 1.0, max: 9.0 }));
        assert_eq!(s[4], None);
        assert_eq!(s[5], None);
    }
}
