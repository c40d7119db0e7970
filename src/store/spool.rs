//! The spool file: call records the writer could not store before shutdown, as JSON lines
//! (one `CallRecord` per line), replayed at the next start.
//!
//! Blocking file I/O: callers run these functions on a blocking thread. Every write is
//! fsynced, and a spool is replaced by writing a temporary file and renaming it over the old
//! one, so a crash leaves either the old or the new spool, never half of one. Lines that do
//! not parse are moved to `<spool>.bad`, never dropped.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::call::CallRecord;

/// What a spool file held.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// The records, in file order.
    pub(super) records: Vec<CallRecord>,
    /// Lines that did not parse (now in `<spool>.bad`).
    pub(super) bad_lines: usize,
    /// Whether every line of the file is in `records` or saved in `<spool>.bad`: only then
    /// may the file be removed or replaced.
    pub(super) complete: bool,
}

/// `<path><suffix>`: the files kept beside the spool (`.bad`, `.rejected`, `.tmp`).
pub(super) fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads the spool at `path` (a missing file is an empty spool). Lines that do not parse are
/// appended to `<path>.bad`.
pub(super) fn load(path: &Path) -> Loaded {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Loaded {
                complete: true,
                ..Loaded::default()
            };
        }
        Err(error) => {
            tracing::error!(spool = %path.display(), %error, "cannot read the call record spool; leaving it in place");
            return Loaded::default();
        }
    };
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<CallRecord>(line) {
            Ok(record) => records.push(record),
            Err(error) => {
                tracing::error!(spool = %path.display(), line = index + 1, %error, "corrupt call record in the spool; moving it to the .bad file");
                bad.push(line);
            }
        }
    }
    let complete = bad.is_empty() || save_bad_lines(path, &bad);
    Loaded {
        records,
        bad_lines: bad.len(),
        complete,
    }
}

fn save_bad_lines(path: &Path, lines: &[&[u8]]) -> bool {
    let bad_path = beside(path, ".bad");
    let saved = append_with(&bad_path, |file| {
        for line in lines {
            file.write_all(line)?;
            file.write_all(b"\n")?;
        }
        Ok(())
    });
    match saved {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(file = %bad_path.display(), %error, "cannot save corrupt spool lines; leaving the spool in place");
            false
        }
    }
}

/// Replaces the spool at `path` with `records` (atomically: temporary file, fsync, rename).
pub(super) fn replace(path: &Path, records: &[CallRecord]) -> io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let tmp = beside(path, ".tmp");
    {
        let mut file = File::create(&tmp)?;
        write_records(&mut file, records)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Appends `records` to the file at `path` and fsyncs it.
pub(super) fn append(path: &Path, records: &[CallRecord]) -> io::Result<()> {
    append_with(path, |file| write_records(file, records))
}

/// Removes the spool at `path` (a missing file is fine) and makes the removal durable.
pub(super) fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(parent_dir(path)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

fn append_with(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    write(&mut file)?;
    file.sync_all()?;
    sync_dir(dir)
}

fn write_records(file: &mut File, records: &[CallRecord]) -> io::Result<()> {
    let mut buffer = Vec::new();
    for record in records {
        serde_json::to_writer(&mut buffer, record)?;
        buffer.push(b'\n');
    }
    file.write_all(&buffer)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes a creation, rename or removal in `dir` durable (POSIX: fsync the directory).
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::test_records::{answered_call, rejected_call};

    #[test]
    fn a_missing_spool_is_empty_and_complete() {
        let dir = tempfile::tempdir().unwrap();

        let loaded = load(&dir.path().join("none.spool"));

        assert!(loaded.records.is_empty() && loaded.complete);
    }

    #[test]
    fn a_replaced_spool_loads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/dir/cdr.spool");
        let records = vec![answered_call(1), rejected_call(2)];
        replace(&path, &[rejected_call(0)]).unwrap();

        replace(&path, &records).unwrap();

        let loaded = load(&path);
        assert_eq!(loaded.records, records);
        assert!(loaded.complete);
        assert!(!beside(&path, ".tmp").exists());
    }

    #[test]
    fn appending_keeps_what_the_file_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdr.spool");
        let (first, second) = (answered_call(1), rejected_call(2));

        append(&path, std::slice::from_ref(&first)).unwrap();
        append(&path, std::slice::from_ref(&second)).unwrap();

        assert_eq!(load(&path).records, vec![first, second]);
    }

    #[test]
    fn corrupt_lines_are_appended_to_the_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdr.spool");
        std::fs::write(beside(&path, ".bad"), "earlier\n").unwrap();
        let good = serde_json::to_string(&rejected_call(1)).unwrap();
        std::fs::write(&path, format!("not json\n{good}\n\n[1, 2]")).unwrap();

        let loaded = load(&path);

        assert_eq!(loaded.records.len(), 1);
        assert_eq!(loaded.bad_lines, 2);
        assert!(loaded.complete);
        assert_eq!(
            std::fs::read_to_string(beside(&path, ".bad")).unwrap(),
            "earlier\nnot json\n[1, 2]\n"
        );
    }
}
