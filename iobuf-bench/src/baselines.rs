//! Named baselines, in the manner of criterion and critcmp: `run
//! --save-baseline NAME` keeps the run document as `NAME.json` in the
//! baselines directory, and `compare --baseline NAME CURRENT` compares
//! against it.
//!
//! The directory is `$IOBUF_BENCH_BASELINES` when set, else
//! `target/iobuf-bench/baselines` under the working directory. A baseline
//! is written to a temporary file in that directory and renamed over the
//! old one, so a failed save never leaves a half-written baseline.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The environment variable that moves the baselines directory.
pub const DIR_ENV: &str = "IOBUF_BENCH_BASELINES";

/// The directory baselines are kept in.
pub fn dir() -> PathBuf {
    match std::env::var_os(DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new("target").join("iobuf-bench").join("baselines"),
    }
}

/// Checks a baseline name: 1 to 100 letters, digits, `-`, `_` or `.`, not
/// starting with `.` (so it is one plain file name).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "baseline name {name:?} must be 1 to 100 letters, digits, '-', '_' or '.', not starting with '.'"
        ))
    }
}

/// The clap parser of a baseline name.
pub fn parse_name(s: &str) -> Result<String, String> {
    check_name(s)?;
    Ok(s.to_string())
}

/// The names of the baselines saved in `dir`, sorted.
pub fn known_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".json")?.to_string();
            check_name(&stem).ok().map(|_| stem)
        })
        .collect();
    names.sort();
    names
}

/// Saves `document_json` (a run document) as baseline `name` in `dir`,
/// atomically; gives the file's path.
pub fn save_in(dir: &Path, name: &str, document_json: &str) -> Result<PathBuf, String> {
    check_name(name)?;
    let fail = |what: &str, e: std::io::Error| {
        format!(
            "cannot save baseline '{name}' in '{}': {what}: {e}",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the directory", e))?;
    let path = dir.join(format!("{name}.json"));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(crate::export::atomic::shared_file())
        .tempfile_in(dir)
        .map_err(|e| fail("cannot create a temporary file", e))?;
    tmp.write_all(document_json.as_bytes())
        .and_then(|_| tmp.flush())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| fail("cannot write", e))?;
    tmp.persist(&path)
        .map_err(|e| fail("cannot rename the temporary file", e.error))?;
    Ok(path)
}

/// Saves `document_json` as baseline `name` in [`dir()`]; what `run
/// --save-baseline NAME` calls once the run succeeded.
pub fn save(name: &str, document_json: &str) -> Result<PathBuf, String> {
    save_in(&dir(), name, document_json)
}

/// The file of baseline `name` in `dir`; an unknown name is an error that
/// lists the known ones.
pub fn find_in(dir: &Path, name: &str) -> Result<PathBuf, String> {
    check_name(name)?;
    let path = dir.join(format!("{name}.json"));
    if path.is_file() {
        return Ok(path);
    }
    let known = known_in(dir);
    let list = if known.is_empty() {
        "none saved yet (run --save-baseline NAME saves one)".to_string()
    } else {
        format!("known: {}", known.join(", "))
    };
    Err(format!(
        "unknown baseline '{name}' in {}; {list}",
        dir.display()
    ))
}

/// The file of baseline `name` in [`dir()`].
pub fn find(name: &str) -> Result<PathBuf, String> {
    find_in(&dir(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        for good in ["main", "v0.2.0", "before_fix-2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", "x\u{e9}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(101)).is_err());
    }

    #[test]
    fn save_replaces_atomically_and_find_lists_known_names() {
        let dir = tempfile::TempDir::new().unwrap();
        let d = dir.path().join("nested").join("baselines");
        let p = save_in(&d, "main", "{\"a\": 1}\n").unwrap();
        assert_eq!(p, d.join("main.json"));
        save_in(&d, "main", "{\"a\": 2}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\": 2}\n");
        save_in(&d, "other", "{}").unwrap();
        // No temporary file is left behind.
        let files = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(files, 2);
        assert_eq!(known_in(&d), ["main", "other"]);
        assert_eq!(find_in(&d, "other").unwrap(), d.join("other.json"));
        let e = find_in(&d, "nope").unwrap_err();
        assert!(
            e.contains("unknown baseline 'nope'") && e.contains("known: main, other"),
            "{e}"
        );
        let e = find_in(&dir.path().join("empty"), "nope").unwrap_err();
        assert!(e.contains("none saved yet"), "{e}");
    }
}
