//! Facts about the machine, read from /proc, /sys and the environment:
//! memory, CPUs and their topology (SMT siblings, NUMA nodes), the
//! frequency governor and turbo, transparent huge pages, RLIMIT_MEMLOCK,
//! whether io_uring works, load, the CPU time other processes use, the OS,
//! and the source checkout's commit. Each reader of a file goes through a
//! parser of its text (`parse_*`), so the parsing is tested on fixture
//! strings; every fact is optional, since machines expose different files.

use crate::document::{Host, MemLock, Meta};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// `meta` for a run starting now (samples other processes' CPU use for
/// 200 ms, so call it while this process is idle).
pub fn meta() -> Meta {
    Meta {
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: git_commit(),
        timestamp: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        host: host(),
        load_avg_1m: load_average(),
        cpu_busy_before: cpu_busy(Duration::from_millis(200)),
    }
}

/// Logical CPUs the standard library sees (at least 1).
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPUs this process may run on (its affinity mask); `logical_cpus()`
/// where that is unreadable.
pub fn allowed_cpus() -> usize {
    core_affinity::get_core_ids().map_or_else(logical_cpus, |c| c.len().max(1))
}

/// Physical memory, from /proc/meminfo; `None` where that is unreadable.
pub fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
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
pub fn cpu_busy(window: Duration) -> Option<f64> {
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
    let online = read("/sys/devices/system/cpu/online").and_then(|t| parse_cpu_list(&t));
    let cpus = online.clone().unwrap_or_default();
    let (io_uring, io_uring_error) = match probe_io_uring() {
        Ok(()) => (Some(true), None),
        Err(why) => (Some(false), Some(why)),
    };
    Host {
        cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
        logical_cores: logical_cpus(),
        os: os_name(),
        kernel: read("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
        physical_cores: count_cores(cpus.iter().map(|&c| {
            (
                cpu_topology(c, "physical_package_id"),
                cpu_topology(c, "core_id"),
            )
        })),
        smt_siblings: cpus
            .iter()
            .filter_map(|c| {
                read(&format!(
                    "/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list"
                ))
            })
            .filter_map(|t| parse_cpu_list(&t).map(|l| l.len()))
            .max(),
        numa_nodes: read("/sys/devices/system/node/online")
            .and_then(|t| parse_cpu_list(&t))
            .map(|n| n.len()),
        cpu_governor: parse_governors(cpus.iter().filter_map(|c| {
            read(&format!(
                "/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"
            ))
        })),
        turbo: parse_turbo(
            read("/sys/devices/system/cpu/intel_pstate/no_turbo").as_deref(),
            read("/sys/devices/system/cpu/cpufreq/boost").as_deref(),
        ),
        transparent_hugepages: read("/sys/kernel/mm/transparent_hugepage/enabled")
            .and_then(|t| parse_thp(&t)),
        rlimit_memlock: read("/proc/self/limits").and_then(|t| parse_memlock(&t)),
        io_uring,
        io_uring_error,
    }
}

/// A whole file, trimmed; `None` where it is missing or unreadable.
fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A kernel CPU (or node) list such as `0-3,8-11` or `0`, expanded.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Physical cores: distinct (package, core) pairs; `None` when any CPU's
/// ids are unknown.
pub fn count_cores(ids: impl Iterator<Item = (Option<usize>, Option<usize>)>) -> Option<usize> {
    let mut seen = std::collections::BTreeSet::new();
    for (package, core) in ids {
        seen.insert((package?, core?));
    }
    (!seen.is_empty()).then_some(seen.len())
}

/// The selected mode of a sysfs choice file: `always [madvise] never` gives
/// `madvise`.
pub fn parse_thp(text: &str) -> Option<String> {
    let start = text.find('[')? + 1;
    let len = text[start..].find(']')?;
    Some(text[start..start + len].to_string()).filter(|m| !m.is_empty())
}

/// RLIMIT_MEMLOCK's soft limit from the text of /proc/self/limits.
pub fn parse_memlock(limits: &str) -> Option<MemLock> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max locked memory"))?;
    match line.split_whitespace().next()? {
        "unlimited" => Some(MemLock::Unlimited),
        n => n.parse().ok().map(MemLock::Bytes),
    }
}

/// The governors of all CPUs as one value: the common one, or the distinct
/// ones comma-separated.
pub fn parse_governors(per_cpu: impl Iterator<Item = String>) -> Option<String> {
    let set: std::collections::BTreeSet<String> = per_cpu
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join(","))
}

/// Turbo from intel_pstate's `no_turbo` (1: off) or cpufreq's `boost`
/// (1: on), whichever the machine has.
pub fn parse_turbo(no_turbo: Option<&str>, boost: Option<&str>) -> Option<bool> {
    match no_turbo.map(str::trim) {
        Some("1") => return Some(false),
        Some("0") => return Some(true),
        _ => {}
    }
    match boost.map(str::trim) {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    }
}

