//! How numbers read: bytes, rates, durations in nanoseconds, counts and
//! relative changes, for the table, compare, export and the report.

/// "2 KiB", "128 MiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Operations per second with an SI prefix: "12.3 Mops/s".
pub fn fmt_rate(ops_per_sec: f64) -> String {
    let (scaled, prefix) = si(ops_per_sec);
    format!("{} {prefix}ops/s", trim_float(scaled))
}

/// A value with an SI prefix and 3 significant digits: (12.3, "M").
fn si(v: f64) -> (f64, &'static str) {
    let a = v.abs();
    let (div, prefix) = if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    (round_sig(v / div, 3), prefix)
}

/// Rounds to `digits` significant digits.
fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let magnitude = v.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits - 1 - magnitude);
    (v * factor).round() / factor
}

/// A compact count: "12.3M", "450k", "17".
pub fn fmt_count(v: f64) -> String {
    let (scaled, prefix) = si(v);
    format!("{}{prefix}", trim_float(scaled))
}

/// A duration in ns with the unit that keeps it short: "850 ns", "12.5 µs".
pub fn fmt_ns(ns: f64) -> String {
    let a = ns.abs();
    let (div, unit) = if a >= 1e9 {
        (1e9, "s")
    } else if a >= 1e6 {
        (1e6, "ms")
    } else if a >= 1e3 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    };
    format!("{} {unit}", trim_float(round_sig(ns / div, 3)))
}

/// Prints a float without trailing zeros: 12.5, 3, 0.25.
fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A relative change as a signed percentage: "+3.2%", "-41.0%".
pub fn fmt_change(change: f64) -> String {
    format!("{:+.1}%", change * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_humans_write_them() {
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(128 << 20), "128 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn numbers_read_as_humans_write_them() {
        assert_eq!(fmt_rate(12_345_678.0), "12.3 Mops/s");
        assert_eq!(fmt_count(850.0), "850");
        assert_eq!(fmt_count(2_500.0), "2.5k");
        assert_eq!(fmt_ns(25.0), "25 ns");
        assert_eq!(fmt_ns(1_250.0), "1.25 µs");
        assert_eq!(fmt_ns(3_400_000.0), "3.4 ms");
        assert_eq!(fmt_change(-0.41), "-41.0%");
    }
}
