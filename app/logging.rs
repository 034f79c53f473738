//! The program's own log, for the IT staff who must diagnose a night's problem: commands run and
//! how they ended, backups, MLLP sessions (every message's control ID and answer), background
//! jobs in the app. Never patient data: identities stay in the audit trail, where reading them is
//! itself audited. `logs/kamikarte_rCURRENT.log` beside the database, rotated daily or at 1 MB
//! (to `kamikarte_r00000.log` …), the newest ten kept; private to the user like every file the
//! program writes.

use std::path::{Path, PathBuf};

use flexi_logger::{Age, Cleanup, Criterion, FileSpec, Logger, LoggerHandle, Naming, WriteMode};

/// Rotate the log when it reaches this size.
const ROTATE_BYTES: u64 = 1 << 20;
/// Rotated logs kept besides the current one.
const KEEP: usize = 10;

/// The folder the log of the database at `db` goes to.
pub fn folder(db: &Path) -> PathBuf {
    db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("logs")
}

/// Starts logging beside `db`. Keep the handle alive for as long as the program runs (it flushes
/// on drop). Logging that cannot start is not an error the program stops for: it says so on
/// stderr and runs on.
pub fn start(db: &Path) -> Option<LoggerHandle> {
    let dir = folder(db);
    if let Err(e) = crate::files::create_private_dir_all(&dir) {
        eprintln!("warning: no log: cannot create {}: {e}", dir.display());
        return None;
    }
    let started = Logger::try_with_str("info").and_then(|logger| {
        logger
            .log_to_file(FileSpec::default().directory(&dir).basename("kamikarte").suppress_timestamp())
            .rotate(
                Criterion::AgeOrSize(Age::Day, ROTATE_BYTES),
                Naming::Numbers,
                Cleanup::KeepLogFiles(KEEP),
            )
            .append()
            .write_mode(WriteMode::Direct)
            .format(flexi_logger::detailed_format)
            .start()
    });
    match started {
        Ok(handle) => Some(handle),
        Err(e) => {
            eprintln!("warning: no log in {}: {e}", dir.display());
            None
        }
    }
}
