//! Finding the storage's leaf folders (`<ID 1–3>/<ID 4–6>/<ID>/<day>/<data type>/`) and which
//! of them changed since they were last read.
//!
//! A folder's modification time moves when an entry is added to it, renamed in it or removed
//! from it — and only its own, not its parents'. So each run compares every patient, day and
//! leaf folder's time with the one recorded: a leaf whose time moved is read again (a file was
//! added, or renamed to another condition flag); a patient or day folder whose time did not
//! move has the same children as recorded, so it is not listed again. A storage of two million
//! files is checked with one `stat` per folder and no listing of unchanged ones.
//!
//! An incremental run (`since` a day) goes further: it looks only at the day folders of recent
//! days and `-` (basic information, allergies, problems). New orders and results are filed
//! under the day they are registered, so they land there; a correction filed under an older
//! day is found by the next full run, which `snapshot import` makes at least once a day.
//!
//! A time within `SETTLE_NS` of the walk is not trusted (a file could still arrive in the same
//! clock tick, on a file system with coarse times): such a folder is recorded as unread and
//! looked at again next run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The folder levels from the standard storage's root to a leaf.
const LEAF_DEPTH: usize = 5;
/// The depth of patient folders; they and day folders are the ones whose listing is remembered.
const PATIENT_DEPTH: usize = 3;
/// Folder times this close to the walk's start are read again next run (2 s: FAT and SMB).
const SETTLE_NS: i64 = 2_000_000_000;
/// What a folder's time is recorded as when it must be looked at again.
pub const UNSETTLED: i64 = -1;

/// One leaf folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Relative to the standard storage's root, `/`-separated.
    pub rel: String,
    pub path: PathBuf,
    /// Modification time in nanoseconds since the epoch when the walk saw it (`UNSETTLED` when
    /// too recent to trust).
    pub mtime_ns: i64,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Every leaf folder, sorted.
    pub leaves: Vec<Leaf>,
    /// Patient and day folders with their times, to record once their leaves are read.
    pub folders: Vec<(String, i64)>,
    /// Folders that could not be listed or looked at, with why.
    pub problems: Vec<(String, String)>,
}

/// The standard storage inside `root`: `root/standard` when there is one (a whole SS-MIX2
/// tree, as kamikarte's export writes it), else `root` itself.
pub fn standard_root(root: &Path) -> PathBuf {
    let standard = root.join("standard");
    if standard.is_dir() { standard } else { root.to_path_buf() }
}

/// The children each recorded patient and day folder had, from the recorded folders' paths.
struct KnownTree<'a> {
    times: &'a HashMap<String, i64>,
    children: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> KnownTree<'a> {
    fn new(times: &'a HashMap<String, i64>) -> Self {
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for rel in times.keys() {
            if rel.matches('/').count() + 1 > PATIENT_DEPTH
                && let Some((parent, name)) = rel.rsplit_once('/')
            {
                children.entry(parent).or_default().push(name);
            }
        }
        KnownTree { times, children }
    }
}

/// Walks the storage under `standard`, using `known` (the folders' recorded times) to skip
/// listing folders that did not change; with `since` (`YYYYMMDD`), only the day folders of
/// that day on and `-`.
pub fn walk(standard: &Path, known: &HashMap<String, i64>, since: Option<&str>) -> Walk {
    let started = now_ns();
    let tree = KnownTree::new(known);
    // The two levels of ID prefixes are few (hundreds): listed every time.
    let mut seconds: Vec<(String, PathBuf)> = Vec::new();
    let mut walk = Walk::default();
    for (name, path) in list(standard, &mut walk.problems) {
        for (second, path) in list(&path, &mut walk.problems) {
            seconds.push((format!("{name}/{second}"), path));
        }
    }
    let threads = crate::parallel::threads_at_least(2);
    let parts = crate::parallel::map_in_chunks(&seconds, threads, |(rel, path)| {
        let mut part = Walk::default();
        for (id, patient) in list(path, &mut part.problems) {
            descend(&tree, &format!("{rel}/{id}"), &patient, PATIENT_DEPTH, started, since, &mut part);
        }
        part
    });
    for part in parts {
        walk.leaves.extend(part.leaves);
        walk.folders.extend(part.folders);
        walk.problems.extend(part.problems);
    }
    walk.leaves.sort_by(|a, b| a.rel.cmp(&b.rel));
    walk
}

