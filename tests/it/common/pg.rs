//! The PostgreSQL server the hub's tests run against. README's test command (scripts/test.sh)
//! starts a private one (scripts/pg.sh) and names it in KAMIKARTE_TEST_POSTGRES; each test makes
//! databases of its own on it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where this test process keeps the hubs' key files (one folder for the process: in-process
/// stores and the binary's runs must find the same keys).
pub fn hub_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder")).path()
}

/// A new, empty database on the test server, as `--db` takes it.
pub fn new_hub(prefix: &str) -> PathBuf {
    let server = std::env::var("KAMIKARTE_TEST_POSTGRES").expect(
        "the hub's tests need a PostgreSQL server: run README's test command (scripts/test.sh), or eval \"$(scripts/pg.sh start)\" first",
    );
    kamikarte::store::use_hub_dir(hub_dir());
    PathBuf::from(kamikarte::store::new_postgres_database(&server, prefix).expect("a new database"))
}
