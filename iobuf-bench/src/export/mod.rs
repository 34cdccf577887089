//! Exports of a run: the JSON document (its schema in [`json`]) and what
//! goes in its `meta`.

pub mod atomic;
pub mod bmf;
pub mod github;
pub mod json;
pub mod markdown;
pub mod spread;

use json::{BenchDocument, Host, Meta};
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

/// `meta` for a run starting now.
pub fn meta() -> Meta {
    Meta {
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: git_commit(),
        timestamp: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        host: host(),
        load_avg_1m: load_average(),
        cpu_busy_before: cpu_busy(std::time::Duration::from_millis(200)),
    }
}

/// (busy, total) jiffies of all CPUs together, from /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = fields.iter().take(8).sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The share of CPU time used (by anything) over the next `window`.
pub fn cpu_busy(window: std::time::Duration) -> Option<f64> {
    let (b1, t1) = cpu_jiffies()?;
    std::thread::sleep(window);
    let (b2, t2) = cpu_jiffies()?;
    (t2 > t1).then(|| ((b2 - b1) as f64 / (t2 - t1) as f64 * 100.0).round() / 100.0)
}

/// The 1-minute load average, from /proc/loadavg.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The commit checked out in the source tree this binary was built from,
/// when that tree is still there and is a git checkout.
fn git_commit() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    if !Path::new(dir).exists() {
        return None;
    }
    let out = Command::new("git")
        .args(["-C", dir, "rev-parse", "HEAD"])
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(hash)
}

fn host() -> Host {
    Host {
        cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
        logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        os: os_name(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into()),
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    // x86 says "model name"; many arm64 kernels only "CPU part" or
    // "Hardware".
    ["model name", "Hardware", "CPU part", "cpu model"]
        .iter()
        .find_map(|key| {
            info.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
            })
        })
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        });
    match pretty {
        Some(p) => format!("{} ({p})", std::env::consts::OS),
        None => std::env::consts::OS.to_string(),
    }
}

/// The document as pretty JSON, ending in a newline.
pub fn to_json(doc: &BenchDocument) -> String {
    // Serialising these plain types cannot fail (no maps with non-string
    // keys, no failing Serialize impls).
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_describes_this_machine() {
        let m = meta();
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        assert!(m.timestamp.ends_with('Z') && m.timestamp.contains('T'));
        assert!(m.host.logical_cores >= 1);
        assert!(!m.host.os.is_empty());
    }
}
