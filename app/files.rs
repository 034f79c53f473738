//! Files kamikarte writes hold patient data or secrets: they are private to the user who runs it
//! (0600 files, 0700 folders on Unix; on Windows they inherit the ACL of the folder they are in,
//! which for the default data folder is the user's profile), and they appear whole or not at all.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Makes `options` create files readable and writable by their owner only.
pub fn private_mode(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// From here on, every file and folder this process creates (SQLite's own files, PDFs, exports,
/// page images, temporary files) is private to the user: umask 077. Called first thing by the
/// binary; a library user decides for itself.
pub fn restrict_new_files() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

/// Creates `dir` and its missing parents, each new one 0700.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// `path` with `suffix` added to its whole name: `db.sqlite` → `db.sqlite-wal`, `db.sqlite.key`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates a new private file with `bytes`, flushed to disk; refuses to replace one.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    private_mode(&mut options);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A temporary file beside `path` (same folder, so the rename is atomic), private, created anew.
pub fn private_temp_beside(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for attempt in 0..100u32 {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.partial", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        private_mode(&mut options);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free temporary name"))
}

/// A file written whole under a private temporary name beside its place, and put in place by
/// `commit`; dropped without it, the temporary is removed. For a writer that must record
/// something between the two (the kit registers its pages before any PDF appears).
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

/// Writes `bytes` under a temporary name beside `path`; `durable` flushes them to disk (a file
/// that must survive a power cut; an anchor that may lag need not).
pub fn stage(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<Staged> {
    let (tmp, mut file) = private_temp_beside(path)?;
    let staged = Staged { tmp, path: path.to_path_buf(), committed: false };
    file.write_all(bytes)?;
    if durable {
        file.sync_all()?;
    }
    Ok(staged)
}

impl Staged {
    /// Where the file goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file into place: a reader sees the old file or the new one, never half.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` through a private temporary file renamed into place, so a reader (or
/// a kill) sees the old file or the new one, never half of it (see `stage` for `durable`).
pub fn write_private_atomic(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    stage(path, bytes, durable)?.commit()
}

/// Makes the renames in `dir` durable where the platform allows it (on Unix a folder is synced
/// by opening it; Windows has no need).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_private_atomic(&path, b"one", true).unwrap();
        write_private_atomic(&path, b"two", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_staged_file_appears_only_when_committed_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kit.pdf");
        let staged = stage(&path, b"pdf", true).unwrap();
        assert!(!path.exists());
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the temporary is gone");
        stage(&path, b"pdf", true).unwrap().commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"pdf");
    }

    #[cfg(unix)]
    #[test]
    fn new_folders_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_private_dir_all(&deep).unwrap();
        for d in [dir.path().join("a"), deep] {
            assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }
}