fn descend(
    tree: &KnownTree<'_>,
    rel: &str,
    path: &Path,
    depth: usize,
    started: i64,
    since: Option<&str>,
    out: &mut Walk,
) {
    let mtime = match mtime_ns(path) {
        Ok(t) if started - t < SETTLE_NS => UNSETTLED,
        Ok(t) => t,
        Err(e) => {
            out.problems.push((path.display().to_string(), e.to_string()));
            return;
        }
    };
    if depth == LEAF_DEPTH {
        out.leaves.push(Leaf { rel: rel.to_string(), path: path.to_path_buf(), mtime_ns: mtime });
        return;
    }
    out.folders.push((rel.to_string(), mtime));
    let unchanged = mtime != UNSETTLED && tree.times.get(rel) == Some(&mtime);
    let children: Vec<(String, PathBuf)> = match tree.children.get(rel) {
        Some(names) if unchanged => names.iter().map(|n| (n.to_string(), path.join(n))).collect(),
        _ => list(path, &mut out.problems),
    };
    for (name, child) in children {
        // Below a patient, the day folders: recent ones and `-` only, on an incremental run.
        if depth == PATIENT_DEPTH && since.is_some_and(|s| name != "-" && name.as_str() < s) {
            continue;
        }
        descend(tree, &format!("{rel}/{name}"), &child, depth + 1, started, since, out);
    }
}

/// The sub-folders of `dir`, by name.
fn list(dir: &Path, problems: &mut Vec<(String, String)>) -> Vec<(String, PathBuf)> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut out: Vec<(String, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect();
            out.sort();
            out
        }
        Err(e) => {
            problems.push((dir.display().to_string(), e.to_string()));
            Vec::new()
        }
    }
}

fn mtime_ns(path: &Path) -> std::io::Result<i64> {
    let t = std::fs::metadata(path)?.modified()?;
    Ok(t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The leaves whose time differs from the one recorded when they were last read.
pub fn changed(leaves: Vec<Leaf>, known: &HashMap<String, i64>) -> Vec<Leaf> {
    leaves.into_iter().filter(|l| l.mtime_ns == UNSETTLED || known.get(&l.rel) != Some(&l.mtime_ns)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets a folder's time into the past, as a folder that settled long ago.
    fn age(path: &Path, seconds_ago: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds_ago);
        std::fs::File::open(path).unwrap().set_modified(t).unwrap();
    }

    #[test]
    fn leaves_are_the_data_type_folders_and_only_changed_ones_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let patient = dir.path().join("standard/012/345/0123456789");
        let leaf = patient.join("20261101/OMP-01");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::create_dir_all(patient.join("-/ADT-00")).unwrap();
        for p in [&leaf, &patient.join("-/ADT-00"), &patient.join("20261101"), &patient.join("-"), &patient] {
            age(p, 60);
        }
        let standard = standard_root(dir.path());
        let first = walk(&standard, &HashMap::new(), None);
        assert!(first.problems.is_empty());
        let rels: Vec<&str> = first.leaves.iter().map(|l| l.rel.as_str()).collect();
        assert_eq!(rels, ["012/345/0123456789/-/ADT-00", "012/345/0123456789/20261101/OMP-01"]);
        assert_eq!(first.folders.len(), 3, "the patient folder and two day folders");
        // Everything recorded: nothing to read, and the unchanged folders are not listed.
        let mut known: HashMap<String, i64> =
            first.leaves.iter().map(|l| (l.rel.clone(), l.mtime_ns)).collect();
        known.extend(first.folders.iter().cloned());
        let again = walk(&standard, &known, None);
        assert!(changed(again.leaves, &known).is_empty());
        // A file added to a leaf moves only the leaf's time: found all the same.
        std::fs::write(leaf.join("f"), "x").unwrap();
        age(&leaf, 30);
        let after = walk(&standard, &known, None);
        let read: Vec<String> = changed(after.leaves, &known).into_iter().map(|l| l.rel).collect();
        assert_eq!(read, ["012/345/0123456789/20261101/OMP-01"]);
        // A new day folder moves the patient's time: listed again, its leaf found.
        std::fs::create_dir_all(patient.join("20261102/OML-11")).unwrap();
        let after = walk(&standard, &known, None);
        let read: Vec<String> = changed(after.leaves, &known).into_iter().map(|l| l.rel).collect();
        assert!(read.contains(&"012/345/0123456789/20261102/OML-11".to_string()), "{read:?}");
        // Too fresh to trust: read, and recorded as unsettled.
        assert!(after.folders.iter().any(|(rel, t)| rel == "012/345/0123456789" && *t == UNSETTLED));
        // An incremental run from 11-02 looks at that day and `-` only.
        let recent = walk(&standard, &known, Some("20261102"));
        let rels: Vec<&str> = recent.leaves.iter().map(|l| l.rel.as_str()).collect();
        assert_eq!(rels, ["012/345/0123456789/-/ADT-00", "012/345/0123456789/20261102/OML-11"]);
    }
}
