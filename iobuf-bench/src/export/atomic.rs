//! Output files written whole or not at all: the bytes go to a temporary
//! file in the destination's directory, are flushed to disk, and the file is
//! renamed over the destination. A failed or interrupted write leaves what
//! was there before (and no temporary file behind). The file gets the
//! permissions any new file of the user gets (0666 less the umask), not the
//! 0600 of a private temporary file: results are for sharing (CI
//! artifacts).

use std::io::Write as _;
use std::path::Path;

/// Writes `bytes` to `path` atomically. The error is one line naming `path`.
///
/// A destination that exists and is not a regular file (`/dev/stdout`, a
/// pipe, `/dev/full`) is written in place: renaming over it would replace
/// the device or pipe with a file.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let shown = path.display();
    if path.metadata().is_ok_and(|m| !m.is_file()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.flush()))
            .map_err(|e| format!("{shown}: cannot write: {e}"));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{shown}: not a file name"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .permissions(shared_file())
        .tempfile_in(dir)
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    tmp.persist(path)
        .map_err(|e| format!("{shown}: cannot write: {}", e.error))?;
    Ok(())
}

/// The mode a new output file is created with: 0666, which the kernel
/// cuts by the process's umask, as for any file the user creates.
pub fn shared_file() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::Permissions::from_mode(0o666)
}

/// Fails now if `path` could not be written at the end: its directory must
/// take a new file (nothing is created at `path` itself, so an earlier
/// result there survives a run that fails later).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.metadata().is_ok_and(|m| !m.is_file()) {
        return std::fs::OpenOptions::new().write(true).open(path).map(drop);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".iobuf-bench-check.")
        .tempfile_in(dir)
        .map(drop)
}

/// Whether `a` and `b` name the same existing file (through links or
/// different spellings of the path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary_behind() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").unwrap();
        write(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new contents");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The process's umask, from /proc (reading it with umask(2) would
    /// change it for the other tests' threads meanwhile).
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
    }

    #[test]
    fn output_files_get_the_users_umask_not_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("out.json");
        write(&path, b"{}").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "mode {mode:o}");
    }

    #[test]
    fn a_failed_write_keeps_what_was_there() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = dir.path().join("no-such-dir").join("out.json");
        let err = write(&missing, b"x").unwrap_err();
        assert!(
            err.contains("out.json") && err.contains("cannot write"),
            "{err}"
        );
        assert!(!missing.exists());
    }

    #[test]
    fn the_same_file_is_recognised_through_other_spellings() {
        let dir = tempfile::TempDir::new().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{}").unwrap();
        assert!(same_file(&a, &dir.path().join(".").join("a.json")));
        assert!(!same_file(&a, &dir.path().join("b.json")));
    }
}