/// Sets up (and drops) a small io_uring: `Err` says why that failed.
fn probe_io_uring() -> Result<(), String> {
    match io_uring::IoUring::new(2) {
        Ok(_) => Ok(()),
        Err(e) => Err(io_uring_error(e.raw_os_error(), &e.to_string())),
    }
}

/// Names an io_uring_setup failure.
pub fn io_uring_error(errno: Option<i32>, text: &str) -> String {
    match errno {
        Some(libc::ENOSYS) => "ENOSYS: the kernel has no io_uring".into(),
        Some(libc::EPERM) => {
            "EPERM: io_uring is disabled (kernel.io_uring_disabled, or a seccomp filter)".into()
        }
        Some(libc::ENOMEM) => "ENOMEM: no memory for a ring (RLIMIT_MEMLOCK?)".into(),
        _ => text.to_string(),
    }
}

/// What a run is about to do, as far as the machine warnings care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    /// Whether two worker threads of some case share a physical core (SMT
    /// siblings).
    pub shares_cores: bool,
    /// The most memory one case registers with io_uring (fixed buffers),
    /// in bytes; 0 when none.
    pub registered_bytes: u64,
}

/// Machine settings that make this run's numbers less trustworthy, one
/// short phrase each (empty: nothing to say).
pub fn warnings(meta: &Meta, load: &Load) -> Vec<String> {
    let h = &meta.host;
    let mut out = Vec::new();
    if let Some(g) = h.cpu_governor.as_deref().filter(|g| *g != "performance") {
        out.push(format!("CPU governor is {g}, not performance"));
    }
    if h.turbo == Some(true) {
        out.push("turbo/boost is on (clock speed varies with load and heat)".into());
    }
    if load.shares_cores {
        out.push("worker threads share physical cores (SMT siblings)".into());
    }
    if let (Some(MemLock::Bytes(limit)), true) = (h.rlimit_memlock, load.registered_bytes > 0) {
        if limit < load.registered_bytes {
            out.push(format!(
                "RLIMIT_MEMLOCK is {} but io_uring registration needs {} (ulimit -l)",
                crate::format::human_bytes(limit),
                crate::format::human_bytes(load.registered_bytes)
            ));
        }
    }
    out
}

/// [`warnings`] as the one line `run` prints on stderr, if any.
pub fn warning_line(meta: &Meta, load: &Load) -> Option<String> {
    let w = warnings(meta, load);
    (!w.is_empty()).then(|| format!("warning: machine: {}; numbers will vary more", w.join("; ")))
}

/// The [`Load`] of a plan: which cases put threads on SMT siblings (pinned
/// placements are checked CPU by CPU; unpinned, more threads than physical
/// cores), and the largest fixed-buffer registration.
pub fn load_of(plan: &crate::plan::Plan, host: &Host) -> Load {
    use crate::bench::Target;
    let cpus = &plan.settings.cpus;
    let shares = |threads: usize| {
        if cpus.is_empty() {
            return host.physical_cores.is_some_and(|p| threads > p);
        }
        let mut seen = std::collections::BTreeSet::new();
        cpus.iter().cycle().take(threads.min(cpus.len())).any(|c| {
            let id = (
                cpu_topology(c.id, "physical_package_id"),
                cpu_topology(c.id, "core_id"),
            );
            id.0.is_some() && id.1.is_some() && !seen.insert(id)
        })
    };
    let per_thread =
        |c: &crate::bench::Case| (c.capacity as u64).saturating_mul(c.tier.size() as u64);
    Load {
        shares_cores: plan.cases.iter().any(|c| shares(c.threads)),
        registered_bytes: plan
            .cases
            .iter()
            .filter(|c| matches!(c.target, Target::Fixed { .. }))
            .map(|c| per_thread(c).saturating_mul(c.threads as u64))
            .max()
            .unwrap_or(0),
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

/// Reads a number from one of `cpu`'s topology files in /sys.
pub fn cpu_topology(cpu: usize, what: &str) -> Option<usize> {
    std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/topology/{what}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str =
        "Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
";

    #[test]
    fn cpu_lists_expand() {
        assert_eq!(parse_cpu_list("0-3,8-9\n"), Some(vec![0, 1, 2, 3, 8, 9]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("5,7"), Some(vec![5, 7]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a-b"), None);
    }

    #[test]
    fn physical_cores_are_distinct_package_core_pairs() {
        // 2 packages x 2 cores x 2 threads.
        let ids = [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
        ];
        assert_eq!(
            count_cores(ids.iter().map(|&(p, c)| (Some(p), Some(c)))),
            Some(4)
        );
        assert_eq!(count_cores([(Some(0), None)].into_iter()), None);
        assert_eq!(count_cores(std::iter::empty()), None);
    }

    #[test]
    fn thp_mode_is_the_bracketed_word() {
        assert_eq!(
            parse_thp("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(
            parse_thp("[always] madvise never").as_deref(),
            Some("always")
        );
        assert_eq!(parse_thp("always madvise never"), None);
    }

    #[test]
    fn memlock_comes_from_the_soft_limit() {
        assert_eq!(parse_memlock(LIMITS), Some(MemLock::Bytes(8_388_608)));
        let unlimited = LIMITS.replace("8388608              8388608", "unlimited unlimited");
        assert_eq!(parse_memlock(&unlimited), Some(MemLock::Unlimited));
        assert_eq!(parse_memlock("Max cpu time unlimited"), None);
    }

    #[test]
    fn governors_and_turbo() {
        let same = ["performance\n", "performance"].map(String::from);
        assert_eq!(
            parse_governors(same.into_iter()).as_deref(),
            Some("performance")
        );
        let mixed = ["powersave", "performance", "powersave"].map(String::from);
        assert_eq!(
            parse_governors(mixed.into_iter()).as_deref(),
            Some("performance,powersave")
        );
        assert_eq!(parse_governors(std::iter::empty()), None);
        assert_eq!(parse_turbo(Some("1\n"), None), Some(false));
        assert_eq!(parse_turbo(Some("0"), Some("0")), Some(true));
        assert_eq!(parse_turbo(None, Some("1")), Some(true));
        assert_eq!(parse_turbo(None, Some("0")), Some(false));
        assert_eq!(parse_turbo(None, None), None);
    }

    #[test]
    fn io_uring_errors_are_named() {
        assert!(io_uring_error(Some(libc::ENOSYS), "x").starts_with("ENOSYS"));
        assert!(io_uring_error(Some(libc::EPERM), "x").starts_with("EPERM"));
        assert_eq!(io_uring_error(Some(libc::EINVAL), "bad"), "bad");
    }

    fn meta_with(host: Host) -> Meta {
        Meta {
            version: "0".into(),
            git_commit: None,
            timestamp: "2026-01-01T00:00:00Z".into(),
            host,
            load_avg_1m: None,
            cpu_busy_before: None,
        }
    }

    #[test]
    fn warnings_name_what_matters_and_nothing_else() {
        let quiet = meta_with(Host {
            cpu_governor: Some("performance".into()),
            turbo: Some(false),
            rlimit_memlock: Some(MemLock::Unlimited),
            ..Host::default()
        });
        let big_io = Load {
            shares_cores: false,
            registered_bytes: 1 << 30,
        };
        assert!(warnings(&quiet, &big_io).is_empty());
        assert_eq!(warning_line(&quiet, &Load::default()), None);
        // A machine that says nothing gets no warning either.
        assert!(warnings(&meta_with(Host::default()), &big_io).is_empty());

        let noisy = meta_with(Host {
            cpu_governor: Some("powersave".into()),
            turbo: Some(true),
            rlimit_memlock: Some(MemLock::Bytes(8 << 20)),
            ..Host::default()
        });
        let w = warnings(
            &noisy,
            &Load {
                shares_cores: true,
                registered_bytes: 64 << 20,
            },
        );
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].contains("powersave"));
        assert!(w[1].contains("turbo"));
        assert!(w[2].contains("SMT"));
        assert!(w[3].contains("RLIMIT_MEMLOCK"));
        let line = warning_line(&noisy, &Load::default()).unwrap();
        assert!(line.starts_with("warning: machine: ") && !line.contains('\n'));
        // Enough memlock for the registration: no memlock warning.
        let w = warnings(
            &noisy,
            &Load {
                shares_cores: false,
                registered_bytes: 4 << 20,
            },
        );
        assert!(!w.iter().any(|x| x.contains("MEMLOCK")), "{w:?}");
    }

    #[test]
    fn meta_describes_this_machine() {
        let m = meta();
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        assert!(m.timestamp.ends_with('Z') && m.timestamp.contains('T'));
        assert!(m.host.logical_cores >= 1);
        assert!(!m.host.os.is_empty());
        assert!(allowed_cpus() >= 1);
        // Linux always has these two.
        assert!(m.host.rlimit_memlock.is_some());
        assert!(m.host.io_uring.is_some());
        assert_eq!(
            m.host.io_uring == Some(false),
            m.host.io_uring_error.is_some()
        );
        if let Some(p) = m.host.physical_cores {
            assert!(p >= 1 && p <= m.host.logical_cores.max(p));
        }
    }
}
